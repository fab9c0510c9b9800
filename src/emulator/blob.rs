//! Sealed blobs: the only form in which keys and operation states leave the emulator.
//!
//! A sealed blob is `header || nonce || AES-256-GCM(payload)` under the wrapping key, with
//! `header = MAGIC || VERSION || kind` as associated data, so a blob of one kind cannot be
//! replayed as another and any changed byte fails authentication. A public key blob is
//! `DER SubjectPublicKeyInfo || tag`, where the tag is a sealed blob of kind `PublicKey`
//! whose associated data also covers the SPKI: clients parse the leading DER, as with real
//! servers, and the emulator checks the tag whenever the key is used.
//!
//! Payloads are `postcard` encodings of the structs below; a payload that authenticates
//! but does not decode (a future version, a bug) is refused like a tampered one.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use serde::{Deserialize, Serialize};
use spki::der::{Decode, Reader, SliceReader};
use zeroize::Zeroizing;

use super::attrs::{AttrValue, Attrs};
use super::cache::{self, Bounded};
use super::error::{Error, Result};
use super::mech::dh::{self, DhParams};
use super::mech::dsa;
use super::mech::ec::{self, CurveOps};
use super::mech::rsa::{self, RsaCipherState};
use super::mech::{aes::CipherState, digest::DigestState, sign::SignState};
use crate::pkcs11::{CKA_BASE, CKA_EC_PARAMS, CKA_PRIME, CKK_DH, CKK_DSA, CKK_RSA};

/// Marks an emulator blob. Its first byte is not 0x30, so a sealed blob can never be
/// mistaken for a public key blob, which starts with a DER SEQUENCE.
const MAGIC: [u8; 4] = *b"EMU1";
/// Bumped whenever a payload layout changes; older blobs are then refused, not misread.
const VERSION: u8 = 2;
const HEADER_LEN: usize = MAGIC.len() + 2;
const NONCE_LEN: usize = 12;

/// Why a blob did not open: the end of the Detail a client sees. AES-GCM cannot tell a
/// blob sealed under another wrapping key from an altered one, so one cause names both.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Unopened {
    /// Too short, without the emulator's magic, or (for a public key) no SPKI and tag.
    NotABlob,
    /// An emulator blob of another format version.
    Version(u8),
    /// A state where a key belongs, or a key where a state belongs.
    OtherKind,
    /// Authentication failed: another server's wrapping key, or changed bytes.
    NotSealedHere,
}

impl std::fmt::Display for Unopened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unopened::NotABlob => f.write_str("is not a blob of this emulator"),
            Unopened::Version(v) => {
                write!(f, "has blob format version {v}; this server reads version {VERSION}")
            }
            Unopened::OtherKind => {
                f.write_str("is a blob of another kind (a key for a state or the reverse)")
            }
            Unopened::NotSealedHere => {
                f.write_str("was not sealed by this server (another wrapping key) or was altered")
            }
        }
    }
}

/// What a sealed blob holds; part of the associated data.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Kind {
    SecretKey = 1,
    PrivateKey = 2,
    PublicKey = 3,
    State = 4,
}

/// The key material of one key.
#[derive(Clone)]
pub enum Material {
    /// AES or generic secret value.
    Secret(Zeroizing<Vec<u8>>),
    /// EC or Ed25519 private key: its curve and scalar (Ed25519: seed).
    EcPrivate(&'static dyn CurveOps, Zeroizing<Vec<u8>>),
    /// EC or Ed25519 public key: its curve and point (see `mech::ec`).
    EcPublic(&'static dyn CurveOps, Vec<u8>),
    RsaPrivate(Box<::rsa::PrivateKey>),
    RsaPublic(Box<::rsa::PublicKey>),
    /// DH private key: its group and private value (sealed alone; the group is in the
    /// key's CKA_PRIME and CKA_BASE).
    DhPrivate(Box<DhParams>, Zeroizing<Vec<u8>>),
    /// DH public key: its group and public value.
    DhPublic(Box<DhParams>, Vec<u8>),
    /// DSA private key (sealed as PKCS #8).
    DsaPrivate(Box<::dsa::SigningKey>),
    DsaPublic(Box<::dsa::VerifyingKey>),
}

impl Material {
    /// The DER SubjectPublicKeyInfo of a public key (or of a private key's public half).
    pub fn spki(&self) -> Result<Vec<u8>> {
        match self {
            Material::EcPublic(c, point) => c.to_spki(point),
            Material::EcPrivate(c, scalar) => c.to_spki(&c.public_point(scalar)?),
            Material::RsaPublic(k) => rsa::to_spki(k),
            Material::RsaPrivate(k) => rsa::to_spki(k.as_public_key()),
            Material::DhPublic(params, y) => params.to_spki(y),
            Material::DhPrivate(params, x) => {
                params.to_spki(&params.public_value(x).ok_or(Error::KeyHandleInvalid)?)
            }
            Material::DsaPublic(k) => dsa::to_spki(k),
            Material::DsaPrivate(k) => dsa::to_spki(k.verifying_key()),
            Material::Secret(_) => Err(Error::General("a secret key has no SPKI")),
        }
    }
}

/// One key: attributes and material.
#[derive(Clone)]
pub struct Key {
    pub(crate) attrs: Attrs,
    pub(crate) material: Material,
}

/// Sealed form of a secret or private key.
#[derive(Serialize, Deserialize)]
struct KeyRecord {
    attrs: Vec<(u64, AttrValue)>,
    /// Secret value, the private scalar (EC) or PKCS #1 RSAPrivateKey (RSA); empty for public
    /// keys (the SPKI carries them).
    material: Vec<u8>,
}

/// The operation a state belongs to; a state of one operation is refused by another's
/// RPCs with CKR_OPERATION_NOT_INITIALIZED.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Operation {
    /// DigestInit, Digest, DigestUpdate, DigestFinal.
    Digest,
    /// EncryptInit and the calls that continue it; EncryptSingle.
    Encrypt,
    /// DecryptInit and the calls that continue it; DecryptSingle.
    Decrypt,
    /// SignInit and the calls that continue it; SignSingle.
    Sign,
    /// VerifyInit and the calls that continue it; VerifySingle.
    Verify,
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// The state of a multi-part operation between calls.
#[derive(Serialize, Deserialize)]
pub enum State {
    Digest(DigestState),
    Cipher(CipherState),
    Sign(SignState),
    /// RSA encryption or decryption (single-part).
    Rsa(RsaCipherState),
}

impl State {
    /// The operation this state continues.
    pub fn operation(&self) -> Operation {
        match self {
            State::Digest(_) => Operation::Digest,
            State::Cipher(c) => c.operation(),
            State::Sign(s) => s.operation(),
            State::Rsa(r) => r.operation(),
        }
    }
}

/// Seals and opens blobs under the wrapping key.
pub struct Sealer {
    cipher: Aes256Gcm,
    /// Opened keys by their sealed bytes: a blob authenticates under this sealer's key, so
    /// the same bytes always open to the same key, and a repeated call skips the AEAD, the
    /// decoding and the parsing (an RSA key's validation and precomputation).
    opened: Bounded<Vec<u8>, Key>,
}

impl Sealer {
    /// A sealer for the AES-256 `wrapping_key`; blobs open only under the same key.
    pub fn new(wrapping_key: &[u8; 32]) -> Sealer {
        Sealer { cipher: Aes256Gcm::new(&(*wrapping_key).into()), opened: Bounded::new(cache::CAPACITY) }
    }

    fn seal(&self, kind: Kind, bound: &[u8], payload: &[u8]) -> Result<Vec<u8>> {
        let mut blob = Vec::with_capacity(HEADER_LEN + NONCE_LEN + payload.len() + 16);
        blob.extend_from_slice(&MAGIC);
        blob.extend_from_slice(&[VERSION, kind as u8]);
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce[..]);
        let aad = [&blob[..HEADER_LEN], bound].concat();
        let sealed = self
            .cipher
            .encrypt(&nonce.into(), Payload { msg: payload, aad: &aad })
            .map_err(|_| Error::General("sealing failed"))?;
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        Ok(blob)
    }

    /// Opens a blob of `kind`, or says why it does not open. The version and kind bytes are
    /// read before authentication only to word the refusal; they are authenticated too.
    fn open(
        &self,
        kind: Kind,
        bound: &[u8],
        blob: &[u8],
    ) -> std::result::Result<Zeroizing<Vec<u8>>, Unopened> {
        let (header, rest) = blob.split_at_checked(HEADER_LEN).ok_or(Unopened::NotABlob)?;
        if header[..MAGIC.len()] != MAGIC {
            return Err(Unopened::NotABlob);
        }
        let (version, found) = (header[MAGIC.len()], header[MAGIC.len() + 1]);
        if version != VERSION {
            return Err(Unopened::Version(version));
        }
        if found != kind as u8 {
            return Err(Unopened::OtherKind);
        }
        let (nonce, sealed) = rest.split_at_checked(NONCE_LEN).ok_or(Unopened::NotABlob)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Unopened::NotABlob)?;
        // Only public keys bind extra bytes (their SPKI); the rest authenticate the header alone.
        let aad = if bound.is_empty() {
            std::borrow::Cow::Borrowed(header)
        } else {
            [header, bound].concat().into()
        };
        self.cipher
            .decrypt(&nonce.into(), Payload { msg: sealed, aad: &aad })
            .map(Zeroizing::new)
            .map_err(|_| Unopened::NotSealedHere)
    }

    /// The blob of a key: sealed record for secret and private keys, SPKI || tag for public.
    pub fn seal_key(&self, key: &Key) -> Result<Vec<u8>> {
        let attrs = key.attrs.to_rows();
        let (kind, spki, material) = match &key.material {
            Material::Secret(v) => (Kind::SecretKey, Vec::new(), Zeroizing::new(v.to_vec())),
            Material::EcPrivate(_, scalar) => (Kind::PrivateKey, Vec::new(), scalar.clone()),
            Material::RsaPrivate(k) => (Kind::PrivateKey, Vec::new(), rsa::to_pkcs1(k)?),
            Material::DhPrivate(_, x) => (Kind::PrivateKey, Vec::new(), x.clone()),
            Material::DsaPrivate(k) => (Kind::PrivateKey, Vec::new(), dsa::to_pkcs8(k)?),
            Material::EcPublic(..)
            | Material::RsaPublic(_)
            | Material::DhPublic(..)
            | Material::DsaPublic(_) => (Kind::PublicKey, key.material.spki()?, Zeroizing::new(Vec::new())),
        };
        let record = KeyRecord { attrs, material: material.to_vec() };
        let payload = Zeroizing::new(encode(&record)?);
        let sealed = self.seal(kind, &spki, &payload)?;
        Ok([spki, sealed].concat())
    }

    /// Opens a key blob; anything that does not open is CKR_KEY_HANDLE_INVALID with the
    /// reason, an empty blob is a missing argument.
    pub fn open_key(&self, blob: &[u8]) -> Result<Key> {
        if blob.is_empty() {
            return Err(Error::ArgumentsBad("no key blob"));
        }
        if let Some(key) = self.opened.get(blob) {
            return Ok(key);
        }
        let key = self.open_key_uncached(blob)?;
        self.opened.insert(blob.to_vec(), key.clone());
        Ok(key)
    }

    fn open_key_uncached(&self, blob: &[u8]) -> Result<Key> {
        let (kind, spki, tag) = if blob.starts_with(&MAGIC) {
            // Any other kind byte is refused by `open` as a blob of another kind.
            let kind = match blob.get(MAGIC.len() + 1) {
                Some(&k) if k == Kind::PrivateKey as u8 => Kind::PrivateKey,
                _ => Kind::SecretKey,
            };
            (kind, &[][..], blob)
        } else {
            let spki_len = leading_der_len(blob).ok_or(Error::KeyBlobRefused(Unopened::NotABlob))?;
            let (spki, tag) = blob.split_at(spki_len);
            (Kind::PublicKey, spki, tag)
        };
        let payload = self.open(kind, spki, tag).map_err(Error::KeyBlobRefused)?;
        let record: KeyRecord = postcard::from_bytes(&payload).map_err(|_| Error::KeyHandleInvalid)?;
        let attrs = Attrs::from_rows(record.attrs);
        let material = Zeroizing::new(record.material);
        // The payload authenticated, so a failure to decode below is a layout of another
        // version: refused like a tampered blob.
        let material = match kind {
            Kind::SecretKey => Material::Secret(material),
            Kind::PrivateKey if attrs.key_type() == CKK_RSA => {
                Material::RsaPrivate(Box::new(rsa::from_pkcs1(&material).ok_or(Error::KeyHandleInvalid)?))
            }
            Kind::PrivateKey if attrs.key_type() == CKK_DH => {
                let part = |attr| match attrs.get(attr) {
                    Ok(AttrValue::Bytes(v)) => Ok(v),
                    _ => Err(Error::KeyHandleInvalid),
                };
                let params = DhParams::from_parts(&part(CKA_PRIME)?, &part(CKA_BASE)?)
                    .map_err(|_| Error::KeyHandleInvalid)?;
                Material::DhPrivate(Box::new(params), material)
            }
            Kind::PrivateKey if attrs.key_type() == CKK_DSA => {
                Material::DsaPrivate(Box::new(dsa::from_pkcs8(&material).ok_or(Error::KeyHandleInvalid)?))
            }
            Kind::PrivateKey => {
                let params = match attrs.get(CKA_EC_PARAMS) {
                    Ok(AttrValue::Bytes(p)) => p,
                    _ => return Err(Error::KeyHandleInvalid),
                };
                let curve = ec::by_params(&params).map_err(|_| Error::KeyHandleInvalid)?;
                Material::EcPrivate(curve, material)
            }
            _ if attrs.key_type() == CKK_DH => {
                let (params, y) = dh::from_spki(spki).ok_or(Error::KeyHandleInvalid)?;
                Material::DhPublic(Box::new(params), y)
            }
            _ if attrs.key_type() == CKK_DSA => {
                Material::DsaPublic(Box::new(dsa::from_spki(spki).ok_or(Error::KeyHandleInvalid)?))
            }
            _ => match ec::from_spki(spki) {
                Some((curve, point)) => Material::EcPublic(curve, point),
                None => Material::RsaPublic(Box::new(rsa::from_spki(spki).ok_or(Error::KeyHandleInvalid)?)),
            },
        };
        Ok(Key { attrs, material })
    }

    pub(crate) fn seal_state(&self, state: &State) -> Result<Vec<u8>> {
        let payload = Zeroizing::new(encode(state)?);
        self.seal(Kind::State, &[], &payload)
    }

    /// Opens a state for `expected`: a blob that does not open is CKR_SAVED_STATE_INVALID,
    /// a valid state of another operation CKR_OPERATION_NOT_INITIALIZED.
    pub(crate) fn open_state(&self, blob: &[u8], expected: Operation) -> Result<State> {
        let payload = self.open(Kind::State, &[], blob).map_err(Error::StateBlobRefused)?;
        let state: State = postcard::from_bytes(&payload).map_err(|_| Error::SavedStateInvalid)?;
        let found = state.operation();
        if found != expected {
            return Err(Error::OperationNotInitialized { expected, found });
        }
        Ok(state)
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    postcard::to_allocvec(value).map_err(|_| Error::General("payload encoding failed"))
}

/// The length of the SubjectPublicKeyInfo at the start of `blob`.
fn leading_der_len(blob: &[u8]) -> Option<usize> {
    let mut reader = SliceReader::new(blob).ok()?;
    spki::SubjectPublicKeyInfoRef::decode(&mut reader).ok()?;
    usize::try_from(reader.position()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs11::*;

    fn secret_key() -> Key {
        let attrs = Attrs::from_rows(vec![(CKA_CLASS.0, AttrValue::Ulong(CKO_SECRET_KEY.0))]);
        Key { attrs, material: Material::Secret(Zeroizing::new(vec![7; 16])) }
    }

    #[test]
    fn every_changed_byte_is_refused() {
        let sealer = Sealer::new(&[1; 32]);
        let blob = sealer.seal_key(&secret_key()).unwrap();
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            let refused = sealer.open_key(&bad).err().map(|e| e.rv());
            assert_eq!(refused, Some(CKR_KEY_HANDLE_INVALID), "byte {i}");
        }
        assert!(sealer.open_key(&blob[..blob.len() - 1]).is_err());
        assert!(sealer.open_key(&blob).is_ok());
    }

    /// Keys and states sealed by another server (another wrapping key) are refused with
    /// the code for a bad key or state, and a Detail that says why.
    #[test]
    fn another_wrapping_key_cannot_open() {
        let (ours, theirs) = (Sealer::new(&[2; 32]), Sealer::new(&[1; 32]));
        let key = theirs.seal_key(&secret_key()).unwrap();
        let refused = ours.open_key(&key).err().unwrap();
        assert_eq!(refused, Error::KeyBlobRefused(Unopened::NotSealedHere));
        assert_eq!(refused.rv(), CKR_KEY_HANDLE_INVALID);
        assert_eq!(
            refused.to_string(),
            "the key blob was not sealed by this server (another wrapping key) or was altered"
        );
        let state = theirs
            .seal_state(&State::Digest(DigestState::new(super::super::mech::digest::HashAlg::Sha256)))
            .unwrap();
        let refused = ours.open_state(&state, Operation::Digest).err().unwrap();
        assert_eq!(refused, Error::StateBlobRefused(Unopened::NotSealedHere));
        assert_eq!(refused.rv(), CKR_SAVED_STATE_INVALID);
        assert!(refused.to_string().contains("not sealed by this server"), "{refused}");
    }

    /// A blob of another format version is refused naming both versions, before any
    /// attempt to read it (the version byte is authenticated too, so it cannot be edited).
    #[test]
    fn another_version_is_refused_by_name() {
        let sealer = Sealer::new(&[1; 32]);
        let mut blob = sealer.seal_key(&secret_key()).unwrap();
        blob[MAGIC.len()] = VERSION - 1;
        let refused = sealer.open_key(&blob).err().unwrap();
        assert_eq!(refused.rv(), CKR_KEY_HANDLE_INVALID);
        assert_eq!(
            refused.to_string(),
            format!(
                "the key blob has blob format version {}; this server reads version {VERSION}",
                VERSION - 1
            )
        );
        let refused = sealer.open_state(&blob, Operation::Digest).err().unwrap();
        assert_eq!(refused, Error::StateBlobRefused(Unopened::Version(VERSION - 1)));
    }

    #[test]
    fn kinds_do_not_mix() {
        let sealer = Sealer::new(&[1; 32]);
        let key = sealer.seal_key(&secret_key()).unwrap();
        assert_eq!(
            sealer.open_state(&key, Operation::Digest).err(),
            Some(Error::StateBlobRefused(Unopened::OtherKind))
        );
        let state = sealer
            .seal_state(&State::Digest(DigestState::new(super::super::mech::digest::HashAlg::Sha256)))
            .unwrap();
        assert_eq!(sealer.open_key(&state).err(), Some(Error::KeyBlobRefused(Unopened::OtherKind)));
        assert!(matches!(
            sealer.open_state(&state, Operation::Encrypt),
            Err(Error::OperationNotInitialized { expected: Operation::Encrypt, found: Operation::Digest })
        ));
        for garbage in [&[][..], &[0x30, 0x03, 1, 2, 3][..], b"EMU1\x01\x04"] {
            let refused = sealer.open_state(garbage, Operation::Digest).err().map(|e| e.rv());
            assert_eq!(refused, Some(CKR_SAVED_STATE_INVALID));
            assert!(sealer.open_key(garbage).is_err());
        }
    }
}
