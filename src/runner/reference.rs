//! The harness's own cryptography, independent of any endpoint: what `local.*` steps and
//! expression functions compute, so that an endpoint that is consistently wrong (a wrong
//! digest everywhere, a signature only it accepts) still fails. All of it comes from
//! RustCrypto crates; nothing here implements a primitive.

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::block_padding::{NoPadding, Pkcs7};
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit};
use der::{Decode, Reader, SliceReader};
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use sha2::Digest;

use crate::pkcs11::{self as p11, CkMechanismType, Curve};

/// Why a reference computation could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RefError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, RefError> {
    Err(RefError(msg.into()))
}

pub fn digest(mech: CkMechanismType, data: &[u8]) -> Result<Vec<u8>, RefError> {
    Ok(match mech {
        p11::CKM_SHA_1 => sha1::Sha1::digest(data).to_vec(),
        p11::CKM_SHA224 => sha2::Sha224::digest(data).to_vec(),
        p11::CKM_SHA256 => sha2::Sha256::digest(data).to_vec(),
        p11::CKM_SHA384 => sha2::Sha384::digest(data).to_vec(),
        p11::CKM_SHA512 => sha2::Sha512::digest(data).to_vec(),
        other => return err(format!("no local digest for {other}")),
    })
}

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

fn hmac_of<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Result<Vec<u8>, RefError> {
    let mut mac = <M as KeyInit>::new_from_slice(key).map_err(|e| RefError(format!("HMAC key: {e}")))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

pub fn hmac(mech: CkMechanismType, key: &[u8], data: &[u8]) -> Result<Vec<u8>, RefError> {
    match mech {
        p11::CKM_SHA_1_HMAC => hmac_of::<Hmac<sha1::Sha1>>(key, data),
        p11::CKM_SHA224_HMAC => hmac_of::<Hmac<sha2::Sha224>>(key, data),
        p11::CKM_SHA256_HMAC => hmac_of::<Hmac<sha2::Sha256>>(key, data),
        p11::CKM_SHA384_HMAC => hmac_of::<Hmac<sha2::Sha384>>(key, data),
        p11::CKM_SHA512_HMAC => hmac_of::<Hmac<sha2::Sha512>>(key, data),
        other => err(format!("no local MAC for {other}")),
    }
}

/// `local.sign`: a MAC with a raw key, or ECDSA (raw r || s) with a raw P-256 scalar.
pub fn sign(mech: CkMechanismType, key: &[u8], data: &[u8]) -> Result<Vec<u8>, RefError> {
    if let Ok(mac) = hmac(mech, key, data) {
        return Ok(mac);
    }
    let hash = ecdsa_hash(mech, data)?;
    let signing =
        p256::ecdsa::SigningKey::from_slice(key).map_err(|e| RefError(format!("P-256 private key: {e}")))?;
    let sig: p256::ecdsa::Signature =
        signing.sign_prehash(&hash).map_err(|e| RefError(format!("ECDSA signing failed: {e}")))?;
    Ok(sig.to_bytes().to_vec())
}

/// `local.verify`: a MAC compared with a raw key, or ECDSA with an SPKI (or a public key
/// blob that begins with one).
pub fn verify(mech: CkMechanismType, key: &[u8], data: &[u8], signature: &[u8]) -> Result<(), RefError> {
    if let Ok(mac) = hmac(mech, key, data) {
        return if mac == signature { Ok(()) } else { err("the MAC does not match the local computation") };
    }
    let hash = ecdsa_hash(mech, data)?;
    let verifying = verifying_key(key)?;
    let sig = p256::ecdsa::Signature::from_slice(signature)
        .map_err(|e| RefError(format!("signature is not a P-256 r || s ({} bytes): {e}", signature.len())))?;
    verifying
        .verify_prehash(&hash, &sig)
        .map_err(|_| RefError("the signature does not verify locally".into()))
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

fn with_aes<R>(
    key: &[u8],
    f128: impl FnOnce() -> Result<R, RefError>,
    f192: impl FnOnce() -> Result<R, RefError>,
    f256: impl FnOnce() -> Result<R, RefError>,
) -> Result<R, RefError> {
    match key.len() {
        16 => f128(),
        24 => f192(),
        32 => f256(),
        n => err(format!("an AES key has 16, 24 or 32 bytes, not {n}")),
    }
}

fn check_iv(iv: Option<&[u8]>) -> Result<&[u8], RefError> {
    match iv {
        Some(iv) if iv.len() == 16 => Ok(iv),
        Some(iv) => err(format!("an AES IV has 16 bytes, not {}", iv.len())),
        None => err("this mechanism needs an IV (param)"),
    }
}

fn aes_mode<C>(
    mech: CkMechanismType,
    key: &[u8],
    iv: Option<&[u8]>,
    data: &[u8],
    encrypt: bool,
) -> Result<Vec<u8>, RefError>
where
    C: aes::cipher::BlockCipherEncrypt
        + aes::cipher::BlockCipherDecrypt
        + KeyInit
        + aes::cipher::BlockSizeUser<BlockSize = aes::cipher::consts::U16>,
{
    let bad_len = || RefError(format!("{} bytes is not a whole number of AES blocks", data.len()));
    let bad_key = |e: aes::cipher::InvalidLength| RefError(e.to_string());
    let unaligned = !data.len().is_multiple_of(16);
    match (mech, encrypt) {
        (p11::CKM_AES_ECB, _) if unaligned => Err(bad_len()),
        (p11::CKM_AES_ECB, true) => Ok(ecb::Encryptor::<C>::new_from_slice(key)
            .map_err(bad_key)?
            .encrypt_padded_vec::<NoPadding>(data)),
        (p11::CKM_AES_ECB, false) => ecb::Decryptor::<C>::new_from_slice(key)
            .map_err(bad_key)?
            .decrypt_padded_vec::<NoPadding>(data)
            .map_err(|_| bad_len()),
        (p11::CKM_AES_CBC, _) if unaligned => Err(bad_len()),
        (p11::CKM_AES_CBC, true) => Ok(cbc::Encryptor::<C>::new_from_slices(key, check_iv(iv)?)
            .map_err(bad_key)?
            .encrypt_padded_vec::<NoPadding>(data)),
        (p11::CKM_AES_CBC, false) => cbc::Decryptor::<C>::new_from_slices(key, check_iv(iv)?)
            .map_err(bad_key)?
            .decrypt_padded_vec::<NoPadding>(data)
            .map_err(|_| bad_len()),
        (p11::CKM_AES_CBC_PAD, true) => Ok(cbc::Encryptor::<C>::new_from_slices(key, check_iv(iv)?)
            .map_err(bad_key)?
            .encrypt_padded_vec::<Pkcs7>(data)),
        (p11::CKM_AES_CBC_PAD, false) => cbc::Decryptor::<C>::new_from_slices(key, check_iv(iv)?)
            .map_err(bad_key)?
            .decrypt_padded_vec::<Pkcs7>(data)
            .map_err(|_| RefError("bad CBC padding".into())),
        (other, _) => err(format!("no local cipher for {other}")),
    }
}

/// `local.encrypt` / `local.decrypt` with AES ECB, CBC and CBC_PAD.
pub fn cipher(
    mech: CkMechanismType,
    key: &[u8],
    iv: Option<&[u8]>,
    data: &[u8],
    encrypt: bool,
) -> Result<Vec<u8>, RefError> {
    with_aes(
        key,
        || aes_mode::<Aes128>(mech, key, iv, data, encrypt),
        || aes_mode::<Aes192>(mech, key, iv, data, encrypt),
        || aes_mode::<Aes256>(mech, key, iv, data, encrypt),
    )
}

/// The AES key check value: the first 3 bytes of the key's encryption of a zero block.
pub fn kcv(key: &[u8]) -> Result<Vec<u8>, RefError> {
    let mut out = cipher(p11::CKM_AES_ECB, key, None, &[0u8; 16], true)?;
    out.truncate(3);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fips_180_abc() {
        assert_eq!(
            hex::encode(digest(p11::CKM_SHA256, b"abc").unwrap()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn sp800_38a_f21_cbc_aes128_first_block() {
        let key = hex::decode("2b7e151628aed2a6abf7158809cf4f3c").unwrap();
        let iv = hex::decode("000102030405060708090a0b0c0d0e0f").unwrap();
        let pt = hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap();
        let ct = cipher(p11::CKM_AES_CBC, &key, Some(&iv), &pt, true).unwrap();
        assert_eq!(hex::encode(&ct), "7649abac8119b246cee98e9b12e9197d");
        assert_eq!(cipher(p11::CKM_AES_CBC, &key, Some(&iv), &ct, false).unwrap(), pt);
    }

    #[test]
    fn rfc4231_case_2() {
        let mac = hmac(p11::CKM_SHA256_HMAC, b"Jefe", b"what do ya want for nothing?").unwrap();
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn ecdsa_and_ecdh_round_trip_with_trailing_tag() {
        let KeyPair { private_scalar: private, spki: spki_der, point } =
            keypair(&Curve::P256.ec_params()).unwrap();
        let sig = sign(p11::CKM_ECDSA_SHA256, &private, b"hello").unwrap();
        let mut blob = spki_der.clone();
        blob.extend_from_slice(b"integrity-tag");
        verify(p11::CKM_ECDSA_SHA256, &blob, b"hello", &sig).unwrap();
        assert!(verify(p11::CKM_ECDSA_SHA256, &blob, b"hellO", &sig).is_err());
        assert_eq!(ec_point(&blob).unwrap(), point);
        let KeyPair { private_scalar: other, spki: other_spki, .. } =
            keypair(&Curve::P256.ec_params()).unwrap();
        assert_eq!(ecdh(&private, &other_spki).unwrap(), ecdh(&other, &point).unwrap());
    }
}
