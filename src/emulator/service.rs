//! The tonic `Crypto` service: each RPC decodes its request into domain values, makes one
//! engine call and encodes the answer. Errors become a `Grep11Error` status through
//! `status::to_status`. Both wire generations are read: a key arrives as `KeyBlob`
//! (`KeyBlobs[0]`) or in the `Legacy*` bytes field; new keys are returned in both forms.

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
use crate::status::{Grep11Failure, to_status};

/// The service handed to tonic.
pub struct CryptoService {
    engine: Arc<Engine>,
}

impl CryptoService {
    pub(super) fn new(engine: Arc<Engine>) -> CryptoService {
        CryptoService { engine }
    }
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

#[tonic::async_trait]
impl proto::crypto_server::Crypto for CryptoService {
    async fn generate_random(
        &self,
        r: Request<proto::GenerateRandomRequest>,
    ) -> Reply<proto::GenerateRandomResponse> {
        reply(
            self.engine.generate_random(r.into_inner().len).map(|rnd| proto::GenerateRandomResponse { rnd }),
        )
    }

    async fn seed_random(&self, r: Request<proto::SeedRandomRequest>) -> Reply<proto::SeedRandomResponse> {
        reply(self.engine.seed_random(&r.into_inner().mixin).map(|()| proto::SeedRandomResponse {}))
    }

    async fn digest_init(&self, r: Request<proto::DigestInitRequest>) -> Reply<proto::DigestInitResponse> {
        let r = r.into_inner();
        reply(
            mechanism(r.mech)
                .and_then(|m| self.engine.digest_init(&m))
                .map(|state| proto::DigestInitResponse { state }),
        )
    }

    async fn digest(&self, r: Request<proto::DigestRequest>) -> Reply<proto::DigestResponse> {
        let r = r.into_inner();
        reply(self.engine.digest(&r.state, &r.data).map(|digest| proto::DigestResponse { digest }))
    }

    async fn digest_update(
        &self,
        r: Request<proto::DigestUpdateRequest>,
    ) -> Reply<proto::DigestUpdateResponse> {
        let r = r.into_inner();
        reply(self.engine.digest_update(&r.state, &r.data).map(|state| proto::DigestUpdateResponse { state }))
    }

    async fn digest_key(&self, _: Request<proto::DigestKeyRequest>) -> Reply<proto::DigestKeyResponse> {
        reply(Err(Error::FunctionNotSupported("DigestKey")))
    }

    async fn digest_final(&self, r: Request<proto::DigestFinalRequest>) -> Reply<proto::DigestFinalResponse> {
        reply(
            self.engine
                .digest_final(&r.into_inner().state)
                .map(|digest| proto::DigestFinalResponse { digest }),
        )
    }

    async fn digest_single(
        &self,
        r: Request<proto::DigestSingleRequest>,
    ) -> Reply<proto::DigestSingleResponse> {
        let r = r.into_inner();
        let result = mechanism(r.mech).and_then(|m| self.engine.digest_single(&m, &r.data));
        reply(result.map(|digest| proto::DigestSingleResponse { digest }))
    }

    async fn encrypt_init(&self, r: Request<proto::EncryptInitRequest>) -> Reply<proto::EncryptInitResponse> {
        let r = r.into_inner();
        let key = key(r.key, r.legacy_key);
        let result = mechanism(r.mech).and_then(|m| self.engine.cipher_init(Operation::Encrypt, &m, &key));
        reply(result.map(|state| proto::EncryptInitResponse { state }))
    }

    async fn decrypt_init(&self, r: Request<proto::DecryptInitRequest>) -> Reply<proto::DecryptInitResponse> {
        let r = r.into_inner();
        let key = key(r.key, r.legacy_key);
        let result = mechanism(r.mech).and_then(|m| self.engine.cipher_init(Operation::Decrypt, &m, &key));
        reply(result.map(|state| proto::DecryptInitResponse { state }))
    }

    async fn encrypt_update(
        &self,
        r: Request<proto::EncryptUpdateRequest>,
    ) -> Reply<proto::EncryptUpdateResponse> {
        let r = r.into_inner();
        let result = self.engine.cipher_update(Operation::Encrypt, &r.state, &r.plain);
        reply(result.map(|(state, ciphered)| proto::EncryptUpdateResponse { state, ciphered }))
    }

    async fn decrypt_update(
        &self,
        r: Request<proto::DecryptUpdateRequest>,
    ) -> Reply<proto::DecryptUpdateResponse> {
        let r = r.into_inner();
        let result = self.engine.cipher_update(Operation::Decrypt, &r.state, &r.ciphered);
        reply(result.map(|(state, plain)| proto::DecryptUpdateResponse { state, plain }))
    }

    async fn encrypt(&self, r: Request<proto::EncryptRequest>) -> Reply<proto::EncryptResponse> {
        let r = r.into_inner();
        let result = self.engine.cipher(Operation::Encrypt, &r.state, &r.plain);
        reply(result.map(|ciphered| proto::EncryptResponse { ciphered }))
    }

    async fn decrypt(&self, r: Request<proto::DecryptRequest>) -> Reply<proto::DecryptResponse> {
        let r = r.into_inner();
        reply(
            self.engine
                .cipher(Operation::Decrypt, &r.state, &r.ciphered)
                .map(|plain| proto::DecryptResponse { plain }),
        )
    }

    async fn encrypt_final(
        &self,
        r: Request<proto::EncryptFinalRequest>,
    ) -> Reply<proto::EncryptFinalResponse> {
        let result = self.engine.cipher_final(Operation::Encrypt, &r.into_inner().state);
        reply(result.map(|ciphered| proto::EncryptFinalResponse { ciphered }))
    }

    async fn decrypt_final(
        &self,
        r: Request<proto::DecryptFinalRequest>,
    ) -> Reply<proto::DecryptFinalResponse> {
        let result = self.engine.cipher_final(Operation::Decrypt, &r.into_inner().state);
        reply(result.map(|plain| proto::DecryptFinalResponse { plain }))
    }

    async fn encrypt_single(
        &self,
        r: Request<proto::EncryptSingleRequest>,
    ) -> Reply<proto::EncryptSingleResponse> {
        let r = r.into_inner();
        let key = key(r.key, r.legacy_key);
        let result =
            mechanism(r.mech).and_then(|m| self.engine.cipher_single(Operation::Encrypt, &m, &key, &r.plain));
        reply(result.map(|ciphered| proto::EncryptSingleResponse { ciphered }))
    }

    async fn decrypt_single(
        &self,
        r: Request<proto::DecryptSingleRequest>,
    ) -> Reply<proto::DecryptSingleResponse> {
        let r = r.into_inner();
        let key = key(r.key, r.legacy_key);
        let result = mechanism(r.mech)
            .and_then(|m| self.engine.cipher_single(Operation::Decrypt, &m, &key, &r.ciphered));
        reply(result.map(|plain| proto::DecryptSingleResponse { plain }))
    }

    async fn reencrypt_single(
        &self,
        _: Request<proto::ReencryptSingleRequest>,
    ) -> Reply<proto::ReencryptSingleResponse> {
        reply(Err(Error::FunctionNotSupported("ReencryptSingle")))
    }

    async fn sign_init(&self, r: Request<proto::SignInitRequest>) -> Reply<proto::SignInitResponse> {
        let r = r.into_inner();
        let key = key(r.priv_key, r.legacy_priv_key);
        let result = mechanism(r.mech).and_then(|m| self.engine.sign_init(Operation::Sign, &m, &key));
        reply(result.map(|state| proto::SignInitResponse { state }))
    }

    async fn verify_init(&self, r: Request<proto::VerifyInitRequest>) -> Reply<proto::VerifyInitResponse> {
        let r = r.into_inner();
        let key = key(r.pub_key, r.legacy_pub_key);
        let result = mechanism(r.mech).and_then(|m| self.engine.sign_init(Operation::Verify, &m, &key));
        reply(result.map(|state| proto::VerifyInitResponse { state }))
    }

    async fn sign_update(&self, r: Request<proto::SignUpdateRequest>) -> Reply<proto::SignUpdateResponse> {
        let r = r.into_inner();
        let result = self.engine.sign_update(Operation::Sign, &r.state, &r.data);
        reply(result.map(|state| proto::SignUpdateResponse { state }))
    }

    async fn verify_update(
        &self,
        r: Request<proto::VerifyUpdateRequest>,
    ) -> Reply<proto::VerifyUpdateResponse> {
        let r = r.into_inner();
        let result = self.engine.sign_update(Operation::Verify, &r.state, &r.data);
        reply(result.map(|state| proto::VerifyUpdateResponse { state }))
    }

    async fn sign_final(&self, r: Request<proto::SignFinalRequest>) -> Reply<proto::SignFinalResponse> {
        let result = self.engine.sign_final(&r.into_inner().state);
        reply(result.map(|signature| proto::SignFinalResponse { signature }))
    }

    async fn verify_final(&self, r: Request<proto::VerifyFinalRequest>) -> Reply<proto::VerifyFinalResponse> {
        let r = r.into_inner();
        reply(self.engine.verify_final(&r.state, &r.signature).map(|()| proto::VerifyFinalResponse {}))
    }

    async fn sign(&self, r: Request<proto::SignRequest>) -> Reply<proto::SignResponse> {
        let r = r.into_inner();
        reply(self.engine.sign(&r.state, &r.data).map(|signature| proto::SignResponse { signature }))
    }

    async fn verify(&self, r: Request<proto::VerifyRequest>) -> Reply<proto::VerifyResponse> {
        let r = r.into_inner();
        reply(self.engine.verify(&r.state, &r.data, &r.signature).map(|()| proto::VerifyResponse {}))
    }

    async fn sign_single(&self, r: Request<proto::SignSingleRequest>) -> Reply<proto::SignSingleResponse> {
        let r = r.into_inner();
        let key = key(r.priv_key, r.legacy_priv_key);
        let result = mechanism(r.mech).and_then(|m| self.engine.sign_single(&m, &key, &r.data));
        reply(result.map(|signature| proto::SignSingleResponse { signature }))
    }

    async fn verify_single(
        &self,
        r: Request<proto::VerifySingleRequest>,
    ) -> Reply<proto::VerifySingleResponse> {
        let r = r.into_inner();
        let key = key(r.pub_key, r.legacy_pub_key);
        let result =
            mechanism(r.mech).and_then(|m| self.engine.verify_single(&m, &key, &r.data, &r.signature));
        reply(result.map(|()| proto::VerifySingleResponse {}))
    }

    async fn generate_key(&self, r: Request<proto::GenerateKeyRequest>) -> Reply<proto::GenerateKeyResponse> {
        let r = r.into_inner();
        let result = mechanism(r.mech).and_then(|m| self.engine.generate_key(&m, &template(r.template)));
        reply(result.map(|k| proto::GenerateKeyResponse {
            key: Some(key_blob(&k)),
            key_bytes: k.blob,
            check_sum: k.checksum,
        }))
    }

    async fn generate_key_pair(
        &self,
        r: Request<proto::GenerateKeyPairRequest>,
    ) -> Reply<proto::GenerateKeyPairResponse> {
        let r = r.into_inner();
        let (public, private) = (template(r.pub_key_template), template(r.priv_key_template));
        let result = mechanism(r.mech).and_then(|m| self.engine.generate_key_pair(&m, &public, &private));
        reply(result.map(|(private, public)| proto::GenerateKeyPairResponse {
            priv_key: Some(key_blob(&private)),
            pub_key: Some(key_blob(&public)),
            priv_key_bytes: private.blob,
            pub_key_bytes: public.blob,
        }))
    }

    async fn wrap_key(&self, r: Request<proto::WrapKeyRequest>) -> Reply<proto::WrapKeyResponse> {
        let r = r.into_inner();
        let (k, kek) = (key(r.key, r.legacy_key), key(r.ke_k, r.legacy_ke_k));
        let result = mechanism(r.mech).and_then(|m| self.engine.wrap_key(&m, &k, &kek));
        reply(result.map(|wrapped| proto::WrapKeyResponse { wrapped }))
    }

    async fn unwrap_key(&self, r: Request<proto::UnwrapKeyRequest>) -> Reply<proto::UnwrapKeyResponse> {
        let r = r.into_inner();
        let kek = key(r.ke_k, r.legacy_ke_k);
        let result = mechanism(r.mech)
            .and_then(|m| self.engine.unwrap_key(&m, &kek, &r.wrapped, &template(r.template)));
        reply(result.map(|k| proto::UnwrapKeyResponse {
            unwrapped: Some(key_blob(&k)),
            unwrapped_bytes: k.blob,
            check_sum: k.checksum,
        }))
    }

    async fn derive_key(&self, r: Request<proto::DeriveKeyRequest>) -> Reply<proto::DeriveKeyResponse> {
        let r = r.into_inner();
        let base = key(r.base_key, r.legacy_base_key);
        let result = mechanism(r.mech).and_then(|m| self.engine.derive_key(&m, &base, &template(r.template)));
        reply(result.map(|k| proto::DeriveKeyResponse {
            new_key: Some(key_blob(&k)),
            new_key_bytes: k.blob,
            check_sum: k.checksum,
        }))
    }

    async fn get_mechanism_list(
        &self,
        _: Request<proto::GetMechanismListRequest>,
    ) -> Reply<proto::GetMechanismListResponse> {
        let mechs = self.engine.mechanism_list().into_iter().map(|m| m.0).collect();
        reply(Ok(proto::GetMechanismListResponse { mechs }))
    }

    async fn get_mechanism_info(
        &self,
        r: Request<proto::GetMechanismInfoRequest>,
    ) -> Reply<proto::GetMechanismInfoResponse> {
        let result = self.engine.mechanism_info(CkMechanismType(r.into_inner().mech));
        reply(result.map(|row| proto::GetMechanismInfoResponse {
            mech_info: Some(proto::MechanismInfo {
                min_key_size: row.min_key_size,
                max_key_size: row.max_key_size,
                flags: row.flags.0,
            }),
        }))
    }

    async fn get_attribute_value(
        &self,
        r: Request<proto::GetAttributeValueRequest>,
    ) -> Reply<proto::GetAttributeValueResponse> {
        let r = r.into_inner();
        // The wanted attributes are the keys of either map; their values are ignored.
        let mut wanted: Vec<CkAttributeType> =
            r.attributes_bytes.keys().chain(r.attributes.keys()).map(|&a| CkAttributeType(a)).collect();
        wanted.sort();
        wanted.dedup();
        let result = self.engine.get_attributes(&r.object, &wanted);
        reply(result.map(|values| proto::GetAttributeValueResponse {
            attributes_bytes: values.iter().map(|(a, v)| (a.0, v.to_bytes())).collect(),
            attributes: values.iter().map(|(a, v)| (a.0, wire_value(v))).collect(),
        }))
    }

    async fn set_attribute_value(
        &self,
        r: Request<proto::SetAttributeValueRequest>,
    ) -> Reply<proto::SetAttributeValueResponse> {
        let r = r.into_inner();
        let result = self.engine.set_attributes(&r.object, &template(r.attributes));
        reply(result.map(|object| proto::SetAttributeValueResponse { object }))
    }

    async fn login(&self, _: Request<proto::LoginRequest>) -> Reply<proto::LoginResponse> {
        reply(Err(Error::FunctionNotSupported("Login")))
    }

    async fn logout(&self, _: Request<proto::LogoutRequest>) -> Reply<proto::LogoutResponse> {
        reply(Err(Error::FunctionNotSupported("Logout")))
    }

    async fn rewrap_key_blob(
        &self,
        _: Request<proto::RewrapKeyBlobRequest>,
    ) -> Reply<proto::RewrapKeyBlobResponse> {
        reply(Err(Error::FunctionNotSupported("RewrapKeyBlob")))
    }
}
