//! Finite-field Diffie-Hellman (PKCS #3): domain parameters, key pairs and the shared
//! secret, for CKM_DH_PKCS_PARAMETER_GEN, CKM_DH_PKCS_KEY_PAIR_GEN and CKM_DH_PKCS_DERIVE.
//!
//! Encodings (what IBM's clients parse from the service):
//! - domain parameters are the DER PKCS #3 `DHParameter`, `SEQUENCE { prime INTEGER, base
//!   INTEGER }`: the KeyBytes of parameter generation, and the CKA_IBM_STRUCT_PARAMS a key
//!   pair template gives back (an optional third `privateValueLength` is read and ignored);
//! - a public key is a SubjectPublicKeyInfo with the PKCS #3 `dhKeyAgreement` OID, the
//!   `DHParameter` as algorithm parameters, and the DER INTEGER of the public value as the
//!   BIT STRING's content;
//! - the peer's public value given to a derivation is its big-endian bytes.
//!
//! Choices where nothing published shows the service's behaviour:
//! - parameter generation hands out the RFC 7919 group of the requested size (2048, 3072,
//!   4096, 6144 or 8192 bits) instead of searching for a new safe prime, which takes
//!   minutes at these sizes; other sizes are CKR_KEY_SIZE_RANGE. Key pairs accept any
//!   group of 1024 to 8192 bits given by the caller;
//! - private values are uniform below 2^(L-1) for an L-bit prime (no subgroup order is
//!   known for a caller's group, so no shorter exponent is safe in general);
//! - the shared secret Z is left-padded to the length of the prime, and a derived key takes
//!   its last CKA_VALUE_LEN bytes, as the emulator does for ECDH (and SoftHSM for both).
//!
//! The arithmetic is crypto-bigint's constant-time Montgomery exponentiation (the big
//! integers under the `dsa` and `rsa` crates); the named groups are the RFC 7919 constants
//! rustls ships.

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd, RandomBits, Resize};
use der::asn1::{BitString, ObjectIdentifier, Uint};
use der::{Decode, Encode};
use zeroize::Zeroizing;

use crate::emulator::error::{Error, Result};

/// PKCS #3 `dhKeyAgreement`.
pub const OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.3.1");

/// Prime sizes in bits a key pair may use.
pub const MIN_BITS: u64 = 1024;
pub const MAX_BITS: u64 = 8192;
/// The sizes parameter generation makes (the RFC 7919 groups).
pub const NAMED_BITS: [u64; 5] = [2048, 3072, 4096, 6144, 8192];

/// Why domain parameters cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unusable {
    /// A prime of this many bits, outside the sizes served.
    Size(u64),
    /// Not parameters: malformed DER, an even prime, a base out of range.
    Malformed,
}

/// DH domain parameters: an odd prime `p` of [`MIN_BITS`] to [`MAX_BITS`] bits and a base
/// `g` with 1 < g < p - 1 (held at the precision of `p`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhParams {
    p: Odd<BoxedUint>,
    g: BoxedUint,
}

impl DhParams {
    /// The RFC 7919 group of `bits` bits.
    pub fn named(bits: u64) -> Option<DhParams> {
        use rustls::ffdhe_groups::{FFDHE2048, FFDHE3072, FFDHE4096, FFDHE6144, FFDHE8192};
        let group = match bits {
            2048 => FFDHE2048,
            3072 => FFDHE3072,
            4096 => FFDHE4096,
            6144 => FFDHE6144,
            8192 => FFDHE8192,
            _ => return None,
        };
        DhParams::from_parts(group.p, group.g).ok()
    }

    /// Parameters from big-endian prime and base, unless the prime is even or out of size,
    /// or the base outside (1, p - 1). Primality is not tested (a caller's group is the
    /// caller's choice, as in PKCS #11).
    pub fn from_parts(prime: &[u8], base: &[u8]) -> std::result::Result<DhParams, Unusable> {
        let prime = trim(prime);
        let bits = bit_len(prime);
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(Unusable::Size(bits));
        }
        let p = Odd::new(BoxedUint::from_be_slice_vartime(prime)).into_option().ok_or(Unusable::Malformed)?;
        let params = DhParams { g: BoxedUint::zero_with_precision(p.bits_precision()), p };
        let g = params.element(base).ok_or(Unusable::Malformed)?;
        Ok(DhParams { g, ..params })
    }

    /// Parameters from a DER `DHParameter`.
    pub fn from_der(der: &[u8]) -> std::result::Result<DhParams, Unusable> {
        let ints = Vec::<Uint>::from_der(der).map_err(|_| Unusable::Malformed)?;
        match ints.as_slice() {
            [p, g] | [p, g, _] => DhParams::from_parts(p.as_bytes(), g.as_bytes()),
            _ => Err(Unusable::Malformed),
        }
    }

    /// The DER `DHParameter` (prime and base only).
    pub fn to_der(&self) -> Result<Vec<u8>> {
        let ints = [uint(&self.prime())?, uint(&self.base())?];
        ints.to_vec().to_der().map_err(|_| Error::General("DH parameter encoding failed"))
    }

    /// The prime, big-endian without leading zeros (CKA_PRIME).
    pub fn prime(&self) -> Vec<u8> {
        trim(&self.p.to_be_bytes()).to_vec()
    }

    /// The base, big-endian without leading zeros (CKA_BASE).
    pub fn base(&self) -> Vec<u8> {
        trim(&self.g.to_be_bytes()).to_vec()
    }

    /// The prime's size in bits.
    pub fn bits(&self) -> u64 {
        u64::from(self.p.bit_width_vartime())
    }

    /// Bytes of the prime: the length of public values and of Z.
    fn len(&self) -> usize {
        self.bits().div_ceil(8) as usize
    }

    /// A group element 1 < v < p - 1 from big-endian bytes, at the precision of `p`.
    fn element(&self, bytes: &[u8]) -> Option<BoxedUint> {
        let bytes = trim(bytes);
        if bytes.len() > self.len() {
            return None;
        }
        let v = BoxedUint::from_be_slice(bytes, self.p.bits_precision()).ok()?;
        let one = BoxedUint::one().resize(self.p.bits_precision());
        let p_minus_1 = self.p.as_ref().wrapping_sub(&one);
        (v > one && v < p_minus_1).then_some(v)
    }

    /// `base^exp mod p`, as many big-endian bytes as the prime has.
    fn pow(&self, base: &BoxedUint, exp: &BoxedUint) -> Vec<u8> {
        let params = BoxedMontyParams::new_vartime(self.p.clone());
        let value = BoxedMontyForm::new(base.clone(), &params).pow(exp).retrieve();
        let bytes = value.to_be_bytes();
        bytes[bytes.len() - self.len()..].to_vec()
    }

    /// A new private value and its public value `g^x mod p`.
    pub fn generate(&self) -> (Zeroizing<Vec<u8>>, Vec<u8>) {
        let x_bits = self.p.bit_width_vartime() - 1;
        let x = loop {
            let x = BoxedUint::random_bits(&mut rand::rng(), x_bits).resize(self.p.bits_precision());
            if x > BoxedUint::one() {
                break x;
            }
        };
        let public = self.pow(&self.g, &x);
        let private = Zeroizing::new(x.to_be_bytes()[..].to_vec());
        (private, public)
    }

    /// The public value `g^x mod p` of private value `x` (`None` if `x` does not fit).
    pub fn public_value(&self, private: &[u8]) -> Option<Vec<u8>> {
        let x = Zeroizing::new(BoxedUint::from_be_slice(trim(private), self.p.bits_precision()).ok()?);
        Some(self.pow(&self.g, &x))
    }

    /// Z = peer^x mod p, left-padded to the prime's length. A peer value outside
    /// (1, p - 1) (the SP 800-56A partial check) is `None`, as is a Z of 1.
    pub fn agree(&self, private: &[u8], peer: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let y = self.element(peer)?;
        let x = Zeroizing::new(BoxedUint::from_be_slice(trim(private), self.p.bits_precision()).ok()?);
        let z = Zeroizing::new(self.pow(&y, &x));
        (trim(&z) != [1]).then_some(z)
    }

    /// The SubjectPublicKeyInfo of public value `y`.
    pub fn to_spki(&self, y: &[u8]) -> Result<Vec<u8>> {
        let fail = |_| Error::General("DH public key encoding failed");
        let params = der::Any::from_der(&self.to_der()?).map_err(fail)?;
        let key = uint(y)?.to_der().map_err(fail)?;
        spki::SubjectPublicKeyInfo::<der::Any, BitString> {
            algorithm: spki::AlgorithmIdentifier { oid: OID, parameters: Some(params) },
            subject_public_key: BitString::from_bytes(&key).map_err(fail)?,
        }
        .to_der()
        .map_err(fail)
    }
}

/// The parameters and public value of a DH SubjectPublicKeyInfo (exactly one, nothing
/// after it), or `None` if it is not one.
pub fn from_spki(der: &[u8]) -> Option<(DhParams, Vec<u8>)> {
    let info = spki::SubjectPublicKeyInfoRef::from_der(der).ok()?;
    if info.algorithm.oid != OID {
        return None;
    }
    let params = DhParams::from_der(&info.algorithm.parameters?.to_der().ok()?).ok()?;
    let y = Uint::from_der(info.subject_public_key.as_bytes()?).ok()?;
    params.element(y.as_bytes())?;
    Some((params, trim(y.as_bytes()).to_vec()))
}

fn uint(bytes: &[u8]) -> Result<Uint> {
    Uint::new(trim(bytes)).map_err(|_| Error::General("integer encoding failed"))
}

/// `bytes` without leading zero bytes.
fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The bit length of a big-endian number without leading zero bytes.
fn bit_len(trimmed: &[u8]) -> u64 {
    match trimmed.first() {
        None => 0,
        Some(&top) => (trimmed.len() as u64 - 1) * 8 + u64::from(8 - top.leading_zeros()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;

    /// Each RFC 7919 group is a safe prime whose top and bottom 64 bits are all ones
    /// (RFC 7919 §A: p = 2^b - 2^{b-64} + {[2^{b-130} e] + X} * 2^64 - 1), with base 2.
    #[test]
    fn named_groups_are_the_rfc_7919_safe_primes() {
        for bits in NAMED_BITS {
            let g = DhParams::named(bits).unwrap();
            let p = g.prime();
            assert_eq!(g.bits(), bits);
            assert_eq!(g.base(), [2]);
            assert!(p[..8].iter().chain(&p[p.len() - 8..]).all(|&b| b == 0xff), "{bits}");
            if bits <= 3072 {
                let p = BoxedUint::from_be_slice_vartime(&p);
                let q = p.shr_vartime(1).unwrap();
                assert!(crypto_primes::is_prime(crypto_primes::Flavor::Any, &p), "{bits}");
                assert!(crypto_primes::is_prime(crypto_primes::Flavor::Any, &q), "{bits}");
            }
        }
        assert!(DhParams::named(1024).is_none());
        assert!(DhParams::named(2049).is_none());
    }

    /// Both sides agree, and Z is what num-bigint's modpow says.
    #[test]
    fn agreement_matches_an_independent_modpow() {
        let group = DhParams::named(2048).unwrap();
        let (xa, ya) = group.generate();
        let (xb, yb) = group.generate();
        assert_eq!(ya.len(), 256);
        let za = group.agree(&xa, &yb).unwrap();
        let zb = group.agree(&xb, &ya).unwrap();
        assert_eq!(za, zb);
        let p = BigUint::from_bytes_be(&group.prime());
        let want = BigUint::from_bytes_be(&yb).modpow(&BigUint::from_bytes_be(&xa), &p);
        assert_eq!(BigUint::from_bytes_be(&za), want);
        assert_eq!(za.len(), 256);
        // Leading zeros of the peer value do not matter; out-of-range values are refused.
        assert_eq!(group.agree(&xa, &[&[0, 0][..], &yb].concat()).unwrap(), za);
        let p_bytes = group.prime();
        let mut p_minus_1 = p_bytes.clone();
        *p_minus_1.last_mut().unwrap() -= 1;
        for bad in [&[][..], &[1], &p_minus_1, &p_bytes, &[0xff; 257]] {
            assert!(group.agree(&xa, bad).is_none(), "{}", hex::encode(bad));
        }
    }

    #[test]
    fn der_and_spki_round_trip() {
        let group = DhParams::named(3072).unwrap();
        let der = group.to_der().unwrap();
        assert_eq!(DhParams::from_der(&der), Ok(group.clone()));
        let (_, y) = group.generate();
        let spki = group.to_spki(&y).unwrap();
        let (back, y_back) = from_spki(&spki).unwrap();
        assert_eq!(back, group);
        assert_eq!(y_back, trim(&y));
        assert!(from_spki(&[spki.clone(), vec![0]].concat()).is_none());
        // A privateValueLength after the base is accepted and dropped.
        let mut ints = Vec::<Uint>::from_der(&der).unwrap();
        ints.push(Uint::new(&[0x01, 0x00]).unwrap());
        assert_eq!(DhParams::from_der(&ints.to_der().unwrap()), Ok(group));
    }

    #[test]
    fn unusable_parameters_are_refused() {
        let p = DhParams::named(2048).unwrap().prime();
        assert!(DhParams::from_parts(&p, &[2]).is_ok());
        assert_eq!(DhParams::from_parts(&p, &[1]), Err(Unusable::Malformed));
        assert_eq!(DhParams::from_parts(&p, &[]), Err(Unusable::Malformed));
        let mut even = p.clone();
        *even.last_mut().unwrap() &= 0xfe;
        assert_eq!(DhParams::from_parts(&even, &[2]), Err(Unusable::Malformed));
        assert_eq!(DhParams::from_parts(&p[..64], &[2]), Err(Unusable::Size(512)));
        assert_eq!(DhParams::from_der(b"\x30\x00"), Err(Unusable::Malformed));
        assert_eq!(DhParams::from_der(b"garbage"), Err(Unusable::Malformed));
    }
}
