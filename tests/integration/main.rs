//! The integration tests, as modules of one test binary: each would otherwise link its own
//! copy of the library and its dependencies (about 250 MB apiece in a debug build), which
//! was most of the debug target's size and of `cargo test`'s link time.
//!
//! `tests/conformance.rs` and `tests/mutation.rs` (libtest-mimic harnesses) stay binaries
//! of their own. Tests that need the emulator's internals are unit tests inside the crate
//! (`src/emulator/tests/`): the library does not export them.

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
mod unusual;
