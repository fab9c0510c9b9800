//! Arbitrary mechanism parameters with keys of the right kind, where they are used: every
//! error of the engine is a named PKCS #11 refusal, never the catch-all. The properties over
//! the wire are `tests/integration/emulator_props.rs`.
//!
//! At the engine (plain function calls, microseconds each), so that every registered
//! mechanism meets each case's parameter with every operation and a key of every kind. The
//! parameter arms are built to be near-valid (a hash and its matching MGF, an IV of a
//! plausible length, a real EC point) so that they get past the first check.

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::{Index, select};

use crate::emulator::attrs::{Template, WireValue};
use crate::emulator::blob::Operation;
use crate::emulator::engine::Engine;
use crate::emulator::mech::{MechParam, Mechanism as EngineMechanism, mechanisms};
use crate::pkcs11::*;

const IV: [u8; 16] = [0x24; 16];

fn small_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..80)
}

/// (hash mechanism, the wire's MGF1 value for it).
const HASH_MGF: [(CkMechanismType, u64); 5] =
    [(CKM_SHA_1, 1), (CKM_SHA256, 2), (CKM_SHA384, 3), (CKM_SHA512, 4), (CKM_SHA224, 5)];

fn hash_and_mgf() -> impl Strategy<Value = (CkMechanismType, u64)> {
    prop_oneof![
        3 => select(HASH_MGF.to_vec()),
        1 => (any::<u64>(), 0..8u64).prop_map(|(h, m)| (CkMechanismType(h), m)),
    ]
}

fn engine_param(point: Vec<u8>) -> impl Strategy<Value = MechParam> {
    prop_oneof![
        Just(MechParam::None),
        prop_oneof![Just(IV.to_vec()), Just(IV[..8].to_vec()), small_bytes()].prop_map(MechParam::Bytes),
        (hash_and_mgf(), prop_oneof![0..3u64, any::<u64>()], small_bytes())
            .prop_map(|((hash, mgf), source, label)| MechParam::Oaep { hash, mgf, source, label }),
        (hash_and_mgf(), prop_oneof![0..200u64, any::<u64>()])
            .prop_map(|((hash, mgf), salt_len)| MechParam::Pss { hash, mgf, salt_len }),
        (prop_oneof![0..10u64, any::<u64>()], small_bytes(), prop_oneof![Just(point), small_bytes()])
            .prop_map(|(kdf, shared_data, public_data)| MechParam::Ecdh {
                kdf: CkEcKdf(kdf),
                shared_data,
                public_data
            }),
        Just(MechParam::Other),
    ]
}

struct EngineFixture {
    engine: Engine,
    keys: Vec<Vec<u8>>,
    point: Vec<u8>,
}

fn engine_fixture() -> &'static EngineFixture {
    static FIXTURE: OnceLock<EngineFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let engine = Engine::new(&[0x5a; 32]);
        let m = |mech| EngineMechanism { mech, param: MechParam::None };
        let t = |rows: Vec<(CkAttributeType, WireValue)>| rows.into_iter().collect::<Template>();
        let len = |n| t(vec![(CKA_VALUE_LEN, WireValue::Int(n))]);
        let secret = |mech, n| engine.generate_key(&m(mech), &len(n)).unwrap().blob;
        let mut keys = vec![secret(CKM_AES_KEY_GEN, 16), secret(CKM_GENERIC_SECRET_KEY_GEN, 32)];
        keys.push(engine.generate_key(&m(CKM_DES3_KEY_GEN), &Template::new()).unwrap().blob);
        let mut point = Vec::new();
        for curve in [Curve::P256, Curve::ED25519] {
            let public = t(vec![(CKA_EC_PARAMS, WireValue::Bytes(curve.ec_params()))]);
            let private = t(vec![(CKA_DERIVE, WireValue::Bool(curve == Curve::P256))]);
            let (sk, pk) = engine.generate_key_pair(&m(CKM_EC_KEY_PAIR_GEN), &public, &private).unwrap();
            if point.is_empty() {
                point = engine.get_attributes(&pk.blob, &[CKA_EC_POINT]).unwrap()[0].1.to_bytes();
            }
            keys.extend([sk.blob, pk.blob]);
        }
        // The smallest modulus: RSA private operations dominate a case's time.
        let bits = t(vec![(CKA_MODULUS_BITS, WireValue::Int(512))]);
        let (sk, pk) =
            engine.generate_key_pair(&m(CKM_RSA_PKCS_KEY_PAIR_GEN), &bits, &Template::new()).unwrap();
        keys.extend([sk.blob, pk.blob]);
        EngineFixture { engine, keys, point }
    })
}

/// Every error of the engine is a named PKCS #11 refusal, not the catch-all.
fn refusal<T>(what: &str, result: Result<T, crate::emulator::Error>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        prop_assert!(e.rv() != CKR_GENERAL_ERROR, "{}: {}", what, e);
    }
    Ok(())
}

proptest! {
    // Each case makes about 800 engine calls, many opening a blob (AES-GCM unoptimised in a
    // debug build): half the configured cases, 128 by default, keeps this near four seconds.
    #![proptest_config(ProptestConfig::with_cases((ProptestConfig::default().cases / 2).max(1)))]

    #[test]
    fn any_parameter_with_every_mechanism_and_key(
        param in engine_param(engine_fixture().point.clone()),
        key in any::<Index>(),
        data in prop_oneof![small_bytes(), Just(vec![0x11; 32]), Just(vec![0x22; 64])],
    ) {
        let f = engine_fixture();
        let e = &f.engine;
        let key = &f.keys[key.index(f.keys.len())];
        let secret: Template = [
            (CKA_CLASS, WireValue::Int(CKO_SECRET_KEY.0 as i64)),
            (CKA_KEY_TYPE, WireValue::Int(CKK_AES.0 as i64)),
            (CKA_VALUE_LEN, WireValue::Int(16)),
        ]
        .into_iter()
        .collect();
        for row in mechanisms() {
            let m = EngineMechanism { mech: row.mech, param: param.clone() };
            let name = |op: &str| format!("{op} {} {:?}", row.mech, param);
            for op in [Operation::Encrypt, Operation::Decrypt] {
                refusal(&name("cipher_single"), e.cipher_single(op, &m, key, &data))?;
                refusal(&name("cipher_init"), e.cipher_init(op, &m, key))?;
            }
            refusal(&name("sign_single"), e.sign_single(&m, key, &data))?;
            refusal(&name("verify_single"), e.verify_single(&m, key, &data, &data))?;
            for op in [Operation::Sign, Operation::Verify] {
                refusal(&name("sign_init"), e.sign_init(op, &m, key))?;
            }
            refusal(&name("wrap_key"), e.wrap_key(&m, &f.keys[0], key))?;
            refusal(&name("unwrap_key"), e.unwrap_key(&m, key, &data, &secret))?;
            refusal(&name("derive_key"), e.derive_key(&m, key, &secret))?;
            refusal(&name("digest_single"), e.digest_single(&m, &data))?;
            refusal(&name("digest_init"), e.digest_init(&m))?;
        }
    }
}
