//! One `RunReport` model and its renderings: the terminal summary (`table`), `results.json`
//! (`json`), `junit.xml` (`junit`), `report.md` (`markdown`) and `report.html` (`html`),
//! the last two built around the function × mechanism `matrix`.

pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod matrix;
pub mod table;

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::runner::{CaseResult, Outcome};

/// Everything a run produced, in case order.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub harness_version: &'static str,
    pub endpoint: String,
    pub wire: crate::client::Wire,
    /// Unix seconds at the start of the run.
    pub started_unix: u64,
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// The endpoint's mechanism list, or why it could not be read.
    pub advertised: Result<Vec<String>, String>,
    pub cases: Vec<CaseResult>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl RunReport {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.cases.iter().filter(|c| c.outcome == outcome).count()
    }

    /// True when no case failed or errored.
    pub fn passed(&self) -> bool {
        !self.cases.iter().any(|c| c.outcome.is_failure())
    }

    /// The one-line verdict every rendering leads with.
    pub fn verdict(&self) -> String {
        let failed = self.count(Outcome::Fail) + self.count(Outcome::Error);
        if failed == 0 {
            format!("PASSED: {} of {} cases passed, none failed", self.count(Outcome::Pass), self.cases.len())
        } else {
            format!("FAILED: {failed} of {} cases failed or errored", self.cases.len())
        }
    }

    /// Writes `results.json`, `junit.xml`, `report.md` and `report.html` into `dir`,
    /// creating it.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("results.json"), json::render(self)?)?;
        std::fs::write(dir.join("junit.xml"), junit::render(self)?)?;
        std::fs::write(dir.join("report.md"), markdown::render(self))?;
        std::fs::write(dir.join("report.html"), html::render(self))?;
        Ok(())
    }
}

/// The run's start as an RFC 3339 UTC timestamp.
pub fn started_rfc3339(report: &RunReport) -> String {
    let at = std::time::UNIX_EPOCH + Duration::from_secs(report.started_unix);
    humantime::format_rfc3339_seconds(at).to_string()
}
