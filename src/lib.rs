//! grep11-harness: conformance suites, a CI runner and a load generator for GREP11
//! (Enterprise PKCS #11 over gRPC), with an embedded software GREP11 emulator.

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
pub mod status;
pub mod suite;
