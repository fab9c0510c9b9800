//! Load mode: how many operations per second an endpoint sustains per mechanism, and at
//! what latency. `workload` (the YAML workloads and the built-in catalogue, setup and one
//! measured iteration), `sched` (closed and open loop), `record` (HdrHistograms per
//! workload, phase and interval), `cond` (thresholds and SLOs), `find_max` (capacity
//! search), `segment` (one agent's share of a distributed run), and the outputs: `report`
//! (table, JSON), `hlog` (interval logs), `html`, and `merge` (`report merge`).

pub mod cond;
pub mod find_max;
pub(crate) mod hlog;
pub(crate) mod html;
pub(crate) mod merge;
pub mod record;
pub mod report;
pub mod sched;
pub(crate) mod segment;
pub mod workload;

use crate::client::{Client, ConnectError, Endpoint, Wire};

/// `connections` separate HTTP/2 connections to `endpoint`, sharing its metadata (and so
/// one cached bearer token); lean ones where the endpoint allows (`Client::connect_lean`):
/// the generator must cost less CPU per call than the endpoint it measures.
pub async fn endpoint_clients(
    endpoint: &Endpoint,
    connections: usize,
    wire: Wire,
) -> Result<Vec<Client>, ConnectError> {
    let mut out = Vec::new();
    for _ in 0..connections.max(1) {
        out.push(Client::connect_lean(endpoint, wire).await?);
    }
    Ok(out)
}
