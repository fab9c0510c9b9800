//! A lean transport for throughput: tonic's generated client over one bare `h2`
//! connection. tonic's `Channel` puts a request buffer (a queue and a worker task),
//! reconnection and several layers in front of hyper, which adds its own dispatch task
//! and a task per request body; on the load generator's hot path those task hops cost
//! more CPU than the call itself. Here a call opens a stream on the connection from the
//! calling task and nothing else.
//!
//! It does not reconnect: once the connection is lost, its calls fail (as `UNAVAILABLE`
//! or `UNKNOWN` with h2's reason), which a load run counts as errors. Plain h2c and
//! in-process pipes only; TLS endpoints go through the `Channel`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::uri::{Authority, Scheme};
use http_body::{Body as _, Frame};
use tokio::io::{AsyncRead, AsyncWrite};

use super::transport::{ConnectError, error_chain};
use crate::rpc::{FRAME_PREFIX_LEN, read_frame_prefix};

pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Cancelled streams whose late frames are still recognised (see `Direct::over`).
const MAX_REMEMBERED_RESETS: usize = 65_536;

/// How long cancelled streams are remembered (see `Direct::over`).
const REMEMBER_RESETS_FOR: Duration = Duration::from_secs(60);

/// Framing overhead h2 may hold for unread small DATA frames (see `Direct::over`).
const SMALL_FRAME_BUDGET: usize = 64 * 1024 * 1024;

/// One HTTP/2 connection; clones share it.
#[derive(Clone)]
pub struct Direct {
    send: h2::client::SendRequest<Bytes>,
    scheme: Scheme,
    authority: Authority,
    timeout: Duration,
}

impl Direct {
    /// Connects to an `http://host:port` URL.
    pub async fn connect(
        url: &str,
        timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<Direct, ConnectError> {
        let bad = |reason: String| ConnectError::BadUrl { url: url.to_owned(), reason };
        let uri: http::Uri = url.parse().map_err(|e: http::uri::InvalidUri| bad(e.to_string()))?;
        if uri.scheme() != Some(&Scheme::HTTP) {
            return Err(bad("the direct transport speaks h2c (http://) only".into()));
        }
        let authority = uri.authority().cloned().ok_or_else(|| bad("no host".into()))?;
        let port = authority.port_u16().unwrap_or(80);
        let unreachable = |reason: String| ConnectError::Unreachable { url: url.to_owned(), reason };
        let handshake = async {
            let tcp = tokio::net::TcpStream::connect((authority.host(), port))
                .await
                .map_err(|e| unreachable(error_chain(&e)))?;
            tcp.set_nodelay(true).map_err(|e| unreachable(error_chain(&e)))?;
            Direct::over(tcp, authority.clone(), timeout).await.map_err(|e| unreachable(error_chain(&*e)))
        };
        match tokio::time::timeout(connect_timeout, handshake).await {
            Ok(result) => result,
            Err(_) => Err(ConnectError::Timeout { url: url.to_owned(), timeout: connect_timeout }),
        }
    }

    /// An HTTP/2 client connection over `io`; the connection runs in a task of its own
    /// until both ends are dropped or the peer closes.
    pub async fn over<T>(io: T, authority: Authority, timeout: Duration) -> Result<Direct, BoxError>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // Windows as large as tonic's defaults, so a 64 KiB payload is not held back by
        // flow control.
        let (send, mut connection) = h2::client::Builder::new()
            .initial_window_size(2 * 1024 * 1024)
            .initial_connection_window_size(4 * 1024 * 1024)
            // A load run above capacity cancels many calls at their deadline. h2 remembers
            // only 10 cancelled streams by default: the answers to the others then arrive
            // on streams it has forgotten, each of which it resets as a protocol error, and
            // after 1,024 of those it closes the connection ("too_many_internal_resets"),
            // failing every later call. Remembering as many as can be in flight keeps the
            // late answers harmless.
            .max_concurrent_reset_streams(MAX_REMEMBERED_RESETS)
            // ... and for as long as a late answer can come (1 s by default: an overloaded
            // endpoint answers seconds late). Answers that still arrive on a forgotten
            // stream are reset as protocol errors, and h2 closes the connection after
            // 1,024 of those; the limit guards a server against clients forcing resets,
            // while this connection's peer is the endpoint under test and a run is bounded
            // in time, so it is lifted.
            .reset_stream_duration(REMEMBER_RESETS_FOR)
            .max_local_error_reset_streams(None)
            // Each small DATA frame not yet read counts against a budget of half the
            // connection window by default: a load generator behind on reading answers
            // (above its capacity) exhausted it and h2 closed the connection
            // ("too_many_data_frames"). This budget covers a window full of the smallest
            // gRPC answers.
            .data_frame_budget(SMALL_FRAME_BUDGET)
            .handshake::<_, Bytes>(io)
            .await?;
        let ping = connection.ping_pong();
        tokio::spawn(async move {
            // A connection error surfaces on every call still using it.
            let _ = connection.await;
        });
        // The handshake above only sends the client's preface; a PING answered proves the
        // peer speaks HTTP/2 (the caller bounds the wait with its connect timeout).
        if let Some(mut ping) = ping {
            ping.ping(h2::Ping::opaque()).await?;
        }
        Ok(Direct { send, scheme: Scheme::HTTP, authority, timeout })
    }
}

/// How a unary call sent by [`Direct::status_only`] ended.
pub(super) enum StatusOnly {
    /// grpc-status 0, with one whole gRPC message in the body.
    Ok,
    /// Any other grpc-status, or an answer without one: the status as tonic would decode it.
    Refused(tonic::Status),
    /// Answered, but not as gRPC allows (why).
    Malformed(String),
}

impl Direct {
    /// The full URI h2 needs for `path`: its scheme and authority are this connection's.
    pub(super) fn uri(&self, path: &str) -> Result<http::Uri, http::Error> {
        http::Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path)
            .build()
    }

    /// Sends one unary request whose body is `frame` and reads only how it ended: the
    /// grpc-status (from the trailers, or the headers of a trailers-only answer) and
    /// whether the body was one whole uncompressed message, whose bytes are counted and
    /// dropped. Ends with a deadline error at `deadline`.
    pub(super) async fn status_only(
        &self,
        head: http::Request<()>,
        frame: Bytes,
        deadline: std::time::Instant,
    ) -> Result<StatusOnly, BoxError> {
        let mut send = self.send.clone().ready().await?;
        let (response, mut stream) = send.send_request(head, false)?;
        let exchange = async move {
            stream.send_data(frame, true)?;
            let response = response.await?;
            if response.status() != http::StatusCode::OK {
                return Ok(StatusOnly::Malformed(format!(
                    "HTTP status {} instead of 200",
                    response.status()
                )));
            }
            // A trailers-only answer: the status is in the headers and there is no body.
            if let Some(status) = tonic::Status::from_header_map(response.headers()) {
                return Ok(match status.code() {
                    tonic::Code::Ok => StatusOnly::Malformed("grpc-status 0 without a message".into()),
                    _ => StatusOnly::Refused(status),
                });
            }
            let mut body = response.into_body();
            let mut received = 0usize;
            let mut prefix = [0u8; FRAME_PREFIX_LEN];
            while let Some(data) = body.data().await {
                let data = data?;
                let _ = body.flow_control().release_capacity(data.len());
                for (i, byte) in data.iter().take(FRAME_PREFIX_LEN.saturating_sub(received)).enumerate() {
                    prefix[received + i] = *byte;
                }
                received += data.len();
            }
            let trailers = body.trailers().await?.unwrap_or_default();
            let Some(status) = tonic::Status::from_header_map(&trailers) else {
                return Ok(StatusOnly::Refused(tonic::Status::unknown(
                    "the answer ended without a grpc-status",
                )));
            };
            if status.code() != tonic::Code::Ok {
                return Ok(StatusOnly::Refused(status));
            }
            let (flag, length) = read_frame_prefix(&prefix);
            Ok(match (received, flag) {
                (0, _) => StatusOnly::Malformed("grpc-status 0 without a message".into()),
                (1..FRAME_PREFIX_LEN, _) => {
                    StatusOnly::Malformed(format!("a body of {received} bytes, shorter than a gRPC frame"))
                }
                (_, 0) if received == FRAME_PREFIX_LEN + length => StatusOnly::Ok,
                (_, 0) => StatusOnly::Malformed(format!(
                    "a body of {received} bytes for a gRPC message of {length} (one message expected)"
                )),
                (_, flag) => {
                    StatusOnly::Malformed(format!("a message with compression flag {flag}, none asked for"))
                }
            })
        };
        match tokio::time::timeout_at(deadline.into(), exchange).await {
            Ok(result) => result,
            Err(_) => Err(BoxError::from(tonic::TimeoutExpired(()))),
        }
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for Direct {
    type Response = http::Response<Received>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.send.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let (mut head, body) = request.into_parts();
        // tonic hands over a path-only URI; h2 needs the scheme and authority for the
        // request's pseudo-headers.
        let mut uri = http::uri::Parts::default();
        uri.scheme = Some(self.scheme.clone());
        uri.authority = Some(self.authority.clone());
        uri.path_and_query = head.uri.path_and_query().cloned();
        let sent = http::Uri::from_parts(uri).map_err(BoxError::from).and_then(|uri| {
            head.uri = uri;
            // `poll_ready` was called on this handle, as h2 requires before a send.
            self.send.send_request(http::Request::from_parts(head, ()), false).map_err(BoxError::from)
        });
        let timeout = self.timeout;
        Box::pin(async move {
            let (response, mut stream) = sent?;
            let exchange = async move {
                stream.send_data(collect(body).await?, true)?;
                let response = response.await?;
                Ok::<_, BoxError>(response.map(Received))
            };
            match tokio::time::timeout(timeout, exchange).await {
                Ok(result) => result,
                // tonic's own deadline error, so the call is reported like one over a Channel.
                Err(_) => Err(BoxError::from(tonic::TimeoutExpired(()))),
            }
        })
    }
}

/// A unary request body is one encoded message, usually in one frame: no copy then.
async fn collect(mut body: tonic::body::Body) -> Result<Bytes, BoxError> {
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let Ok(data) = frame?.into_data() else { continue };
        match &first {
            None => first = Some(data),
            Some(f) => {
                if rest.is_empty() {
                    rest.extend_from_slice(f);
                }
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(if rest.is_empty() { first.unwrap_or_default() } else { rest.freeze() })
}

/// A response body straight from the h2 stream; what is read is handed back to the
/// connection's flow-control window at once.
pub struct Received(h2::RecvStream);

impl http_body::Body for Received {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        let stream = &mut self.0;
        match ready!(stream.poll_data(cx)) {
            Some(Ok(data)) => {
                // Only fails when the stream is already gone, which the next poll reports.
                let _ = stream.flow_control().release_capacity(data.len());
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e))),
            None => match ready!(stream.poll_trailers(cx)) {
                Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
                Ok(None) => Poll::Ready(None),
                Err(e) => Poll::Ready(Some(Err(e))),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Args, CallError, Client, Wire};
    use crate::rpc::Rpc;
    use crate::status::CallFailure;

    /// A peer that completes HTTP/2 and accepts streams but never answers: the call must
    /// end at its deadline with DEADLINE_EXCEEDED, not hang.
    #[tokio::test]
    async fn a_silent_endpoint_fails_at_the_deadline() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut connection = h2::server::handshake(tcp).await.unwrap();
            let mut held = Vec::new();
            while let Some(Ok(stream)) = connection.accept().await {
                held.push(stream);
            }
        });
        let timeout = Duration::from_millis(300);
        let direct = Direct::connect(&url, timeout, Duration::from_secs(2)).await.unwrap();
        let client = Client::direct(direct, Wire::Keyblob, timeout);
        let started = std::time::Instant::now();
        let answer = client.call(Rpc::GetMechanismList, &Args::default()).await;
        let Err(CallError::NoAnswer(no_answer)) = answer else {
            panic!("expected no answer, got {answer:?}")
        };
        assert_eq!(no_answer.kind, crate::client::NoAnswerKind::DeadlineExceeded, "{no_answer}");
        assert!(no_answer.detail.contains("no answer within 300ms"), "{no_answer}");
        assert!(started.elapsed() < Duration::from_secs(5));
        server.abort();
    }

    #[tokio::test]
    async fn nothing_listening_is_unreachable_and_tls_urls_are_not_taken() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let second = Duration::from_secs(1);
        assert!(matches!(Direct::connect(&url, second, second).await, Err(ConnectError::Unreachable { .. })));
        assert!(matches!(
            Direct::connect("https://127.0.0.1:1", second, second).await,
            Err(ConnectError::BadUrl { .. })
        ));
    }

    /// A peer that answers every stream as `answer` says: the response head, then (unless
    /// the head is trailers-only) the body and the trailers.
    /// A response head, and the body and trailers after it unless the head ends the stream.
    type Answer = (http::Response<()>, Option<(Bytes, http::HeaderMap)>);

    async fn answering(answer: fn() -> Answer) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut connection = h2::server::handshake(tcp).await.unwrap();
            while let Some(Ok((_, mut respond))) = connection.accept().await {
                let (head, rest) = answer();
                let mut send = respond.send_response(head, rest.is_none()).unwrap();
                if let Some((body, trailers)) = rest {
                    send.send_data(body, false).unwrap();
                    send.send_trailers(trailers).unwrap();
                }
            }
        });
        url
    }

    fn grpc_ok() -> http::Response<()> {
        http::Response::builder().header("content-type", "application/grpc").body(()).unwrap()
    }

    fn status(code: &str) -> http::HeaderMap {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", code.parse().unwrap());
        trailers
    }

    async fn send_encoded_to(url: &str) -> Result<(), CallError> {
        let second = Duration::from_secs(2);
        let client =
            Client::direct(Direct::connect(url, second, second).await.unwrap(), Wire::Keyblob, second);
        let encoded = client.encoded(Rpc::GenerateRandom, &[0x08, 0x20]).expect("a direct client encodes");
        client.send_encoded(&encoded).await
    }

    /// An encoded request's answer is judged by its status, and its body must still be one
    /// whole uncompressed gRPC message.
    #[tokio::test]
    async fn an_encoded_request_is_judged_by_status_and_framing() {
        let whole = || (grpc_ok(), Some((Bytes::from_static(&[0, 0, 0, 0, 2, 8, 1]), status("0"))));
        assert_eq!(send_encoded_to(&answering(whole).await).await, Ok(()));

        let short = || (grpc_ok(), Some((Bytes::from_static(&[0, 0, 0, 0, 9, 8, 1]), status("0"))));
        let Err(CallError::BadResponse(why)) = send_encoded_to(&answering(short).await).await else {
            panic!("a truncated message was taken")
        };
        assert!(why.contains("7 bytes for a gRPC message of 9"), "{why}");

        let compressed = || (grpc_ok(), Some((Bytes::from_static(&[1, 0, 0, 0, 2, 8, 1]), status("0"))));
        let Err(CallError::BadResponse(why)) = send_encoded_to(&answering(compressed).await).await else {
            panic!("a compressed message was taken")
        };
        assert!(why.contains("compression flag 1"), "{why}");

        let empty = || (grpc_ok(), Some((Bytes::new(), status("0"))));
        assert!(matches!(send_encoded_to(&answering(empty).await).await, Err(CallError::BadResponse(_))));

        let no_status = || (grpc_ok(), Some((Bytes::from_static(&[0, 0, 0, 0, 0]), http::HeaderMap::new())));
        let answer = send_encoded_to(&answering(no_status).await).await;
        assert!(
            matches!(
                &answer,
                Err(CallError::Failed(CallFailure::Transport { code: tonic::Code::Unknown, .. }))
            ),
            "{answer:?}"
        );

        // Trailers-only: the status is in the head.
        let refused = || {
            let mut head = grpc_ok();
            head.headers_mut().insert("grpc-status", "14".parse().unwrap());
            (head, None)
        };
        let answer = send_encoded_to(&answering(refused).await).await;
        assert!(
            matches!(
                &answer,
                Err(CallError::Failed(CallFailure::Transport { code: tonic::Code::Unavailable, .. }))
            ),
            "{answer:?}"
        );

        let not_found = || (http::Response::builder().status(404).body(()).unwrap(), None);
        let Err(CallError::BadResponse(why)) = send_encoded_to(&answering(not_found).await).await else {
            panic!("an HTTP 404 was taken")
        };
        assert!(why.contains("HTTP status 404"), "{why}");
    }

    /// The embedded emulator over a direct connection answers like over the Channel.
    #[tokio::test]
    async fn the_embedded_emulator_answers_over_a_direct_connection() {
        let second = Duration::from_secs(5);
        let client = crate::embedded::direct_clients(1, Wire::Keyblob, second).await.unwrap().remove(0);
        let mut args = Args::default();
        args.0.insert("len", crate::client::Arg::Uint(48));
        let fields = client.call(Rpc::GenerateRandom, &args).await.unwrap();
        assert!(matches!(fields.get("Rnd"), Some(crate::client::Value::Bytes(b)) if b.len() == 48));
        // A PKCS #11 refusal arrives decoded, over the same connection.
        args.0.insert("len", crate::client::Arg::Uint(u64::MAX));
        let refused = client.call(Rpc::GenerateRandom, &args).await;
        assert!(matches!(refused, Err(CallError::Failed(CallFailure::Pkcs11(_)))), "{refused:?}");
        // The same two requests sent already encoded: the same judgement.
        use prost::Message as _;
        let random = |len| {
            client.encoded(Rpc::GenerateRandom, &crate::proto::GenerateRandomRequest { len }.encode_to_vec())
        };
        assert_eq!(client.send_encoded(&random(48).unwrap()).await, Ok(()));
        assert_eq!(client.send_encoded(&random(u64::MAX).unwrap()).await, refused.map(|_| ()));
    }
}
