//! One `RunReport` model and its renderings: the terminal summary (`table`), `results.json`
//! (`json`), `junit.xml` (`junit`), `report.md` (`markdown`) and `report.html` (`html`),
//! the last two built around the function × mechanism `matrix`.

pub(crate) mod html;
pub(crate) mod json;
pub(crate) mod junit;
pub(crate) mod markdown;
pub(crate) mod matrix;
pub(crate) mod table;

pub use json::{comparison_schema, results_schema};

use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::client::Wire;
use crate::runner::compare::Comparison;
use crate::runner::{CaseResult, Outcome};

/// Everything a run produced, in case order.
#[derive(Debug)]
pub struct RunReport {
    /// The version of the harness that ran the cases (its crate version).
    pub harness_version: &'static str,
    /// The endpoint's URL, or `embedded emulator`.
    pub endpoint: String,
    /// The wire generations the cases ran under, in run order.
    pub wires: Vec<Wire>,
    /// Unix seconds at the start of the run.
    pub started_unix: u64,
    /// Wall-clock time of the whole run, discovery and every case.
    pub duration: Duration,
    /// The endpoint's mechanism list, or why it could not be read.
    pub advertised: Result<Vec<String>, String>,
    /// The certification profile the run was judged by, if any.
    pub profile: Option<ProfileSummary>,
    /// The run was stopped (Ctrl-C, SIGTERM) before every case had finished: the cases
    /// not started are `skip`, and the verdict says so first.
    pub interrupted: bool,
    /// `--filter`, if given.
    pub filter: Option<String>,
    /// The suite files the cases came from, with their content hashes: what was run.
    pub suites: Vec<HashedFile>,
    /// One result per case instance and wire generation, in case order (`skip` ones
    /// included).
    pub cases: Vec<CaseResult>,
    /// `run --compare`: how the same cases went against the second endpoint, compared
    /// with these; written as `compare.json` and a section of `report.md`/`report.html`.
    pub comparison: Option<Comparison>,
}

/// What a report says of its profile.
#[derive(Debug, Clone)]
pub struct ProfileSummary {
    /// The profile's `profile:` key: the name a certification is granted under.
    pub name: String,
    /// The profile's `description:`, empty when it has none.
    pub description: String,
    /// The profile's file, when it came from one.
    pub file: Option<HashedFile>,
}

/// A file the run read, and the SHA-256 of its content as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedFile {
    /// The path as it was given (relative paths stay relative).
    pub path: String,
    /// Lowercase hex.
    pub sha256: String,
}

impl HashedFile {
    /// Reads the file at `path` and hashes its content.
    pub fn read(path: &Path) -> std::io::Result<HashedFile> {
        let content = std::fs::read(path)?;
        Ok(HashedFile { path: path.display().to_string(), sha256: hex::encode(Sha256::digest(&content)) })
    }
}

/// How a run ends: under a profile, certified or not; without one, passed or failed. The
/// exit code follows it (0 for `Certified` and `Passed`, 1 otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Under a profile: a non-empty selection in which every case passed (or was
    /// non-strict) and every listed deviation still occurs.
    Certified,
    /// Under a profile: anything else, an empty selection included.
    NotCertified,
    /// Without a profile: no case fails the run.
    Passed,
    /// Without a profile: some case fails the run (see [`RunReport::failing`]).
    Failed,
}

impl Verdict {
    /// The verdict as every rendering leads with it (`NOT CERTIFIED`).
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Certified => "CERTIFIED",
            Verdict::NotCertified => "NOT CERTIFIED",
            Verdict::Passed => "PASSED",
            Verdict::Failed => "FAILED",
        }
    }

    /// True for the verdicts that exit with code 0.
    pub fn ok(self) -> bool {
        matches!(self, Verdict::Certified | Verdict::Passed)
    }
}

impl RunReport {
    /// The wire generations as a reader sees them: `keyblob, legacy`.
    pub fn wire_names(&self) -> String {
        self.wires.iter().map(|w| w.name()).collect::<Vec<_>>().join(", ")
    }

    /// Calls retried on the endpoint's request, over every case.
    pub fn retries(&self) -> u64 {
        self.cases.iter().map(|c| u64::from(c.retries)).sum()
    }

    /// Calls sent again after their connection closed, over every case.
    pub fn resent(&self) -> u64 {
        self.cases.iter().map(|c| u64::from(c.resent)).sum()
    }

    /// Cases with `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.cases.iter().filter(|c| c.outcome == outcome).count()
    }

    /// Cases the selection kept (everything but `skip`).
    pub fn selected(&self) -> usize {
        self.cases.iter().filter(|c| c.outcome != Outcome::Skip).count()
    }

    /// Known deviations that occurred (the case failed or errored, as the entry says).
    pub fn deviations_occurred(&self) -> usize {
        self.cases.iter().filter(|c| c.deviation.is_some() && c.outcome.is_failure()).count()
    }

    /// Known deviations that did not occur: the case passed, so the entry is stale.
    pub fn deviations_not_occurred(&self) -> usize {
        self.cases.iter().filter(|c| c.deviation_did_not_occur()).count()
    }

    /// Cases that fail the run: failures and errors that are not known deviations, and
    /// known deviations that did not occur.
    pub fn failing(&self) -> impl Iterator<Item = &CaseResult> {
        self.cases.iter().filter(|c| c.fails_run())
    }

    /// Selected cases that keep a profile from certifying: anything but pass and
    /// non-strict (known deviations included: a deviation is a tracked failure, not a
    /// pass), and known deviations that did not occur.
    pub fn uncertified(&self) -> impl Iterator<Item = &CaseResult> {
        self.cases
            .iter()
            .filter(|c| (c.outcome != Outcome::Skip && !c.outcome.certifies()) || c.deviation_did_not_occur())
    }

    /// The run's verdict. A profile certifies only a non-empty selection in which every
    /// case passed (or was non-strict) and every listed deviation still occurs.
    pub fn judgement(&self) -> Verdict {
        match &self.profile {
            Some(_) if self.selected() > 0 && self.uncertified().next().is_none() => Verdict::Certified,
            Some(_) => Verdict::NotCertified,
            None if self.failing().next().is_none() => Verdict::Passed,
            None => Verdict::Failed,
        }
    }

    /// True when the run ends with exit code 0: certified under a profile, no case failing
    /// the run without one.
    pub fn passed(&self) -> bool {
        !self.interrupted && self.judgement().ok()
    }

    /// The one-line verdict every rendering leads with: `CERTIFIED: core` or
    /// `NOT CERTIFIED: core ...` under a profile, `PASSED`/`FAILED` without one.
    pub fn verdict(&self) -> String {
        if self.interrupted {
            let ran = self.selected();
            format!("INTERRUPTED after {ran} cases; so far {}", self.verdict_line())
        } else {
            self.verdict_line()
        }
    }

    fn verdict_line(&self) -> String {
        let selected = self.selected();
        let non_strict = self.count(Outcome::NonStrict);
        let mut extra = String::new();
        if self.deviations_occurred() > 0 {
            extra += &format!(", {} known deviations", self.deviations_occurred());
        }
        if self.deviations_not_occurred() > 0 {
            extra += &format!(", {} known deviations did not occur", self.deviations_not_occurred());
        }
        let label = self.judgement().label();
        match &self.profile {
            Some(p) if self.judgement() == Verdict::Certified => {
                format!("{label}: {} ({selected} cases, {non_strict} non-strict)", p.name)
            }
            Some(p) if selected == 0 => format!("{label}: {} (no case was selected)", p.name),
            Some(p) => format!(
                "{label}: {} ({} of {selected} cases did not pass{extra})",
                p.name,
                self.uncertified().count()
            ),
            None if self.judgement() == Verdict::Passed => format!(
                "{label}: {} of {} cases passed, none failed{extra}",
                self.count(Outcome::Pass) + non_strict,
                self.cases.len()
            ),
            None => format!(
                "{label}: {} of {} cases failed or errored{extra}",
                self.failing().count(),
                self.cases.len()
            ),
        }
    }

    /// Writes `results.json`, `junit.xml`, `report.md` and `report.html` (and, comparing,
    /// `compare.json`) into `dir`, creating it.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("results.json"), json::render(self)?)?;
        std::fs::write(dir.join("junit.xml"), junit::render(self)?)?;
        std::fs::write(dir.join("report.md"), markdown::render(self))?;
        std::fs::write(dir.join("report.html"), html::render(self))?;
        if let Some(comparison) = &self.comparison {
            std::fs::write(dir.join("compare.json"), json::render_comparison(comparison)?)?;
        }
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
