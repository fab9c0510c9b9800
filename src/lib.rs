//! grep11-harness: conformance suites, a CI runner and a load generator for GREP11
//! (Enterprise PKCS #11 over gRPC), with an embedded software GREP11 emulator.
//!
//! As a library: [`suite`] loads and expands suites, [`runner`] runs a case against a
//! [`client::Client`] (of an endpoint, or of the emulator in this process from
//! [`embedded`]), [`report`] writes what a run found; [`load`] measures throughput and
//! latency; [`emulator`] and [`serving`] serve the emulator in your own process; [`proxy`]
//! records an application's traffic as a suite. [`pkcs11`], [`proto`], [`rpc`] and
//! [`status`] are the vocabulary all of them share.
//!
//! ```
//! use std::time::Duration;
//!
//! use grep11_harness::client::Wire;
//! use grep11_harness::runner::{self, Outcome};
//! use grep11_harness::suite::{self, Profile};
//! use grep11_harness::embedded;
//!
//! let suites = suite::load_paths(&["suites/digest.yaml".into()]).expect("the suite loads");
//! let profile = Profile::default();
//! let cases: Vec<_> = suite::expand(suites).into_iter().filter(|c| profile.selects(c).is_ok()).collect();
//! let runtime = tokio::runtime::Runtime::new()?;
//! runtime.block_on(async {
//!     // `Client::connect(&endpoint, Wire::Keyblob)` for an endpoint on the network.
//!     let client = embedded::client(Wire::Keyblob, Duration::from_secs(30));
//!     for case in &cases {
//!         let result = runner::run_case(&client, case, &profile).await;
//!         assert_eq!(result.outcome, Outcome::Pass, "{}: {:?}", result.id, result.message);
//!     }
//! });
//! # assert!(!cases.is_empty());
//! # Ok::<(), std::io::Error>(())
//! ```

#![warn(missing_docs)]

// The command line is in the library, not the binary: in a release build a binary crate
// compiles its own copy of every generic it shares with the library (tokio, tonic, h2,
// serde), which made the binary as long to compile as the library (README, "Build cost").
#[doc(hidden)]
pub mod cli;
pub mod client;
pub mod embedded;
pub mod emulator;
pub mod load;
pub mod pkcs11;
pub mod proto;
pub mod proxy;
pub mod report;
pub mod rpc;
pub mod runner;
pub mod serving;
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
