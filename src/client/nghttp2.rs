//! The HTTP/2 client session of a [`Direct`](super::Direct) connection: nghttp2's state
//! machine (the library h2load is built on), driven without I/O of its own. The caller
//! feeds it the bytes read from the socket ([`Session::recv`]), takes the bytes it wants
//! written ([`Session::send`]), submits requests and reads each stream's outcome. All
//! `unsafe` of the client is here; the session is used under one lock, from one thread at
//! a time.
//!
//! Why not the `h2` crate, which tonic uses: on the load generator's hot path `h2` cost
//! 1.5x h2load's client CPU per call, about half of it in `h2` itself (HPACK, frame
//! queues, stream references); on nghttp2 the same design costs 1.12x (README, "Is the
//! generator the bottleneck?"). nghttp2 is the HTTP/2 implementation h2load measures
//! with, so what remains of the gap is the generator's own work.

use std::collections::HashMap;
use std::ffi::{CStr, c_int, c_void};
use std::ptr::{self, NonNull};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use libnghttp2_sys as ng;

use crate::rpc::{FRAME_PREFIX_LEN, MAX_MESSAGE_BYTES};

/// The most response body a stream keeps: one gRPC message of the largest size allowed.
const MAX_BODY: usize = FRAME_PREFIX_LEN + MAX_MESSAGE_BYTES;

/// Why a connection or a stream ended without an answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The endpoint closed the connection (or a read or write on it failed): why.
    #[error("{0}")]
    Closed(String),
    /// nghttp2 found the peer's frames invalid, or could not go on.
    #[error("HTTP/2 protocol error: {0}")]
    Protocol(String),
    /// The endpoint reset the stream (RST_STREAM, or GOAWAY before the stream was taken).
    #[error("stream reset by the endpoint: {}", reason(*.0))]
    Reset(u32),
    /// The response body was larger than any gRPC message this client accepts.
    #[error("a response body over {MAX_BODY} bytes")]
    TooLarge,
}

impl Error {
    /// The gRPC code a client reports for this error: gRPC's mapping of HTTP/2 error
    /// codes (the one tonic applies to `h2` errors); a lost connection is UNAVAILABLE.
    pub fn code(&self) -> tonic::Code {
        match self {
            Error::Closed(_) => tonic::Code::Unavailable,
            Error::Protocol(_) | Error::TooLarge => tonic::Code::Internal,
            Error::Reset(code) => match *code {
                ng::NGHTTP2_REFUSED_STREAM => tonic::Code::Unavailable,
                ng::NGHTTP2_CANCEL => tonic::Code::Cancelled,
                ng::NGHTTP2_ENHANCE_YOUR_CALM => tonic::Code::ResourceExhausted,
                ng::NGHTTP2_INADEQUATE_SECURITY => tonic::Code::PermissionDenied,
                0..=ng::NGHTTP2_CONNECT_ERROR => tonic::Code::Internal,
                _ => tonic::Code::Unknown,
            },
        }
    }
}

/// An HTTP/2 error code's name, as nghttp2 spells it.
fn reason(code: u32) -> String {
    // SAFETY: nghttp2_http2_strerror returns a static NUL-terminated string for any code.
    let name = unsafe { CStr::from_ptr(ng::nghttp2_http2_strerror(code)) };
    format!("{} ({code})", name.to_string_lossy())
}

/// A library error code's text.
fn strerror(code: c_int) -> String {
    // SAFETY: nghttp2_strerror returns a static NUL-terminated string for any code.
    unsafe { CStr::from_ptr(ng::nghttp2_strerror(code)) }.to_string_lossy().into_owned()
}

/// Which header block a field came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    /// The response's HEADERS.
    Head,
    /// The trailing HEADERS that end the stream.
    Trailers,
}

/// A finished response: its header fields as received, and the body (or only its length
/// and first bytes, for a stream that does not keep it).
#[derive(Debug, Default)]
pub struct Response {
    /// The `:status` of the response head (0 when it had none).
    pub status: u16,
    /// Every field of both header blocks, pseudo-headers excluded: block, name, value.
    pub fields: Vec<(Block, Bytes, Bytes)>,
    /// The body, when the stream keeps it.
    pub body: BytesMut,
    /// How many body bytes arrived.
    pub body_len: usize,
    /// The body's first bytes (a gRPC frame prefix), kept even when the body is not.
    pub prefix: [u8; FRAME_PREFIX_LEN],
}

impl Response {
    /// The first value of `name` in `block`.
    pub fn field(&self, block: Block, name: &str) -> Option<&Bytes> {
        self.fields.iter().find(|(b, n, _)| *b == block && n == name.as_bytes()).map(|(_, _, v)| v)
    }

    /// The fields of `block` as a header map (fields that are not valid HTTP are skipped:
    /// nghttp2 has already refused those).
    pub fn header_map(&self, block: Block) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (_, name, value) in self.fields.iter().filter(|(b, _, _)| *b == block) {
            if let (Ok(name), Ok(value)) =
                (http::HeaderName::from_bytes(name), http::HeaderValue::from_maybe_shared(value.clone()))
            {
                map.append(name, value);
            }
        }
        map
    }

    /// Whether the stream ended with a trailing header block.
    pub fn has_trailers(&self) -> bool {
        self.fields.iter().any(|(b, _, _)| *b == Block::Trailers)
    }
}

/// One request in flight.
struct Stream {
    /// What is left of the request body to hand to nghttp2.
    request: Bytes,
    response: Response,
    keep_body: bool,
    /// The peer ended its side (END_STREAM received).
    ended: bool,
    /// The error code of the endpoint's RST_STREAM on this stream.
    reset: Option<u32>,
    /// Set when the stream has closed: its outcome, not yet taken.
    outcome: Option<Result<(), Error>>,
    waker: Option<Waker>,
}

/// What the callbacks change: the streams, and the wakers to call once the lock is gone.
#[derive(Default)]
struct Streams {
    live: HashMap<i32, Stream>,
    to_wake: Vec<Waker>,
    /// Answers to this session's PINGs.
    pongs: u64,
    /// The error code of the endpoint's last GOAWAY.
    goaway: Option<u32>,
    /// nghttp2's account of the last error it found in what the endpoint sent.
    last_error: Option<String>,
    /// The error code and text of the GOAWAY this client sent, when nghttp2 ended the
    /// session itself.
    sent_goaway: Option<(u32, String)>,
    pong_waker: Option<Waker>,
}

impl Streams {
    fn finish(&mut self, id: i32, outcome: Result<(), Error>) {
        if let Some(stream) = self.live.get_mut(&id)
            && stream.outcome.is_none()
        {
            stream.outcome = Some(outcome);
            if let Some(w) = stream.waker.take() {
                self.to_wake.push(w);
            }
        }
    }
}

/// One nghttp2 client session and its streams.
pub struct Session {
    raw: NonNull<ng::nghttp2_session>,
    /// Owned (from `Box::into_raw`) and reached only through this pointer, also by the
    /// callbacks, so no reference to it outlives a call into nghttp2.
    streams: NonNull<Streams>,
}

// SAFETY: the session and its streams are owned by this value alone, and nghttp2 keeps no
// thread-local state: moving it between threads is sound. It is not `Sync`; callers hold
// it under a lock.
unsafe impl Send for Session {}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: both were created in `Session::client` and are freed only here; the
        // session first, as its destructor may still call back into the streams.
        unsafe {
            ng::nghttp2_session_del(self.raw.as_ptr());
            drop(Box::from_raw(self.streams.as_ptr()));
        }
    }
}

/// Settings a session sends first.
pub struct Settings {
    /// Each stream's receive window.
    pub stream_window: u32,
    /// The connection's receive window.
    pub connection_window: u32,
}

impl Session {
    /// A client session whose SETTINGS (push off, `settings`' windows) are queued to send.
    pub fn client(settings: &Settings) -> Result<Session, Error> {
        let streams = NonNull::from(Box::leak(Box::<Streams>::default()));
        let mut raw = ptr::null_mut();
        // SAFETY: the callbacks and option objects are created, used to create the session
        // (which copies them) and deleted here; the user data is the streams box, which
        // lives as long as the session (see Drop).
        let created = unsafe {
            let mut callbacks = ptr::null_mut();
            let mut option = ptr::null_mut();
            if ng::nghttp2_session_callbacks_new(&mut callbacks) != 0
                || ng::nghttp2_option_new(&mut option) != 0
            {
                ng::nghttp2_session_callbacks_del(callbacks);
                ng::nghttp2_option_del(option);
                drop(Box::from_raw(streams.as_ptr()));
                return Err(Error::Protocol("out of memory".into()));
            }
            ng::nghttp2_session_callbacks_set_on_header_callback(callbacks, Some(on_header));
            ng::nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, Some(on_data_chunk));
            ng::nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, Some(on_frame));
            ng::nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, Some(on_stream_close));
            ng::nghttp2_session_callbacks_set_error_callback2(callbacks, Some(on_error));
            ng::nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, Some(on_frame_sent));
            // Flood guards protect a server from its clients. This session's peer is the
            // endpoint under test, and a load run above capacity cancels many calls at
            // their deadline: each answer that still arrives on a cancelled stream counts
            // as a "glitch", and after 1,000 nghttp2 would end the connection, failing
            // every call on it. A run is bounded in time, so the guards are lifted.
            ng::nghttp2_option_set_glitch_rate_limit(option, u64::MAX, u64::MAX);
            ng::nghttp2_option_set_stream_reset_rate_limit(option, u64::MAX, u64::MAX);
            let rv = ng::nghttp2_session_client_new2(&mut raw, callbacks, streams.as_ptr().cast(), option);
            ng::nghttp2_session_callbacks_del(callbacks);
            ng::nghttp2_option_del(option);
            rv
        };
        let Some(raw) = NonNull::new(raw).filter(|_| created == 0) else {
            // SAFETY: no session holds the streams.
            unsafe { drop(Box::from_raw(streams.as_ptr())) };
            return Err(Error::Protocol(strerror(created)));
        };
        let session = Session { raw, streams };
        let iv = [
            ng::nghttp2_settings_entry { settings_id: ng::NGHTTP2_SETTINGS_ENABLE_PUSH as i32, value: 0 },
            ng::nghttp2_settings_entry {
                settings_id: ng::NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE as i32,
                value: settings.stream_window,
            },
        ];
        let window = i32::try_from(settings.connection_window).unwrap_or(i32::MAX);
        // SAFETY: the session is live; nghttp2 copies the entries.
        let rv = unsafe {
            match ng::nghttp2_submit_settings(session.raw(), 0, iv.as_ptr(), iv.len()) {
                0 => ng::nghttp2_session_set_local_window_size(session.raw(), 0, 0, window),
                e => e,
            }
        };
        session.check(rv)?;
        Ok(session)
    }

    fn raw(&self) -> *mut ng::nghttp2_session {
        self.raw.as_ptr()
    }

    /// The streams. Never called while nghttp2 runs (the callbacks reach them through
    /// their own pointer), so this is the only reference while it lives.
    fn streams(&mut self) -> &mut Streams {
        // SAFETY: see the field's comment; `&mut self` excludes any other use.
        unsafe { self.streams.as_mut() }
    }

    fn check(&self, rv: c_int) -> Result<(), Error> {
        if rv < 0 { Err(Error::Protocol(strerror(rv))) } else { Ok(()) }
    }

    /// Queues a request: `fields` are the header fields, pseudo-headers first, and `body`
    /// is sent as its DATA (END_STREAM with the last). Returns the stream's id.
    pub fn submit<'a>(
        &mut self,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        body: Bytes,
        keep_body: bool,
    ) -> Result<i32, Error> {
        let nva: Vec<ng::nghttp2_nv> = fields
            .into_iter()
            .map(|(name, value)| ng::nghttp2_nv {
                name: name.as_ptr().cast_mut(),
                value: value.as_ptr().cast_mut(),
                namelen: name.len(),
                valuelen: value.len(),
                flags: ng::NGHTTP2_NV_FLAG_NONE as u8,
            })
            .collect();
        let provider = ng::nghttp2_data_provider2 {
            source: ng::nghttp2_data_source { ptr: ptr::null_mut() },
            read_callback: Some(read_body),
        };
        // SAFETY: the session is live; nghttp2 copies the fields (flag NONE) before it
        // returns, and copies the provider struct. The body is read later, by stream id.
        let id = unsafe {
            ng::nghttp2_submit_request2(
                self.raw(),
                ptr::null(),
                nva.as_ptr(),
                nva.len(),
                &provider,
                ptr::null_mut(),
            )
        };
        self.check(id)?;
        self.streams().live.insert(
            id,
            Stream {
                request: body,
                response: Response::default(),
                keep_body,
                ended: false,
                reset: None,
                outcome: None,
                waker: None,
            },
        );
        Ok(id)
    }

    /// The outcome of stream `id`, once it has closed; until then `cx` is woken when it
    /// does. A finished stream is forgotten once its outcome is taken.
    pub fn poll_response(&mut self, id: i32, cx: &mut Context<'_>) -> Poll<Result<Response, Error>> {
        let streams = self.streams();
        let Some(stream) = streams.live.get_mut(&id) else {
            return Poll::Ready(Err(Error::Closed("the stream is gone".into())));
        };
        match stream.outcome.take() {
            Some(outcome) => {
                let stream = streams.live.remove(&id).expect("looked up above");
                Poll::Ready(outcome.map(|()| stream.response))
            }
            None => {
                if !stream.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    stream.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }

    /// Whether any stream is in flight (or finished and not yet taken).
    pub fn has_streams(&mut self) -> bool {
        !self.streams().live.is_empty()
    }

    /// Gives up on stream `id`: forgets it and, if it is still open, resets it (CANCEL).
    pub fn cancel(&mut self, id: i32) {
        if let Some(stream) = self.streams().live.remove(&id)
            && stream.outcome.is_none()
        {
            // SAFETY: the session is live. A stream nghttp2 already closed is ignored.
            unsafe { ng::nghttp2_submit_rst_stream(self.raw(), 0, id, ng::NGHTTP2_CANCEL) };
        }
    }

    /// Ends every stream still open with `error` (the connection is gone).
    pub fn fail_all(&mut self, error: &Error) {
        let streams = self.streams();
        let ids: Vec<i32> = streams.live.keys().copied().collect();
        for id in ids {
            streams.finish(id, Err(error.clone()));
        }
        if let Some(w) = streams.pong_waker.take() {
            streams.to_wake.push(w);
        }
    }

    /// Queues a PING; [`Session::poll_pong`] tells when its answer has come.
    pub fn ping(&mut self) -> Result<u64, Error> {
        // SAFETY: the session is live; NULL sends eight zero bytes.
        let rv = unsafe { ng::nghttp2_submit_ping(self.raw(), 0, ptr::null()) };
        self.check(rv)?;
        Ok(self.streams().pongs)
    }

    /// Ready once more PING answers have come than `seen` (from [`Session::ping`]).
    pub fn poll_pong(&mut self, seen: u64, cx: &mut Context<'_>) -> Poll<()> {
        let streams = self.streams();
        if streams.pongs > seen {
            return Poll::Ready(());
        }
        streams.pong_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Processes bytes read from the connection; the streams they finish are woken by
    /// [`Session::take_wakers`].
    pub fn recv(&mut self, data: &[u8]) -> Result<(), Error> {
        // SAFETY: the session is live and `data` outlives the call.
        let rv = unsafe { ng::nghttp2_session_mem_recv2(self.raw(), data.as_ptr(), data.len()) };
        if rv < 0 { Err(Error::Protocol(strerror(rv as c_int))) } else { Ok(()) }
    }

    /// Appends to `out` the bytes nghttp2 wants written now.
    pub fn send(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        loop {
            let mut data = ptr::null();
            // SAFETY: the session is live; the returned bytes stay valid until the next
            // call into the session, and are copied out before it.
            let n = unsafe { ng::nghttp2_session_mem_send2(self.raw(), &mut data) };
            match usize::try_from(n) {
                Ok(0) => return Ok(()),
                // SAFETY: nghttp2 returned `n` readable bytes at `data`.
                Ok(n) => out.extend_from_slice(unsafe { std::slice::from_raw_parts(data, n) }),
                Err(_) => return Err(Error::Protocol(strerror(n as c_int))),
            }
        }
    }

    /// Whether a new request may be submitted: no GOAWAY has been sent or received.
    pub fn accepts_requests(&self) -> bool {
        // SAFETY: the session is live.
        unsafe { ng::nghttp2_session_check_request_allowed(self.raw()) != 0 }
    }

    /// Whether the session still has anything to read or write (false after GOAWAY both
    /// ways, or a fatal error).
    pub fn is_alive(&self) -> bool {
        // SAFETY: the session is live.
        unsafe {
            ng::nghttp2_session_want_read(self.raw()) != 0 || ng::nghttp2_session_want_write(self.raw()) != 0
        }
    }

    /// Why the session is over, once [`Session::is_alive`] is false.
    pub fn ended(&mut self) -> Error {
        let streams = self.streams();
        match (streams.goaway, streams.last_error.take(), streams.sent_goaway.take()) {
            (Some(code), _, _) => Error::Closed(format!("the endpoint sent GOAWAY with {}", reason(code))),
            // nghttp2 ends a session itself on a connection error in what it received; it
            // explains some (the error callback), and names the rest by their GOAWAY code.
            (None, Some(why), _) => Error::Protocol(why),
            (None, None, Some((code, text))) => Error::Protocol(format!(
                "this client ended the session with {}{}",
                reason(code),
                if text.is_empty() { String::new() } else { format!(": {text}") }
            )),
            (None, None, None) => Error::Closed("the HTTP/2 session ended".into()),
        }
    }

    /// The wakers of the streams that finished since the last call, to be woken once the
    /// session's lock is released.
    pub fn take_wakers(&mut self) -> Vec<Waker> {
        std::mem::take(&mut self.streams().to_wake)
    }
}

/// The callbacks' view of the streams.
///
/// # Safety
/// `user_data` must be the session's streams pointer, called from within a call into
/// nghttp2 made by [`Session`] (so no other reference to the streams exists).
unsafe fn streams_of<'a>(user_data: *mut c_void) -> &'a mut Streams {
    // SAFETY: per the contract above.
    unsafe { &mut *user_data.cast::<Streams>() }
}

unsafe extern "C" fn read_body(
    _session: *mut ng::nghttp2_session,
    stream_id: i32,
    buf: *mut u8,
    length: usize,
    data_flags: *mut u32,
    _source: *mut ng::nghttp2_data_source,
    user_data: *mut c_void,
) -> ng::nghttp2_ssize {
    // SAFETY: called by nghttp2 during `send`, with our user data.
    let streams = unsafe { streams_of(user_data) };
    let Some(stream) = streams.live.get_mut(&stream_id) else {
        // Cancelled meanwhile: nghttp2 resets the stream.
        return ng::NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE as ng::nghttp2_ssize;
    };
    let n = stream.request.len().min(length);
    // SAFETY: nghttp2 gives `length` writable bytes at `buf`; `n` is no more.
    unsafe { ptr::copy_nonoverlapping(stream.request.as_ptr(), buf, n) };
    stream.request.advance(n);
    if stream.request.is_empty() {
        // SAFETY: nghttp2 passes a valid flags pointer.
        unsafe { *data_flags |= ng::NGHTTP2_DATA_FLAG_EOF };
    }
    n as ng::nghttp2_ssize
}

unsafe extern "C" fn on_header(
    _session: *mut ng::nghttp2_session,
    frame: *const ng::nghttp2_frame,
    name: *const u8,
    namelen: usize,
    value: *const u8,
    valuelen: usize,
    _flags: u8,
    user_data: *mut c_void,
) -> c_int {
    // SAFETY: called by nghttp2 during `recv`, with our user data and a valid frame whose
    // name and value are readable for their lengths.
    let (streams, id, category, name, value) = unsafe {
        (
            streams_of(user_data),
            (*frame).hd.stream_id,
            (*frame).headers.cat,
            std::slice::from_raw_parts(name, namelen),
            std::slice::from_raw_parts(value, valuelen),
        )
    };
    let Some(stream) = streams.live.get_mut(&id) else { return 0 };
    if name == b":status" {
        stream.response.status = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    } else if !name.starts_with(b":") {
        // A client's second header block on a stream (category HEADERS) is the trailers.
        let block = if category == ng::NGHTTP2_HCAT_RESPONSE { Block::Head } else { Block::Trailers };
        stream.response.fields.push((block, Bytes::copy_from_slice(name), Bytes::copy_from_slice(value)));
    }
    0
}

unsafe extern "C" fn on_data_chunk(
    session: *mut ng::nghttp2_session,
    _flags: u8,
    stream_id: i32,
    data: *const u8,
    len: usize,
    user_data: *mut c_void,
) -> c_int {
    // SAFETY: called by nghttp2 during `recv`, with our user data and `len` readable bytes.
    let (streams, data) = unsafe { (streams_of(user_data), std::slice::from_raw_parts(data, len)) };
    let Some(stream) = streams.live.get_mut(&stream_id) else { return 0 };
    let response = &mut stream.response;
    let had = response.body_len;
    if had < FRAME_PREFIX_LEN {
        let n = (FRAME_PREFIX_LEN - had).min(data.len());
        response.prefix[had..had + n].copy_from_slice(&data[..n]);
    }
    response.body_len += data.len();
    if response.body_len > MAX_BODY {
        streams.finish(stream_id, Err(Error::TooLarge));
        // SAFETY: submitting from a callback is allowed; the session is the caller's.
        unsafe { ng::nghttp2_submit_rst_stream(session, 0, stream_id, ng::NGHTTP2_CANCEL) };
    } else if stream.keep_body {
        response.body.extend_from_slice(data);
    }
    0
}

unsafe extern "C" fn on_frame(
    _session: *mut ng::nghttp2_session,
    frame: *const ng::nghttp2_frame,
    user_data: *mut c_void,
) -> c_int {
    // SAFETY: called by nghttp2 during `recv`, with our user data and a valid frame.
    let (streams, hd) = unsafe { (streams_of(user_data), (*frame).hd) };
    match u32::from(hd.type_) {
        ng::NGHTTP2_HEADERS | ng::NGHTTP2_DATA => {
            if let Some(stream) = streams.live.get_mut(&hd.stream_id)
                && hd.flags & ng::NGHTTP2_FLAG_END_STREAM as u8 != 0
            {
                stream.ended = true;
            }
        }
        ng::NGHTTP2_PING if hd.flags & ng::NGHTTP2_FLAG_ACK as u8 != 0 => {
            streams.pongs += 1;
            if let Some(w) = streams.pong_waker.take() {
                streams.to_wake.push(w);
            }
        }
        ng::NGHTTP2_RST_STREAM => {
            if let Some(stream) = streams.live.get_mut(&hd.stream_id) {
                // SAFETY: the frame is a RST_STREAM, so this member is the one nghttp2 filled.
                stream.reset = Some(unsafe { (*frame).rst_stream.error_code });
            }
        }
        ng::NGHTTP2_GOAWAY => {
            // SAFETY: the frame is a GOAWAY, so this member is the one nghttp2 filled.
            streams.goaway = Some(unsafe { (*frame).goaway.error_code });
        }
        _ => {}
    }
    0
}

unsafe extern "C" fn on_stream_close(
    _session: *mut ng::nghttp2_session,
    stream_id: i32,
    error_code: u32,
    user_data: *mut c_void,
) -> c_int {
    // SAFETY: called by nghttp2 during `recv` or `send`, with our user data.
    let streams = unsafe { streams_of(user_data) };
    let Some(stream) = streams.live.get(&stream_id) else { return 0 };
    let outcome = match (stream.ended, stream.reset) {
        // A peer may reset a stream (NO_ERROR) after answering it whole; only a stream that
        // closes before the answer's end failed.
        (true, _) => Ok(()),
        (false, Some(code)) => Err(Error::Reset(code)),
        // The endpoint's GOAWAY refused the streams it had not taken.
        (false, None) if streams.goaway.is_some() && error_code == ng::NGHTTP2_REFUSED_STREAM => {
            Err(Error::Reset(error_code))
        }
        // Closed by nghttp2 itself, for something wrong in what the endpoint sent.
        (false, None) => Err(Error::Protocol(
            streams
                .last_error
                .clone()
                .unwrap_or_else(|| format!("the stream closed with {}", reason(error_code))),
        )),
    };
    streams.finish(stream_id, outcome);
    0
}

unsafe extern "C" fn on_error(
    _session: *mut ng::nghttp2_session,
    _code: c_int,
    msg: *const std::ffi::c_char,
    len: usize,
    user_data: *mut c_void,
) -> c_int {
    // SAFETY: called by nghttp2 during `recv` or `send`, with our user data and `len`
    // readable bytes of message.
    let (streams, msg) =
        unsafe { (streams_of(user_data), std::slice::from_raw_parts(msg.cast::<u8>(), len)) };
    streams.last_error = Some(String::from_utf8_lossy(msg).into_owned());
    0
}

unsafe extern "C" fn on_frame_sent(
    _session: *mut ng::nghttp2_session,
    frame: *const ng::nghttp2_frame,
    user_data: *mut c_void,
) -> c_int {
    // SAFETY: called by nghttp2 during `send`, with our user data and a valid frame; a
    // GOAWAY's debug data is readable for its length.
    unsafe {
        if u32::from((*frame).hd.type_) == ng::NGHTTP2_GOAWAY {
            let goaway = (*frame).goaway;
            let text = if goaway.opaque_data.is_null() {
                String::new()
            } else {
                let data = std::slice::from_raw_parts(goaway.opaque_data, goaway.opaque_data_len);
                String::from_utf8_lossy(data).into_owned()
            };
            streams_of(user_data).sent_goaway = Some((goaway.error_code, text));
        }
    }
    0
}
