//! Message digests (CKM_SHA_1, CKM_SHA256, CKM_SHA384, CKM_SHA512). Multi-part state is the
//! hash function's own serialized state (`SerializableState` of RustCrypto's hashers), so a
//! state's size is fixed by the algorithm and never grows with the data.

use serde::{Deserialize, Serialize};
use sha2::digest::Digest;
use sha2::digest::common::hazmat::{SerializableState, SerializedState};

use crate::emulator::error::{Error, Result};

/// A hash algorithm, as a mechanism row names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HashAlg {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// Runs `$body` with `$D` bound to the hasher type of `$alg`: one generic body instead of
/// one copy per algorithm.
macro_rules! with_hasher {
    ($alg:expr, $D:ident => $body:expr) => {
        match $alg {
            HashAlg::Sha1 => {
                type $D = sha1::Sha1;
                $body
            }
            HashAlg::Sha224 => {
                type $D = sha2::Sha224;
                $body
            }
            HashAlg::Sha256 => {
                type $D = sha2::Sha256;
                $body
            }
            HashAlg::Sha384 => {
                type $D = sha2::Sha384;
                $body
            }
            HashAlg::Sha512 => {
                type $D = sha2::Sha512;
                $body
            }
        }
    };
}
pub(crate) use with_hasher;

impl HashAlg {
    /// The digest of `data` in one pass.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        with_hasher!(self, D => D::digest(data).to_vec())
    }

    /// The serialized state of a hasher that has seen nothing.
    pub fn fresh(self) -> Vec<u8> {
        with_hasher!(self, D => D::default().serialize().to_vec())
    }

    /// Feeds `data` to a serialized state and returns the next one.
    pub fn update(self, state: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        with_hasher!(self, D => {
            let mut hasher = restore::<D>(state)?;
            Digest::update(&mut hasher, data);
            Ok(hasher.serialize().to_vec())
        })
    }

    /// The digest of everything a serialized state has seen.
    pub fn finish(self, state: &[u8]) -> Result<Vec<u8>> {
        with_hasher!(self, D => Ok(restore::<D>(state)?.finalize().to_vec()))
    }
}

/// A hasher from its serialized state. The state comes from an authenticated blob, so a
/// failure here means a payload of another version: refused as an invalid state.
fn restore<D: SerializableState>(state: &[u8]) -> Result<D> {
    let state = SerializedState::<D>::try_from(state).map_err(|_| Error::SavedStateInvalid)?;
    D::deserialize(&state).map_err(|_| Error::SavedStateInvalid)
}

/// The state of a multi-part digest.
#[derive(Serialize, Deserialize)]
pub struct DigestState {
    pub alg: HashAlg,
    hash: Vec<u8>,
}

impl DigestState {
    pub fn new(alg: HashAlg) -> DigestState {
        DigestState { alg, hash: alg.fresh() }
    }

    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        self.hash = self.alg.update(&self.hash, data)?;
        Ok(())
    }

    pub fn finish(&self) -> Result<Vec<u8>> {
        self.alg.finish(&self.hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS 180-2 appendix examples for the message "abc".
    #[test]
    fn abc_known_answers() {
        let cases = [
            (HashAlg::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (HashAlg::Sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                HashAlg::Sha384,
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
            ),
            (
                HashAlg::Sha512,
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
        ];
        for (alg, want) in cases {
            assert_eq!(hex::encode(alg.digest(b"abc")), want, "{alg:?}");
            let mut state = DigestState::new(alg);
            for part in [&b"a"[..], b"", b"bc"] {
                state.update(part).unwrap();
            }
            assert_eq!(hex::encode(state.finish().unwrap()), want, "{alg:?} multi-part");
        }
    }
}
