//! DSA (FIPS 186-4) over RustCrypto's `dsa` crate: domain parameter generation, key
//! pairs, and signatures for CKM_DSA and CKM_DSA_SHA*.
//!
//! Encodings: domain parameters are the DER `Dss-Parms`, `SEQUENCE { p, q, g }` (RFC 3279
//! §2.3.2), as the KeyBytes of CKM_DSA_PARAMETER_GEN and the CKA_IBM_STRUCT_PARAMS of a key
//! pair template; public keys are RFC 3279 SubjectPublicKeyInfos; private keys are sealed as
//! PKCS #8. Signatures are PKCS #11's `r || s`, each as long as q.
//!
//! Sizes are FIPS 186-4's (L, N) pairs: (1024, 160), (2048, 224), (2048, 256), (3072, 256).
//! Parameter generation takes L from CKA_PRIME_BITS and N from CKA_SUBPRIME_BITS; without
//! N, 2048-bit primes get a 256-bit q (the pair matching SHA-256), 1024 and 3072 their
//! only N. Generating 2048- and 3072-bit parameters is a prime search of seconds.

use ::dsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ::dsa::signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};
use ::dsa::{BoxedUint, Components, KeySize, Signature, SigningKey, VerifyingKey};
use der::asn1::Uint;
use der::{Decode, Encode};
use zeroize::Zeroizing;

pub use super::dh::Unusable;
use crate::emulator::error::{Error, Result};

/// Prime sizes (L) in bits.
pub const MIN_BITS: u64 = 1024;
pub const MAX_BITS: u64 = 3072;

/// The FIPS 186-4 size of (L, N); N defaults as the module comment says.
#[allow(deprecated, reason = "1024-bit DSA stays available for existing keys, as FIPS 186-4 had it")]
fn key_size(l: u64, n: Option<u64>) -> Option<KeySize> {
    match (l, n) {
        (1024, None | Some(160)) => Some(KeySize::DSA_1024_160),
        (2048, Some(224)) => Some(KeySize::DSA_2048_224),
        (2048, None | Some(256)) => Some(KeySize::DSA_2048_256),
        (3072, None | Some(256)) => Some(KeySize::DSA_3072_256),
        _ => None,
    }
}

/// New domain parameters of L = `prime_bits` (and N = `subprime_bits`); any other size is
/// CKR_KEY_SIZE_RANGE.
pub fn generate_params(prime_bits: u64, subprime_bits: Option<u64>) -> Result<Components> {
    let size = key_size(prime_bits, subprime_bits).ok_or(Error::KeySizeRange(prime_bits))?;
    Ok(Components::try_generate_from_rng_with_key_size(&mut rand::rng(), size)
        .unwrap_or_else(|never| match never {}))
}

/// Parameters from a DER `Dss-Parms` of a FIPS 186-4 size.
pub fn params_from_der(der: &[u8]) -> std::result::Result<Components, Unusable> {
    let ints = Vec::<Uint>::from_der(der).map_err(|_| Unusable::Malformed)?;
    match ints.as_slice() {
        [p, q, g] => params_from_parts(p.as_bytes(), q.as_bytes(), g.as_bytes()),
        _ => Err(Unusable::Malformed),
    }
}

/// Parameters from big-endian p, q and g (CKA_PRIME, CKA_SUBPRIME, CKA_BASE) of a FIPS
/// 186-4 size. Like the `dsa` crate, this checks sizes and ranges, not primality.
pub fn params_from_parts(p: &[u8], q: &[u8], g: &[u8]) -> std::result::Result<Components, Unusable> {
    let [p, q, g] = [p, q, g].map(|v| BoxedUint::from_be_slice_vartime(trim(v)));
    let (l, n) = (u64::from(p.bit_width_vartime()), u64::from(q.bit_width_vartime()));
    if key_size(l, Some(n)).is_none() {
        return Err(Unusable::Size(l));
    }
    Components::from_components(p, q, g).map_err(|_| Unusable::Malformed)
}

/// The DER `Dss-Parms`.
pub fn params_der(params: &Components) -> Result<Vec<u8>> {
    params.to_der().map_err(|_| Error::General("DSA parameter encoding failed"))
}

/// p, q and g big-endian without leading zeros (CKA_PRIME, CKA_SUBPRIME, CKA_BASE).
pub fn params_parts(params: &Components) -> [Vec<u8>; 3] {
    [params.p().as_ref(), params.q().as_ref(), params.g().as_ref()].map(|v| trim(&v.to_be_bytes()).to_vec())
}

/// The size of p in bits.
#[cfg(test)]
pub fn prime_bits(params: &Components) -> u64 {
    u64::from(params.p().bit_width_vartime())
}

/// A new key pair over `params`.
pub fn generate(params: Components) -> SigningKey {
    SigningKey::try_generate_from_rng_with_components(&mut rand::rng(), params)
        .unwrap_or_else(|never| match never {})
}

pub fn to_pkcs8(key: &SigningKey) -> Result<Zeroizing<Vec<u8>>> {
    let doc = key.to_pkcs8_der().map_err(|_| Error::General("DSA private key encoding failed"))?;
    Ok(Zeroizing::new(doc.as_bytes().to_vec()))
}

pub fn from_pkcs8(der: &[u8]) -> Option<SigningKey> {
    SigningKey::from_pkcs8_der(der).ok()
}

pub fn to_spki(key: &VerifyingKey) -> Result<Vec<u8>> {
    let doc = key.to_public_key_der().map_err(|_| Error::General("DSA public key encoding failed"))?;
    Ok(doc.as_bytes().to_vec())
}

/// The key of a DSA SubjectPublicKeyInfo (exactly one), or `None` if it is not one.
pub fn from_spki(der: &[u8]) -> Option<VerifyingKey> {
    VerifyingKey::from_public_key_der(der).ok()
}

/// Bytes of each of r and s: the length of q.
fn half_len(params: &Components) -> usize {
    params.q().bit_width_vartime().div_ceil(8) as usize
}

/// A prehash CKM_DSA signs: the leftmost N bits of a hash of any length (FIPS 186-4 §4.6),
/// but not nothing, and no more than a SHA-512 output.
fn check_prehash(prehash: &[u8]) -> Result<()> {
    if prehash.is_empty() || prehash.len() > 64 {
        return Err(Error::DataLenRange("CKM_DSA signs a hash of 1 to 64 bytes"));
    }
    Ok(())
}

/// Signs a prehash with the private key sealed as PKCS #8; `r || s`.
pub fn sign(pkcs8: &[u8], prehash: &[u8]) -> Result<Vec<u8>> {
    check_prehash(prehash)?;
    let key = from_pkcs8(pkcs8).ok_or(Error::SavedStateInvalid)?;
    let sig = key
        .sign_prehash_with_rng(&mut rand::rng(), prehash)
        .map_err(|_| Error::General("DSA signing failed"))?;
    let n = half_len(key.verifying_key().components());
    let mut out = vec![0u8; 2 * n];
    for (half, v) in out.chunks_mut(n).zip([sig.r(), sig.s()]) {
        let bytes = trim_owned(&v.to_be_bytes());
        half[n - bytes.len()..].copy_from_slice(&bytes);
    }
    Ok(out)
}

/// Verifies `r || s` over a prehash with the key of an SPKI.
pub fn verify(spki: &[u8], prehash: &[u8], signature: &[u8]) -> Result<()> {
    check_prehash(prehash)?;
    let key = from_spki(spki).ok_or(Error::SavedStateInvalid)?;
    let n = half_len(key.components());
    if signature.len() != 2 * n {
        return Err(Error::SignatureLenRange { expected: 2 * n, got: signature.len() });
    }
    let (r, s) = signature.split_at(n);
    let sig =
        Signature::from_components(BoxedUint::from_be_slice_vartime(r), BoxedUint::from_be_slice_vartime(s))
            .ok_or(Error::SignatureInvalid)?;
    key.verify_prehash(prehash, &sig).map_err(|_| Error::SignatureInvalid)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn trim_owned(bytes: &[u8]) -> Vec<u8> {
    trim(bytes).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::mech::digest::HashAlg;

    #[test]
    fn sizes_follow_fips_186_4() {
        assert!(key_size(2048, None).is_some() && key_size(2048, Some(224)).is_some());
        assert!(key_size(1024, Some(160)).is_some() && key_size(3072, None).is_some());
        for (l, n) in [(2048, Some(160)), (3072, Some(224)), (4096, None), (512, None), (2049, None)] {
            assert_eq!(generate_params(l, n).err().map(|e| e.rv()), Some(crate::pkcs11::CKR_KEY_SIZE_RANGE));
        }
    }

    /// Generated 1024-bit parameters, a key pair on them, and signatures through every
    /// encoding the emulator keeps (DER parameters, PKCS #8, SPKI, r || s).
    #[test]
    fn generated_parameters_sign_and_verify() {
        let params = generate_params(1024, None).unwrap();
        assert_eq!(prime_bits(&params), 1024);
        let der = params_der(&params).unwrap();
        let back = params_from_der(&der).unwrap();
        let [p, q, g] = params_parts(&back);
        assert_eq!(params_from_parts(&p, &q, &g), Ok(back.clone()));
        assert_eq!(params_from_parts(&p, &p, &g), Err(Unusable::Size(1024)));
        assert_eq!(params_from_der(b"\x30\x00").err(), Some(Unusable::Malformed));
        let key = generate(back);
        let pkcs8 = to_pkcs8(&key).unwrap();
        let spki = to_spki(key.verifying_key()).unwrap();
        let hash = HashAlg::Sha1.digest(b"abc");
        let sig = sign(&pkcs8, &hash).unwrap();
        assert_eq!(sig.len(), 40);
        verify(&spki, &hash, &sig).unwrap();
        let mut bad = sig.clone();
        bad[39] ^= 1;
        assert_eq!(verify(&spki, &hash, &bad), Err(Error::SignatureInvalid));
        assert!(matches!(verify(&spki, &hash, &sig[..39]), Err(Error::SignatureLenRange { .. })));
        assert_eq!(verify(&spki, &hash, &[0; 40]), Err(Error::SignatureInvalid));
        assert!(matches!(sign(&pkcs8, &[]), Err(Error::DataLenRange(_))));
        assert!(matches!(sign(&pkcs8, &[1; 65]), Err(Error::DataLenRange(_))));
    }

    /// Wycheproof's DSA-2048/SHA-256 (r || s) vectors through [`verify`]: every valid
    /// signature verifies, every invalid one is refused.
    #[test]
    fn wycheproof_p1363_vectors() {
        use wycheproof::TestResult;
        use wycheproof::dsa::{TestName, TestSet};
        for name in [TestName::Dsa2048_224Sha224P1363, TestName::Dsa2048_256Sha256P1363] {
            let set = TestSet::load(name).unwrap();
            let mut counted = 0;
            for group in &set.test_groups {
                let hash = match name {
                    TestName::Dsa2048_224Sha224P1363 => HashAlg::Sha224,
                    _ => HashAlg::Sha256,
                };
                for t in &group.tests {
                    let got = verify(&group.der, &hash.digest(&t.msg), &t.sig);
                    match t.result {
                        TestResult::Valid => assert_eq!(got, Ok(()), "tc {}", t.tc_id),
                        TestResult::Invalid => assert!(got.is_err(), "tc {}", t.tc_id),
                        TestResult::Acceptable => {}
                    }
                    counted += 1;
                }
            }
            assert!(counted > 50, "{counted}");
        }
    }
}
