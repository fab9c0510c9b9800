//! Requests encoded once and sent many times, each answer judged by its gRPC status alone:
//! the load generator's path for calls whose arguments are fixed and whose fields no one
//! reads (unsampled calls, and the last step of an iteration). Through tonic a call costs
//! an encode, a request head built field by field, a streaming decoder, a decode and the
//! response's fields copied into a map; here it is one shared buffer, the same header
//! fields every time and the status read from the trailers. Only a [`Direct`] connection has this path.
//!
//! What is still checked of an answer: HTTP status 200, the `grpc-status` (a refusal is
//! decoded exactly as on the full path, `Grep11Error` detail and retries included), and
//! that the body is one whole uncompressed gRPC message: a truncated or padded answer is
//! malformed here too. Whether the message is the RPC's protobuf is checked by the
//! sampled calls, which take the full path.

use std::time::Instant;

use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_TYPE, HeaderValue, TE};

use super::direct::StatusOnly;
use super::{CallError, Client};
use crate::rpc::{MAX_MESSAGE_BYTES, Rpc};

/// One RPC's request, framed for the wire and ready to be sent again and again.
#[derive(Clone, Debug)]
pub struct Encoded {
    rpc: Rpc,
    /// The gRPC frame: no compression, the length, then the message.
    frame: Bytes,
    /// Content type, `te`, the deadline and the client's fixed metadata.
    headers: HeaderMap,
}

impl Encoded {
    /// The RPC this request is for.
    pub fn rpc(&self) -> Rpc {
        self.rpc
    }
}

impl Client {
    /// Frames `message` (the protobuf bytes of `rpc`'s request) for
    /// [`Client::send_encoded`]. `None` when this client cannot send encoded requests: it
    /// is not over a [`Direct`](super::Direct) connection, or its metadata needs a bearer token, which
    /// may change between calls.
    pub fn encoded(&self, rpc: Rpc, message: &[u8]) -> Option<Encoded> {
        self.direct.as_ref()?;
        if message.len() > MAX_MESSAGE_BYTES || self.metadata.has_token() {
            return None;
        }
        let frame = Bytes::from(crate::rpc::frame(message)?);
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert(TE, HeaderValue::from_static("trailers"));
        headers.insert("grpc-timeout", grpc_timeout(self.timeout));
        let mut metadata = tonic::metadata::MetadataMap::new();
        self.metadata.apply_fixed(&mut metadata);
        headers.extend(metadata.into_headers());
        Some(Encoded { rpc, frame, headers })
    }

    /// Sends `encoded` and reads the answer's status: `Ok` for grpc-status 0, otherwise
    /// the failure [`Client::call`] would report, after the same retries.
    pub async fn send_encoded(&self, encoded: &Encoded) -> Result<(), CallError> {
        let Some(direct) = self.direct.as_ref() else {
            return Err(CallError::BadResponse("no direct connection for an encoded request".into()));
        };
        let deadline = Instant::now() + self.timeout;
        let mut attempts = self.attempts();
        let mut retry_headers;
        let mut headers = &encoded.headers;
        loop {
            if attempts.repeating() {
                let left = deadline.saturating_duration_since(Instant::now());
                retry_headers = encoded.headers.clone();
                retry_headers.insert("grpc-timeout", grpc_timeout(left));
                headers = &retry_headers;
            }
            let sent = direct.status_only(encoded.rpc.path(), headers, encoded.frame.clone(), deadline);
            let status = match sent.await {
                Ok(StatusOnly::Ok) => return Ok(()),
                Ok(StatusOnly::Refused(status)) => status,
                Ok(StatusOnly::Malformed(why)) => {
                    return Err(CallError::BadResponse(format!("{}: {why}", encoded.rpc)));
                }
                Err(e) => tonic::Status::from_error(e),
            };
            self.after_refusal(status, deadline, &mut attempts).await?;
        }
    }
}

/// The `grpc-timeout` header for `timeout`, in the unit gRPC allows eight digits of.
fn grpc_timeout(timeout: std::time::Duration) -> HeaderValue {
    let micros = timeout.as_micros();
    let text = if micros < 100_000_000 {
        format!("{micros}u")
    } else {
        format!("{}m", (timeout.as_millis()).min(99_999_999))
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("99999999m"))
}
