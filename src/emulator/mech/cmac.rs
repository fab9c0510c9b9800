//! AES-CMAC (NIST SP 800-38B; CKM_AES_CMAC, PKCS #11 v2.40 §2.10.7): full-length 16-byte
//! MACs with AES-128/192/256 keys. The truncating variant (CKM_AES_CMAC_GENERAL) is not
//! offered.

use aes::{Aes128, Aes192, Aes256};
use cmac::{Cmac, KeyInit, Mac};

use crate::emulator::error::{Error, Result};

/// A CMAC tag is one AES block.
pub const TAG_LEN: usize = 16;

/// Runs `$body` with `$M` bound to the CMAC type for an AES key of `$len` bytes.
macro_rules! with_cmac {
    ($len:expr, $M:ident => $body:expr) => {
        match $len {
            16 => {
                type $M = Cmac<Aes128>;
                $body
            }
            24 => {
                type $M = Cmac<Aes192>;
                $body
            }
            32 => {
                type $M = Cmac<Aes256>;
                $body
            }
            // Key blobs only hold AES keys of these lengths; anything else is a corrupt key.
            _ => Err(Error::KeyHandleInvalid),
        }
    };
}

/// The CMAC of `message` under the AES key `key`.
pub fn mac(key: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    with_cmac!(key.len(), M => {
        let mut mac = <M as KeyInit>::new_from_slice(key).map_err(|_| Error::KeyHandleInvalid)?;
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    })
}

/// Checks a tag in constant time; a tag that is not 16 bytes is CKR_SIGNATURE_LEN_RANGE.
pub fn verify(key: &[u8], message: &[u8], signature: &[u8]) -> Result<()> {
    if signature.len() != TAG_LEN {
        return Err(Error::SignatureLenRange { expected: TAG_LEN, got: signature.len() });
    }
    with_cmac!(key.len(), M => {
        let mut mac = <M as KeyInit>::new_from_slice(key).map_err(|_| Error::KeyHandleInvalid)?;
        mac.update(message);
        mac.verify_slice(signature).map_err(|_| Error::SignatureInvalid)
    })
}
