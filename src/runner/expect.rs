//! Judging a step: the one place a call's result is turned into what was observed
//! (`Observed`), and the one judge of what was observed against what the step expects
//! ([`rule`]), which conformance runs ([`judge`]) and load mode both call.

use super::blame::Blame;
use super::error::EvalError;
use super::eval::Env;
use crate::client::{AuthFailure, CallError, Fields, NoAnswer, Value};
use crate::pkcs11::{CkMechanismType, CkRv};
use crate::status::{CallFailure, Grep11Failure};
use crate::suite::{Check, Expect, FieldCheck, Operand, Profile, grpc_code_name};

/// What a call produced, reduced to what expectations speak of.
#[derive(Debug)]
pub enum Observed<'a> {
    Ok(&'a Fields),
    /// A PKCS #11 result other than CKR_OK.
    Rv(&'a Grep11Failure),
    Grpc(tonic::Code, &'a str),
    /// No answer at all: deadline, closed or refused connection, undecodable response.
    NoAnswer(&'a NoAnswer),
    Malformed(String),
    /// The credentials were refused or could not be had: neither a PKCS #11 answer nor
    /// the endpoint's fault.
    Auth(&'a AuthFailure),
    /// A refusal marked Retry that no retry could turn into an answer.
    RetryMisused(&'a str),
}

pub fn observe(result: &Result<Fields, CallError>) -> Observed<'_> {
    match result {
        Ok(fields) => Observed::Ok(fields),
        Err(CallError::Failed(CallFailure::Pkcs11(f))) => Observed::Rv(f),
        Err(CallError::Failed(CallFailure::Transport { code, message })) => Observed::Grpc(*code, message),
        Err(CallError::Failed(malformed @ CallFailure::MalformedDetail { .. })) => {
            Observed::Malformed(malformed.to_string())
        }
        Err(CallError::NoAnswer(n)) => Observed::NoAnswer(n),
        Err(CallError::BadResponse(why)) => Observed::Malformed(why.clone()),
        Err(CallError::Auth(failure)) => Observed::Auth(failure),
        Err(CallError::RetryMisused(why)) => Observed::RetryMisused(why),
    }
}

impl Observed<'_> {
    pub fn describe(&self) -> String {
        match self {
            Observed::Ok(_) => crate::pkcs11::CKR_OK.describe(),
            Observed::Rv(failure) => failure.to_string(),
            Observed::Grpc(code, msg) => crate::status::describe_transport(*code, msg),
            Observed::NoAnswer(n) => n.to_string(),
            Observed::Malformed(why) => why.clone(),
            Observed::Auth(failure) => failure.to_string(),
            Observed::RetryMisused(why) => why.to_string(),
        }
    }

    /// The PKCS #11 result, CKR_OK included; `None` when there is none.
    pub fn rv(&self) -> Option<CkRv> {
        match self {
            Observed::Ok(_) => Some(crate::pkcs11::CKR_OK),
            Observed::Rv(failure) => Some(failure.rv),
            _ => None,
        }
    }

    /// Who is to blame when this is not what the step expects: a PKCS #11 answer (or a
    /// response that breaks the interface) is the endpoint's; without one there is nothing
    /// to judge.
    pub fn blame(&self) -> Blame {
        match self {
            Observed::Ok(_) | Observed::Rv(_) | Observed::Malformed(_) | Observed::RetryMisused(_) => {
                Blame::Endpoint
            }
            Observed::Grpc(..) | Observed::NoAnswer(_) | Observed::Auth(_) => Blame::Transport,
        }
    }
}

/// How an answer stands against what the step expects, field checks aside.
#[derive(Debug, PartialEq, Eq)]
pub enum Ruling<'p> {
    /// What the step expects (an `ok:` step's field checks are still to run).
    Expected,
    /// Refused with a code the profile accepts in place of the expected one, for this reason.
    Accepted(&'p str),
    /// The endpoint does not implement the RPC.
    Unimplemented,
    /// Not what the step expects, and who is to blame.
    Unexpected(Blame),
}

/// The one judge of an answer against an expectation. Allocates nothing, so load mode calls
/// it on every call; `profile` supplies the accepted refusal codes (load mode has none).
pub fn rule<'p>(expect: &Expect, observed: &Observed, profile: Option<&'p Profile>) -> Ruling<'p> {
    match (expect, observed) {
        // Whatever the step expects: no answer is no evidence either way, and a malformed
        // answer or a misused Retry (even on the expected refusal) is a wrong answer.
        (_, Observed::NoAnswer(_) | Observed::Malformed(_) | Observed::RetryMisused(_)) => {
            Ruling::Unexpected(observed.blame())
        }
        (Expect::Ok(_), Observed::Ok(_)) => Ruling::Expected,
        (Expect::Error(rvs), Observed::Rv(f)) if rvs.contains(&f.rv) => Ruling::Expected,
        (Expect::Grpc(want), Observed::Grpc(got, _)) if want == got => Ruling::Expected,
        (Expect::Grpc(want), Observed::Auth(failure)) if *want == failure.code() => Ruling::Expected,
        (Expect::Ok(_) | Expect::Error(_), Observed::Grpc(tonic::Code::Unimplemented, _)) => {
            Ruling::Unimplemented
        }
        (Expect::Error(rvs), Observed::Rv(f)) => match profile.and_then(|p| p.accepts(rvs, f.rv)) {
            Some(accepted) => Ruling::Accepted(&accepted.reason),
            None => Ruling::Unexpected(Blame::Endpoint),
        },
        _ => Ruling::Unexpected(observed.blame()),
    }
}

/// How a step went.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Refused with a code the profile accepts instead of the preferred one.
    NonStrict(String),
    /// The endpoint does not implement the RPC.
    Unimplemented(String),
    /// The step did not do what the suite expects: who is to blame, and why.
    Blamed(Blame, String),
}

fn expected_rvs(rvs: &[CkRv]) -> String {
    rvs.iter().map(|r| r.describe()).collect::<Vec<_>>().join(" or ")
}

/// What the step expects, for a message: `CKR_SIGNATURE_INVALID (0xC0)`, `gRPC NOT_FOUND`.
fn expected(expect: &Expect) -> String {
    match expect {
        Expect::Ok(_) => crate::pkcs11::CKR_OK.describe(),
        Expect::Error(rvs) => expected_rvs(rvs),
        Expect::Grpc(want) => format!("gRPC {}", grpc_code_name(*want)),
    }
}

/// [`rule`] with the reasons a report shows, and an `ok:` step's field checks.
pub fn judge(expect: &Expect, observed: &Observed, env: &Env, profile: &Profile) -> Verdict {
    match rule(expect, observed, Some(profile)) {
        Ruling::Expected => match (expect, observed) {
            (Expect::Ok(checks), Observed::Ok(fields)) => match check_fields(checks, fields, env) {
                Ok(()) => Verdict::Ok,
                Err(e) => Verdict::Blamed(e.blame(), e.to_string()),
            },
            _ => Verdict::Ok,
        },
        Ruling::Accepted(reason) => Verdict::NonStrict(format!(
            "expected {}, got {} (accepted: {reason})",
            expected(expect),
            observed.rv().map(CkRv::describe).unwrap_or_default()
        )),
        Ruling::Unimplemented => Verdict::Unimplemented(match observed {
            Observed::Grpc(_, msg) => format!("the endpoint does not implement this RPC: {msg}"),
            _ => "the endpoint does not implement this RPC".to_owned(),
        }),
        Ruling::Unexpected(blame) => Verdict::Blamed(
            blame,
            match observed {
                Observed::Malformed(why) => format!("malformed answer: {why}"),
                Observed::RetryMisused(why) => why.to_string(),
                _ if blame == Blame::Transport => observed.describe(),
                _ => format!("expected {}, got {}", expected(expect), observed.describe()),
            },
        ),
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Bytes(b) if b.len() <= 32 => format!("hex:{} ({} bytes)", hex::encode(b), b.len()),
        Value::Bytes(b) => format!("hex:{}.. ({} bytes)", hex::encode(&b[..16]), b.len()),
        Value::Uint(u) => format!("{u} ({u:#x})"),
        Value::Mechanisms(m) => format!("{} mechanisms", m.len()),
    }
}

/// Checks every field check; the first that does not hold is the failure.
pub fn check_fields(checks: &[FieldCheck], fields: &Fields, env: &Env) -> Result<(), EvalError> {
    for FieldCheck { field, check } in checks {
        let got = fields.get(field).ok_or_else(|| EvalError::NoField(field.clone()))?;
        let fail =
            |wanted: String| Err(EvalError::FieldMismatch { field: field.clone(), wanted, got: show(got) });
        let operand = |o: &Operand| -> Result<Value, EvalError> {
            Ok(match o {
                Operand::Bool(b) => Value::Uint(u64::from(*b)),
                Operand::Uint(u) => Value::Uint(*u),
                Operand::Bytes(e) => env.value(e)?,
            })
        };
        match check {
            Check::Eq(o) => {
                let want = operand(o)?;
                if &want != got {
                    return fail(show(&want));
                }
            }
            Check::Ne(o) => {
                let want = operand(o)?;
                if &want == got {
                    return fail(format!("anything but {}", show(&want)));
                }
            }
            Check::Len(n) => {
                let n = &env.uint(n)?;
                let len = match got {
                    Value::Bytes(b) => b.len(),
                    Value::Mechanisms(m) => m.len(),
                    Value::Uint(_) => usize::MAX,
                };
                if len as u64 != *n {
                    return fail(format!("length {n}"));
                }
            }
            Check::Prefix(e) => {
                let want = env.bytes(e)?;
                if !matches!(got, Value::Bytes(b) if b.starts_with(&want)) {
                    return fail(format!("a value starting with hex:{}", hex::encode(&want)));
                }
            }
            Check::First(wanted) => {
                let Value::Mechanisms(list) = got else { return fail("a list".into()) };
                if list.first() != Some(wanted) {
                    return Err(EvalError::FirstMechanism {
                        field: field.clone(),
                        first: list.first().map(|m| CkMechanismType(*m)),
                        wanted: CkMechanismType(*wanted),
                    });
                }
            }
            Check::Contains(wanted) => {
                let Value::Mechanisms(list) = got else { return fail("a list".into()) };
                let missing: Vec<CkMechanismType> =
                    wanted.iter().filter(|w| !list.contains(w)).map(|w| CkMechanismType(*w)).collect();
                if !missing.is_empty() {
                    return Err(EvalError::MechanismsMissing { field: field.clone(), missing });
                }
            }
            Check::Has(bits) => {
                if !matches!(got, Value::Uint(u) if u & bits == *bits) {
                    let names = crate::pkcs11::CkMechanismFlags(*bits).bit_names().join("|");
                    return fail(format!("flags including {names}"));
                }
            }
            Check::Min(n) => {
                if !matches!(got, Value::Uint(u) if u >= n) {
                    return fail(format!("at least {n}"));
                }
            }
            Check::Max(n) => {
                if !matches!(got, Value::Uint(u) if u <= n) {
                    return fail(format!("at most {n}"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs11::{CKR_KEY_TYPE_INCONSISTENT, CKR_MECHANISM_INVALID, CKR_SIGNATURE_INVALID};
    use crate::suite::profile::Accept;

    fn refusal(rv: CkRv) -> Grep11Failure {
        Grep11Failure { rv, detail: String::new(), retry: false }
    }

    #[test]
    fn the_judge_blames_the_endpoint_only_for_an_answer() {
        let expect = Expect::Error(vec![CKR_SIGNATURE_INVALID]);
        let fields = Fields::new();
        let wrong = refusal(CKR_MECHANISM_INVALID);
        assert_eq!(rule(&expect, &Observed::Ok(&fields), None), Ruling::Unexpected(Blame::Endpoint));
        assert_eq!(rule(&expect, &Observed::Rv(&wrong), None), Ruling::Unexpected(Blame::Endpoint));
        let right = refusal(CKR_SIGNATURE_INVALID);
        assert_eq!(rule(&expect, &Observed::Rv(&right), None), Ruling::Expected);
        // Even the expected code is wrong when marked Retry for nothing.
        let misused = Observed::RetryMisused("marked Retry");
        assert_eq!(rule(&expect, &misused, None), Ruling::Unexpected(Blame::Endpoint));
        let down = Observed::Grpc(tonic::Code::Unavailable, "down");
        assert_eq!(rule(&expect, &down, None), Ruling::Unexpected(Blame::Transport));
        assert_eq!(rule(&Expect::Grpc(tonic::Code::Unavailable), &down, None), Ruling::Expected);
        let unimplemented = Observed::Grpc(tonic::Code::Unimplemented, "no such method");
        assert_eq!(rule(&expect, &unimplemented, None), Ruling::Unimplemented);
        let refused = AuthFailure::Refused { code: tonic::Code::Unauthenticated, message: "expired".into() };
        assert_eq!(rule(&expect, &Observed::Auth(&refused), None), Ruling::Unexpected(Blame::Transport));
        assert_eq!(
            rule(&Expect::Grpc(tonic::Code::Unauthenticated), &Observed::Auth(&refused), None),
            Ruling::Expected
        );
    }

    #[test]
    fn an_accepted_code_needs_the_profile_and_is_reported_with_its_reason() {
        let expect = Expect::Error(vec![CKR_SIGNATURE_INVALID]);
        let profile = Profile {
            accept: vec![Accept {
                expected: CKR_SIGNATURE_INVALID,
                also: vec![CKR_KEY_TYPE_INCONSISTENT],
                reason: "the service checks the key first".into(),
            }],
            ..Profile::default()
        };
        let got = refusal(CKR_KEY_TYPE_INCONSISTENT);
        let observed = Observed::Rv(&got);
        assert_eq!(
            rule(&expect, &observed, Some(&profile)),
            Ruling::Accepted("the service checks the key first")
        );
        assert_eq!(rule(&expect, &observed, None), Ruling::Unexpected(Blame::Endpoint));
        assert_eq!(
            judge(&expect, &observed, &Env::default(), &profile),
            Verdict::NonStrict(
                "expected CKR_SIGNATURE_INVALID (0xC0), got CKR_KEY_TYPE_INCONSISTENT (0x63) (accepted: the service checks the key first)".into()
            )
        );
        assert_eq!(
            judge(&expect, &observed, &Env::default(), &Profile::default()),
            Verdict::Blamed(
                Blame::Endpoint,
                "expected CKR_SIGNATURE_INVALID (0xC0), got CKR_KEY_TYPE_INCONSISTENT (0x63)".into()
            )
        );
        let down = Observed::Grpc(tonic::Code::Unavailable, "down");
        assert_eq!(
            judge(&expect, &down, &Env::default(), &profile),
            Verdict::Blamed(Blame::Transport, "gRPC UNAVAILABLE without a Grep11Error: down".into())
        );
    }

    #[test]
    fn a_field_check_blames_the_endpoint_and_an_unset_operand_the_suite() {
        let mut fields = Fields::new();
        fields.insert("Signature".into(), Value::Bytes(vec![1, 2]));
        let check = |check| vec![FieldCheck { field: "Signature".into(), check }];
        let env = Env::default();
        let e = check_fields(&check(Check::Len(crate::suite::Sym::Value(64))), &fields, &env).unwrap_err();
        assert_eq!(
            (e.blame(), e.to_string()),
            (Blame::Endpoint, "Signature: expected length 64, got hex:0102 (2 bytes)".into())
        );
        let unset = Operand::Bytes(crate::suite::Expr::Var("sig".into()));
        let e = check_fields(&check(Check::Eq(unset)), &fields, &env).unwrap_err();
        assert_eq!(
            (e.blame(), e.explained()),
            (Blame::Suite, "suite error: variable $sig is not set".into())
        );
        let missing = vec![FieldCheck { field: "Plain".into(), check: Check::Min(1) }];
        let e = check_fields(&missing, &fields, &env).unwrap_err();
        assert_eq!((e.blame(), e.to_string()), (Blame::Endpoint, "the response has no Plain".into()));
    }
}
