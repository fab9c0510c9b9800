//! Why a step's expressions, local computation or field checks gave no result: one variant
//! per cause, each with the one [`Blame`] that follows from it (as the emulator's `Error`
//! has one `CK_RV` per variant).

use std::fmt;

use super::blame::Blame;
use super::reference::RefError;
use crate::client::Value;
use crate::pkcs11::{CkAttributeType, CkMechanismType};
use crate::suite::Func;

/// What a variable held where something else was needed, as a reader of a report needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// A matrix parameter set to null.
    Null,
    Number(u64),
    Bytes(usize),
    Mechanisms(usize),
}

impl Held {
    pub(crate) fn of(value: Option<&Value>) -> Held {
        match value {
            None => Held::Null,
            Some(Value::Uint(u)) => Held::Number(*u),
            Some(Value::Bytes(b)) => Held::Bytes(b.len()),
            Some(Value::Mechanisms(m)) => Held::Mechanisms(m.len()),
        }
    }
}

impl fmt::Display for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Held::Null => f.write_str("null"),
            Held::Number(u) => write!(f, "the number {u} ({u:#x})"),
            Held::Bytes(n) => write!(f, "{n} bytes"),
            Held::Mechanisms(n) => write!(f, "a list of {n} mechanisms"),
        }
    }
}

/// Why evaluating, computing or checking a step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A variable read before anything set it.
    #[error("variable ${0} is not set")]
    Unset(String),
    /// A variable holds another kind of value than its use needs.
    #[error("${var} is {held}, not {wanted}")]
    WrongKind { var: String, held: Held, wanted: &'static str },
    /// A number too large for its use.
    #[error("${0} is too large")]
    TooLarge(String),
    /// A number written where a byte string is needed.
    #[error("the number {0} is not a byte string")]
    NumberAsBytes(i64),
    /// An expression that is not a number where one is needed.
    #[error("`{0}` is not a number")]
    NotANumber(String),
    /// A negative length.
    #[error("{0} is not a length")]
    NotALength(i64),
    /// A template variable whose value the attribute cannot take.
    #[error("${var} ({held}) cannot be {attr}")]
    AttributeValue { var: String, held: Held, attr: CkAttributeType },
    /// A local step without an argument it needs.
    #[error("missing argument {0}")]
    MissingArgument(&'static str),
    /// A local step's arguments that do not go together.
    #[error("{0}")]
    LocalArguments(&'static str),
    /// A length argument beyond what this machine can allocate.
    #[error("len {0} is too large")]
    LenTooLarge(u64),
    /// `slice` or `flip` at an index outside the bytes: they come from the endpoint's answer
    /// (a suite slices what it cannot know the length of in advance).
    #[error("{func} index {index} is outside {len} bytes")]
    IndexOutside { func: &'static str, index: i64, len: usize },
    /// `slice` with its end before its start, for the same reason the endpoint's.
    #[error("slice {start}..{end} of {len} bytes")]
    SliceBackwards { start: usize, end: usize, len: usize },
    /// The response lacks a field the step checks.
    #[error("the response has no {0}")]
    NoField(String),
    /// The response lacks a field the step saves.
    #[error("the response has no {field} to save as ${var}")]
    NothingToSave { field: String, var: String },
    /// A field check that does not hold: the field, what the check wants and what came.
    #[error("{field}: expected {wanted}, got {got}")]
    FieldMismatch { field: String, wanted: String, got: String },
    /// A mechanism list that does not start with the expected mechanism.
    #[error("{field} starts with {}, expected {wanted}", first.map_or("nothing".to_owned(), |m| m.to_string()))]
    FirstMechanism { field: String, first: Option<CkMechanismType>, wanted: CkMechanismType },
    /// A mechanism list that lacks mechanisms it must have.
    #[error("{field} lacks {}", missing.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    MechanismsMissing { field: String, missing: Vec<CkMechanismType> },
    /// The reference cryptography gave no result. `inputs` is whose data it worked on: the
    /// endpoint's answers for a check (`local.verify`, `spki()`), the suite's for a
    /// computation (`local.sign`, `sha256()`).
    #[error("{}{source}", func.map_or(String::new(), |f| format!("{}(): ", f.name())))]
    Reference { func: Option<Func>, inputs: Blame, source: RefError },
}

impl EvalError {
    /// Who is to blame: fixed per variant, and for the reference cryptography by what its
    /// failure says about its inputs.
    pub fn blame(&self) -> Blame {
        match self {
            EvalError::Unset(_)
            | EvalError::WrongKind { .. }
            | EvalError::TooLarge(_)
            | EvalError::NumberAsBytes(_)
            | EvalError::NotANumber(_)
            | EvalError::NotALength(_)
            | EvalError::AttributeValue { .. }
            | EvalError::MissingArgument(_)
            | EvalError::LocalArguments(_)
            | EvalError::LenTooLarge(_) => Blame::Suite,
            EvalError::IndexOutside { .. }
            | EvalError::SliceBackwards { .. }
            | EvalError::NoField(_)
            | EvalError::NothingToSave { .. }
            | EvalError::FieldMismatch { .. }
            | EvalError::FirstMechanism { .. }
            | EvalError::MechanismsMissing { .. } => Blame::Endpoint,
            EvalError::Reference { inputs, source, .. } => match source {
                RefError::Refuted(_) | RefError::Malformed(_) => *inputs,
                RefError::Unsupported(_) => Blame::Suite,
                RefError::Failed(_) => Blame::Harness,
            },
        }
    }

    /// The message as a report shows it, naming the suite or the harness when it is theirs.
    pub fn explained(&self) -> String {
        self.blame().explain(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(inputs: Blame, source: RefError) -> EvalError {
        EvalError::Reference { func: None, inputs, source }
    }

    #[test]
    fn the_reference_blames_by_what_it_found_and_whose_input_it_was() {
        let refuted = RefError::Refuted("the signature does not verify locally".into());
        assert_eq!(reference(Blame::Endpoint, refuted.clone()).blame(), Blame::Endpoint);
        let malformed = RefError::Malformed("not a DER SubjectPublicKeyInfo".into());
        assert_eq!(reference(Blame::Endpoint, malformed.clone()).blame(), Blame::Endpoint);
        assert_eq!(reference(Blame::Suite, malformed).blame(), Blame::Suite);
        let unsupported = RefError::Unsupported("no local digest for CKM_MD5".into());
        assert_eq!(reference(Blame::Endpoint, unsupported).blame(), Blame::Suite);
        let failed = RefError::Failed("RSA keygen: too small".into());
        assert_eq!(reference(Blame::Suite, failed).blame(), Blame::Harness);
    }

    #[test]
    fn messages_read_as_sentences_without_debug_output() {
        let e = EvalError::WrongKind { var: "k".into(), held: Held::Number(5), wanted: "bytes" };
        assert_eq!(e.to_string(), "$k is the number 5 (0x5), not bytes");
        assert_eq!(e.explained(), "suite error: $k is the number 5 (0x5), not bytes");
        let e = EvalError::WrongKind { var: "k".into(), held: Held::of(None), wanted: "a number" };
        assert_eq!(e.to_string(), "$k is null, not a number");
        let e = EvalError::Reference {
            func: Some(Func::Spki),
            inputs: Blame::Endpoint,
            source: RefError::Malformed("not DER".into()),
        };
        assert_eq!(e.explained(), "spki(): not DER");
        let e = EvalError::FirstMechanism {
            field: "Mechs".into(),
            first: None,
            wanted: crate::pkcs11::CKM_SHA256,
        };
        assert_eq!(e.to_string(), "Mechs starts with nothing, expected CKM_SHA256");
        assert_eq!(e.blame(), Blame::Endpoint);
    }
}
