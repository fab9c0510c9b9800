//! grep11-harness: conformance suites, a CI runner and a load generator for GREP11
//! (Enterprise PKCS #11 over gRPC), with an embedded software GREP11 emulator.

// The command line is in the library, not the binary: in a release build a binary crate
// compiles its own copy of every generic it shares with the library (tokio, tonic, h2,
// serde), which made the binary as long to compile as the library (README, "Build cost").
#[doc(hidden)]
pub mod cli;
pub mod client;
#[warn(missing_docs)]
pub mod embedded;
pub mod emulator;
pub mod load;
#[warn(missing_docs)]
pub mod pkcs11;
#[warn(missing_docs)]
pub mod proto;
#[warn(missing_docs)]
pub mod proxy;
pub mod report;
pub mod rpc;
pub mod runner;
#[warn(missing_docs)]
pub mod serving;
#[warn(missing_docs)]
pub mod status;
pub mod suite;

/// The emulator's engine, for the in-process timings of `benches/emulator.rs` (what one
/// operation costs before any transport, and what sealing and opening blobs add). A bench
/// is a separate crate and cannot reach `pub(crate)` items; these are not part of the
/// library's API and may change at any time.
#[doc(hidden)]
pub mod bench_support {
    pub use crate::emulator::attrs::{Template, WireValue};
    pub use crate::emulator::blob::{Operation, Sealer};
    pub use crate::emulator::engine::Engine;
    pub use crate::emulator::mech::{MechParam, Mechanism};
}
