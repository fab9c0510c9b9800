//! The wrapped form of CKM_IBM_ATTRIBUTEBOUND_WRAP: a key together with its attributes,
//! encrypted under the KeK and authenticated with the MAC key, so that neither the key nor
//! any attribute can be changed on the way (IBM documents the mechanism, not its bytes;
//! this layout is the emulator's own):
//!
//! ```text
//! "ABW1"                          format tag
//! u32 n, n attribute rows         u64 type | u8 kind (0 bool, 1 CK_ULONG, 2 bytes)
//!                                 | u32 length | value (AttrValue::to_bytes)
//! u32 length, key block           RSA KeK: RSA-OAEP (SHA-256, MGF1-SHA-256) of a fresh
//!                                 32-byte content key; AES KeK: empty
//! u32 length, body                AES key wrap with padding (RFC 5649) of the key material
//!                                 under the content key or the AES KeK: a secret key's value,
//!                                 or a private key's PKCS #8 PrivateKeyInfo
//! 32 bytes                        HMAC-SHA256 under the MAC key of everything before it
//! ```
//!
//! The MAC is checked before anything is decrypted or parsed, so an altered byte anywhere
//! (attributes, key block, body, tag) is CKR_WRAPPED_KEY_INVALID, as is a MAC key other than
//! the wrapping one.

use zeroize::Zeroizing;

use crate::emulator::attrs::AttrValue;
use crate::emulator::blob::Operation;
use crate::emulator::error::{Error, Result};
use crate::emulator::mech::aes::{AesMode, BlockCipher, CipherState};
use crate::emulator::mech::digest::HashAlg;
use crate::emulator::mech::rsa::{self as rsa_mech, Padding};
use crate::emulator::mech::{MechParam, Mechanism, hmac};
use crate::pkcs11::{CKM_AES_KEY_WRAP_PAD, CkAttributeType};

const MAGIC: &[u8; 4] = b"ABW1";
const TAG_LEN: usize = 32;
const CONTENT_KEY_LEN: usize = 32;

/// The key that encrypts (wrap) or decrypts (unwrap) the material.
pub enum Kek<'a> {
    Aes(&'a [u8]),
    RsaPublic(&'a ::rsa::PublicKey),
    RsaPrivate(&'a ::rsa::PrivateKey),
}

/// What an attribute-bound wrap carries.
pub struct Bound {
    pub attrs: Vec<(CkAttributeType, AttrValue)>,
    pub material: Zeroizing<Vec<u8>>,
}

fn oaep() -> Padding {
    Padding::Oaep { hash: HashAlg::Sha256, mgf: HashAlg::Sha256, label: Vec::new() }
}

fn key_wrap(op: Operation, key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    let mech = Mechanism { mech: CKM_AES_KEY_WRAP_PAD, param: MechParam::None };
    CipherState::start(op, BlockCipher::Aes, AesMode::KeyWrapPad, &mech, key)?.run(data)
}

fn invalid(reason: &'static str) -> Error {
    Error::WrappedKeyInvalid(reason)
}

/// The wrapped form of `bound` under `kek` and `mac_key`.
pub fn wrap(bound: &Bound, kek: Kek<'_>, mac_key: &[u8]) -> Result<Vec<u8>> {
    let (key_block, body) = match kek {
        Kek::Aes(k) => (Vec::new(), key_wrap(Operation::Encrypt, k, &bound.material)?),
        Kek::RsaPublic(pk) => {
            let mut cek = Zeroizing::new(vec![0u8; CONTENT_KEY_LEN]);
            rand::fill(&mut cek[..]);
            // A modulus too small for OAEP-SHA-256 of 32 bytes cannot be this KeK.
            let block =
                rsa_mech::encrypt(pk, &oaep(), &cek).map_err(|_| Error::KeySizeRange(rsa_mech::bits(pk)))?;
            (block, key_wrap(Operation::Encrypt, &cek, &bound.material)?)
        }
        Kek::RsaPrivate(_) => return Err(Error::General("a private KeK cannot wrap")),
    };
    let mut out = MAGIC.to_vec();
    push_len(&mut out, bound.attrs.len());
    for (attr, value) in &bound.attrs {
        out.extend_from_slice(&attr.0.to_be_bytes());
        out.push(match value {
            AttrValue::Bool(_) => 0,
            AttrValue::Ulong(_) => 1,
            AttrValue::Bytes(_) => 2,
        });
        let bytes = value.to_bytes();
        push_len(&mut out, bytes.len());
        out.extend_from_slice(&bytes);
    }
    push_len(&mut out, key_block.len());
    out.extend_from_slice(&key_block);
    push_len(&mut out, body.len());
    out.extend_from_slice(&body);
    let tag = hmac::mac(HashAlg::Sha256, mac_key, &out)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// The key and attributes inside `wrapped`, once its MAC has verified under `mac_key`.
pub fn unwrap(wrapped: &[u8], kek: Kek<'_>, mac_key: &[u8]) -> Result<Bound> {
    if wrapped.len() < MAGIC.len() + TAG_LEN {
        return Err(Error::WrappedKeyLenRange(wrapped.len()));
    }
    let (signed, tag) = wrapped.split_at(wrapped.len() - TAG_LEN);
    hmac::verify(HashAlg::Sha256, mac_key, signed, tag)
        .map_err(|_| invalid("the attribute-bound MAC does not verify under this MAC key"))?;
    let mut r = Reader(signed);
    if r.take(MAGIC.len())? != MAGIC {
        return Err(invalid("not an attribute-bound wrap of this server"));
    }
    let rows = r.len()?;
    let mut attrs = Vec::new();
    for _ in 0..rows {
        let attr = CkAttributeType(u64::from_be_bytes(r.array()?));
        let [kind] = r.array()?;
        let len = r.len()?;
        let bytes = r.take(len)?;
        let value = match (kind, bytes) {
            (0, [b]) => AttrValue::Bool(*b != 0),
            (1, b) => {
                AttrValue::Ulong(u64::from_be_bytes(b.try_into().map_err(|_| invalid("bad CK_ULONG"))?))
            }
            (2, b) => AttrValue::Bytes(b.to_vec()),
            _ => return Err(invalid("bad attribute row")),
        };
        attrs.push((attr, value));
    }
    let len = r.len()?;
    let key_block = r.take(len)?;
    let len = r.len()?;
    let body = r.take(len)?;
    if !r.0.is_empty() {
        return Err(invalid("trailing bytes"));
    }
    let undecodable = |_| invalid("the key material does not decrypt");
    let material = match kek {
        Kek::Aes(k) if key_block.is_empty() => key_wrap(Operation::Decrypt, k, body).map_err(undecodable)?,
        Kek::RsaPrivate(sk) if !key_block.is_empty() => {
            let cek = rsa_mech::decrypt(sk, &oaep(), key_block).map_err(undecodable)?;
            key_wrap(Operation::Decrypt, &cek, body).map_err(undecodable)?
        }
        _ => return Err(invalid("wrapped under another kind of KeK")),
    };
    Ok(Bound { attrs, material: Zeroizing::new(material) })
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    // Attribute values, RSA blocks and PKCS #8 keys are far below 4 GiB.
    out.extend_from_slice(&(len as u32).to_be_bytes());
}

/// Reads the authenticated bytes; running short means a layout of another server.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.0.len() {
            return Err(invalid("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().unwrap_or([0; N]))
    }

    fn len(&mut self) -> Result<usize> {
        Ok(u32::from_be_bytes(self.array()?) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs11::*;

    fn bound() -> Bound {
        Bound {
            attrs: vec![
                (CKA_CLASS, AttrValue::Ulong(CKO_SECRET_KEY.0)),
                (CKA_ENCRYPT, AttrValue::Bool(true)),
                (CKA_LABEL, AttrValue::Bytes(b"k".to_vec())),
            ],
            material: Zeroizing::new(vec![0x5a; 16]),
        }
    }

    /// Round trip under an AES KeK, and every single-bit change anywhere refused.
    #[test]
    fn any_altered_byte_is_refused() {
        let (kek, mac) = ([1u8; 32], [2u8; 32]);
        let wrapped = wrap(&bound(), Kek::Aes(&kek), &mac).unwrap();
        let back = unwrap(&wrapped, Kek::Aes(&kek), &mac).unwrap();
        assert_eq!((back.attrs, back.material.to_vec()), (bound().attrs, bound().material.to_vec()));
        for i in 0..wrapped.len() {
            let mut bad = wrapped.clone();
            bad[i] ^= 0x01;
            let rv = unwrap(&bad, Kek::Aes(&kek), &mac).err().map(|e| e.rv());
            assert_eq!(rv, Some(CKR_WRAPPED_KEY_INVALID), "byte {i}");
        }
        let other_mac = unwrap(&wrapped, Kek::Aes(&kek), &[3u8; 32]).err().map(|e| e.rv());
        assert_eq!(other_mac, Some(CKR_WRAPPED_KEY_INVALID));
        let short = unwrap(&wrapped[..20], Kek::Aes(&kek), &mac).err().map(|e| e.rv());
        assert_eq!(short, Some(CKR_WRAPPED_KEY_LEN_RANGE));
    }
}
