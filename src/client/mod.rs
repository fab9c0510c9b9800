//! Talking to a GREP11 endpoint: connecting (h2c or TLS URL, or the embedded emulator over
//! an in-memory HTTP/2 connection, so the wire is exercised either way), per-call metadata
//! and credentials, deadlines, the two wire generations, and turning each RPC's response
//! into named fields. Failures are decoded from the `Grep11Error` detail only
//! (`crate::status`); a refusal of the credentials is told apart from a PKCS #11 result, and
//! those whose `Retry` is true are retried a bounded number of times (`retry`).

pub mod auth;
mod call;
mod codec;
mod direct;
mod failure;
mod metadata;
mod nghttp2;
mod prepared;
mod retry;
pub mod tls;
mod transport;

use std::collections::BTreeMap;
use std::time::Duration;

pub use auth::{IamToken, TokenError};
pub use call::{Arg, Args, Counted};
pub use direct::Direct;
pub use failure::{NoAnswer, NoAnswerKind};
pub use metadata::{Header, HeaderError, Metadata};
pub use prepared::Encoded;
pub use retry::MAX_ATTEMPTS;
pub use tls::{TlsFileError, TlsOptions};
pub use transport::{ConnectError, in_memory_channel, in_memory_direct};

use tonic::client::Grpc;

use crate::rpc::MAX_MESSAGE_BYTES;
use crate::status::{CallFailure, from_status};

/// How keys travel in requests: the current `KeyBlob` messages or the earlier raw bytes.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Debug,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Wire {
    /// Keys in the `KeyBlob` message fields (`Key`, `PubKey`, ...), and attributes in the
    /// typed `Attributes` maps: what current GREP11 servers expect.
    #[default]
    Keyblob,
    /// Keys as raw bytes in the `*Bytes` fields, and attributes in `AttributesBytes`: the
    /// earlier generation, which servers still accept.
    Legacy,
}

impl Wire {
    /// The generation as `--wire`, profiles and reports write it (`keyblob`, `legacy`).
    pub fn name(self) -> &'static str {
        match self {
            Wire::Keyblob => "keyblob",
            Wire::Legacy => "legacy",
        }
    }
}

impl std::fmt::Display for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A response field's value.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Value {
    /// Bytes as the response carries them: data, a key blob, a state, an attribute's
    /// value.
    Bytes(Vec<u8>),
    /// A number: a length, a flag, a `CK_ULONG` attribute.
    Uint(u64),
    /// A mechanism list (`CKM_*` values, in the endpoint's order).
    Mechanisms(Vec<u64>),
}

/// A response as named fields (`State`, `Signature`, `CKA_VALUE_LEN`, ...).
pub type Fields = BTreeMap<String, Value>;

/// Why a call did not produce fields.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The endpoint answered with a non-OK status (a PKCS #11 result or otherwise).
    #[error("{0}")]
    Failed(CallFailure),
    /// No answer: the deadline passed, the connection closed or could not be made, or what
    /// came back was too large or not the RPC's protobuf.
    #[error("{0}")]
    NoAnswer(NoAnswer),
    /// The endpoint answered OK, but the response breaks the interface.
    #[error("malformed response: {0}")]
    BadResponse(String),
    /// The credentials were refused, or none could be had: not a PKCS #11 answer.
    #[error(transparent)]
    Auth(AuthFailure),
    /// The endpoint asked for a retry it could not honour (`retry::next`).
    #[error("{0}")]
    RetryMisused(String),
}

/// An authentication failure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// The endpoint answered UNAUTHENTICATED or PERMISSION_DENIED without a `Grep11Error`.
    #[error("the endpoint refused the credentials ({}): {message}", code_name(*code))]
    Refused {
        /// UNAUTHENTICATED or PERMISSION_DENIED.
        code: tonic::Code,
        /// The endpoint's status message.
        message: String,
    },
    /// No bearer token could be had from IAM, so the call was not sent.
    #[error("no bearer token: {0}")]
    Token(TokenError),
}

impl AuthFailure {
    /// The gRPC code this failure stands for (UNAUTHENTICATED when the call was not sent).
    pub fn code(&self) -> tonic::Code {
        match self {
            AuthFailure::Refused { code, .. } => *code,
            AuthFailure::Token(_) => tonic::Code::Unauthenticated,
        }
    }
}

fn code_name(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::PermissionDenied => "PERMISSION_DENIED",
        _ => "UNAUTHENTICATED",
    }
}

/// A non-OK status as a call error: credentials refused, a PKCS #11 result, or transport
/// trouble, the last with its cause (a TLS alert arrives as the source of a terse "transport
/// error").
fn status_error(status: &tonic::Status) -> CallError {
    match from_status(status) {
        CallFailure::Transport {
            code: code @ (tonic::Code::Unauthenticated | tonic::Code::PermissionDenied),
            message,
        } => CallError::Auth(AuthFailure::Refused { code, message }),
        CallFailure::Transport { code, message } => {
            let cause = std::error::Error::source(status).map(|source| {
                tls::handshake_failure(source).unwrap_or_else(|| transport::error_chain(source))
            });
            let message = match cause {
                Some(cause) if !message.contains(&cause) => format!("{message}: {cause}"),
                _ => message,
            };
            CallError::Failed(CallFailure::Transport { code, message })
        }
        other => CallError::Failed(other),
    }
}

/// Everything needed to reach an endpoint except the wire generation: checked when built,
/// so that connecting can only fail on the network.
#[derive(Clone, Debug)]
pub struct Endpoint {
    url: String,
    timeout: Duration,
    connect_timeout: Duration,
    tls: Option<tls::ClientTls>,
    metadata: Metadata,
}

/// An endpoint that cannot be used as given (nothing was sent).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The URL starts with neither `http://` nor `https://`.
    #[error(
        "{url:?} is not a valid endpoint URL: expected http://HOST:PORT (h2c) or https://HOST[:PORT] (TLS)"
    )]
    BadUrl {
        /// The URL as given.
        url: String,
    },
    /// The URL has no host, a port outside 1 to 65535, or a path or query.
    #[error("{url:?} is not a valid endpoint URL: {reason}")]
    BadHostOrPort {
        /// The URL as given.
        url: String,
        /// Which of those it is.
        reason: &'static str,
    },
    /// TLS options were given with an `http://` (h2c) URL, where they would be ignored.
    #[error("TLS options were given for {url}, which is not an https:// endpoint")]
    TlsOnPlainUrl {
        /// The URL as given.
        url: String,
    },
    /// A TLS file or option cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsFileError),
}

/// The host and port of an `http(s)://` URL, checked before anything is sent: a URL
/// without a host, or with a port outside 1..=65535, is a usage error rather than a
/// connection that fails.
fn check_authority(url: &str) -> Result<(), EndpointError> {
    let bad = |reason| EndpointError::BadHostOrPort { url: url.to_owned(), reason };
    let uri: http::Uri = url.parse().map_err(|_| bad("not a URL"))?;
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    if authority.host().is_empty() {
        return Err(bad("no host"));
    }
    let text = authority.as_str();
    // After an IPv6 literal's `]`, or after the last `:` of anything else.
    let port = match text.rfind(']') {
        Some(end) => text[end + 1..].strip_prefix(':'),
        None => text.rsplit_once(':').map(|(_, p)| p),
    };
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(0) | Err(_) => return Err(bad("the port must be 1 to 65535")),
            Ok(_) => {}
        }
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(bad("an endpoint URL has no path (gRPC chooses it per call)"));
    }
    Ok(())
}

impl Endpoint {
    /// `url` is `http://` (h2c) or `https://` (TLS with `tls`, whose files are read now).
    pub fn new(
        url: &str,
        tls: &TlsOptions,
        metadata: Metadata,
        timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<Endpoint, EndpointError> {
        let https = url.starts_with("https://");
        if !https && !url.starts_with("http://") {
            return Err(EndpointError::BadUrl { url: url.to_owned() });
        }
        check_authority(url)?;
        if !https && tls.any() {
            return Err(EndpointError::TlsOnPlainUrl { url: url.to_owned() });
        }
        let tls = if https { Some(tls.load()?) } else { None };
        Ok(Endpoint { url: url.to_owned(), timeout, connect_timeout, tls, metadata })
    }

    /// The URL as given to [`Endpoint::new`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A connection to this endpoint as a tonic channel (the same connection path as
    /// [`Client::connect`]), for forwarding HTTP/2 requests unchanged.
    pub async fn channel(&self) -> Result<tonic::transport::Channel, ConnectError> {
        transport::connect(self).await
    }

    /// Puts this endpoint's metadata (fixed headers, the bearer token) into `headers`,
    /// replacing any values already there under the same names.
    pub async fn apply_metadata(&self, headers: &mut http::HeaderMap) -> Result<(), TokenError> {
        let mut map = tonic::metadata::MetadataMap::new();
        self.metadata.apply(&mut map).await?;
        let ours = map.into_headers();
        for name in ours.keys() {
            headers.remove(name);
        }
        for (name, value) in &ours {
            headers.append(name.clone(), value.clone());
        }
        Ok(())
    }
}

/// A connected GREP11 client with its per-call deadline, metadata and wire generation.
#[derive(Clone)]
pub struct Client {
    inner: Inner,
    /// The connection under `Inner::Direct`, for requests sent already encoded
    /// (`prepared`).
    direct: Option<Direct>,
    wire: Wire,
    timeout: Duration,
    metadata: Metadata,
}

/// tonic's client over either transport, carrying protobuf bytes (`codec`).
#[derive(Clone)]
enum Inner {
    Channel(Grpc<tonic::transport::Channel>),
    Direct(Grpc<Direct>),
}

/// tonic's client with the interface's message size limits.
fn limited<T>(transport: T) -> Grpc<T> {
    Grpc::new(transport)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

/// Sends one unary request of `rpc` (its protobuf bytes) and returns the response's.
async fn unary<T>(
    grpc: &Grpc<T>,
    rpc: crate::rpc::Rpc,
    request: tonic::Request<bytes::Bytes>,
) -> Result<bytes::Bytes, tonic::Status>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let mut grpc = grpc.clone();
    grpc.ready().await.map_err(|e| tonic::Status::from_error(e.into()))?;
    let path = http::uri::PathAndQuery::from_static(rpc.path());
    Ok(grpc.unary(request, path, codec::Raw).await?.into_inner())
}

impl Client {
    /// A client over a tonic channel you built (for example [`in_memory_channel`]), with
    /// `timeout` as each call's deadline and no metadata until [`Client::with_metadata`].
    pub fn new(channel: tonic::transport::Channel, wire: Wire, timeout: Duration) -> Client {
        Client {
            inner: Inner::Channel(limited(channel)),
            direct: None,
            wire,
            timeout,
            metadata: Metadata::default(),
        }
    }

    /// A client over a [`Direct`] connection: the load generator's lean path.
    pub fn direct(connection: Direct, wire: Wire, timeout: Duration) -> Client {
        Client {
            inner: Inner::Direct(limited(connection.clone())),
            direct: Some(connection),
            wire,
            timeout,
            metadata: Metadata::default(),
        }
    }

    /// Opens one connection to `endpoint`, failing within its connect timeout when the
    /// endpoint does not complete TCP, TLS and HTTP/2 by then.
    pub async fn connect(endpoint: &Endpoint, wire: Wire) -> Result<Client, ConnectError> {
        let channel = transport::connect(endpoint).await?;
        Ok(Client::new(channel, wire, endpoint.timeout).with_metadata(endpoint.metadata.clone()))
    }

    /// Opens one connection to `endpoint` for throughput: a [`Direct`] connection for h2c,
    /// where the task hops of tonic's `Channel` would cost more CPU than the call; TLS
    /// endpoints go through [`Client::connect`].
    pub async fn connect_lean(endpoint: &Endpoint, wire: Wire) -> Result<Client, ConnectError> {
        if endpoint.tls.is_some() {
            return Client::connect(endpoint, wire).await;
        }
        let direct = Direct::connect(&endpoint.url, endpoint.timeout, endpoint.connect_timeout).await?;
        Ok(Client::direct(direct, wire, endpoint.timeout).with_metadata(endpoint.metadata.clone()))
    }

    /// The same client sending `metadata` with every call.
    pub fn with_metadata(self, metadata: Metadata) -> Client {
        Client { metadata, ..self }
    }

    /// The wire generation requests are built in.
    pub fn wire(&self) -> Wire {
        self.wire
    }

    /// The same connection speaking another wire generation.
    pub fn with_wire(self, wire: Wire) -> Client {
        Client { wire, ..self }
    }

    /// Sends one attempt of `rpc` on this client's transport.
    async fn unary(
        &self,
        rpc: crate::rpc::Rpc,
        request: tonic::Request<bytes::Bytes>,
    ) -> Result<bytes::Bytes, tonic::Status> {
        match &self.inner {
            Inner::Channel(grpc) => unary(grpc, rpc, request).await,
            Inner::Direct(grpc) => unary(grpc, rpc, request).await,
        }
    }

    /// A call's attempts: a tonic `Channel` reconnects after a lost connection, and so
    /// does a [`Direct`] connection made from a URL.
    fn attempts(&self) -> retry::Attempts {
        retry::Attempts::new(self.direct.as_ref().is_none_or(Direct::reconnects))
    }

    /// After an attempt that ended in `status`: returns `Ok`, after the wait asked for,
    /// when the call is to be sent again before `deadline` (`retry`), otherwise the call's
    /// error.
    async fn after_refusal(
        &self,
        status: tonic::Status,
        deadline: std::time::Instant,
        attempts: &mut retry::Attempts,
    ) -> Result<(), CallError> {
        match attempts.next(&status, deadline) {
            retry::Next::Retry(wait) => {
                tokio::time::sleep(wait).await;
                Ok(())
            }
            retry::Next::Resend => Ok(()),
            retry::Next::Final => Err(self.failure(status)),
            retry::Next::Misused(why) => Err(CallError::RetryMisused(why)),
        }
    }

    /// What a call that ended in `status` reports: no answer (with the deadline named when
    /// that is what passed), a refusal of the credentials, or the endpoint's failure.
    fn failure(&self, status: tonic::Status) -> CallError {
        match failure::classify(&status) {
            // tonic's own text ("Timeout expired") does not say which deadline.
            Some(mut no_answer) if no_answer.kind == NoAnswerKind::DeadlineExceeded => {
                no_answer.detail = format!("no answer within {:?} ({})", self.timeout, no_answer.detail);
                CallError::NoAnswer(no_answer)
            }
            Some(no_answer) => CallError::NoAnswer(no_answer),
            None => status_error(&status),
        }
    }

    /// The one place requests are built: deadline, headers, bearer token.
    async fn request<T>(&self, message: T) -> Result<tonic::Request<T>, CallError> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        self.metadata
            .apply(request.metadata_mut())
            .await
            .map_err(|e| CallError::Auth(AuthFailure::Token(e)))?;
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs11::CKR_SIGNATURE_INVALID;
    use crate::status::{Grep11Failure, to_status};

    #[test]
    fn a_refusal_of_credentials_is_an_auth_failure_not_a_pkcs11_result() {
        let err = status_error(&tonic::Status::permission_denied("instance not allowed"));
        assert_eq!(
            err,
            CallError::Auth(AuthFailure::Refused {
                code: tonic::Code::PermissionDenied,
                message: "instance not allowed".into()
            })
        );
        assert_eq!(
            err.to_string(),
            "the endpoint refused the credentials (PERMISSION_DENIED): instance not allowed"
        );
        let err = status_error(&tonic::Status::unauthenticated("token expired"));
        assert!(
            err.to_string().starts_with("the endpoint refused the credentials (UNAUTHENTICATED)"),
            "{err}"
        );
        // A status that carries a Grep11Error is a PKCS #11 answer whatever its code.
        let rv = Grep11Failure { rv: CKR_SIGNATURE_INVALID, detail: String::new(), retry: false };
        let mut status = to_status(&rv);
        status =
            tonic::Status::with_details(tonic::Code::Unauthenticated, "x", status.details().to_vec().into());
        assert_eq!(status_error(&status), CallError::Failed(CallFailure::Pkcs11(rv)));
        assert!(matches!(
            status_error(&tonic::Status::unavailable("down")),
            CallError::Failed(CallFailure::Transport { .. })
        ));
    }

    #[test]
    fn an_endpoint_url_and_its_tls_options_are_checked_before_connecting() {
        let new = |url: &str, tls: &TlsOptions| {
            Endpoint::new(url, tls, Metadata::default(), Duration::from_secs(1), Duration::from_secs(1))
        };
        assert!(matches!(new("127.0.0.1:9876", &TlsOptions::default()), Err(EndpointError::BadUrl { .. })));
        let named = TlsOptions { server_name: Some("grep11.internal".into()), ..Default::default() };
        assert!(matches!(new("http://127.0.0.1:9876", &named), Err(EndpointError::TlsOnPlainUrl { .. })));
        assert!(new("http://127.0.0.1:9876", &TlsOptions::default()).is_ok());
        for url in ["http://", "http://127.0.0.1:99999", "http://127.0.0.1:0", "https://:443", "http://h/x"] {
            assert!(
                matches!(new(url, &TlsOptions::default()), Err(EndpointError::BadHostOrPort { .. })),
                "{url}"
            );
        }
        let bad_name = TlsOptions { server_name: Some("not a name!".into()), ..Default::default() };
        let err = new("https://127.0.0.1:9876", &bad_name).err().unwrap();
        // Without system roots the first complaint is that nothing is trusted.
        assert!(
            matches!(err, EndpointError::Tls(TlsFileError::BadServerName { .. } | TlsFileError::NoRoots)),
            "{err:?}"
        );
    }
}
