//! A body that passes every frame on unchanged and copies its data (up to the interface's
//! message bound) into the call's record; the response side hands the record over when it
//! ends, or when it is dropped unfinished (a cancelled call is recorded as cut off).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::forward::{Exchange, Recording};
use crate::rpc::{FRAME_PREFIX_LEN, MAX_MESSAGE_BYTES};

/// One call's record while it is under way, shared by its request and response bodies.
pub(super) struct Capture {
    recording: Arc<Recording>,
    exchange: Mutex<Option<Exchange>>,
}

impl Capture {
    pub(super) fn new(recording: Arc<Recording>, path: String) -> Arc<Capture> {
        Arc::new(Capture { recording, exchange: Mutex::new(Some(Exchange { path, ..Default::default() })) })
    }

    pub(super) fn with(&self, f: impl FnOnce(&mut Exchange)) {
        if let Ok(mut guard) = self.exchange.lock()
            && let Some(exchange) = guard.as_mut()
        {
            f(exchange);
        }
    }

    /// Hands the record to the recording, once.
    pub(super) fn finish(&self) {
        let taken = self.exchange.lock().ok().and_then(|mut g| g.take());
        if let Some(exchange) = taken {
            self.recording.push(exchange);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Request,
    Response,
}

pub(super) struct Tee<B> {
    inner: B,
    capture: Option<Arc<Capture>>,
    side: Side,
}

impl<B> Tee<B> {
    pub(super) fn new(inner: B, capture: Option<Arc<Capture>>, side: Side) -> Tee<B> {
        Tee { inner, capture, side }
    }
}

/// Appends `data` unless the copy would pass the message bound (plus its frame header):
/// such a call is not recorded, and the copy stops growing.
fn append(buffer: &mut Vec<u8>, data: &[u8]) {
    if buffer.len() + data.len() <= MAX_MESSAGE_BYTES + FRAME_PREFIX_LEN {
        buffer.extend_from_slice(data);
    } else {
        buffer.clear();
        buffer.shrink_to_fit();
        buffer.push(0xff); // not a frame: the call is reported as not recordable
    }
}

impl<B> Body for Tee<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(capture) = &self.capture {
            let side = self.side;
            match &frame {
                Some(Ok(f)) => {
                    if let Some(data) = f.data_ref() {
                        capture.with(|e| match side {
                            Side::Request if e.request.first() != Some(&0xff) => append(&mut e.request, data),
                            Side::Response if e.response.first() != Some(&0xff) => {
                                append(&mut e.response, data)
                            }
                            _ => {}
                        });
                    } else if let Some(trailers) = f.trailers_ref() {
                        capture.with(|e| e.status = tonic::Status::from_header_map(trailers));
                    }
                }
                Some(Err(_)) => {}
                None if side == Side::Response => capture.finish(),
                None => {}
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for Tee<B> {
    fn drop(&mut self) {
        if self.side == Side::Response
            && let Some(capture) = &self.capture
        {
            capture.finish();
        }
    }
}
