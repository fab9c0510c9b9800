//! AES: ECB, CBC and CBC with PKCS #7 padding (PKCS #11 v2.40 mechanisms §2.10), for
//! Encrypt/Decrypt in every flow and for AES-CBC-PAD key wrapping.
//!
//! Every flow runs the same state machine: single-part calls are init + update + final, so
//! single, single-part and multi-part results cannot disagree. The state carries the key,
//! the chaining value and the bytes not yet processed: less than one block, or for
//! CBC_PAD decryption up to one full block held back until Final, where the padding is
//! checked.

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{
    Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, IvState, KeyInit,
    KeyIvInit, consts::U16,
};
use serde::{Deserialize, Serialize};

use super::{MechParam, Mechanism};
use crate::emulator::blob::Operation;
use crate::emulator::error::{Error, Result};

const BLOCK: usize = 16;

/// The AES mode of a mechanism row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AesMode {
    Ecb,
    Cbc,
    CbcPad,
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

/// The state of a multi-part AES encryption or decryption.
#[derive(Serialize, Deserialize)]
pub struct CipherState {
    encrypt: bool,
    mode: AesMode,
    key: Vec<u8>,
    iv: [u8; BLOCK],
    pending: Vec<u8>,
}

impl CipherState {
    /// Starts an operation; CBC modes need a 16-byte IV in ParameterB, ECB takes none.
    pub fn new(op: Operation, mode: AesMode, mech: &Mechanism, key: &[u8]) -> Result<CipherState> {
        let iv = match (mode, &mech.param) {
            (AesMode::Ecb, MechParam::None) => [0; BLOCK],
            (AesMode::Ecb, MechParam::Bytes(b)) if b.is_empty() => [0; BLOCK],
            (AesMode::Cbc | AesMode::CbcPad, MechParam::Bytes(b)) => {
                b.as_slice().try_into().map_err(|_| Error::MechanismParamInvalid {
                    mech: mech.mech,
                    reason: "the IV must be 16 bytes",
                })?
            }
            (AesMode::Ecb, _) => {
                return Err(Error::MechanismParamInvalid {
                    mech: mech.mech,
                    reason: "ECB takes no parameter",
                });
            }
            _ => {
                return Err(Error::MechanismParamInvalid {
                    mech: mech.mech,
                    reason: "a 16-byte IV is required",
                });
            }
        };
        Ok(CipherState {
            encrypt: op == Operation::Encrypt,
            mode,
            key: key.to_vec(),
            iv,
            pending: Vec::new(),
        })
    }

    pub fn operation(&self) -> Operation {
        if self.encrypt { Operation::Encrypt } else { Operation::Decrypt }
    }

    /// Processes every complete block it may, keeping the rest for later.
    pub fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let mut buf = std::mem::take(&mut self.pending);
        buf.extend_from_slice(data);
        // CBC_PAD decryption keeps the last full block back: only Final knows it is the last.
        let keep = match buf.len() % BLOCK {
            0 if !self.encrypt && self.mode == AesMode::CbcPad => buf.len().min(BLOCK),
            rest => rest,
        };
        self.pending = buf.split_off(buf.len() - keep);
        let (key, encrypt, mode) = (&self.key, self.encrypt, self.mode);
        with_aes!(key.len(), C => process::<C>(mode, encrypt, key, &mut self.iv, &mut buf))?;
        Ok(buf)
    }

    /// Ends the operation: pads (CBC_PAD encryption), checks and strips padding (CBC_PAD
    /// decryption), or refuses leftover bytes.
    pub fn finish(&self) -> Result<Vec<u8>> {
        let rest = &self.pending;
        match (self.mode, self.encrypt) {
            (AesMode::CbcPad, true) => with_aes!(self.key.len(), C => {
                let enc = cbc::Encryptor::<C>::new_from_slices(&self.key, &self.iv)
                    .map_err(|_| Error::KeyHandleInvalid)?;
                Ok(enc.encrypt_padded_vec::<Pkcs7>(rest))
            }),
            (AesMode::CbcPad, false) if rest.len() != BLOCK => Err(Error::EncryptedDataLenRange(
                "CBC_PAD ciphertext must be a non-empty multiple of 16 bytes",
            )),
            (AesMode::CbcPad, false) => with_aes!(self.key.len(), C => {
                let dec = cbc::Decryptor::<C>::new_from_slices(&self.key, &self.iv)
                    .map_err(|_| Error::KeyHandleInvalid)?;
                dec.decrypt_padded_vec::<Pkcs7>(rest).map_err(|_| Error::EncryptedDataInvalid)
            }),
            (_, true) if !rest.is_empty() => {
                Err(Error::DataLenRange("plaintext must be a multiple of 16 bytes"))
            }
            (_, false) if !rest.is_empty() => {
                Err(Error::EncryptedDataLenRange("ciphertext must be a multiple of 16 bytes"))
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Update then Final: the single-part result.
    pub fn run(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let mut out = self.update(data)?;
        out.extend(self.finish()?);
        Ok(out)
    }
}

/// Encrypts or decrypts whole blocks in place, advancing the CBC chaining value.
fn process<C>(mode: AesMode, encrypt: bool, key: &[u8], iv: &mut [u8; BLOCK], buf: &mut [u8]) -> Result<()>
where
    C: BlockCipherEncrypt<BlockSize = U16> + BlockCipherDecrypt<BlockSize = U16> + KeyInit,
{
    let (blocks, tail) = Array::<u8, U16>::slice_as_chunks_mut(buf);
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
        (_, true) => {
            let mut enc = cbc::Encryptor::<C>::new_from_slices(key, iv).map_err(bad_key)?;
            enc.encrypt_blocks(blocks);
            *iv = enc.iv_state().into();
        }
        (_, false) => {
            let mut dec = cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(bad_key)?;
            dec.decrypt_blocks(blocks);
            *iv = dec.iv_state().into();
        }
    }
    Ok(())
}

/// The key check value: the first 3 bytes of AES-ECB(key, 16 zero bytes).
pub fn check_value(key: &[u8]) -> Result<Vec<u8>> {
    let mut block = [0u8; BLOCK];
    with_aes!(key.len(), C => process::<C>(AesMode::Ecb, true, key, &mut [0; BLOCK], &mut block))?;
    Ok(block[..3].to_vec())
}

/// Whether `len` bytes is an AES key length.
pub fn valid_key_len(len: u64) -> bool {
    matches!(len, 16 | 24 | 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs11::*;

    fn mech(mode: AesMode, iv: Option<&[u8]>) -> Mechanism {
        let m = match mode {
            AesMode::Ecb => CKM_AES_ECB,
            AesMode::Cbc => CKM_AES_CBC,
            AesMode::CbcPad => CKM_AES_CBC_PAD,
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
