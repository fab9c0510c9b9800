//! RSA: PKCS #1 v1.5 and PSS signatures, PKCS #1 v1.5 and OAEP encryption, key pairs.
//! Private keys are PKCS #8 DER, public keys SPKIs (or blobs that begin with one). PSS uses
//! MGF1 with the message hash and a salt as long as the hash (the usual choice, and what
//! suites ask endpoints for); raw CKM_RSA_PKCS_PSS takes its hash from the input length.

use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::{Oaep, Pkcs1v15Encrypt, Pkcs1v15Sign, PrivateKey, Pss, PublicKey};

use super::ec::{KeyPair, spki};
use super::{RefError, digest::digest, malformed, unsupported};
use crate::pkcs11::{self as p11, CkMechanismType};
use crate::proto::mechanism::Parameter;

/// Runs `$body` with `$D` bound to the hasher of a digest mechanism.
macro_rules! with_sha {
    ($mech:expr, $D:ident => $body:expr) => {
        match $mech {
            p11::CKM_SHA_1 => {
                type $D = sha1::Sha1;
                $body
            }
            p11::CKM_SHA224 => {
                type $D = sha2::Sha224;
                $body
            }
            p11::CKM_SHA256 => {
                type $D = sha2::Sha256;
                $body
            }
            p11::CKM_SHA384 => {
                type $D = sha2::Sha384;
                $body
            }
            p11::CKM_SHA512 => {
                type $D = sha2::Sha512;
                $body
            }
            other => unsupported(format!("no local RSA with {other}")),
        }
    };
}

/// The digest mechanism of a CKG_MGF1_* value.
fn mgf_hash(mgf: i32) -> CkMechanismType {
    match mgf {
        1 => p11::CKM_SHA_1,
        5 => p11::CKM_SHA224,
        2 => p11::CKM_SHA256,
        3 => p11::CKM_SHA384,
        4 => p11::CKM_SHA512,
        _ => CkMechanismType(u64::MAX),
    }
}

enum Scheme {
    /// PKCS #1 v1.5 with this hash's DigestInfo (None: the input is the DigestInfo).
    Pkcs1(Option<CkMechanismType>),
    /// PSS with this hash (None: the input is the hash).
    Pss(Option<CkMechanismType>),
}

fn scheme(mech: CkMechanismType) -> Option<Scheme> {
    let rows = [
        (p11::CKM_RSA_PKCS, Scheme::Pkcs1(None)),
        (p11::CKM_SHA1_RSA_PKCS, Scheme::Pkcs1(Some(p11::CKM_SHA_1))),
        (p11::CKM_SHA224_RSA_PKCS, Scheme::Pkcs1(Some(p11::CKM_SHA224))),
        (p11::CKM_SHA256_RSA_PKCS, Scheme::Pkcs1(Some(p11::CKM_SHA256))),
        (p11::CKM_SHA384_RSA_PKCS, Scheme::Pkcs1(Some(p11::CKM_SHA384))),
        (p11::CKM_SHA512_RSA_PKCS, Scheme::Pkcs1(Some(p11::CKM_SHA512))),
        (p11::CKM_RSA_PKCS_PSS, Scheme::Pss(None)),
        (p11::CKM_SHA1_RSA_PKCS_PSS, Scheme::Pss(Some(p11::CKM_SHA_1))),
        (p11::CKM_SHA224_RSA_PKCS_PSS, Scheme::Pss(Some(p11::CKM_SHA224))),
        (p11::CKM_SHA256_RSA_PKCS_PSS, Scheme::Pss(Some(p11::CKM_SHA256))),
        (p11::CKM_SHA384_RSA_PKCS_PSS, Scheme::Pss(Some(p11::CKM_SHA384))),
        (p11::CKM_SHA512_RSA_PKCS_PSS, Scheme::Pss(Some(p11::CKM_SHA512))),
    ];
    rows.into_iter().find(|(m, _)| *m == mech).map(|(_, s)| s)
}

/// The hash mechanism and the prehash to sign.
fn prehash(hash: Option<CkMechanismType>, data: &[u8]) -> Result<(CkMechanismType, Vec<u8>), RefError> {
    match hash {
        Some(h) => Ok((h, digest(h, data)?)),
        None => {
            let h = match data.len() {
                20 => p11::CKM_SHA_1,
                28 => p11::CKM_SHA224,
                32 => p11::CKM_SHA256,
                48 => p11::CKM_SHA384,
                64 => p11::CKM_SHA512,
                n => return malformed(format!("a {n}-byte input is no SHA-1/SHA-2 hash")),
            };
            Ok((h, data.to_vec()))
        }
    }
}

fn private(key: &[u8]) -> Result<PrivateKey, RefError> {
    PrivateKey::from_pkcs8_der(key).map_err(|e| RefError::Malformed(format!("RSA PKCS #8: {e}")))
}

/// The moduli suites use, 512..4096 bits; the crate's own SPKI decoder stops at 1024, so
/// the key is decoded from its PKCS #1 components and built with these limits.
const MODULUS_BITS: std::ops::RangeInclusive<usize> = 512..=4096;

fn public(key: &[u8]) -> Result<PublicKey, RefError> {
    use rsa::pkcs8::der::Decode;
    let bad = |e: &dyn std::fmt::Display| RefError::Malformed(format!("not an RSA public key: {e}"));
    let der = spki(key)?;
    let info = rsa::pkcs8::SubjectPublicKeyInfoRef::from_der(&der).map_err(|e| bad(&e))?;
    if info.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
        return Err(bad(&format!("algorithm {}", info.algorithm.oid)));
    }
    let bits = info.subject_public_key.as_bytes().ok_or_else(|| bad(&"unused bits"))?;
    let parts = rsa::pkcs1::RsaPublicKeyRef::from_der(bits).map_err(|e| bad(&e))?;
    let n = rsa::BoxedUint::from_be_slice_vartime(parts.modulus.as_bytes());
    let e = rsa::BoxedUint::from_be_slice_vartime(parts.public_exponent.as_bytes());
    PublicKey::new_with_size_limits(n, e, MODULUS_BITS).map_err(|e| bad(&e))
}

/// `local.sign` with a PKCS #8 RSA key.
pub(super) fn sign(mech: CkMechanismType, key: &[u8], data: &[u8]) -> Option<Result<Vec<u8>, RefError>> {
    let scheme = scheme(mech)?;
    Some((|| {
        let key = private(key)?;
        let failed = |e: rsa::Error| RefError::Failed(format!("RSA signing failed: {e}"));
        match scheme {
            Scheme::Pkcs1(None) => key.sign(Pkcs1v15Sign::new_unprefixed(), data).map_err(failed),
            Scheme::Pkcs1(Some(h)) => {
                let hash = digest(h, data)?;
                with_sha!(h, D => key.sign(Pkcs1v15Sign::new::<D>(), &hash).map_err(failed))
            }
            Scheme::Pss(h) => {
                let (h, hash) = prehash(h, data)?;
                with_sha!(h, D => key.sign_with_rng(&mut rand::rng(), Pss::<D>::new(), &hash).map_err(failed))
            }
        }
    })())
}

/// `local.verify` with an RSA SPKI or public key blob.
pub(super) fn verify(
    mech: CkMechanismType,
    key: &[u8],
    data: &[u8],
    signature: &[u8],
) -> Option<Result<(), RefError>> {
    let scheme = scheme(mech)?;
    Some((|| {
        let key = public(key)?;
        let bad = |_| RefError::Refuted("the signature does not verify locally".into());
        match scheme {
            Scheme::Pkcs1(None) => key.verify(Pkcs1v15Sign::new_unprefixed(), data, signature).map_err(bad),
            Scheme::Pkcs1(Some(h)) => {
                let hash = digest(h, data)?;
                with_sha!(h, D => key.verify(Pkcs1v15Sign::new::<D>(), &hash, signature).map_err(bad))
            }
            Scheme::Pss(h) => {
                let (h, hash) = prehash(h, data)?;
                with_sha!(h, D => key.verify(Pss::<D>::new(), &hash, signature).map_err(bad))
            }
        }
    })())
}

/// `local.encrypt` / `local.decrypt` for CKM_RSA_PKCS and CKM_RSA_PKCS_OAEP (with the
/// mechanism's RSAOAEPParameter); `None` for other mechanisms.
pub fn cipher(
    mech: CkMechanismType,
    param: Option<&Parameter>,
    key: &[u8],
    data: &[u8],
    encrypt: bool,
) -> Option<Result<Vec<u8>, RefError>> {
    if mech != p11::CKM_RSA_PKCS && mech != p11::CKM_RSA_PKCS_OAEP {
        return None;
    }
    Some((|| {
        // Decryption checks the endpoint's ciphertext: one that does not decrypt refutes it.
        let failed = |e: rsa::Error| match encrypt {
            true => RefError::Malformed(format!("RSA encryption: {e}")),
            false => RefError::Refuted(format!("RSA decryption: {e}")),
        };
        let mut rng = rand::rng();
        if mech == p11::CKM_RSA_PKCS {
            return if encrypt {
                public(key)?.encrypt(&mut rng, Pkcs1v15Encrypt, data).map_err(failed)
            } else {
                private(key)?.decrypt(Pkcs1v15Encrypt, data).map_err(failed)
            };
        }
        let Some(Parameter::RsaoaepParameter(p)) = param else {
            return unsupported("CKM_RSA_PKCS_OAEP needs an oaep parameter");
        };
        let hash = CkMechanismType(p.hash_mech);
        let label = p.encoding_parm.clone();
        with_sha!(hash, D => with_sha!(mgf_hash(p.mgf), M => {
            let oaep = Oaep::<D, M>::new_with_mgf_hash_and_label(label.clone());
            if encrypt {
                public(key)?.encrypt(&mut rng, oaep, data).map_err(failed)
            } else {
                private(key)?.decrypt(oaep, data).map_err(failed)
            }
        }))
    })())
}

/// A fresh RSA key pair of `bits` bits (exponent 65537); the private key is PKCS #8.
pub fn keypair(bits: u64) -> Result<KeyPair, RefError> {
    let key = PrivateKey::new(&mut rand::rng(), bits as usize)
        .map_err(|e| RefError::Failed(format!("RSA keygen: {e}")))?;
    let pkcs8 = key.to_pkcs8_der().map_err(|e| RefError::Failed(e.to_string()))?.as_bytes().to_vec();
    let spki = key
        .as_public_key()
        .to_public_key_der()
        .map_err(|e| RefError::Failed(e.to_string()))?
        .as_bytes()
        .to_vec();
    Ok(KeyPair { private_scalar: pkcs8.clone(), spki, point: Vec::new(), pkcs8 })
}
