//! Block-cipher modes for AES (PKCS #11 v2.40 mechanisms §2.10, §2.14) and DES3 (§2.21):
//! ECB, CBC and CBC with PKCS #7 padding for both ciphers; CTR, key wrap (RFC 3394) and key
//! wrap with padding (RFC 5649) for AES only.
//!
//! Every flow runs the same state machine: single-part calls are init + update + final, so
//! single, single-part and multi-part results cannot disagree. The state carries the key,
//! the chaining value and the bytes not yet processed: less than one block, or for
//! CBC_PAD decryption up to one full block held back until Final, where the padding is
//! checked. CTR keeps no bytes back: its state is the initial counter block and the
//! keystream offset reached, so any split gives the single-part result.
//!
//! The key wraps are single-part only (PKCS #11 v3.0 §2.14.3: C_Encrypt/C_Decrypt, no
//! multi-part): Encrypt/Decrypt on an Init state works, Update and Final answer
//! CKR_FUNCTION_NOT_SUPPORTED, as for CKM_ECDSA. CKM_AES_KEY_WRAP_PAD is RFC 5649 (KWP),
//! as SoftHSM implements it (PKCS #11 v3.0 also names it CKM_AES_KEY_WRAP_KWP). Only the
//! default initial values of the RFCs are supported: a ParameterB is refused with
//! CKR_MECHANISM_PARAM_INVALID.
//!
//! Which library computes what: AWS-LC (`aws-lc-rs`) does AES in every mode here, and the
//! key wraps with 128- and 256-bit keys; RustCrypto does triple DES (`des`, `cbc`, `ecb`:
//! AWS-LC's Rust API has it only behind a feature that needs bindings generated at build
//! time) and the key wraps with 192-bit keys (`aes-kw`: AWS-LC's Rust API has no AES-192
//! key wrap).

use aes::{Aes128, Aes192, Aes256};
use aes_kw::{AesKw, AesKwp};
use aws_lc_rs::cipher::{
    self as lc, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::key_wrap::{self as lc_kw, AesKek, KeyWrap, KeyWrapPadded};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{
    Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, IvState, KeyInit,
    KeyIvInit,
};
use des::TdesEde3;
use serde::{Deserialize, Serialize};

use zeroize::Zeroizing;

use super::registry::{Cipher, ENCRYPT, KeyGen, Registry, Unwrap, WRAP, Wrap};
use super::{MechParam, Mechanism, attrbound, random, rsa};
use crate::emulator::attrs::{self, Attrs, Origin, Template};
use crate::emulator::blob::{Material, Operation, State};
use crate::emulator::engine::{
    Engine, NewKey, check_secret_len, secret_fixed, secret_template, secret_value, unwrap_error,
};
use crate::emulator::error::{Error, Result};
use crate::pkcs11::*;
use crate::rpc::Rpc;

/// The AES block size, which CTR's counter block also has.
const BLOCK: usize = 16;
/// RFC 3394/5649 work in 64-bit semiblocks.
const SEMIBLOCK: usize = 8;

/// The mode of a cipher mechanism row. Named for AES, its first user; DES3 rows use the
/// same ECB, CBC and CBC_PAD variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AesMode {
    Ecb,
    Cbc,
    CbcPad,
    /// CKM_AES_CTR: ParameterB is the 16-byte initial counter block, all of it counter
    /// (CK_AES_CTR_PARAMS with ulCounterBits = 128: the wire has no room for the width),
    /// incremented big-endian.
    Ctr,
    /// CKM_AES_KEY_WRAP (RFC 3394).
    KeyWrap,
    /// CKM_AES_KEY_WRAP_PAD (RFC 5649).
    KeyWrapPad,
}

/// The block cipher under a mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockCipher {
    Aes,
    /// Three-key triple DES, EDE (NIST SP 800-67).
    Des3,
}

/// Runs `$body` with `$C` bound to the AES variant for a key of `$len` bytes.
macro_rules! with_aes {
    ($len:expr, $C:ident => $body:expr) => {
        match $len {
            16 => {
                type $C = Aes128;
                $body
            }
            24 => {
                type $C = Aes192;
                $body
            }
            32 => {
                type $C = Aes256;
                $body
            }
            // Key blobs only hold AES keys of these lengths; anything else is a corrupt key.
            _ => Err(Error::KeyHandleInvalid),
        }
    };
}

/// Runs `$body` with `$C` bound to the block cipher `$cipher` for a key of `$len` bytes.
macro_rules! with_cipher {
    ($cipher:expr, $len:expr, $C:ident => $body:expr) => {
        match $cipher {
            BlockCipher::Aes => with_aes!($len, $C => $body),
            BlockCipher::Des3 if $len == 24 => {
                type $C = TdesEde3;
                $body
            }
            // Key blobs only hold 24-byte DES3 keys; anything else is a corrupt key.
            BlockCipher::Des3 => Err(Error::KeyHandleInvalid),
        }
    };
}

impl BlockCipher {
    /// The key type a key must have to be used with this cipher.
    pub fn key_type(self) -> CkKeyType {
        match self {
            BlockCipher::Aes => CKK_AES,
            BlockCipher::Des3 => CKK_DES3,
        }
    }

    /// Encrypts or decrypts whole blocks in place, advancing the CBC chaining value.
    fn blocks(
        self,
        mode: AesMode,
        encrypt: bool,
        key: &[u8],
        iv: &mut Vec<u8>,
        buf: &mut [u8],
    ) -> Result<()> {
        match self {
            BlockCipher::Aes => lc_blocks(mode, encrypt, key, iv, buf),
            BlockCipher::Des3 => {
                with_cipher!(self, key.len(), C => process::<C>(mode, encrypt, key, iv, buf))
            }
        }
    }

    fn block_len(self) -> usize {
        match self {
            BlockCipher::Aes => BLOCK,
            BlockCipher::Des3 => 8,
        }
    }

    /// The key check value: the first 3 bytes of the key's ECB encryption of a zero block
    /// (16 bytes for AES, 8 for DES3).
    pub fn check_value(self, key: &[u8]) -> Result<Vec<u8>> {
        let mut block = vec![0u8; self.block_len()];
        let mut iv = Vec::new();
        self.blocks(AesMode::Ecb, true, key, &mut iv, &mut block)?;
        block.truncate(3);
        Ok(block)
    }
}

/// The state of a multi-part encryption or decryption.
#[derive(Serialize, Deserialize)]
pub struct CipherState {
    encrypt: bool,
    cipher: BlockCipher,
    mode: AesMode,
    key: Vec<u8>,
    /// CBC: the chaining value; CTR: the initial counter block; otherwise empty.
    iv: Vec<u8>,
    pending: Vec<u8>,
    /// CTR: the keystream bytes used so far.
    offset: u64,
}

impl CipherState {
    /// Starts an AES operation (see [`CipherState::start`]), for the tests.
    #[cfg(test)]
    pub fn new(op: Operation, mode: AesMode, mech: &Mechanism, key: &[u8]) -> Result<CipherState> {
        CipherState::start(op, BlockCipher::Aes, mode, mech, key)
    }

    /// Starts an operation. CBC modes need an IV of one block in ParameterB and CTR a
    /// 16-byte counter block; ECB and the key wraps take none.
    pub fn start(
        op: Operation,
        cipher: BlockCipher,
        mode: AesMode,
        mech: &Mechanism,
        key: &[u8],
    ) -> Result<CipherState> {
        let block = cipher.block_len();
        let bad = |reason| Error::MechanismParamInvalid { mech: mech.mech, reason };
        let param = match &mech.param {
            MechParam::None => None,
            MechParam::Bytes(b) if b.is_empty() => None,
            MechParam::Bytes(b) => Some(b.as_slice()),
            _ => return Err(bad("takes at most a byte-string parameter (ParameterB)")),
        };
        let iv = match (mode, param) {
            (AesMode::Ecb | AesMode::KeyWrap | AesMode::KeyWrapPad, None) => Vec::new(),
            (AesMode::Ecb, Some(_)) => return Err(bad("ECB takes no parameter")),
            (AesMode::KeyWrap | AesMode::KeyWrapPad, Some(_)) => {
                return Err(bad("only the default initial value of RFC 3394/5649 is supported"));
            }
            (AesMode::Cbc | AesMode::CbcPad, Some(iv)) if iv.len() == block => iv.to_vec(),
            (AesMode::Cbc | AesMode::CbcPad, _) if block == 8 => {
                return Err(bad("the IV must be 8 bytes"));
            }
            (AesMode::Cbc | AesMode::CbcPad, _) => return Err(bad("the IV must be 16 bytes")),
            (AesMode::Ctr, Some(cb)) if cb.len() == BLOCK => cb.to_vec(),
            (AesMode::Ctr, _) => return Err(bad("the counter block must be 16 bytes")),
        };
        Ok(CipherState {
            encrypt: op == Operation::Encrypt,
            cipher,
            mode,
            key: key.to_vec(),
            iv,
            pending: Vec::new(),
            offset: 0,
        })
    }

    pub fn operation(&self) -> Operation {
        if self.encrypt { Operation::Encrypt } else { Operation::Decrypt }
    }

    /// Processes every complete block it may, keeping the rest for later.
    pub fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        match self.mode {
            AesMode::KeyWrap | AesMode::KeyWrapPad => return Err(single_part_only()),
            AesMode::Ctr => {
                let mut buf = data.to_vec();
                lc_ctr(&self.key, &self.iv, self.offset, &mut buf)?;
                let offset = self.offset;
                // A u64 offset covers more data than any sequence of 64 MiB messages.
                self.offset = offset.saturating_add(buf.len() as u64);
                return Ok(buf);
            }
            _ => {}
        }
        let block = self.cipher.block_len();
        let mut buf = std::mem::take(&mut self.pending);
        buf.extend_from_slice(data);
        // CBC_PAD decryption keeps the last full block back: only Final knows it is the last.
        let keep = match buf.len() % block {
            0 if !self.encrypt && self.mode == AesMode::CbcPad => buf.len().min(block),
            rest => rest,
        };
        self.pending = buf.split_off(buf.len() - keep);
        let (key, encrypt, mode) = (&self.key, self.encrypt, self.mode);
        self.cipher.blocks(mode, encrypt, key, &mut self.iv, &mut buf)?;
        Ok(buf)
    }

    /// Ends the operation: pads (CBC_PAD encryption), checks and strips padding (CBC_PAD
    /// decryption), or refuses leftover bytes.
    pub fn finish(&self) -> Result<Vec<u8>> {
        let rest = &self.pending;
        let (cipher, key, iv) = (self.cipher, &self.key, &self.iv);
        let bad_key = |_| Error::KeyHandleInvalid;
        match (self.mode, self.encrypt) {
            (AesMode::KeyWrap | AesMode::KeyWrapPad, _) => Err(single_part_only()),
            (AesMode::Ctr, _) => Ok(Vec::new()),
            (AesMode::CbcPad, true) if cipher == BlockCipher::Aes => {
                let mut out = rest.clone();
                let key =
                    PaddedBlockEncryptingKey::cbc_pkcs7(lc_key(key)?).map_err(|_| Error::KeyHandleInvalid)?;
                key.less_safe_encrypt(&mut out, EncryptionContext::Iv128(iv128(iv)?))
                    .map_err(|_| Error::General("AWS-LC CBC_PAD encryption failed"))?;
                Ok(out)
            }
            (AesMode::CbcPad, true) => with_cipher!(cipher, key.len(), C => {
                let enc = cbc::Encryptor::<C>::new_from_slices(key, iv).map_err(bad_key)?;
                Ok(enc.encrypt_padded_vec::<Pkcs7>(rest))
            }),
            (AesMode::CbcPad, false) if rest.len() != cipher.block_len() => {
                Err(Error::EncryptedDataLenRange(
                    "CBC_PAD ciphertext must be a non-empty multiple of the block size",
                ))
            }
            (AesMode::CbcPad, false) if cipher == BlockCipher::Aes => {
                let mut out = rest.clone();
                let key =
                    PaddedBlockDecryptingKey::cbc_pkcs7(lc_key(key)?).map_err(|_| Error::KeyHandleInvalid)?;
                let plain = key
                    .decrypt(&mut out, DecryptionContext::Iv128(iv128(iv)?))
                    .map_err(|_| Error::EncryptedDataInvalid)?
                    .len();
                out.truncate(plain);
                Ok(out)
            }
            (AesMode::CbcPad, false) => with_cipher!(cipher, key.len(), C => {
                let dec = cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(bad_key)?;
                dec.decrypt_padded_vec::<Pkcs7>(rest).map_err(|_| Error::EncryptedDataInvalid)
            }),
            (_, true) if !rest.is_empty() => {
                Err(Error::DataLenRange("plaintext must be a multiple of the block size"))
            }
            (_, false) if !rest.is_empty() => {
                Err(Error::EncryptedDataLenRange("ciphertext must be a multiple of the block size"))
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Update then Final: the single-part result (the key wraps in one step).
    pub fn run(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        if let AesMode::KeyWrap | AesMode::KeyWrapPad = self.mode {
            let pad = self.mode == AesMode::KeyWrapPad;
            return key_wrap(pad, self.encrypt, &self.key, data);
        }
        let mut out = self.update(data)?;
        out.extend(self.finish()?);
        Ok(out)
    }
}

fn single_part_only() -> Error {
    Error::FunctionNotSupported("multi-part encryption with a single-part mechanism (AES key wrap)")
}

/// Encrypts or decrypts whole blocks in place, advancing the CBC chaining value.
fn process<C>(mode: AesMode, encrypt: bool, key: &[u8], iv: &mut Vec<u8>, buf: &mut [u8]) -> Result<()>
where
    C: BlockCipherEncrypt + BlockCipherDecrypt + KeyInit,
{
    let (blocks, tail) = Array::<u8, C::BlockSize>::slice_as_chunks_mut(buf);
    if !tail.is_empty() {
        return Err(Error::General("partial block reached the block cipher"));
    }
    let bad_key = |_| Error::KeyHandleInvalid;
    match (mode, encrypt) {
        (AesMode::Ecb, true) => {
            ecb::Encryptor::<C>::new_from_slice(key).map_err(bad_key)?.encrypt_blocks(blocks)
        }
        (AesMode::Ecb, false) => {
            ecb::Decryptor::<C>::new_from_slice(key).map_err(bad_key)?.decrypt_blocks(blocks)
        }
        (AesMode::Cbc | AesMode::CbcPad, true) => {
            let mut enc = cbc::Encryptor::<C>::new_from_slices(key, iv).map_err(bad_key)?;
            enc.encrypt_blocks(blocks);
            *iv = enc.iv_state().to_vec();
        }
        (AesMode::Cbc | AesMode::CbcPad, false) => {
            let mut dec = cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(bad_key)?;
            dec.decrypt_blocks(blocks);
            *iv = dec.iv_state().to_vec();
        }
        _ => return Err(Error::General("a stream or wrap mode reached the block processor")),
    }
    Ok(())
}

/// AWS-LC's AES key of `key`'s length; another length is a corrupt key (blobs only hold
/// AES keys of 16, 24 or 32 bytes).
fn lc_key(key: &[u8]) -> Result<UnboundCipherKey> {
    let alg = match key.len() {
        16 => &lc::AES_128,
        24 => &lc::AES_192,
        32 => &lc::AES_256,
        _ => return Err(Error::KeyHandleInvalid),
    };
    UnboundCipherKey::new(alg, key).map_err(|_| Error::KeyHandleInvalid)
}

fn iv128(iv: &[u8]) -> Result<aws_lc_rs::iv::FixedLength<16>> {
    let iv: [u8; 16] = iv.try_into().map_err(|_| Error::SavedStateInvalid)?;
    Ok(aws_lc_rs::iv::FixedLength::from(iv))
}

/// AES-ECB or AES-CBC over whole blocks in place (AWS-LC), advancing the CBC chaining value.
fn lc_blocks(mode: AesMode, encrypt: bool, key: &[u8], iv: &mut Vec<u8>, buf: &mut [u8]) -> Result<()> {
    if !buf.len().is_multiple_of(BLOCK) {
        return Err(Error::General("partial block reached the block cipher"));
    }
    if buf.is_empty() {
        return Ok(());
    }
    let failed = |_| Error::General("AWS-LC AES failed");
    match (mode, encrypt) {
        (AesMode::Ecb, true) => {
            EncryptingKey::ecb(lc_key(key)?).map_err(failed)?.encrypt(buf).map_err(failed)?;
        }
        (AesMode::Ecb, false) => {
            DecryptingKey::ecb(lc_key(key)?)
                .map_err(failed)?
                .decrypt(buf, DecryptionContext::None)
                .map_err(failed)?;
        }
        (AesMode::Cbc | AesMode::CbcPad, true) => {
            let context = EncryptionContext::Iv128(iv128(iv)?);
            EncryptingKey::cbc(lc_key(key)?)
                .map_err(failed)?
                .less_safe_encrypt(buf, context)
                .map_err(failed)?;
            *iv = buf[buf.len() - BLOCK..].to_vec();
        }
        (AesMode::Cbc | AesMode::CbcPad, false) => {
            let next = buf[buf.len() - BLOCK..].to_vec();
            let context = DecryptionContext::Iv128(iv128(iv)?);
            DecryptingKey::cbc(lc_key(key)?).map_err(failed)?.decrypt(buf, context).map_err(failed)?;
            *iv = next;
        }
        _ => return Err(Error::General("a stream or wrap mode reached the block processor")),
    }
    Ok(())
}

/// XORs `buf` with the AES-CTR keystream (AWS-LC) from byte `offset` of the counter block
/// `iv`: the counter block of the first whole block is `iv + offset / 16` (the whole 128
/// bits are counter, big-endian, wrapping as CTR does), and the bytes of that block before
/// `offset` are run through and dropped.
fn lc_ctr(key: &[u8], iv: &[u8], offset: u64, buf: &mut [u8]) -> Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    let start = u128::from_be_bytes(iv.try_into().map_err(|_| Error::SavedStateInvalid)?);
    let counter = start.wrapping_add(u128::from(offset / BLOCK as u64)).to_be_bytes();
    let skip = (offset % BLOCK as u64) as usize;
    let mut work = vec![0u8; skip + buf.len()];
    work[skip..].copy_from_slice(buf);
    let failed = |_| Error::General("AWS-LC AES-CTR failed");
    EncryptingKey::ctr(lc_key(key)?)
        .map_err(failed)?
        .less_safe_encrypt(&mut work, EncryptionContext::Iv128(aws_lc_rs::iv::FixedLength::from(counter)))
        .map_err(failed)?;
    buf.copy_from_slice(&work[skip..]);
    Ok(())
}

/// RFC 3394 or RFC 5649 with AWS-LC, for 128- and 256-bit keys; `None` for 192-bit ones.
/// Lengths were checked by the caller, so a failure is an integrity failure (unwrap).
fn lc_key_wrap(pad: bool, encrypt: bool, key: &[u8], data: &[u8], buf: &mut [u8]) -> Option<Result<Vec<u8>>> {
    let cipher = match key.len() {
        16 => &lc_kw::AES_128,
        32 => &lc_kw::AES_256,
        _ => return None,
    };
    let kek = || AesKek::new(cipher, key).map_err(|_| Error::KeyHandleInvalid);
    Some((|| {
        let out = match (pad, encrypt) {
            (false, true) => kek()?.wrap(data, buf).map(|o| o.to_vec()),
            (false, false) => kek()?.unwrap(data, buf).map(|o| o.to_vec()),
            (true, true) => kek()?.wrap_with_padding(data, buf).map(|o| o.to_vec()),
            (true, false) => kek()?.unwrap_with_padding(data, buf).map(|o| o.to_vec()),
        };
        out.map_err(|_| {
            if encrypt { Error::DataLenRange("not a wrappable length") } else { Error::EncryptedDataInvalid }
        })
    })())
}

/// RFC 3394 (`pad` false) or RFC 5649 wrap/unwrap of `data` under `key`. RFC 3394 takes
/// at least two semiblocks of plaintext (§2: n >= 2), RFC 5649 at least one byte.
fn key_wrap(pad: bool, encrypt: bool, key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    let n = data.len();
    if encrypt {
        if !pad && (n < 2 * SEMIBLOCK || !n.is_multiple_of(SEMIBLOCK)) {
            return Err(Error::DataLenRange("RFC 3394 wraps a multiple of 8 bytes, at least 16"));
        }
        if pad && (n == 0 || n > u32::MAX as usize) {
            return Err(Error::DataLenRange("RFC 5649 wraps 1 to 2^32 - 1 bytes"));
        }
    } else {
        let min = if pad { 2 * SEMIBLOCK } else { 3 * SEMIBLOCK };
        if n < min || !n.is_multiple_of(SEMIBLOCK) {
            return Err(Error::EncryptedDataLenRange(
                "a wrapped key is a multiple of 8 bytes, at least 24 (16 padded)",
            ));
        }
    }
    // Output sizes: wrap adds one semiblock (RFC 5649 after padding to a whole one), unwrap
    // removes one.
    let mut buf = vec![0u8; if encrypt { n.div_ceil(SEMIBLOCK) * SEMIBLOCK + SEMIBLOCK } else { n }];
    if let Some(result) = lc_key_wrap(pad, encrypt, key, data, &mut buf) {
        return result;
    }
    let bad_key = |_| Error::KeyHandleInvalid;
    let out = with_aes!(key.len(), C => {
        let result = match (pad, encrypt) {
            (false, true) => AesKw::<C>::new_from_slice(key).map_err(bad_key)?.wrap_key(data, &mut buf).map(<[u8]>::to_vec),
            (false, false) => AesKw::<C>::new_from_slice(key).map_err(bad_key)?.unwrap_key(data, &mut buf).map(<[u8]>::to_vec),
            (true, true) => AesKwp::<C>::new_from_slice(key).map_err(bad_key)?.wrap_key(data, &mut buf).map(<[u8]>::to_vec),
            (true, false) => AesKwp::<C>::new_from_slice(key).map_err(bad_key)?.unwrap_key(data, &mut buf).map(<[u8]>::to_vec),
        };
        Ok(result)
    })?;
    match out {
        Ok(v) => Ok(v),
        // The integrity check (the IV, and for RFC 5649 the length and zero padding) failed.
        Err(aes_kw::Error::IntegrityCheckFailed) => Err(Error::EncryptedDataInvalid),
        Err(aes_kw::Error::InvalidDataSize) if encrypt => Err(Error::DataLenRange("not a wrappable length")),
        Err(aes_kw::Error::InvalidDataSize) => Err(Error::EncryptedDataLenRange("not a wrapped-key length")),
        Err(aes_kw::Error::InvalidOutputSize { .. }) => {
            Err(Error::General("key wrap output buffer sized wrongly"))
        }
    }
}

/// The AES key check value: the first 3 bytes of AES-ECB(key, 16 zero bytes).
pub fn check_value(key: &[u8]) -> Result<Vec<u8>> {
    BlockCipher::Aes.check_value(key)
}

/// Whether `len` bytes is an AES key length.
pub fn valid_key_len(len: u64) -> bool {
    matches!(len, 16 | 24 | 32)
}

// ---- the family's mechanisms and operations ----

/// AES keys from CKM_AES_KEY_GEN, the block modes over AES, and their key wraps.
pub(super) fn register(r: &mut Registry) {
    r.add(CKM_AES_KEY_GEN, 16, 32, CKF_GENERATE).key_gen(RandomSecret(CKK_AES));
    let aes = |mode| BlockMech { cipher: BlockCipher::Aes, mode };
    for (mech, mode) in [(CKM_AES_ECB, AesMode::Ecb), (CKM_AES_CBC, AesMode::Cbc)] {
        r.add(mech, 16, 32, ENCRYPT).cipher(aes(mode));
    }
    r.add(CKM_AES_CBC_PAD, 16, 32, ENCRYPT | WRAP)
        .cipher(aes(AesMode::CbcPad))
        .wrap(aes(AesMode::CbcPad))
        .unwrap(aes(AesMode::CbcPad));
    // AES-GCM is left out: its parameter (IV, AAD, tag length) needs a GCM parameter arm,
    // and the wire gives ParameterB (a plain byte string) only; any packing of three
    // fields into it would be our invention, not GREP11's.
    r.add(CKM_AES_CTR, 16, 32, ENCRYPT).cipher(aes(AesMode::Ctr));
    for (mech, mode) in [(CKM_AES_KEY_WRAP, AesMode::KeyWrap), (CKM_AES_KEY_WRAP_PAD, AesMode::KeyWrapPad)] {
        r.add(mech, 16, 32, ENCRYPT | WRAP).cipher(aes(mode)).wrap(aes(mode)).unwrap(aes(mode));
    }
}

/// GenerateKey of a random secret of CKA_VALUE_LEN bytes (AES keys, generic secrets).
pub struct RandomSecret(pub CkKeyType);

impl KeyGen for RandomSecret {
    fn generate_key(&self, e: &Engine, mech: &Mechanism, template: &Template) -> Result<NewKey> {
        let len = attrs::required_ulong(template, CKA_VALUE_LEN)?;
        e.generate_secret(mech, template, self.0, len, || Ok(Zeroizing::new(random::generate(len)?)))
    }
}

/// A block mode over a cipher: encryption, and wrapping of secret keys' values and private
/// keys' PKCS #8 (the DES3 rows use it too).
#[derive(Clone, Copy)]
pub struct BlockMech {
    pub cipher: BlockCipher,
    pub mode: AesMode,
}

impl Cipher for BlockMech {
    fn start(&self, e: &Engine, op: Operation, mech: &Mechanism, key: &[u8], _: Rpc) -> Result<State> {
        let usage = if op == Operation::Encrypt { CKA_ENCRYPT } else { CKA_DECRYPT };
        let key = e.open_key(key)?;
        let value = secret_value(&key, mech.mech, self.cipher.key_type())?;
        e.require(&key.attrs, usage)?;
        Ok(State::Cipher(CipherState::start(op, self.cipher, self.mode, mech, value)?))
    }
}

impl Wrap for BlockMech {
    /// The value of a secret key, or the PKCS #8 of a private key, encrypted under the KeK.
    fn wrap(&self, e: &Engine, mech: &Mechanism, key: &[u8], kek: &[u8], _: &[u8]) -> Result<Vec<u8>> {
        let kek = e.open_key(kek)?;
        let kek_value = secret_value(&kek, mech.mech, self.cipher.key_type())?;
        kek.attrs.require(CKA_WRAP)?;
        let key = e.open_key(key)?;
        attrbound::refuse_plain_wrap(&key)?;
        let value = match &key.material {
            Material::Secret(value) => value.clone(),
            Material::EcPrivate(c, sk) => c.to_pkcs8(sk)?,
            Material::RsaPrivate(sk) => rsa::to_pkcs8(sk)?,
            _ => return Err(Error::KeyNotWrappable(key.attrs.class())),
        };
        if !key.attrs.flag(CKA_EXTRACTABLE) {
            return Err(Error::KeyUnextractable);
        }
        // A key RFC 3394 cannot carry (not a multiple of 8 bytes, or under 16) is a key of
        // the wrong size for the mechanism, not bad data from the caller.
        CipherState::start(Operation::Encrypt, self.cipher, self.mode, mech, kek_value)?.run(&value).map_err(
            |e| match e {
                Error::DataLenRange(_) => Error::KeySizeRange(value.len() as u64),
                other => other,
            },
        )
    }
}

impl Unwrap for BlockMech {
    /// A private key when the template's CKA_CLASS says so, else a secret key.
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
        if attrs::optional_ulong(template, CKA_CLASS)? == Some(CKO_PRIVATE_KEY.0) {
            let kek_value = secret_value(&kek, mech.mech, self.cipher.key_type())?;
            kek.attrs.require(CKA_UNWRAP)?;
            let der = CipherState::start(Operation::Decrypt, self.cipher, self.mode, mech, kek_value)?
                .run(wrapped)
                .map_err(unwrap_error(wrapped))?;
            return e.import_private(template, &Zeroizing::new(der));
        }
        let kek_value = secret_value(&kek, mech.mech, self.cipher.key_type())?;
        kek.attrs.require(CKA_UNWRAP)?;
        let key_type = secret_template(template)?;
        // A template asking for an impossible key is refused as GenerateKey would
        // refuse it, before the wrapped data is looked at.
        if let Some(asked) = attrs::optional_ulong(template, CKA_VALUE_LEN)? {
            check_secret_len(key_type, asked)?;
        }
        let value = CipherState::start(Operation::Decrypt, self.cipher, self.mode, mech, kek_value)?
            .run(wrapped)
            .map_err(unwrap_error(wrapped))?;
        let value = Zeroizing::new(value);
        let len = value.len() as u64;
        check_secret_len(key_type, len)
            .map_err(|_| Error::WrappedKeyInvalid("the unwrapped value is not a key of that type"))?;
        let attrs = Attrs::build(template, &secret_fixed(key_type, len), Origin::Unwrapped)?;
        e.issue_secret(attrs, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mech(mode: AesMode, iv: Option<&[u8]>) -> Mechanism {
        let m = match mode {
            AesMode::Ecb => CKM_AES_ECB,
            AesMode::Cbc => CKM_AES_CBC,
            AesMode::CbcPad => CKM_AES_CBC_PAD,
            AesMode::Ctr => CKM_AES_CTR,
            AesMode::KeyWrap => CKM_AES_KEY_WRAP,
            AesMode::KeyWrapPad => CKM_AES_KEY_WRAP_PAD,
        };
        Mechanism { mech: m, param: iv.map_or(MechParam::None, |iv| MechParam::Bytes(iv.to_vec())) }
    }

    #[test]
    fn every_split_gives_the_single_part_result() {
        let key = [9u8; 24];
        let iv = [3u8; 16];
        let data: Vec<u8> = (0..77u8).collect();
        for mode in [AesMode::Ecb, AesMode::Cbc, AesMode::CbcPad] {
            let m = mech(mode, (mode != AesMode::Ecb).then_some(&iv[..]));
            let len = if mode == AesMode::CbcPad { 77 } else { 64 };
            let plain = &data[..len];
            let whole = CipherState::new(Operation::Encrypt, mode, &m, &key).unwrap().run(plain).unwrap();
            for split in [0, 1, 15, 16, 17, 33, len] {
                let mut s = CipherState::new(Operation::Encrypt, mode, &m, &key).unwrap();
                let mut out = s.update(&plain[..split]).unwrap();
                out.extend(s.update(&[]).unwrap());
                out.extend(s.update(&plain[split..]).unwrap());
                out.extend(s.finish().unwrap());
                assert_eq!(out, whole, "{mode:?} encrypt split {split}");

                let mut d = CipherState::new(Operation::Decrypt, mode, &m, &key).unwrap();
                let split = split.min(whole.len());
                let mut back = d.update(&whole[..split]).unwrap();
                back.extend(d.update(&[]).unwrap());
                back.extend(d.update(&whole[split..]).unwrap());
                back.extend(d.finish().unwrap());
                assert_eq!(back, plain, "{mode:?} decrypt split {split}");
            }
        }
    }

    #[test]
    fn length_and_padding_errors() {
        let key = [1u8; 16];
        let iv = [0u8; 16];
        let cbc = mech(AesMode::Cbc, Some(&iv));
        let pad = mech(AesMode::CbcPad, Some(&iv));
        let enc = |m: &Mechanism, mode, d: &[u8]| CipherState::new(Operation::Encrypt, mode, m, &key)?.run(d);
        let dec = |m: &Mechanism, mode, d: &[u8]| CipherState::new(Operation::Decrypt, mode, m, &key)?.run(d);
        assert_eq!(enc(&cbc, AesMode::Cbc, &[0; 15]).unwrap_err().rv(), CKR_DATA_LEN_RANGE);
        assert_eq!(dec(&cbc, AesMode::Cbc, &[0; 17]).unwrap_err().rv(), CKR_ENCRYPTED_DATA_LEN_RANGE);
        assert_eq!(dec(&pad, AesMode::CbcPad, &[]).unwrap_err().rv(), CKR_ENCRYPTED_DATA_LEN_RANGE);
        let mut bad = enc(&pad, AesMode::CbcPad, b"hello").unwrap();
        bad[15] ^= 0xff;
        assert_eq!(dec(&pad, AesMode::CbcPad, &bad).unwrap_err().rv(), CKR_ENCRYPTED_DATA_INVALID);
        let short = mech(AesMode::Cbc, Some(&iv[..8]));
        assert_eq!(enc(&short, AesMode::Cbc, &[]).unwrap_err().rv(), CKR_MECHANISM_PARAM_INVALID);
        assert_eq!(
            enc(&mech(AesMode::Cbc, None), AesMode::Cbc, &[]).unwrap_err().rv(),
            CKR_MECHANISM_PARAM_INVALID
        );
    }
}
