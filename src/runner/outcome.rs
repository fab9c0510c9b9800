//! What running a case produced: its outcome, why, and what it exercised.

use std::collections::BTreeSet;
use std::time::Duration;

use super::answer::StepAnswer;
use crate::client::Wire;
use crate::pkcs11::CkMechanismType;
use crate::rpc::Rpc;
use crate::suite::PlannedCall;

/// A case's verdict.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Outcome {
    /// Every step did what the suite expects.
    Pass,
    /// Every step succeeded or was refused as expected, but some refusal used a code the
    /// profile accepts in place of the preferred one.
    NonStrict,
    /// The endpoint answered wrongly.
    Fail,
    /// The harness could not complete the case (connection lost, deadline, suite bug).
    Error,
    /// Left out by selection.
    Skip,
    /// The endpoint does not offer a mechanism or RPC the case needs.
    Unsupported,
}

impl Outcome {
    /// Every outcome, in the order the reports list them.
    pub const ALL: [Outcome; 6] = [
        Outcome::Pass,
        Outcome::NonStrict,
        Outcome::Fail,
        Outcome::Error,
        Outcome::Skip,
        Outcome::Unsupported,
    ];

    /// The outcome as `results.json`, JUnit and the reports write it (`pass`, `non-strict`,
    /// ...).
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::NonStrict => "non-strict",
            Outcome::Fail => "fail",
            Outcome::Error => "error",
            Outcome::Skip => "skip",
            Outcome::Unsupported => "unsupported",
        }
    }

    /// Outcomes that make a run fail (unless the case is a known deviation).
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Fail | Outcome::Error)
    }

    /// Outcomes that count as passing for a certification.
    pub fn certifies(self) -> bool {
        matches!(self, Outcome::Pass | Outcome::NonStrict)
    }
}

/// One line of a case's trace: a step, what was sent and what came back.
#[derive(Clone, Debug)]
pub struct StepTrace {
    /// The step's position in the case, from 1 (fixture steps included).
    pub index: usize,
    /// The RPC name (`SignSingle`) or local action (`local.verify`).
    pub action: String,
    /// The step's line in the case's suite file; for a fixture's step, the line where the
    /// case uses the fixture.
    pub line: usize,
    /// The evaluated arguments, `name=value` separated by spaces.
    pub request: String,
    /// What came back, in words: a call's PKCS #11 result or gRPC status; for a local step,
    /// `ok` or why its check did not hold.
    pub result: String,
    /// The answer as two endpoints' runs are compared on (`compare`).
    pub answer: StepAnswer,
    /// How long the step took, in microseconds (retries included).
    pub micros: u64,
}

/// The result of one case instance.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// The case id; `@keyblob` or `@legacy` follows it when the run covers both wire
    /// generations.
    pub id: String,
    /// The wire generation the case ran under.
    pub wire: Wire,
    /// The `suite:` name of the file the case comes from (`discovery` for a case generated
    /// from the endpoint's mechanism list).
    pub suite: String,
    /// The case's `name:` as the suite gives it (the same for every matrix instance).
    pub name: String,
    /// The suite file, as its path was given (a note in parentheses for a generated case).
    pub file: String,
    /// The case's line in `file`; 0 for a generated case.
    pub line: usize,
    /// The verdict on the case.
    pub outcome: Outcome,
    /// Why, for every outcome but `pass`: one line naming the step, expected and got.
    pub message: Option<String>,
    /// The reason a profile or deviations file gives for this case failing on this
    /// endpoint; a failure so marked does not fail the run (but does not certify).
    pub deviation: Option<String>,
    /// Wall-clock time of the case's steps; zero for a case that did not run.
    pub duration: Duration,
    /// RPCs actually called (a case that stops early calls fewer than it plans).
    pub functions: BTreeSet<Rpc>,
    /// Mechanisms actually sent.
    pub mechanisms: BTreeSet<CkMechanismType>,
    /// What the case plans to call, function by mechanism: the report matrix's cells.
    pub calls: Vec<PlannedCall>,
    /// For a case that did not pass: the index in `calls` of the call whose step failed
    /// (a local step's failure is charged to the call before it, whose output it checked);
    /// `None` when the case failed before its first call, or when every call shares the
    /// outcome (unsupported, non-strict).
    pub failed_call: Option<usize>,
    /// Calls repeated because the endpoint answered with a `Grep11Error` whose `Retry` is
    /// true (`client::retry`); the case's outcome is that of the last attempt.
    pub retries: u32,
    /// Calls sent again because their connection closed under them, or the endpoint
    /// refused their stream, before an answer (`client::retry`).
    pub resent: u32,
    /// The steps that were sent or computed, in order (a step whose arguments could not be
    /// evaluated has no line; `message` says why).
    pub trace: Vec<StepTrace>,
}

impl CaseResult {
    /// The id without its wire-generation suffix.
    pub fn base_id(&self) -> &str {
        self.id.strip_suffix(&format!("@{}", self.wire)).unwrap_or(&self.id)
    }

    /// A known deviation that did not occur: the case passed although the profile or the
    /// deviations file says it fails. The entry is stale, and the run fails until it goes.
    pub fn deviation_did_not_occur(&self) -> bool {
        self.deviation.is_some() && self.outcome.certifies()
    }

    /// Whether this result fails the run: a failure or error that is not a known
    /// deviation, or a known deviation that did not occur.
    pub fn fails_run(&self) -> bool {
        (self.outcome.is_failure() && self.deviation.is_none()) || self.deviation_did_not_occur()
    }
}
