//! Digests and HMACs.

use hmac::{Hmac, KeyInit, Mac, SimpleHmac};
use sha2::Digest;

use super::{RefError, err};
use crate::pkcs11::ibm;
use crate::pkcs11::{self as p11, CkMechanismType};

pub fn digest(mech: CkMechanismType, data: &[u8]) -> Result<Vec<u8>, RefError> {
    Ok(match mech {
        p11::CKM_SHA_1 => sha1::Sha1::digest(data).to_vec(),
        p11::CKM_SHA224 => sha2::Sha224::digest(data).to_vec(),
        p11::CKM_SHA256 => sha2::Sha256::digest(data).to_vec(),
        p11::CKM_SHA384 => sha2::Sha384::digest(data).to_vec(),
        p11::CKM_SHA512 => sha2::Sha512::digest(data).to_vec(),
        p11::CKM_SHA512_224 | ibm::CKM_IBM_SHA512_224 => sha2::Sha512_224::digest(data).to_vec(),
        p11::CKM_SHA512_256 | ibm::CKM_IBM_SHA512_256 => sha2::Sha512_256::digest(data).to_vec(),
        p11::CKM_SHA3_224 | ibm::CKM_IBM_SHA3_224 => sha3::Sha3_224::digest(data).to_vec(),
        p11::CKM_SHA3_256 | ibm::CKM_IBM_SHA3_256 => sha3::Sha3_256::digest(data).to_vec(),
        p11::CKM_SHA3_384 | ibm::CKM_IBM_SHA3_384 => sha3::Sha3_384::digest(data).to_vec(),
        p11::CKM_SHA3_512 | ibm::CKM_IBM_SHA3_512 => sha3::Sha3_512::digest(data).to_vec(),
        other => return err(format!("no local digest for {other}")),
    })
}

fn hmac_of<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Result<Vec<u8>, RefError> {
    let mut mac = <M as KeyInit>::new_from_slice(key).map_err(|e| RefError(format!("HMAC key: {e}")))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

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
        other => err(format!("no local MAC for {other}")),
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
    Some(if expected == mac { Ok(()) } else { err("the MAC does not match the local computation") })
}
