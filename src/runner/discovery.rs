//! Cases the endpoint's own advertisement generates: every mechanism GetMechanismList
//! names must answer GetMechanismInfo with a coherent key size range and at least one
//! function flag, and the list must not repeat itself. Suites cannot say this, since they
//! do not know the list in advance.

use std::collections::BTreeSet;
use std::time::Instant;

use super::expect::observe;
use super::outcome::{CaseResult, Outcome, StepTrace};
use crate::client::{Arg, Args, Client, Value};
use crate::pkcs11::{CkMechanismFlags, CkMechanismType};
use crate::proto;
use crate::rpc::Rpc;
use crate::suite::PlannedCall;

/// The suite name these cases report under.
pub const SUITE: &str = "discovery";

fn result(id: String, name: String, rpc: Rpc, mechanism: Option<CkMechanismType>) -> CaseResult {
    CaseResult {
        id,
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
        retries: 0,
        trace: Vec::new(),
    }
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
    let mut args = Args::default();
    args.0.insert("mech", Arg::Mechanism(proto::Mechanism { mechanism: mech.0, parameter: None }));
    let counted = client.call_counted(Rpc::GetMechanismInfo, &args).await;
    case.retries = counted.retries;
    let answer = counted.result;
    let observed = observe(&answer);
    case.trace.push(StepTrace {
        index: 1,
        action: Rpc::GetMechanismInfo.name().to_owned(),
        line: 0,
        request: format!("mech={mech}"),
        result: observed.describe(),
        micros: started.elapsed().as_micros() as u64,
    });
    case.duration = started.elapsed();
    let uint = |fields: &crate::client::Fields, name: &str| match fields.get(name) {
        Some(Value::Uint(u)) => *u,
        _ => 0,
    };
    let problem = match &answer {
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
    if let Some((outcome, why)) = problem {
        case.outcome = outcome;
        case.message = Some(format!("step 1 GetMechanismInfo: {why}"));
    }
    case
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
