//! AES-CMAC (NIST SP 800-38B; CKM_AES_CMAC, PKCS #11 v2.40 §2.10.7): full-length 16-byte
//! MACs with AES-128/192/256 keys, computed by AWS-LC (`aws-lc-rs`). The truncating
//! variant (CKM_AES_CMAC_GENERAL) is not offered.

use aws_lc_rs::cmac as lc;

use super::Mechanism;
use super::registry::{Registry, SIGN, Sign};
use super::sign::{SignParam, SignScheme};
use crate::emulator::blob::Key;
use crate::emulator::engine::secret_value;
use crate::emulator::error::{Error, Result};
use crate::pkcs11::{CKK_AES, CKM_AES_CMAC};

/// A CMAC tag is one AES block.
pub const TAG_LEN: usize = 16;

/// AWS-LC's CMAC key for an AES key; blobs only hold AES keys of 16, 24 or 32 bytes, so
/// another length is a corrupt key.
fn key_of(key: &[u8]) -> Result<lc::Key> {
    let alg = match key.len() {
        16 => lc::AES_128,
        24 => lc::AES_192,
        32 => lc::AES_256,
        _ => return Err(Error::KeyHandleInvalid),
    };
    lc::Key::new(alg, key).map_err(|_| Error::KeyHandleInvalid)
}

/// The CMAC of `message` under the AES key `key`.
pub fn mac(key: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    let tag = lc::sign(&key_of(key)?, message).map_err(|_| Error::General("AWS-LC CMAC failed"))?;
    Ok(tag.as_ref().to_vec())
}

/// Checks a tag in constant time; a tag that is not 16 bytes is CKR_SIGNATURE_LEN_RANGE.
pub fn verify(key: &[u8], message: &[u8], signature: &[u8]) -> Result<()> {
    if signature.len() != TAG_LEN {
        return Err(Error::SignatureLenRange { expected: TAG_LEN, got: signature.len() });
    }
    lc::verify(&key_of(key)?, message, signature).map_err(|_| Error::SignatureInvalid)
}

/// CKM_AES_CMAC.
pub(super) fn register(r: &mut Registry) {
    r.add(CKM_AES_CMAC, 16, 32, SIGN).sign(CmacSign);
}

struct CmacSign;

impl Sign for CmacSign {
    fn scheme(&self) -> SignScheme {
        SignScheme::Cmac
    }

    fn key(&self, mech: &Mechanism, key: &Key, _: bool, param: SignParam) -> Result<(Vec<u8>, SignParam)> {
        Ok((secret_value(key, mech.mech, CKK_AES)?.to_vec(), param))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NIST SP 800-38B Appendix D.1, AES-128 example 2 (one block) and example 1 (empty).
    #[test]
    fn sp800_38b_known_answers() {
        let key = hex::decode("2b7e151628aed2a6abf7158809cf4f3c").unwrap();
        let msg = hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap();
        assert_eq!(hex::encode(mac(&key, &msg).unwrap()), "070a16b46b4d4144f79bdd9dd04a287c");
        assert_eq!(hex::encode(mac(&key, b"").unwrap()), "bb1d6929e95937287fa37d129b756746");
        let tag = mac(&key, &msg).unwrap();
        assert!(verify(&key, &msg, &tag).is_ok());
        assert_eq!(verify(&key, b"other", &tag).unwrap_err().rv(), crate::pkcs11::CKR_SIGNATURE_INVALID);
        assert_eq!(mac(&[0; 15], b"").unwrap_err().rv(), crate::pkcs11::CKR_KEY_HANDLE_INVALID);
    }
}
