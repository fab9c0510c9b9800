//! HMAC (RFC 2104) over the hashes of [`HashAlg`], full-length output (CKM_SHA256_HMAC,
//! PKCS #11 §2.18.4; IBM's CKM_IBM_SHA3_*_HMAC the same over SHA-3): signatures are
//! exactly the hash length.
//!
//! AWS-LC (`aws-lc-rs`) computes HMAC over SHA-1 and SHA-2; it has no HMAC over SHA-3 or
//! SHA-512/t, which RustCrypto's hmac crate computes (`SimpleHmac`: the sha3 crate does
//! not expose the block-level API `Hmac` needs).

use aws_lc_rs::hmac as lc;
use hmac::{KeyInit, Mac, SimpleHmac as Hmac};

use super::aes::RandomSecret;
use super::digest::{HashAlg, with_hasher};
use super::registry::{Registry, SIGN, Sign};
use super::sign::{SignParam, SignScheme};
use super::{GENERIC_SECRET_MAX, GENERIC_SECRET_MIN, Mechanism};
use crate::emulator::blob::{Key, Material};
use crate::emulator::engine::type_inconsistent;
use crate::emulator::error::{Error, Result};
use crate::pkcs11::ibm;
use crate::pkcs11::*;

/// The MAC of `message` under `key`.
pub fn mac(alg: HashAlg, key: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    if let Some(lc_alg) = lc_algorithm(alg) {
        return Ok(lc::sign(&lc::Key::new(lc_alg, key), message).as_ref().to_vec());
    }
    with_hasher!(alg, D => {
        let mut mac = <Hmac<D> as KeyInit>::new_from_slice(key).map_err(|_| Error::KeyHandleInvalid)?;
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    })
}

/// Checks a MAC in constant time; a MAC of the wrong length is CKR_SIGNATURE_LEN_RANGE.
pub fn verify(alg: HashAlg, key: &[u8], message: &[u8], signature: &[u8]) -> Result<()> {
    if let Some(lc_alg) = lc_algorithm(alg) {
        let expected = lc_alg.digest_algorithm().output_len();
        if signature.len() != expected {
            return Err(Error::SignatureLenRange { expected, got: signature.len() });
        }
        // Compares in constant time.
        return lc::verify(&lc::Key::new(lc_alg, key), message, signature)
            .map_err(|_| Error::SignatureInvalid);
    }
    with_hasher!(alg, D => {
        let mut mac = <Hmac<D> as KeyInit>::new_from_slice(key).map_err(|_| Error::KeyHandleInvalid)?;
        let expected = <Hmac<D> as hmac::digest::OutputSizeUser>::output_size();
        if signature.len() != expected {
            return Err(Error::SignatureLenRange { expected, got: signature.len() });
        }
        mac.update(message);
        mac.verify_slice(signature).map_err(|_| Error::SignatureInvalid)
    })
}

/// AWS-LC's HMAC over `alg`, where it has one.
fn lc_algorithm(alg: HashAlg) -> Option<lc::Algorithm> {
    Some(match alg {
        HashAlg::Sha1 => lc::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha224 => lc::HMAC_SHA224,
        HashAlg::Sha256 => lc::HMAC_SHA256,
        HashAlg::Sha384 => lc::HMAC_SHA384,
        HashAlg::Sha512 => lc::HMAC_SHA512,
        _ => return None,
    })
}

/// Generic secrets (the keys HMAC takes) and the HMAC mechanisms.
pub(super) fn register(r: &mut Registry) {
    r.add(CKM_GENERIC_SECRET_KEY_GEN, GENERIC_SECRET_MIN, GENERIC_SECRET_MAX, CKF_GENERATE)
        .key_gen(RandomSecret(CKK_GENERIC_SECRET));
    for (mech, alg) in [
        (CKM_SHA256_HMAC, HashAlg::Sha256),
        (CKM_SHA_1_HMAC, HashAlg::Sha1),
        (CKM_SHA224_HMAC, HashAlg::Sha224),
        (CKM_SHA384_HMAC, HashAlg::Sha384),
        (CKM_SHA512_HMAC, HashAlg::Sha512),
        (ibm::CKM_IBM_SHA3_224_HMAC, HashAlg::Sha3_224),
        (ibm::CKM_IBM_SHA3_256_HMAC, HashAlg::Sha3_256),
        (ibm::CKM_IBM_SHA3_384_HMAC, HashAlg::Sha3_384),
        (ibm::CKM_IBM_SHA3_512_HMAC, HashAlg::Sha3_512),
    ] {
        r.add(mech, GENERIC_SECRET_MIN, GENERIC_SECRET_MAX, SIGN).sign(HmacSign(alg));
    }
}

/// Full-length HMAC with this hash.
struct HmacSign(HashAlg);

impl Sign for HmacSign {
    fn scheme(&self) -> SignScheme {
        SignScheme::Hmac(self.0)
    }

    /// IBM's service MACs with AES keys as well as generic secrets (its clients sign with
    /// CKM_SHA256_HMAC under an AES key); other key types stay refused.
    fn key(&self, mech: &Mechanism, key: &Key, _: bool, param: SignParam) -> Result<(Vec<u8>, SignParam)> {
        match &key.material {
            Material::Secret(v) if matches!(key.attrs.key_type(), CKK_GENERIC_SECRET | CKK_AES) => {
                Ok((v.to_vec(), param))
            }
            _ => Err(type_inconsistent(mech.mech, &key.attrs)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 (key "Jefe").
    #[test]
    fn rfc4231_case_2() {
        let tag = mac(HashAlg::Sha256, b"Jefe", b"what do ya want for nothing?").unwrap();
        assert_eq!(hex::encode(&tag), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert!(verify(HashAlg::Sha256, b"Jefe", b"what do ya want for nothing?", &tag).is_ok());
    }
}
