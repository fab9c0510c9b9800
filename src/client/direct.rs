//! A lean transport for throughput: tonic's generated client over one HTTP/2 connection
//! of our own, driven by nghttp2 (`super::nghttp2`). tonic's `Channel` puts a request
//! buffer (a queue and a worker task), reconnection and several layers in front of hyper
//! and `h2`; on the load generator's hot path those cost more CPU than the call itself.
//! Here a call submits its stream from the calling task, one task per connection reads
//! and writes the socket, and a finished stream wakes its caller.
//!
//! A connection made from a URL is made again when the endpoint ends it (a GOAWAY, as an
//! endpoint recycling its connections sends, or a closed socket): the next call dials, one
//! at a time, and the calls caught by the close are re-sent by the client (`retry`). When
//! dialling fails, calls fail with that error (UNAVAILABLE, with the cause) for
//! [`REDIAL_PAUSE`] before the next try, which a load run counts as errors. A connection
//! over a given stream ([`Direct::over`]) is not made again. Plain h2c and in-process
//! pipes only; TLS endpoints go through the `Channel`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::uri::{Authority, Scheme};
use http_body::{Body as _, Frame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use super::nghttp2::{self, Block, Response, Session, Settings};
use super::transport::{ConnectError, error_chain};
use crate::rpc::{FRAME_PREFIX_LEN, read_frame_prefix};

pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Receive windows as large as tonic's defaults, so a 64 KiB payload is not held back by
/// flow control.
const SETTINGS: Settings = Settings { stream_window: 2 * 1024 * 1024, connection_window: 4 * 1024 * 1024 };

/// How much one read takes from the socket.
const READ_CHUNK: usize = 64 * 1024;

/// After a failed dial, how long calls fail with its error before one dials again.
pub const REDIAL_PAUSE: Duration = Duration::from_millis(100);

/// One HTTP/2 connection at a time; clones share it.
#[derive(Clone)]
pub struct Direct {
    link: Arc<Link>,
    scheme: Scheme,
    authority: Authority,
    timeout: Duration,
}

/// The connection the clones of a [`Direct`] share, and how to make the next one.
struct Link {
    current: Mutex<Arc<User>>,
    /// `None` for a connection over a given stream, which cannot be made again.
    redial: Option<Redial>,
}

/// How a lost connection is made again.
struct Redial {
    url: String,
    connect_timeout: Duration,
    /// Held while dialling, so that one call dials and the others wait for its outcome;
    /// holds when the last failed dial ended, and its error.
    last_failure: tokio::sync::Mutex<Option<(Instant, nghttp2::Error)>>,
}

impl Link {
    fn current(&self) -> Arc<User> {
        self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// The connection, as its calls and its driving task share it.
struct Shared {
    state: Mutex<State>,
    /// Wakes the driving task: there is something to write, or the users are gone.
    wake: Notify,
}

struct State {
    session: Session,
    /// Why the connection ended, once it has.
    closed: Option<nghttp2::Error>,
    /// Every `Direct` handle is gone: the task ends once no call is in flight.
    abandoned: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock is never held across a panic that leaves the session inconsistent:
        // nghttp2's callbacks do not panic, and nothing else runs under it.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a request, under the one lock a call takes to start; `None` when no new
    /// stream may start here ([`Shared::refusal`]).
    fn submit<'a>(
        &self,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        body: Bytes,
        keep_body: bool,
    ) -> Result<Option<i32>, nghttp2::Error> {
        let mut state = self.lock();
        if Self::refused(&state).is_some() {
            return Ok(None);
        }
        state.session.submit(fields, body, keep_body).map(Some)
    }

    /// Why no new stream may start here, if none may: the connection ended, or either side
    /// sent GOAWAY.
    fn refused(state: &State) -> Option<nghttp2::Error> {
        match &state.closed {
            Some(e) => Some(e.clone()),
            None if !state.session.accepts_requests() => {
                Some(nghttp2::Error::Closed("GOAWAY was sent".into()))
            }
            None => None,
        }
    }

    /// [`Shared::refused`], under the lock.
    fn refusal_reason(&self) -> Option<nghttp2::Error> {
        Self::refused(&self.lock())
    }

    /// Why no new stream may start here (asked once one may not).
    fn refusal(&self) -> nghttp2::Error {
        self.refusal_reason().unwrap_or_else(|| nghttp2::Error::Closed("the connection ended".into()))
    }
}

/// What the `Direct` handles hold: when the last goes, the connection winds down.
struct User(Arc<Shared>);

impl Drop for User {
    fn drop(&mut self) {
        self.0.lock().abandoned = true;
        self.0.wake.notify_one();
    }
}

impl Direct {
    /// Connects to an `http://host:port` URL.
    pub async fn connect(
        url: &str,
        timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<Direct, ConnectError> {
        let (authority, user) = dial(url, connect_timeout).await?;
        let redial = Redial { url: url.to_owned(), connect_timeout, last_failure: Default::default() };
        Ok(Direct::new(user, Some(redial), authority, timeout))
    }

    /// An HTTP/2 client connection over `io`; the connection runs in a task of its own
    /// until every handle is dropped and no call is in flight, or the peer closes. It is
    /// not made again once lost.
    pub async fn over<T>(io: T, authority: Authority, timeout: Duration) -> Result<Direct, BoxError>
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        Ok(Direct::new(open(io).await?, None, authority, timeout))
    }

    fn new(user: Arc<User>, redial: Option<Redial>, authority: Authority, timeout: Duration) -> Direct {
        let link = Arc::new(Link { current: Mutex::new(user), redial });
        Direct { link, scheme: Scheme::HTTP, authority, timeout }
    }

    /// Whether a lost connection is made again (a connection made from a URL).
    pub fn reconnects(&self) -> bool {
        self.link.redial.is_some()
    }

    /// A connection to replace `current`, which takes no new stream: made by this call,
    /// or by another one meanwhile. Fails when this handle cannot dial, or, for
    /// [`REDIAL_PAUSE`] after, when dialling failed.
    async fn replace(&self, current: &Arc<User>) -> Result<Arc<Shared>, nghttp2::Error> {
        let Some(redial) = &self.link.redial else { return Err(current.0.refusal()) };
        let mut last_failure = redial.last_failure.lock().await;
        let latest = self.link.current();
        if !Arc::ptr_eq(&latest, current) && latest.0.refusal_reason().is_none() {
            return Ok(latest.0.clone());
        }
        if let Some((at, error)) = &*last_failure
            && at.elapsed() < REDIAL_PAUSE
        {
            return Err(error.clone());
        }
        match dial(&redial.url, redial.connect_timeout).await {
            Ok((_, user)) => {
                let shared = user.0.clone();
                *self.link.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = user;
                *last_failure = None;
                Ok(shared)
            }
            Err(e) => {
                let ended = current.0.refusal();
                let error = nghttp2::Error::Closed(format!("{ended}; a new connection failed: {e}"));
                *last_failure = Some((Instant::now(), error.clone()));
                Err(error)
            }
        }
    }

    /// Sends one request and waits until its stream has closed: the whole response, or
    /// why there is none. `path` is the request's path; `fields` its other header fields.
    /// The stream is reset if the returned future is dropped first.
    async fn exchange(
        &self,
        path: &str,
        fields: &http::HeaderMap,
        body: Bytes,
        keep_body: bool,
    ) -> Result<Response, nghttp2::Error> {
        let pseudo = [
            (&b":method"[..], &b"POST"[..]),
            (b":scheme", self.scheme.as_str().as_bytes()),
            (b":authority", self.authority.as_str().as_bytes()),
            (b":path", path.as_bytes()),
        ];
        let all =
            || pseudo.into_iter().chain(fields.iter().map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes())));
        let current = self.link.current();
        let (shared, id) = match current.0.submit(all(), body.clone(), keep_body)? {
            Some(id) => (current.0.clone(), id),
            None => {
                let fresh = self.replace(&current).await?;
                let id = fresh.submit(all(), body, keep_body)?.ok_or_else(|| fresh.refusal())?;
                (fresh, id)
            }
        };
        shared.wake.notify_one();
        let mut pending = InFlight { shared, id: Some(id) };
        std::future::poll_fn(|cx| pending.poll(cx)).await
    }

    /// Sends one unary request whose body is `frame` and reads only how it ended: the
    /// grpc-status (from the trailers, or the headers of a trailers-only answer) and
    /// whether the body was one whole uncompressed message, whose bytes are counted and
    /// dropped. Ends with a deadline error at `deadline`.
    pub(super) async fn status_only(
        &self,
        path: &str,
        fields: &http::HeaderMap,
        frame: Bytes,
        deadline: std::time::Instant,
    ) -> Result<StatusOnly, BoxError> {
        let response =
            match tokio::time::timeout_at(deadline.into(), self.exchange(path, fields, frame, false)).await {
                Ok(Ok(response)) => response,
                Ok(Err(e)) => return Err(status_of(e).into()),
                Err(_) => return Err(BoxError::from(tonic::TimeoutExpired(()))),
            };
        Ok(judge(&response))
    }
}

/// Connects to an `http://host:port` URL: its authority and the connection.
async fn dial(url: &str, connect_timeout: Duration) -> Result<(Authority, Arc<User>), ConnectError> {
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
        // A TLS port hangs up on the HTTP/2 preface: the reason then names the fix.
        open(tcp).await.map_err(|e| unreachable(super::tls::scheme_hint(&*e, false)))
    };
    match tokio::time::timeout(connect_timeout, handshake).await {
        Ok(result) => Ok((authority, result?)),
        Err(_) => Err(ConnectError::Timeout { url: url.to_owned(), timeout: connect_timeout }),
    }
}

/// Starts an HTTP/2 client connection over `io` in a task of its own, and waits until the
/// peer has answered a PING.
async fn open<T>(io: T) -> Result<Arc<User>, BoxError>
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let mut session = Session::client(&SETTINGS)?;
    // The client preface proves nothing; a PING answered proves the peer speaks
    // HTTP/2 (the caller bounds the wait with its connect timeout).
    let seen = session.ping()?;
    let shared = Arc::new(Shared {
        state: Mutex::new(State { session, closed: None, abandoned: false }),
        wake: Notify::new(),
    });
    tokio::spawn(drive(io, shared.clone()));
    // Held from here, so that a caller giving up on the handshake also ends the task.
    let user = Arc::new(User(shared));
    std::future::poll_fn(|cx| {
        let mut state = user.0.lock();
        if let Some(e) = &state.closed {
            return Poll::Ready(Err(e.clone()));
        }
        state.session.poll_pong(seen, cx).map(Ok)
    })
    .await?;
    Ok(user)
}

/// The status [`Direct`]'s calls fail with: the error's gRPC code and text, with the
/// error kept as its source (`failure::classify` reads it there).
fn status_of(e: nghttp2::Error) -> tonic::Status {
    let mut status = tonic::Status::new(e.code(), e.to_string());
    status.set_source(Arc::new(e));
    status
}

/// A stream in flight: polled for its outcome, and reset if dropped before it.
struct InFlight {
    shared: Arc<Shared>,
    id: Option<i32>,
}

impl InFlight {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<Response, nghttp2::Error>> {
        let Some(id) = self.id else {
            return Poll::Ready(Err(nghttp2::Error::Closed("polled again".into())));
        };
        let outcome = std::task::ready!(self.shared.lock().session.poll_response(id, cx));
        self.id = None;
        Poll::Ready(outcome)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.shared.lock().session.cancel(id);
            self.shared.wake.notify_one();
        }
    }
}

/// The connection's task: writes what the session has to send, feeds it what the socket
/// delivers and wakes the calls that finish. On a read or write failure, the peer's EOF or
/// a protocol error, every call in flight fails with that cause.
async fn drive<T>(io: T, shared: Arc<Shared>)
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(io);
    let mut input = vec![0u8; READ_CHUNK];
    let mut out = Vec::with_capacity(READ_CHUNK);
    let mut written = 0;
    let error = loop {
        if written == out.len() {
            out.clear();
            written = 0;
            let mut state = shared.lock();
            if let Err(e) = state.session.send(&mut out) {
                break e;
            }
            if out.is_empty() && !state.session.is_alive() {
                break state.session.ended();
            }
            if out.is_empty() && state.abandoned && !state.session.has_streams() {
                return;
            }
        }
        tokio::select! {
            read = reader.read(&mut input) => {
                let n = match read {
                    Ok(0) => break nghttp2::Error::Closed("the endpoint closed the connection".into()),
                    Ok(n) => n,
                    Err(e) => break nghttp2::Error::Closed(error_chain(&e)),
                };
                let (received, wakers) = {
                    let mut state = shared.lock();
                    let received = state.session.recv(&input[..n]);
                    (received, state.session.take_wakers())
                };
                wakers.into_iter().for_each(std::task::Waker::wake);
                if let Err(e) = received {
                    break e;
                }
            }
            wrote = writer.write(&out[written..]), if written < out.len() => match wrote {
                Ok(0) => break nghttp2::Error::Closed("the connection accepts no more bytes".into()),
                Ok(n) => written += n,
                Err(e) => break nghttp2::Error::Closed(error_chain(&e)),
            },
            () = shared.wake.notified(), if written == out.len() => {}
        }
    };
    let wakers = {
        let mut state = shared.lock();
        state.session.fail_all(&error);
        state.closed = Some(error);
        state.session.take_wakers()
    };
    wakers.into_iter().for_each(std::task::Waker::wake);
    let _ = writer.shutdown().await;
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

/// A finished response judged by its status and framing alone.
fn judge(response: &Response) -> StatusOnly {
    if response.status != 200 {
        return StatusOnly::Malformed(format!("HTTP status {} instead of 200", response.status));
    }
    // A trailers-only answer: the status is in the headers and there is no body.
    if response.field(Block::Head, "grpc-status").is_some() {
        return match tonic::Status::from_header_map(&response.header_map(Block::Head)) {
            Some(status) if status.code() != tonic::Code::Ok => StatusOnly::Refused(status),
            _ => StatusOnly::Malformed("grpc-status 0 without a message".into()),
        };
    }
    match response.field(Block::Trailers, "grpc-status").map(|v| &v[..]) {
        // The common answer, read without building a header map.
        Some(b"0") => {}
        Some(_) => {
            let status = tonic::Status::from_header_map(&response.header_map(Block::Trailers))
                .unwrap_or_else(|| tonic::Status::unknown("an unreadable grpc-status"));
            if status.code() != tonic::Code::Ok {
                return StatusOnly::Refused(status);
            }
        }
        None => return StatusOnly::Refused(tonic::Status::unknown("the answer ended without a grpc-status")),
    }
    let received = response.body_len;
    let (flag, length) = read_frame_prefix(&response.prefix);
    match (received, flag) {
        (0, _) => StatusOnly::Malformed("grpc-status 0 without a message".into()),
        (1..FRAME_PREFIX_LEN, _) => {
            StatusOnly::Malformed(format!("a body of {received} bytes, shorter than a gRPC frame"))
        }
        (_, 0) if received == FRAME_PREFIX_LEN + length => StatusOnly::Ok,
        (_, 0) => StatusOnly::Malformed(format!(
            "a body of {received} bytes for a gRPC message of {length} (one message expected)"
        )),
        (_, flag) => StatusOnly::Malformed(format!("a message with compression flag {flag}, none asked for")),
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for Direct {
    type Response = http::Response<Received>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Streams beyond the peer's concurrency limit wait inside the session.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let (head, body) = request.into_parts();
            let path = head.uri.path_and_query().map_or("/", |p| p.as_str());
            let exchange = async {
                let body = collect(body).await?;
                this.exchange(path, &head.headers, body, true).await.map_err(|e| BoxError::from(status_of(e)))
            };
            let mut response = match tokio::time::timeout(this.timeout, exchange).await {
                Ok(result) => result?,
                // tonic's own deadline error, so the call is reported like one over a Channel.
                Err(_) => return Err(BoxError::from(tonic::TimeoutExpired(()))),
            };
            let mut answer = http::Response::new(Received {
                data: Some(std::mem::take(&mut response.body).freeze()).filter(|b| !b.is_empty()),
                trailers: response.has_trailers().then(|| response.header_map(Block::Trailers)),
            });
            *answer.status_mut() = http::StatusCode::from_u16(response.status)
                .map_err(|_| BoxError::from(format!("an invalid HTTP status {}", response.status)))?;
            *answer.headers_mut() = response.header_map(Block::Head);
            Ok(answer)
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

/// A whole response body, then its trailers: a unary answer, received before the call
/// returns.
pub struct Received {
    data: Option<Bytes>,
    trailers: Option<http::HeaderMap>,
}

impl http_body::Body for Received {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let frame = match self.data.take() {
            Some(data) => Some(Frame::data(data)),
            None => self.trailers.take().map(Frame::trailers),
        };
        Poll::Ready(frame.map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
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
        // Each stream is held open, unanswered, by a task of its own.
        let url = serving(|respond, _| {
            tokio::spawn(async move {
                let _held = respond;
                std::future::pending::<()>().await
            });
        })
        .await;
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

    /// A peer that answers in HTTP/1.1 is refused at connect, with nghttp2's reason, and
    /// one that answers nothing at all within the connect timeout.
    #[tokio::test]
    async fn a_peer_that_is_not_http2_is_refused_at_connect() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let mut preface = [0u8; 24];
                let _ = tcp.read_exact(&mut preface).await;
                let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
        let second = Duration::from_secs(2);
        let refused = Direct::connect(&url, second, second).await;
        let Err(ConnectError::Unreachable { reason, .. }) = &refused else {
            panic!("an HTTP/1.1 answer was taken for HTTP/2: {:?}", refused.err())
        };
        assert!(reason.contains("HTTP/2 protocol error"), "{reason}");
        assert!(reason.contains("use https://"), "the hint for a TLS port: {reason}");

        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", silent.local_addr().unwrap());
        let short = Duration::from_millis(300);
        assert!(matches!(Direct::connect(&url, second, short).await, Err(ConnectError::Timeout { .. })));
        // The connection given up on is closed, not left open by its task.
        let (mut tcp, _) = silent.accept().await.unwrap();
        let mut sent = Vec::new();
        let read = tokio::time::timeout(second, tcp.read_to_end(&mut sent)).await;
        assert!(matches!(read, Ok(Ok(_))), "the abandoned connection stayed open: {read:?}");
        assert!(sent.starts_with(b"PRI * HTTP/2.0"), "{sent:?}");
    }

    /// A peer that speaks HTTP/2 until a request comes, then answers it with a header
    /// block HPACK cannot decode: nghttp2 ends the connection, and the call fails with
    /// nghttp2's account of what was wrong, not as a reset by the endpoint.
    #[tokio::test]
    async fn a_malformed_answer_fails_the_call_with_the_reason() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut preface = [0u8; 24];
            tcp.read_exact(&mut preface).await.unwrap();
            // An empty SETTINGS frame.
            tcp.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
            loop {
                let mut head = [0u8; 9];
                if tcp.read_exact(&mut head).await.is_err() {
                    return;
                }
                let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
                let mut payload = vec![0u8; len];
                tcp.read_exact(&mut payload).await.unwrap();
                let (kind, flags, stream) = (head[3], head[4], &head[5..9]);
                match kind {
                    // PING: answered (ACK, the same payload).
                    6 if flags & 1 == 0 => {
                        tcp.write_all(&[0, 0, 8, 6, 1, 0, 0, 0, 0]).await.unwrap();
                        tcp.write_all(&payload).await.unwrap();
                    }
                    // HEADERS: answered with an index (0x7f, 0xff...) past any table.
                    1 => {
                        let mut frame = vec![0, 0, 4, 1, 4];
                        frame.extend_from_slice(stream);
                        frame.extend_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
                        tcp.write_all(&frame).await.unwrap();
                    }
                    _ => {}
                }
            }
        });
        let (client, encoded) = random_caller(&url, Duration::from_secs(2)).await;
        let broken = no_answer(client.send_encoded(&encoded).await);
        assert_eq!(broken.kind, crate::client::NoAnswerKind::ConnectionClosed, "{broken}");
        assert!(broken.detail.contains("HTTP/2 protocol error"), "{broken}");
        assert!(broken.detail.contains("COMPRESSION_ERROR"), "{broken}");
        assert!(!broken.detail.contains("reset by the endpoint"), "{broken}");
    }

    /// An answer longer than any gRPC message the client accepts is cut off at the limit
    /// (the stream reset), not read to its end, and named as too large.
    #[tokio::test]
    async fn an_answer_over_the_message_limit_is_refused_at_the_limit() {
        let url = serving(|mut respond, _| {
            let mut send = respond.send_response(grpc_ok(), false).unwrap();
            let _ = send.send_data(
                Bytes::from(vec![0u8; FRAME_PREFIX_LEN + crate::rpc::MAX_MESSAGE_BYTES + 1]),
                true,
            );
        })
        .await;
        let (client, encoded) = random_caller(&url, Duration::from_secs(60)).await;
        let refused = no_answer(client.send_encoded(&encoded).await);
        assert_eq!(refused.kind, crate::client::NoAnswerKind::MessageTooLarge, "{refused}");
    }

    /// A response head, and the body and trailers after it unless the head ends the stream.
    type Answer = (http::Response<()>, Option<(Bytes, http::HeaderMap)>);

    /// A peer that answers every stream as `answer` says: the response head, then (unless
    /// the head is trailers-only) the body and the trailers.
    async fn answering(answer: fn() -> Answer) -> String {
        serving(move |mut respond, _| {
            let (head, rest) = answer();
            let mut send = respond.send_response(head, rest.is_none()).unwrap();
            if let Some((body, trailers)) = rest {
                send.send_data(body, false).unwrap();
                send.send_trailers(trailers).unwrap();
            }
        })
        .await
    }

    fn grpc_ok() -> http::Response<()> {
        http::Response::builder().header("content-type", "application/grpc").body(()).unwrap()
    }

    fn status(code: &str) -> http::HeaderMap {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", code.parse().unwrap());
        trailers
    }

    /// A direct client to `url` whose calls end at `timeout`, and a GenerateRandom(32)
    /// request for it to send.
    async fn random_caller(url: &str, timeout: Duration) -> (Client, crate::client::Encoded) {
        let direct = Direct::connect(url, timeout, Duration::from_secs(2)).await.unwrap();
        let client = Client::direct(direct, Wire::Keyblob, timeout);
        let encoded = client.encoded(Rpc::GenerateRandom, &[0x08, 0x20]).expect("a direct client encodes");
        (client, encoded)
    }

    async fn send_encoded_to(url: &str) -> Result<(), CallError> {
        let (client, encoded) = random_caller(url, Duration::from_secs(2)).await;
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

    /// A peer that hands each stream, numbered from 0, to `with` as it is accepted.
    async fn serving<F>(with: F) -> String
    where
        F: Fn(h2::server::SendResponse<Bytes>, usize) + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            // The client's cancellations are not an attack here.
            let mut connection = h2::server::Builder::new()
                .max_pending_accept_reset_streams(usize::MAX)
                .max_local_error_reset_streams(None)
                .handshake(tcp)
                .await
                .unwrap();
            let mut n = 0;
            while let Some(Ok((_, respond))) = connection.accept().await {
                with(respond, n);
                n += 1;
            }
        });
        url
    }

    fn no_answer(answer: Result<(), CallError>) -> crate::client::NoAnswer {
        match answer {
            Err(CallError::NoAnswer(no_answer)) => no_answer,
            other => panic!("expected no answer, got {other:?}"),
        }
    }

    /// A stream the endpoint resets is sent again (`retry::MAX_RESENDS` times); reset every
    /// time, the call ends as a lost exchange, with gRPC's code for the reset's reason, and
    /// the connection goes on serving.
    #[tokio::test]
    async fn a_reset_stream_fails_its_call_only() {
        let url = serving(|mut respond, n| {
            if n <= crate::client::retry::MAX_RESENDS as usize {
                respond.send_reset(h2::Reason::REFUSED_STREAM);
            } else {
                let mut send = respond.send_response(grpc_ok(), false).unwrap();
                send.send_data(Bytes::from_static(&[0, 0, 0, 0, 2, 8, 1]), false).unwrap();
                send.send_trailers(status("0")).unwrap();
            }
        })
        .await;
        let (client, encoded) = random_caller(&url, Duration::from_secs(2)).await;
        let refused = no_answer(client.send_encoded(&encoded).await);
        assert_eq!(refused.kind, crate::client::NoAnswerKind::ConnectionClosed, "{refused}");
        assert_eq!(refused.code, tonic::Code::Unavailable, "{refused}");
        assert!(refused.detail.contains("REFUSED_STREAM"), "{refused}");
        assert_eq!(client.send_encoded(&encoded).await, Ok(()));
    }

    /// A connection the endpoint drops fails the call in flight and every later one at
    /// once, named as a closed connection.
    #[tokio::test]
    async fn a_dropped_connection_fails_calls_in_flight_and_later() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut connection = h2::server::handshake(tcp).await.unwrap();
            // The first request is taken, then the whole connection dropped unanswered.
            let _ = connection.accept().await;
        });
        let (client, encoded) = random_caller(&url, Duration::from_secs(30)).await;
        let started = std::time::Instant::now();
        for _ in 0..2 {
            let lost = no_answer(client.send_encoded(&encoded).await);
            assert_eq!(lost.kind, crate::client::NoAnswerKind::ConnectionClosed, "{lost}");
            assert_eq!(lost.code, tonic::Code::Unavailable, "{lost}");
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the calls waited for their deadline");
    }

    /// A peer that ends each connection gracefully (GOAWAY) once it has answered a call,
    /// as an endpoint recycling its connections does: each later call goes on a new one.
    #[tokio::test]
    async fn a_connection_the_endpoint_ends_is_made_again() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut connection = h2::server::handshake(tcp).await.unwrap();
                    // Streams opened before the client saw the GOAWAY are still answered.
                    while let Some(Ok((_, mut respond))) = connection.accept().await {
                        let mut send = respond.send_response(grpc_ok(), false).unwrap();
                        send.send_data(Bytes::from_static(&[0, 0, 0, 0, 2, 8, 1]), false).unwrap();
                        send.send_trailers(status("0")).unwrap();
                        connection.graceful_shutdown();
                    }
                });
            }
        });
        let (client, encoded) = random_caller(&url, Duration::from_secs(2)).await;
        for _ in 0..3 {
            assert_eq!(client.send_encoded(&encoded).await, Ok(()));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3, "a connection per call");
    }

    /// Regression: answers that arrive after their calls gave up are frames on streams the
    /// client has reset, which nghttp2 counts as a peer's "glitches" and, past 1,000, ends
    /// the connection for. An overloaded endpoint answers that way by the thousand: here
    /// every answer is sent at once and delivered 300 ms late, after its call's 100 ms.
    #[tokio::test]
    async fn late_answers_to_cancelled_calls_keep_the_connection() {
        let url = serving(|mut respond, _| {
            let mut send = respond.send_response(grpc_ok(), false).unwrap();
            send.send_data(Bytes::from_static(&[0, 0, 0, 0, 2, 8, 1]), false).unwrap();
            send.send_trailers(status("0")).unwrap();
        })
        .await;
        let late = delaying(&url, Duration::from_millis(300)).await;
        let second = Duration::from_secs(2);
        let direct = Direct::connect(&late, second, second).await.unwrap();
        let impatient = Client::direct(direct.clone(), Wire::Keyblob, Duration::from_millis(100));
        let encoded = impatient.encoded(Rpc::GenerateRandom, &[0x08, 0x20]).unwrap();
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..1500 {
            let (client, encoded) = (impatient.clone(), encoded.clone());
            calls.spawn(async move { client.send_encoded(&encoded).await });
        }
        for answer in calls.join_all().await {
            assert_eq!(no_answer(answer).kind, crate::client::NoAnswerKind::DeadlineExceeded);
        }
        // The late answers have all come by now; the connection still carries calls.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let patient = Client::direct(direct, Wire::Keyblob, second);
        assert_eq!(patient.send_encoded(&encoded).await, Ok(()));
    }

    /// A relay to `url` that passes what the client sends at once and what the server
    /// sends `by` late, in order.
    async fn delaying(url: &str, by: Duration) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let target = url.trim_start_matches("http://").to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (client, _) = listener.accept().await.unwrap();
            let server = tokio::net::TcpStream::connect(target).await.unwrap();
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut client_read, &mut server_write).await });
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = server_read.read(&mut buf).await {
                    let _ = tx.send((tokio::time::Instant::now() + by, buf[..n].to_vec()));
                }
            });
            while let Some((at, bytes)) = rx.recv().await {
                tokio::time::sleep_until(at).await;
                if client_write.write_all(&bytes).await.is_err() {
                    break;
                }
            }
        });
        relay
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

        // Bodies larger than the flow-control windows, both ways: a 1 MiB answer read whole,
        // and a 3 MiB request sent whole (the digest would be refused if it were cut).
        args.0.insert("len", crate::client::Arg::Uint(1 << 20));
        let fields = client.call(Rpc::GenerateRandom, &args).await.unwrap();
        assert!(matches!(fields.get("Rnd"), Some(crate::client::Value::Bytes(b)) if b.len() == 1 << 20));
        let digest = crate::proto::DigestSingleRequest {
            mech: Some(crate::proto::Mechanism { mechanism: 0x250, parameter: None }),
            data: vec![7; 3 << 20],
        };
        let encoded = client.encoded(Rpc::DigestSingle, &digest.encode_to_vec()).unwrap();
        assert_eq!(client.send_encoded(&encoded).await, Ok(()));
    }
}
