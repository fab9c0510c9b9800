//! The forwarding itself: an HTTP/2 server on the listening socket whose every request is
//! sent on, as it is, over one upstream channel (see the module above for why bytes and
//! not messages), and the recording the taps feed.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tonic::body::Body;
use tonic::transport::Channel;
use tower::{Service, ServiceExt};

use super::tee::{Capture, Side, Tee};
use crate::client::Endpoint;

/// What one call carried, as bytes: enough to decode it later.
#[derive(Debug, Default)]
pub struct Exchange {
    /// `/grep11.Crypto/Name`
    pub path: String,
    /// The request body (gRPC-framed).
    pub request: Vec<u8>,
    /// The response body (gRPC-framed).
    pub response: Vec<u8>,
    /// From the trailers, or the headers of a trailers-only answer; `None`: cut off.
    pub status: Option<tonic::Status>,
}

/// The calls recorded so far, in the order their answers ended.
pub struct Recording {
    calls: Mutex<Vec<Exchange>>,
    seen: AtomicUsize,
    max_calls: Option<usize>,
    full: Notify,
}

impl Recording {
    /// An empty recording that keeps at most `max_calls` calls (all when `None`).
    pub fn new(max_calls: Option<usize>) -> Arc<Recording> {
        Arc::new(Recording {
            calls: Mutex::new(Vec::new()),
            seen: AtomicUsize::new(0),
            max_calls,
            full: Notify::new(),
        })
    }

    pub(super) fn push(&self, exchange: Exchange) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(exchange);
        }
        let seen = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        if self.max_calls == Some(seen) {
            self.full.notify_one();
        }
    }

    /// Resolves once `max_calls` calls have been recorded (never without a bound).
    pub async fn full(&self) {
        if self.max_calls.is_none() {
            std::future::pending::<()>().await;
        }
        self.full.notified().await;
    }

    /// Every call recorded so far.
    pub fn take(&self) -> Vec<Exchange> {
        self.calls.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default()
    }
}

/// Forwards requests to one upstream.
#[derive(Clone)]
pub struct Proxy {
    channel: Channel,
    upstream: Arc<Endpoint>,
    recording: Option<Arc<Recording>>,
}

/// How long calls in flight may finish once the proxy is told to stop.
const GRACE: Duration = Duration::from_secs(5);

impl Proxy {
    /// `channel` is a connection to `upstream` (`Endpoint::channel`); `recording`, when
    /// given, receives every call that completes.
    pub fn new(channel: Channel, upstream: Endpoint, recording: Option<Arc<Recording>>) -> Proxy {
        Proxy { channel, upstream: Arc::new(upstream), recording }
    }

    /// Serves connections from `listener` until `stop` resolves; then stops accepting,
    /// lets calls in flight finish (a few seconds at most) and returns.
    pub async fn serve(self, listener: TcpListener, stop: impl Future<Output = ()>) {
        let (stopping, stopped) = watch::channel(false);
        let mut connections = tokio::task::JoinSet::new();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                accepted = listener.accept() => {
                    let Ok((tcp, _)) = accepted else { continue };
                    let _ = tcp.set_nodelay(true);
                    let proxy = self.clone();
                    let mut stopped = stopped.clone();
                    connections.spawn(async move {
                        let service = hyper::service::service_fn(move |request| {
                            let proxy = proxy.clone();
                            async move { Ok::<_, Infallible>(proxy.forward(request).await) }
                        });
                        let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                            .max_frame_size(Some(1 << 20))
                            // Cancelled calls under load are not an attack (see serving::server).
                            .max_pending_accept_reset_streams(Some(crate::serving::MAX_PENDING_RESETS))
                            .serve_connection(TokioIo::new(tcp), service);
                        tokio::pin!(connection);
                        tokio::select! {
                            _ = &mut connection => {}
                            _ = stopped.changed() => {
                                connection.as_mut().graceful_shutdown();
                                let _ = tokio::time::timeout(GRACE, connection).await;
                            }
                        }
                    });
                }
            }
        }
        drop(listener);
        let _ = stopping.send(true);
        let _ = tokio::time::timeout(GRACE + Duration::from_secs(1), async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        connections.abort_all();
    }

    /// One request, sent on unchanged but for the upstream flags' metadata.
    async fn forward(&self, request: http::Request<Incoming>) -> http::Response<Body> {
        let (mut parts, body) = request.into_parts();
        if let Err(e) = self.upstream.apply_metadata(&mut parts.headers).await {
            return tonic::Status::unauthenticated(format!("proxy: no bearer token for the upstream: {e}"))
                .into_http();
        }
        let capture = self.recording.as_ref().map(|r| Capture::new(r.clone(), parts.uri.path().to_owned()));
        let request =
            http::Request::from_parts(parts, Body::new(Tee::new(body, capture.clone(), Side::Request)));
        let mut channel = self.channel.clone();
        let answer = match channel.ready().await {
            Ok(ready) => ready.call(request).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(response) => {
                let (parts, body) = response.into_parts();
                if let Some(capture) = &capture
                    && parts.headers.contains_key("grpc-status")
                {
                    capture.with(|e| e.status = tonic::Status::from_header_map(&parts.headers));
                }
                http::Response::from_parts(parts, Body::new(Tee::new(body, capture, Side::Response)))
            }
            Err(e) => {
                // No answer from the upstream: the application sees UNAVAILABLE, and the
                // call is recorded as cut off.
                if let Some(capture) = &capture {
                    capture.finish();
                }
                tonic::Status::unavailable(format!("proxy: upstream {}: {e}", self.upstream.url()))
                    .into_http()
            }
        }
    }
}
