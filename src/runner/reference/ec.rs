//! ECDSA on P-224, P-256, P-384, P-521 and secp256k1, Ed25519, ECDH, and public key parsing.

use der::{Decode, Reader, SliceReader};
use ecdsa::elliptic_curve::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};

use super::{RefError, digest::digest, malformed, refuted, unsupported};
use crate::pkcs11::{self as p11, CkMechanismType, Curve, ibm};

/// The digest a hash-and-sign mechanism applies, or `None` for raw (prehashed) ECDSA.
fn ecdsa_hash(mech: CkMechanismType, data: &[u8]) -> Result<Vec<u8>, RefError> {
    match mech {
        p11::CKM_ECDSA => Ok(data.to_vec()),
        p11::CKM_ECDSA_SHA1 => digest(p11::CKM_SHA_1, data),
        p11::CKM_ECDSA_SHA224 | ibm::CKM_IBM_ECDSA_SHA224 => digest(p11::CKM_SHA224, data),
        p11::CKM_ECDSA_SHA256 | ibm::CKM_IBM_ECDSA_SHA256 => digest(p11::CKM_SHA256, data),
        p11::CKM_ECDSA_SHA384 | ibm::CKM_IBM_ECDSA_SHA384 => digest(p11::CKM_SHA384, data),
        p11::CKM_ECDSA_SHA512 | ibm::CKM_IBM_ECDSA_SHA512 => digest(p11::CKM_SHA512, data),
        other => unsupported(format!("{other} is not an ECDSA mechanism")),
    }
}

/// Runs `$body` with `$C` bound to the RustCrypto curve type of `$curve` (a row per curve,
/// so each body is written once).
macro_rules! with_curve {
    ($curve:expr, $C:ident => $body:expr) => {{
        let curve: Curve = $curve;
        if curve == Curve::P224 {
            type $C = p224::NistP224;
            $body
        } else if curve == Curve::P256 {
            type $C = p256::NistP256;
            $body
        } else if curve == Curve::P384 {
            type $C = p384::NistP384;
            $body
        } else if curve == Curve::P521 {
            type $C = p521::NistP521;
            $body
        } else if curve == Curve::SECP256K1 {
            type $C = k256::Secp256k1;
            $body
        } else {
            unsupported(format!("no local ECDSA/ECDH on {}", curve.name))
        }
    }};
}

/// A private key as suites hold it: a PKCS #8 PrivateKeyInfo (any curve, Ed25519), or a raw
/// P-256 scalar (the original `local.keypair` output). The curve and the raw key bytes.
fn private_key(key: &[u8]) -> Result<(Curve, Vec<u8>), RefError> {
    // Told apart by length, not by a leading 0x30: one random scalar in 256 starts with the
    // DER SEQUENCE tag, and any PKCS #8 key is longer than a bare P-256 scalar.
    if key.len() == Curve::P256.field_bytes {
        return Ok((Curve::P256, key.to_vec()));
    }
    let info =
        pkcs8::PrivateKeyInfoRef::from_der(key).map_err(|e| RefError::Malformed(format!("PKCS #8: {e}")))?;
    if info.algorithm.oid == Curve::ED25519.oid {
        let sk = ed25519_dalek::SigningKey::from_pkcs8_der(key)
            .map_err(|e| RefError::Malformed(format!("Ed25519 PKCS #8: {e}")))?;
        return Ok((Curve::ED25519, sk.to_bytes().to_vec()));
    }
    let curve_oid: const_oid::ObjectIdentifier = info
        .algorithm
        .parameters_oid()
        .map_err(|e| RefError::Malformed(format!("PKCS #8 EC parameters: {e}")))?;
    let curve = Curve::ALL
        .into_iter()
        .find(|c| c.oid == curve_oid)
        .ok_or_else(|| RefError::Malformed(format!("PKCS #8 curve {curve_oid} is not known")))?;
    with_curve!(curve, C => {
        let sk = ecdsa::elliptic_curve::SecretKey::<C>::from_pkcs8_der(key)
            .map_err(|e| RefError::Malformed(format!("{} PKCS #8: {e}", curve.name)))?;
        Ok((curve, sk.to_bytes().to_vec()))
    })
}

/// The curve and point of an SPKI (or of a public key blob that begins with one).
fn public_key(blob: &[u8]) -> Result<(Curve, Vec<u8>), RefError> {
    let der = spki(blob)?;
    let info =
        spki::SubjectPublicKeyInfoRef::from_der(&der).map_err(|e| RefError::Malformed(e.to_string()))?;
    let point = ec_point(&der)?;
    if info.algorithm.oid == Curve::ED25519.oid {
        return Ok((Curve::ED25519, point));
    }
    let oid: const_oid::ObjectIdentifier = info
        .algorithm
        .parameters_oid()
        .map_err(|e| RefError::Malformed(format!("SPKI EC parameters: {e}")))?;
    let curve = Curve::ALL
        .into_iter()
        .find(|c| c.oid == oid)
        .ok_or_else(|| RefError::Malformed(format!("SPKI curve {oid}")))?;
    Ok((curve, point))
}

/// `local.sign` for ECDSA (raw r || s) and Ed25519 with a PKCS #8 key or a raw P-256 scalar.
pub(super) fn sign(mech: CkMechanismType, key: &[u8], data: &[u8]) -> Option<Result<Vec<u8>, RefError>> {
    if mech == ibm::CKM_IBM_ED25519_SHA512 {
        return Some(private_key(key).and_then(|(curve, seed)| {
            use ed25519_dalek::Signer;
            let seed: [u8; 32] = seed
                .try_into()
                .map_err(|_| RefError::Malformed(format!("{} key for an Ed25519 mechanism", curve.name)))?;
            Ok(ed25519_dalek::SigningKey::from_bytes(&seed).sign(data).to_bytes().to_vec())
        }));
    }
    let hash = ecdsa_hash(mech, data).ok()?;
    Some(private_key(key).and_then(|(curve, scalar)| {
        with_curve!(curve, C => {
            let signing = ecdsa::SigningKey::<C>::from_slice(&scalar)
                .map_err(|e| RefError::Malformed(format!("{} private key: {e}", curve.name)))?;
            let sig: ecdsa::Signature<C> =
                signing.sign_prehash(&hash).map_err(|e| RefError::Failed(format!("ECDSA signing failed: {e}")))?;
            Ok(sig.to_bytes().to_vec())
        })
    }))
}

/// `local.verify` for ECDSA and Ed25519 with an SPKI or a public key blob. With `curve`
/// (CKA_EC_PARAMS) the key must be on that curve, and the signature exactly `r || s` of its
/// size. A high-S signature is valid ECDSA (only some protocols demand low S), so S is
/// normalised before verifying.
pub(super) fn verify(
    mech: CkMechanismType,
    key: &[u8],
    data: &[u8],
    signature: &[u8],
    curve: Option<&[u8]>,
) -> Option<Result<(), RefError>> {
    if mech == ibm::CKM_IBM_ED25519_SHA512 {
        return Some((|| {
            use ed25519_dalek::Verifier;
            expect_curve(key, curve)?;
            let der = spki(key)?;
            let vk = ed25519_dalek::VerifyingKey::from_public_key_der(&der)
                .map_err(|e| RefError::Malformed(format!("not an Ed25519 public key: {e}")))?;
            let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|e| {
                RefError::Malformed(format!("not an Ed25519 signature ({} bytes): {e}", signature.len()))
            })?;
            vk.verify(data, &sig)
                .map_err(|_| RefError::Refuted("the signature does not verify locally".into()))
        })());
    }
    let hash = ecdsa_hash(mech, data).ok()?;
    Some(expect_curve(key, curve).and_then(|(curve, point)| {
        with_curve!(curve, C => {
            let verifying = ecdsa::VerifyingKey::<C>::from_sec1_bytes(&point)
                .map_err(|e| RefError::Malformed(format!("not a {} public key: {e}", curve.name)))?;
            if signature.len() != 2 * curve.field_bytes {
                return malformed(format!(
                    "a {} signature r || s has {} bytes, got {}",
                    curve.name,
                    2 * curve.field_bytes,
                    signature.len()
                ));
            }
            let sig = ecdsa::Signature::<C>::from_slice(signature).map_err(|e| {
                RefError::Malformed(format!("signature is not a {} r || s ({} bytes): {e}", curve.name, signature.len()))
            })?;
            // ECDSA accepts either S (SEC 1 §4.1.4); k256 insists on the low one, which
            // signers other than k256 (AWS-LC) need not produce.
            verifying
                .verify_prehash(&hash, &sig.normalize_s())
                .map_err(|_| RefError::Refuted("the signature does not verify locally".into()))
        })
    }))
}

/// The curve and point of a public key, which must be on `wanted` (CKA_EC_PARAMS) when the
/// case names one: a key on another curve is the endpoint's error, not a reason to verify
/// on the curve it chose.
fn expect_curve(key: &[u8], wanted: Option<&[u8]>) -> Result<(Curve, Vec<u8>), RefError> {
    let (curve, point) = public_key(key)?;
    if let Some(params) = wanted {
        let wanted = Curve::from_ec_params(params)
            .ok_or_else(|| RefError::Unsupported("the case's curve is not a known named curve".into()))?;
        if wanted != curve {
            return refuted(format!(
                "the public key is on {}, the case asked for {}",
                curve.name, wanted.name
            ));
        }
    }
    Ok((curve, point))
}

/// `local.ec-point`: CKA_EC_POINT must be the point of the key's SPKI, given either raw (as
/// PKCS #11 v3 allows) or as a DER OCTET STRING (PKCS #11 v2.40); compared as points, so a
/// compressed and an uncompressed encoding of one point agree. Returns the SPKI's point.
pub fn ec_point_matches(key: &[u8], attribute: &[u8]) -> Result<Vec<u8>, RefError> {
    let (curve, spki_point) = public_key(key)?;
    let raw = if curve == Curve::ED25519 {
        match attribute.len() {
            32 => attribute.to_vec(),
            34 if attribute[..2] == [0x04, 32] => attribute[2..].to_vec(),
            n => {
                return malformed(format!(
                    "CKA_EC_POINT of an Ed25519 key has {n} bytes, expected 32 (or 34 as DER)"
                ));
            }
        }
    } else {
        // A raw point is exactly the curve's encoding length; anything else must be one
        // DER OCTET STRING holding it. Told apart by length, not by the first byte: 0x04
        // begins both an uncompressed point and an OCTET STRING.
        let lengths = [1 + 2 * curve.field_bytes, 1 + curve.field_bytes];
        if lengths.contains(&attribute.len()) {
            attribute.to_vec()
        } else {
            der::asn1::OctetString::from_der(attribute)
                .map_err(|e| {
                    RefError::Malformed(format!(
                        "CKA_EC_POINT ({} bytes) is neither a raw {} point nor a DER OCTET STRING: {e}",
                        attribute.len(),
                        curve.name
                    ))
                })?
                .into_bytes()
                .to_vec()
        }
    };
    let same = if curve == Curve::ED25519 {
        raw == spki_point
    } else {
        with_curve!(curve, C => {
            let decode = |b: &[u8], what: &str| {
                ecdsa::elliptic_curve::PublicKey::<C>::from_sec1_bytes(b)
                    .map_err(|e| RefError::Malformed(format!("{what} is not a {} point: {e}", curve.name)))
            };
            Ok(decode(&raw, "CKA_EC_POINT")? == decode(&spki_point, "the SPKI's key")?)
        })?
    };
    if same {
        Ok(spki_point)
    } else {
        refuted(format!(
            "CKA_EC_POINT {} is not the SPKI's public key {}",
            hex::encode(&raw),
            hex::encode(&spki_point)
        ))
    }
}

/// The leading DER SubjectPublicKeyInfo of a public key blob (servers may append a tag).
pub fn spki(blob: &[u8]) -> Result<Vec<u8>, RefError> {
    let bad = |e: der::Error| {
        RefError::Malformed(format!("public key does not begin with a DER SubjectPublicKeyInfo: {e}"))
    };
    let mut reader = SliceReader::new(blob).map_err(bad)?;
    spki::SubjectPublicKeyInfoRef::decode(&mut reader).map_err(bad)?;
    let end = usize::try_from(u32::from(reader.position()))
        .map_err(|_| RefError::Malformed("SPKI length overflow".into()))?;
    Ok(blob[..end].to_vec())
}

/// The EC point (uncompressed SEC1) inside an SPKI or a public key blob.
pub fn ec_point(blob: &[u8]) -> Result<Vec<u8>, RefError> {
    let der = spki(blob)?;
    let info =
        spki::SubjectPublicKeyInfoRef::from_der(&der).map_err(|e| RefError::Malformed(e.to_string()))?;
    info.subject_public_key
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| RefError::Malformed("SPKI subjectPublicKey has unused bits".into()))
}

/// The compressed SEC1 point of an EC public key blob (Ed25519: its 32-byte encoding,
/// already compressed): the form BIP-32 and SLIP-0010 publish their vectors in.
pub fn ec_compressed(blob: &[u8]) -> Result<Vec<u8>, RefError> {
    use ecdsa::elliptic_curve::sec1::ToSec1Point;
    let (curve, point) = public_key(blob)?;
    if curve == Curve::ED25519 {
        return Ok(point);
    }
    with_curve!(curve, C => {
        let pk = ecdsa::elliptic_curve::PublicKey::<C>::from_sec1_bytes(&point)
            .map_err(|e| RefError::Malformed(format!("{} point: {e}", curve.name)))?;
        Ok(pk.as_affine().to_sec1_point(true).as_bytes().to_vec())
    })
}

/// A local key pair as suites use it.
pub struct KeyPair {
    /// The raw private key: scalar, Ed25519 seed, or (RSA) the PKCS #8 DER.
    pub private_scalar: Vec<u8>,
    /// The public key as a DER SubjectPublicKeyInfo.
    pub spki: Vec<u8>,
    /// Uncompressed SEC1 (Ed25519: the 32-byte encoding; RSA: empty).
    pub point: Vec<u8>,
    /// The PKCS #8 PrivateKeyInfo DER, for imports.
    pub pkcs8: Vec<u8>,
}

/// A fresh local key pair on the curve of `ec_params`.
pub fn keypair(ec_params: &[u8]) -> Result<KeyPair, RefError> {
    let curve = Curve::from_ec_params(ec_params)
        .ok_or_else(|| RefError::Unsupported("CKA_EC_PARAMS is not a known named curve".into()))?;
    let enc = |e: &dyn std::fmt::Display| RefError::Failed(e.to_string());
    if curve == Curve::ED25519 {
        let mut seed = [0u8; 32];
        rand::fill(&mut seed[..]);
        let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
        let vk = sk.verifying_key();
        return Ok(KeyPair {
            private_scalar: seed.to_vec(),
            spki: vk.to_public_key_der().map_err(|e| enc(&e))?.as_bytes().to_vec(),
            point: vk.to_bytes().to_vec(),
            pkcs8: sk.to_pkcs8_der().map_err(|e| enc(&e))?.as_bytes().to_vec(),
        });
    }
    with_curve!(curve, C => {
        use ecdsa::elliptic_curve::sec1::ToSec1Point;
        let secret = <ecdsa::elliptic_curve::SecretKey<C> as ecdsa::elliptic_curve::Generate>::generate();
        let public = secret.public_key();
        Ok(KeyPair {
            private_scalar: secret.to_bytes().to_vec(),
            spki: public.to_public_key_der().map_err(|e| enc(&e))?.as_bytes().to_vec(),
            point: public.as_affine().to_sec1_point(false).as_bytes().to_vec(),
            pkcs8: secret.to_pkcs8_der().map_err(|e| enc(&e))?.as_bytes().to_vec(),
        })
    })
}

/// ECDH with a KDF as CKM_ECDH1_DERIVE applies it: `CKD_NULL` gives the last `len` bytes of
/// Z (all of Z without `len`), `CKD_SHA*_KDF` the ANSI X9.63 KDF of Z and `shared` (the
/// SharedData) to `len` bytes.
pub fn ecdh_kdf(
    private: &[u8],
    public: &[u8],
    kdf: crate::pkcs11::CkEcKdf,
    shared: &[u8],
    len: Option<usize>,
) -> Result<Vec<u8>, RefError> {
    use crate::pkcs11 as p;
    let z = ecdh(private, public)?;
    if kdf == p::CKD_NULL {
        let len = len.unwrap_or(z.len());
        if len > z.len() {
            return unsupported(format!("CKD_NULL gives at most {} bytes, asked for {len}", z.len()));
        }
        return Ok(z[z.len() - len..].to_vec());
    }
    let len = len.ok_or_else(|| RefError::Unsupported("a KDF needs the key length (len)".into()))?;
    let mut out = vec![0u8; len];
    // The KDF refuses only lengths (a zero or too long output, too much shared data): the
    // step asked for what cannot be derived.
    let x963 = |e: ansi_x963_kdf::Error| RefError::Unsupported(format!("X9.63 KDF: {e}"));
    match kdf {
        p::CKD_SHA1_KDF => ansi_x963_kdf::derive_key_into::<sha1::Sha1>(&z, shared, &mut out),
        p::CKD_SHA224_KDF => ansi_x963_kdf::derive_key_into::<sha2::Sha224>(&z, shared, &mut out),
        p::CKD_SHA256_KDF => ansi_x963_kdf::derive_key_into::<sha2::Sha256>(&z, shared, &mut out),
        p::CKD_SHA384_KDF => ansi_x963_kdf::derive_key_into::<sha2::Sha384>(&z, shared, &mut out),
        p::CKD_SHA512_KDF => ansi_x963_kdf::derive_key_into::<sha2::Sha512>(&z, shared, &mut out),
        other => return unsupported(format!("no local KDF {other}")),
    }
    .map_err(x963)?;
    Ok(out)
}

/// ECDH: the x-coordinate Z shared between `private` (a raw P-256 scalar or a PKCS #8 key of
/// any curve) and `public` (a point, an SPKI or a blob).
pub fn ecdh(private: &[u8], public: &[u8]) -> Result<Vec<u8>, RefError> {
    let (curve, scalar) = private_key(private)?;
    let point = if public.first() == Some(&0x30) { ec_point(public)? } else { public.to_vec() };
    with_curve!(curve, C => {
        let secret = ecdsa::elliptic_curve::SecretKey::<C>::from_slice(&scalar)
            .map_err(|e| RefError::Malformed(format!("{} private key: {e}", curve.name)))?;
        let peer = ecdsa::elliptic_curve::PublicKey::<C>::from_sec1_bytes(&point)
            .map_err(|e| RefError::Malformed(format!("peer point: {e}")))?;
        Ok(secret.diffie_hellman(&peer).raw_secret_bytes().to_vec())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Encode;

    /// A high-S signature (s replaced by n - s) is as valid as the low-S one: an endpoint
    /// that does not normalise S must pass.
    #[test]
    fn high_s_signatures_verify_on_secp256k1() {
        let pair = keypair(&Curve::SECP256K1.ec_params()).unwrap();
        let sig = sign(p11::CKM_ECDSA_SHA256, &pair.pkcs8, b"m").unwrap().unwrap();
        let low = ecdsa::Signature::<k256::Secp256k1>::from_slice(&sig).unwrap();
        let (r, s) = low.split_scalars();
        let high = ecdsa::Signature::<k256::Secp256k1>::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
        assert_ne!(high.to_bytes(), low.to_bytes());
        // The curve crate alone refuses it (Bitcoin's low-S rule), which is why S is normalised.
        let vk = ecdsa::VerifyingKey::<k256::Secp256k1>::from_sec1_bytes(&pair.point).unwrap();
        let hash = digest(p11::CKM_SHA256, b"m").unwrap();
        assert!(vk.verify_prehash(&hash, &high).is_err());
        for sig in [low.to_bytes().to_vec(), high.to_bytes().to_vec()] {
            verify(p11::CKM_ECDSA_SHA256, &pair.spki, b"m", &sig, None).unwrap().unwrap();
        }
    }

    #[test]
    fn the_requested_curve_and_signature_length_are_checked() {
        let pair = keypair(&Curve::P384.ec_params()).unwrap();
        let sig = sign(p11::CKM_ECDSA_SHA256, &pair.pkcs8, b"m").unwrap().unwrap();
        verify(p11::CKM_ECDSA_SHA256, &pair.spki, b"m", &sig, Some(&Curve::P384.ec_params()))
            .unwrap()
            .unwrap();
        let e = verify(p11::CKM_ECDSA_SHA256, &pair.spki, b"m", &sig, Some(&Curve::P256.ec_params()))
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(&e, RefError::Refuted(m) if m.contains("on P-384, the case asked for P-256")),
            "{e}"
        );
        let mut long = vec![0u8];
        long.extend_from_slice(&sig);
        let e = verify(p11::CKM_ECDSA_SHA256, &pair.spki, b"m", &long, None).unwrap().unwrap_err();
        assert!(matches!(&e, RefError::Malformed(m) if m.contains("has 96 bytes, got 97")), "{e}");
    }

    #[test]
    fn ec_point_is_compared_in_either_encoding() {
        for curve in [Curve::P256, Curve::P521, Curve::ED25519] {
            let pair = keypair(&curve.ec_params()).unwrap();
            let raw = pair.point.clone();
            let der = der::asn1::OctetString::new(raw.clone()).unwrap().to_der().unwrap();
            assert_eq!(ec_point_matches(&pair.spki, &raw).unwrap(), raw);
            assert_eq!(ec_point_matches(&pair.spki, &der).unwrap(), raw);
            let other = keypair(&curve.ec_params()).unwrap();
            assert!(ec_point_matches(&pair.spki, &other.point).is_err());
            let mut bent = raw.clone();
            *bent.last_mut().unwrap() ^= 1;
            assert!(ec_point_matches(&pair.spki, &bent).is_err());
        }
    }

    /// SharedData changes the X9.63 output; CKD_NULL takes the tail of Z.
    #[test]
    fn ecdh_kdf_uses_shared_data() {
        let a = keypair(&Curve::P256.ec_params()).unwrap();
        let b = keypair(&Curve::P256.ec_params()).unwrap();
        let z = ecdh(&a.pkcs8, &b.point).unwrap();
        let k1 = ecdh_kdf(&a.pkcs8, &b.point, p11::CKD_SHA256_KDF, b"one", Some(40)).unwrap();
        let k2 = ecdh_kdf(&a.pkcs8, &b.point, p11::CKD_SHA256_KDF, b"two", Some(40)).unwrap();
        assert_eq!(k1.len(), 40);
        assert_ne!(k1, k2);
        assert_eq!(k1, ecdh_kdf(&b.pkcs8, &a.spki, p11::CKD_SHA256_KDF, b"one", Some(40)).unwrap());
        assert_eq!(ecdh_kdf(&a.pkcs8, &b.point, p11::CKD_NULL, b"", Some(16)).unwrap(), z[16..]);
    }

    #[test]
    fn a_raw_scalar_that_starts_like_der_is_still_a_scalar() {
        let mut scalar = [0x11u8; 32];
        scalar[0] = 0x30;
        assert_eq!(private_key(&scalar).unwrap(), (Curve::P256, scalar.to_vec()));
    }
}
