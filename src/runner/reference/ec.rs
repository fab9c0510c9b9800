//! ECDSA, ECDH and public key parsing.

use der::{Decode, Reader, SliceReader};
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};

use super::{RefError, digest::digest, err};
use crate::pkcs11::{self as p11, CkMechanismType, Curve};

/// The digest a hash-and-sign mechanism applies, or `None` for raw (prehashed) ECDSA.
fn ecdsa_hash(mech: CkMechanismType, data: &[u8]) -> Result<Vec<u8>, RefError> {
    match mech {
        p11::CKM_ECDSA => Ok(data.to_vec()),
        p11::CKM_ECDSA_SHA1 => digest(p11::CKM_SHA_1, data),
        p11::CKM_ECDSA_SHA224 => digest(p11::CKM_SHA224, data),
        p11::CKM_ECDSA_SHA256 => digest(p11::CKM_SHA256, data),
        p11::CKM_ECDSA_SHA384 => digest(p11::CKM_SHA384, data),
        p11::CKM_ECDSA_SHA512 => digest(p11::CKM_SHA512, data),
        other => err(format!("{other} is not an ECDSA mechanism")),
    }
}

/// `local.sign` for ECDSA: raw r || s with a raw P-256 scalar.
pub(super) fn sign(mech: CkMechanismType, key: &[u8], data: &[u8]) -> Option<Result<Vec<u8>, RefError>> {
    let hash = ecdsa_hash(mech, data).ok()?;
    Some((|| {
        let signing = p256::ecdsa::SigningKey::from_slice(key)
            .map_err(|e| RefError(format!("P-256 private key: {e}")))?;
        let sig: p256::ecdsa::Signature =
            signing.sign_prehash(&hash).map_err(|e| RefError(format!("ECDSA signing failed: {e}")))?;
        Ok(sig.to_bytes().to_vec())
    })())
}

/// `local.verify` for ECDSA with an SPKI or a public key blob.
pub(super) fn verify(
    mech: CkMechanismType,
    key: &[u8],
    data: &[u8],
    signature: &[u8],
) -> Option<Result<(), RefError>> {
    let hash = ecdsa_hash(mech, data).ok()?;
    Some((|| {
        let verifying = verifying_key(key)?;
        let sig = p256::ecdsa::Signature::from_slice(signature).map_err(|e| {
            RefError(format!("signature is not a P-256 r || s ({} bytes): {e}", signature.len()))
        })?;
        verifying
            .verify_prehash(&hash, &sig)
            .map_err(|_| RefError("the signature does not verify locally".into()))
    })())
}

fn verifying_key(key: &[u8]) -> Result<p256::ecdsa::VerifyingKey, RefError> {
    let point = ec_point(key)?;
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
        .map_err(|e| RefError(format!("not a P-256 public key: {e}")))
}

/// The leading DER SubjectPublicKeyInfo of a public key blob (servers may append a tag).
pub fn spki(blob: &[u8]) -> Result<Vec<u8>, RefError> {
    let bad =
        |e: der::Error| RefError(format!("public key does not begin with a DER SubjectPublicKeyInfo: {e}"));
    let mut reader = SliceReader::new(blob).map_err(bad)?;
    spki::SubjectPublicKeyInfoRef::decode(&mut reader).map_err(bad)?;
    let end =
        usize::try_from(u32::from(reader.position())).map_err(|_| RefError("SPKI length overflow".into()))?;
    Ok(blob[..end].to_vec())
}

/// The EC point (uncompressed SEC1) inside an SPKI or a public key blob.
pub fn ec_point(blob: &[u8]) -> Result<Vec<u8>, RefError> {
    let der = spki(blob)?;
    let info = spki::SubjectPublicKeyInfoRef::from_der(&der).map_err(|e| RefError(e.to_string()))?;
    info.subject_public_key
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| RefError("SPKI subjectPublicKey has unused bits".into()))
}

/// A local key pair as suites use it.
pub struct KeyPair {
    pub private_scalar: Vec<u8>,
    pub spki: Vec<u8>,
    /// Uncompressed SEC1.
    pub point: Vec<u8>,
}

/// A fresh local key pair.
pub fn keypair(ec_params: &[u8]) -> Result<KeyPair, RefError> {
    use p256::pkcs8::EncodePublicKey;
    match Curve::from_ec_params(ec_params) {
        Some(Curve::P256) => {}
        Some(other) => return err(format!("local key pairs are P-256 only so far, not {}", other.name)),
        None => return err("CKA_EC_PARAMS is not a known named curve"),
    }
    let secret = <p256::SecretKey as p256::elliptic_curve::Generate>::generate();
    let public = secret.public_key();
    let spki = public.to_public_key_der().map_err(|e| RefError(e.to_string()))?.as_bytes().to_vec();
    let point = public.to_sec1_bytes().to_vec();
    Ok(KeyPair { private_scalar: secret.to_bytes().to_vec(), spki, point })
}

/// ECDH on P-256: the x-coordinate Z shared with `public` (a point, an SPKI or a blob).
pub fn ecdh(private: &[u8], public: &[u8]) -> Result<Vec<u8>, RefError> {
    let secret =
        p256::SecretKey::from_slice(private).map_err(|e| RefError(format!("P-256 private key: {e}")))?;
    let point = if public.first() == Some(&0x30) { ec_point(public)? } else { public.to_vec() };
    let peer = p256::PublicKey::from_sec1_bytes(&point).map_err(|e| RefError(format!("peer point: {e}")))?;
    let shared = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), peer.as_affine());
    Ok(shared.raw_secret_bytes().to_vec())
}
