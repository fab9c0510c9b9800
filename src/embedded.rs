//! The default endpoint: a fresh emulator in this process, reached through the ordinary
//! client over in-memory HTTP/2, so that what the embedded run certifies is the wire.

use std::time::Duration;

use crate::client::{Client, ConnectError, Wire, in_memory_channel, in_memory_direct};
use crate::emulator::{Config, Emulator, FaultSet};

/// A client of a new emulator with a random wrapping key. Needs a tokio runtime.
pub fn client(wire: Wire, timeout: Duration) -> Client {
    faulty_client(FaultSet::default(), wire, timeout)
}

/// A client of a new emulator that commits `faults` (mutation testing of the suites).
/// Needs a tokio runtime.
pub fn faulty_client(faults: FaultSet, wire: Wire, timeout: Duration) -> Client {
    let emulator = Emulator::new(Config { faults, ..Config::default() });
    Client::new(in_memory_channel(emulator.routes(None)), wire, timeout)
}

/// `connections` HTTP/2 connections to one new embedded emulator (in-memory pipes, real
/// HTTP/2 framing), over the direct transport as for an endpoint. Needs a tokio runtime.
pub async fn direct_clients(
    connections: usize,
    wire: Wire,
    timeout: Duration,
) -> Result<Vec<Client>, ConnectError> {
    let emulator = Emulator::new(Config::default());
    let mut out = Vec::new();
    for _ in 0..connections.max(1) {
        let routes = tonic::service::Routes::new(emulator.service());
        out.push(Client::direct(in_memory_direct(routes, timeout).await?, wire, timeout));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Args;
    use crate::emulator::Fault;
    use crate::rpc::Rpc;

    #[tokio::test]
    async fn a_refusal_with_retry_is_retried_and_counted() {
        let faults = [Fault::TransientUnavailable].into_iter().collect();
        let client = faulty_client(faults, Wire::Keyblob, Duration::from_secs(5));
        let mut retries = 0;
        for _ in 0..10 {
            let counted = client.call_counted(Rpc::GetMechanismList, &Args::default()).await;
            assert!(counted.result.is_ok(), "{:?}", counted.result);
            retries += counted.retries;
        }
        // Every fifth call is refused once; the same request is never refused again, so
        // only the first refusal of this one request happens.
        assert_eq!(retries, 1);
    }
}
