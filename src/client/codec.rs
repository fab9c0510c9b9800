//! The client's gRPC codec: protobuf bytes in, protobuf bytes out. The client encodes each
//! request and decodes each response itself (`call.rs`), so tonic's generic client code
//! (request encoding, response streaming, trailers) is compiled once per transport rather
//! than once per RPC and transport: with tonic's own protobuf codec it was 82 copies, about
//! a tenth of the library's LLVM IR, for the same calls. Message size limits, framing,
//! compression flags and statuses are still tonic's.

use bytes::{Buf, BufMut, Bytes};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Passes a message's bytes through unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct Raw;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
