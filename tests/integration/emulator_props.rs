//! The emulator survives any input: property tests over the wire, in process (the harness
//! client and tonic's generic client over the in-memory HTTP/2 channel).
//!
//! - arbitrary bytes as every RPC's request body: a body that does not decode as the RPC's
//!   request is a plain gRPC INTERNAL (tonic's decoder); one that does is answered, or
//!   refused with a `Grep11Error`;
//! - arbitrary field combinations into every RPC (mechanism numbers, parameters of every
//!   shape, templates, blobs valid, tampered or random, both wire generations): an answer
//!   or a `Grep11Error`, never a bare status, never a response that breaks the interface;
//! - arbitrary mechanism parameters with keys of the right kind, where they are used (at
//!   the engine, below the wire: `src/emulator/tests/props.rs`);
//! - a tampered key or state blob (a flipped byte, a truncation, an extension) never gives
//!   a success, and is refused with the code for a bad blob.
//!
//! A panic in a handler ends its HTTP/2 stream without a status, which the first two
//! properties see as a bare status. Cases: `PROPTEST_CASES` (default 256 per property).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use grep11_harness::client::{Arg, Args, CallError, Client, Fields, Value, Wire, in_memory_channel};
use grep11_harness::emulator::{Config, Emulator, Service};
use grep11_harness::pkcs11::*;
use grep11_harness::proto::{
    self, AttributeValue, Mechanism, attribute_value::OneAttr, mechanism::Parameter,
};
use grep11_harness::rpc::{ArgKind, Rpc, frame};
use grep11_harness::status::{CallFailure, from_status};
use proptest::prelude::*;
use proptest::sample::{Index, select};

// ---- the fixture: one emulator, clients of both wire generations, valid blobs ----

struct Fixture {
    runtime: tokio::runtime::Runtime,
    /// The same emulator as a tonic service, for raw bodies.
    service: Service,
    keyblob: Client,
    legacy: Client,
    pool: Pool,
    /// The mechanisms the emulator lists (GetMechanismList).
    mechanisms: Vec<u64>,
}

/// Valid blobs, each with a call that succeeds on it (checked when the pool is made).
struct Pool {
    aes: Vec<u8>,
    hmac: Vec<u8>,
    des3: Vec<u8>,
    ec_priv: Vec<u8>,
    ec_pub: Vec<u8>,
    ec_point: Vec<u8>,
    ec_sig: Vec<u8>,
    ed_priv: Vec<u8>,
    ed_pub: Vec<u8>,
    ed_sig: Vec<u8>,
    rsa_priv: Vec<u8>,
    rsa_pub: Vec<u8>,
    rsa_sig: Vec<u8>,
    encrypt_state: Vec<u8>,
    digest_state: Vec<u8>,
    sign_state: Vec<u8>,
}

impl Pool {
    fn keys(&self) -> [&[u8]; 9] {
        [
            &self.aes,
            &self.hmac,
            &self.des3,
            &self.ec_priv,
            &self.ec_pub,
            &self.ed_priv,
            &self.ed_pub,
            &self.rsa_priv,
            &self.rsa_pub,
        ]
    }

    fn states(&self) -> [&[u8]; 3] {
        [&self.encrypt_state, &self.digest_state, &self.sign_state]
    }
}

const IV: [u8; 16] = [0x24; 16];

fn mech(m: CkMechanismType, parameter: Option<Parameter>) -> Arg {
    Arg::Mechanism(Mechanism { mechanism: m.0, parameter })
}

fn iv_mech(m: CkMechanismType) -> Arg {
    mech(m, Some(Parameter::ParameterB(IV.to_vec())))
}

fn template(rows: &[(CkAttributeType, OneAttr)]) -> Arg {
    Arg::Template(rows.iter().map(|(a, v)| (a.0, AttributeValue { one_attr: Some(v.clone()) })).collect())
}

fn args(rows: Vec<(&'static str, Arg)>) -> Args {
    Args(rows.into_iter().collect())
}

fn bytes_of(fields: &Fields, name: &str) -> Vec<u8> {
    match fields.get(name) {
        Some(Value::Bytes(b)) => b.clone(),
        other => panic!("{name} missing: {other:?}"),
    }
}

async fn call_ok(client: &Client, rpc: Rpc, a: Args) -> Fields {
    client.call(rpc, &a).await.unwrap_or_else(|e| panic!("fixture {rpc}: {e}"))
}

async fn make_pool(c: &Client) -> Pool {
    let int = |v: u64| OneAttr::AttributeI(v as i64);
    let secret =
        |m, len| args(vec![("mech", mech(m, None)), ("template", template(&[(CKA_VALUE_LEN, int(len))]))]);
    let aes = bytes_of(&call_ok(c, Rpc::GenerateKey, secret(CKM_AES_KEY_GEN, 32)).await, "Key");
    let hmac = bytes_of(&call_ok(c, Rpc::GenerateKey, secret(CKM_GENERIC_SECRET_KEY_GEN, 32)).await, "Key");
    let des3 = bytes_of(
        &call_ok(
            c,
            Rpc::GenerateKey,
            args(vec![("mech", mech(CKM_DES3_KEY_GEN, None)), ("template", template(&[]))]),
        )
        .await,
        "Key",
    );
    let pair = |curve: Curve, derive: bool| {
        args(vec![
            ("mech", mech(CKM_EC_KEY_PAIR_GEN, None)),
            ("public", template(&[(CKA_EC_PARAMS, OneAttr::AttributeB(curve.ec_params()))])),
            ("private", template(&[(CKA_DERIVE, OneAttr::AttributeTf(derive))])),
        ])
    };
    let ec = call_ok(c, Rpc::GenerateKeyPair, pair(Curve::P256, true)).await;
    let (ec_priv, ec_pub) = (bytes_of(&ec, "PrivKey"), bytes_of(&ec, "PubKey"));
    let ed = call_ok(c, Rpc::GenerateKeyPair, pair(Curve::ED25519, false)).await;
    let (ed_priv, ed_pub) = (bytes_of(&ed, "PrivKey"), bytes_of(&ed, "PubKey"));
    let rsa = call_ok(
        c,
        Rpc::GenerateKeyPair,
        args(vec![
            ("mech", mech(CKM_RSA_PKCS_KEY_PAIR_GEN, None)),
            ("public", template(&[(CKA_MODULUS_BITS, int(1024))])),
            ("private", template(&[])),
        ]),
    )
    .await;
    let (rsa_priv, rsa_pub) = (bytes_of(&rsa, "PrivKey"), bytes_of(&rsa, "PubKey"));
    let point = call_ok(
        c,
        Rpc::GetAttributeValue,
        args(vec![
            ("object", Arg::Bytes(ec_pub.clone())),
            ("attributes", Arg::Attributes(vec![CKA_EC_POINT])),
        ]),
    )
    .await;
    let ec_point = bytes_of(&point, "CKA_EC_POINT");
    let sign = |m, key: &[u8]| {
        args(vec![
            ("mech", mech(m, None)),
            ("key", Arg::Bytes(key.to_vec())),
            ("data", Arg::Bytes(b"data".to_vec())),
        ])
    };
    let ec_sig = bytes_of(&call_ok(c, Rpc::SignSingle, sign(CKM_ECDSA_SHA256, &ec_priv)).await, "Signature");
    let rsa_sig =
        bytes_of(&call_ok(c, Rpc::SignSingle, sign(CKM_SHA256_RSA_PKCS, &rsa_priv)).await, "Signature");
    let ed_sig = bytes_of(
        &call_ok(c, Rpc::SignSingle, sign(ibm::CKM_IBM_ED25519_SHA512, &ed_priv)).await,
        "Signature",
    );
    let encrypt_state = bytes_of(
        &call_ok(
            c,
            Rpc::EncryptInit,
            args(vec![("mech", iv_mech(CKM_AES_CBC_PAD)), ("key", Arg::Bytes(aes.clone()))]),
        )
        .await,
        "State",
    );
    let digest_state =
        bytes_of(&call_ok(c, Rpc::DigestInit, args(vec![("mech", mech(CKM_SHA256, None))])).await, "State");
    let sign_state = bytes_of(
        &call_ok(
            c,
            Rpc::SignInit,
            args(vec![("mech", mech(CKM_SHA256_HMAC, None)), ("key", Arg::Bytes(hmac.clone()))]),
        )
        .await,
        "State",
    );
    Pool {
        aes,
        hmac,
        des3,
        ec_priv,
        ec_pub,
        ec_point,
        ec_sig,
        ed_priv,
        ed_pub,
        ed_sig,
        rsa_priv,
        rsa_pub,
        rsa_sig,
        encrypt_state,
        digest_state,
        sign_state,
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let emulator = Emulator::new(Config::default());
        let channel = {
            let _entered = runtime.enter();
            in_memory_channel(tonic::service::Routes::new(emulator.service()))
        };
        let timeout = Duration::from_secs(5);
        let keyblob = Client::new(channel.clone(), Wire::Keyblob, timeout);
        let legacy = Client::new(channel.clone(), Wire::Legacy, timeout);
        let pool = runtime.block_on(make_pool(&keyblob));
        let listed = runtime.block_on(call_ok(&keyblob, Rpc::GetMechanismList, Args::default()));
        let Some(Value::Mechanisms(mechanisms)) = listed.get("Mechs").cloned() else {
            panic!("GetMechanismList answered {listed:?}")
        };
        assert!(mechanisms.len() > 50, "{mechanisms:?}");
        Fixture { runtime, service: emulator.service(), keyblob, legacy, pool, mechanisms }
    })
}

impl Fixture {
    fn client(&self, legacy: bool) -> &Client {
        if legacy { &self.legacy } else { &self.keyblob }
    }
}

/// What a call gave, as the properties speak of it.
#[derive(Debug)]
enum Answer {
    Ok,
    /// A `Grep11Error`.
    Pkcs11(CkRv),
    /// Anything else: a bare status, no answer, or an answer that breaks the interface.
    Other(String),
}

fn answer(result: &Result<Fields, CallError>) -> Answer {
    match result {
        Ok(_) => Answer::Ok,
        Err(CallError::Failed(CallFailure::Pkcs11(f))) => Answer::Pkcs11(f.rv),
        Err(other) => Answer::Other(other.to_string()),
    }
}

// ---- property 1: arbitrary bytes as request bodies ----

/// `decodes(rpc, body)`: whether `body` decodes as `rpc`'s request message. The match is
/// exhaustive, so a new RPC must be listed here.
macro_rules! request_types {
    ($($name:ident => $request:ident),* $(,)?) => {
        fn decodes(rpc: Rpc, body: &[u8]) -> bool {
            use prost::Message;
            match rpc {
                $(Rpc::$name => proto::$request::decode(body).is_ok(),)*
            }
        }
    };
}

request_types!(
    GetMechanismList => GetMechanismListRequest, GetMechanismInfo => GetMechanismInfoRequest,
    GetAttributeValue => GetAttributeValueRequest, SetAttributeValue => SetAttributeValueRequest,
    GenerateRandom => GenerateRandomRequest, SeedRandom => SeedRandomRequest, DigestInit => DigestInitRequest,
    Digest => DigestRequest, DigestUpdate => DigestUpdateRequest, DigestFinal => DigestFinalRequest,
    DigestSingle => DigestSingleRequest, EncryptInit => EncryptInitRequest, Encrypt => EncryptRequest,
    EncryptUpdate => EncryptUpdateRequest, EncryptFinal => EncryptFinalRequest,
    EncryptSingle => EncryptSingleRequest, DecryptInit => DecryptInitRequest, Decrypt => DecryptRequest,
    DecryptUpdate => DecryptUpdateRequest, DecryptFinal => DecryptFinalRequest,
    DecryptSingle => DecryptSingleRequest, SignInit => SignInitRequest, Sign => SignRequest,
    SignUpdate => SignUpdateRequest, SignFinal => SignFinalRequest, SignSingle => SignSingleRequest,
    VerifyInit => VerifyInitRequest, Verify => VerifyRequest, VerifyUpdate => VerifyUpdateRequest,
    VerifyFinal => VerifyFinalRequest, VerifySingle => VerifySingleRequest, GenerateKey => GenerateKeyRequest,
    GenerateKeyPair => GenerateKeyPairRequest, WrapKey => WrapKeyRequest, UnwrapKey => UnwrapKeyRequest,
    DeriveKey => DeriveKeyRequest, DigestKey => DigestKeyRequest, ReencryptSingle => ReencryptSingleRequest,
    Login => LoginRequest, Logout => LogoutRequest, RewrapKeyBlob => RewrapKeyBlobRequest,
);

/// Sends `body` as one gRPC message straight to the tonic service (HTTP request in, HTTP
/// response out, no connection): `Ok` or the status from the answer's headers or trailers.
async fn raw_call(service: &Service, rpc: Rpc, body: &[u8]) -> Result<(), tonic::Status> {
    let framed = frame(body).expect("test bodies are far below 4 GiB");
    raw_framed_call(service, rpc, framed).await
}

/// As [`raw_call`], with the gRPC framing (flag, length, message) given as it is.
async fn raw_framed_call(service: &Service, rpc: Rpc, framed: Vec<u8>) -> Result<(), tonic::Status> {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://emulator{}", rpc.path()))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::new(http_body_util::Full::new(bytes::Bytes::from(framed))))
        .map_err(|e| tonic::Status::internal(e.to_string()))?;
    let response =
        service.clone().oneshot(request).await.map_err(|e| tonic::Status::internal(format!("{e:?}")))?;
    let (parts, body) = response.into_parts();
    if let Some(status) = tonic::Status::from_header_map(&parts.headers) {
        return if status.code() == tonic::Code::Ok { Ok(()) } else { Err(status) };
    }
    let collected = body.collect().await.map_err(|e| tonic::Status::internal(format!("body: {e}")))?;
    let trailers = collected.trailers().cloned().unwrap_or_default();
    match tonic::Status::from_header_map(&trailers) {
        Some(status) if status.code() == tonic::Code::Ok => Ok(()),
        Some(status) => Err(status),
        None => Err(tonic::Status::internal("no grpc-status: the handler did not finish")),
    }
}

proptest! {
    #[test]
    fn any_bytes_into_every_rpc(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let f = fixture();
        for &rpc in Rpc::ALL {
            let result = f.runtime.block_on(raw_call(&f.service, rpc, &body));
            let decodable = decodes(rpc, &body);
            match result {
                Ok(_) => prop_assert!(decodable, "{rpc}: an undecodable body was answered"),
                Err(status) => match from_status(&status) {
                    CallFailure::Pkcs11(_) => prop_assert!(decodable, "{rpc}: {status:?}"),
                    other => {
                        prop_assert!(!decodable, "{rpc}: a decodable body gave {other:?}");
                        prop_assert_eq!(status.code(), tonic::Code::Internal, "{}: {:?}", rpc, status);
                    }
                },
            }
        }
    }
}

// ---- property 2: arbitrary field combinations into every RPC ----

/// A blob argument: one of the pool's (as it is, or tampered), random bytes, or none.
#[derive(Clone, Debug)]
enum Blob {
    Pool(Index),
    Tampered(Index, Tamper),
    Random(Vec<u8>),
    Empty,
}

/// How a valid blob is spoiled.
#[derive(Clone, Debug)]
enum Tamper {
    /// XOR one byte with a non-zero mask.
    Flip(Index, u8),
    /// Keep a strict prefix.
    Truncate(Index),
    /// Append bytes.
    Extend(Vec<u8>),
}

impl Tamper {
    fn apply(&self, blob: &[u8]) -> Vec<u8> {
        let mut out = blob.to_vec();
        match self {
            Tamper::Flip(at, mask) => out[at.index(blob.len())] ^= mask,
            Tamper::Truncate(at) => out.truncate(at.index(blob.len())),
            Tamper::Extend(tail) => out.extend_from_slice(tail),
        }
        out
    }
}

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (any::<Index>(), 1..=255u8).prop_map(|(i, m)| Tamper::Flip(i, m)),
        any::<Index>().prop_map(Tamper::Truncate),
        proptest::collection::vec(any::<u8>(), 1..16).prop_map(Tamper::Extend),
    ]
}

fn blob() -> impl Strategy<Value = Blob> {
    prop_oneof![
        3 => any::<Index>().prop_map(Blob::Pool),
        2 => (any::<Index>(), tamper()).prop_map(|(i, t)| Blob::Tampered(i, t)),
        1 => small_bytes().prop_map(Blob::Random),
        1 => Just(Blob::Empty),
    ]
}

fn resolve(blob: &Blob, candidates: &[&[u8]]) -> Option<Vec<u8>> {
    match blob {
        Blob::Pool(i) => Some(candidates[i.index(candidates.len())].to_vec()),
        Blob::Tampered(i, t) => Some(t.apply(candidates[i.index(candidates.len())])),
        Blob::Random(b) => Some(b.clone()),
        Blob::Empty => None,
    }
}

fn small_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..80)
}

/// Integers near the interesting sizes (key lengths, modulus bits up to a fast keygen) and
/// anywhere at all.
fn int() -> impl Strategy<Value = i64> {
    prop_oneof![3 => 0..600i64, 1 => any::<i64>()]
}

fn ec_params() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![select(Curve::ALL.iter().map(|c| c.ec_params()).collect::<Vec<_>>()), small_bytes()]
}

fn mechanism_number() -> impl Strategy<Value = u64> {
    prop_oneof![3 => select(fixture().mechanisms.clone()), 1 => any::<u64>()]
}

fn hash_number() -> impl Strategy<Value = u64> {
    prop_oneof![
        select(vec![CKM_SHA_1.0, CKM_SHA224.0, CKM_SHA256.0, CKM_SHA384.0, CKM_SHA512.0]),
        any::<u64>()
    ]
}

fn enum_value() -> impl Strategy<Value = i32> {
    prop_oneof![3 => 0..10i32, 1 => any::<i32>()]
}

/// Parameters of every shape the wire has, near-valid values favoured. `point` is a valid
/// EC point for ECDH.
fn parameter(point: Vec<u8>) -> impl Strategy<Value = Option<Parameter>> {
    prop_oneof![
        Just(None),
        prop_oneof![Just(IV.to_vec()), Just(vec![0; 8]), small_bytes(), ec_params()]
            .prop_map(|b| Some(Parameter::ParameterB(b))),
        (hash_number(), enum_value(), enum_value(), small_bytes()).prop_map(
            |(hash_mech, mgf, encoding_parm_type, encoding_parm)| {
                Some(Parameter::RsaoaepParameter(proto::RsaoaepParm {
                    hash_mech,
                    mgf,
                    encoding_parm_type,
                    encoding_parm,
                }))
            }
        ),
        (hash_number(), enum_value(), prop_oneof![0..80u64, any::<u64>()]).prop_map(
            |(hash_mech, mgf, salt_byte_count)| {
                Some(Parameter::RsapssParameter(proto::RsapssParm { hash_mech, mgf, salt_byte_count }))
            }
        ),
        (enum_value(), small_bytes(), prop_oneof![Just(point), small_bytes()]).prop_map(
            |(kdf, shared_data, public_data)| {
                Some(Parameter::Ecdh1DeriveParameter(proto::Ecdh1DeriveParm {
                    kdf,
                    shared_data,
                    public_data,
                }))
            }
        ),
    ]
}

fn attribute_value() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        Just(None),
        any::<bool>().prop_map(|b| Some(OneAttr::AttributeTf(b))),
        int().prop_map(|i| Some(OneAttr::AttributeI(i))),
        prop_oneof![small_bytes(), ec_params()].prop_map(|b| Some(OneAttr::AttributeB(b))),
    ]
    .prop_map(|one_attr| AttributeValue { one_attr })
}

fn attribute_type() -> impl Strategy<Value = u64> {
    let known = vec![
        CKA_CLASS,
        CKA_KEY_TYPE,
        CKA_VALUE_LEN,
        CKA_VALUE,
        CKA_ENCRYPT,
        CKA_DECRYPT,
        CKA_SIGN,
        CKA_VERIFY,
        CKA_WRAP,
        CKA_UNWRAP,
        CKA_DERIVE,
        CKA_EXTRACTABLE,
        CKA_SENSITIVE,
        CKA_MODIFIABLE,
        CKA_TOKEN,
        CKA_PRIVATE,
        CKA_EC_PARAMS,
        CKA_EC_POINT,
        CKA_MODULUS_BITS,
        CKA_PUBLIC_EXPONENT,
        CKA_LABEL,
        CKA_ID,
    ];
    prop_oneof![4 => select(known.into_iter().map(|a| a.0).collect::<Vec<_>>()), 1 => any::<u64>()]
}

fn template_map() -> impl Strategy<Value = HashMap<u64, AttributeValue>> {
    proptest::collection::hash_map(attribute_type(), attribute_value(), 0..6)
}

/// One set of inputs; every RPC takes the arguments it has from it.
#[derive(Clone, Debug)]
struct Inputs {
    mech: u64,
    param: Option<Parameter>,
    second_mech: u64,
    key: Blob,
    second_key: Blob,
    state: Blob,
    data: Vec<u8>,
    signature: Vec<u8>,
    len: u64,
    template: HashMap<u64, AttributeValue>,
    second_template: HashMap<u64, AttributeValue>,
    attributes: Vec<u64>,
    legacy: bool,
}

fn inputs(point: Vec<u8>) -> impl Strategy<Value = Inputs> {
    (
        (mechanism_number(), parameter(point), mechanism_number()),
        (blob(), blob(), blob()),
        (small_bytes(), small_bytes(), prop_oneof![3 => 0..70_000u64, 1 => any::<u64>()]),
        (template_map(), template_map(), proptest::collection::vec(attribute_type(), 0..5), any::<bool>()),
    )
        .prop_map(
            |(
                (mech, param, second_mech),
                (key, second_key, state),
                (data, signature, len),
                (template, second_template, attributes, legacy),
            )| Inputs {
                mech,
                param,
                second_mech,
                key,
                second_key,
                state,
                data,
                signature,
                len,
                template,
                second_template,
                attributes,
                legacy,
            },
        )
}

/// `rpc`'s arguments from `inputs`, by the argument table the suites use.
fn args_for(rpc: Rpc, i: &Inputs, pool: &Pool) -> Args {
    let mut out = Args::default();
    for arg in rpc.args() {
        let value = match (arg.kind, arg.name) {
            (ArgKind::Mechanism, "encmech") => {
                Some(Arg::Mechanism(Mechanism { mechanism: i.second_mech, parameter: None }))
            }
            (ArgKind::Mechanism, _) => {
                Some(Arg::Mechanism(Mechanism { mechanism: i.mech, parameter: i.param.clone() }))
            }
            (ArgKind::Bytes, "key" | "object" | "deckey") => resolve(&i.key, &pool.keys()).map(Arg::Bytes),
            (ArgKind::Bytes, "kek" | "mackey" | "enckey") => {
                resolve(&i.second_key, &pool.keys()).map(Arg::Bytes)
            }
            (ArgKind::Bytes, "state") => resolve(&i.state, &pool.states()).map(Arg::Bytes),
            (ArgKind::Bytes, "signature") => Some(Arg::Bytes(i.signature.clone())),
            (ArgKind::Bytes, _) => Some(Arg::Bytes(i.data.clone())),
            (ArgKind::Uint, _) => Some(Arg::Uint(i.len)),
            (ArgKind::Template, "private") => Some(Arg::Template(i.second_template.clone())),
            (ArgKind::Template, _) => Some(Arg::Template(i.template.clone())),
            (ArgKind::AttributeList, _) => {
                Some(Arg::Attributes(i.attributes.iter().map(|&a| CkAttributeType(a)).collect()))
            }
        };
        if let Some(value) = value {
            out.0.insert(arg.name, value);
        }
    }
    out
}

proptest! {
    // Every case calls all 41 RPCs over HTTP/2 (about 1.5 ms each in a debug build): a
    // quarter of the configured cases, 64 by default, keeps this near four seconds.
    #![proptest_config(ProptestConfig::with_cases((ProptestConfig::default().cases / 4).max(1)))]

    #[test]
    fn any_fields_into_every_rpc(i in inputs(fixture().pool.ec_point.clone())) {
        let f = fixture();
        for &rpc in Rpc::ALL {
            let a = args_for(rpc, &i, &f.pool);
            let result = f.runtime.block_on(f.client(i.legacy).call(rpc, &a));
            if let Answer::Other(why) = answer(&result) {
                prop_assert!(false, "{}: neither an answer nor a Grep11Error: {}", rpc, why);
            }
        }
    }
}

// ---- property 3: a tampered blob never succeeds ----

/// A pool blob and a call that succeeds with it.
#[derive(Clone, Copy, Debug)]
enum Target {
    Aes,
    Hmac,
    Des3,
    EcPriv,
    EcPub,
    EdPriv,
    EdPub,
    RsaPriv,
    RsaPub,
    EncryptState,
    DigestState,
    SignState,
}

const TARGETS: [Target; 12] = [
    Target::Aes,
    Target::Hmac,
    Target::Des3,
    Target::EcPriv,
    Target::EcPub,
    Target::EdPriv,
    Target::EdPub,
    Target::RsaPriv,
    Target::RsaPub,
    Target::EncryptState,
    Target::DigestState,
    Target::SignState,
];

impl Target {
    fn blob(self, p: &Pool) -> &[u8] {
        match self {
            Target::Aes => &p.aes,
            Target::Hmac => &p.hmac,
            Target::Des3 => &p.des3,
            Target::EcPriv => &p.ec_priv,
            Target::EcPub => &p.ec_pub,
            Target::EdPriv => &p.ed_priv,
            Target::EdPub => &p.ed_pub,
            Target::RsaPriv => &p.rsa_priv,
            Target::RsaPub => &p.rsa_pub,
            Target::EncryptState => &p.encrypt_state,
            Target::DigestState => &p.digest_state,
            Target::SignState => &p.sign_state,
        }
    }

    fn is_state(self) -> bool {
        matches!(self, Target::EncryptState | Target::DigestState | Target::SignState)
    }

    /// The call that succeeds with the untampered blob (`the_pool_calls_succeed`).
    fn call(self, p: &Pool, blob: Vec<u8>) -> (Rpc, Args) {
        let data = || Arg::Bytes(b"data".to_vec());
        let key = Arg::Bytes(blob);
        let single =
            |m: CkMechanismType| args(vec![("mech", mech(m, None)), ("key", key.clone()), ("data", data())]);
        let verify = |m: CkMechanismType, sig: &[u8]| {
            args(vec![
                ("mech", mech(m, None)),
                ("key", key.clone()),
                ("data", data()),
                ("signature", Arg::Bytes(sig.to_vec())),
            ])
        };
        match self {
            Target::Aes => (
                Rpc::EncryptSingle,
                args(vec![("mech", iv_mech(CKM_AES_CBC_PAD)), ("key", key.clone()), ("plain", data())]),
            ),
            Target::Des3 => (
                Rpc::EncryptSingle,
                args(vec![
                    ("mech", mech(CKM_DES3_CBC_PAD, Some(Parameter::ParameterB(IV[..8].to_vec())))),
                    ("key", key.clone()),
                    ("plain", data()),
                ]),
            ),
            Target::Hmac => (Rpc::SignSingle, single(CKM_SHA256_HMAC)),
            Target::EcPriv => (Rpc::SignSingle, single(CKM_ECDSA_SHA256)),
            Target::EcPub => (Rpc::VerifySingle, verify(CKM_ECDSA_SHA256, &p.ec_sig)),
            Target::EdPriv => (Rpc::SignSingle, single(ibm::CKM_IBM_ED25519_SHA512)),
            Target::EdPub => (Rpc::VerifySingle, verify(ibm::CKM_IBM_ED25519_SHA512, &p.ed_sig)),
            Target::RsaPriv => (Rpc::SignSingle, single(CKM_SHA256_RSA_PKCS)),
            Target::RsaPub => (Rpc::VerifySingle, verify(CKM_SHA256_RSA_PKCS, &p.rsa_sig)),
            Target::EncryptState => {
                (Rpc::EncryptUpdate, args(vec![("state", key.clone()), ("plain", Arg::Bytes(vec![7; 20]))]))
            }
            Target::DigestState => (Rpc::DigestFinal, args(vec![("state", key.clone())])),
            Target::SignState => (Rpc::SignUpdate, args(vec![("state", key.clone()), ("data", data())])),
        }
    }
}

#[test]
fn the_pool_calls_succeed() {
    let f = fixture();
    for target in TARGETS {
        for legacy in [false, true] {
            let (rpc, a) = target.call(&f.pool, target.blob(&f.pool).to_vec());
            let result = f.runtime.block_on(f.client(legacy).call(rpc, &a));
            assert!(result.is_ok(), "{target:?} {rpc}: {result:?}");
        }
    }
}

/// Raw bodies reach the service: a valid request is answered, garbage is tonic's INTERNAL.
#[test]
fn raw_bodies_reach_the_service() {
    use prost::Message;
    let f = fixture();
    let valid = proto::GenerateRandomRequest { len: 8 }.encode_to_vec();
    assert!(f.runtime.block_on(raw_call(&f.service, Rpc::GenerateRandom, &valid)).is_ok());
    let refused = proto::GenerateRandomRequest { len: u64::MAX }.encode_to_vec();
    let status = f.runtime.block_on(raw_call(&f.service, Rpc::GenerateRandom, &refused)).unwrap_err();
    assert!(
        matches!(from_status(&status), CallFailure::Pkcs11(e) if e.rv == CKR_ARGUMENTS_BAD),
        "{status:?}"
    );
    let status = f.runtime.block_on(raw_call(&f.service, Rpc::GenerateRandom, &[0x0f])).unwrap_err();
    assert_eq!(status.code(), tonic::Code::Internal);
    assert!(!decodes(Rpc::GenerateRandom, &[0x0f]) && decodes(Rpc::GenerateRandom, &valid));
}

proptest! {
    #[test]
    fn a_tampered_blob_never_succeeds(target in select(TARGETS.to_vec()), how in tamper(), legacy in any::<bool>()) {
        let f = fixture();
        let original = target.blob(&f.pool);
        let spoiled = how.apply(original);
        prop_assume!(spoiled != original);
        let (rpc, a) = target.call(&f.pool, spoiled.clone());
        let result = f.runtime.block_on(f.client(legacy).call(rpc, &a));
        let got = answer(&result);
        let allowed: &[CkRv] = match (target.is_state(), spoiled.is_empty()) {
            (true, _) => &[CKR_SAVED_STATE_INVALID],
            (false, true) => &[CKR_ARGUMENTS_BAD],
            (false, false) => &[CKR_KEY_HANDLE_INVALID],
        };
        prop_assert!(
            matches!(got, Answer::Pkcs11(rv) if allowed.contains(&rv)),
            "{:?} {} with {:?}: {:?}", target, rpc, how, got
        );
    }
}

// ---- blobs of another server ----

/// A key and a state sealed by another emulator (another wrapping key) are refused over the
/// wire with CKR_KEY_HANDLE_INVALID / CKR_SAVED_STATE_INVALID and a Detail that says so.
#[test]
fn blobs_of_another_server_are_refused_with_a_clear_detail() {
    let f = fixture();
    let other = {
        let _entered = f.runtime.enter();
        let channel =
            in_memory_channel(tonic::service::Routes::new(Emulator::new(Config::default()).service()));
        Client::new(channel, Wire::Keyblob, Duration::from_secs(5))
    };
    for target in [Target::Aes, Target::EcPub, Target::RsaPriv, Target::EncryptState] {
        let (rpc, a) = target.call(&f.pool, target.blob(&f.pool).to_vec());
        let failure = match f.runtime.block_on(other.call(rpc, &a)) {
            Err(CallError::Failed(CallFailure::Pkcs11(failure))) => failure,
            other => panic!("{target:?}: {other:?}"),
        };
        let expected = if target.is_state() { CKR_SAVED_STATE_INVALID } else { CKR_KEY_HANDLE_INVALID };
        assert_eq!(failure.rv, expected, "{target:?}");
        assert!(failure.detail.contains("was not sealed by this server"), "{target:?}: {}", failure.detail);
        assert!(!failure.retry);
    }
}

/// A request announcing more than `rpc::MAX_MESSAGE_BYTES` is refused by tonic's decoder
/// from the length prefix, before the body is buffered or the handler runs: a plain
/// OUT_OF_RANGE, since no PKCS #11 function was reached.
#[test]
fn a_request_over_the_size_limit_is_refused_unread() {
    let f = fixture();
    let announced = grep11_harness::rpc::MAX_MESSAGE_BYTES as u32 + 1;
    let framed = [&grep11_harness::rpc::frame_prefix(announced)[..], &[0; 16]].concat();
    for rpc in [Rpc::GenerateRandom, Rpc::EncryptSingle, Rpc::SignUpdate] {
        let status = f.runtime.block_on(raw_framed_call(&f.service, rpc, framed.clone())).unwrap_err();
        assert_eq!(status.code(), tonic::Code::OutOfRange, "{rpc}: {status:?}");
        assert!(status.message().contains("too large"), "{rpc}: {status:?}");
        assert!(status.details().is_empty());
    }
}
