//! One RPC: evaluated arguments in, named response fields out. Keys go in the `KeyBlob`
//! field or the legacy bytes field by wire generation, and are read back from that
//! generation's field alone; where a response carries a key both as bytes and as a
//! `KeyBlob`, the two must agree.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Instant;

use super::{CallError, Client, Fields, Inner, Value, Wire, retry};
use crate::pkcs11::{AttrKind, CkAttributeType, attribute_kind};
use crate::proto::{self, AttributeValue, KeyBlob, Mechanism, attribute_value::OneAttr};
use crate::rpc::Rpc;

/// An evaluated step argument.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Mechanism(Mechanism),
    Bytes(Vec<u8>),
    Uint(u64),
    Template(HashMap<u64, AttributeValue>),
    Attributes(Vec<CkAttributeType>),
}

/// Evaluated arguments by their suite names (`rpc::Rpc::args`).
#[derive(Clone, Debug, Default)]
pub struct Args(pub BTreeMap<&'static str, Arg>);

impl Args {
    fn bytes(&self, name: &str) -> Vec<u8> {
        match self.0.get(name) {
            Some(Arg::Bytes(b)) => b.clone(),
            _ => Vec::new(),
        }
    }

    fn opt_bytes(&self, name: &str) -> Option<Vec<u8>> {
        match self.0.get(name) {
            Some(Arg::Bytes(b)) => Some(b.clone()),
            _ => None,
        }
    }

    fn mech(&self, name: &str) -> Option<Mechanism> {
        match self.0.get(name) {
            Some(Arg::Mechanism(m)) => Some(m.clone()),
            _ => None,
        }
    }

    fn uint(&self, name: &str) -> u64 {
        match self.0.get(name) {
            Some(Arg::Uint(u)) => *u,
            _ => 0,
        }
    }

    fn template(&self, name: &str) -> HashMap<u64, AttributeValue> {
        match self.0.get(name) {
            Some(Arg::Template(t)) => t.clone(),
            _ => HashMap::new(),
        }
    }
}

/// A key argument in the wire generation's field: (KeyBlob, legacy bytes).
fn key(wire: Wire, blob: Option<Vec<u8>>) -> (Option<KeyBlob>, Vec<u8>) {
    match (wire, blob) {
        (_, None) => (None, Vec::new()),
        (Wire::Keyblob, Some(b)) => (Some(KeyBlob { key_blobs: vec![b], ..Default::default() }), Vec::new()),
        (Wire::Legacy, Some(b)) => (None, b),
    }
}

/// Reads a key the response carries both as bytes and as a `KeyBlob`: from the field of
/// the wire generation in use alone (`KeyBlobs[0]` for keyblob, the bytes for legacy), so
/// that an endpoint filling only one generation's fields fails the other; when the other
/// field is filled too, the two must agree. Saves the key under `name` and the bytes
/// under `bytes_name`.
fn key_out(
    fields: &mut Fields,
    wire: Wire,
    rpc: Rpc,
    (name, bytes_name): (&str, &str),
    bytes: Vec<u8>,
    blob: Option<KeyBlob>,
) -> Result<(), CallError> {
    let from_blob = blob.and_then(|b| b.key_blobs.into_iter().next());
    let key = match (wire, from_blob) {
        (_, Some(b)) if !bytes.is_empty() && b != bytes => {
            return Err(CallError::BadResponse(format!(
                "{rpc}: {bytes_name} and {name}.KeyBlobs[0] differ ({} vs {} bytes)",
                bytes.len(),
                b.len()
            )));
        }
        (Wire::Keyblob, Some(b)) => b,
        (Wire::Keyblob, None) => {
            return Err(CallError::BadResponse(format!(
                "{rpc}: the response carries no {name} KeyBlob (keyblob wire generation)"
            )));
        }
        (Wire::Legacy, _) if bytes.is_empty() => {
            return Err(CallError::BadResponse(format!(
                "{rpc}: the response carries no {bytes_name} (legacy wire generation)"
            )));
        }
        (Wire::Legacy, _) => bytes.clone(),
    };
    fields.insert(name.to_owned(), Value::Bytes(key));
    fields.insert(bytes_name.to_owned(), Value::Bytes(bytes));
    Ok(())
}

fn bytes(fields: &mut Fields, name: &str, value: Vec<u8>) {
    fields.insert(name.to_owned(), Value::Bytes(value));
}

/// An attribute's value from the `AttributesBytes` encoding: booleans one byte, CK_ULONG
/// eight bytes big-endian (EP11's native byte order), byte strings as they are.
fn attribute_from_bytes(attr: CkAttributeType, raw: &[u8]) -> Result<Value, String> {
    match attribute_kind(attr) {
        Some(AttrKind::Bool) => match raw {
            [b] => Ok(Value::Uint(u64::from(*b != 0))),
            _ => Err(format!("{attr} is a CK_BBOOL but has {} bytes", raw.len())),
        },
        Some(AttrKind::Ulong) => <[u8; 8]>::try_from(raw)
            .map(|b| Value::Uint(u64::from_be_bytes(b)))
            .map_err(|_| format!("{attr} is a CK_ULONG but has {} bytes", raw.len())),
        Some(AttrKind::Bytes) | None => Ok(Value::Bytes(raw.to_vec())),
    }
}

fn attribute_value(value: &AttributeValue) -> Option<Value> {
    Some(match value.one_attr.as_ref()? {
        OneAttr::AttributeB(b) => Value::Bytes(b.clone()),
        OneAttr::AttributeTf(b) => Value::Uint(u64::from(*b)),
        OneAttr::AttributeI(i) => Value::Uint(*i as u64),
    })
}

/// A call's result and how many times it was retried on the endpoint's request.
#[derive(Debug)]
pub struct Counted {
    pub result: Result<Fields, CallError>,
    pub retries: u32,
}

impl Client {
    /// Performs one RPC, retrying it when the endpoint asks to (`retry`).
    pub async fn call(&self, rpc: Rpc, args: &Args) -> Result<Fields, CallError> {
        self.call_counted(rpc, args).await.result
    }

    /// [`Client::call`], also telling how many retries it took.
    pub async fn call_counted(&self, rpc: Rpc, args: &Args) -> Counted {
        let mut retries = 0;
        let result = self.call_retrying(rpc, args, &mut retries).await;
        Counted { result, retries }
    }

    /// The protobuf bytes of the request [`Client::call`] would send for `args` (without
    /// the gRPC frame header): for callers that encode a fixed request once and send it
    /// many times.
    pub fn encode_request(&self, rpc: Rpc, args: &Args) -> Result<bytes::Bytes, CallError> {
        let mut encoded = None;
        let mut retries = 0;
        // Encoding stops before anything is awaited, so the future completes on its first poll.
        let polled = {
            let future = self.call_or_encode(rpc, args, &mut retries, Some(&mut encoded));
            let mut future = std::pin::pin!(future);
            future.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
        };
        match polled {
            std::task::Poll::Ready(Err(e)) => Err(e),
            std::task::Poll::Ready(Ok(_)) => {
                encoded.ok_or_else(|| CallError::BadResponse(format!("{rpc}: no request was encoded")))
            }
            std::task::Poll::Pending => {
                Err(CallError::BadResponse(format!("{rpc}: encoding the request did not complete")))
            }
        }
    }

    async fn call_retrying(&self, rpc: Rpc, args: &Args, retries: &mut u32) -> Result<Fields, CallError> {
        self.call_or_encode(rpc, args, retries, None).await
    }

    /// Performs `rpc`, or with `encode` only encodes its request into it and returns.
    async fn call_or_encode(
        &self,
        rpc: Rpc,
        args: &Args,
        retries: &mut u32,
        encode: Option<&mut Option<bytes::Bytes>>,
    ) -> Result<Fields, CallError> {
        let w = self.wire;
        let mut f = Fields::new();
        let failed = |s: tonic::Status| match super::failure::classify(&s) {
            // tonic's own text ("Timeout expired") does not say which deadline.
            Some(mut no_answer) if no_answer.kind == super::NoAnswerKind::DeadlineExceeded => {
                no_answer.detail = format!("no answer within {:?} ({})", self.timeout, no_answer.detail);
                CallError::NoAnswer(no_answer)
            }
            Some(no_answer) => CallError::NoAnswer(no_answer),
            None => super::status_error(&s),
        };
        // Every attempt, and every wait between them, fits inside the one per-call deadline.
        let deadline = Instant::now() + self.timeout;
        // The refusal that caused the last retry.
        let mut retried = None;
        macro_rules! rpc {
            // `$req` is built again for each attempt, from the arguments: a retry needs the
            // request a first attempt gave away, and building it costs no more than a copy.
            ($method:ident, $req:expr) => {{
                if let Some(out) = encode {
                    *out = Some(bytes::Bytes::from(prost::Message::encode_to_vec(&$req)));
                    return Ok(Fields::new());
                }
                loop {
                    let mut request = self.request($req).await?;
                    request.set_timeout(deadline.saturating_duration_since(Instant::now()));
                    let answer = match &self.inner {
                        Inner::Channel(c) => c.clone().$method(request).await,
                        Inner::Direct(c) => c.clone().$method(request).await,
                    };
                    match answer {
                        Ok(response) => break response.into_inner(),
                        Err(status) => match retry::next(&status, *retries, deadline, retried) {
                            retry::Next::Retry(wait, rv) => {
                                *retries += 1;
                                retried = Some(rv);
                                tokio::time::sleep(wait).await;
                            }
                            retry::Next::Final => return Err(failed(status)),
                            retry::Next::Misused(why) => return Err(CallError::RetryMisused(why)),
                        },
                    }
                }
            }};
        }
        match rpc {
            Rpc::GetMechanismList => {
                let r = rpc!(get_mechanism_list, proto::GetMechanismListRequest {});
                f.insert("Mechs".into(), Value::Mechanisms(r.mechs));
            }
            Rpc::GetMechanismInfo => {
                let mech = args.mech("mech").map(|m| m.mechanism).unwrap_or_default();
                let r = rpc!(get_mechanism_info, proto::GetMechanismInfoRequest { mech });
                let info = r
                    .mech_info
                    .ok_or_else(|| CallError::BadResponse("GetMechanismInfo: no MechInfo".into()))?;
                f.insert("MinKeySize".into(), Value::Uint(info.min_key_size));
                f.insert("MaxKeySize".into(), Value::Uint(info.max_key_size));
                f.insert("Flags".into(), Value::Uint(info.flags));
            }
            Rpc::GetAttributeValue => {
                let wanted = match args.0.get("attributes") {
                    Some(super::Arg::Attributes(a)) => a.clone(),
                    _ => Vec::new(),
                };
                let req = || {
                    let mut req = proto::GetAttributeValueRequest {
                        object: args.bytes("object"),
                        ..Default::default()
                    };
                    for a in &wanted {
                        match w {
                            Wire::Keyblob => {
                                req.attributes.insert(a.0, AttributeValue::default());
                            }
                            Wire::Legacy => {
                                req.attributes_bytes.insert(a.0, Vec::new());
                            }
                        }
                    }
                    req
                };
                let r = rpc!(get_attribute_value, req());
                // Values come from the map of the generation asked in, as keys do.
                for a in wanted {
                    let value = match (w, r.attributes.get(&a.0), r.attributes_bytes.get(&a.0)) {
                        (Wire::Keyblob, Some(v), _) => attribute_value(v).ok_or_else(|| {
                            CallError::BadResponse(format!("GetAttributeValue: {a} has no value"))
                        })?,
                        (Wire::Legacy, _, Some(raw)) => {
                            attribute_from_bytes(a, raw).map_err(CallError::BadResponse)?
                        }
                        _ => {
                            let map = if w == Wire::Keyblob { "Attributes" } else { "AttributesBytes" };
                            return Err(CallError::BadResponse(format!(
                                "GetAttributeValue: {a} was asked for in {map} ({w} wire generation) but not returned there"
                            )));
                        }
                    };
                    f.insert(a.to_string(), value);
                }
            }
            Rpc::SetAttributeValue => {
                let req = || proto::SetAttributeValueRequest {
                    object: args.bytes("object"),
                    attributes: args.template("attributes"),
                };
                let r = rpc!(set_attribute_value, req());
                bytes(&mut f, "Object", r.object);
            }
            Rpc::GenerateRandom => {
                let r = rpc!(generate_random, proto::GenerateRandomRequest { len: args.uint("len") });
                bytes(&mut f, "Rnd", r.rnd);
            }
            Rpc::SeedRandom => {
                rpc!(seed_random, proto::SeedRandomRequest { mixin: args.bytes("mixin") });
            }
            Rpc::DigestInit => {
                let r = rpc!(digest_init, proto::DigestInitRequest { mech: args.mech("mech") });
                bytes(&mut f, "State", r.state);
            }
            Rpc::Digest => {
                let r = rpc!(
                    digest,
                    proto::DigestRequest { state: args.bytes("state"), data: args.bytes("data") }
                );
                bytes(&mut f, "Digest", r.digest);
            }
            Rpc::DigestUpdate => {
                let r = rpc!(
                    digest_update,
                    proto::DigestUpdateRequest { state: args.bytes("state"), data: args.bytes("data") }
                );
                bytes(&mut f, "State", r.state);
            }
            Rpc::DigestFinal => {
                let r = rpc!(digest_final, proto::DigestFinalRequest { state: args.bytes("state") });
                bytes(&mut f, "Digest", r.digest);
            }
            Rpc::DigestSingle => {
                let r = rpc!(
                    digest_single,
                    proto::DigestSingleRequest { mech: args.mech("mech"), data: args.bytes("data") }
                );
                bytes(&mut f, "Digest", r.digest);
            }
            Rpc::DigestKey => {
                let r = rpc!(digest_key, {
                    let (key, legacy_key) = key(w, args.opt_bytes("key"));
                    proto::DigestKeyRequest { state: args.bytes("state"), key, legacy_key }
                });
                bytes(&mut f, "State", r.state);
            }
            Rpc::EncryptInit => {
                let r = rpc!(encrypt_init, {
                    let (key, legacy_key) = key(w, args.opt_bytes("key"));
                    proto::EncryptInitRequest { mech: args.mech("mech"), key, legacy_key }
                });
                bytes(&mut f, "State", r.state);
            }
            Rpc::DecryptInit => {
                let r = rpc!(decrypt_init, {
                    let (key, legacy_key) = key(w, args.opt_bytes("key"));
                    proto::DecryptInitRequest { mech: args.mech("mech"), key, legacy_key }
                });
                bytes(&mut f, "State", r.state);
            }
            Rpc::Encrypt => {
                let r = rpc!(
                    encrypt,
                    proto::EncryptRequest { state: args.bytes("state"), plain: args.bytes("plain") }
                );
                bytes(&mut f, "Ciphered", r.ciphered);
            }
            Rpc::Decrypt => {
                let r = rpc!(
                    decrypt,
                    proto::DecryptRequest { state: args.bytes("state"), ciphered: args.bytes("ciphered") }
                );
                bytes(&mut f, "Plain", r.plain);
            }
            Rpc::EncryptUpdate => {
                let req =
                    || proto::EncryptUpdateRequest { state: args.bytes("state"), plain: args.bytes("plain") };
                let r = rpc!(encrypt_update, req());
                bytes(&mut f, "State", r.state);
                bytes(&mut f, "Ciphered", r.ciphered);
            }
            Rpc::DecryptUpdate => {
                let req = || proto::DecryptUpdateRequest {
                    state: args.bytes("state"),
                    ciphered: args.bytes("ciphered"),
                };
                let r = rpc!(decrypt_update, req());
                bytes(&mut f, "State", r.state);
                bytes(&mut f, "Plain", r.plain);
            }
            Rpc::EncryptFinal => {
                let r = rpc!(encrypt_final, proto::EncryptFinalRequest { state: args.bytes("state") });
                bytes(&mut f, "Ciphered", r.ciphered);
            }
            Rpc::DecryptFinal => {
                let r = rpc!(decrypt_final, proto::DecryptFinalRequest { state: args.bytes("state") });
                bytes(&mut f, "Plain", r.plain);
            }
            Rpc::EncryptSingle => {
                let req = || {
                    let (key, legacy_key) = key(w, args.opt_bytes("key"));
                    proto::EncryptSingleRequest {
                        mech: args.mech("mech"),
                        plain: args.bytes("plain"),
                        key,
                        legacy_key,
                    }
                };
                let r = rpc!(encrypt_single, req());
                bytes(&mut f, "Ciphered", r.ciphered);
            }
            Rpc::DecryptSingle => {
                let req = || {
                    let (key, legacy_key) = key(w, args.opt_bytes("key"));
                    proto::DecryptSingleRequest {
                        mech: args.mech("mech"),
                        ciphered: args.bytes("ciphered"),
                        key,
                        legacy_key,
                    }
                };
                let r = rpc!(decrypt_single, req());
                bytes(&mut f, "Plain", r.plain);
            }
            Rpc::ReencryptSingle => {
                // Only the KeyBlob generation of this RPC is published.
                let req = || {
                    let (dec_key, _) = key(Wire::Keyblob, args.opt_bytes("deckey"));
                    let (enc_key, _) = key(Wire::Keyblob, args.opt_bytes("enckey"));
                    proto::ReencryptSingleRequest {
                        dec_mech: args.mech("decmech"),
                        enc_mech: args.mech("encmech"),
                        ciphered: args.bytes("ciphered"),
                        dec_key,
                        enc_key,
                    }
                };
                let r = rpc!(reencrypt_single, req());
                bytes(&mut f, "Reciphered", r.reciphered);
            }
            Rpc::SignInit => {
                let r = rpc!(sign_init, {
                    let (priv_key, legacy_priv_key) = key(w, args.opt_bytes("key"));
                    proto::SignInitRequest { mech: args.mech("mech"), priv_key, legacy_priv_key }
                });
                bytes(&mut f, "State", r.state);
            }
            Rpc::VerifyInit => {
                let r = rpc!(verify_init, {
                    let (pub_key, legacy_pub_key) = key(w, args.opt_bytes("key"));
                    proto::VerifyInitRequest { mech: args.mech("mech"), pub_key, legacy_pub_key }
                });
                bytes(&mut f, "State", r.state);
            }
            Rpc::Sign => {
                let r =
                    rpc!(sign, proto::SignRequest { state: args.bytes("state"), data: args.bytes("data") });
                bytes(&mut f, "Signature", r.signature);
            }
            Rpc::Verify => {
                let req = || proto::VerifyRequest {
                    state: args.bytes("state"),
                    data: args.bytes("data"),
                    signature: args.bytes("signature"),
                };
                rpc!(verify, req());
            }
            Rpc::SignUpdate => {
                let r = rpc!(
                    sign_update,
                    proto::SignUpdateRequest { state: args.bytes("state"), data: args.bytes("data") }
                );
                bytes(&mut f, "State", r.state);
            }
            Rpc::VerifyUpdate => {
                let r = rpc!(
                    verify_update,
                    proto::VerifyUpdateRequest { state: args.bytes("state"), data: args.bytes("data") }
                );
                bytes(&mut f, "State", r.state);
            }
            Rpc::SignFinal => {
                let r = rpc!(sign_final, proto::SignFinalRequest { state: args.bytes("state") });
                bytes(&mut f, "Signature", r.signature);
            }
            Rpc::VerifyFinal => {
                let req = || proto::VerifyFinalRequest {
                    state: args.bytes("state"),
                    signature: args.bytes("signature"),
                };
                rpc!(verify_final, req());
            }
            Rpc::SignSingle => {
                let req = || {
                    let (priv_key, legacy_priv_key) = key(w, args.opt_bytes("key"));
                    proto::SignSingleRequest {
                        mech: args.mech("mech"),
                        data: args.bytes("data"),
                        priv_key,
                        legacy_priv_key,
                    }
                };
                let r = rpc!(sign_single, req());
                bytes(&mut f, "Signature", r.signature);
            }
            Rpc::VerifySingle => {
                let req = || {
                    let (pub_key, legacy_pub_key) = key(w, args.opt_bytes("key"));
                    proto::VerifySingleRequest {
                        mech: args.mech("mech"),
                        data: args.bytes("data"),
                        signature: args.bytes("signature"),
                        pub_key,
                        legacy_pub_key,
                    }
                };
                rpc!(verify_single, req());
            }
            Rpc::GenerateKey => {
                let req = || proto::GenerateKeyRequest {
                    mech: args.mech("mech"),
                    template: args.template("template"),
                };
                let r = rpc!(generate_key, req());
                key_out(&mut f, w, rpc, ("Key", "KeyBytes"), r.key_bytes, r.key)?;
                bytes(&mut f, "CheckSum", r.check_sum);
            }
            Rpc::GenerateKeyPair => {
                let req = || proto::GenerateKeyPairRequest {
                    mech: args.mech("mech"),
                    pub_key_template: args.template("public"),
                    priv_key_template: args.template("private"),
                };
                let r = rpc!(generate_key_pair, req());
                key_out(&mut f, w, rpc, ("PubKey", "PubKeyBytes"), r.pub_key_bytes, r.pub_key)?;
                key_out(&mut f, w, rpc, ("PrivKey", "PrivKeyBytes"), r.priv_key_bytes, r.priv_key)?;
            }
            Rpc::WrapKey => {
                let req = || {
                    let (key_blob, legacy_key) = key(w, args.opt_bytes("key"));
                    let (ke_k, legacy_ke_k) = key(w, args.opt_bytes("kek"));
                    let (mac_key, legacy_mac_key) = key(w, args.opt_bytes("mackey"));
                    proto::WrapKeyRequest {
                        mech: args.mech("mech"),
                        key: key_blob,
                        legacy_key,
                        ke_k,
                        legacy_ke_k,
                        mac_key,
                        legacy_mac_key,
                    }
                };
                let r = rpc!(wrap_key, req());
                bytes(&mut f, "Wrapped", r.wrapped);
            }
            Rpc::UnwrapKey => {
                let req = || {
                    let (ke_k, legacy_ke_k) = key(w, args.opt_bytes("kek"));
                    let (mac_key, legacy_mac_key) = key(w, args.opt_bytes("mackey"));
                    proto::UnwrapKeyRequest {
                        wrapped: args.bytes("wrapped"),
                        mech: args.mech("mech"),
                        template: args.template("template"),
                        ke_k,
                        legacy_ke_k,
                        mac_key,
                        legacy_mac_key,
                    }
                };
                let r = rpc!(unwrap_key, req());
                key_out(&mut f, w, rpc, ("Unwrapped", "UnwrappedBytes"), r.unwrapped_bytes, r.unwrapped)?;
                bytes(&mut f, "CheckSum", r.check_sum);
            }
            Rpc::DeriveKey => {
                let req = || {
                    let (base_key, legacy_base_key) = key(w, args.opt_bytes("key"));
                    proto::DeriveKeyRequest {
                        mech: args.mech("mech"),
                        data: args.bytes("data"),
                        template: args.template("template"),
                        base_key,
                        legacy_base_key,
                    }
                };
                let r = rpc!(derive_key, req());
                key_out(&mut f, w, rpc, ("NewKey", "NewKeyBytes"), r.new_key_bytes, r.new_key)?;
                bytes(&mut f, "CheckSum", r.check_sum);
            }
            Rpc::Login => {
                let req = || proto::LoginRequest { storeid: args.bytes("storeid"), pin: args.bytes("pin") };
                let r = rpc!(login, req());
                bytes(&mut f, "Pinblob", r.pinblob);
            }
            Rpc::Logout => {
                rpc!(logout, proto::LogoutRequest {});
            }
            Rpc::RewrapKeyBlob => {
                let r = rpc!(rewrap_key_blob, {
                    let (wrapped_key, wrapped_key_bytes) = key(w, args.opt_bytes("key"));
                    proto::RewrapKeyBlobRequest { wrapped_key_bytes, wrapped_key }
                });
                key_out(
                    &mut f,
                    w,
                    rpc,
                    ("Rewrapped", "RewrappedBytes"),
                    r.rewrapped_key_bytes,
                    r.rewrapped_key,
                )?;
            }
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use prost::Message;

    use super::*;

    #[tokio::test]
    async fn an_encoded_request_puts_keys_in_the_wire_generations_field() {
        let args = Args(BTreeMap::from([
            ("mech", Arg::Mechanism(Mechanism { mechanism: 0x1085, parameter: None })),
            ("key", Arg::Bytes(vec![7; 40])),
            ("plain", Arg::Bytes(b"plain".to_vec())),
        ]));
        for wire in [Wire::Keyblob, Wire::Legacy] {
            let client = crate::embedded::client(wire, Duration::from_secs(5));
            let bytes = client.encode_request(Rpc::EncryptSingle, &args).unwrap();
            let request = proto::EncryptSingleRequest::decode(bytes).unwrap();
            assert_eq!(request.plain, b"plain");
            assert_eq!(request.mech.map(|m| m.mechanism), Some(0x1085));
            let from_blob = request.key.map(|k| k.key_blobs);
            match wire {
                Wire::Keyblob => {
                    assert_eq!((from_blob, request.legacy_key), (Some(vec![vec![7; 40]]), vec![]))
                }
                Wire::Legacy => assert_eq!((from_blob, request.legacy_key), (None, vec![7; 40])),
            }
        }
        let client = crate::embedded::client(Wire::Keyblob, Duration::from_secs(5));
        let random = Args(BTreeMap::from([("len", Arg::Uint(32))]));
        let bytes = client.encode_request(Rpc::GenerateRandom, &random).unwrap();
        assert_eq!(proto::GenerateRandomRequest::decode(bytes).unwrap().len, 32);
        assert!(client.encode_request(Rpc::Logout, &Args::default()).unwrap().is_empty());
    }
}
