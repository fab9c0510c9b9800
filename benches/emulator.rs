//! In-process cost of the emulator per mechanism, called as plain functions on the engine
//! (no gRPC): what one operation costs before any transport, and what sealing and opening
//! blobs add to it.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use grep11_harness::bench_support::{Engine, MechParam, Mechanism, Operation, Sealer, Template, WireValue};
use grep11_harness::load::workload::Outcome;
use grep11_harness::pkcs11::*;

const WRAPPING_KEY: [u8; 32] = [0x42; 32];

fn mech(mech: CkMechanismType, param: MechParam) -> Mechanism {
    Mechanism { mech, param }
}

fn template(rows: &[(CkAttributeType, WireValue)]) -> Template {
    rows.iter().cloned().collect()
}

fn aes256_key(engine: &Engine) -> Vec<u8> {
    let t = template(&[(CKA_VALUE_LEN, WireValue::Int(32)), (CKA_ENCRYPT, WireValue::Bool(true))]);
    engine.generate_key(&mech(CKM_AES_KEY_GEN, MechParam::None), &t).expect("AES key").blob
}

fn p256_pair(engine: &Engine) -> (Vec<u8>, Vec<u8>) {
    let public = template(&[(CKA_EC_PARAMS, WireValue::Bytes(Curve::P256.ec_params()))]);
    let (private, public) = engine
        .generate_key_pair(&mech(CKM_EC_KEY_PAIR_GEN, MechParam::None), &public, &Template::new())
        .expect("P-256 pair");
    (private.blob, public.blob)
}

fn symmetric(c: &mut Criterion) {
    let engine = Engine::new(&WRAPPING_KEY);
    let key = aes256_key(&engine);
    let data = vec![0x5a; 1024];
    let cbc_pad = mech(CKM_AES_CBC_PAD, MechParam::Bytes(vec![0; 16]));
    let mut group = c.benchmark_group("symmetric 1 KiB");
    group.throughput(Throughput::Bytes(1024));
    group.bench_function("EncryptSingle AES-256-CBC-PAD", |b| {
        b.iter(|| {
            engine.cipher_single(Operation::Encrypt, &cbc_pad, black_box(&key), black_box(&data)).unwrap()
        })
    });
    // The primitive alone (AWS-LC, which the emulator uses), for the overhead ratio the
    // README quotes.
    group.bench_function("AES-256-CBC-PAD primitive (aws-lc-rs)", |b| {
        use aws_lc_rs::cipher::{AES_256, EncryptionContext, PaddedBlockEncryptingKey, UnboundCipherKey};
        b.iter(|| {
            let key = PaddedBlockEncryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_256, &[7; 32]).unwrap())
                .unwrap();
            let mut out = black_box(&data).clone();
            let iv = aws_lc_rs::iv::FixedLength::from([0u8; 16]);
            key.less_safe_encrypt(&mut out, EncryptionContext::Iv128(iv)).unwrap();
            out
        })
    });
    group.bench_function("DigestSingle SHA-256", |b| {
        b.iter(|| engine.digest_single(&mech(CKM_SHA256, MechParam::None), black_box(&data)).unwrap())
    });
    group.finish();
}

fn blobs(c: &mut Criterion) {
    let engine = Engine::new(&WRAPPING_KEY);
    let sealer = Sealer::new(&WRAPPING_KEY);
    let blob = aes256_key(&engine);
    let key = sealer.open_key(&blob).unwrap();
    let mut group = c.benchmark_group("blobs");
    group.bench_function("open AES-256 key blob", |b| b.iter(|| sealer.open_key(black_box(&blob)).unwrap()));
    group.bench_function("seal AES-256 key blob", |b| b.iter(|| sealer.seal_key(black_box(&key)).unwrap()));
    group.finish();
}

fn ecdsa(c: &mut Criterion) {
    let engine = Engine::new(&WRAPPING_KEY);
    let (private, public) = p256_pair(&engine);
    let hash = [0x11u8; 32];
    let ecdsa = mech(CKM_ECDSA, MechParam::None);
    let signature = engine.sign_single(&ecdsa, &private, &hash).unwrap();
    let mut group = c.benchmark_group("P-256");
    group.bench_function(BenchmarkId::new("SignSingle", "CKM_ECDSA"), |b| {
        b.iter(|| engine.sign_single(&ecdsa, black_box(&private), black_box(&hash)).unwrap())
    });
    group.bench_function(BenchmarkId::new("VerifySingle", "CKM_ECDSA"), |b| {
        b.iter(|| {
            engine.verify_single(&ecdsa, black_box(&public), black_box(&hash), black_box(&signature)).unwrap()
        })
    });
    group.bench_function("GenerateKeyPair", |b| b.iter(|| p256_pair(&engine)));
    group.finish();
}

fn rsa(c: &mut Criterion) {
    let engine = Engine::new(&WRAPPING_KEY);
    let public = template(&[(CKA_MODULUS_BITS, WireValue::Int(2048))]);
    let keygen = mech(CKM_RSA_PKCS_KEY_PAIR_GEN, MechParam::None);
    let (private, _) = engine.generate_key_pair(&keygen, &public, &Template::new()).expect("RSA-2048 pair");
    let private = private.blob;
    let data = vec![0x5a; 1024];
    let sha256_rsa = mech(CKM_SHA256_RSA_PKCS, MechParam::None);
    let mut group = c.benchmark_group("RSA-2048");
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("SignSingle", "CKM_SHA256_RSA_PKCS 1 KiB"), |b| {
        b.iter(|| engine.sign_single(&sha256_rsa, black_box(&private), black_box(&data)).unwrap())
    });
    group.bench_function("GenerateKeyPair", |b| {
        b.iter(|| engine.generate_key_pair(&keygen, &public, &Template::new()).unwrap())
    });
    group.finish();
}

/// Through the wire at one call in flight: the embedded emulator reached over real HTTP/2
/// and protobuf on an in-memory pipe (what `run` without `--endpoint` uses), each call a
/// catalogue workload's measured step. GenerateRandom(32) is the cost of the round trip
/// itself; README compares the signatures with `openssl speed` plus that round trip.
fn wire(c: &mut Criterion) {
    use grep11_harness::client::Wire;
    use grep11_harness::load::workload::catalogue;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let timeout = std::time::Duration::from_secs(30);
    let client = rt
        .block_on(grep11_harness::embedded::direct_clients(1, Wire::Keyblob, timeout))
        .expect("embedded emulator")
        .remove(0);
    let workloads = catalogue().expect("the catalogue loads");
    let mut group = c.benchmark_group("embedded wire, 1 in flight");
    for name in ["random-32", "sign-ecdsa-p256", "sign-rsa2048-pkcs", "encrypt-aes256-cbc-pad-1k"] {
        let workload = workloads.iter().find(|w| w.name == name).expect("a catalogue workload");
        let ready = rt.block_on(workload.setup(&client)).expect("setup");
        let mut env = ready.env();
        group.bench_function(name, |b| {
            b.iter(|| {
                let outcome = rt.block_on(ready.iterate(&client, &mut env, false));
                assert!(matches!(outcome, Outcome::Ok { .. }), "{name}: the call succeeds");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, symmetric, blobs, ecdsa, rsa, wire);
criterion_main!(benches);
