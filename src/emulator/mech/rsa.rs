//! RSA (PKCS #11 v2.40 §2.1): key pairs, PKCS #1 v1.5 and OAEP encryption, PKCS #1 v1.5
//! and PSS signatures, and the DER forms keys travel in. This module maps PKCS #11
//! parameters and errors onto two libraries:
//!
//! - AWS-LC (`aws-lc-rs`) where its Rust API has the operation: signing and verifying
//!   PKCS #1 v1.5 with SHA-256/384/512 and PSS with SHA-256/384/512 and a salt as long as
//!   the hash, with moduli of 2048 bits and more, and generating 2048-, 3072- and 4096-bit
//!   keys with exponent 65537. Its parsed private keys are cached by their PKCS #1 bytes.
//! - The `rsa` crate (RustCrypto) for everything else: moduli under 2048 bits, other
//!   exponents, SHA-1 and SHA-224, raw CKM_RSA_PKCS signatures over a caller's
//!   DigestInfo, PSS with other salt lengths, encryption and decryption, and the DER
//!   encodings. AWS-LC's Rust API refuses keys under 2048 bits and has none of the rest.
//!
//! Choices:
//! - Moduli of 512..4096 bits (what IBM's service reports for CKM_RSA_PKCS). The crate
//!   refuses moduli under 1024 bits by default; its size-checked-by-caller constructors
//!   (`hazmat`) are used with this range instead.
//! - PKCS #1 v1.5 decryption uses the crate's implicit rejection: a ciphertext with bad
//!   padding decrypts to a deterministic pseudo-random message instead of an error, which
//!   closes the Bleichenbacher oracle. So CKM_RSA_PKCS decryption never answers
//!   CKR_ENCRYPTED_DATA_INVALID; OAEP does.
//! - PSS and OAEP take MGF1 with any SHA-1/SHA-2 hash for OAEP; for PSS the crate ties MGF1
//!   to the message hash, so a PSS parameter whose MGF differs from HashMech is
//!   CKR_MECHANISM_PARAM_INVALID (a deviation: PKCS #11 allows them to differ).

use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Oaep, Pkcs1v15Encrypt, Pkcs1v15Sign, PrivateKey, Pss, PublicKey};
use std::sync::{Arc, LazyLock};

use aws_lc_rs::digest as lc_digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature as lc;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::digest::HashAlg;
use super::registry::{Cipher, ENCRYPT, KeyPairGen, Registry, SIGN, Sign, Unwrap, WRAP, Wrap};
use super::sign::{SignParam, SignScheme};
use super::{MechParam, Mechanism, attrbound};
use crate::emulator::attrs::{self, Attrs, Origin, Template};
use crate::emulator::blob::{Key, Material, Operation, State};
use crate::emulator::cache::{self, Bounded};
use crate::emulator::engine::{
    Engine, NewKey, check_secret_len, rsa_fixed, secret_fixed, secret_template, type_inconsistent,
};
use crate::emulator::error::{Error, Result};
use crate::pkcs11::*;
use crate::rpc::Rpc;

/// Modulus sizes in bits (GetMechanismInfo of every RSA row).
pub const MIN_BITS: u64 = 512;
pub const MAX_BITS: u64 = 4096;

/// Runs `$body` with `$D` bound to the hasher of `$alg`, for the SHA-1/SHA-2 hashes RSA
/// paddings take; any other hash is `$other`.
macro_rules! with_rsa_hash {
    ($alg:expr, $D:ident => $body:expr, _ => $other:expr) => {
        match $alg {
            HashAlg::Sha1 => {
                type $D = sha1::Sha1;
                $body
            }
            HashAlg::Sha224 => {
                type $D = sha2::Sha224;
                $body
            }
            HashAlg::Sha256 => {
                type $D = sha2::Sha256;
                $body
            }
            HashAlg::Sha384 => {
                type $D = sha2::Sha384;
                $body
            }
            HashAlg::Sha512 => {
                type $D = sha2::Sha512;
                $body
            }
            #[allow(unreachable_patterns)]
            _ => $other,
        }
    };
}

/// HashMech of an OAEP or PSS parameter.
fn hash_of(mech: CkMechanismType) -> Option<HashAlg> {
    let rows = [
        (CKM_SHA_1, HashAlg::Sha1),
        (CKM_SHA224, HashAlg::Sha224),
        (CKM_SHA256, HashAlg::Sha256),
        (CKM_SHA384, HashAlg::Sha384),
        (CKM_SHA512, HashAlg::Sha512),
    ];
    rows.iter().find(|(m, _)| *m == mech).map(|(_, h)| *h)
}

/// The wire's Mgf enum (= CKG_MGF1_*: 1 SHA1, 2 SHA256, 3 SHA384, 4 SHA512, 5 SHA224).
fn mgf_of(mgf: u64) -> Option<HashAlg> {
    match mgf {
        1 => Some(HashAlg::Sha1),
        2 => Some(HashAlg::Sha256),
        3 => Some(HashAlg::Sha384),
        4 => Some(HashAlg::Sha512),
        5 => Some(HashAlg::Sha224),
        _ => None,
    }
}

/// An encryption padding with its parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Padding {
    /// CKM_RSA_PKCS: PKCS #1 v1.5 type 2.
    Pkcs1,
    /// CKM_RSA_PKCS_OAEP.
    Oaep { hash: HashAlg, mgf: HashAlg, label: Vec<u8> },
}

/// PSS parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PssParams {
    pub hash: HashAlg,
    pub salt_len: usize,
}

impl Padding {
    /// The padding of `mech` from its parameter (RSAOAEPParm for OAEP: HashMech, MGF1
    /// hash, and a label only with EncodingParmType CKZ_DATA_SPECIFIED).
    pub fn from_mech(mech: &Mechanism) -> Result<Padding> {
        let bad = |reason| Error::MechanismParamInvalid { mech: mech.mech, reason };
        if mech.mech != CKM_RSA_PKCS_OAEP {
            return match mech.param {
                MechParam::None => Ok(Padding::Pkcs1),
                _ => Err(bad("takes no parameter")),
            };
        }
        let MechParam::Oaep { hash, mgf, source, label } = &mech.param else {
            return Err(bad("RSAOAEPParameter is required"));
        };
        let hash = hash_of(*hash).ok_or(bad("HashMech is not SHA-1 or SHA-2"))?;
        let mgf = mgf_of(*mgf).ok_or(bad("Mgf is not an MGF1 with SHA-1 or SHA-2"))?;
        match (source, label.is_empty()) {
            (0, true) | (1, _) => Ok(Padding::Oaep { hash, mgf, label: label.clone() }),
            (0, false) => Err(bad("EncodingParm given without EncodingParmType")),
            _ => Err(bad("EncodingParmType is not CKZ_DATA_SPECIFIED")),
        }
    }
}

impl PssParams {
    /// RSAPSSParm for a PSS mechanism whose own hash is `scheme_hash` (None: CKM_RSA_PKCS_PSS).
    pub fn from_mech(mech: &Mechanism, scheme_hash: Option<HashAlg>) -> Result<PssParams> {
        let bad = |reason| Error::MechanismParamInvalid { mech: mech.mech, reason };
        let MechParam::Pss { hash, mgf, salt_len } = &mech.param else {
            return Err(bad("RSAPSSParameter is required"));
        };
        let hash = hash_of(*hash).ok_or(bad("HashMech is not SHA-1 or SHA-2"))?;
        if scheme_hash.is_some_and(|h| h != hash) {
            return Err(bad("HashMech differs from the mechanism's hash"));
        }
        if mgf_of(*mgf) != Some(hash) {
            return Err(bad("only MGF1 with the message hash is supported"));
        }
        // PKCS #1 v2.2 §9.1.1: sLen <= emLen - hLen - 2, and emLen is at most MAX_BITS / 8,
        // so no larger count can ever be used. Refused here because the rsa crate allocates
        // the salt before it compares it with the modulus: SaltByteCount 2^62 aborted the
        // whole server on an allocation failure (found by tests/integration/emulator_props.rs).
        if *salt_len > MAX_BITS / 8 {
            return Err(bad("SaltByteCount is larger than any supported modulus can hold"));
        }
        let salt_len = usize::try_from(*salt_len).map_err(|_| bad("SaltByteCount is too large"))?;
        Ok(PssParams { hash, salt_len })
    }
}

/// A fresh key of `bits` bits with public exponent `exponent` (big-endian; 65537 if empty).
pub fn generate(bits: u64, exponent: Option<&[u8]>) -> Result<PrivateKey> {
    if !(MIN_BITS..=MAX_BITS).contains(&bits) {
        return Err(Error::KeySizeRange(bits));
    }
    let e = match exponent {
        None => BoxedUint::from(65537u64),
        Some(e) => {
            let bad = Error::AttributeValueInvalid(crate::pkcs11::CKA_PUBLIC_EXPONENT);
            // At most 64 bits (the crate's own bound is 2^33 - 1), odd and at least 3.
            let e = if e.len() <= 8 && !e.is_empty() {
                let mut v = [0u8; 8];
                v[8 - e.len()..].copy_from_slice(e);
                u64::from_be_bytes(v)
            } else {
                return Err(bad);
            };
            if e < 3 || e % 2 == 0 {
                return Err(bad);
            }
            BoxedUint::from(e)
        }
    };
    if let Some(key) = lc_generate(bits, &e) {
        return Ok(key);
    }
    // `bits` is within MIN_BITS..=MAX_BITS, checked above: the unchecked constructor only
    // skips the crate's 1024-bit floor.
    PrivateKey::new_with_exp_unchecked(&mut rand::rng(), bits as usize, e)
        .map_err(|_| Error::AttributeValueInvalid(crate::pkcs11::CKA_PUBLIC_EXPONENT))
}

/// A key from AWS-LC's generator, for the sizes and the exponent it makes (2048, 3072 and
/// 4096 bits, 65537); `None` otherwise, or if it fails (the caller then uses the `rsa`
/// crate's generator).
fn lc_generate(bits: u64, e: &BoxedUint) -> Option<PrivateKey> {
    let size = match bits {
        2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
        3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
        4096 => aws_lc_rs::rsa::KeySize::Rsa4096,
        _ => return None,
    };
    if *e != BoxedUint::from(65537u64) {
        return None;
    }
    let pair = aws_lc_rs::rsa::KeyPair::generate(size).ok()?;
    let der = Zeroizing::new(pair.as_der().ok()?.as_ref().to_vec());
    PrivateKey::from_pkcs8_der(&der).ok()
}

/// A public key from modulus and exponent within this module's size range.
fn public_from_parts(n: &[u8], e: &[u8]) -> Option<PublicKey> {
    let n = BoxedUint::from_be_slice_vartime(n);
    let e = BoxedUint::from_be_slice_vartime(e);
    PublicKey::new_with_size_limits(n, e, MIN_BITS as usize..=MAX_BITS as usize).ok()
}

/// The DER SubjectPublicKeyInfo (rsaEncryption) of a public key.
pub fn to_spki(key: &PublicKey) -> Result<Vec<u8>> {
    key.to_public_key_der().map(|d| d.as_bytes().to_vec()).map_err(|_| Error::General("SPKI encoding failed"))
}

/// The public key inside an rsaEncryption SubjectPublicKeyInfo. Decoded by hand from the
/// `pkcs1` structure because the crate's own decoder refuses moduli under 1024 bits.
pub fn from_spki(der: &[u8]) -> Option<PublicKey> {
    use rsa::pkcs8::der::Decode;
    let info = rsa::pkcs8::SubjectPublicKeyInfoRef::from_der(der).ok()?;
    if info.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
        return None;
    }
    let key = rsa::pkcs1::RsaPublicKeyRef::from_der(info.subject_public_key.as_bytes()?).ok()?;
    public_from_parts(key.modulus.as_bytes(), key.public_exponent.as_bytes())
}

/// PKCS #1 RSAPrivateKey DER: how a private key is sealed in its blob.
pub fn to_pkcs1(key: &PrivateKey) -> Result<Zeroizing<Vec<u8>>> {
    let der = key.to_pkcs1_der().map_err(|_| Error::General("key encoding failed"))?;
    Ok(Zeroizing::new(der.as_bytes().to_vec()))
}

pub fn from_pkcs1(der: &[u8]) -> Option<PrivateKey> {
    PrivateKey::from_pkcs1_der(der).ok()
}

/// PKCS #8 PrivateKeyInfo DER (what WrapKey carries).
pub fn to_pkcs8(key: &PrivateKey) -> Result<Zeroizing<Vec<u8>>> {
    let der = key.to_pkcs8_der().map_err(|_| Error::General("key encoding failed"))?;
    Ok(Zeroizing::new(der.as_bytes().to_vec()))
}

/// The largest PKCS #8 an RSA private key import reads (8 KiB). A 4096-bit key with its CRT
/// values is about 2.4 KB; the bound is checked before parsing because the crate computes
/// with the numbers it decodes (inverses, products) before the size check below can run,
/// so a client could otherwise make the server work on a modulus of megabytes.
pub const PKCS8_MAX: usize = 8 << 10;

/// A private key inside a PKCS #8 PrivateKeyInfo, of a size this module accepts.
pub fn from_pkcs8(der: &[u8]) -> Option<PrivateKey> {
    if der.len() > PKCS8_MAX {
        return None;
    }
    let key = PrivateKey::from_pkcs8_der(der).ok()?;
    (MIN_BITS..=MAX_BITS).contains(&bits(key.as_public_key())).then_some(key)
}

pub fn bits(key: &PublicKey) -> u64 {
    u64::from(key.n().bit_width_vartime())
}

pub fn modulus(key: &PublicKey) -> Vec<u8> {
    key.n().to_be_bytes_trimmed_vartime().to_vec()
}

pub fn public_exponent(key: &PublicKey) -> Vec<u8> {
    key.e().to_be_bytes_trimmed_vartime().to_vec()
}

fn size_bytes(key: &PublicKey) -> usize {
    key.size()
}

/// Encrypts `data` (CKR_DATA_LEN_RANGE when it does not fit the padding).
pub fn encrypt(key: &PublicKey, padding: &Padding, data: &[u8]) -> Result<Vec<u8>> {
    let too_long = |_| Error::DataLenRange("too long for the modulus and padding");
    let mut rng = rand::rng();
    match padding {
        Padding::Pkcs1 => key.encrypt(&mut rng, Pkcs1v15Encrypt, data).map_err(too_long),
        Padding::Oaep { hash, mgf, label } => with_rsa_hash!(*hash, D => with_rsa_hash!(*mgf, M => {
            let oaep = Oaep::<D, M>::new_with_mgf_hash_and_label(label.clone());
            key.encrypt(&mut rng, oaep, data).map_err(too_long)
        }, _ => Err(unsupported_hash())), _ => Err(unsupported_hash())),
    }
}

/// Decrypts `data`: a ciphertext not of the modulus length is CKR_ENCRYPTED_DATA_LEN_RANGE,
/// one that does not decode (OAEP) CKR_ENCRYPTED_DATA_INVALID.
pub fn decrypt(key: &PrivateKey, padding: &Padding, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if data.len() != size_bytes(key.as_public_key()) {
        return Err(Error::EncryptedDataLenRange("an RSA ciphertext is as long as the modulus"));
    }
    let invalid = |_| Error::EncryptedDataInvalid;
    let plain = match padding {
        Padding::Pkcs1 => key.decrypt(Pkcs1v15Encrypt, data).map_err(invalid)?,
        Padding::Oaep { hash, mgf, label } => {
            let leading_zero = oaep_leading_byte_is_zero(key, data);
            let plain = with_rsa_hash!(*hash, D => with_rsa_hash!(*mgf, M => {
                let oaep = Oaep::<D, M>::new_with_mgf_hash_and_label(label.clone());
                key.decrypt(oaep, data).map_err(invalid)
            }, _ => return Err(unsupported_hash())), _ => return Err(unsupported_hash()));
            // Both checks ran before either result is looked at, and both failures are the
            // same error: no Manger oracle between them.
            match (plain, leading_zero) {
                (Ok(plain), true) => plain,
                _ => return Err(Error::EncryptedDataInvalid),
            }
        }
    };
    Ok(Zeroizing::new(plain))
}

/// RFC 8017 §7.1.2 step 3g: the first octet Y of the encoded message must be zero. The
/// `rsa` crate's OAEP decoding ignores Y (Wycheproof's "First byte is 1" vectors decrypt),
/// so the emulator recomputes EM with the crate's own checked RSA decryption primitive and
/// tests that octet; this costs a second private-key operation per OAEP decryption.
fn oaep_leading_byte_is_zero(key: &PrivateKey, data: &[u8]) -> bool {
    let k = size_bytes(key.as_public_key());
    let precision = key.n().bits_precision();
    let Ok(c) = BoxedUint::from_be_slice(data, precision) else {
        return false;
    };
    match rsa::hazmat::rsa_decrypt_and_check(key, Some(&mut rand::rng()), &c) {
        Ok(em) => {
            let em = Zeroizing::new(em.to_be_bytes());
            // `em` is `precision` bits wide, at least k bytes: Y is the k-th byte from the end.
            em.len() >= k && em[em.len() - k] == 0
        }
        Err(_) => false,
    }
}

/// The state of an RSA EncryptInit/DecryptInit: RSA is single-part (PKCS #11 §2.1.6), so
/// Encrypt/Decrypt finish it and the Update/Final calls answer CKR_FUNCTION_NOT_SUPPORTED.
#[derive(Serialize, Deserialize)]
pub struct RsaCipherState {
    decrypt: bool,
    padding: Padding,
    /// SubjectPublicKeyInfo (encrypt) or PKCS #1 RSAPrivateKey (decrypt). A plain Vec:
    /// the state is sealed as a whole, and serde has no Zeroizing.
    key: Vec<u8>,
}

impl RsaCipherState {
    pub fn new(op: Operation, padding: Padding, key: &[u8]) -> RsaCipherState {
        RsaCipherState { decrypt: op == Operation::Decrypt, padding, key: key.to_vec() }
    }

    pub fn operation(&self) -> Operation {
        if self.decrypt { Operation::Decrypt } else { Operation::Encrypt }
    }

    pub fn run(&self, data: &[u8]) -> Result<Vec<u8>> {
        // The key bytes come from an authenticated state: a failure is another version's.
        if self.decrypt {
            let key = cached_private(&self.key)?;
            decrypt(&key, &self.padding, data).map(|p| p.to_vec())
        } else {
            let key = from_spki(&self.key).ok_or(Error::SavedStateInvalid)?;
            encrypt(&key, &self.padding, data)
        }
    }
}

fn unsupported_hash() -> Error {
    Error::General("a hash outside SHA-1/SHA-2 reached RSA")
}

/// A signature scheme with its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigPadding {
    /// PKCS #1 v1.5 with a DigestInfo for this hash; `None` (CKM_RSA_PKCS) signs the data
    /// as given, which the caller has DER-encoded as a DigestInfo (PKCS #11 §2.1.6).
    Pkcs1(Option<HashAlg>),
    Pss(PssParams),
}

/// Signs a prehash (or, for raw PKCS #1, the DigestInfo).
pub fn sign(key: &PrivateKey, padding: SigPadding, input: &[u8]) -> Result<Vec<u8>> {
    let too_long = |_| Error::DataLenRange("the input does not fit the modulus");
    match padding {
        SigPadding::Pkcs1(None) => key.sign(Pkcs1v15Sign::new_unprefixed(), input).map_err(too_long),
        SigPadding::Pkcs1(Some(hash)) => {
            check_hash_len(hash, input)?;
            with_rsa_hash!(hash, D => key.sign(Pkcs1v15Sign::new::<D>(), input).map_err(too_long),
                _ => Err(unsupported_hash()))
        }
        SigPadding::Pss(p) => {
            check_hash_len(p.hash, input)?;
            with_rsa_hash!(p.hash, D => key.sign_with_rng(&mut rand::rng(), Pss::<D>::new_with_salt(p.salt_len), input)
                .map_err(too_long), _ => Err(unsupported_hash()))
        }
    }
}

/// Verifies a signature over a prehash (or DigestInfo): a signature not of the modulus
/// length is CKR_SIGNATURE_LEN_RANGE, any other failure CKR_SIGNATURE_INVALID.
pub fn verify(key: &PublicKey, padding: SigPadding, input: &[u8], signature: &[u8]) -> Result<()> {
    let expected = size_bytes(key);
    if signature.len() != expected {
        return Err(Error::SignatureLenRange { expected, got: signature.len() });
    }
    let invalid = |_| Error::SignatureInvalid;
    match padding {
        SigPadding::Pkcs1(None) => {
            key.verify(Pkcs1v15Sign::new_unprefixed(), input, signature).map_err(invalid)
        }
        SigPadding::Pkcs1(Some(hash)) => {
            check_hash_len(hash, input)?;
            with_rsa_hash!(hash, D => key.verify(Pkcs1v15Sign::new::<D>(), input, signature).map_err(invalid),
                _ => Err(unsupported_hash()))
        }
        SigPadding::Pss(p) => {
            check_hash_len(p.hash, input)?;
            with_rsa_hash!(p.hash, D => key.verify(Pss::<D>::new_with_salt(p.salt_len), input, signature)
                .map_err(invalid), _ => Err(unsupported_hash()))
        }
    }
}

/// AWS-LC's parsed private keys by PKCS #1 DER; `None` for a key it refuses (under 2048
/// bits), so that such a key is not offered to it again.
static LC_KEYS: LazyLock<Bounded<Vec<u8>, Option<Arc<aws_lc_rs::rsa::KeyPair>>>> =
    LazyLock::new(|| Bounded::new(cache::CAPACITY));
/// The `rsa` crate's parsed private keys by PKCS #1 DER, for what AWS-LC does not do.
static RC_KEYS: LazyLock<Bounded<Vec<u8>, Arc<PrivateKey>>> = LazyLock::new(|| Bounded::new(cache::CAPACITY));

/// AWS-LC's signing encoding for `padding`, with the digest algorithm of its prehash.
fn lc_encoding(
    padding: SigPadding,
) -> Option<(&'static lc::RsaSignatureEncoding, &'static lc_digest::Algorithm)> {
    Some(match padding {
        SigPadding::Pkcs1(Some(HashAlg::Sha256)) => (&lc::RSA_PKCS1_SHA256, &lc_digest::SHA256),
        SigPadding::Pkcs1(Some(HashAlg::Sha384)) => (&lc::RSA_PKCS1_SHA384, &lc_digest::SHA384),
        SigPadding::Pkcs1(Some(HashAlg::Sha512)) => (&lc::RSA_PKCS1_SHA512, &lc_digest::SHA512),
        SigPadding::Pss(p) if p.salt_len == p.hash.digest(b"").len() => match p.hash {
            HashAlg::Sha256 => (&lc::RSA_PSS_SHA256, &lc_digest::SHA256),
            HashAlg::Sha384 => (&lc::RSA_PSS_SHA384, &lc_digest::SHA384),
            HashAlg::Sha512 => (&lc::RSA_PSS_SHA512, &lc_digest::SHA512),
            _ => return None,
        },
        _ => return None,
    })
}

/// AWS-LC's verification parameters matching [`lc_encoding`] (moduli of 2048 bits and up).
fn lc_parameters(padding: SigPadding) -> Option<(&'static lc::RsaParameters, &'static lc_digest::Algorithm)> {
    Some(match padding {
        SigPadding::Pkcs1(Some(HashAlg::Sha256)) => (&lc::RSA_PKCS1_2048_8192_SHA256, &lc_digest::SHA256),
        SigPadding::Pkcs1(Some(HashAlg::Sha384)) => (&lc::RSA_PKCS1_2048_8192_SHA384, &lc_digest::SHA384),
        SigPadding::Pkcs1(Some(HashAlg::Sha512)) => (&lc::RSA_PKCS1_2048_8192_SHA512, &lc_digest::SHA512),
        SigPadding::Pss(p) if p.salt_len == p.hash.digest(b"").len() => match p.hash {
            HashAlg::Sha256 => (&lc::RSA_PSS_2048_8192_SHA256, &lc_digest::SHA256),
            HashAlg::Sha384 => (&lc::RSA_PSS_2048_8192_SHA384, &lc_digest::SHA384),
            HashAlg::Sha512 => (&lc::RSA_PSS_2048_8192_SHA512, &lc_digest::SHA512),
            _ => return None,
        },
        _ => return None,
    })
}

/// The private key of PKCS #1 DER as the `rsa` crate parses it, cached. The bytes come
/// from an authenticated blob or state: a failure is a payload of another version.
pub fn cached_private(der: &[u8]) -> Result<Arc<PrivateKey>> {
    RC_KEYS.get_or_try(der.to_vec(), || from_pkcs1(der).map(Arc::new).ok_or(Error::SavedStateInvalid))
}

/// Signs a prehash (or DigestInfo) with the private key in PKCS #1 DER: AWS-LC where it
/// has the scheme and takes the key, the `rsa` crate otherwise.
pub fn sign_der(der: &[u8], padding: SigPadding, input: &[u8]) -> Result<Vec<u8>> {
    if let Some((encoding, digest_alg)) = lc_encoding(padding) {
        let pair = LC_KEYS.get_or_try(der.to_vec(), || {
            Ok::<_, Error>(aws_lc_rs::rsa::KeyPair::from_der(der).ok().map(Arc::new))
        })?;
        if let Some(pair) = pair {
            let digest = lc_digest::Digest::import_less_safe(input, digest_alg)
                .map_err(|_| Error::DataLenRange("the input is not a hash of the parameter's length"))?;
            let mut signature = vec![0u8; pair.public_modulus_len()];
            pair.sign_digest(encoding, &digest, &mut signature)
                .map_err(|_| Error::General("AWS-LC RSA signing failed"))?;
            return Ok(signature);
        }
    }
    let key = cached_private(der)?;
    sign(&key, padding, input)
}

/// Verifies with the public key in a SubjectPublicKeyInfo: AWS-LC where it has the scheme
/// and the modulus is 2048 bits or more, the `rsa` crate otherwise.
pub fn verify_spki(spki: &[u8], padding: SigPadding, input: &[u8], signature: &[u8]) -> Result<()> {
    let key = from_spki(spki).ok_or(Error::SavedStateInvalid)?;
    match lc_parameters(padding) {
        Some((parameters, digest_alg)) if bits(&key) >= 2048 => {
            let expected = size_bytes(&key);
            if signature.len() != expected {
                return Err(Error::SignatureLenRange { expected, got: signature.len() });
            }
            let digest = lc_digest::Digest::import_less_safe(input, digest_alg)
                .map_err(|_| Error::DataLenRange("the input is not a hash of the parameter's length"))?;
            lc::UnparsedPublicKey::new(parameters, spki)
                .verify_digest(&digest, signature)
                .map_err(|_| Error::SignatureInvalid)
        }
        _ => verify(&key, padding, input, signature),
    }
}

/// CKM_RSA_PKCS_PSS takes a hash of HashMech's length (PKCS #11 §2.1.14).
fn check_hash_len(hash: HashAlg, input: &[u8]) -> Result<()> {
    if input.len() == hash.digest(b"").len() {
        Ok(())
    } else {
        Err(Error::DataLenRange("the input is not a hash of the parameter's length"))
    }
}

// ---- the family's mechanisms and operations ----

/// The RSA mechanisms: key pairs, encryption and key wrapping (CKM_RSA_PKCS, OAEP), and
/// signatures. CKM_RSA_PKCS comes first: IBM's service lists it first.
pub(super) fn register(r: &mut Registry) {
    r.add(CKM_RSA_PKCS, MIN_BITS, MAX_BITS, ENCRYPT | SIGN | WRAP)
        .cipher(RsaEncryption)
        .sign(RsaSign(SignScheme::RsaPkcs(None)))
        .wrap(RsaEncryption)
        .unwrap(RsaEncryption)
        .heavy();
    r.add(CKM_RSA_PKCS_KEY_PAIR_GEN, MIN_BITS, MAX_BITS, CKF_GENERATE_KEY_PAIR)
        .key_pair_gen(RsaKeyPairGen)
        .heavy();
    r.add(CKM_RSA_PKCS_OAEP, MIN_BITS, MAX_BITS, ENCRYPT | WRAP)
        .cipher(RsaEncryption)
        .wrap(RsaEncryption)
        .unwrap(RsaEncryption)
        .heavy();
    let hashes = [HashAlg::Sha1, HashAlg::Sha224, HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];
    let pkcs = [
        CKM_SHA1_RSA_PKCS,
        CKM_SHA224_RSA_PKCS,
        CKM_SHA256_RSA_PKCS,
        CKM_SHA384_RSA_PKCS,
        CKM_SHA512_RSA_PKCS,
    ];
    for (mech, hash) in pkcs.into_iter().zip(hashes) {
        r.add(mech, MIN_BITS, MAX_BITS, SIGN).sign(RsaSign(SignScheme::RsaPkcs(Some(hash)))).heavy();
    }
    r.add(CKM_RSA_PKCS_PSS, MIN_BITS, MAX_BITS, SIGN).sign(RsaSign(SignScheme::RsaPss(None))).heavy();
    let pss = [
        CKM_SHA1_RSA_PKCS_PSS,
        CKM_SHA224_RSA_PKCS_PSS,
        CKM_SHA256_RSA_PKCS_PSS,
        CKM_SHA384_RSA_PKCS_PSS,
        CKM_SHA512_RSA_PKCS_PSS,
    ];
    for (mech, hash) in pss.into_iter().zip(hashes) {
        r.add(mech, MIN_BITS, MAX_BITS, SIGN).sign(RsaSign(SignScheme::RsaPss(Some(hash)))).heavy();
    }
}

/// CKM_RSA_PKCS and CKM_RSA_PKCS_OAEP (the padding follows the mechanism): encryption, and
/// wrapping of secret keys' values under the public KeK.
struct RsaEncryption;

impl Cipher for RsaEncryption {
    fn start(&self, e: &Engine, op: Operation, mech: &Mechanism, key: &[u8], _: Rpc) -> Result<State> {
        let usage = if op == Operation::Encrypt { CKA_ENCRYPT } else { CKA_DECRYPT };
        let padding = Padding::from_mech(mech)?;
        let key = e.open_key(key)?;
        let der = match (&key.material, op) {
            (Material::RsaPublic(pk), Operation::Encrypt) => Zeroizing::new(to_spki(pk)?),
            (Material::RsaPrivate(sk), Operation::Decrypt) => to_pkcs1(sk)?,
            _ => return Err(type_inconsistent(mech.mech, &key.attrs)),
        };
        e.require(&key.attrs, usage)?;
        Ok(State::Rsa(RsaCipherState::new(op, padding, &der)))
    }
}

impl Wrap for RsaEncryption {
    fn wrap(&self, e: &Engine, mech: &Mechanism, key: &[u8], kek: &[u8], _: &[u8]) -> Result<Vec<u8>> {
        let padding = Padding::from_mech(mech)?;
        let kek = e.open_key(kek)?;
        let Material::RsaPublic(pk) = &kek.material else {
            return Err(type_inconsistent(mech.mech, &kek.attrs));
        };
        kek.attrs.require(CKA_WRAP)?;
        let key = e.open_key(key)?;
        attrbound::refuse_plain_wrap(&key)?;
        let Material::Secret(value) = &key.material else {
            return Err(Error::KeyNotWrappable(key.attrs.class()));
        };
        if !key.attrs.flag(CKA_EXTRACTABLE) {
            return Err(Error::KeyUnextractable);
        }
        encrypt(pk, &padding, value).map_err(|e| match e {
            Error::DataLenRange(_) => Error::KeySizeRange(value.len() as u64),
            other => other,
        })
    }
}

impl Unwrap for RsaEncryption {
    fn unwrap(
        &self,
        e: &Engine,
        mech: &Mechanism,
        kek: &[u8],
        _: &[u8],
        wrapped: &[u8],
        template: &Template,
    ) -> Result<NewKey> {
        let kek = e.open_key(kek)?;
        let padding = Padding::from_mech(mech)?;
        let Material::RsaPrivate(sk) = &kek.material else {
            return Err(type_inconsistent(mech.mech, &kek.attrs));
        };
        kek.attrs.require(CKA_UNWRAP)?;
        let key_type = secret_template(template)?;
        if let Some(asked) = attrs::optional_ulong(template, CKA_VALUE_LEN)? {
            check_secret_len(key_type, asked)?;
        }
        let value = decrypt(sk, &padding, wrapped).map_err(|e| match e {
            Error::EncryptedDataLenRange(_) => Error::WrappedKeyLenRange(wrapped.len()),
            Error::EncryptedDataInvalid => Error::WrappedKeyInvalid("the RSA block does not decode"),
            other => other,
        })?;
        let len = value.len() as u64;
        check_secret_len(key_type, len)
            .map_err(|_| Error::WrappedKeyInvalid("the unwrapped value is not a key of that type"))?;
        let attrs = Attrs::build(template, &secret_fixed(key_type, len), Origin::Unwrapped)?;
        e.issue_secret(attrs, value)
    }
}

/// PKCS #1 v1.5 and PSS signatures (CKM_RSA_PKCS signs a caller's DigestInfo).
struct RsaSign(SignScheme);

impl Sign for RsaSign {
    fn scheme(&self) -> SignScheme {
        self.0
    }

    fn param(&self, mech: &Mechanism) -> Result<SignParam> {
        match (self.0, &mech.param) {
            (SignScheme::RsaPss(hash), _) => Ok(SignParam::Pss(PssParams::from_mech(mech, hash)?)),
            (_, MechParam::None) => Ok(SignParam::None),
            _ => Err(Error::MechanismParamInvalid { mech: mech.mech, reason: "takes no parameter" }),
        }
    }

    fn key(
        &self,
        mech: &Mechanism,
        key: &Key,
        verify: bool,
        param: SignParam,
    ) -> Result<(Vec<u8>, SignParam)> {
        match (&key.material, verify) {
            (Material::RsaPrivate(sk), false) => Ok((to_pkcs1(sk)?.to_vec(), param)),
            (Material::RsaPublic(pk), true) => Ok((to_spki(pk)?, param)),
            _ => Err(type_inconsistent(mech.mech, &key.attrs)),
        }
    }
}

/// CKM_RSA_PKCS_KEY_PAIR_GEN: CKA_MODULUS_BITS from the public template (PKCS #11 §2.1.4:
/// required), CKA_PUBLIC_EXPONENT optional (65537).
struct RsaKeyPairGen;

impl KeyPairGen for RsaKeyPairGen {
    fn generate_key_pair(
        &self,
        e: &Engine,
        mech: &Mechanism,
        public_template: &Template,
        private_template: &Template,
    ) -> Result<(NewKey, NewKey)> {
        let bits = attrs::required_ulong(public_template, CKA_MODULUS_BITS)?;
        let exponent = attrs::optional_bytes(public_template, CKA_PUBLIC_EXPONENT)?;
        let sk = generate(bits, exponent.as_deref())?;
        let pk = sk.to_public_key();
        let origin = Origin::Generated(mech.mech);
        // The templates' CKA_PUBLIC_EXPONENT must match what was made: the given bytes are
        // kept as given so that an equal template value with leading zeros still agrees.
        let shown_e = exponent.unwrap_or_else(|| public_exponent(&pk));
        let private = Attrs::build(private_template, &rsa_fixed(CKO_PRIVATE_KEY, &pk, &shown_e), origin)?;
        let public = Attrs::build(public_template, &rsa_fixed(CKO_PUBLIC_KEY, &pk, &shown_e), origin)?;
        let private =
            e.issue(Key { attrs: private, material: Material::RsaPrivate(Box::new(sk)) }, Vec::new())?;
        let public =
            e.issue(Key { attrs: public, material: Material::RsaPublic(Box::new(pk)) }, Vec::new())?;
        Ok((private, public))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a SaltByteCount near 2^63 made the rsa crate allocate the salt and
    /// abort the process. Refused as a parameter now, before any allocation, for signing
    /// and verifying alike; the largest count a 4096-bit key could use still parses.
    #[test]
    fn issue_6_a_huge_pss_salt_is_refused_before_allocating() {
        let pss = |salt_len| Mechanism {
            mech: CKM_SHA256_RSA_PKCS_PSS,
            param: MechParam::Pss { hash: CKM_SHA256, mgf: 2, salt_len }, // MGF1-SHA256
        };
        for salt_len in [MAX_BITS / 8 + 1, 6_914_789_164_490_459_032, u64::MAX] {
            let refused = PssParams::from_mech(&pss(salt_len), Some(HashAlg::Sha256)).unwrap_err();
            assert_eq!(refused.rv(), CKR_MECHANISM_PARAM_INVALID, "{salt_len}");
        }
        assert!(PssParams::from_mech(&pss(MAX_BITS / 8), Some(HashAlg::Sha256)).is_ok());
        // A count that parses but does not fit this key is refused by the crate, not a panic.
        let key = generate(512, None).unwrap();
        let p = PssParams { hash: HashAlg::Sha256, salt_len: (MAX_BITS / 8) as usize };
        let digest = HashAlg::Sha256.digest(b"m");
        assert!(sign(&key, SigPadding::Pss(p), &digest).is_err());
        let signature = vec![1u8; size_bytes(key.as_public_key())];
        assert!(verify(key.as_public_key(), SigPadding::Pss(p), &digest, &signature).is_err());
    }

    /// The PKCS #8 bound leaves room for the largest key and refuses what is above it.
    #[test]
    fn pkcs8_import_is_bounded() {
        let key = generate(2048, None).unwrap();
        let der = to_pkcs8(&key).unwrap();
        // Every part of the key grows linearly with the modulus: twice 2048 bits, twice the size.
        assert!(2 * der.len() + 64 < PKCS8_MAX, "{}", der.len());
        assert!(from_pkcs8(&der).is_some());
        let mut padded = der.to_vec();
        padded.resize(PKCS8_MAX + 1, 0);
        assert!(from_pkcs8(&padded).is_none());
    }

    #[test]
    fn sizes_and_exponents() {
        assert_eq!(generate(511, None).unwrap_err().rv(), CKR_KEY_SIZE_RANGE);
        assert_eq!(generate(4097, None).unwrap_err().rv(), CKR_KEY_SIZE_RANGE);
        assert_eq!(generate(512, Some(&[2])).unwrap_err().rv(), CKR_ATTRIBUTE_VALUE_INVALID);
        let key = generate(512, Some(&[3])).unwrap();
        assert_eq!(bits(key.as_public_key()), 512);
        assert_eq!(public_exponent(key.as_public_key()), [3]);
        // 512-bit keys survive the DER forms the crate would refuse by default.
        let spki = to_spki(key.as_public_key()).unwrap();
        assert_eq!(from_spki(&spki).unwrap(), *key.as_public_key());
        assert!(from_pkcs1(&to_pkcs1(&key).unwrap()).is_some());
        assert!(from_pkcs8(&to_pkcs8(&key).unwrap()).is_some());
    }
}
