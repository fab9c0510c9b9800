//! Cases the endpoint's own advertisement generates: every mechanism GetMechanismList
//! names must answer GetMechanismInfo with a coherent key size range and at least one
//! function flag, the list must not repeat itself, and a key generator must make keys at
//! both ends of the range it advertises and refuse one unit beyond either end. Suites
//! cannot say this, since they do not know the list in advance.

use std::collections::BTreeSet;
use std::time::Instant;

use super::answer::StepAnswer;
use super::expect::observe;
use super::outcome::{CaseResult, Outcome, StepTrace};
use crate::client::{Arg, Args, Client, Value};
use crate::pkcs11::{
    CKA_MODULUS_BITS, CKA_VALUE_LEN, CKM_AES_KEY_GEN, CKM_RSA_PKCS_KEY_PAIR_GEN, CKR_KEY_SIZE_RANGE,
    CKR_MECHANISM_INVALID, CkAttributeType, CkMechanismFlags, CkMechanismType,
};
use crate::proto;
use crate::rpc::Rpc;
use crate::suite::PlannedCall;

/// The suite name these cases report under.
pub const SUITE: &str = "discovery";

fn result(id: String, name: String, rpc: Rpc, mechanism: Option<CkMechanismType>) -> CaseResult {
    CaseResult {
        id,
        // `runner::run` sets the generation the case ran under.
        wire: Default::default(),
        suite: SUITE.to_owned(),
        name,
        file: "(generated from the endpoint's mechanism list)".to_owned(),
        line: 0,
        outcome: Outcome::Pass,
        message: None,
        deviation: None,
        duration: Default::default(),
        functions: BTreeSet::from([rpc]),
        mechanisms: mechanism.into_iter().collect(),
        calls: vec![PlannedCall { rpc, mechanism, expects_ok: true }],
        failed_call: None,
        retries: 0,
        resent: 0,
        trace: Vec::new(),
    }
}

/// Arguments naming `mech` alone, as GetMechanismInfo and key generation take it.
fn mech_args(mech: CkMechanismType) -> Args {
    let mut args = Args::default();
    args.0.insert("mech", Arg::Mechanism(proto::Mechanism { mechanism: mech.0, parameter: None }));
    args
}

/// Makes one call of a generated case: the step goes into its trace, its retries and
/// re-sends into its counts, and the time so far into its duration.
async fn traced_call(
    client: &Client,
    case: &mut CaseResult,
    started: Instant,
    rpc: Rpc,
    args: &Args,
    request: String,
) -> Result<crate::client::Fields, crate::client::CallError> {
    let counted = client.call_counted(rpc, args).await;
    case.retries += counted.retries;
    case.resent += counted.resent;
    case.trace.push(StepTrace {
        index: case.trace.len() + 1,
        action: rpc.name().to_owned(),
        line: 0,
        request,
        result: observe(&counted.result).describe(),
        answer: StepAnswer::of(&observe(&counted.result)),
        micros: started.elapsed().as_micros() as u64,
    });
    case.duration = started.elapsed();
    counted.result
}

/// A one-step GetMechanismInfo case with its problem, if any, as outcome and message.
fn concluded(mut case: CaseResult, problem: Option<(Outcome, String)>) -> CaseResult {
    if let Some((outcome, why)) = problem {
        case.outcome = outcome;
        case.message = Some(format!("step 1 GetMechanismInfo: {why}"));
    }
    case
}

/// GetMechanismInfo for `mech` as a generated case's step.
async fn mechanism_info_call(
    client: &Client,
    case: &mut CaseResult,
    started: Instant,
    mech: CkMechanismType,
) -> Result<crate::client::Fields, crate::client::CallError> {
    traced_call(client, case, started, Rpc::GetMechanismInfo, &mech_args(mech), format!("mech={mech}")).await
}

/// `discovery/mechanism-list-unique`: no mechanism is listed twice.
pub fn list_is_unique(listed: &[CkMechanismType]) -> CaseResult {
    let mut case = result(
        format!("{SUITE}/mechanism-list-unique"),
        "GetMechanismList names each mechanism once".to_owned(),
        Rpc::GetMechanismList,
        None,
    );
    let mut seen = BTreeSet::new();
    let repeated: BTreeSet<String> =
        listed.iter().filter(|m| !seen.insert(**m)).map(|m| m.to_string()).collect();
    if !repeated.is_empty() {
        case.outcome = Outcome::Fail;
        case.message =
            Some(format!("GetMechanismList repeats {}", repeated.into_iter().collect::<Vec<_>>().join(", ")));
    }
    case
}

/// `discovery/mechanism-info[mech=CKM_X]` for one listed mechanism.
pub async fn mechanism_info(client: &Client, mech: CkMechanismType) -> CaseResult {
    let started = Instant::now();
    let mut case = result(
        format!("{SUITE}/mechanism-info[mech={mech}]"),
        format!("{mech} is listed, so GetMechanismInfo describes it"),
        Rpc::GetMechanismInfo,
        Some(mech),
    );
    let answer = mechanism_info_call(client, &mut case, started, mech).await;
    let observed = observe(&answer);
    let uint = |fields: &crate::client::Fields, name: &str| match fields.get(name) {
        Some(Value::Uint(u)) => *u,
        _ => 0,
    };
    let problem = match &answer {
        Err(_) if unjudged(&observed) => Some((Outcome::Error, observed.describe())),
        Err(_) => {
            Some((Outcome::Fail, format!("listed but GetMechanismInfo answers {}", observed.describe())))
        }
        Ok(fields) => {
            let (min, max, flags) =
                (uint(fields, "MinKeySize"), uint(fields, "MaxKeySize"), uint(fields, "Flags"));
            let function_bits = CkMechanismFlags(flags & !crate::pkcs11::CKF_HW.0);
            if min > max {
                Some((Outcome::Fail, format!("MinKeySize {min} is above MaxKeySize {max}")))
            } else if function_bits.0 == 0 {
                Some((
                    Outcome::Fail,
                    format!("Flags {flags:#x} name no function (encrypt, sign, digest, ...)"),
                ))
            } else {
                None
            }
        }
    };
    concluded(case, problem)
}

/// `discovery/unlisted-mechanism-refused[mech=CKM_X]` for a mechanism some case needs but
/// GetMechanismList leaves out: GetMechanismInfo must refuse it with CKR_MECHANISM_INVALID.
/// An endpoint that describes a mechanism it does not list has an incomplete list, and the
/// cases marked `unsupported` for it were not run for a wrong reason.
pub async fn unlisted_mechanism(client: &Client, mech: CkMechanismType) -> CaseResult {
    let started = Instant::now();
    let mut case = result(
        format!("{SUITE}/unlisted-mechanism-refused[mech={mech}]"),
        format!("{mech} is not listed, so GetMechanismInfo refuses it"),
        Rpc::GetMechanismInfo,
        None,
    );
    case.calls[0].expects_ok = false;
    let answer = mechanism_info_call(client, &mut case, started, mech).await;
    let observed = observe(&answer);
    let problem = match &observed {
        super::expect::Observed::Rv(f) if f.rv == CKR_MECHANISM_INVALID => None,
        _ if unjudged(&observed) => Some((Outcome::Error, observed.describe())),
        super::expect::Observed::Ok(_) => Some((
            Outcome::Fail,
            "GetMechanismList leaves it out, but GetMechanismInfo describes it: the list is incomplete"
                .to_owned(),
        )),
        _ => Some((Outcome::Fail, format!("expected {CKR_MECHANISM_INVALID}, got {}", observed.describe()))),
    };
    concluded(case, problem)
}

/// No PKCS #11 answer (no answer at all, a status without a `Grep11Error`, credentials
/// refused) says nothing about the mechanism: a generated case meeting one could not be
/// completed (`error`), as a suite case would be.
fn unjudged(observed: &super::expect::Observed) -> bool {
    observed.blame() == super::Blame::Transport
}

/// The key generators whose size is one template attribute in the unit their
/// MechanismInfo uses (PKCS #11 v2.40: AES in bytes, RSA in bits). Generic secrets are
/// left out: the standard counts their MechanismInfo in bits but CKA_VALUE_LEN in bytes,
/// and services differ in which they report.
const SIZED_GENERATORS: &[(CkMechanismType, Rpc, CkAttributeType)] = &[
    (CKM_AES_KEY_GEN, Rpc::GenerateKey, CKA_VALUE_LEN),
    (CKM_RSA_PKCS_KEY_PAIR_GEN, Rpc::GenerateKeyPair, CKA_MODULUS_BITS),
];

/// `discovery/key-size-range[mech=CKM_X]` for a listed key generator of
/// [`SIZED_GENERATORS`]: keys of MinKeySize and MaxKeySize are made, and one unit below
/// and above is refused with CKR_KEY_SIZE_RANGE. `None` for other mechanisms.
pub async fn key_size_range(client: &Client, mech: CkMechanismType) -> Option<CaseResult> {
    let &(_, rpc, size_attr) = SIZED_GENERATORS.iter().find(|(m, _, _)| *m == mech)?;
    let started = Instant::now();
    let mut case = result(
        format!("{SUITE}/key-size-range[mech={mech}]"),
        format!("{mech} makes keys at both ends of its advertised size range, and no further"),
        rpc,
        Some(mech),
    );
    case.functions.insert(Rpc::GetMechanismInfo);
    let mut problem = None;
    let info = mechanism_info_call(client, &mut case, started, mech).await;
    let uint = |name: &str| match info.as_ref().ok().and_then(|f| f.get(name)) {
        Some(Value::Uint(u)) => Some(*u),
        _ => None,
    };
    let (Some(min), Some(max)) = (uint("MinKeySize"), uint("MaxKeySize")) else {
        case.outcome = if unjudged(&observe(&info)) { Outcome::Error } else { Outcome::Fail };
        case.message =
            Some(format!("step 1 GetMechanismInfo: no key size range: {}", observe(&info).describe()));
        return Some(case);
    };
    let mut tries: Vec<(u64, bool)> = vec![(min, true), (max, true), (max.saturating_add(1), false)];
    if min > 0 {
        tries.push((min - 1, false));
    }
    for (size, fits) in tries {
        let mut template = std::collections::HashMap::new();
        template.insert(
            size_attr.0,
            proto::AttributeValue {
                one_attr: Some(proto::attribute_value::OneAttr::AttributeI(size as i64)),
            },
        );
        let mut args = mech_args(mech);
        let template_arg = if rpc == Rpc::GenerateKeyPair { "public" } else { "template" };
        args.0.insert(template_arg, Arg::Template(template));
        let answer =
            traced_call(client, &mut case, started, rpc, &args, format!("mech={mech}, {size_attr}={size}"))
                .await;
        if unjudged(&observe(&answer)) {
            case.outcome = Outcome::Error;
            case.message =
                Some(format!("step {} {}: {}", case.trace.len(), rpc.name(), observe(&answer).describe()));
            return Some(case);
        }
        let refused_right = observe(&answer).rv() == Some(CKR_KEY_SIZE_RANGE);
        let wrong = match (fits, &answer) {
            (true, Ok(_)) => None,
            (true, Err(_)) => Some(format!("{size_attr}={size} is in the advertised range {min}..={max}")),
            (false, _) if refused_right => None,
            (false, _) => Some(format!(
                "{size_attr}={size} is outside the advertised range {min}..={max}; expected {CKR_KEY_SIZE_RANGE}"
            )),
        };
        if let (Some(why), None) = (wrong, &problem) {
            problem = Some(format!(
                "step {} {}: {why}, got {}",
                case.trace.len(),
                rpc.name(),
                observe(&answer).describe()
            ));
        }
    }
    if let Some(why) = problem {
        case.outcome = Outcome::Fail;
        case.message = Some(why);
    }
    Some(case)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs11::{CKM_AES_CBC, CKM_SHA256};

    #[test]
    fn a_repeated_mechanism_fails_the_list() {
        assert_eq!(list_is_unique(&[CKM_AES_CBC, CKM_SHA256]).outcome, Outcome::Pass);
        let repeated = list_is_unique(&[CKM_AES_CBC, CKM_SHA256, CKM_AES_CBC]);
        assert_eq!(repeated.outcome, Outcome::Fail);
        assert_eq!(repeated.message.as_deref(), Some("GetMechanismList repeats CKM_AES_CBC"));
    }
}
