//! Block cipher modes and the key check value.

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::block_padding::{NoPadding, Pkcs7};
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit};

use super::{RefError, err};
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
