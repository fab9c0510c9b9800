//! Elliptic curves: key pairs, ECDSA over a prehash, Ed25519, ECDH1 derivation, PKCS #8 and
//! SubjectPublicKeyInfo encodings.
//!
//! One [`CurveOps`] trait, implemented once for every short-Weierstrass curve (generic over
//! the RustCrypto curve type: P-224, P-256, P-384, P-521, secp256k1) and once for Ed25519;
//! [`CURVES`] registers each curve by its `CKA_EC_PARAMS`. Keys travel inside the emulator as
//! raw bytes: the private scalar (Ed25519: the 32-byte seed of RFC 8032 §5.1.5) and the public
//! point (uncompressed SEC1; Ed25519: the 32-byte encoding), so sealed blobs and states stay
//! curve-agnostic.
//!
//! Which library computes what: AWS-LC (`aws-lc-rs`) signs and verifies ECDSA on P-256,
//! P-384, P-521 and secp256k1 wherever it has an algorithm for the prehash's length
//! (P-256 and secp256k1: 32 bytes; P-384: 48; P-521: 28, 32, 48 or 64), and does ECDH on
//! P-256, P-384 and P-521, and Ed25519. RustCrypto (`p224`, `p256`, `p384`, `p521`, `k256`,
//! `ed25519-dalek`) does the rest: P-224 (AWS-LC's Rust API has no P-224), ECDSA with other
//! prehash lengths (CKM_ECDSA over SHA-1 on P-256, say), secp256k1 ECDH, key generation
//! and the PKCS #8 and SPKI encodings. AWS-LC's parsed keys are cached by their bytes
//! ([`crate::emulator::cache`]), so a repeated signature does not derive the public point
//! again.

use std::marker::PhantomData;
use std::sync::{Arc, LazyLock};

use aws_lc_rs::digest as lc_digest;
use aws_lc_rs::signature::{self as lc, EcdsaKeyPair, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm};

use ecdsa::elliptic_curve::array::ArraySize;
use ecdsa::elliptic_curve::ops::Invert;
use ecdsa::elliptic_curve::pkcs8::{
    AssociatedOid, DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey,
};
use ecdsa::elliptic_curve::sec1::{FromSec1Point, ModulusSize, ToSec1Point};
use ecdsa::elliptic_curve::subtle::CtOption;
use ecdsa::elliptic_curve::{
    AffinePoint, CurveArithmetic, FieldBytesSize, Generate, PublicKey, Scalar, SecretKey,
};
use ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use ecdsa::{DigestAlgorithm, EcdsaCurve, Signature, SignatureSize, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use super::digest::{HashAlg, with_hasher};
use super::registry::{Derive, EC_CURVES, KeyPairGen, Registry, SIGN, Sign};
use super::sign::{SignParam, SignScheme};
use super::{MechParam, Mechanism};
use crate::emulator::attrs::{self, Attrs, Origin, Template};
use crate::emulator::blob::{Key, Material};
use crate::emulator::cache::{self, Bounded};
use crate::emulator::engine::{
    Engine, NewKey, check_secret_len, derived_secret, ec_fixed, secret_template, type_inconsistent,
};
use crate::emulator::error::{Error, Result};
use crate::pkcs11::ibm::{
    CKM_IBM_ECDSA_SHA224, CKM_IBM_ECDSA_SHA256, CKM_IBM_ECDSA_SHA384, CKM_IBM_ECDSA_SHA512,
    CKM_IBM_ED25519_SHA512,
};
use crate::pkcs11::*;
use crate::rpc::Rpc;

/// What the emulator does with one curve. Private keys are the scalar (or seed) bytes, public
/// keys the point bytes described in the module comment.
pub trait CurveOps: Sync {
    fn curve(&self) -> Curve;
    /// CKK_EC, or CKK_EC_EDWARDS for Ed25519.
    fn key_type(&self) -> CkKeyType;
    fn generate(&self) -> Zeroizing<Vec<u8>>;
    /// The public point of a private key.
    fn public_point(&self, private: &[u8]) -> Result<Vec<u8>>;
    /// A peer's point in this module's form, or `None` if it is not a point of the curve.
    fn parse_point(&self, point: &[u8]) -> Option<Vec<u8>>;
    /// ECDSA: signs a prehash, raw `r || s`. Ed25519: signs the message.
    fn sign(&self, private: &[u8], input: &[u8]) -> Result<Vec<u8>>;
    fn verify(&self, point: &[u8], input: &[u8], signature: &[u8]) -> Result<()>;
    /// The x-coordinate Z of the shared point (SEC 1 §3.3.1); `None` when the curve has no
    /// ECDH1 (Ed25519).
    fn ecdh(&self, private: &[u8], point: &[u8]) -> Option<Result<Zeroizing<Vec<u8>>>>;
    fn to_pkcs8(&self, private: &[u8]) -> Result<Zeroizing<Vec<u8>>>;
    /// The private key inside a PKCS #8 PrivateKeyInfo of this curve.
    fn parse_pkcs8(&self, der: &[u8]) -> Option<Zeroizing<Vec<u8>>>;
    fn to_spki(&self, point: &[u8]) -> Result<Vec<u8>>;
    /// The point inside a SubjectPublicKeyInfo of this curve.
    fn parse_spki(&self, der: &[u8]) -> Option<Vec<u8>>;
}

impl std::fmt::Debug for dyn CurveOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.curve().name)
    }
}

/// A short-Weierstrass curve from RustCrypto, with ECDSA and ECDH.
pub struct Weierstrass<C> {
    curve: Curve,
    _c: PhantomData<C>,
}

impl<C> Weierstrass<C> {
    const fn new(curve: Curve) -> Self {
        Weierstrass { curve, _c: PhantomData }
    }
}

fn encoding_failed<E>(_: E) -> Error {
    Error::General("key encoding failed")
}

impl<C> CurveOps for Weierstrass<C>
where
    C: EcdsaCurve + CurveArithmetic + DigestAlgorithm + AssociatedOid + Sync,
    Scalar<C>: Invert<Output = CtOption<Scalar<C>>>,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
    FieldBytesSize<C>: ModulusSize,
    SignatureSize<C>: ArraySize,
{
    fn curve(&self) -> Curve {
        self.curve
    }

    fn key_type(&self) -> CkKeyType {
        CKK_EC
    }

    fn generate(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(SecretKey::<C>::generate_from_rng(&mut rand::rng()).to_bytes().to_vec())
    }

    fn public_point(&self, private: &[u8]) -> Result<Vec<u8>> {
        let sk = SecretKey::<C>::from_slice(private).map_err(|_| Error::KeyHandleInvalid)?;
        Ok(sk.public_key().as_affine().to_sec1_point(false).as_bytes().to_vec())
    }

    fn parse_point(&self, point: &[u8]) -> Option<Vec<u8>> {
        let pk = PublicKey::<C>::from_sec1_bytes(point).ok()?;
        Some(pk.as_affine().to_sec1_point(false).as_bytes().to_vec())
    }

    /// An empty prehash is CKR_DATA_LEN_RANGE (RFC 6979 nonce derivation needs input).
    fn sign(&self, private: &[u8], prehash: &[u8]) -> Result<Vec<u8>> {
        if prehash.is_empty() {
            return Err(Error::DataLenRange("ECDSA needs a non-empty hash"));
        }
        if let Some((alg, digest_alg)) = lc_ecdsa(self.curve, prehash.len()) {
            let key = lc_key_pair(self.curve, alg, private)?;
            let digest = lc_digest::Digest::import_less_safe(prehash, digest_alg)
                .map_err(|_| Error::General("prehash length checked"))?;
            let signature =
                key.sign_digest(&digest).map_err(|_| Error::General("AWS-LC ECDSA signing failed"))?;
            return Ok(signature.as_ref().to_vec());
        }
        let key = SigningKey::<C>::from_slice(private).map_err(|_| Error::SavedStateInvalid)?;
        let signature: Signature<C> =
            key.sign_prehash(prehash).map_err(|_| Error::DataLenRange("the data cannot be signed"))?;
        Ok(signature.to_bytes().to_vec())
    }

    fn verify(&self, point: &[u8], prehash: &[u8], signature: &[u8]) -> Result<()> {
        let expected = 2 * self.curve.field_bytes;
        if signature.len() != expected {
            return Err(Error::SignatureLenRange { expected, got: signature.len() });
        }
        if prehash.is_empty() {
            return Err(Error::DataLenRange("ECDSA needs a non-empty hash"));
        }
        if let Some((alg, digest_alg)) = lc_ecdsa_verify(self.curve, prehash.len()) {
            // AWS-LC accepts either half of S, as the verification equation does, and
            // refuses r or s of zero or beyond the group order.
            let digest = lc_digest::Digest::import_less_safe(prehash, digest_alg)
                .map_err(|_| Error::General("prehash length checked"))?;
            return lc::UnparsedPublicKey::new(alg, point)
                .verify_digest(&digest, signature)
                .map_err(|_| Error::SignatureInvalid);
        }
        let key = VerifyingKey::<C>::from_sec1_bytes(point).map_err(|_| Error::SavedStateInvalid)?;
        // r or s of zero or beyond the group order cannot be a signature.
        let signature = Signature::<C>::from_slice(signature).map_err(|_| Error::SignatureInvalid)?;
        // secp256k1 signers emit low-S (k256 normalises), but ECDSA itself accepts either
        // half (SEC 1 §4.1.4); a high-S signature is normalised before the check, which is
        // what the verification equation would accept anyway.
        let signature = signature.normalize_s();
        key.verify_prehash(prehash, &signature).map_err(|_| Error::SignatureInvalid)
    }

    fn ecdh(&self, private: &[u8], point: &[u8]) -> Option<Result<Zeroizing<Vec<u8>>>> {
        if let Some(alg) = lc_ecdh(self.curve) {
            return Some((|| {
                let sk = aws_lc_rs::agreement::PrivateKey::from_private_key(alg, private)
                    .map_err(|_| Error::KeyHandleInvalid)?;
                let peer = aws_lc_rs::agreement::UnparsedPublicKey::new(alg, point);
                aws_lc_rs::agreement::agree(&sk, peer, Error::General("checked point"), |z| {
                    Ok(Zeroizing::new(z.to_vec()))
                })
            })());
        }
        Some((|| {
            let sk = SecretKey::<C>::from_slice(private).map_err(|_| Error::KeyHandleInvalid)?;
            let peer = PublicKey::<C>::from_sec1_bytes(point).map_err(|_| Error::General("checked point"))?;
            Ok(Zeroizing::new(sk.diffie_hellman(&peer).raw_secret_bytes().to_vec()))
        })())
    }

    fn to_pkcs8(&self, private: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let sk = SecretKey::<C>::from_slice(private).map_err(|_| Error::KeyHandleInvalid)?;
        let der = sk.to_pkcs8_der().map_err(encoding_failed)?;
        Ok(Zeroizing::new(der.as_bytes().to_vec()))
    }

    fn parse_pkcs8(&self, der: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let sk = SecretKey::<C>::from_pkcs8_der(der).ok()?;
        Some(Zeroizing::new(sk.to_bytes().to_vec()))
    }

    fn to_spki(&self, point: &[u8]) -> Result<Vec<u8>> {
        let pk = PublicKey::<C>::from_sec1_bytes(point).map_err(|_| Error::KeyHandleInvalid)?;
        Ok(pk.to_public_key_der().map_err(encoding_failed)?.as_bytes().to_vec())
    }

    fn parse_spki(&self, der: &[u8]) -> Option<Vec<u8>> {
        let pk = PublicKey::<C>::from_public_key_der(der).ok()?;
        Some(pk.as_affine().to_sec1_point(false).as_bytes().to_vec())
    }
}

/// AWS-LC's fixed-width (`r || s`) ECDSA signing algorithm for a prehash of `len` bytes on
/// `curve`, with the digest algorithm whose length it takes; `None` where it has none.
/// The digest algorithm only tells AWS-LC the prehash length: the prehash itself is
/// whatever the caller hashed (or, for CKM_ECDSA, gave).
fn lc_ecdsa(
    curve: Curve,
    len: usize,
) -> Option<(&'static EcdsaSigningAlgorithm, &'static lc_digest::Algorithm)> {
    Some(match (curve, len) {
        (Curve::P256, 32) => (&lc::ECDSA_P256_SHA256_FIXED_SIGNING, &lc_digest::SHA256),
        (Curve::P384, 48) => (&lc::ECDSA_P384_SHA384_FIXED_SIGNING, &lc_digest::SHA384),
        (Curve::P521, 28) => (&lc::ECDSA_P521_SHA224_FIXED_SIGNING, &lc_digest::SHA224),
        (Curve::P521, 32) => (&lc::ECDSA_P521_SHA256_FIXED_SIGNING, &lc_digest::SHA256),
        (Curve::P521, 48) => (&lc::ECDSA_P521_SHA384_FIXED_SIGNING, &lc_digest::SHA384),
        (Curve::P521, 64) => (&lc::ECDSA_P521_SHA512_FIXED_SIGNING, &lc_digest::SHA512),
        (Curve::SECP256K1, 32) => (&lc::ECDSA_P256K1_SHA256_FIXED_SIGNING, &lc_digest::SHA256),
        _ => return None,
    })
}

/// The verification algorithms matching [`lc_ecdsa`].
fn lc_ecdsa_verify(
    curve: Curve,
    len: usize,
) -> Option<(&'static EcdsaVerificationAlgorithm, &'static lc_digest::Algorithm)> {
    Some(match (curve, len) {
        (Curve::P256, 32) => (&lc::ECDSA_P256_SHA256_FIXED, &lc_digest::SHA256),
        (Curve::P384, 48) => (&lc::ECDSA_P384_SHA384_FIXED, &lc_digest::SHA384),
        (Curve::P521, 28) => (&lc::ECDSA_P521_SHA224_FIXED, &lc_digest::SHA224),
        (Curve::P521, 32) => (&lc::ECDSA_P521_SHA256_FIXED, &lc_digest::SHA256),
        (Curve::P521, 48) => (&lc::ECDSA_P521_SHA384_FIXED, &lc_digest::SHA384),
        (Curve::P521, 64) => (&lc::ECDSA_P521_SHA512_FIXED, &lc_digest::SHA512),
        (Curve::SECP256K1, 32) => (&lc::ECDSA_P256K1_SHA256_FIXED, &lc_digest::SHA256),
        _ => return None,
    })
}

/// AWS-LC's ECDH on `curve`, where it has it (not P-224 or secp256k1).
fn lc_ecdh(curve: Curve) -> Option<&'static aws_lc_rs::agreement::Algorithm> {
    Some(match curve {
        Curve::P256 => &aws_lc_rs::agreement::ECDH_P256,
        Curve::P384 => &aws_lc_rs::agreement::ECDH_P384,
        Curve::P521 => &aws_lc_rs::agreement::ECDH_P521,
        _ => return None,
    })
}

/// AWS-LC key pairs by algorithm and private scalar (parsing one derives the public point).
static LC_ECDSA_KEYS: LazyLock<EcdsaKeys> = LazyLock::new(|| Bounded::new(cache::CAPACITY));

/// Key pairs by (algorithm address, private scalar).
type EcdsaKeys = Bounded<(usize, Vec<u8>), Arc<EcdsaKeyPair>>;

/// The AWS-LC key pair of a private scalar, from the cache or parsed from an RFC 5915
/// ECPrivateKey built around it (AWS-LC's Rust API takes no bare scalar).
fn lc_key_pair(
    curve: Curve,
    alg: &'static EcdsaSigningAlgorithm,
    scalar: &[u8],
) -> Result<Arc<EcdsaKeyPair>> {
    // The algorithm's address tells P-521's four algorithms apart; the statics live as
    // long as the program.
    let id = alg as *const EcdsaSigningAlgorithm as usize;
    LC_ECDSA_KEYS.get_or_try((id, scalar.to_vec()), || {
        let der = ec_private_key_der(curve, scalar);
        EcdsaKeyPair::from_private_key_der(alg, &der).map(Arc::new).map_err(|_| Error::SavedStateInvalid)
    })
}

/// RFC 5915 ECPrivateKey: SEQUENCE { INTEGER 1, OCTET STRING scalar, [0] namedCurve }.
/// Every length here is below 128 (scalars of at most 66 bytes, OIDs of at most 10), so
/// each is one byte.
fn ec_private_key_der(curve: Curve, scalar: &[u8]) -> Zeroizing<Vec<u8>> {
    let params = curve.ec_params();
    let mut body = Zeroizing::new(vec![0x02, 0x01, 0x01, 0x04, scalar.len() as u8]);
    body.extend_from_slice(scalar);
    body.extend_from_slice(&[0xa0, params.len() as u8]);
    body.extend_from_slice(&params);
    let mut der = Zeroizing::new(vec![0x30, body.len() as u8]);
    der.extend_from_slice(&body);
    der
}

/// Ed25519 (RFC 8032 PureEdDSA), for CKM_IBM_ED25519_SHA512.
pub struct Ed25519;

fn ed_signing_key(seed: &[u8]) -> Result<ed25519_dalek::SigningKey> {
    let seed: &[u8; 32] = seed.try_into().map_err(|_| Error::KeyHandleInvalid)?;
    Ok(ed25519_dalek::SigningKey::from_bytes(seed))
}

impl CurveOps for Ed25519 {
    fn curve(&self) -> Curve {
        Curve::ED25519
    }

    fn key_type(&self) -> CkKeyType {
        CKK_EC_EDWARDS
    }

    fn generate(&self) -> Zeroizing<Vec<u8>> {
        // RFC 8032 §5.1.5: the private key is 32 random bytes.
        let mut seed = Zeroizing::new(vec![0u8; 32]);
        rand::fill(&mut seed[..]);
        seed
    }

    fn public_point(&self, private: &[u8]) -> Result<Vec<u8>> {
        Ok(ed_signing_key(private)?.verifying_key().to_bytes().to_vec())
    }

    fn parse_point(&self, point: &[u8]) -> Option<Vec<u8>> {
        let bytes: &[u8; 32] = point.try_into().ok()?;
        ed25519_dalek::VerifyingKey::from_bytes(bytes).ok().map(|k| k.to_bytes().to_vec())
    }

    fn sign(&self, private: &[u8], message: &[u8]) -> Result<Vec<u8>> {
        let key = LC_ED25519_KEYS.get_or_try(private.to_vec(), || {
            lc::Ed25519KeyPair::from_seed_unchecked(private)
                .map(Arc::new)
                .map_err(|_| Error::KeyHandleInvalid)
        })?;
        Ok(key.sign(message).as_ref().to_vec())
    }

    /// AWS-LC's verification (RFC 8032 §5.1.7, refusing a non-canonical S), which passes
    /// every Wycheproof Ed25519 vector (src/emulator/tests/wycheproof.rs).
    fn verify(&self, point: &[u8], message: &[u8], signature: &[u8]) -> Result<()> {
        let signature: &[u8; 64] = signature
            .try_into()
            .map_err(|_| Error::SignatureLenRange { expected: 64, got: signature.len() })?;
        if point.len() != 32 {
            return Err(Error::SavedStateInvalid);
        }
        lc::UnparsedPublicKey::new(&lc::ED25519, point)
            .verify(message, signature)
            .map_err(|_| Error::SignatureInvalid)
    }

    fn ecdh(&self, _: &[u8], _: &[u8]) -> Option<Result<Zeroizing<Vec<u8>>>> {
        None
    }

    fn to_pkcs8(&self, private: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let der = ed_signing_key(private)?.to_pkcs8_der().map_err(encoding_failed)?;
        Ok(Zeroizing::new(der.as_bytes().to_vec()))
    }

    fn parse_pkcs8(&self, der: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let sk = ed25519_dalek::SigningKey::from_pkcs8_der(der).ok()?;
        Some(Zeroizing::new(sk.to_bytes().to_vec()))
    }

    fn to_spki(&self, point: &[u8]) -> Result<Vec<u8>> {
        let bytes: &[u8; 32] = point.try_into().map_err(|_| Error::KeyHandleInvalid)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| Error::KeyHandleInvalid)?;
        Ok(key.to_public_key_der().map_err(encoding_failed)?.as_bytes().to_vec())
    }

    fn parse_spki(&self, der: &[u8]) -> Option<Vec<u8>> {
        ed25519_dalek::VerifyingKey::from_public_key_der(der).ok().map(|k| k.to_bytes().to_vec())
    }
}

/// AWS-LC Ed25519 key pairs by seed (making one derives the public key).
static LC_ED25519_KEYS: LazyLock<Bounded<Vec<u8>, Arc<lc::Ed25519KeyPair>>> =
    LazyLock::new(|| Bounded::new(cache::CAPACITY));

static P224: Weierstrass<p224::NistP224> = Weierstrass::new(Curve::P224);
static P256: Weierstrass<p256::NistP256> = Weierstrass::new(Curve::P256);
static P384: Weierstrass<p384::NistP384> = Weierstrass::new(Curve::P384);
static P521: Weierstrass<p521::NistP521> = Weierstrass::new(Curve::P521);
static SECP256K1: Weierstrass<k256::Secp256k1> = Weierstrass::new(Curve::SECP256K1);

/// Every curve the emulator implements.
pub static CURVES: &[&dyn CurveOps] = &[&P224, &P256, &P384, &P521, &SECP256K1, &Ed25519];

/// The smallest and largest key size in bits over the ECDSA/ECDH curves (GetMechanismInfo).
pub const EC_MIN_BITS: u64 = 224;
pub const EC_MAX_BITS: u64 = 521;

/// The curve whose CKA_EC_PARAMS these are. Another well-formed OID is
/// CKR_CURVE_NOT_SUPPORTED; bytes that are not a DER OID are CKR_ATTRIBUTE_VALUE_INVALID.
pub fn by_params(params: &[u8]) -> Result<&'static dyn CurveOps> {
    if let Some(ops) = CURVES.iter().find(|c| c.curve().ec_params() == params) {
        return Ok(*ops);
    }
    match params {
        [0x06, len, rest @ ..] if usize::from(*len) == rest.len() && !rest.is_empty() => {
            Err(Error::CurveNotSupported)
        }
        _ => Err(Error::AttributeValueInvalid(crate::pkcs11::CKA_EC_PARAMS)),
    }
}

/// The curve and point of a SubjectPublicKeyInfo of any implemented curve.
pub fn from_spki(der: &[u8]) -> Option<(&'static dyn CurveOps, Vec<u8>)> {
    CURVES.iter().find_map(|c| c.parse_spki(der).map(|p| (*c, p)))
}

/// The curve and private key of a PKCS #8 PrivateKeyInfo of any implemented curve.
pub fn from_pkcs8(der: &[u8]) -> Option<(&'static dyn CurveOps, Zeroizing<Vec<u8>>)> {
    CURVES.iter().find_map(|c| c.parse_pkcs8(der).map(|k| (*c, k)))
}

/// CKA_EC_POINT: the point in a DER OCTET STRING (PKCS #11 v2.40 §2.3.3; for Ed25519,
/// PKCS #11 v3.0 §2.3.5 likewise wraps the 32-byte encoding).
pub fn ec_point_attribute(point: &[u8]) -> Vec<u8> {
    // Points are at most 133 bytes (P-521 uncompressed): one or two length bytes.
    let len = point.len();
    let mut der = vec![0x04];
    if len >= 0x80 {
        der.push(0x81);
    }
    der.push(len as u8);
    der.extend_from_slice(point);
    der
}

/// The result of ECDH1 before the key is cut from it.
pub struct EcdhSecret {
    z: Zeroizing<Vec<u8>>,
    kdf: Option<HashAlg>,
    shared_data: Vec<u8>,
}

impl EcdhSecret {
    /// The key length when the template does not say: all of Z, or one hash output.
    pub fn natural_len(&self) -> usize {
        match self.kdf {
            None => self.z.len(),
            Some(alg) => alg.digest(b"").len(),
        }
    }

    /// `len` bytes of key: the LAST `len` bytes of Z with CKD_NULL (as SoftHSM; a longer
    /// key is CKR_KEY_SIZE_RANGE), or the ANSI X9.63 KDF of SEC 1 §3.6.1 over Z and
    /// SharedData (the `ansi-x963-kdf` crate).
    pub fn key(&self, len: usize) -> Result<Zeroizing<Vec<u8>>> {
        match self.kdf {
            None if len > self.z.len() => Err(Error::KeySizeRange(len as u64)),
            None => Ok(Zeroizing::new(self.z[self.z.len() - len..].to_vec())),
            Some(alg) => {
                let mut out = Zeroizing::new(vec![0u8; len]);
                with_hasher!(alg, D => ansi_x963_kdf::derive_key_into::<D>(&self.z, &self.shared_data, &mut out))
                    .map_err(|_| Error::KeySizeRange(len as u64))?;
                Ok(out)
            }
        }
    }
}

/// The hash of an X9.63 KDF (CKD_SHA*_KDF); `None` for CKD_NULL.
fn kdf_hash(kdf: CkEcKdf) -> Option<Option<HashAlg>> {
    let rows = [
        (CKD_NULL, None),
        (CKD_SHA1_KDF, Some(HashAlg::Sha1)),
        (CKD_SHA224_KDF, Some(HashAlg::Sha224)),
        (CKD_SHA256_KDF, Some(HashAlg::Sha256)),
        (CKD_SHA384_KDF, Some(HashAlg::Sha384)),
        (CKD_SHA512_KDF, Some(HashAlg::Sha512)),
    ];
    rows.iter().find(|(k, _)| *k == kdf).map(|(_, h)| *h)
}

/// CKM_ECDH1_DERIVE (PKCS #11 v2.40 §2.3.11): Z from our private key and the peer's point,
/// with the KDF of the parameter. PublicData is the peer's point, raw or inside a DER OCTET
/// STRING (both forms are seen from PKCS #11 clients). CKD_NULL takes no shared data.
pub fn ecdh(mech: &Mechanism, ops: &dyn CurveOps, private: &[u8]) -> Result<EcdhSecret> {
    let bad = |reason| Error::MechanismParamInvalid { mech: mech.mech, reason };
    let MechParam::Ecdh { kdf, shared_data, public_data } = &mech.param else {
        return Err(bad("ECDH1DeriveParameter is required"));
    };
    let kdf = kdf_hash(*kdf).ok_or(bad("the KDF is not CKD_NULL or CKD_SHA*_KDF"))?;
    if kdf.is_none() && !shared_data.is_empty() {
        return Err(bad("CKD_NULL takes no shared data"));
    }
    let wrapped = match public_data.as_slice() {
        [0x04, 0x81, len, rest @ ..] if usize::from(*len) == rest.len() => Some(rest),
        [0x04, len, rest @ ..] if usize::from(*len) == rest.len() => Some(rest),
        _ => None,
    };
    // An OCTET STRING around the point is tried first; a raw point that happens to parse
    // as one (tag 0x04 is also SEC1's "uncompressed") falls back to the raw reading.
    let point = wrapped
        .and_then(|inner| ops.parse_point(inner))
        .or_else(|| ops.parse_point(public_data))
        .ok_or(bad("PublicData is not a point of the key's curve"))?;
    let z = ops
        .ecdh(private, &point)
        .ok_or(Error::MechanismInvalid { mech: mech.mech, function: Rpc::DeriveKey })??;
    Ok(EcdhSecret { z, kdf, shared_data: shared_data.clone() })
}

// ---- the family's mechanisms and operations ----

/// EC key pairs, ECDSA, ECDH1 and Ed25519.
pub(super) fn register(r: &mut Registry) {
    let (min, max) = (EC_MIN_BITS, EC_MAX_BITS);
    r.add(CKM_EC_KEY_PAIR_GEN, min, max, CKF_GENERATE_KEY_PAIR | EC_CURVES)
        .key_pair_gen(EcKeyPairGen)
        .heavy();
    let ecdsa = |hash| CurveSign { scheme: SignScheme::Ecdsa(hash), key_type: CKK_EC };
    r.add(CKM_ECDSA, min, max, SIGN | EC_CURVES).sign(ecdsa(None)).heavy();
    r.add(CKM_ECDSA_SHA256, min, max, SIGN | EC_CURVES).sign(ecdsa(Some(HashAlg::Sha256))).heavy();
    r.add(CKM_ECDH1_DERIVE, min, max, CKF_DERIVE | EC_CURVES).derive(Ecdh1Derive).heavy();
    // IBM's own codes for the same schemes follow PKCS #11's (EP11 predates the v2.40 ones).
    for (mech, hash) in [
        (CKM_ECDSA_SHA1, HashAlg::Sha1),
        (CKM_ECDSA_SHA224, HashAlg::Sha224),
        (CKM_ECDSA_SHA384, HashAlg::Sha384),
        (CKM_ECDSA_SHA512, HashAlg::Sha512),
        (CKM_IBM_ECDSA_SHA224, HashAlg::Sha224),
        (CKM_IBM_ECDSA_SHA256, HashAlg::Sha256),
        (CKM_IBM_ECDSA_SHA384, HashAlg::Sha384),
        (CKM_IBM_ECDSA_SHA512, HashAlg::Sha512),
    ] {
        r.add(mech, min, max, SIGN | EC_CURVES).sign(ecdsa(Some(hash))).heavy();
    }
    let ed25519 = CurveSign { scheme: SignScheme::Ed25519, key_type: CKK_EC_EDWARDS };
    r.add(CKM_IBM_ED25519_SHA512, 256, 256, SIGN).sign(ed25519).heavy();
}

/// CKM_EC_KEY_PAIR_GEN: the curve from CKA_EC_PARAMS, of the public template or else the
/// private one.
struct EcKeyPairGen;

impl KeyPairGen for EcKeyPairGen {
    fn generate_key_pair(
        &self,
        e: &Engine,
        mech: &Mechanism,
        public_template: &Template,
        private_template: &Template,
    ) -> Result<(NewKey, NewKey)> {
        let params = match attrs::optional_bytes(public_template, CKA_EC_PARAMS)? {
            Some(p) => p,
            None => attrs::optional_bytes(private_template, CKA_EC_PARAMS)?
                .ok_or(Error::TemplateIncomplete(CKA_EC_PARAMS))?,
        };
        let curve = by_params(&params)?;
        let sk = curve.generate();
        let pk = curve.public_point(&sk)?;
        let origin = Origin::Generated(mech.mech);
        let private = Attrs::build(private_template, &ec_fixed(CKO_PRIVATE_KEY, curve, None), origin)?;
        let public = Attrs::build(public_template, &ec_fixed(CKO_PUBLIC_KEY, curve, Some(&pk)), origin)?;
        let private =
            e.issue(Key { attrs: private, material: Material::EcPrivate(curve, sk) }, Vec::new())?;
        let public = e.issue(Key { attrs: public, material: Material::EcPublic(curve, pk) }, Vec::new())?;
        Ok((private, public))
    }
}

/// ECDSA (keys of CKK_EC) and Ed25519 (CKK_EC_EDWARDS): the state carries the curve's
/// CKA_EC_PARAMS.
struct CurveSign {
    scheme: SignScheme,
    key_type: CkKeyType,
}

impl Sign for CurveSign {
    fn scheme(&self) -> SignScheme {
        self.scheme
    }

    fn key(&self, mech: &Mechanism, key: &Key, verify: bool, _: SignParam) -> Result<(Vec<u8>, SignParam)> {
        let (curve, bytes) = match (&key.material, verify) {
            (Material::EcPrivate(c, sk), false) => (*c, sk.to_vec()),
            (Material::EcPublic(c, pk), true) => (*c, pk.clone()),
            _ => return Err(type_inconsistent(mech.mech, &key.attrs)),
        };
        if curve.key_type() != self.key_type {
            return Err(type_inconsistent(mech.mech, &key.attrs));
        }
        Ok((bytes, SignParam::Curve(curve.curve().ec_params())))
    }
}

/// CKM_ECDH1_DERIVE. With CKD_NULL the new key's value is the LAST CKA_VALUE_LEN bytes of
/// the shared x-coordinate Z, as SoftHSM does; with CKD_SHA*_KDF it is the X9.63 KDF output
/// of that length. Generic secrets without CKA_VALUE_LEN take the whole Z, or one hash
/// output.
struct Ecdh1Derive;

impl Derive for Ecdh1Derive {
    fn derive(&self, e: &Engine, mech: &Mechanism, base: &[u8], template: &Template) -> Result<NewKey> {
        let base = e.open_key(base)?;
        let Material::EcPrivate(curve, sk) = &base.material else {
            return Err(type_inconsistent(mech.mech, &base.attrs));
        };
        if curve.key_type() != CKK_EC {
            return Err(type_inconsistent(mech.mech, &base.attrs));
        }
        base.attrs.require(CKA_DERIVE)?;
        let secret = ecdh(&ecdh_param(mech), *curve, sk)?;
        let key_type = secret_template(template)?;
        let len = match (key_type, attrs::optional_ulong(template, CKA_VALUE_LEN)?) {
            (CKK_AES, None) => return Err(Error::TemplateIncomplete(CKA_VALUE_LEN)),
            (_, None) => secret.natural_len() as u64,
            (_, Some(len)) => len,
        };
        check_secret_len(key_type, len)?;
        let value = secret.key(len as usize)?;
        let attrs = derived_secret(template, &base.attrs, key_type, len)?;
        e.issue_secret(attrs, value)
    }
}

/// CKM_ECDH1_DERIVE's parameter: the structured ECDH1DeriveParm, or, as IBM's clients send
/// it, the peer's EC point alone in ParameterB, which means CKD_NULL without shared data.
fn ecdh_param(mech: &Mechanism) -> std::borrow::Cow<'_, Mechanism> {
    match &mech.param {
        MechParam::Bytes(point) => std::borrow::Cow::Owned(Mechanism {
            mech: mech.mech,
            param: MechParam::Ecdh {
                kdf: CkEcKdf(CKD_NULL.0),
                shared_data: Vec::new(),
                public_data: point.clone(),
            },
        }),
        _ => std::borrow::Cow::Borrowed(mech),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A signature made by the p256 crate itself (not by this module) verifies.
    #[test]
    fn verifies_a_locally_made_signature() {
        let sk = p256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap();
        let prehash = [0x5a; 32];
        let sig: p256::ecdsa::Signature = sk.sign_prehash(&prehash).unwrap();
        let point = p256::ecdsa::VerifyingKey::from(&sk).to_sec1_point(false).as_bytes().to_vec();
        assert!(P256.verify(&point, &prehash, &sig.to_bytes()).is_ok());
        let mut bad = sig.to_bytes().to_vec();
        bad[10] ^= 1;
        assert_eq!(P256.verify(&point, &prehash, &bad).unwrap_err().rv(), CKR_SIGNATURE_INVALID);
        assert_eq!(P256.verify(&point, &prehash, &bad[..63]).unwrap_err().rv(), CKR_SIGNATURE_LEN_RANGE);
    }

    #[test]
    fn params_errors() {
        for c in CURVES {
            assert_eq!(by_params(&c.curve().ec_params()).unwrap().curve(), c.curve());
        }
        assert_eq!(by_params(&Curve::X25519.ec_params()).unwrap_err().rv(), CKR_CURVE_NOT_SUPPORTED);
        assert_eq!(by_params(b"junk").unwrap_err().rv(), CKR_ATTRIBUTE_VALUE_INVALID);
    }

    /// Every curve: keys, signatures, PKCS #8 and SPKI round trips, ECDH agreement.
    #[test]
    fn every_curve_round_trips() {
        for c in CURVES {
            let name = c.curve().name;
            let a = c.generate();
            let point = c.public_point(&a).unwrap();
            assert_eq!(c.parse_point(&point).as_deref(), Some(&point[..]), "{name}");
            let sig = c.sign(&a, &[0x42; 32]).unwrap();
            assert_eq!(sig.len(), 2 * c.curve().field_bytes, "{name}");
            c.verify(&point, &[0x42; 32], &sig).unwrap();
            assert_eq!(
                c.verify(&point, &[0x43; 32], &sig).unwrap_err().rv(),
                CKR_SIGNATURE_INVALID,
                "{name}"
            );
            let (found, back) = from_pkcs8(&c.to_pkcs8(&a).unwrap()).unwrap();
            assert_eq!((found.curve(), &back[..]), (c.curve(), &a[..]), "{name}");
            let (found, p) = from_spki(&c.to_spki(&point).unwrap()).unwrap();
            assert_eq!((found.curve(), p), (c.curve(), point.clone()), "{name}");
            let b = c.generate();
            let b_point = c.public_point(&b).unwrap();
            if let Some(z) = c.ecdh(&a, &b_point) {
                assert_eq!(z.unwrap(), c.ecdh(&b, &point).unwrap().unwrap(), "{name}");
            }
        }
    }

    /// SEC 1 §3.6.1 X9.63 KDF through the crate, pinned with the ANSI X9.63 test vector
    /// of NIST CAVS (SHA-256, Z = 96c0..., SharedInfo empty, 128-bit key).
    #[test]
    fn x963_kdf_known_answer() {
        let secret = EcdhSecret {
            z: Zeroizing::new(hex::decode("96c05619d56c328ab95fe84b18264b08725b85e33fd34f08").unwrap()),
            kdf: Some(HashAlg::Sha256),
            shared_data: vec![],
        };
        assert_eq!(hex::encode(&*secret.key(16).unwrap()), "443024c3dae66b95e6f5670601558f71");
        assert_eq!(secret.natural_len(), 32);
    }
}
