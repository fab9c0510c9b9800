//! Talking to a GREP11 endpoint: connecting (h2c URL, or the embedded emulator over an
//! in-memory HTTP/2 connection, so the wire is exercised either way), deadlines, the two
//! wire generations, and turning each RPC's response into named fields. Failures are
//! decoded from the `Grep11Error` detail only (`crate::status`); those whose `Retry` is
//! true are retried a bounded number of times (`retry`).

mod call;
mod retry;
mod transport;

use std::collections::BTreeMap;
use std::time::Duration;

pub use call::{Arg, Args, Counted};
pub use retry::MAX_ATTEMPTS;
pub use transport::{ConnectError, in_memory_channel};

use crate::proto::crypto_client::CryptoClient;
use crate::rpc::MAX_MESSAGE_BYTES;
use crate::status::CallFailure;

/// How keys travel in requests: the current `KeyBlob` messages or the earlier raw bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Wire {
    #[default]
    Keyblob,
    Legacy,
}

/// A response field's value.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Value {
    Bytes(Vec<u8>),
    Uint(u64),
    Mechanisms(Vec<u64>),
}

/// A response as named fields (`State`, `Signature`, `CKA_VALUE_LEN`, ...).
pub type Fields = BTreeMap<String, Value>;

/// Why a call did not produce fields.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The endpoint answered with a non-OK status (a PKCS #11 result or otherwise).
    #[error("{0:?}")]
    Failed(CallFailure),
    /// The endpoint answered OK, but the response breaks the interface.
    #[error("malformed response: {0}")]
    BadResponse(String),
}

/// A connected GREP11 client with its per-call deadline and wire generation.
#[derive(Clone)]
pub struct Client {
    inner: CryptoClient<tonic::transport::Channel>,
    wire: Wire,
    timeout: Duration,
}

impl Client {
    pub fn new(channel: tonic::transport::Channel, wire: Wire, timeout: Duration) -> Client {
        let inner = CryptoClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Client { inner, wire, timeout }
    }

    /// Connects to `http://host:port` (h2c), failing within `connect_timeout` when nothing
    /// answers.
    pub async fn connect(
        url: &str,
        wire: Wire,
        timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<Client, ConnectError> {
        let channel = transport::connect(url, timeout, connect_timeout).await?;
        Ok(Client::new(channel, wire, timeout))
    }

    pub fn wire(&self) -> Wire {
        self.wire
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        request
    }
}
