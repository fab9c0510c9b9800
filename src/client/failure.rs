//! Calls that got no answer from the endpoint: the client library gave up or could not read
//! what came back. tonic reports these as a `Status` like any other, so without this
//! module a deadline reads as `CANCELLED: Timeout expired` and a dropped connection as
//! `UNKNOWN: transport error`. Here they are told apart from statuses the endpoint sent and
//! named by cause, so that a report says what went wrong.
//!
//! How each is recognised, most specific first:
//! - the error chain under the status (tonic keeps it as `source`): tonic's own deadline
//!   (`TimeoutExpired`), connect failures, hyper's closed-connection and cancelled-dispatch
//!   errors, h2 GOAWAY / reset / I/O errors, the direct transport's own errors, and the
//!   `std::io::Error` kinds of a closed or refused socket;
//! - a failure of tonic's decoder that carries no source, only a status with a fixed text
//!   and no details: a message announcing more than the decoding limit (`OUT_OF_RANGE`,
//!   "decoded message length too large"). The text is tonic's, not the endpoint's;
//!   `tests/integration/misbehaving.rs` pins it, so a tonic upgrade that rewords it fails
//!   there rather than silently reporting a plain gRPC status.
//!
//! Bytes that are not the response's protobuf are found by the client's own decoding
//! ([`undecodable`]), not read from a status.
//!
//! A status that carries `grpc-status-details-bin` came from the endpoint and is never
//! classified here.

use std::error::Error as StdError;
use std::fmt;

/// Why there was no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NoAnswerKind {
    /// The per-call deadline passed (ours, or the endpoint said DEADLINE_EXCEEDED).
    DeadlineExceeded,
    /// The connection closed or was reset before the response was complete.
    ConnectionClosed,
    /// No connection could be made (refused, unreachable).
    Unavailable,
    /// The response announced more bytes than the client accepts (`rpc::MAX_MESSAGE_BYTES`).
    MessageTooLarge,
    /// The response body is not the RPC's protobuf message.
    MalformedResponse,
}

impl NoAnswerKind {
    /// The kind in words, as messages and load reports show it (`deadline exceeded`).
    pub fn name(self) -> &'static str {
        match self {
            NoAnswerKind::DeadlineExceeded => "deadline exceeded",
            NoAnswerKind::ConnectionClosed => "connection closed",
            NoAnswerKind::Unavailable => "unavailable",
            NoAnswerKind::MessageTooLarge => "message too large",
            NoAnswerKind::MalformedResponse => "malformed response",
        }
    }
}

impl fmt::Display for NoAnswerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A call without an answer: the cause, the gRPC code tonic gave it (load reports count
/// failures by code) and what the client library said, with its error chain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct NoAnswer {
    /// The cause.
    pub kind: NoAnswerKind,
    /// The gRPC code tonic reported (DEADLINE_EXCEEDED, UNAVAILABLE, INTERNAL, ...).
    pub code: tonic::Code,
    /// tonic's status message followed by its error chain.
    pub detail: String,
}

/// The cause of a client-side failure, or `None` for a status the endpoint sent.
pub fn classify(status: &tonic::Status) -> Option<NoAnswer> {
    if !status.details().is_empty() {
        return None;
    }
    let kind = chain_kind(status).or_else(|| codec_kind(status))?;
    Some(NoAnswer { kind, code: status.code(), detail: describe(status) })
}

/// The errors under `status`, its source first.
fn chain(status: &tonic::Status) -> impl Iterator<Item = &(dyn StdError + 'static)> {
    std::iter::successors(status.source(), |&e| e.source())
}

/// The first error in the source chain that names a cause.
fn chain_kind(status: &tonic::Status) -> Option<NoAnswerKind> {
    chain(status).find_map(error_kind)
}

/// Whether the call's connection closed under it, or the endpoint refused or reset its
/// stream, before an answer: a status from the error chain (not the endpoint's own, and
/// not a message cut short) that names a closed connection.
pub fn connection_lost(status: &tonic::Status) -> bool {
    status.details().is_empty() && chain_kind(status) == Some(NoAnswerKind::ConnectionClosed)
}

fn error_kind(e: &(dyn StdError + 'static)) -> Option<NoAnswerKind> {
    use NoAnswerKind::*;
    if e.is::<tonic::TimeoutExpired>() {
        return Some(DeadlineExceeded);
    }
    if e.is::<tonic::ConnectError>() {
        return Some(Unavailable);
    }
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        return io_kind(io.kind());
    }
    if let Some(direct) = e.downcast_ref::<super::nghttp2::Error>() {
        return Some(match direct {
            super::nghttp2::Error::TooLarge => MessageTooLarge,
            _ => ConnectionClosed,
        });
    }
    if let Some(h2) = e.downcast_ref::<h2::Error>() {
        if let Some(io) = h2.get_io() {
            return io_kind(io.kind()).or(Some(ConnectionClosed));
        }
        // GOAWAY or a stream reset: the endpoint ended the exchange without a status.
        if h2.is_go_away() || h2.is_reset() {
            return Some(ConnectionClosed);
        }
        return None;
    }
    if let Some(hyper) = e.downcast_ref::<hyper::Error>() {
        if hyper.is_timeout() {
            return Some(DeadlineExceeded);
        }
        // Canceled: the request was queued on a connection that closed before sending it.
        if hyper.is_closed() || hyper.is_incomplete_message() || hyper.is_canceled() {
            return Some(ConnectionClosed);
        }
    }
    None
}

fn io_kind(kind: std::io::ErrorKind) -> Option<NoAnswerKind> {
    use std::io::ErrorKind::*;
    match kind {
        TimedOut => Some(NoAnswerKind::DeadlineExceeded),
        ConnectionRefused | AddrNotAvailable | HostUnreachable | NetworkUnreachable => {
            Some(NoAnswerKind::Unavailable)
        }
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | NotConnected => {
            Some(NoAnswerKind::ConnectionClosed)
        }
        _ => None,
    }
}

/// A response whose bytes are not the RPC's protobuf message.
pub fn undecodable(e: &prost::DecodeError) -> NoAnswer {
    NoAnswer {
        kind: NoAnswerKind::MalformedResponse,
        code: tonic::Code::Internal,
        detail: format!("failed to decode Protobuf message: {e}"),
    }
}

/// Failures of tonic's decoder, which carry no source (see the module comment).
fn codec_kind(status: &tonic::Status) -> Option<NoAnswerKind> {
    // Nothing else tells these apart from an endpoint that sends the same words (tonic
    // merges the response headers into a decode failure's metadata, so even that differs
    // in nothing). Such an endpoint is still an `error` either way; only the label moves.
    if status.source().is_some() {
        return None;
    }
    let message = status.message();
    match status.code() {
        tonic::Code::OutOfRange if message.starts_with("Error, decoded message length too large") => {
            Some(NoAnswerKind::MessageTooLarge)
        }
        // The endpoint's own word that the deadline passed is a deadline too.
        tonic::Code::DeadlineExceeded => Some(NoAnswerKind::DeadlineExceeded),
        // The stream ended cleanly with no grpc-status: truncated by the endpoint or a proxy.
        tonic::Code::Unknown if message.contains("missing grpc-status") => {
            Some(NoAnswerKind::ConnectionClosed)
        }
        _ => None,
    }
}

/// The status message followed by its error chain, each link once.
fn describe(status: &tonic::Status) -> String {
    let mut out = status.message().to_owned();
    for e in chain(status) {
        let text = e.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_from_the_endpoint_is_not_classified() {
        let failure = crate::status::Grep11Failure {
            rv: crate::pkcs11::CKR_DEVICE_ERROR,
            detail: "x".into(),
            retry: true,
        };
        assert_eq!(classify(&crate::status::to_status(&failure)), None);
        assert_eq!(classify(&tonic::Status::internal("the endpoint's own words")), None);
        assert_eq!(classify(&tonic::Status::unavailable("maintenance")), None);
    }

    #[test]
    fn causes_are_read_from_the_error_chain() {
        let timeout = tonic::Status::from_error(Box::new(tonic::TimeoutExpired(())));
        assert_eq!(classify(&timeout).map(|n| n.kind), Some(NoAnswerKind::DeadlineExceeded));
        let reset =
            tonic::Status::from_error(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset)));
        let reset = classify(&reset).unwrap();
        assert_eq!(reset.kind, NoAnswerKind::ConnectionClosed);
        assert!(reset.to_string().starts_with("connection closed: "), "{reset}");
        let refused =
            tonic::Status::from_error(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)));
        assert_eq!(classify(&refused).map(|n| n.kind), Some(NoAnswerKind::Unavailable));
        let other = tonic::Status::from_error(Box::new(std::io::Error::other("odd")));
        assert_eq!(classify(&other), None);
    }

    #[test]
    fn decoder_failures_are_named() {
        let huge = tonic::Status::out_of_range(
            "Error, decoded message length too large: found 67108865 bytes, the limit is: 67108864 bytes",
        );
        assert_eq!(classify(&huge).map(|n| n.kind), Some(NoAnswerKind::MessageTooLarge));
        // The client decodes protobuf itself: an endpoint's INTERNAL in the same words is
        // the endpoint's.
        let words = tonic::Status::internal("failed to decode Protobuf message: invalid wire type value: 7");
        assert_eq!(classify(&words), None);
    }
}
