//! DSA verification (`local.verify` with CKM_DSA and CKM_DSA_SHA*), with RustCrypto's `dsa`
//! crate: signatures are PKCS #11's `r || s`, keys SubjectPublicKeyInfos (or public key
//! blobs that begin with one).

use dsa::pkcs8::DecodePublicKey;
use dsa::signature::hazmat::PrehashVerifier;

use super::{RefError, digest::digest, ec::spki};
use crate::pkcs11::{self as p11, CkMechanismType};

/// The hash a DSA mechanism applies (CKM_DSA signs the data as the hash).
fn prehash(mech: CkMechanismType, data: &[u8]) -> Option<Result<Vec<u8>, RefError>> {
    let hash = match mech {
        p11::CKM_DSA => return Some(Ok(data.to_vec())),
        p11::CKM_DSA_SHA1 => p11::CKM_SHA_1,
        p11::CKM_DSA_SHA224 => p11::CKM_SHA224,
        p11::CKM_DSA_SHA256 => p11::CKM_SHA256,
        p11::CKM_DSA_SHA384 => p11::CKM_SHA384,
        p11::CKM_DSA_SHA512 => p11::CKM_SHA512,
        _ => return None,
    };
    Some(digest(hash, data))
}

pub(super) fn verify(
    mech: CkMechanismType,
    key: &[u8],
    data: &[u8],
    signature: &[u8],
) -> Option<Result<(), RefError>> {
    let hash = prehash(mech, data)?;
    Some((|| {
        let hash = hash?;
        let vk = dsa::VerifyingKey::from_public_key_der(&spki(key)?)
            .map_err(|e| RefError::Malformed(format!("not a DSA public key: {e}")))?;
        let n = vk.components().q().bit_width_vartime().div_ceil(8) as usize;
        if signature.len() != 2 * n {
            return Err(RefError::Malformed(format!(
                "a DSA signature here has {} bytes, not {}",
                2 * n,
                signature.len()
            )));
        }
        let (r, s) = signature.split_at(n);
        let sig = dsa::Signature::from_components(
            dsa::BoxedUint::from_be_slice_vartime(r),
            dsa::BoxedUint::from_be_slice_vartime(s),
        )
        .ok_or_else(|| RefError::Refuted("r or s is zero".into()))?;
        vk.verify_prehash(&hash, &sig)
            .map_err(|_| RefError::Refuted("the signature does not verify locally".into()))
    })())
}
