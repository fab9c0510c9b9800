//! Connections: h2c or TLS to a URL, or an in-memory HTTP/2 connection to a service in
//! this process; as a tonic `Channel`, or as the load generator's [`Direct`] connection.

use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::DuplexStream;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::service::Routes;
use tonic::transport::{Channel, Endpoint};

use super::direct::Direct;

/// Why no connection was made: nothing was sent on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL cannot be connected to as written.
    #[error("{url:?} is not a valid endpoint URL: {reason}")]
    BadUrl {
        /// The endpoint URL as given.
        url: String,
        /// What the URI parser or the connector said.
        reason: String,
    },
    /// TCP or HTTP/2 failed: refused, unreachable, or a peer that does not speak HTTP/2
    /// (with a hint when an `http://` URL reached a TLS port).
    #[error("cannot connect to {url}: {reason}")]
    Unreachable {
        /// The endpoint URL as given (`embedded emulator` for the in-memory one).
        url: String,
        /// The error chain in one line.
        reason: String,
    },
    /// TCP, TLS and HTTP/2 were not all complete within the connect timeout.
    #[error("no connection to {url} within {timeout:?}")]
    Timeout {
        /// The endpoint URL as given.
        url: String,
        /// The connect timeout that passed.
        timeout: Duration,
    },
    /// The TCP connection was made but TLS was not established.
    #[error("TLS handshake with {url} failed: {reason}")]
    Tls {
        /// The endpoint URL as given.
        url: String,
        /// Why the handshake failed, in words (an unknown CA, a name mismatch, an alert).
        reason: String,
    },
}

/// One HTTP/2 connection to `endpoint`: h2c for `http://`, TLS for `https://`. Fails within
/// the connect timeout (plus a little) when the endpoint does not complete TCP, TLS and
/// the HTTP/2 preface by then.
pub(super) async fn connect(endpoint: &super::Endpoint) -> Result<Channel, ConnectError> {
    let url = endpoint.url.as_str();
    let connect_timeout = endpoint.connect_timeout;
    let bad = |reason: String| ConnectError::BadUrl { url: url.to_owned(), reason };
    let mut channel = Endpoint::from_shared(url.to_owned())
        .map_err(|e| bad(e.to_string()))?
        .connect_timeout(connect_timeout)
        .timeout(endpoint.timeout)
        .tcp_nodelay(true);
    // The first connection is bounded by the outer timeout below, which says what happened;
    // the handshake's own bound, a little longer, covers reconnections later on.
    if let Some(tls) = &endpoint.tls {
        channel = channel
            .tls_config(tls.config(connect_timeout + Duration::from_secs(1)))
            .map_err(|e| ConnectError::Tls { url: url.to_owned(), reason: error_chain(&e) })?;
    }
    let tls = endpoint.tls.is_some();
    let failed = |e: &(dyn std::error::Error + 'static)| match super::tls::handshake_failure(e) {
        Some(reason) => ConnectError::Tls { url: url.to_owned(), reason },
        None => ConnectError::Unreachable { url: url.to_owned(), reason: super::tls::scheme_hint(e, tls) },
    };
    // tonic's connect timeout bounds the TCP handshake only, and an h2c connection is
    // ready once the client's preface is sent. Over TLS the handshake (bounded above, ALPN
    // h2) shows the peer is there; over h2c a PING answered on a probe connection shows the
    // peer speaks HTTP/2. Neither makes a gRPC call, so an endpoint that speaks HTTP/2 but
    // answers calls wrongly (or never) is judged call by call, not refused here.
    let connected = async {
        if !tls {
            probe_h2c(url).await.map_err(|e| failed(&*e))?;
        }
        channel.connect().await.map_err(|e| failed(&e))
    };
    match tokio::time::timeout(connect_timeout + Duration::from_millis(500), connected).await {
        Ok(result) => result,
        Err(_) => Err(ConnectError::Timeout { url: url.to_owned(), timeout: connect_timeout }),
    }
}

/// One throwaway h2c connection to `url` that sends the client preface and waits for the
/// peer's answer to a PING: proof that it speaks HTTP/2 (the caller bounds the wait).
async fn probe_h2c(url: &str) -> Result<(), super::direct::BoxError> {
    let uri: http::Uri = url.parse()?;
    let authority = uri.authority().cloned().ok_or("the URL names no host")?;
    let tcp = tokio::net::TcpStream::connect((authority.host(), authority.port_u16().unwrap_or(80))).await?;
    Direct::over(tcp, authority, Duration::from_secs(1)).await?;
    Ok(())
}

/// An error and its sources as one line, skipping a source whose text its parent repeats.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// A channel to `routes` served in this process over in-memory duplex pipes: real HTTP/2
/// and protobuf encoding, no socket. Each connection the channel opens gets its own pipe.
/// Must be called within a tokio runtime; the server task ends when the channel is dropped.
pub fn in_memory_channel(routes: Routes) -> Channel {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Result<DuplexStream, std::io::Error>>();
    tokio::spawn(async move {
        let served = crate::serving::server()
            .add_routes(routes)
            .serve_with_incoming(UnboundedReceiverStream::new(rx))
            .await;
        if let Err(e) = served {
            eprintln!("grep11-harness: embedded emulator stopped: {e}");
        }
    });
    // The URI is never resolved: the connector below makes the connection.
    Endpoint::from_static("http://embedded.emulator").connect_with_connector_lazy(tower::service_fn(
        move |_: tonic::transport::Uri| {
            let tx = tx.clone();
            async move {
                let (client, server) = tokio::io::duplex(256 * 1024);
                tx.send(Ok(server)).map_err(|_| std::io::Error::other("embedded emulator has stopped"))?;
                Ok::<_, std::io::Error>(TokioIo::new(client))
            }
        },
    ))
}

/// A [`Direct`] connection to `routes` served in this process over an in-memory pipe.
/// Must be called within a tokio runtime; the server task ends with the connection.
pub async fn in_memory_direct(routes: Routes, timeout: Duration) -> Result<Direct, ConnectError> {
    let (client, server) = tokio::io::duplex(256 * 1024);
    tokio::spawn(async move {
        // The server keeps serving the one connection after its incoming stream ends.
        let incoming = tokio_stream::once(Ok::<_, std::io::Error>(server));
        if let Err(e) = crate::serving::server().add_routes(routes).serve_with_incoming(incoming).await {
            eprintln!("grep11-harness: embedded emulator stopped: {e}");
        }
    });
    Direct::over(client, http::uri::Authority::from_static("embedded.emulator"), timeout)
        .await
        .map_err(|e| ConnectError::Unreachable { url: "embedded emulator".into(), reason: error_chain(&*e) })
}
