//! The default endpoint: a fresh emulator in this process, reached through the ordinary
//! client over in-memory HTTP/2, so that what the embedded run certifies is the wire.

use std::time::Duration;

use crate::client::{Client, Wire, in_memory_channel};
use crate::emulator::{Config, Emulator, FaultSet};

/// A client of a new emulator with a random wrapping key. Needs a tokio runtime.
pub fn client(wire: Wire, timeout: Duration) -> Client {
    faulty_client(FaultSet::default(), wire, timeout)
}

/// A client of a new emulator that commits `faults` (mutation testing of the suites).
/// Needs a tokio runtime.
pub fn faulty_client(faults: FaultSet, wire: Wire, timeout: Duration) -> Client {
    let emulator = Emulator::new(Config { faults, ..Config::default() });
    Client::new(in_memory_channel(emulator.routes()), wire, timeout)
}
