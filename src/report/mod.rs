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
    /// The certification profile the run was judged by, if any.
    pub profile: Option<ProfileSummary>,
    /// The run was stopped (Ctrl-C, SIGTERM) before every case had finished: the cases
    /// not started are `skip`, and the verdict says so first.
    pub interrupted: bool,
    pub cases: Vec<CaseResult>,
}

/// What a report says of its profile.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileSummary {
    pub name: String,
    pub description: String,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl RunReport {
    /// Calls retried on the endpoint's request, over every case.
    pub fn retries(&self) -> u64 {
        self.cases.iter().map(|c| u64::from(c.retries)).sum()
    }

    pub fn count(&self, outcome: Outcome) -> usize {
        self.cases.iter().filter(|c| c.outcome == outcome).count()
    }

    /// Cases that failed or errored and are not known deviations: they fail the run.
    pub fn failing(&self) -> impl Iterator<Item = &CaseResult> {
        self.cases.iter().filter(|c| c.outcome.is_failure() && c.deviation.is_none())
    }

    /// True when no case failed or errored, known deviations aside: the exit code.
    pub fn passed(&self) -> bool {
        !self.interrupted && self.failing().next().is_none()
    }

    /// Selected cases that keep a profile from certifying: anything but pass and
    /// non-strict, known deviations included (a deviation is a tracked failure, not a pass).
    pub fn uncertified(&self) -> impl Iterator<Item = &CaseResult> {
        self.cases.iter().filter(|c| c.outcome != Outcome::Skip && !c.outcome.certifies())
    }

    /// The one-line verdict every rendering leads with: `CERTIFIED: core` or
    /// `NOT CERTIFIED: core ...` under a profile, `PASSED`/`FAILED` without one.
    pub fn verdict(&self) -> String {
        let verdict = self.judgement();
        if self.interrupted {
            let ran = self.cases.iter().filter(|c| c.outcome != Outcome::Skip).count();
            format!("INTERRUPTED after {ran} cases; so far {verdict}")
        } else {
            verdict
        }
    }

    fn judgement(&self) -> String {
        let selected = self.cases.iter().filter(|c| c.outcome != Outcome::Skip).count();
        let non_strict = self.count(Outcome::NonStrict);
        let deviations =
            self.cases.iter().filter(|c| c.deviation.is_some() && c.outcome.is_failure()).count();
        match &self.profile {
            Some(p) => {
                let blocking = self.uncertified().count();
                if blocking == 0 && selected > 0 {
                    format!("CERTIFIED: {} ({selected} cases, {non_strict} non-strict)", p.name)
                } else {
                    format!("NOT CERTIFIED: {} ({blocking} of {selected} cases did not pass)", p.name)
                }
            }
            None => {
                let failed = self.failing().count();
                let extra =
                    if deviations > 0 { format!(", {deviations} known deviations") } else { String::new() };
                if failed == 0 {
                    format!(
                        "PASSED: {} of {} cases passed, none failed{extra}",
                        self.count(Outcome::Pass) + non_strict,
                        self.cases.len()
                    )
                } else {
                    format!("FAILED: {failed} of {} cases failed or errored{extra}", self.cases.len())
                }
            }
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

/// Creates `dir` if needed and checks that files can be written there, so that a run whose
/// reports would be lost is refused before its first call.
pub fn prepare_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".grep11-harness-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

/// The run's start as an RFC 3339 UTC timestamp.
pub fn started_rfc3339(report: &RunReport) -> String {
    let at = std::time::UNIX_EPOCH + Duration::from_secs(report.started_unix);
    humantime::format_rfc3339_seconds(at).to_string()
}
