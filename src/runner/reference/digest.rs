//! Digests and HMACs.
//!
//! Digests come from AWS-LC (`aws-lc-rs`), not RustCrypto: the emulator hashes with
//! RustCrypto's `sha1`/`sha2`/`sha3` (its multi-part state must serialize, which AWS-LC's
//! Rust API does not offer), so the check must come from another implementation. AWS-LC
//! has no SHA-512/224 and no SHA3-224; those two are computed with RustCrypto here as in
//! the emulator, so for them only the published vectors of `suites/digest.yaml` are an
//! independent check. HMACs come from RustCrypto (the emulator's are AWS-LC's), except
//! over SHA-3, where AWS-LC has none and both sides use RustCrypto.

use aws_lc_rs::digest as lc;
use hmac::{Hmac, KeyInit, Mac, SimpleHmac};
use sha2::Digest;

use super::{RefError, refuted, unsupported};
use crate::pkcs11::ibm;
use crate::pkcs11::{self as p11, CkMechanismType};

/// The digest of `data` under a `CKM_SHA*` mechanism (the IBM SHA-3 and SHA-512/t
/// numbers included): what `local.digest` and the expression functions (`sha256(...)`)
/// compute. `Unsupported` for any other mechanism.
pub fn digest(mech: CkMechanismType, data: &[u8]) -> Result<Vec<u8>, RefError> {
    Ok(match mech {
        p11::CKM_SHA_1 => lc_digest(&lc::SHA1_FOR_LEGACY_USE_ONLY, data),
        p11::CKM_SHA224 => lc_digest(&lc::SHA224, data),
        p11::CKM_SHA256 => lc_digest(&lc::SHA256, data),
        p11::CKM_SHA384 => lc_digest(&lc::SHA384, data),
        p11::CKM_SHA512 => lc_digest(&lc::SHA512, data),
        p11::CKM_SHA512_224 | ibm::CKM_IBM_SHA512_224 => sha2::Sha512_224::digest(data).to_vec(),
        p11::CKM_SHA512_256 | ibm::CKM_IBM_SHA512_256 => lc_digest(&lc::SHA512_256, data),
        p11::CKM_SHA3_224 | ibm::CKM_IBM_SHA3_224 => sha3::Sha3_224::digest(data).to_vec(),
        p11::CKM_SHA3_256 | ibm::CKM_IBM_SHA3_256 => lc_digest(&lc::SHA3_256, data),
        p11::CKM_SHA3_384 | ibm::CKM_IBM_SHA3_384 => lc_digest(&lc::SHA3_384, data),
        p11::CKM_SHA3_512 | ibm::CKM_IBM_SHA3_512 => lc_digest(&lc::SHA3_512, data),
        other => return unsupported(format!("no local digest for {other}")),
    })
}

fn lc_digest(alg: &'static lc::Algorithm, data: &[u8]) -> Vec<u8> {
    lc::digest(alg, data).as_ref().to_vec()
}

fn hmac_of<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Result<Vec<u8>, RefError> {
    let mut mac =
        <M as KeyInit>::new_from_slice(key).map_err(|e| RefError::Malformed(format!("HMAC key: {e}")))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

/// The HMAC of `data` with the raw `key` under a `CKM_*_HMAC` mechanism (SHA-1, SHA-2 and
/// the IBM SHA-3 ones); `Unsupported` for any other mechanism.
pub fn hmac(mech: CkMechanismType, key: &[u8], data: &[u8]) -> Result<Vec<u8>, RefError> {
    match mech {
        p11::CKM_SHA_1_HMAC => hmac_of::<Hmac<sha1::Sha1>>(key, data),
        p11::CKM_SHA224_HMAC => hmac_of::<Hmac<sha2::Sha224>>(key, data),
        p11::CKM_SHA256_HMAC => hmac_of::<Hmac<sha2::Sha256>>(key, data),
        p11::CKM_SHA384_HMAC => hmac_of::<Hmac<sha2::Sha384>>(key, data),
        p11::CKM_SHA512_HMAC => hmac_of::<Hmac<sha2::Sha512>>(key, data),
        // sha3 has no block-level API, so HMAC over it is the hmac crate's SimpleHmac.
        ibm::CKM_IBM_SHA3_224_HMAC => hmac_of::<SimpleHmac<sha3::Sha3_224>>(key, data),
        ibm::CKM_IBM_SHA3_256_HMAC => hmac_of::<SimpleHmac<sha3::Sha3_256>>(key, data),
        ibm::CKM_IBM_SHA3_384_HMAC => hmac_of::<SimpleHmac<sha3::Sha3_384>>(key, data),
        ibm::CKM_IBM_SHA3_512_HMAC => hmac_of::<SimpleHmac<sha3::Sha3_512>>(key, data),
        other => unsupported(format!("no local MAC for {other}")),
    }
}

/// `local.sign` for MAC mechanisms.
pub(super) fn sign(mech: CkMechanismType, key: &[u8], data: &[u8]) -> Option<Result<Vec<u8>, RefError>> {
    hmac(mech, key, data).ok().map(Ok)
}

/// `local.verify` for MAC mechanisms: recompute and compare.
pub(super) fn verify(
    mech: CkMechanismType,
    key: &[u8],
    data: &[u8],
    mac: &[u8],
) -> Option<Result<(), RefError>> {
    let expected = hmac(mech, key, data).ok()?;
    Some(if expected == mac { Ok(()) } else { refuted("the MAC does not match the local computation") })
}
