//! One `RunReport` model and its renderings: the terminal summary (`table`), `results.json`
//! (`json`) and `junit.xml` (`junit`).

pub mod json;
pub mod junit;
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

    /// Writes `results.json` and `junit.xml` into `dir`, creating it.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("results.json"), json::render(self)?)?;
        std::fs::write(dir.join("junit.xml"), junit::render(self)?)?;
        Ok(())
    }
}
