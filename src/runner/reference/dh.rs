//! Finite-field Diffie-Hellman with num-bigint's modular exponentiation (an implementation
//! other than the emulator's crypto-bigint), for `local.dh-keypair` and `local.dh`.
//! Domain parameters are the DER PKCS #3 `DHParameter` (`SEQUENCE { prime, base, ... }`);
//! public keys the `dhKeyAgreement` SubjectPublicKeyInfo IBM's clients parse.

use der::Decode;
use der::asn1::{ObjectIdentifier, Uint};
use num_bigint::BigUint;

use super::{RefError, ec::spki, malformed};

/// PKCS #3 `dhKeyAgreement`.
const OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.3.1");

/// A harness key pair: the private value and the public value, both big-endian.
pub struct DhKeyPair {
    pub private: Vec<u8>,
    pub public: Vec<u8>,
}

/// (p, g) of a DER `DHParameter`.
fn params(der: &[u8]) -> Result<(BigUint, BigUint), RefError> {
    let ints =
        Vec::<Uint>::from_der(der).map_err(|e| RefError::Malformed(format!("not a DER DHParameter: {e}")))?;
    match ints.as_slice() {
        [p, g, ..] => Ok((BigUint::from_bytes_be(p.as_bytes()), BigUint::from_bytes_be(g.as_bytes()))),
        _ => malformed("a DHParameter holds a prime and a base"),
    }
}

/// A key pair over DER `DHParameter` parameters, with a 512-bit private value.
pub fn keypair(params_der: &[u8]) -> Result<DhKeyPair, RefError> {
    let (p, g) = params(params_der)?;
    let mut x = [0u8; 64];
    rand::fill(&mut x[..]);
    x[0] |= 0x80;
    let public = g.modpow(&BigUint::from_bytes_be(&x), &p).to_bytes_be();
    Ok(DhKeyPair { private: x.to_vec(), public })
}

/// Z = y^x mod p, left-padded to the length of p, with x the harness's private value and
/// (p, y) from the peer's SubjectPublicKeyInfo (or a public key blob starting with one).
pub fn agree(private: &[u8], public: &[u8]) -> Result<Vec<u8>, RefError> {
    let der = spki(public)?;
    let info =
        spki::SubjectPublicKeyInfoRef::from_der(&der).map_err(|e| RefError::Malformed(e.to_string()))?;
    if info.algorithm.oid != OID {
        return malformed(format!("the SPKI's algorithm is {}, not dhKeyAgreement", info.algorithm.oid));
    }
    let params_der = info
        .algorithm
        .parameters
        .ok_or_else(|| RefError::Malformed("the DH SPKI has no parameters".into()))
        .and_then(|a| der::Encode::to_der(&a).map_err(|e| RefError::Malformed(e.to_string())))?;
    let (p, _) = params(&params_der)?;
    let y = info
        .subject_public_key
        .as_bytes()
        .and_then(|b| Uint::from_der(b).ok())
        .ok_or_else(|| RefError::Malformed("the DH SPKI's key is not a DER INTEGER".into()))?;
    let y = BigUint::from_bytes_be(y.as_bytes());
    if y <= BigUint::from(1u8) || y >= &p - 1u8 {
        return malformed("the DH public value is not in (1, p - 1)");
    }
    let z = y.modpow(&BigUint::from_bytes_be(private), &p).to_bytes_be();
    let len = p.bits().div_ceil(8) as usize;
    let mut padded = vec![0u8; len - z.len()];
    padded.extend_from_slice(&z);
    Ok(padded)
}
