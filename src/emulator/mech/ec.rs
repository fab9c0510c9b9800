//! Elliptic curves: P-256 key pairs, ECDSA over a prehash, ECDH1 derivation and the import
//! of an outside public key (a DER SubjectPublicKeyInfo). Only P-256 is implemented.

use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate;
use p256::pkcs8::DecodePublicKey;
use zeroize::Zeroizing;

use super::{MechParam, Mechanism};
use crate::emulator::error::{Error, Result};
use crate::pkcs11::{CKD_NULL, CkEcKdf, Curve};

/// The length of a raw `r || s` P-256 signature.
const SIGNATURE_LEN: usize = 64;

/// Checks CKA_EC_PARAMS: P-256 is accepted; another well-formed OID is
/// CKR_CURVE_NOT_SUPPORTED; bytes that are not a DER OID are CKR_ATTRIBUTE_VALUE_INVALID.
pub fn check_params(params: &[u8]) -> Result<()> {
    if params == Curve::P256.ec_params() {
        return Ok(());
    }
    match params {
        [0x06, len, rest @ ..] if usize::from(*len) == rest.len() && !rest.is_empty() => {
            Err(Error::CurveNotSupported)
        }
        _ => Err(Error::AttributeValueInvalid(crate::pkcs11::CKA_EC_PARAMS)),
    }
}

/// A fresh P-256 private key.
pub fn generate() -> p256::SecretKey {
    p256::SecretKey::generate_from_rng(&mut rand::rng())
}

/// The uncompressed SEC1 point of a public key.
pub fn sec1_point(pk: &p256::PublicKey) -> Vec<u8> {
    VerifyingKey::from(*pk).to_sec1_point(false).as_bytes().to_vec()
}

/// CKA_EC_POINT: the uncompressed point in a DER OCTET STRING (PKCS #11 v2.40 §2.3.3).
pub fn ec_point_attribute(pk: &p256::PublicKey) -> Vec<u8> {
    let point = sec1_point(pk);
    // 65 bytes: a short-form DER length.
    [&[0x04, point.len() as u8][..], &point].concat()
}

/// Signs `prehash` with the private scalar `scalar`; the signature is raw `r || s`.
/// An empty prehash is CKR_DATA_LEN_RANGE (RFC 6979 nonce derivation needs input; the
/// rfc6979 crate asserts on it).
pub fn sign_prehash(scalar: &[u8], prehash: &[u8]) -> Result<Vec<u8>> {
    if prehash.is_empty() {
        return Err(Error::DataLenRange("ECDSA needs a non-empty hash"));
    }
    let key = SigningKey::from_slice(scalar).map_err(|_| Error::SavedStateInvalid)?;
    let signature: Signature =
        key.sign_prehash(prehash).map_err(|_| Error::DataLenRange("the data cannot be signed"))?;
    Ok(signature.to_bytes().to_vec())
}

/// Verifies a raw `r || s` signature over `prehash` with the SEC1 `point`.
pub fn verify_prehash(point: &[u8], prehash: &[u8], signature: &[u8]) -> Result<()> {
    if signature.len() != SIGNATURE_LEN {
        return Err(Error::SignatureLenRange { expected: SIGNATURE_LEN, got: signature.len() });
    }
    if prehash.is_empty() {
        return Err(Error::DataLenRange("ECDSA needs a non-empty hash"));
    }
    let key = VerifyingKey::from_sec1_bytes(point).map_err(|_| Error::SavedStateInvalid)?;
    let signature = Signature::from_slice(signature).map_err(|_| Error::SignatureInvalid)?;
    key.verify_prehash(prehash, &signature).map_err(|_| Error::SignatureInvalid)
}

/// CKM_ECDH1_DERIVE with CKD_NULL: the x-coordinate Z of the shared point. Other KDFs and
/// shared data are CKR_MECHANISM_PARAM_INVALID. PublicData is the peer's SEC1 point, raw or
/// inside a DER OCTET STRING (both forms are seen from PKCS #11 clients).
pub fn ecdh(mech: &Mechanism, private: &p256::SecretKey) -> Result<Zeroizing<Vec<u8>>> {
    let bad = |reason| Error::MechanismParamInvalid { mech: mech.mech, reason };
    let MechParam::Ecdh { kdf, shared_data, public_data } = &mech.param else {
        return Err(bad("ECDH1DeriveParameter is required"));
    };
    if *kdf != CkEcKdf(CKD_NULL.0) {
        return Err(bad("only CKD_NULL is supported"));
    }
    if !shared_data.is_empty() {
        return Err(bad("CKD_NULL takes no shared data"));
    }
    let point = match public_data.as_slice() {
        [0x04, len, rest @ ..] if usize::from(*len) == rest.len() && rest.first() == Some(&0x04) => rest,
        raw => raw,
    };
    let peer = p256::PublicKey::from_sec1_bytes(point).map_err(|_| bad("PublicData is not a P-256 point"))?;
    let shared = private.diffie_hellman(&peer);
    Ok(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
}

/// Parses an outside public key for CKM_IBM_TRANSPORTKEY import.
pub fn import_spki(der: &[u8]) -> Result<p256::PublicKey> {
    p256::PublicKey::from_public_key_der(der)
        .map_err(|_| Error::WrappedKeyInvalid("not a P-256 SubjectPublicKeyInfo"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs11::*;

    /// A signature made by the p256 crate itself (not by this module) verifies.
    #[test]
    fn verifies_a_locally_made_signature() {
        let sk = SigningKey::from_slice(&[0x11; 32]).unwrap();
        let prehash = [0x5a; 32];
        let sig: Signature = sk.sign_prehash(&prehash).unwrap();
        let point = VerifyingKey::from(&sk).to_sec1_point(false).as_bytes().to_vec();
        assert!(verify_prehash(&point, &prehash, &sig.to_bytes()).is_ok());
        let mut bad = sig.to_bytes().to_vec();
        bad[10] ^= 1;
        assert_eq!(verify_prehash(&point, &prehash, &bad).unwrap_err().rv(), CKR_SIGNATURE_INVALID);
        assert_eq!(verify_prehash(&point, &prehash, &bad[..63]).unwrap_err().rv(), CKR_SIGNATURE_LEN_RANGE);
    }

    #[test]
    fn params_errors() {
        assert!(check_params(&Curve::P256.ec_params()).is_ok());
        assert_eq!(check_params(&Curve::P384.ec_params()).unwrap_err().rv(), CKR_CURVE_NOT_SUPPORTED);
        assert_eq!(check_params(b"junk").unwrap_err().rv(), CKR_ATTRIBUTE_VALUE_INVALID);
    }
}
