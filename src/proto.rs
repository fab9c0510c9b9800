//! The generated GREP11 wire types (`proto/grep11/server.proto`) and the `google.rpc.Status`
//! envelope that carries a `Grep11Error` detail. No hand-written logic lives here.

#![allow(clippy::all, missing_docs)]

pub mod grep11 {
    tonic::include_proto!("grep11");
}

pub mod google_rpc {
    tonic::include_proto!("google.rpc");
}

pub use grep11::*;
