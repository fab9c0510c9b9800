//! Block cipher modes, the AES key wraps and the key check value.
//!
//! AES: ECB, CBC, CBC_PAD, CTR (the whole 16-byte parameter is the big-endian counter
//! block), KEY_WRAP (RFC 3394) and KEY_WRAP_PAD (RFC 5649). DES3 (three-key EDE): ECB,
//! CBC, CBC_PAD with an 8-byte IV. The mechanism picks the cipher: a 24-byte key is AES-192
//! or DES3 only by the mechanism that uses it.

use aes::{Aes128, Aes192, Aes256};
use aes_kw::{AesKw, AesKwp};
use cbc::cipher::block_padding::{NoPadding, Pkcs7};
use cbc::cipher::{
    BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, BlockSizeUser, KeyInit,
    KeyIvInit, StreamCipher, consts::U16,
};

use super::{RefError, malformed, unsupported};
use crate::pkcs11::{self as p11, CkMechanismType};

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
        n => malformed(format!("an AES key has 16, 24 or 32 bytes, not {n}")),
    }
}

fn check_iv(iv: Option<&[u8]>, len: usize) -> Result<&[u8], RefError> {
    match iv {
        Some(iv) if iv.len() == len => Ok(iv),
        Some(iv) => unsupported(format!("this IV has {len} bytes, not {}", iv.len())),
        None => unsupported("this mechanism needs an IV (param)"),
    }
}

/// The classic block modes, by their place in a mechanism name.
#[derive(Clone, Copy)]
enum Mode {
    Ecb,
    Cbc,
    CbcPad,
}

/// ECB, CBC or CBC_PAD with any block cipher `C`.
fn block_mode<C>(
    mode: Mode,
    key: &[u8],
    iv: Option<&[u8]>,
    data: &[u8],
    encrypt: bool,
) -> Result<Vec<u8>, RefError>
where
    C: BlockCipherEncrypt + BlockCipherDecrypt + KeyInit,
{
    let block = C::block_size();
    let bad_len =
        || RefError::Malformed(format!("{} bytes is not a whole number of {block}-byte blocks", data.len()));
    let bad_key = |e: aes::cipher::InvalidLength| RefError::Malformed(e.to_string());
    let unaligned = !data.len().is_multiple_of(block);
    match (mode, encrypt) {
        (Mode::Ecb | Mode::Cbc, _) if unaligned => Err(bad_len()),
        (Mode::Ecb, true) => Ok(ecb::Encryptor::<C>::new_from_slice(key)
            .map_err(bad_key)?
            .encrypt_padded_vec::<NoPadding>(data)),
        (Mode::Ecb, false) => ecb::Decryptor::<C>::new_from_slice(key)
            .map_err(bad_key)?
            .decrypt_padded_vec::<NoPadding>(data)
            .map_err(|_| bad_len()),
        (Mode::Cbc, true) => Ok(cbc::Encryptor::<C>::new_from_slices(key, check_iv(iv, block)?)
            .map_err(bad_key)?
            .encrypt_padded_vec::<NoPadding>(data)),
        (Mode::Cbc, false) => cbc::Decryptor::<C>::new_from_slices(key, check_iv(iv, block)?)
            .map_err(bad_key)?
            .decrypt_padded_vec::<NoPadding>(data)
            .map_err(|_| bad_len()),
        (Mode::CbcPad, true) => Ok(cbc::Encryptor::<C>::new_from_slices(key, check_iv(iv, block)?)
            .map_err(bad_key)?
            .encrypt_padded_vec::<Pkcs7>(data)),
        (Mode::CbcPad, false) => cbc::Decryptor::<C>::new_from_slices(key, check_iv(iv, block)?)
            .map_err(bad_key)?
            .decrypt_padded_vec::<Pkcs7>(data)
            .map_err(|_| RefError::Refuted("bad CBC padding".into())),
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
    C: BlockCipherEncrypt + BlockCipherDecrypt + KeyInit + BlockSizeUser<BlockSize = U16>,
{
    let bad_key = |e: aes::cipher::InvalidLength| RefError::Malformed(e.to_string());
    // Unwrapping checks the endpoint's wrapped key: one that fails its integrity check refutes it.
    let wrap_err = |e: aes_kw::Error| match encrypt {
        true => RefError::Malformed(format!("key wrap: {e}")),
        false => RefError::Refuted(format!("key unwrap: {e}")),
    };
    // Wrap output: at most the input rounded up to 8 bytes, plus one 8-byte semiblock.
    let mut buf = vec![0u8; data.len().div_ceil(8) * 8 + 8];
    match mech {
        p11::CKM_AES_ECB => block_mode::<C>(Mode::Ecb, key, iv, data, encrypt),
        p11::CKM_AES_CBC => block_mode::<C>(Mode::Cbc, key, iv, data, encrypt),
        p11::CKM_AES_CBC_PAD => block_mode::<C>(Mode::CbcPad, key, iv, data, encrypt),
        p11::CKM_AES_CTR => {
            let mut out = data.to_vec();
            ctr::Ctr128BE::<C>::new_from_slices(key, check_iv(iv, 16)?)
                .map_err(bad_key)?
                .try_apply_keystream(&mut out)
                .map_err(|e| RefError::Malformed(format!("CTR: {e}")))?;
            Ok(out)
        }
        p11::CKM_AES_KEY_WRAP => {
            let kw = AesKw::<C>::new_from_slice(key).map_err(bad_key)?;
            let out = if encrypt { kw.wrap_key(data, &mut buf) } else { kw.unwrap_key(data, &mut buf) };
            Ok(out.map_err(wrap_err)?.to_vec())
        }
        p11::CKM_AES_KEY_WRAP_PAD => {
            let kwp = AesKwp::<C>::new_from_slice(key).map_err(bad_key)?;
            let out = if encrypt { kwp.wrap_key(data, &mut buf) } else { kwp.unwrap_key(data, &mut buf) };
            Ok(out.map_err(wrap_err)?.to_vec())
        }
        other => unsupported(format!("no local cipher for {other}")),
    }
}

/// `local.encrypt` / `local.decrypt`.
pub fn cipher(
    mech: CkMechanismType,
    key: &[u8],
    iv: Option<&[u8]>,
    data: &[u8],
    encrypt: bool,
) -> Result<Vec<u8>, RefError> {
    let des3 = |mode| {
        if key.len() != 24 {
            return malformed(format!("a DES3 key has 24 bytes, not {}", key.len()));
        }
        block_mode::<des::TdesEde3>(mode, key, iv, data, encrypt)
    };
    match mech {
        p11::CKM_DES3_ECB => des3(Mode::Ecb),
        p11::CKM_DES3_CBC => des3(Mode::Cbc),
        p11::CKM_DES3_CBC_PAD => des3(Mode::CbcPad),
        _ => with_aes(
            key,
            || aes_mode::<Aes128>(mech, key, iv, data, encrypt),
            || aes_mode::<Aes192>(mech, key, iv, data, encrypt),
            || aes_mode::<Aes256>(mech, key, iv, data, encrypt),
        ),
    }
}

/// A block-cipher key's check value: the first 3 bytes of the key's encryption of a zero
/// block, AES (`CKK_AES`, a 16-byte block) or DES3 (`CKK_DES3`, 8 bytes).
pub fn kcv(key_type: crate::pkcs11::CkKeyType, key: &[u8]) -> Result<Vec<u8>, RefError> {
    let mut out = match key_type {
        p11::CKK_AES => cipher(p11::CKM_AES_ECB, key, None, &[0u8; 16], true)?,
        p11::CKK_DES3 => cipher(p11::CKM_DES3_ECB, key, None, &[0u8; 8], true)?,
        other => return unsupported(format!("no key check value is defined for {other} keys")),
    };
    out.truncate(3);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 3394 §4.1 (128-bit KEK, 128-bit key) and RFC 5649 §6 (20-octet key).
    #[test]
    fn rfc_key_wraps() {
        let kek = h("000102030405060708090a0b0c0d0e0f");
        let key = h("00112233445566778899aabbccddeeff");
        let wrapped = cipher(p11::CKM_AES_KEY_WRAP, &kek, None, &key, true).unwrap();
        assert_eq!(hex::encode(&wrapped), "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5");
        assert_eq!(cipher(p11::CKM_AES_KEY_WRAP, &kek, None, &wrapped, false).unwrap(), key);
        let kek = h("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8");
        let key = h("c37b7e6492584340bed12207808941155068f738");
        let wrapped = cipher(p11::CKM_AES_KEY_WRAP_PAD, &kek, None, &key, true).unwrap();
        assert_eq!(hex::encode(&wrapped), "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a");
        assert_eq!(cipher(p11::CKM_AES_KEY_WRAP_PAD, &kek, None, &wrapped, false).unwrap(), key);
    }

    /// NIST SP 800-38A F.5.1 CTR-AES128.Encrypt, first block.
    #[test]
    fn sp800_38a_f51_ctr() {
        let key = h("2b7e151628aed2a6abf7158809cf4f3c");
        let iv = h("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
        let ct =
            cipher(p11::CKM_AES_CTR, &key, Some(&iv), &h("6bc1bee22e409f96e93d7e117393172a"), true).unwrap();
        assert_eq!(hex::encode(ct), "874d6191b620e3261bef6864990db6ce");
    }

    /// NIST SP 800-67 Rev. 2 worked example (three keys, ECB), and the same key in CBC_PAD
    /// round-tripping.
    #[test]
    fn sp800_67_tdes() {
        let key = h("0123456789abcdef23456789abcdef01456789abcdef0123");
        let pt = h("54686520717566636b2062726f776e20666f78206a756d70");
        let ct = cipher(p11::CKM_DES3_ECB, &key, None, &pt, true).unwrap();
        assert_eq!(hex::encode(&ct), "a826fd8ce53b855fcce21c8112256fe668d5c05dd9b6b900");
        let iv = [7u8; 8];
        let ct = cipher(p11::CKM_DES3_CBC_PAD, &key, Some(&iv), b"hello", true).unwrap();
        assert_eq!(ct.len(), 8);
        assert_eq!(cipher(p11::CKM_DES3_CBC_PAD, &key, Some(&iv), &ct, false).unwrap(), b"hello");
        assert!(cipher(p11::CKM_DES3_CBC, &key, Some(&[0; 16]), &pt, true).is_err());
    }
}
