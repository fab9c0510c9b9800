//! Load mode: how many operations per second an endpoint sustains per mechanism, and at
//! what latency. `workload` (the YAML workloads and the built-in catalogue, setup and one
//! measured iteration), `sched` (closed and open loop), `record` (HdrHistograms per
//! workload, phase and interval), `cond` (thresholds and SLOs), `find_max` (capacity
//! search), and the outputs: `report` (table, JSON), `hlog` (interval logs, merge), `html`.

pub mod cond;
pub mod find_max;
pub mod hlog;
pub mod html;
pub mod record;
pub mod report;
pub mod sched;
pub mod workload;

use std::time::Duration;

use crate::client::{Client, ConnectError, Wire, in_memory_channel};
use crate::emulator::{Config, Emulator};

/// `connections` HTTP/2 connections to one new embedded emulator (in-memory pipes, real
/// HTTP/2 framing). Needs a tokio runtime.
pub fn embedded_clients(connections: usize, wire: Wire, timeout: Duration) -> Vec<Client> {
    let emulator = Emulator::new(Config::default());
    (0..connections.max(1))
        .map(|_| {
            Client::new(in_memory_channel(tonic::service::Routes::new(emulator.service())), wire, timeout)
        })
        .collect()
}

/// `connections` separate HTTP/2 connections to `url`.
pub async fn endpoint_clients(
    url: &str,
    connections: usize,
    wire: Wire,
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<Vec<Client>, ConnectError> {
    let mut out = Vec::new();
    for _ in 0..connections.max(1) {
        out.push(Client::connect(url, wire, timeout, connect_timeout).await?);
    }
    Ok(out)
}
