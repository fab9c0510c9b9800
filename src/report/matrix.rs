//! The function × mechanism matrix: for every RPC a case calls and the mechanism it works
//! under, the combined outcome of the calls made on that pair. A pair appears when some
//! case expects it to succeed; refusal probes on the same pair count towards it, and
//! probes of mechanisms the function never serves (CKM_SHA256 to EncryptInit) do not make
//! a cell of their own. A case that did not pass gives its outcome to the call whose step
//! failed alone: the calls before it did what was expected (pass), the calls after it were
//! never made (they count for nothing).

use std::collections::{BTreeMap, BTreeSet};

use super::RunReport;
use crate::pkcs11::CkMechanismType;
use crate::rpc::Rpc;
use crate::runner::{CaseResult, Outcome};
use crate::suite::PlannedCall;

/// A cell's coordinates: a function and the mechanism it works under.
type Pair = (Rpc, Option<CkMechanismType>);

/// One cell: the cases behind it (indexes into `RunReport::cases`) and the combined
/// outcome of their calls on the pair.
#[derive(Debug, Clone)]
pub struct Cell {
    pub outcome: Outcome,
    pub cases: Vec<usize>,
    /// The cell fails (or errors) only through cases listed as known deviations.
    pub known_deviation: bool,
}

#[derive(Debug)]
pub struct Matrix {
    /// Rows, in proto order.
    pub functions: Vec<Rpc>,
    /// Columns, by name; `None` is the column of functions that take no mechanism.
    pub mechanisms: Vec<Option<CkMechanismType>>,
    pub cells: BTreeMap<(Rpc, Option<CkMechanismType>), Cell>,
}

/// The outcome a cell shows: any failure or error shows, then any non-strict pass, then any
/// pass; a cell whose cases were all unsupported (or skipped) shows that.
fn combine(outcomes: impl Iterator<Item = Outcome>) -> Outcome {
    let all: BTreeSet<Outcome> = outcomes.collect();
    [Outcome::Fail, Outcome::Error, Outcome::NonStrict, Outcome::Pass, Outcome::Unsupported]
        .into_iter()
        .find(|o| all.contains(o))
        .unwrap_or(Outcome::Skip)
}

impl Matrix {
    pub fn build(report: &RunReport) -> Matrix {
        let mut members: BTreeMap<(Rpc, Option<CkMechanismType>), BTreeSet<usize>> = BTreeMap::new();
        for (index, case) in report.cases.iter().enumerate() {
            for call in case.calls.iter().filter(|c| c.expects_ok) {
                members.entry((call.rpc, call.mechanism)).or_default().insert(index);
            }
        }
        for (index, case) in report.cases.iter().enumerate() {
            for call in case.calls.iter().filter(|c| !c.expects_ok) {
                if let Some(set) = members.get_mut(&(call.rpc, call.mechanism)) {
                    set.insert(index);
                }
            }
        }
        let functions: BTreeSet<Rpc> = members.keys().map(|(r, _)| *r).collect();
        let mut mechanisms: Vec<Option<CkMechanismType>> =
            members.keys().map(|(_, m)| *m).collect::<BTreeSet<_>>().into_iter().collect();
        mechanisms.sort_by_key(|m| m.map(|m| m.to_string()));
        // What each case's calls on each pair came to: (case, outcome) per pair.
        let mut made: BTreeMap<Pair, Vec<(usize, Outcome)>> = BTreeMap::new();
        for (index, case) in report.cases.iter().enumerate() {
            for (call, outcome) in call_outcomes(case) {
                made.entry((call.rpc, call.mechanism)).or_default().push((index, outcome));
            }
        }
        let cells = members
            .into_iter()
            .map(|(key, cases)| {
                let cases: Vec<usize> = cases.into_iter().collect();
                let calls = made.get(&key).map(Vec::as_slice).unwrap_or_default();
                let outcome = combine(calls.iter().map(|(_, o)| *o));
                let known_deviation = outcome.is_failure()
                    && calls
                        .iter()
                        .filter(|(_, o)| o.is_failure())
                        .all(|(i, _)| report.cases[*i].deviation.is_some());
                (key, Cell { outcome, cases, known_deviation })
            })
            .collect();
        Matrix { functions: functions.into_iter().collect(), mechanisms, cells }
    }

    pub fn cell(&self, function: Rpc, mechanism: Option<CkMechanismType>) -> Option<&Cell> {
        self.cells.get(&(function, mechanism))
    }

    /// Cells of one function by combined outcome.
    pub fn row_counts(&self, function: Rpc) -> BTreeMap<Outcome, usize> {
        let mut out = BTreeMap::new();
        for ((f, _), cell) in &self.cells {
            if *f == function {
                *out.entry(cell.outcome).or_default() += 1;
            }
        }
        out
    }
}

/// The outcome each call of a case came to: the failing call takes the case's outcome, the
/// calls before it passed, the calls after it were not made. A case without a failing
/// call (passed, non-strict, skipped, unsupported as a whole, or failed before its first
/// call) gives its outcome to every call.
fn call_outcomes(case: &CaseResult) -> Vec<(&PlannedCall, Outcome)> {
    match case.failed_call {
        Some(failed) if failed < case.calls.len() => case.calls[..=failed]
            .iter()
            .enumerate()
            .map(|(i, call)| (call, if i == failed { case.outcome } else { Outcome::Pass }))
            .collect(),
        _ => case.calls.iter().map(|call| (call, case.outcome)).collect(),
    }
}

/// A column's heading.
pub fn mechanism_label(m: Option<CkMechanismType>) -> String {
    m.map_or_else(|| "(no mechanism)".to_owned(), |m| m.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_dominate_then_passes_then_unsupported() {
        use Outcome::*;
        assert_eq!(combine([Pass, Fail, Unsupported].into_iter()), Fail);
        assert_eq!(combine([Pass, Error].into_iter()), Error);
        assert_eq!(combine([Unsupported, Pass].into_iter()), Pass);
        assert_eq!(combine([NonStrict, Pass].into_iter()), NonStrict);
        assert_eq!(combine([Unsupported, Skip].into_iter()), Unsupported);
        assert_eq!(combine([Skip].into_iter()), Skip);
    }

    fn case(
        calls: &[(Rpc, Option<CkMechanismType>)],
        outcome: Outcome,
        failed_call: Option<usize>,
    ) -> CaseResult {
        CaseResult {
            id: format!("c{}", calls.len()),
            wire: crate::client::Wire::Keyblob,
            suite: "s".into(),
            name: "n".into(),
            file: "f".into(),
            line: 1,
            outcome,
            message: None,
            deviation: None,
            duration: Default::default(),
            functions: Default::default(),
            mechanisms: Default::default(),
            calls: calls
                .iter()
                .map(|&(rpc, mechanism)| PlannedCall { rpc, mechanism, expects_ok: true })
                .collect(),
            failed_call,
            retries: 0,
            resent: 0,
            trace: Vec::new(),
        }
    }

    fn report(cases: Vec<CaseResult>) -> RunReport {
        RunReport {
            harness_version: "0",
            endpoint: String::new(),
            wires: Vec::new(),
            started_unix: 0,
            duration: Default::default(),
            advertised: Ok(Vec::new()),
            interrupted: false,
            profile: None,
            filter: None,
            suites: Vec::new(),
            cases,
            comparison: None,
        }
    }

    #[test]
    fn a_cell_takes_the_outcome_of_the_failing_step_only() {
        use crate::pkcs11::{CKM_SHA256, CKM_SHA384};
        let sha256 = Some(CKM_SHA256);
        let sha384 = Some(CKM_SHA384);
        // Random, then a digest that fails, then a digest never reached.
        let calls = [(Rpc::GenerateRandom, None), (Rpc::DigestSingle, sha256), (Rpc::DigestSingle, sha384)];
        let failing = case(&calls, Outcome::Fail, Some(1));
        let m = Matrix::build(&report(vec![failing.clone()]));
        assert_eq!(m.cell(Rpc::GenerateRandom, None).unwrap().outcome, Outcome::Pass);
        assert_eq!(m.cell(Rpc::DigestSingle, sha256).unwrap().outcome, Outcome::Fail);
        assert_eq!(m.cell(Rpc::DigestSingle, sha384).unwrap().outcome, Outcome::Skip);
        assert!(!m.cell(Rpc::DigestSingle, sha256).unwrap().known_deviation);
        // A failure before the first call, or an outcome of the whole case, marks every call.
        let m = Matrix::build(&report(vec![case(&calls, Outcome::Error, None)]));
        assert_eq!(m.cell(Rpc::GenerateRandom, None).unwrap().outcome, Outcome::Error);
        // A failure that is a known deviation shows as one.
        let mut deviating = failing;
        deviating.deviation = Some("tracked".into());
        let m = Matrix::build(&report(vec![deviating]));
        let cell = m.cell(Rpc::DigestSingle, sha256).unwrap();
        assert!(cell.outcome == Outcome::Fail && cell.known_deviation);
    }
}
