//! `results.json`: the run as one JSON object. [`Results`] is its shape; its JSON Schema
//! (`results_schema`) is kept in `docs/results.schema.json`, which a test compares with
//! the derived one and validates reports against. Every duration is in milliseconds
//! (`duration_ms`), every absent value is `null`, and every key is always present; `interrupted`
//! is true when Ctrl-C or SIGTERM stopped the run (the cases not started are `skip`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use super::{HashedFile, RunReport, Verdict};
use crate::client::Wire;
use crate::runner::compare::Comparison;
use crate::runner::{CaseResult, Outcome};

/// A GREP11 conformance run.
#[derive(Serialize, JsonSchema)]
#[schemars(title = "grep11-harness results.json", deny_unknown_fields)]
pub struct Results {
    /// The `grep11-harness` version that made the run.
    pub harness_version: String,
    /// `CERTIFIED` or `NOT CERTIFIED` under a profile, `PASSED` or `FAILED` without one.
    pub verdict: VerdictLabel,
    /// The verdict line as printed.
    pub summary: String,
    pub counts: Counts,
    /// The certification profile the run was judged by.
    pub profile: Option<ProfileJson>,
    /// `--filter`, if given.
    pub filter: Option<String>,
    /// The suite files the cases came from.
    pub suites: Vec<FileJson>,
    pub endpoint: String,
    /// The wire generations the cases ran under.
    pub wires: Vec<Wire>,
    /// The run's start, Unix seconds.
    pub started_unix: u64,
    pub duration_ms: f64,
    /// The endpoint's mechanism list.
    pub advertised: Advertised,
    /// Ctrl-C or SIGTERM stopped the run before every case had finished: the cases not
    /// started are `skip`, and the verdict says so first.
    pub interrupted: bool,
    pub cases: Vec<CaseJson>,
}

#[derive(Serialize, JsonSchema, Clone, Copy)]
pub enum VerdictLabel {
    #[serde(rename = "CERTIFIED")]
    Certified,
    #[serde(rename = "NOT CERTIFIED")]
    NotCertified,
    #[serde(rename = "PASSED")]
    Passed,
    #[serde(rename = "FAILED")]
    Failed,
}

/// Case counts.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Counts {
    /// Every case reported, skipped ones included.
    pub total: usize,
    /// Every case but the skipped ones.
    pub selected: usize,
    /// Cases by outcome; every outcome is present.
    pub outcomes: BTreeMap<OutcomeJson, usize>,
    /// Known deviations that occurred (the case failed or errored).
    pub deviations_occurred: usize,
    /// Known deviations that did not occur (the case passed): they fail the run.
    pub deviations_not_occurred: usize,
    /// Calls the client repeated because the endpoint's `Grep11Error` said Retry.
    pub retries: u64,
    /// Calls the client sent again because their connection closed under them, or the
    /// endpoint refused their stream, before an answer.
    pub resent: u64,
}

#[derive(Serialize, JsonSchema, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeJson {
    Pass,
    NonStrict,
    Fail,
    Error,
    Skip,
    Unsupported,
}

/// A file and the SHA-256 of its content (lower-case hex).
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct FileJson {
    pub path: String,
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ProfileJson {
    pub name: String,
    pub description: String,
    /// The profile's file (null for a profile that is not a file).
    pub file: Option<FileJson>,
}

/// The endpoint's mechanism list as names, or why it could not be read.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Advertised {
    /// Null when the list could not be read.
    pub mechanisms: Option<Vec<String>>,
    /// Why the list could not be read; null when it was.
    pub error: Option<String>,
}

/// One case instance under one wire generation.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CaseJson {
    /// `suite/case[param=value,...]`, followed by `@keyblob` or `@legacy` when the run
    /// covers both wire generations.
    pub id: String,
    pub wire: Wire,
    pub suite: String,
    pub name: String,
    pub file: String,
    pub line: usize,
    pub outcome: OutcomeJson,
    /// Why, for every outcome but pass: the step, expected and got.
    pub message: Option<String>,
    /// Set when the case is listed as a known deviation.
    pub deviation: Option<DeviationJson>,
    pub duration_ms: f64,
    /// RPCs called.
    pub functions: Vec<String>,
    /// Mechanisms sent.
    pub mechanisms: Vec<String>,
    /// The calls the case plans, in step order: the matrix's input.
    pub calls: Vec<CallJson>,
    /// Index in `calls` of the call whose step failed, for a case that did not pass.
    pub failed_call: Option<usize>,
    /// Calls repeated because the endpoint's `Grep11Error` said Retry.
    pub retries: u32,
    /// Calls sent again because their connection closed under them, or the endpoint
    /// refused their stream, before an answer.
    pub resent: u32,
    pub trace: Vec<StepJson>,
}

/// A known deviation: the reason given for it, and whether it occurred.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DeviationJson {
    pub reason: String,
    /// False when the case passed: the entry is stale and fails the run.
    pub occurred: bool,
}

#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CallJson {
    pub function: String,
    /// Null for functions that take no mechanism.
    pub mechanism: Option<String>,
    /// The step expects success (a refusal probe does not make a matrix cell).
    pub expects_ok: bool,
}

/// One step as run.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StepJson {
    pub index: usize,
    pub action: String,
    pub line: usize,
    pub request: String,
    pub result: String,
    /// Time from the start of the case to the end of this step.
    pub elapsed_ms: f64,
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl From<Outcome> for OutcomeJson {
    fn from(o: Outcome) -> OutcomeJson {
        match o {
            Outcome::Pass => OutcomeJson::Pass,
            Outcome::NonStrict => OutcomeJson::NonStrict,
            Outcome::Fail => OutcomeJson::Fail,
            Outcome::Error => OutcomeJson::Error,
            Outcome::Skip => OutcomeJson::Skip,
            Outcome::Unsupported => OutcomeJson::Unsupported,
        }
    }
}

impl From<Verdict> for VerdictLabel {
    fn from(v: Verdict) -> VerdictLabel {
        match v {
            Verdict::Certified => VerdictLabel::Certified,
            Verdict::NotCertified => VerdictLabel::NotCertified,
            Verdict::Passed => VerdictLabel::Passed,
            Verdict::Failed => VerdictLabel::Failed,
        }
    }
}

fn file(f: &HashedFile) -> FileJson {
    FileJson { path: f.path.clone(), sha256: f.sha256.clone() }
}

fn case(c: &CaseResult) -> CaseJson {
    CaseJson {
        id: c.id.clone(),
        wire: c.wire,
        suite: c.suite.clone(),
        name: c.name.clone(),
        file: c.file.clone(),
        line: c.line,
        outcome: c.outcome.into(),
        message: c.message.clone(),
        deviation: c
            .deviation
            .as_ref()
            .map(|reason| DeviationJson { reason: reason.clone(), occurred: !c.deviation_did_not_occur() }),
        duration_ms: ms(c.duration),
        functions: c.functions.iter().map(|f| f.name().to_owned()).collect(),
        mechanisms: c.mechanisms.iter().map(|m| m.to_string()).collect(),
        calls: c
            .calls
            .iter()
            .map(|call| CallJson {
                function: call.rpc.name().to_owned(),
                mechanism: call.mechanism.map(|m| m.to_string()),
                expects_ok: call.expects_ok,
            })
            .collect(),
        failed_call: c.failed_call,
        retries: c.retries,
        resent: c.resent,
        trace: c
            .trace
            .iter()
            .map(|t| StepJson {
                index: t.index,
                action: t.action.clone(),
                line: t.line,
                request: t.request.clone(),
                result: t.result.clone(),
                elapsed_ms: t.micros as f64 / 1000.0,
            })
            .collect(),
    }
}

/// The report as [`Results`].
pub fn results(report: &RunReport) -> Results {
    let (mechanisms, error) = match &report.advertised {
        Ok(list) => (Some(list.clone()), None),
        Err(why) => (None, Some(why.clone())),
    };
    Results {
        harness_version: report.harness_version.to_owned(),
        verdict: report.judgement().into(),
        summary: report.verdict(),
        counts: Counts {
            total: report.cases.len(),
            selected: report.selected(),
            outcomes: Outcome::ALL.iter().map(|o| (OutcomeJson::from(*o), report.count(*o))).collect(),
            deviations_occurred: report.deviations_occurred(),
            deviations_not_occurred: report.deviations_not_occurred(),
            retries: report.retries(),
            resent: report.resent(),
        },
        profile: report.profile.as_ref().map(|p| ProfileJson {
            name: p.name.clone(),
            description: p.description.clone(),
            file: p.file.as_ref().map(file),
        }),
        filter: report.filter.clone(),
        suites: report.suites.iter().map(file).collect(),
        endpoint: report.endpoint.clone(),
        wires: report.wires.clone(),
        started_unix: report.started_unix,
        duration_ms: ms(report.duration),
        advertised: Advertised { mechanisms, error },
        interrupted: report.interrupted,
        cases: report.cases.iter().map(case).collect(),
    }
}

pub fn render(report: &RunReport) -> std::io::Result<String> {
    serde_json::to_string_pretty(&results(report)).map_err(std::io::Error::other)
}

/// The JSON Schema of `results.json`, as `docs/results.schema.json` holds it.
pub fn results_schema() -> String {
    let schema = schemars::schema_for!(Results);
    // A schema always serialises.
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// `compare.json`: a [`Comparison`] as it is (its structs are the file's shape).
pub fn render_comparison(comparison: &Comparison) -> std::io::Result<String> {
    serde_json::to_string_pretty(comparison).map_err(std::io::Error::other)
}

/// The JSON Schema of `compare.json`, as `docs/compare.schema.json` holds it.
pub fn comparison_schema() -> String {
    let schema = schemars::schema_for!(Comparison);
    // A schema always serialises.
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use super::*;
    use crate::report::ProfileSummary;
    use crate::rpc::Rpc;

    /// The schema kept in docs/ as `file` is the one the code derives.
    /// `GREP11_WRITE_SCHEMA=1` rewrites it.
    fn kept_schema_is(file: &str, derived: &str) {
        let path = format!("{}/docs/{file}", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("GREP11_WRITE_SCHEMA").is_some() {
            std::fs::write(&path, derived).unwrap();
        }
        let kept = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            kept == derived,
            "docs/{file} is stale: run GREP11_WRITE_SCHEMA=1 cargo test --lib report::json"
        );
    }

    #[test]
    fn the_schema_file_is_the_derived_schema() {
        kept_schema_is("results.schema.json", &results_schema());
    }

    #[test]
    fn the_compare_schema_file_is_the_derived_schema() {
        kept_schema_is("compare.schema.json", &comparison_schema());
    }

    fn case(outcome: Outcome, deviation: Option<&str>) -> CaseResult {
        CaseResult {
            id: "digest/kat@legacy".into(),
            wire: Wire::Legacy,
            suite: "digest".into(),
            name: "kat".into(),
            file: "suites/digest.yaml".into(),
            line: 3,
            outcome,
            message: (outcome != Outcome::Pass).then(|| "step 1 DigestSingle: expected ..".into()),
            deviation: deviation.map(str::to_owned),
            duration: Duration::from_micros(1500),
            functions: BTreeSet::from([Rpc::DigestSingle]),
            mechanisms: BTreeSet::new(),
            calls: Vec::new(),
            failed_call: None,
            retries: 0,
            resent: 0,
            trace: Vec::new(),
        }
    }

    #[test]
    fn a_report_carries_its_verdict_counts_and_inputs_and_matches_the_schema() {
        let report = RunReport {
            harness_version: "9.9.9",
            endpoint: "embedded emulator".into(),
            wires: vec![Wire::Keyblob, Wire::Legacy],
            started_unix: 1,
            duration: Duration::from_millis(2500),
            interrupted: false,
            advertised: Err("GetMechanismList failed".into()),
            profile: Some(ProfileSummary { name: "core".into(), description: String::new(), file: None }),
            filter: None,
            suites: vec![HashedFile { path: "suites/digest.yaml".into(), sha256: "ab".repeat(32) }],
            cases: vec![case(Outcome::Pass, Some("tracked")), case(Outcome::Fail, Some("tracked"))],
            comparison: None,
        };
        let value = serde_json::to_value(results(&report)).unwrap();
        assert_eq!(value["verdict"], "NOT CERTIFIED");
        assert_eq!(value["counts"]["outcomes"]["pass"], 1);
        assert_eq!(value["counts"]["deviations_not_occurred"], 1);
        assert_eq!(value["cases"][0]["deviation"]["occurred"], false);
        assert_eq!(value["cases"][1]["deviation"]["occurred"], true);
        assert_eq!(value["duration_ms"], 2500.0);
        assert_eq!(value["cases"][0]["duration_ms"], 1.5);
        assert_eq!(value["advertised"]["mechanisms"], serde_json::Value::Null);
        assert_eq!(value["harness_version"], "9.9.9");
        assert_eq!(value["suites"][0]["sha256"], "ab".repeat(32));
        let text = value.to_string();
        assert!(!text.contains("\"Ok\"") && !text.contains("\"Err\""), "{text}");
        let schema: serde_json::Value = serde_json::from_str(&results_schema()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(
            validator.is_valid(&value),
            "{:?}",
            validator.iter_errors(&value).map(|e| e.to_string()).collect::<Vec<_>>()
        );
        // The schema refuses what it does not describe.
        let mut extra = value.clone();
        extra["cases"][0]["micros"] = 3.into();
        assert!(!validator.is_valid(&extra));
    }
}
