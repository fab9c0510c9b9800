//! The HTTP/2 server settings shared by everything in this process that serves GREP11: the
//! emulator (`serve` and the embedded endpoint), the in-memory channels, and the recording
//! proxy.

/// Streams a client may cancel before the server takes them up (see [`server`]).
pub const MAX_PENDING_RESETS: usize = 65_536;

/// The HTTP/2 server a GREP11 service is served with, on a socket or an in-memory pipe. A
/// load generator running above capacity cancels calls at their deadline, often before the
/// server has taken them up; hyper counts those as a rapid-reset attack (CVE-2023-44487)
/// after 20 and closes the connection, failing every later call on it. An endpoint under
/// test must survive its own load tests, so the limit is raised, not removed: a runaway
/// client still meets it.
pub fn server() -> tonic::transport::Server {
    tonic::transport::Server::builder().http2_max_pending_accept_reset_streams(Some(MAX_PENDING_RESETS))
}
