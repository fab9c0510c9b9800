//! Triple DES keys (CKK_DES3, PKCS #11 v2.40 §2.21): three-key EDE, 24 bytes with odd
//! parity in the low bit of each byte (FIPS 46-3 §"the key"; the parity bits are ignored
//! by the cipher). Encryption runs through the block modes of [`super::aes`].

use zeroize::Zeroizing;

use super::aes::{AesMode, BlockCipher, BlockMech};
use super::registry::{ENCRYPT, KeyGen, Registry, WRAP};
use super::{Mechanism, random};
use crate::emulator::attrs::{self, Template};
use crate::emulator::engine::{Engine, NewKey};
use crate::emulator::error::Result;
use crate::pkcs11::*;

/// A DES3 key is always 24 bytes (CKM_DES3_KEY_GEN's min and max key size).
pub const KEY_LEN: u64 = 24;

/// A fresh DES3 key with its parity bits set, as CKM_DES3_KEY_GEN makes it (PKCS #11:
/// "the key's parity bits are set properly"). The chance that independent random halves
/// give a weak or degenerate (K1 = K2 or K2 = K3) key is below 2^-56 and not checked.
pub fn generate() -> Result<Zeroizing<Vec<u8>>> {
    let mut key = Zeroizing::new(random::generate(KEY_LEN)?);
    key.iter_mut().for_each(|b| *b = with_odd_parity(*b));
    Ok(key)
}

/// `b` with its low bit chosen so that the byte has an odd number of one bits.
fn with_odd_parity(b: u8) -> u8 {
    let high = b & 0xfe;
    high | u8::from(high.count_ones().is_multiple_of(2))
}

/// CKM_DES3_KEY_GEN and DES3 in the block modes of [`super::aes`].
pub(super) fn register(r: &mut Registry) {
    r.add(CKM_DES3_KEY_GEN, 24, 24, CKF_GENERATE).key_gen(Des3KeyGen);
    let des3 = |mode| BlockMech { cipher: BlockCipher::Des3, mode };
    r.add(CKM_DES3_ECB, 24, 24, ENCRYPT).cipher(des3(AesMode::Ecb));
    r.add(CKM_DES3_CBC, 24, 24, ENCRYPT).cipher(des3(AesMode::Cbc));
    let pad = des3(AesMode::CbcPad);
    r.add(CKM_DES3_CBC_PAD, 24, 24, ENCRYPT | WRAP).cipher(pad).wrap(pad).unwrap(pad);
}

/// CKM_DES3_KEY_GEN. DES3 keys have one length, so it reads no CKA_VALUE_LEN: whatever it
/// says (IBM's clients ask for 32 bytes, "256-bit DES3"), the key is a three-key DES3 key
/// of 24 bytes and reads back CKA_VALUE_LEN 24, as IBM's service answers.
struct Des3KeyGen;

impl KeyGen for Des3KeyGen {
    fn generate_key(&self, e: &Engine, mech: &Mechanism, template: &Template) -> Result<NewKey> {
        attrs::optional_ulong(template, CKA_VALUE_LEN)?;
        let mut template = template.clone();
        template.remove(&CKA_VALUE_LEN);
        e.generate_secret(mech, &template, CKK_DES3, KEY_LEN, generate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_odd_parity() {
        let key = generate().unwrap();
        assert_eq!(key.len(), 24);
        assert!(key.iter().all(|b| b.count_ones() % 2 == 1));
        assert_eq!(with_odd_parity(0x00), 0x01);
        assert_eq!(with_odd_parity(0x01), 0x01);
        assert_eq!(with_odd_parity(0xfe), 0xfe);
        assert_eq!(with_odd_parity(0xff), 0xfe);
    }
}
