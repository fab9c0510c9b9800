//! How a PKCS #11 result travels in a gRPC status: a non-OK status whose
//! `grpc-status-details-bin` is a `google.rpc.Status` with exactly one `Any` detail of type
//! `type.googleapis.com/grep11.Grep11Error`. The emulator encodes with [`to_status`], the
//! client decodes with [`from_status`]; nothing else reads or writes that trailer.

use prost::{Message, Name};

use crate::pkcs11::CkRv;
use crate::proto::Grep11Error;
use crate::proto::google_rpc;

/// A PKCS #11 failure as an endpoint reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grep11Failure {
    /// The `CK_RV`.
    pub rv: CkRv,
    /// The endpoint's explanation, for people.
    pub detail: String,
    /// Whether the endpoint invites the same request again.
    pub retry: bool,
}

/// `CKR_SIGNATURE_INVALID (0xC0) (the signature does not verify)`; a detail that already
/// leads with the code (the emulator's do) is not repeated, and a refusal marked Retry
/// says so.
impl std::fmt::Display for Grep11Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = self.rv.describe();
        match self.detail.as_str() {
            "" => f.write_str(&code)?,
            detail if detail.starts_with(&code) => f.write_str(detail)?,
            detail => write!(f, "{code} ({detail})")?,
        }
        if self.retry {
            f.write_str(", marked Retry by the endpoint")?;
        }
        Ok(())
    }
}

/// The gRPC status code that carries a given `CK_RV`. Real services use a handful of
/// codes; clients must read the detail, never the code, so the mapping only has to be
/// plausible for generic gRPC tooling.
fn grpc_code(rv: CkRv) -> tonic::Code {
    use crate::pkcs11::*;
    match rv {
        CKR_FUNCTION_NOT_SUPPORTED => tonic::Code::Unimplemented,
        CKR_DEVICE_MEMORY | CKR_HOST_MEMORY => tonic::Code::ResourceExhausted,
        CKR_GENERAL_ERROR | CKR_DEVICE_ERROR | CKR_FUNCTION_FAILED => tonic::Code::Internal,
        _ => tonic::Code::InvalidArgument,
    }
}

/// Encodes a PKCS #11 failure as the gRPC status a GREP11 server returns.
pub fn to_status(failure: &Grep11Failure) -> tonic::Status {
    let detail = Grep11Error { code: failure.rv.0, detail: failure.detail.clone(), retry: failure.retry };
    let code = if failure.retry { tonic::Code::Unavailable } else { grpc_code(failure.rv) };
    let envelope = google_rpc::Status {
        code: code as i32,
        message: failure.detail.clone(),
        details: vec![prost_types::Any { type_url: Grep11Error::type_url(), value: detail.encode_to_vec() }],
    };
    // The grpc-message is the Detail itself: Go clients print the one, JS clients the other,
    // and both must read the same.
    tonic::Status::with_details(code, failure.detail.clone(), envelope.encode_to_vec().into())
}

/// What a non-OK status means for a PKCS #11 caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallFailure {
    /// The endpoint answered with a PKCS #11 result.
    Pkcs11(Grep11Failure),
    /// A status without a `Grep11Error`: a transport or server failure.
    Transport {
        /// The gRPC status code.
        code: tonic::Code,
        /// The status message.
        message: String,
    },
    /// The details trailer is present but is not one well-formed `Grep11Error`.
    MalformedDetail {
        /// The gRPC status code.
        code: tonic::Code,
        /// What is wrong with the detail.
        reason: String,
    },
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallFailure::Pkcs11(failure) => failure.fmt(f),
            CallFailure::Transport { code, message } => f.write_str(&describe_transport(*code, message)),
            CallFailure::MalformedDetail { code, reason } => {
                write!(f, "status {} with a malformed Grep11Error detail: {reason}", grpc_code_name(*code))
            }
        }
    }
}

/// A status without a `Grep11Error`, as reports show it:
/// `gRPC UNAVAILABLE without a Grep11Error: connection refused`.
pub fn describe_transport(code: tonic::Code, message: &str) -> String {
    format!("gRPC {} without a Grep11Error: {message}", grpc_code_name(code))
}

/// Decodes a status as a GREP11 client must: from the detail, never from the message text.
pub fn from_status(status: &tonic::Status) -> CallFailure {
    let code = status.code();
    let raw = status.details();
    if raw.is_empty() {
        return CallFailure::Transport { code, message: status.message().to_owned() };
    }
    let malformed = |reason: String| CallFailure::MalformedDetail { code, reason };
    let envelope = match google_rpc::Status::decode(raw) {
        Ok(envelope) => envelope,
        Err(e) => return malformed(format!("grpc-status-details-bin is not a google.rpc.Status: {e}")),
    };
    let [any] = envelope.details.as_slice() else {
        return malformed(format!("expected exactly one detail, found {}", envelope.details.len()));
    };
    if any.type_url != Grep11Error::type_url() {
        return malformed(format!(
            "detail has type URL {:?}, expected {:?}",
            any.type_url,
            Grep11Error::type_url()
        ));
    }
    match Grep11Error::decode(any.value.as_slice()) {
        Ok(e) => CallFailure::Pkcs11(Grep11Failure { rv: CkRv(e.code), detail: e.detail, retry: e.retry }),
        Err(e) => malformed(format!("Grep11Error does not decode: {e}")),
    }
}

/// The canonical upper-case name of a gRPC status code.
pub fn grpc_code_name(code: tonic::Code) -> String {
    let words = format!("{code:?}");
    let mut out = String::new();
    for (i, c) in words.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs11::CKR_SIGNATURE_INVALID;

    #[test]
    fn type_url_is_the_published_one() {
        assert_eq!(Grep11Error::type_url(), "type.googleapis.com/grep11.Grep11Error");
    }

    #[test]
    fn a_failure_survives_the_round_trip() {
        let failure =
            Grep11Failure { rv: CKR_SIGNATURE_INVALID, detail: "bad signature".into(), retry: false };
        let status = to_status(&failure);
        assert_eq!(status.message(), failure.detail);
        assert_eq!(from_status(&status), CallFailure::Pkcs11(failure));
    }

    #[test]
    fn failures_read_for_people() {
        let bare = Grep11Failure { rv: CKR_SIGNATURE_INVALID, detail: String::new(), retry: false };
        assert_eq!(bare.to_string(), "CKR_SIGNATURE_INVALID (0xC0)");
        let detailed = Grep11Failure { detail: "r || s has 63 bytes".into(), ..bare.clone() };
        assert_eq!(detailed.to_string(), "CKR_SIGNATURE_INVALID (0xC0) (r || s has 63 bytes)");
        let led = Grep11Failure { detail: "CKR_SIGNATURE_INVALID (0xC0): no".into(), ..bare.clone() };
        assert_eq!(led.to_string(), "CKR_SIGNATURE_INVALID (0xC0): no");
        let retry = Grep11Failure { retry: true, ..bare };
        assert_eq!(retry.to_string(), "CKR_SIGNATURE_INVALID (0xC0), marked Retry by the endpoint");
        let transport = CallFailure::Transport { code: tonic::Code::Unavailable, message: "down".into() };
        assert_eq!(transport.to_string(), "gRPC UNAVAILABLE without a Grep11Error: down");
        let malformed = CallFailure::MalformedDetail { code: tonic::Code::Internal, reason: "two".into() };
        assert_eq!(malformed.to_string(), "status INTERNAL with a malformed Grep11Error detail: two");
    }

    #[test]
    fn a_status_without_detail_is_a_transport_failure() {
        let status = tonic::Status::unavailable("connection refused");
        assert_eq!(
            from_status(&status),
            CallFailure::Transport { code: tonic::Code::Unavailable, message: "connection refused".into() }
        );
    }

    #[test]
    fn a_foreign_detail_is_reported_as_malformed() {
        let envelope = google_rpc::Status {
            code: 3,
            message: String::new(),
            details: vec![prost_types::Any {
                type_url: "type.googleapis.com/other.Thing".into(),
                value: vec![],
            }],
        };
        let status =
            tonic::Status::with_details(tonic::Code::InvalidArgument, "x", envelope.encode_to_vec().into());
        assert!(matches!(from_status(&status), CallFailure::MalformedDetail { .. }));
        let garbage = tonic::Status::with_details(tonic::Code::InvalidArgument, "x", vec![0xff, 0xff].into());
        assert!(matches!(from_status(&garbage), CallFailure::MalformedDetail { .. }));
    }
}
