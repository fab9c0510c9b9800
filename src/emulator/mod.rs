//! The embedded GREP11 emulator: a stateless software GREP11 server for tests, CI and
//! load runs. Keys and operation states are blobs sealed under a wrapping key (`blob.rs`);
//! the server keeps nothing between calls.
//!
//! What the library exports is what serving it takes: an [`Emulator`] made from a
//! [`Config`], its tonic service ([`Emulator::service`]) or its routes with faults and a
//! [`BearerToken`] check ([`Emulator::routes`]), served with [`crate::serving::server`];
//! [`crate::embedded`] does it all in process. Its inside is the crate's own:
//!
//! Layers: `service.rs` (the only tonic code) decodes a request, makes one `engine.rs`
//! call and encodes the answer; the engine checks keys and templates (`attrs.rs`) and
//! dispatches to the mechanism families registered in `mech/`; `error.rs` decides every
//! `CK_RV`. `auth.rs` is the bearer-token check `serve` may apply in front of it all;
//! [`fault`] makes it misbehave on purpose, for mutation testing of the suites.

pub(crate) mod attrs;
pub(crate) mod auth;
pub(crate) mod blob;
pub(crate) mod cache;
pub(crate) mod engine;
pub(crate) mod error;
pub mod fault;
pub(crate) mod mech;
pub(crate) mod service;
#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use auth::BearerToken;
pub use error::Error;
pub use fault::{Fault, FaultSet};
pub use service::Served;

/// The environment variable that may hold the wrapping key (64 hex characters).
pub const WRAPPING_KEY_ENV: &str = "GREP11_WRAPPING_KEY";

/// How to start an emulator.
#[derive(Default)]
pub struct Config {
    /// The key that seals blobs; `None` draws a random one per process, so blobs do not
    /// survive a restart.
    pub wrapping_key: Option<[u8; 32]>,
    /// Defects to commit on purpose ([`fault`]); empty for a correct emulator.
    pub faults: FaultSet,
}

impl std::fmt::Debug for Config {
    /// Never prints the key itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = if self.wrapping_key.is_some() { "Some(<redacted>)" } else { "None" };
        f.debug_struct("Config")
            .field("wrapping_key", &format_args!("{key}"))
            .field("faults", &self.faults)
            .finish()
    }
}

impl Config {
    /// A configuration with the wrapping key given as 64 hex characters. The error never
    /// repeats the input.
    pub fn from_hex_key(hex: &str) -> Result<Config, Error> {
        let mut key = [0u8; 32];
        hex::decode_to_slice(hex.trim(), &mut key).map_err(|_| Error::WrappingKeyInvalid)?;
        Ok(Config { wrapping_key: Some(key), faults: FaultSet::default() })
    }
}

/// A running emulator; clones share one engine.
#[derive(Clone)]
pub struct Emulator {
    engine: Arc<engine::Engine>,
    faults: FaultSet,
}

impl Emulator {
    /// An emulator with `config`'s wrapping key (a random one when it has none) and faults.
    /// Nothing runs until its service is served.
    pub fn new(config: Config) -> Emulator {
        let key = config.wrapping_key.unwrap_or_else(|| {
            let mut key = [0u8; 32];
            rand::fill(&mut key[..]);
            key
        });
        Emulator { engine: Arc::new(engine::Engine::with_faults(&key, config.faults)), faults: config.faults }
    }

    /// The tonic service, ready for `Server::add_service`, with message size limits set.
    /// Only the engine's faults act through it; [`Emulator::routes`] injects them all.
    pub fn service(&self) -> Service {
        served(Arc::new(self.plain_service()))
    }

    /// What to serve: the service, inside [`fault::FaultyService`] when faults are
    /// configured, behind a bearer-token check when `bearer` is set. Nothing is wrapped
    /// around the service that is not asked for.
    pub fn routes(&self, bearer: Option<auth::BearerToken>) -> tonic::service::Routes {
        let server = if self.faults.is_empty() {
            self.service()
        } else {
            served(Arc::new(fault::FaultyService::new(self.plain_service(), self.faults)))
        };
        match bearer {
            None => tonic::service::Routes::new(server),
            Some(token) => tonic::service::Routes::new(service::guard(server, token)),
        }
    }

    fn plain_service(&self) -> service::CryptoService {
        service::CryptoService::new(self.engine.clone())
    }
}

/// The emulator's tonic service, whatever serves the calls inside it.
pub type Service = crate::proto::crypto_server::CryptoServer<service::Served>;

/// `inner` as the one service type, with the interface's message size limits.
fn served(inner: Arc<dyn crate::proto::crypto_server::Crypto>) -> Service {
    Service::new(service::Served(inner))
        .max_decoding_message_size(crate::rpc::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(crate::rpc::MAX_MESSAGE_BYTES)
}
