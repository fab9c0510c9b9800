//! Triple DES keys (CKK_DES3, PKCS #11 v2.40 §2.21): three-key EDE, 24 bytes with odd
//! parity in the low bit of each byte (FIPS 46-3 §"the key"; the parity bits are ignored
//! by the cipher). Encryption runs through the block modes of [`super::aes`].

use zeroize::Zeroizing;

use super::random;
use crate::emulator::error::Result;

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
