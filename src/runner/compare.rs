//! Comparing two endpoints' runs of the same cases (`run --compare`). Each side runs the
//! cases on its own; afterwards the two results of each case id are compared step by step
//! on the answers the traces recorded ([`StepAnswer`]): the first step whose code, field
//! lengths, formats or values differ is the divergence; when every step answered alike but
//! the cases ended differently (one side's answer failed the suite's check), the step where
//! the shorter run stopped is. Outputs that depend on randomness (fresh keys, signatures,
//! random bytes) are compared by length and format only; each side's own verdict still
//! checks them against the harness's reference cryptography. Neither side is taken as
//! right: a divergence says the two disagree, and shows each side's own outcome.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::Serialize;

use super::answer::{Shape, StepAnswer, mechanism_names};
use super::outcome::{CaseResult, Outcome, StepTrace};
use crate::client::Wire;
use crate::rpc::Rpc;
use crate::suite::Reasoned;

/// What differs.
#[derive(Serialize, JsonSchema, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[serde(rename_all = "kebab-case")]
pub enum DivergenceKind {
    /// Every step answered alike, but the case ended differently: one side's answer
    /// failed the suite's check (a wrong value), or a local check of it failed.
    Outcome,
    /// A step's return value differs (`CKR_*`, a gRPC status, no answer).
    Code,
    /// One side offers a mechanism or RPC the other does not, or describes it differently
    /// (mechanism list, mechanism info, a case unsupported on one side only).
    Support,
    /// A response field's length differs.
    Length,
    /// A response field is missing on one side, empty on one side, or holds a different
    /// kind of key (curve, modulus size).
    Format,
    /// A numeric response field differs (an attribute, a size).
    Value,
}

impl DivergenceKind {
    /// The kind as `compare.json` and the reports write it (`outcome`, `code`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DivergenceKind::Outcome => "outcome",
            DivergenceKind::Code => "code",
            DivergenceKind::Support => "support",
            DivergenceKind::Length => "length",
            DivergenceKind::Format => "format",
            DivergenceKind::Value => "value",
        }
    }
}

/// One side's part in a divergence.
#[derive(Serialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[schemars(deny_unknown_fields)]
pub struct SideAnswer {
    /// The case's outcome on this side (`pass`, `fail`, ...), or `absent` when this side
    /// did not have the case (a case generated from the other side's mechanism list).
    pub outcome: String,
    /// The step's answer on this side, as its trace shows it; null when this side has no
    /// such step.
    pub answer: Option<String>,
    /// This side's own verdict on the case: why it did not pass (null when it passed).
    pub message: Option<String>,
}

/// A case the two endpoints answered differently.
#[derive(Serialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[schemars(deny_unknown_fields)]
pub struct Divergence {
    /// The case id.
    pub case: String,
    /// The step (1-based, as in the traces); null for a difference of the whole case (one
    /// side lacks it or does not support it) or of the mechanism list.
    pub step: Option<usize>,
    /// The step's RPC or local action.
    pub action: Option<String>,
    /// What differs, for sorting and counting divergences.
    pub kind: DivergenceKind,
    /// The difference in one line.
    pub what: String,
    /// Side `a`'s part: the endpoint of `--endpoint` (or the embedded emulator).
    pub a: SideAnswer,
    /// Side `b`'s part: the endpoint of `--compare`.
    pub b: SideAnswer,
    /// The reason the allow file gives, when it lists the case; an allowed divergence does
    /// not fail the comparison.
    pub allowed: Option<String>,
}

/// One endpoint of the comparison and how its own run went.
#[derive(Serialize, JsonSchema, Clone, Debug)]
#[schemars(deny_unknown_fields)]
pub struct Side {
    /// The endpoint's URL, or a name for the embedded emulator.
    pub endpoint: String,
    /// The wire generations its cases ran under, in run order.
    pub wires: Vec<Wire>,
    /// The side's own verdict line, as a run against it alone prints it.
    pub verdict: String,
    /// Cases by outcome.
    pub outcomes: BTreeMap<String, usize>,
    /// The side's mechanism list as names; null when it could not be read.
    pub advertised: Option<Vec<String>>,
}

impl Side {
    /// A side from its run: `outcomes` is counted from `cases`, with every outcome present
    /// (zero when none had it).
    pub fn new(
        endpoint: String,
        wires: Vec<Wire>,
        verdict: String,
        advertised: Option<Vec<String>>,
        cases: &[CaseResult],
    ) -> Side {
        let outcomes = Outcome::ALL
            .iter()
            .map(|o| (o.name().to_owned(), cases.iter().filter(|c| c.outcome == *o).count()))
            .collect();
        Side { endpoint, wires, verdict, outcomes, advertised }
    }
}

/// An allow-file entry that matched no divergence.
#[derive(Serialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[schemars(deny_unknown_fields)]
pub struct AllowedNotOccurred {
    /// The entry's case pattern.
    pub case: String,
    /// Why the entry says the endpoints may differ there.
    pub reason: String,
}

/// Two runs of the same cases compared.
#[derive(Serialize, JsonSchema, Clone, Debug)]
#[schemars(title = "grep11-harness compare.json", deny_unknown_fields)]
pub struct Comparison {
    /// The version of the harness that compared the runs (its crate version).
    pub harness_version: String,
    /// `AGREE` or `DIVERGE`.
    pub verdict: CompareVerdict,
    /// The verdict line as printed.
    pub summary: String,
    /// The endpoint of `--endpoint` (or the embedded emulator).
    pub a: Side,
    /// The endpoint of `--compare`.
    pub b: Side,
    /// Case ids run (not skipped) on at least one side.
    pub compared: usize,
    /// Either side's run was stopped before every case had finished.
    pub interrupted: bool,
    /// In case order; the mechanism-list difference, if any, first.
    pub divergences: Vec<Divergence>,
    /// Allow-file entries that matched no divergence: stale, and they fail the comparison
    /// until they go (as known deviations that did not occur do).
    pub allowed_not_occurred: Vec<AllowedNotOccurred>,
}

/// How a comparison ends; the exit code of `run --compare` follows it (0 for `Agree`).
#[derive(Serialize, JsonSchema, Clone, Copy, PartialEq, Eq, Debug)]
pub enum CompareVerdict {
    /// No unexplained divergence, no stale allow-file entry, neither run interrupted.
    #[serde(rename = "AGREE")]
    Agree,
    /// Some divergence is not in the allow file, an allow-file entry matched nothing, or a
    /// run was interrupted.
    #[serde(rename = "DIVERGE")]
    Diverge,
}

/// The case id that carries the mechanism-list difference.
pub const MECHANISM_LIST: &str = "discovery/mechanism-list";

impl Comparison {
    /// Compares side `a`'s results with side `b`'s, case by case; `allow` lists the
    /// divergences that are known and do not fail the comparison.
    pub fn new(
        a: Side,
        a_cases: &[CaseResult],
        b: Side,
        b_cases: &[CaseResult],
        interrupted: bool,
        allow: &[Reasoned],
    ) -> Comparison {
        let mut divergences = Vec::new();
        if let (Some(la), Some(lb)) = (&a.advertised, &b.advertised)
            && let Some(d) = list_divergence(la, lb)
        {
            divergences.push(d);
        }
        let by_id: HashMap<&str, &CaseResult> = b_cases.iter().map(|c| (c.id.as_str(), c)).collect();
        let a_ids: BTreeSet<&str> = a_cases.iter().map(|c| c.id.as_str()).collect();
        let mut compared = 0;
        let pairs = a_cases
            .iter()
            .map(|c| (Some(c), by_id.get(c.id.as_str()).copied()))
            .chain(b_cases.iter().filter(|c| !a_ids.contains(c.id.as_str())).map(|c| (None, Some(c))));
        for pair in pairs {
            let ran = |c: Option<&CaseResult>| c.is_some_and(|c| c.outcome != Outcome::Skip);
            if !ran(pair.0) && !ran(pair.1) {
                continue;
            }
            compared += 1;
            divergences.extend(case_divergence(pair.0, pair.1));
        }
        let mut used = vec![false; allow.len()];
        for d in &mut divergences {
            if let Some(i) = allow.iter().position(|e| e.case.matches(&d.case)) {
                used[i] = true;
                d.allowed = Some(allow[i].reason.clone());
            }
        }
        let allowed_not_occurred = allow
            .iter()
            .zip(used)
            .filter(|(_, used)| !used)
            .map(|(e, _)| AllowedNotOccurred { case: e.case.text.clone(), reason: e.reason.clone() })
            .collect();
        let mut comparison = Comparison {
            harness_version: env!("CARGO_PKG_VERSION").to_owned(),
            verdict: CompareVerdict::Agree,
            summary: String::new(),
            a,
            b,
            compared,
            interrupted,
            divergences,
            allowed_not_occurred,
        };
        comparison.verdict =
            if comparison.agrees() { CompareVerdict::Agree } else { CompareVerdict::Diverge };
        comparison.summary = comparison.summary_line();
        comparison
    }

    /// Divergences the allow file does not list.
    pub fn unexplained(&self) -> impl Iterator<Item = &Divergence> {
        self.divergences.iter().filter(|d| d.allowed.is_none())
    }

    /// True when the comparison ends with exit code 0: no divergence but allowed ones,
    /// every allow entry used, and neither run interrupted.
    pub fn agrees(&self) -> bool {
        !self.interrupted && self.unexplained().next().is_none() && self.allowed_not_occurred.is_empty()
    }

    fn summary_line(&self) -> String {
        let label = match self.verdict {
            CompareVerdict::Agree => "AGREE",
            CompareVerdict::Diverge => "DIVERGE",
        };
        let allowed = self.divergences.len() - self.unexplained().count();
        let mut extra = String::new();
        if allowed > 0 {
            extra += &format!(", {allowed} allowed");
        }
        if !self.allowed_not_occurred.is_empty() {
            extra += &format!(", {} allowed divergences did not occur", self.allowed_not_occurred.len());
        }
        if self.interrupted {
            extra += ", interrupted";
        }
        format!(
            "{label}: {} divergences in {} cases compared{extra} ({} vs {})",
            self.divergences.len(),
            self.compared,
            self.a.endpoint,
            self.b.endpoint
        )
    }
}

fn side(case: Option<&CaseResult>, step: Option<usize>) -> SideAnswer {
    let Some(case) = case else {
        return SideAnswer { outcome: "absent".into(), answer: None, message: None };
    };
    let answer = step.and_then(|s| case.trace.get(s - 1)).map(shown);
    SideAnswer { outcome: case.outcome.name().into(), answer, message: case.message.clone() }
}

/// A trace step's answer with its fields' shapes: `CKR_OK (0x0): Digest 32 bytes`.
fn shown(t: &StepTrace) -> String {
    match &t.answer {
        StepAnswer::Ok(fields) if !fields.is_empty() => {
            let fields: Vec<String> = fields.iter().map(|(name, shape)| format!("{name} {shape}")).collect();
            format!("{}: {}", t.result, fields.join(", "))
        }
        _ => t.result.clone(),
    }
}

fn divergence(
    a: Option<&CaseResult>,
    b: Option<&CaseResult>,
    step: Option<usize>,
    kind: DivergenceKind,
    what: String,
) -> Divergence {
    let case = a.or(b).map(|c| c.id.clone()).unwrap_or_default();
    let action = step.and_then(|s| a.or(b).and_then(|c| c.trace.get(s - 1)).map(|t| t.action.clone()));
    Divergence { case, step, action, kind, what, a: side(a, step), b: side(b, step), allowed: None }
}

fn list_divergence(a: &[String], b: &[String]) -> Option<Divergence> {
    let (sa, sb): (BTreeSet<&String>, BTreeSet<&String>) = (a.iter().collect(), b.iter().collect());
    if sa == sb {
        return None;
    }
    let join = |s: Vec<&&String>| s.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ");
    let only_a = join(sa.difference(&sb).collect());
    let only_b = join(sb.difference(&sa).collect());
    let what = match (only_a.is_empty(), only_b.is_empty()) {
        (false, true) => format!("listed by A only: {only_a}"),
        (true, false) => format!("listed by B only: {only_b}"),
        _ => format!("listed by A only: {only_a}; by B only: {only_b}"),
    };
    let listed = |s: &[String]| SideAnswer {
        outcome: "listed".into(),
        answer: Some(format!("{} mechanisms", s.len())),
        message: None,
    };
    Some(Divergence {
        case: MECHANISM_LIST.into(),
        step: None,
        action: Some(Rpc::GetMechanismList.name().into()),
        kind: DivergenceKind::Support,
        what,
        a: listed(a),
        b: listed(b),
        allowed: None,
    })
}

/// The first difference between the two runs of one case, if any.
fn case_divergence(a: Option<&CaseResult>, b: Option<&CaseResult>) -> Option<Divergence> {
    let (ca, cb) = match (a, b) {
        (Some(ca), Some(cb)) => (ca, cb),
        (Some(_), None) => {
            return Some(divergence(a, b, None, DivergenceKind::Support, "only A has this case".into()));
        }
        (None, Some(_)) => {
            return Some(divergence(a, b, None, DivergenceKind::Support, "only B has this case".into()));
        }
        (None, None) => return None,
    };
    let unsupported = |c: &CaseResult| c.outcome == Outcome::Unsupported;
    if unsupported(ca) != unsupported(cb) {
        let (who, c) = if unsupported(ca) { ("A", ca) } else { ("B", cb) };
        let step = (!c.trace.is_empty()).then_some(c.trace.len());
        let why = c.message.as_deref().unwrap_or("unsupported");
        return Some(divergence(
            a,
            b,
            step,
            DivergenceKind::Support,
            format!("unsupported on {who} only: {why}"),
        ));
    }
    for (index, (ta, tb)) in ca.trace.iter().zip(&cb.trace).enumerate() {
        if let Some((kind, what)) = answer_divergence(ta, tb) {
            return Some(divergence(a, b, Some(index + 1), kind, what));
        }
    }
    let (la, lb) = (ca.trace.len(), cb.trace.len());
    if ca.outcome == cb.outcome && la == lb {
        return None;
    }
    let step = (la.min(lb) > 0).then_some(la.min(lb));
    let what = if ca.outcome == cb.outcome {
        format!("{} on both, but after {la} steps on A and {lb} on B", ca.outcome.name())
    } else {
        format!("{} on A, {} on B", ca.outcome.name(), cb.outcome.name())
    };
    Some(divergence(a, b, step, DivergenceKind::Outcome, what))
}

/// How two answers to the same step differ, if they do.
fn answer_divergence(ta: &StepTrace, tb: &StepTrace) -> Option<(DivergenceKind, String)> {
    use DivergenceKind::*;
    let describes_support = matches!(ta.action.as_str(), "GetMechanismInfo" | "GetMechanismList");
    match (&ta.answer, &tb.answer) {
        (x, y) if x == y => None,
        (StepAnswer::Local { held: ha }, StepAnswer::Local { held: hb }) => {
            let side = |h: bool| if h { "held" } else { "failed" };
            Some((Outcome, format!("the harness's check {} on A, {} on B", side(*ha), side(*hb))))
        }
        (StepAnswer::Ok(fa), StepAnswer::Ok(fb)) => {
            let (ma, mb): (BTreeMap<&str, &Shape>, BTreeMap<&str, &Shape>) = (
                fa.iter().map(|(n, s)| (n.as_str(), s)).collect(),
                fb.iter().map(|(n, s)| (n.as_str(), s)).collect(),
            );
            let names: BTreeSet<&str> = ma.keys().chain(mb.keys()).copied().collect();
            for name in names {
                let (x, y) = match (ma.get(name), mb.get(name)) {
                    (Some(x), Some(y)) if x == y => continue,
                    (Some(x), Some(y)) => (*x, *y),
                    (Some(_), None) => return Some((Format, format!("{name} only in A's answer"))),
                    (None, Some(_)) => return Some((Format, format!("{name} only in B's answer"))),
                    (None, None) => continue,
                };
                let kind = match (x, y) {
                    _ if describes_support => Support,
                    (Shape::Bytes(_), Shape::Bytes(_)) => Length,
                    (Shape::Uint(_), Shape::Uint(_)) => Value,
                    (Shape::Mechanisms(_), Shape::Mechanisms(_)) => Support,
                    _ => Format,
                };
                let what = match (x, y) {
                    (Shape::Mechanisms(p), Shape::Mechanisms(q)) => {
                        let (p, q): (BTreeSet<u64>, BTreeSet<u64>) =
                            (p.iter().copied().collect(), q.iter().copied().collect());
                        let only = |s: &BTreeSet<u64>, t: &BTreeSet<u64>| {
                            mechanism_names(&s.difference(t).copied().collect::<Vec<_>>()).join(", ")
                        };
                        format!("{name}: A only [{}], B only [{}]", only(&p, &q), only(&q, &p))
                    }
                    _ => format!("{name}: {x} vs {y}"),
                };
                return Some((kind, what));
            }
            None
        }
        (x, y) => Some((Code, format!("{} vs {}", x.code(), y.code()))),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::pkcs11::{CKR_MECHANISM_INVALID, CkRv};

    fn step(index: usize, action: &str, answer: StepAnswer) -> StepTrace {
        StepTrace {
            index,
            action: action.into(),
            line: 1,
            request: String::new(),
            result: answer.code(),
            answer,
            micros: 0,
        }
    }

    fn case(id: &str, outcome: Outcome, trace: Vec<StepTrace>) -> CaseResult {
        CaseResult {
            id: id.into(),
            wire: Wire::Keyblob,
            suite: "s".into(),
            name: "n".into(),
            file: "f".into(),
            line: 1,
            outcome,
            message: (outcome != Outcome::Pass).then(|| "why".into()),
            deviation: None,
            duration: Duration::ZERO,
            functions: Default::default(),
            mechanisms: Default::default(),
            calls: Vec::new(),
            failed_call: None,
            retries: 0,
            resent: 0,
            trace,
        }
    }

    fn digest(len: usize) -> StepAnswer {
        StepAnswer::Ok(vec![("Digest".into(), Shape::Bytes(len))])
    }

    fn compare(a: &[CaseResult], b: &[CaseResult], allow: &[Reasoned]) -> Comparison {
        let side = |cases: &[CaseResult]| Side::new("x".into(), vec![Wire::Keyblob], "v".into(), None, cases);
        Comparison::new(side(a), a, side(b), b, false, allow)
    }

    #[test]
    fn the_first_differing_step_names_the_kind() {
        let a = [
            case("d/len", Outcome::Pass, vec![step(1, "DigestSingle", digest(32))]),
            case("d/code", Outcome::Pass, vec![step(1, "DigestSingle", digest(32))]),
            case("d/same", Outcome::Pass, vec![step(1, "DigestSingle", digest(32))]),
        ];
        let b = [
            case("d/len", Outcome::Fail, vec![step(1, "DigestSingle", digest(31))]),
            case(
                "d/code",
                Outcome::Fail,
                vec![step(1, "DigestSingle", StepAnswer::Rv(CKR_MECHANISM_INVALID))],
            ),
            case("d/same", Outcome::Pass, vec![step(1, "DigestSingle", digest(32))]),
        ];
        let c = compare(&a, &b, &[]);
        let got: Vec<(&str, Option<usize>, DivergenceKind)> =
            c.divergences.iter().map(|d| (d.case.as_str(), d.step, d.kind)).collect();
        assert_eq!(
            got,
            [("d/len", Some(1), DivergenceKind::Length), ("d/code", Some(1), DivergenceKind::Code)]
        );
        assert_eq!(c.divergences[0].what, "Digest: 32 bytes vs 31 bytes");
        assert_eq!(c.divergences[1].b.outcome, "fail");
        assert_eq!(c.compared, 3);
        assert!(!c.agrees());
    }

    #[test]
    fn a_failed_check_with_alike_answers_is_an_outcome_divergence_where_the_shorter_run_stopped() {
        let two = vec![step(1, "GenerateKey", digest(1)), step(2, "DigestSingle", digest(32))];
        let a = [case(
            "k",
            Outcome::Pass,
            [two.clone(), vec![step(3, "local.verify", StepAnswer::Local { held: true })]].concat(),
        )];
        let b = [case("k", Outcome::Fail, two)];
        let c = compare(&a, &b, &[]);
        assert_eq!(c.divergences.len(), 1);
        assert_eq!((c.divergences[0].step, c.divergences[0].kind), (Some(2), DivergenceKind::Outcome));
        assert_eq!(c.divergences[0].what, "pass on A, fail on B");
    }

    #[test]
    fn allow_entries_mark_divergences_and_unused_ones_are_reported() {
        let a = [case("d/x", Outcome::Pass, vec![step(1, "DigestSingle", digest(32))])];
        let b = [case("d/x", Outcome::Fail, vec![step(1, "DigestSingle", StepAnswer::Rv(CkRv(0x70)))])];
        let allow: Vec<Reasoned> =
            crate::suite::yaml::from_str("- {case: 'd/*', reason: known}\n- {case: 'other', reason: stale}")
                .unwrap();
        let c = compare(&a, &b, &allow);
        assert_eq!(c.divergences[0].allowed.as_deref(), Some("known"));
        assert_eq!(c.allowed_not_occurred.len(), 1);
        assert!(!c.agrees());
        let c = compare(&a, &b, &allow[..1]);
        assert!(c.agrees(), "{}", c.summary);
    }

    #[test]
    fn keys_numbers_and_mechanism_info_have_their_own_kinds() {
        let key = |kind: &str| StepAnswer::Ok(vec![("PubKey".into(), Shape::PublicKey(kind.into()))]);
        let len = |n: u64| StepAnswer::Ok(vec![("CKA_VALUE_LEN".into(), Shape::Uint(n))]);
        let info = |max: u64| StepAnswer::Ok(vec![("MaxKeySize".into(), Shape::Uint(max))]);
        let a = [
            case("k", Outcome::Pass, vec![step(1, "GenerateKeyPair", key("EC P-256"))]),
            case("v", Outcome::Pass, vec![step(1, "GetAttributeValue", len(32))]),
            case("i", Outcome::Pass, vec![step(1, "GetMechanismInfo", info(4096))]),
        ];
        let b = [
            case("k", Outcome::Pass, vec![step(1, "GenerateKeyPair", key("EC P-384"))]),
            case("v", Outcome::Pass, vec![step(1, "GetAttributeValue", len(16))]),
            case("i", Outcome::Pass, vec![step(1, "GetMechanismInfo", info(2048))]),
        ];
        let c = compare(&a, &b, &[]);
        let got: Vec<(&str, DivergenceKind, &str)> =
            c.divergences.iter().map(|d| (d.case.as_str(), d.kind, d.what.as_str())).collect();
        assert_eq!(
            got,
            [
                ("k", DivergenceKind::Format, "PubKey: public key EC P-256 vs public key EC P-384"),
                ("v", DivergenceKind::Value, "CKA_VALUE_LEN: 32 (0x20) vs 16 (0x10)"),
                ("i", DivergenceKind::Support, "MaxKeySize: 4096 (0x1000) vs 2048 (0x800)"),
            ]
        );
    }

    #[test]
    fn cases_on_one_side_only_and_unsupported_ones_are_support_divergences() {
        let a = [
            case("discovery/mechanism-info[mech=CKM_SHA256]", Outcome::Pass, vec![]),
            case("u", Outcome::Pass, vec![]),
        ];
        let b = [case("u", Outcome::Unsupported, vec![])];
        let c = compare(&a, &b, &[]);
        assert!(c.divergences.iter().all(|d| d.kind == DivergenceKind::Support), "{:?}", c.divergences);
        assert_eq!(c.divergences[0].b.outcome, "absent");
    }
}
