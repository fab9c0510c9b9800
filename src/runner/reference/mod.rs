//! The harness's own cryptography, independent of any endpoint: what `local.*` steps and
//! expression functions compute, so that an endpoint that is consistently wrong (a wrong
//! digest everywhere, a signature only it accepts) still fails. All of it comes from
//! RustCrypto crates; nothing here implements a primitive.
//!
//! One file per family. A family's `sign`/`verify` answer `None` for mechanisms that are
//! not theirs, so the dispatch below is a chain, one line per family.

mod cipher;
mod cmac;
mod dh;
mod digest;
mod dsa;
mod ec;
pub mod randomness;
mod rsa;

pub use cipher::{cipher, kcv};
pub use dh::{agree as dh_agree, keypair as dh_keypair};
pub use digest::{digest, hmac};
pub use ec::{KeyPair, ec_compressed, ec_point, ec_point_matches, ecdh, ecdh_kdf, keypair, spki};
pub use randomness::check as randomness;
pub use rsa::{cipher as rsa_cipher, keypair as rsa_keypair};

use crate::pkcs11::CkMechanismType;

/// Why a reference computation gave no result. The kind is what the computation knows; who
/// is to blame also depends on who supplied the input, which the step knows
/// (`EvalError::Reference` joins the two).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// The computation ran and contradicts its input: a signature or MAC that does not
    /// verify, a ciphertext that does not decrypt, a key on another curve than asked,
    /// random data with a repeated block. Whatever supplied that input is wrong.
    #[error("{0}")]
    Refuted(String),
    /// An input is not of the form the computation takes: a key, point, signature or
    /// parameter set that does not parse, a length that cannot be.
    #[error("{0}")]
    Malformed(String),
    /// The computation cannot be made as asked: a mechanism, curve, KDF or key type the
    /// harness does not compute, or a parameter the mechanism needs (an IV, OAEP
    /// parameters, a length) missing or of the wrong size.
    #[error("{0}")]
    Unsupported(String),
    /// The cryptography library failed on input it had accepted (key generation, signing).
    #[error("{0}")]
    Failed(String),
}

fn malformed<T>(msg: impl Into<String>) -> Result<T, RefError> {
    Err(RefError::Malformed(msg.into()))
}

fn refuted<T>(msg: impl Into<String>) -> Result<T, RefError> {
    Err(RefError::Refuted(msg.into()))
}

fn unsupported<T>(msg: impl Into<String>) -> Result<T, RefError> {
    Err(RefError::Unsupported(msg.into()))
}

/// `local.sign`: a MAC with a raw key, or a signature with a raw private key.
pub fn sign(mech: CkMechanismType, key: &[u8], data: &[u8]) -> Result<Vec<u8>, RefError> {
    digest::sign(mech, key, data)
        .or_else(|| cmac::sign(mech, key, data))
        .or_else(|| ec::sign(mech, key, data))
        .or_else(|| rsa::sign(mech, key, data))
        .unwrap_or_else(|| unsupported(format!("no local signing for {mech}")))
}

/// `local.verify`: a MAC compared with a raw key, or a signature checked with an SPKI (or
/// a public key blob that begins with one); `curve` (CKA_EC_PARAMS) is the curve an EC key
/// must be on.
pub fn verify(
    mech: CkMechanismType,
    key: &[u8],
    data: &[u8],
    signature: &[u8],
    curve: Option<&[u8]>,
) -> Result<(), RefError> {
    digest::verify(mech, key, data, signature)
        .or_else(|| cmac::verify(mech, key, data, signature))
        .or_else(|| ec::verify(mech, key, data, signature, curve))
        .or_else(|| rsa::verify(mech, key, data, signature))
        .or_else(|| dsa::verify(mech, key, data, signature))
        .unwrap_or_else(|| unsupported(format!("no local verification for {mech}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs11::{self as p11, Curve};

    #[test]
    fn fips_180_abc() {
        assert_eq!(
            hex::encode(digest(p11::CKM_SHA256, b"abc").unwrap()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn sp800_38a_f21_cbc_aes128_first_block() {
        let key = hex::decode("2b7e151628aed2a6abf7158809cf4f3c").unwrap();
        let iv = hex::decode("000102030405060708090a0b0c0d0e0f").unwrap();
        let pt = hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap();
        let ct = cipher(p11::CKM_AES_CBC, &key, Some(&iv), &pt, true).unwrap();
        assert_eq!(hex::encode(&ct), "7649abac8119b246cee98e9b12e9197d");
        assert_eq!(cipher(p11::CKM_AES_CBC, &key, Some(&iv), &ct, false).unwrap(), pt);
    }

    #[test]
    fn rfc4231_case_2() {
        let mac = hmac(p11::CKM_SHA256_HMAC, b"Jefe", b"what do ya want for nothing?").unwrap();
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn ecdsa_and_ecdh_round_trip_with_trailing_tag() {
        let KeyPair { private_scalar: private, spki: spki_der, point, .. } =
            keypair(&Curve::P256.ec_params()).unwrap();
        let sig = sign(p11::CKM_ECDSA_SHA256, &private, b"hello").unwrap();
        let mut blob = spki_der.clone();
        blob.extend_from_slice(b"integrity-tag");
        verify(p11::CKM_ECDSA_SHA256, &blob, b"hello", &sig, None).unwrap();
        assert!(verify(p11::CKM_ECDSA_SHA256, &blob, b"hellO", &sig, None).is_err());
        assert_eq!(ec_point(&blob).unwrap(), point);
        let KeyPair { private_scalar: other, spki: other_spki, .. } =
            keypair(&Curve::P256.ec_params()).unwrap();
        assert_eq!(ecdh(&private, &other_spki).unwrap(), ecdh(&other, &point).unwrap());
    }
}
