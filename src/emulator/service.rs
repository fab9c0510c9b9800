//! The tonic `Crypto` service: each RPC decodes its request into domain values, makes one
//! engine call and encodes the answer. Errors become a `Grep11Error` status through
//! `status::to_status`. Both wire generations are read: a key arrives as `KeyBlob`
//! (`KeyBlobs[0]`) or in the `Legacy*` bytes field; new keys are returned in both forms.
//! [`BearerCheck`] applies `auth::BearerToken` to each call's metadata in front of it all.

use std::collections::HashMap;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::attrs::{AttrValue, Template, WireValue};
use super::blob::Operation;
use super::engine::{Engine, NewKey};
use super::error::{Error, Result};
use super::mech::{MechParam, Mechanism};
use crate::pkcs11::{CkAttributeType, CkEcKdf, CkMechanismType};
use crate::proto::{self, attribute_value::OneAttr, mechanism::Parameter};
use crate::rpc::{Rpc, rpc_table};
use crate::status::{Grep11Failure, to_status};

/// The service handed to tonic.
pub struct CryptoService {
    engine: Arc<Engine>,
}

impl CryptoService {
    pub(super) fn new(engine: Arc<Engine>) -> CryptoService {
        CryptoService { engine }
    }

    /// Runs `work` on the engine: on tokio's blocking pool when it is CPU-heavy (public-key
    /// operations and key pair generation take from tens of microseconds to seconds), so
    /// the I/O threads keep serving other calls meanwhile; inline otherwise, where the
    /// thread hop would cost more than the work.
    async fn run<T: Send + 'static>(
        &self,
        heavy: bool,
        work: impl FnOnce(&Engine) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        if !heavy {
            return work(&self.engine);
        }
        let engine = Arc::clone(&self.engine);
        tokio::task::spawn_blocking(move || work(&engine))
            .await
            .unwrap_or(Err(Error::General("the emulator's worker thread failed")))
    }
}

/// Whether calls with `mech` are public-key work (as its family registered it: RSA, EC,
/// Ed25519; key pair generation, ECDH, transport-key import, ...), which
/// [`CryptoService::run`] moves off the I/O threads.
fn cpu_heavy(mech: &Result<Mechanism>) -> bool {
    let Ok(m) = mech else { return false };
    super::mech::info(m.mech).is_ok_and(|row| row.heavy)
}

/// Refuses, with UNAUTHENTICATED, every call without the required bearer token, before
/// the request is decoded.
#[derive(Clone)]
pub struct BearerCheck(Arc<super::auth::BearerToken>);

impl tonic::service::Interceptor for BearerCheck {
    fn call(&mut self, request: Request<()>) -> std::result::Result<Request<()>, Status> {
        match self.0.admits(request.metadata().get("authorization").map(|v| v.as_bytes())) {
            Ok(()) => Ok(request),
            Err(refusal) => Err(Status::unauthenticated(refusal.to_string())),
        }
    }
}

/// `service` behind the bearer-token check.
pub(super) fn guard<S>(
    service: S,
    bearer: super::auth::BearerToken,
) -> tonic::service::interceptor::InterceptedService<S, BearerCheck> {
    tonic::service::interceptor::InterceptedService::new(service, BearerCheck(Arc::new(bearer)))
}

type Reply<T> = std::result::Result<Response<T>, Status>;

fn reply<T>(result: Result<T>) -> Reply<T> {
    result.map(Response::new).map_err(|e| to_status(&Grep11Failure::from(&e)))
}

/// The blob of a key: `KeyBlob.KeyBlobs[0]` when given, else the legacy bytes field.
fn key(blob: Option<proto::KeyBlob>, legacy: Vec<u8>) -> Vec<u8> {
    blob.and_then(|b| b.key_blobs.into_iter().next()).filter(|b| !b.is_empty()).unwrap_or(legacy)
}

fn mechanism(mech: Option<proto::Mechanism>) -> Result<Mechanism> {
    let mech = mech.ok_or(Error::ArgumentsBad("no mechanism"))?;
    let param = match mech.parameter {
        None => MechParam::None,
        Some(Parameter::ParameterB(b)) => MechParam::Bytes(b),
        Some(Parameter::Ecdh1DeriveParameter(p)) => MechParam::Ecdh {
            // The proto enum values are the CKD_* values; a negative one matches no KDF.
            kdf: CkEcKdf(u64::try_from(p.kdf).unwrap_or(u64::MAX)),
            shared_data: p.shared_data,
            public_data: p.public_data,
        },
        // The proto enum values are the CKG_MGF1_* / CKZ_* values; a negative one matches none.
        Some(Parameter::RsaoaepParameter(p)) => MechParam::Oaep {
            hash: CkMechanismType(p.hash_mech),
            mgf: u64::try_from(p.mgf).unwrap_or(u64::MAX),
            source: u64::try_from(p.encoding_parm_type).unwrap_or(u64::MAX),
            label: p.encoding_parm,
        },
        Some(Parameter::RsapssParameter(p)) => MechParam::Pss {
            hash: CkMechanismType(p.hash_mech),
            mgf: u64::try_from(p.mgf).unwrap_or(u64::MAX),
            salt_len: p.salt_byte_count,
        },
        // The proto enum values are the derivation types; a negative one matches none.
        Some(Parameter::BtcDeriveParameter(p)) => MechParam::BtcDerive {
            kind: u64::try_from(p.r#type).unwrap_or(u64::MAX),
            child_index: p.child_key_index,
            chain_code: p.chain_code,
            version: p.version,
        },
        #[allow(unreachable_patterns)]
        Some(_) => MechParam::Other,
    };
    Ok(Mechanism { mech: CkMechanismType(mech.mechanism), param })
}

fn template(map: HashMap<u64, proto::AttributeValue>) -> Template {
    map.into_iter()
        .map(|(attr, v)| {
            let value = match v.one_attr {
                Some(OneAttr::AttributeTf(b)) => WireValue::Bool(b),
                Some(OneAttr::AttributeI(i)) => WireValue::Int(i),
                Some(OneAttr::AttributeB(b)) => WireValue::Bytes(b),
                None => WireValue::Unset,
            };
            (CkAttributeType(attr), value)
        })
        .collect()
}

fn wire_value(value: &AttrValue) -> proto::AttributeValue {
    let one = match value {
        AttrValue::Bool(b) => OneAttr::AttributeTf(*b),
        // Stored CK_ULONGs travel as int64 bit patterns (CK_UNAVAILABLE_INFORMATION is -1).
        AttrValue::Ulong(v) => OneAttr::AttributeI(*v as i64),
        AttrValue::Bytes(b) => OneAttr::AttributeB(b.clone()),
    };
    proto::AttributeValue { one_attr: Some(one) }
}

/// A new key as the response's `KeyBlob`.
fn key_blob(key: &NewKey) -> proto::KeyBlob {
    proto::KeyBlob {
        attributes: key.attrs.iter().map(|(a, v)| (a.0, wire_value(v))).collect(),
        key_blobs: vec![key.blob.clone()],
        ..Default::default()
    }
}

/// The tonic service from the interface table: each RPC's request is unwrapped, given to
/// the function of the same name below, and its result turned into a reply.
macro_rules! dispatch {
    ($($name:ident $method:ident ($req:ident -> $resp:ident) seed $seed:literal { $($row:tt)* })*) => {
        #[tonic::async_trait]
        impl proto::crypto_server::Crypto for CryptoService {
            $(async fn $method(&self, r: Request<proto::$req>) -> Reply<proto::$resp> {
                reply($method(self, r.into_inner()).await)
            })*
        }
    };
}

rpc_table!(dispatch);

/// The one type the emulator is served as, plain or with faults ([`super::Emulator::service`],
/// [`super::Emulator::routes`]): tonic's server code is instantiated for each RPC of each
/// service type, so one type instead of two halves it. A call goes through the vtable to
/// the future the service itself returns, boxed once as before.
#[derive(Clone)]
pub struct Served(pub(super) Arc<dyn proto::crypto_server::Crypto>);

macro_rules! forward {
    ($($name:ident $method:ident ($req:ident -> $resp:ident) seed $seed:literal { $($row:tt)* })*) => {
        // The signatures `#[tonic::async_trait]` gives the trait, written out so that the
        // service's own boxed future is returned rather than boxed again.
        impl proto::crypto_server::Crypto for Served {
            $(fn $method<'life0, 'async_trait>(
                &'life0 self,
                r: Request<proto::$req>,
            ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Reply<proto::$resp>> + Send + 'async_trait>>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                self.0.$method(r)
            })*
        }
    };
}

rpc_table!(forward);

// Each RPC's behaviour: decode the request into domain values, one engine call, encode the
// answer.

async fn generate_random(
    s: &CryptoService,
    r: proto::GenerateRandomRequest,
) -> Result<proto::GenerateRandomResponse> {
    s.engine.generate_random(r.len).map(|rnd| proto::GenerateRandomResponse { rnd })
}

async fn seed_random(s: &CryptoService, r: proto::SeedRandomRequest) -> Result<proto::SeedRandomResponse> {
    s.engine.seed_random(&r.mixin).map(|()| proto::SeedRandomResponse {})
}

async fn digest_init(s: &CryptoService, r: proto::DigestInitRequest) -> Result<proto::DigestInitResponse> {
    mechanism(r.mech).and_then(|m| s.engine.digest_init(&m)).map(|state| proto::DigestInitResponse { state })
}

async fn digest(s: &CryptoService, r: proto::DigestRequest) -> Result<proto::DigestResponse> {
    s.engine.digest(&r.state, &r.data).map(|digest| proto::DigestResponse { digest })
}

async fn digest_update(
    s: &CryptoService,
    r: proto::DigestUpdateRequest,
) -> Result<proto::DigestUpdateResponse> {
    s.engine.digest_update(&r.state, &r.data).map(|state| proto::DigestUpdateResponse { state })
}

async fn digest_key(_: &CryptoService, _: proto::DigestKeyRequest) -> Result<proto::DigestKeyResponse> {
    Err(Error::FunctionNotSupported(Rpc::DigestKey.name()))
}

async fn digest_final(s: &CryptoService, r: proto::DigestFinalRequest) -> Result<proto::DigestFinalResponse> {
    s.engine.digest_final(&r.state).map(|digest| proto::DigestFinalResponse { digest })
}

async fn digest_single(
    s: &CryptoService,
    r: proto::DigestSingleRequest,
) -> Result<proto::DigestSingleResponse> {
    let result = mechanism(r.mech).and_then(|m| s.engine.digest_single(&m, &r.data));
    result.map(|digest| proto::DigestSingleResponse { digest })
}

async fn encrypt_init(s: &CryptoService, r: proto::EncryptInitRequest) -> Result<proto::EncryptInitResponse> {
    let key = key(r.key, r.legacy_key);
    let result = mechanism(r.mech).and_then(|m| s.engine.cipher_init(Operation::Encrypt, &m, &key));
    result.map(|state| proto::EncryptInitResponse { state })
}

async fn decrypt_init(s: &CryptoService, r: proto::DecryptInitRequest) -> Result<proto::DecryptInitResponse> {
    let key = key(r.key, r.legacy_key);
    let result = mechanism(r.mech).and_then(|m| s.engine.cipher_init(Operation::Decrypt, &m, &key));
    result.map(|state| proto::DecryptInitResponse { state })
}

async fn encrypt_update(
    s: &CryptoService,
    r: proto::EncryptUpdateRequest,
) -> Result<proto::EncryptUpdateResponse> {
    let result = s.engine.cipher_update(Operation::Encrypt, &r.state, &r.plain);
    result.map(|(state, ciphered)| proto::EncryptUpdateResponse { state, ciphered })
}

async fn decrypt_update(
    s: &CryptoService,
    r: proto::DecryptUpdateRequest,
) -> Result<proto::DecryptUpdateResponse> {
    let result = s.engine.cipher_update(Operation::Decrypt, &r.state, &r.ciphered);
    result.map(|(state, plain)| proto::DecryptUpdateResponse { state, plain })
}

async fn encrypt(s: &CryptoService, r: proto::EncryptRequest) -> Result<proto::EncryptResponse> {
    let result = s.engine.cipher(Operation::Encrypt, &r.state, &r.plain);
    result.map(|ciphered| proto::EncryptResponse { ciphered })
}

async fn decrypt(s: &CryptoService, r: proto::DecryptRequest) -> Result<proto::DecryptResponse> {
    s.engine.cipher(Operation::Decrypt, &r.state, &r.ciphered).map(|plain| proto::DecryptResponse { plain })
}

async fn encrypt_final(
    s: &CryptoService,
    r: proto::EncryptFinalRequest,
) -> Result<proto::EncryptFinalResponse> {
    let result = s.engine.cipher_final(Operation::Encrypt, &r.state);
    result.map(|ciphered| proto::EncryptFinalResponse { ciphered })
}

async fn decrypt_final(
    s: &CryptoService,
    r: proto::DecryptFinalRequest,
) -> Result<proto::DecryptFinalResponse> {
    let result = s.engine.cipher_final(Operation::Decrypt, &r.state);
    result.map(|plain| proto::DecryptFinalResponse { plain })
}

async fn encrypt_single(
    s: &CryptoService,
    r: proto::EncryptSingleRequest,
) -> Result<proto::EncryptSingleResponse> {
    let key = key(r.key, r.legacy_key);
    let mech = mechanism(r.mech);
    let heavy = cpu_heavy(&mech);
    let result = s.run(heavy, move |e| e.cipher_single(Operation::Encrypt, &mech?, &key, &r.plain)).await;
    result.map(|ciphered| proto::EncryptSingleResponse { ciphered })
}

async fn decrypt_single(
    s: &CryptoService,
    r: proto::DecryptSingleRequest,
) -> Result<proto::DecryptSingleResponse> {
    let key = key(r.key, r.legacy_key);
    let mech = mechanism(r.mech);
    let heavy = cpu_heavy(&mech);
    let result = s.run(heavy, move |e| e.cipher_single(Operation::Decrypt, &mech?, &key, &r.ciphered)).await;
    result.map(|plain| proto::DecryptSingleResponse { plain })
}

async fn reencrypt_single(
    s: &CryptoService,
    r: proto::ReencryptSingleRequest,
) -> Result<proto::ReencryptSingleResponse> {
    let (dec_key, enc_key) = (key(r.dec_key, Vec::new()), key(r.enc_key, Vec::new()));
    let result = mechanism(r.dec_mech).and_then(|dec| {
        let enc = mechanism(r.enc_mech)?;
        s.engine.reencrypt_single(&dec, &dec_key, &enc, &enc_key, &r.ciphered)
    });
    result.map(|reciphered| proto::ReencryptSingleResponse { reciphered })
}

async fn sign_init(s: &CryptoService, r: proto::SignInitRequest) -> Result<proto::SignInitResponse> {
    let key = key(r.priv_key, r.legacy_priv_key);
    let result = mechanism(r.mech).and_then(|m| s.engine.sign_init(Operation::Sign, &m, &key));
    result.map(|state| proto::SignInitResponse { state })
}

async fn verify_init(s: &CryptoService, r: proto::VerifyInitRequest) -> Result<proto::VerifyInitResponse> {
    let key = key(r.pub_key, r.legacy_pub_key);
    let result = mechanism(r.mech).and_then(|m| s.engine.sign_init(Operation::Verify, &m, &key));
    result.map(|state| proto::VerifyInitResponse { state })
}

async fn sign_update(s: &CryptoService, r: proto::SignUpdateRequest) -> Result<proto::SignUpdateResponse> {
    let result = s.engine.sign_update(Operation::Sign, &r.state, &r.data);
    result.map(|state| proto::SignUpdateResponse { state })
}

async fn verify_update(
    s: &CryptoService,
    r: proto::VerifyUpdateRequest,
) -> Result<proto::VerifyUpdateResponse> {
    let result = s.engine.sign_update(Operation::Verify, &r.state, &r.data);
    result.map(|state| proto::VerifyUpdateResponse { state })
}

async fn sign_final(s: &CryptoService, r: proto::SignFinalRequest) -> Result<proto::SignFinalResponse> {
    let state = r.state;
    let result = s.run(true, move |e| e.sign_final(&state)).await;
    result.map(|signature| proto::SignFinalResponse { signature })
}

async fn verify_final(s: &CryptoService, r: proto::VerifyFinalRequest) -> Result<proto::VerifyFinalResponse> {
    let result = s.run(true, move |e| e.verify_final(&r.state, &r.signature)).await;
    result.map(|()| proto::VerifyFinalResponse {})
}

async fn sign(s: &CryptoService, r: proto::SignRequest) -> Result<proto::SignResponse> {
    let result = s.run(true, move |e| e.sign(&r.state, &r.data)).await;
    result.map(|signature| proto::SignResponse { signature })
}

async fn verify(s: &CryptoService, r: proto::VerifyRequest) -> Result<proto::VerifyResponse> {
    let result = s.run(true, move |e| e.verify(&r.state, &r.data, &r.signature)).await;
    result.map(|()| proto::VerifyResponse {})
}

async fn sign_single(s: &CryptoService, r: proto::SignSingleRequest) -> Result<proto::SignSingleResponse> {
    let key = key(r.priv_key, r.legacy_priv_key);
    let mech = mechanism(r.mech);
    let result = s.run(cpu_heavy(&mech), move |e| e.sign_single(&mech?, &key, &r.data)).await;
    result.map(|signature| proto::SignSingleResponse { signature })
}

async fn verify_single(
    s: &CryptoService,
    r: proto::VerifySingleRequest,
) -> Result<proto::VerifySingleResponse> {
    let key = key(r.pub_key, r.legacy_pub_key);
    let mech = mechanism(r.mech);
    let result = s.run(cpu_heavy(&mech), move |e| e.verify_single(&mech?, &key, &r.data, &r.signature)).await;
    result.map(|()| proto::VerifySingleResponse {})
}

async fn generate_key(s: &CryptoService, r: proto::GenerateKeyRequest) -> Result<proto::GenerateKeyResponse> {
    let result = mechanism(r.mech).and_then(|m| s.engine.generate_key(&m, &template(r.template)));
    result.map(|k| proto::GenerateKeyResponse {
        key: Some(key_blob(&k)),
        key_bytes: k.blob,
        check_sum: k.checksum,
    })
}

async fn generate_key_pair(
    s: &CryptoService,
    r: proto::GenerateKeyPairRequest,
) -> Result<proto::GenerateKeyPairResponse> {
    let (public, private) = (template(r.pub_key_template), template(r.priv_key_template));
    let mech = mechanism(r.mech);
    let result = s.run(cpu_heavy(&mech), move |e| e.generate_key_pair(&mech?, &public, &private)).await;
    result.map(|(private, public)| proto::GenerateKeyPairResponse {
        priv_key: Some(key_blob(&private)),
        pub_key: Some(key_blob(&public)),
        priv_key_bytes: private.blob,
        pub_key_bytes: public.blob,
    })
}

async fn wrap_key(s: &CryptoService, r: proto::WrapKeyRequest) -> Result<proto::WrapKeyResponse> {
    let (k, kek) = (key(r.key, r.legacy_key), key(r.ke_k, r.legacy_ke_k));
    let mac_key = key(r.mac_key, r.legacy_mac_key);
    let mech = mechanism(r.mech);
    let result = s.run(cpu_heavy(&mech), move |e| e.wrap_key_with_mac(&mech?, &k, &kek, &mac_key)).await;
    result.map(|wrapped| proto::WrapKeyResponse { wrapped })
}

async fn unwrap_key(s: &CryptoService, r: proto::UnwrapKeyRequest) -> Result<proto::UnwrapKeyResponse> {
    let (kek, mac_key) = (key(r.ke_k, r.legacy_ke_k), key(r.mac_key, r.legacy_mac_key));
    let mech = mechanism(r.mech);
    let result = s
        .run(cpu_heavy(&mech), move |e| {
            e.unwrap_key_with_mac(&mech?, &kek, &mac_key, &r.wrapped, &template(r.template))
        })
        .await;
    result.map(|k| proto::UnwrapKeyResponse {
        unwrapped: Some(key_blob(&k)),
        unwrapped_bytes: k.blob,
        check_sum: k.checksum,
    })
}

async fn derive_key(s: &CryptoService, r: proto::DeriveKeyRequest) -> Result<proto::DeriveKeyResponse> {
    let base = key(r.base_key, r.legacy_base_key);
    let mech = mechanism(r.mech);
    let result = s.run(cpu_heavy(&mech), move |e| e.derive_key(&mech?, &base, &template(r.template))).await;
    result.map(|k| proto::DeriveKeyResponse {
        new_key: Some(key_blob(&k)),
        new_key_bytes: k.blob,
        check_sum: k.checksum,
    })
}

async fn get_mechanism_list(
    s: &CryptoService,
    _: proto::GetMechanismListRequest,
) -> Result<proto::GetMechanismListResponse> {
    let mechs = s.engine.mechanism_list().into_iter().map(|m| m.0).collect();
    Ok(proto::GetMechanismListResponse { mechs })
}

async fn get_mechanism_info(
    s: &CryptoService,
    r: proto::GetMechanismInfoRequest,
) -> Result<proto::GetMechanismInfoResponse> {
    let result = s.engine.mechanism_info(CkMechanismType(r.mech));
    result.map(|row| proto::GetMechanismInfoResponse {
        mech_info: Some(proto::MechanismInfo {
            min_key_size: row.min_key_size,
            max_key_size: row.max_key_size,
            flags: row.flags.0,
        }),
    })
}

async fn get_attribute_value(
    s: &CryptoService,
    r: proto::GetAttributeValueRequest,
) -> Result<proto::GetAttributeValueResponse> {
    // The wanted attributes are the keys of either map; their values are ignored.
    let mut wanted: Vec<CkAttributeType> =
        r.attributes_bytes.keys().chain(r.attributes.keys()).map(|&a| CkAttributeType(a)).collect();
    wanted.sort();
    wanted.dedup();
    let result = s.engine.get_attributes(&r.object, &wanted);
    result.map(|values| proto::GetAttributeValueResponse {
        attributes_bytes: values.iter().map(|(a, v)| (a.0, v.to_bytes())).collect(),
        attributes: values.iter().map(|(a, v)| (a.0, wire_value(v))).collect(),
    })
}

async fn set_attribute_value(
    s: &CryptoService,
    r: proto::SetAttributeValueRequest,
) -> Result<proto::SetAttributeValueResponse> {
    let result = s.engine.set_attributes(&r.object, &template(r.attributes));
    result.map(|object| proto::SetAttributeValueResponse { object })
}

async fn login(_: &CryptoService, _: proto::LoginRequest) -> Result<proto::LoginResponse> {
    Err(Error::FunctionNotSupported(Rpc::Login.name()))
}

async fn logout(_: &CryptoService, _: proto::LogoutRequest) -> Result<proto::LogoutResponse> {
    Err(Error::FunctionNotSupported(Rpc::Logout.name()))
}

async fn rewrap_key_blob(
    _: &CryptoService,
    _: proto::RewrapKeyBlobRequest,
) -> Result<proto::RewrapKeyBlobResponse> {
    Err(Error::FunctionNotSupported(Rpc::RewrapKeyBlob.name()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::mech::mechanisms;
    use crate::emulator::{Config, Emulator};
    use crate::pkcs11::*;
    use crate::proto::crypto_server::Crypto;
    use crate::status::{CallFailure, from_status};

    fn service() -> CryptoService {
        CryptoService::new(Arc::new(Engine::new(&[3; 32])))
    }

    fn mech(mech: CkMechanismType, iv: Option<&[u8]>) -> Option<proto::Mechanism> {
        Some(proto::Mechanism {
            mechanism: mech.0,
            parameter: iv.map(|iv| Parameter::ParameterB(iv.to_vec())),
        })
    }

    fn attr(one: OneAttr) -> proto::AttributeValue {
        proto::AttributeValue { one_attr: Some(one) }
    }

    fn rv(status: Status) -> CkRv {
        match from_status(&status) {
            CallFailure::Pkcs11(f) => f.rv,
            other => panic!("no Grep11Error detail: {other:?}"),
        }
    }

    async fn aes_key(s: &CryptoService) -> proto::GenerateKeyResponse {
        let template = HashMap::from([(CKA_VALUE_LEN.0, attr(OneAttr::AttributeI(32)))]);
        let req = proto::GenerateKeyRequest { mech: mech(CKM_AES_KEY_GEN, None), template };
        s.generate_key(Request::new(req)).await.unwrap().into_inner()
    }

    #[tokio::test]
    async fn both_key_generations_are_accepted_and_returned() {
        let s = service();
        let key = aes_key(&s).await;
        let blob = key.key.clone().unwrap();
        assert_eq!(blob.key_blobs, std::slice::from_ref(&key.key_bytes));
        assert_eq!(blob.attributes[&CKA_VALUE_LEN.0], attr(OneAttr::AttributeI(32)));
        assert!(!blob.attributes.contains_key(&CKA_VALUE.0));
        assert_eq!(key.check_sum.len(), 7);

        let iv = [9u8; 16];
        let req = proto::EncryptSingleRequest {
            mech: mech(CKM_AES_CBC_PAD, Some(&iv)),
            plain: b"both generations".to_vec(),
            key: Some(blob),
            ..Default::default()
        };
        let ciphered = s.encrypt_single(Request::new(req)).await.unwrap().into_inner().ciphered;
        let req = proto::DecryptSingleRequest {
            mech: mech(CKM_AES_CBC_PAD, Some(&iv)),
            ciphered,
            legacy_key: key.key_bytes,
            ..Default::default()
        };
        assert_eq!(
            s.decrypt_single(Request::new(req)).await.unwrap().into_inner().plain,
            b"both generations"
        );
    }

    #[tokio::test]
    async fn key_pairs_carry_spki_and_errors_carry_grep11error() {
        let s = service();
        let pub_t = HashMap::from([(CKA_EC_PARAMS.0, attr(OneAttr::AttributeB(Curve::P256.ec_params())))]);
        let req = proto::GenerateKeyPairRequest {
            mech: mech(CKM_EC_KEY_PAIR_GEN, None),
            pub_key_template: pub_t,
            ..Default::default()
        };
        let pair = s.generate_key_pair(Request::new(req)).await.unwrap().into_inner();
        assert_eq!(pair.pub_key.as_ref().unwrap().key_blobs, std::slice::from_ref(&pair.pub_key_bytes));
        let spki = &pair.pub_key_bytes[..91];
        assert!(<p256::PublicKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(spki).is_ok());

        let req = proto::SignSingleRequest {
            mech: mech(CKM_ECDSA_SHA256, None),
            data: b"data".to_vec(),
            legacy_priv_key: pair.priv_key_bytes.clone(),
            ..Default::default()
        };
        let mut signature = s.sign_single(Request::new(req)).await.unwrap().into_inner().signature;
        let verify = |signature: Vec<u8>| proto::VerifySingleRequest {
            mech: mech(CKM_ECDSA_SHA256, None),
            data: b"data".to_vec(),
            signature,
            pub_key: pair.pub_key.clone(),
            ..Default::default()
        };
        s.verify_single(Request::new(verify(signature.clone()))).await.unwrap();
        signature[3] ^= 1;
        let status = s.verify_single(Request::new(verify(signature))).await.unwrap_err();
        assert_eq!(rv(status), CKR_SIGNATURE_INVALID);

        let status = s.login(Request::new(proto::LoginRequest::default())).await.unwrap_err();
        assert_eq!(rv(status), CKR_FUNCTION_NOT_SUPPORTED);
        let status =
            s.digest_final(Request::new(proto::DigestFinalRequest { state: vec![1, 2] })).await.unwrap_err();
        assert_eq!(rv(status), CKR_SAVED_STATE_INVALID);
    }

    #[tokio::test]
    async fn attributes_answer_in_both_encodings() {
        let s = service();
        let key = aes_key(&s).await;
        let req = proto::GetAttributeValueRequest {
            object: key.key_bytes.clone(),
            attributes_bytes: HashMap::from([(CKA_VALUE_LEN.0, vec![]), (CKA_ENCRYPT.0, vec![])]),
            attributes: HashMap::from([(CKA_CLASS.0, proto::AttributeValue::default())]),
        };
        let got = s.get_attribute_value(Request::new(req)).await.unwrap().into_inner();
        assert_eq!(got.attributes_bytes[&CKA_VALUE_LEN.0], 32u64.to_be_bytes());
        assert_eq!(got.attributes_bytes[&CKA_ENCRYPT.0], [1]);
        assert_eq!(got.attributes[&CKA_CLASS.0], attr(OneAttr::AttributeI(CKO_SECRET_KEY.0 as i64)));

        let req = proto::SetAttributeValueRequest {
            object: key.key_bytes,
            attributes: HashMap::from([(CKA_EXTRACTABLE.0, attr(OneAttr::AttributeTf(true)))]),
        };
        let object = s.set_attribute_value(Request::new(req)).await.unwrap().into_inner().object;
        let req = proto::SetAttributeValueRequest {
            object,
            attributes: HashMap::from([(CKA_VALUE_LEN.0, attr(OneAttr::AttributeI(16)))]),
        };
        assert_eq!(rv(s.set_attribute_value(Request::new(req)).await.unwrap_err()), CKR_ATTRIBUTE_READ_ONLY);
    }

    #[tokio::test]
    async fn mechanism_info_agrees_with_the_registry() {
        let s = service();
        let list =
            s.get_mechanism_list(Request::new(proto::GetMechanismListRequest {})).await.unwrap().into_inner();
        assert_eq!(list.mechs, mechanisms().iter().map(|r| r.mech.0).collect::<Vec<_>>());
        for row in mechanisms() {
            let req = proto::GetMechanismInfoRequest { mech: row.mech.0 };
            let info = s.get_mechanism_info(Request::new(req)).await.unwrap().into_inner().mech_info.unwrap();
            assert_eq!(
                (info.min_key_size, info.max_key_size, info.flags),
                (row.min_key_size, row.max_key_size, row.flags.0)
            );
        }
    }

    #[test]
    fn config_parses_hex_and_never_shows_the_key() {
        let hex_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let config = Config::from_hex_key(hex_key).unwrap();
        assert!(!format!("{config:?}").contains("0011"));
        let err = Config::from_hex_key("zz").unwrap_err();
        assert_eq!(err.rv(), CKR_ARGUMENTS_BAD);
        assert!(!err.to_string().contains("zz"));
        let _service = Emulator::new(config).service();
    }
}
