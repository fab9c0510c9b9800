//! A recording proxy: an application talks to it as to its GREP11 endpoint, it forwards
//! every call to the real endpoint, and what passed through becomes a suite that replays
//! the sequence with its answers checked, and a load workload with the observed mix.
//!
//! Design: the proxy forwards HTTP/2 requests, not GREP11 calls. Each request (path,
//! headers, body frames) goes to the upstream over the harness's own connection path
//! (`client::Endpoint::channel`: h2c or TLS, client certificates, connect timeout) and the
//! response (headers, body frames, trailers) comes back as it arrived. Nothing is
//! decoded on the way and nothing re-encoded, so both wire generations, any metadata
//! (`authorization`, `bluemix-instance`, ...), the deadline (`grpc-timeout`), the status
//! and its `grpc-status-details-bin` (a `Grep11Error`), and fields this harness does not
//! know all pass through byte for byte; a method the harness does not know is forwarded
//! too (and noted, not recorded). Decoding a typed message instead would drop unknown
//! fields and normalize encodings, the opposite of what a proxy in front of an
//! application must do. The only change: the upstream flags' metadata (`--header`,
//! `--instance-id`, the IAM token of `--api-key`) replaces what the application sent under
//! the same names, so the application can run without the credentials.
//!
//! Recording taps a copy of each body (`tee`, bounded by the interface's message size);
//! when the response ends, the copy is decoded with the prost types (`decode`) and kept.
//! On shutdown the calls, in the order their answers completed, become steps
//! (`transcript`) and then the two files (`render`).

pub mod decode;
mod forward;
pub mod render;
mod tee;
pub mod transcript;

pub use forward::{Exchange, Proxy, Recording};

use decode::{Undecodable, decode, ended, rpc_of_path, unframe};
use transcript::Transcript;

/// The recorded exchanges as steps (`redact`: message data replaced by random values of
/// the same lengths).
pub fn transcript(exchanges: &[Exchange], redact: bool) -> Transcript {
    let mut t = Transcript::new(redact);
    for (i, exchange) in exchanges.iter().enumerate() {
        let number = i + 1;
        match decode_exchange(exchange) {
            Ok(call) => t.add(number, &call),
            Err(why) => t.note(format!("call {number} ({}) left out: {why}", exchange.path)),
        }
    }
    t
}

fn decode_exchange(e: &Exchange) -> Result<decode::Call, Undecodable> {
    let rpc = rpc_of_path(&e.path)?;
    let status = e.status.as_ref().ok_or(Undecodable::NoStatus)?;
    let ended = ended(status);
    let request = unframe(&e.request, "request")?;
    let response = match ended {
        decode::Ended::Ok => Some(unframe(&e.response, "response")?),
        _ => None,
    };
    decode(rpc, request, response, ended)
}
