//! Judging a step: the one place a call's result is turned into what was observed
//! (`Observed`), and compared with what the suite expects.

use super::eval::{Env, EvalError};
use crate::client::{AuthFailure, CallError, Fields, NoAnswer, Value};
use crate::pkcs11::CkRv;
use crate::status::CallFailure;
use crate::suite::{Check, Expect, FieldCheck, Operand, Profile, grpc_code_name};

/// What a call produced, reduced to what expectations speak of.
#[derive(Debug)]
pub enum Observed<'a> {
    Ok(&'a Fields),
    Rv(CkRv, &'a str),
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
        Err(CallError::Failed(CallFailure::Pkcs11(f))) => Observed::Rv(f.rv, &f.detail),
        Err(CallError::Failed(CallFailure::Transport { code, message })) => Observed::Grpc(*code, message),
        Err(CallError::Failed(CallFailure::MalformedDetail { code, reason })) => Observed::Malformed(
            format!("status {} with a malformed Grep11Error detail: {reason}", grpc_code_name(*code)),
        ),
        Err(CallError::NoAnswer(n)) => Observed::NoAnswer(n),
        Err(CallError::BadResponse(why)) => Observed::Malformed(why.clone()),
        Err(CallError::Auth(failure)) => Observed::Auth(failure),
        Err(CallError::RetryMisused(why)) => Observed::RetryMisused(why),
    }
}

impl Observed<'_> {
    pub fn describe(&self) -> String {
        match self {
            Observed::Ok(_) => "CKR_OK (0x0)".into(),
            Observed::Rv(rv, "") => rv.describe(),
            // A detail that already leads with the code (the emulator's do) is not repeated.
            Observed::Rv(rv, detail) if detail.starts_with(&rv.describe()) => detail.to_string(),
            Observed::Rv(rv, detail) => format!("{} ({detail})", rv.describe()),
            Observed::Grpc(code, msg) => {
                format!("gRPC {} without a Grep11Error: {msg}", grpc_code_name(*code))
            }
            Observed::NoAnswer(n) => n.to_string(),
            Observed::Malformed(why) => why.clone(),
            Observed::Auth(failure) => failure.to_string(),
            Observed::RetryMisused(why) => why.to_string(),
        }
    }
}

/// How a step went.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Refused with a code the profile accepts instead of the preferred one.
    NonStrict(String),
    /// The endpoint answered wrongly.
    Fail(String),
    /// No PKCS #11 answer at all: transport trouble.
    Error(String),
    /// The endpoint does not implement the RPC.
    Unimplemented(String),
}

fn expected_rvs(rvs: &[CkRv]) -> String {
    rvs.iter().map(|r| r.describe()).collect::<Vec<_>>().join(" or ")
}

pub fn judge(expect: &Expect, observed: &Observed, env: &Env, profile: &Profile) -> Verdict {
    match (expect, observed) {
        // Whatever the step expects, no answer is no evidence either way.
        (_, Observed::NoAnswer(_)) => Verdict::Error(observed.describe()),
        (_, Observed::Malformed(why)) => Verdict::Fail(format!("malformed answer: {why}")),
        // Whatever the step expects: even the expected refusal, so marked, is a wrong answer.
        (_, Observed::RetryMisused(why)) => Verdict::Fail(why.to_string()),
        (Expect::Grpc(want), Observed::Grpc(got, _)) if want == got => Verdict::Ok,
        (Expect::Grpc(want), Observed::Auth(failure)) if *want == failure.code() => Verdict::Ok,
        (_, Observed::Auth(_)) => Verdict::Error(observed.describe()),
        (Expect::Ok(_) | Expect::Error(_), Observed::Grpc(tonic::Code::Unimplemented, msg)) => {
            Verdict::Unimplemented(format!("the endpoint does not implement this RPC: {msg}"))
        }
        (_, Observed::Grpc(..)) => Verdict::Error(observed.describe()),
        (Expect::Error(rvs), Observed::Rv(rv, _)) if rvs.contains(rv) => Verdict::Ok,
        (Expect::Error(rvs), Observed::Rv(rv, _)) if profile.accepts(rvs, *rv).is_some() => {
            let reason = profile.accepts(rvs, *rv).map(|a| a.reason.as_str()).unwrap_or_default();
            Verdict::NonStrict(format!(
                "expected {}, got {} (accepted: {reason})",
                expected_rvs(rvs),
                rv.describe()
            ))
        }
        (Expect::Error(rvs), _) => {
            Verdict::Fail(format!("expected {}, got {}", expected_rvs(rvs), observed.describe()))
        }
        (Expect::Grpc(want), _) => {
            Verdict::Fail(format!("expected gRPC {}, got {}", grpc_code_name(*want), observed.describe()))
        }
        (Expect::Ok(_), Observed::Rv(..)) => {
            Verdict::Fail(format!("expected CKR_OK (0x0), got {}", observed.describe()))
        }
        (Expect::Ok(checks), Observed::Ok(fields)) => match check_fields(checks, fields, env) {
            Ok(()) => Verdict::Ok,
            Err(EvalError::Endpoint(why)) => Verdict::Fail(why),
            Err(EvalError::Harness(why)) => Verdict::Error(why),
        },
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
        let got =
            fields.get(field).ok_or_else(|| EvalError::Endpoint(format!("the response has no {field}")))?;
        let fail =
            |want: String| Err(EvalError::Endpoint(format!("{field}: expected {want}, got {}", show(got))));
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
                    let first = list.first().map(|m| crate::pkcs11::CkMechanismType(*m).to_string());
                    return Err(EvalError::Endpoint(format!(
                        "{field} starts with {}, expected {}",
                        first.unwrap_or_else(|| "nothing".into()),
                        crate::pkcs11::CkMechanismType(*wanted)
                    )));
                }
            }
            Check::Contains(wanted) => {
                let Value::Mechanisms(list) = got else { return fail("a list".into()) };
                let missing: Vec<String> = wanted
                    .iter()
                    .filter(|w| !list.contains(w))
                    .map(|w| crate::pkcs11::CkMechanismType(*w).to_string())
                    .collect();
                if !missing.is_empty() {
                    return Err(EvalError::Endpoint(format!("{field} lacks {}", missing.join(", "))));
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
