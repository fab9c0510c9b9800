//! Message digests: SHA-1, the SHA-2 family (FIPS 180-4: SHA-224/256/384/512, SHA-512/224,
//! SHA-512/256) and SHA-3 (FIPS 202: SHA3-224..512). Multi-part state is the
//! hash function's own serialized state (`SerializableState` of RustCrypto's hashers), so a
//! state's size is fixed by the algorithm and never grows with the data.

use serde::{Deserialize, Serialize};
use sha2::digest::Digest;
use sha2::digest::common::hazmat::{SerializableState, SerializedState};

use super::registry::Registry;
use crate::emulator::error::{Error, Result};
use crate::pkcs11::ibm;
use crate::pkcs11::*;

/// A hash algorithm, as a mechanism row names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HashAlg {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha512_224,
    Sha512_256,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
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
            HashAlg::Sha512_224 => {
                type $D = sha2::Sha512_224;
                $body
            }
            HashAlg::Sha512_256 => {
                type $D = sha2::Sha512_256;
                $body
            }
            HashAlg::Sha3_224 => {
                type $D = sha3::Sha3_224;
                $body
            }
            HashAlg::Sha3_256 => {
                type $D = sha3::Sha3_256;
                $body
            }
            HashAlg::Sha3_384 => {
                type $D = sha3::Sha3_384;
                $body
            }
            HashAlg::Sha3_512 => {
                type $D = sha3::Sha3_512;
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

/// The digest mechanisms, PKCS #11's and IBM's codes for the same hashes.
pub(super) fn register(r: &mut Registry) {
    for (mech, alg) in [
        (CKM_SHA_1, HashAlg::Sha1),
        (CKM_SHA256, HashAlg::Sha256),
        (CKM_SHA384, HashAlg::Sha384),
        (CKM_SHA512, HashAlg::Sha512),
        (CKM_SHA224, HashAlg::Sha224),
        (CKM_SHA512_224, HashAlg::Sha512_224),
        (ibm::CKM_IBM_SHA512_224, HashAlg::Sha512_224),
        (CKM_SHA512_256, HashAlg::Sha512_256),
        (ibm::CKM_IBM_SHA512_256, HashAlg::Sha512_256),
        (ibm::CKM_IBM_SHA3_224, HashAlg::Sha3_224),
        (ibm::CKM_IBM_SHA3_256, HashAlg::Sha3_256),
        (ibm::CKM_IBM_SHA3_384, HashAlg::Sha3_384),
        (ibm::CKM_IBM_SHA3_512, HashAlg::Sha3_512),
        (CKM_SHA3_224, HashAlg::Sha3_224),
        (CKM_SHA3_256, HashAlg::Sha3_256),
        (CKM_SHA3_384, HashAlg::Sha3_384),
        (CKM_SHA3_512, HashAlg::Sha3_512),
    ] {
        r.add(mech, 0, 0, CKF_DIGEST).digest(alg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 448-bit two-block message of the FIPS 180-4 examples.
    const M448: &[u8] = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

    /// Known answers, each streamed through the serialized state one byte at a time too.
    /// Sources: "abc" and M448 for SHA-1/224/256 and "abc" for SHA-224, SHA-512/224 and
    /// SHA-512/256: NIST's FIPS 180-4 example files (csrc.nist.gov, "Examples with
    /// Intermediate Values"); SHA3-* of the empty message: NIST's FIPS 202 example files
    /// (SHA3-*_Msg0). M448 for the SHA-512 family (one block there: NIST uses an 896-bit
    /// message instead) and SHA3-* of "abc": the published table of D. Ireland, "Test
    /// vectors for SHA-1, SHA-2 and SHA-3" (di-mgt.com.au). Every value was checked
    /// against OpenSSL when it was typed.
    #[test]
    fn fips_known_answers() {
        let cases: &[(HashAlg, &[u8], &str)] = &[
            (HashAlg::Sha1, M448, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
            (HashAlg::Sha224, b"abc", "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"),
            (HashAlg::Sha224, M448, "75388b16512776cc5dba5da1fd890150b0c6455cb4f58b1952522525"),
            (HashAlg::Sha256, M448, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
            (
                HashAlg::Sha384,
                M448,
                "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6b0455a8520bc4e6f5fe95b1fe3c8452b",
            ),
            (
                HashAlg::Sha512,
                M448,
                "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c33596fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445",
            ),
            (HashAlg::Sha512_224, b"abc", "4634270f707b6a54daae7530460842e20e37ed265ceee9a43e8924aa"),
            (HashAlg::Sha512_224, M448, "e5302d6d54bb242275d1e7622d68df6eb02dedd13f564c13dbda2174"),
            (HashAlg::Sha512_256, b"abc", "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"),
            (HashAlg::Sha512_256, M448, "bde8e1f9f19bb9fd3406c90ec6bc47bd36d8ada9f11880dbc8a22a7078b6a461"),
            (HashAlg::Sha3_224, b"", "6b4e03423667dbb73b6e15454f0eb1abd4597f9a1b078e3f5b5a6bc7"),
            (HashAlg::Sha3_256, b"", "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"),
            (
                HashAlg::Sha3_384,
                b"",
                "0c63a75b845e4f7d01107d852e4c2485c51a50aaaa94fc61995e71bbee983a2ac3713831264adb47fb6bd1e058d5f004",
            ),
            (
                HashAlg::Sha3_512,
                b"",
                "a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a615b2123af1f5f94c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26",
            ),
            (HashAlg::Sha3_224, b"abc", "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf"),
            (HashAlg::Sha3_256, b"abc", "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"),
            (
                HashAlg::Sha3_384,
                b"abc",
                "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b298d88cea927ac7f539f1edf228376d25",
            ),
            (
                HashAlg::Sha3_512,
                b"abc",
                "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0",
            ),
        ];
        for &(alg, msg, want) in cases {
            assert_eq!(hex::encode(alg.digest(msg)), want, "{alg:?} {msg:?}");
            let mut state = DigestState::new(alg);
            let fresh_len = state.hash.len();
            for byte in msg.chunks(1) {
                state.update(byte).unwrap();
            }
            assert_eq!(state.hash.len(), fresh_len, "{alg:?}: the state does not grow");
            assert_eq!(hex::encode(state.finish().unwrap()), want, "{alg:?} streamed");
        }
    }

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
