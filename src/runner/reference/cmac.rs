//! AES-CMAC (NIST SP 800-38B), full 16-byte tags.

use aes::{Aes128, Aes192, Aes256};
use cmac::{Cmac, KeyInit, Mac};

use super::{RefError, malformed, refuted};
use crate::pkcs11::{self as p11, CkMechanismType};

fn cmac_of<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Result<Vec<u8>, RefError> {
    let mut mac =
        <M as KeyInit>::new_from_slice(key).map_err(|e| RefError::Malformed(format!("CMAC key: {e}")))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

fn cmac(key: &[u8], data: &[u8]) -> Result<Vec<u8>, RefError> {
    match key.len() {
        16 => cmac_of::<Cmac<Aes128>>(key, data),
        24 => cmac_of::<Cmac<Aes192>>(key, data),
        32 => cmac_of::<Cmac<Aes256>>(key, data),
        n => malformed(format!("an AES key has 16, 24 or 32 bytes, not {n}")),
    }
}

/// `local.sign` for CKM_AES_CMAC.
pub(super) fn sign(mech: CkMechanismType, key: &[u8], data: &[u8]) -> Option<Result<Vec<u8>, RefError>> {
    (mech == p11::CKM_AES_CMAC).then(|| cmac(key, data))
}

/// `local.verify` for CKM_AES_CMAC: recompute and compare.
pub(super) fn verify(
    mech: CkMechanismType,
    key: &[u8],
    data: &[u8],
    tag: &[u8],
) -> Option<Result<(), RefError>> {
    let expected = sign(mech, key, data)?;
    Some(expected.and_then(|e| {
        if e == tag { Ok(()) } else { refuted("the CMAC does not match the local computation") }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NIST SP 800-38B D.1 (AES-128), example 2: one block.
    #[test]
    fn sp800_38b_example_2() {
        let key = hex::decode("2b7e151628aed2a6abf7158809cf4f3c").unwrap();
        let msg = hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap();
        let tag = sign(p11::CKM_AES_CMAC, &key, &msg).unwrap().unwrap();
        assert_eq!(hex::encode(&tag), "070a16b46b4d4144f79bdd9dd04a287c");
        assert!(verify(p11::CKM_AES_CMAC, &key, &msg, &tag).unwrap().is_ok());
        assert!(verify(p11::CKM_AES_CMAC, &key, b"other", &tag).unwrap().is_err());
        assert!(sign(p11::CKM_SHA256_HMAC, &key, &msg).is_none());
    }
}
