//! The integration tests, as modules of one test binary: each would otherwise link its own
//! copy of the library and its dependencies (about 250 MB apiece in a debug build), which
//! was most of the debug target's size and of `cargo test`'s link time.
//!
//! `tests/limits.rs` (a counting global allocator), and `tests/conformance.rs` and
//! `tests/mutation.rs` (libtest-mimic harnesses) stay binaries of their own.

mod boundaries;
mod cli;
mod cli_ux;
mod compare;
mod coverage;
mod crypto_separation;
mod emulator_props;
mod ibm_client_shapes;
mod load;
mod load_agents;
mod misbehaving;
mod proxy;
mod results;
mod support;
mod third_party_client;
mod tls_auth;
