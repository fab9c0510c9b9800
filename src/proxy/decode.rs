//! A recorded exchange as data: the gRPC frame taken off each side, the request decoded
//! into the suite's argument names (`rpc::Rpc::args`) and the response into its fields
//! (`rpc::Rpc::fields`), whichever wire generation carried the keys. The inverse of
//! `client::call`, kept to what a recorded step needs.

use std::collections::HashMap;

use prost::Message;

use crate::pkcs11::CkRv;
use crate::proto::{self, AttributeValue, KeyBlob};
use crate::rpc::{FRAME_PREFIX_LEN, Rpc, read_frame_prefix};
use crate::status::{CallFailure, from_status};

/// A request argument as the application sent it.
#[derive(Clone, Debug, PartialEq)]
pub enum In {
    Mech(proto::Mechanism),
    /// A key blob or a state: opaque, only ever replayed from a saved variable.
    Blob(Vec<u8>),
    Data(Vec<u8>),
    Uint(u64),
    Template(HashMap<u64, AttributeValue>),
    Attributes(Vec<u64>),
}

/// How the call ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Ended {
    Ok,
    Rv(CkRv),
    /// A gRPC status without a `Grep11Error`.
    Grpc(tonic::Code),
}

/// One decoded call.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub rpc: Rpc,
    pub args: Vec<(&'static str, In)>,
    /// Byte fields of the response (keys under their KeyBlob names: `Key`, `PubKey`, ..).
    pub outputs: Vec<(&'static str, Vec<u8>)>,
    /// `GetAttributeValue`'s attributes by number (`Attributes` or `AttributesBytes`).
    pub attributes: Vec<(u64, AttributeValue)>,
    pub ended: Ended,
}

/// Why an exchange cannot become a step.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Undecodable {
    #[error("{0} is not a GREP11 method")]
    Method(String),
    #[error("the {0} is not one uncompressed gRPC message")]
    Framing(&'static str),
    #[error("the {side} is not a {rpc} message: {reason}")]
    Protobuf { side: &'static str, rpc: Rpc, reason: String },
    #[error("no gRPC status (the call was cut off)")]
    NoStatus,
}

/// The RPC a request path names (`/grep11.Crypto/SignSingle`).
pub fn rpc_of_path(path: &str) -> Result<Rpc, Undecodable> {
    Rpc::from_path(path).ok_or_else(|| Undecodable::Method(path.to_owned()))
}

/// The one message of a unary call's body: `[compressed u8][length u32 BE][message]`.
pub fn unframe<'a>(body: &'a [u8], side: &'static str) -> Result<&'a [u8], Undecodable> {
    match body.split_first_chunk::<FRAME_PREFIX_LEN>() {
        Some((prefix, rest)) if read_frame_prefix(prefix) == (0, rest.len()) => Ok(rest),
        _ => Err(Undecodable::Framing(side)),
    }
}

/// The call's end from the status (trailers, or the headers of a trailers-only answer).
pub fn ended(status: &tonic::Status) -> Ended {
    if status.code() == tonic::Code::Ok {
        return Ended::Ok;
    }
    match from_status(status) {
        CallFailure::Pkcs11(f) => Ended::Rv(f.rv),
        CallFailure::Transport { code, .. } | CallFailure::MalformedDetail { code, .. } => Ended::Grpc(code),
    }
}

/// A key as sent: the KeyBlob's first blob, else the legacy bytes; `None` when neither.
fn key(blob: Option<KeyBlob>, legacy: Vec<u8>) -> Option<Vec<u8>> {
    match blob.and_then(|b| b.key_blobs.into_iter().next()) {
        Some(b) if !b.is_empty() => Some(b),
        _ if !legacy.is_empty() => Some(legacy),
        _ => None,
    }
}

/// Decodes one exchange. `response` is `None` for a failed call (its body is not read).
pub fn decode(rpc: Rpc, request: &[u8], response: Option<&[u8]>, ended: Ended) -> Result<Call, Undecodable> {
    let bad = |side: &'static str| {
        move |e: prost::DecodeError| Undecodable::Protobuf { side, rpc, reason: e.to_string() }
    };
    let mut call = Call { rpc, args: Vec::new(), outputs: Vec::new(), attributes: Vec::new(), ended };
    let response = if call.ended == Ended::Ok { response.unwrap_or_default() } else { &[] };
    macro_rules! req {
        ($t:ident) => {
            proto::$t::decode(request).map_err(bad("request"))?
        };
    }
    macro_rules! resp {
        ($t:ident) => {
            proto::$t::decode(response).map_err(bad("response"))?
        };
    }
    let args = &mut call.args;
    let out = &mut call.outputs;
    let mech = |m: Option<proto::Mechanism>| In::Mech(m.unwrap_or_default());
    let blob = |b: Option<Vec<u8>>| b.map(In::Blob).unwrap_or(In::Data(Vec::new()));
    match rpc {
        Rpc::GetMechanismList => {
            req!(GetMechanismListRequest);
        }
        Rpc::GetMechanismInfo => {
            args.push((
                "mech",
                In::Mech(proto::Mechanism { mechanism: req!(GetMechanismInfoRequest).mech, parameter: None }),
            ));
        }
        Rpc::GetAttributeValue => {
            let r = req!(GetAttributeValueRequest);
            args.push(("object", In::Blob(r.object)));
            let mut wanted: Vec<u64> =
                r.attributes.keys().chain(r.attributes_bytes.keys()).copied().collect();
            wanted.sort_unstable();
            wanted.dedup();
            args.push(("attributes", In::Attributes(wanted)));
            let r = resp!(GetAttributeValueResponse);
            let mut attrs: Vec<(u64, AttributeValue)> = r.attributes.into_iter().collect();
            for (a, raw) in r.attributes_bytes {
                if !attrs.iter().any(|(b, _)| *b == a) {
                    attrs.push((a, attribute_from_bytes(a, raw)));
                }
            }
            attrs.sort_by_key(|(a, _)| *a);
            call.attributes = attrs;
        }
        Rpc::SetAttributeValue => {
            let r = req!(SetAttributeValueRequest);
            args.push(("object", In::Blob(r.object)));
            args.push(("attributes", In::Template(r.attributes)));
            out.push(("Object", resp!(SetAttributeValueResponse).object));
        }
        Rpc::GenerateRandom => {
            args.push(("len", In::Uint(req!(GenerateRandomRequest).len)));
            out.push(("Rnd", resp!(GenerateRandomResponse).rnd));
        }
        Rpc::SeedRandom => {
            args.push(("mixin", In::Data(req!(SeedRandomRequest).mixin)));
        }
        Rpc::DigestInit => {
            args.push(("mech", mech(req!(DigestInitRequest).mech)));
            out.push(("State", resp!(DigestInitResponse).state));
        }
        Rpc::Digest => {
            let r = req!(DigestRequest);
            args.extend([("state", In::Blob(r.state)), ("data", In::Data(r.data))]);
            out.push(("Digest", resp!(DigestResponse).digest));
        }
        Rpc::DigestUpdate => {
            let r = req!(DigestUpdateRequest);
            args.extend([("state", In::Blob(r.state)), ("data", In::Data(r.data))]);
            out.push(("State", resp!(DigestUpdateResponse).state));
        }
        Rpc::DigestFinal => {
            args.push(("state", In::Blob(req!(DigestFinalRequest).state)));
            out.push(("Digest", resp!(DigestFinalResponse).digest));
        }
        Rpc::DigestSingle => {
            let r = req!(DigestSingleRequest);
            args.extend([("mech", mech(r.mech)), ("data", In::Data(r.data))]);
            out.push(("Digest", resp!(DigestSingleResponse).digest));
        }
        Rpc::DigestKey => {
            let r = req!(DigestKeyRequest);
            args.extend([("state", In::Blob(r.state)), ("key", blob(key(r.key, r.legacy_key)))]);
            out.push(("State", resp!(DigestKeyResponse).state));
        }
        Rpc::EncryptInit => {
            let r = req!(EncryptInitRequest);
            args.extend([("mech", mech(r.mech)), ("key", blob(key(r.key, r.legacy_key)))]);
            out.push(("State", resp!(EncryptInitResponse).state));
        }
        Rpc::DecryptInit => {
            let r = req!(DecryptInitRequest);
            args.extend([("mech", mech(r.mech)), ("key", blob(key(r.key, r.legacy_key)))]);
            out.push(("State", resp!(DecryptInitResponse).state));
        }
        Rpc::Encrypt => {
            let r = req!(EncryptRequest);
            args.extend([("state", In::Blob(r.state)), ("plain", In::Data(r.plain))]);
            out.push(("Ciphered", resp!(EncryptResponse).ciphered));
        }
        Rpc::Decrypt => {
            let r = req!(DecryptRequest);
            args.extend([("state", In::Blob(r.state)), ("ciphered", In::Data(r.ciphered))]);
            out.push(("Plain", resp!(DecryptResponse).plain));
        }
        Rpc::EncryptUpdate => {
            let r = req!(EncryptUpdateRequest);
            args.extend([("state", In::Blob(r.state)), ("plain", In::Data(r.plain))]);
            let r = resp!(EncryptUpdateResponse);
            out.extend([("State", r.state), ("Ciphered", r.ciphered)]);
        }
        Rpc::DecryptUpdate => {
            let r = req!(DecryptUpdateRequest);
            args.extend([("state", In::Blob(r.state)), ("ciphered", In::Data(r.ciphered))]);
            let r = resp!(DecryptUpdateResponse);
            out.extend([("State", r.state), ("Plain", r.plain)]);
        }
        Rpc::EncryptFinal => {
            args.push(("state", In::Blob(req!(EncryptFinalRequest).state)));
            out.push(("Ciphered", resp!(EncryptFinalResponse).ciphered));
        }
        Rpc::DecryptFinal => {
            args.push(("state", In::Blob(req!(DecryptFinalRequest).state)));
            out.push(("Plain", resp!(DecryptFinalResponse).plain));
        }
        Rpc::EncryptSingle => {
            let r = req!(EncryptSingleRequest);
            args.extend([
                ("mech", mech(r.mech)),
                ("key", blob(key(r.key, r.legacy_key))),
                ("plain", In::Data(r.plain)),
            ]);
            out.push(("Ciphered", resp!(EncryptSingleResponse).ciphered));
        }
        Rpc::DecryptSingle => {
            let r = req!(DecryptSingleRequest);
            args.extend([
                ("mech", mech(r.mech)),
                ("key", blob(key(r.key, r.legacy_key))),
                ("ciphered", In::Data(r.ciphered)),
            ]);
            out.push(("Plain", resp!(DecryptSingleResponse).plain));
        }
        Rpc::ReencryptSingle => {
            let r = req!(ReencryptSingleRequest);
            args.extend([
                ("decmech", mech(r.dec_mech)),
                ("encmech", mech(r.enc_mech)),
                ("deckey", blob(key(r.dec_key, Vec::new()))),
                ("enckey", blob(key(r.enc_key, Vec::new()))),
                ("ciphered", In::Data(r.ciphered)),
            ]);
            out.push(("Reciphered", resp!(ReencryptSingleResponse).reciphered));
        }
        Rpc::SignInit => {
            let r = req!(SignInitRequest);
            args.extend([("mech", mech(r.mech)), ("key", blob(key(r.priv_key, r.legacy_priv_key)))]);
            out.push(("State", resp!(SignInitResponse).state));
        }
        Rpc::VerifyInit => {
            let r = req!(VerifyInitRequest);
            args.extend([("mech", mech(r.mech)), ("key", blob(key(r.pub_key, r.legacy_pub_key)))]);
            out.push(("State", resp!(VerifyInitResponse).state));
        }
        Rpc::Sign => {
            let r = req!(SignRequest);
            args.extend([("state", In::Blob(r.state)), ("data", In::Data(r.data))]);
            out.push(("Signature", resp!(SignResponse).signature));
        }
        Rpc::Verify => {
            let r = req!(VerifyRequest);
            args.extend([
                ("state", In::Blob(r.state)),
                ("data", In::Data(r.data)),
                ("signature", In::Data(r.signature)),
            ]);
        }
        Rpc::SignUpdate => {
            let r = req!(SignUpdateRequest);
            args.extend([("state", In::Blob(r.state)), ("data", In::Data(r.data))]);
            out.push(("State", resp!(SignUpdateResponse).state));
        }
        Rpc::VerifyUpdate => {
            let r = req!(VerifyUpdateRequest);
            args.extend([("state", In::Blob(r.state)), ("data", In::Data(r.data))]);
            out.push(("State", resp!(VerifyUpdateResponse).state));
        }
        Rpc::SignFinal => {
            args.push(("state", In::Blob(req!(SignFinalRequest).state)));
            out.push(("Signature", resp!(SignFinalResponse).signature));
        }
        Rpc::VerifyFinal => {
            let r = req!(VerifyFinalRequest);
            args.extend([("state", In::Blob(r.state)), ("signature", In::Data(r.signature))]);
        }
        Rpc::SignSingle => {
            let r = req!(SignSingleRequest);
            args.extend([
                ("mech", mech(r.mech)),
                ("key", blob(key(r.priv_key, r.legacy_priv_key))),
                ("data", In::Data(r.data)),
            ]);
            out.push(("Signature", resp!(SignSingleResponse).signature));
        }
        Rpc::VerifySingle => {
            let r = req!(VerifySingleRequest);
            args.extend([
                ("mech", mech(r.mech)),
                ("key", blob(key(r.pub_key, r.legacy_pub_key))),
                ("data", In::Data(r.data)),
                ("signature", In::Data(r.signature)),
            ]);
        }
        Rpc::GenerateKey => {
            let r = req!(GenerateKeyRequest);
            args.extend([("mech", mech(r.mech)), ("template", In::Template(r.template))]);
            let r = resp!(GenerateKeyResponse);
            out.push(("Key", key(r.key, r.key_bytes).unwrap_or_default()));
            out.push(("CheckSum", r.check_sum));
        }
        Rpc::GenerateKeyPair => {
            let r = req!(GenerateKeyPairRequest);
            args.extend([
                ("mech", mech(r.mech)),
                ("public", In::Template(r.pub_key_template)),
                ("private", In::Template(r.priv_key_template)),
            ]);
            let r = resp!(GenerateKeyPairResponse);
            out.push(("PubKey", key(r.pub_key, r.pub_key_bytes).unwrap_or_default()));
            out.push(("PrivKey", key(r.priv_key, r.priv_key_bytes).unwrap_or_default()));
        }
        Rpc::WrapKey => {
            let r = req!(WrapKeyRequest);
            args.extend([
                ("mech", mech(r.mech)),
                ("key", blob(key(r.key, r.legacy_key))),
                ("kek", blob(key(r.ke_k, r.legacy_ke_k))),
            ]);
            if let Some(mac) = key(r.mac_key, r.legacy_mac_key) {
                args.push(("mackey", In::Blob(mac)));
            }
            out.push(("Wrapped", resp!(WrapKeyResponse).wrapped));
        }
        Rpc::UnwrapKey => {
            let r = req!(UnwrapKeyRequest);
            args.extend([
                ("mech", mech(r.mech)),
                ("wrapped", In::Data(r.wrapped)),
                ("kek", blob(key(r.ke_k, r.legacy_ke_k))),
            ]);
            if let Some(mac) = key(r.mac_key, r.legacy_mac_key) {
                args.push(("mackey", In::Blob(mac)));
            }
            args.push(("template", In::Template(r.template)));
            let r = resp!(UnwrapKeyResponse);
            out.push(("Unwrapped", key(r.unwrapped, r.unwrapped_bytes).unwrap_or_default()));
            out.push(("CheckSum", r.check_sum));
        }
        Rpc::DeriveKey => {
            let r = req!(DeriveKeyRequest);
            args.extend([("mech", mech(r.mech)), ("key", blob(key(r.base_key, r.legacy_base_key)))]);
            if !r.data.is_empty() {
                args.push(("data", In::Data(r.data)));
            }
            args.push(("template", In::Template(r.template)));
            let r = resp!(DeriveKeyResponse);
            out.push(("NewKey", key(r.new_key, r.new_key_bytes).unwrap_or_default()));
            out.push(("CheckSum", r.check_sum));
        }
        Rpc::Login => {
            let r = req!(LoginRequest);
            args.extend([("storeid", In::Data(r.storeid)), ("pin", In::Data(r.pin))]);
            out.push(("Pinblob", resp!(LoginResponse).pinblob));
        }
        Rpc::Logout => {
            req!(LogoutRequest);
        }
        Rpc::RewrapKeyBlob => {
            let r = req!(RewrapKeyBlobRequest);
            args.push(("key", blob(key(r.wrapped_key, r.wrapped_key_bytes))));
            let r = resp!(RewrapKeyBlobResponse);
            out.push(("Rewrapped", key(r.rewrapped_key, r.rewrapped_key_bytes).unwrap_or_default()));
        }
    }
    Ok(call)
}

/// A legacy `AttributesBytes` value in the `AttributeValue` form: booleans one byte,
/// CK_ULONG eight bytes big-endian, anything else bytes.
fn attribute_from_bytes(attr: u64, raw: Vec<u8>) -> AttributeValue {
    use crate::pkcs11::{AttrKind, CkAttributeType, attribute_kind};
    use proto::attribute_value::OneAttr;
    let one = match (attribute_kind(CkAttributeType(attr)), raw.as_slice()) {
        (Some(AttrKind::Bool), [b]) => OneAttr::AttributeTf(*b != 0),
        (Some(AttrKind::Ulong), bytes) if bytes.len() == 8 => {
            OneAttr::AttributeI(i64::from_be_bytes(bytes.try_into().unwrap_or_default()))
        }
        _ => OneAttr::AttributeB(raw),
    };
    AttributeValue { one_attr: Some(one) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::frame;

    #[test]
    fn frames_and_paths_are_checked() {
        assert_eq!(unframe(&frame(b"abc").unwrap(), "request").unwrap(), b"abc");
        assert_eq!(unframe(&[0, 0, 0, 0, 5, 1], "request"), Err(Undecodable::Framing("request")));
        let mut compressed = frame(b"abc").unwrap();
        compressed[0] = 1;
        assert!(unframe(&compressed, "response").is_err());
        assert_eq!(rpc_of_path("/grep11.Crypto/SignSingle").unwrap(), Rpc::SignSingle);
        assert!(rpc_of_path("/grpc.health.v1.Health/Check").is_err());
    }

    #[test]
    fn keys_are_read_from_either_wire_generation() {
        let blob = KeyBlob { key_blobs: vec![b"kb".to_vec()], ..Default::default() };
        let current =
            proto::SignSingleRequest { priv_key: Some(blob), data: b"d".to_vec(), ..Default::default() };
        let legacy = proto::SignSingleRequest {
            legacy_priv_key: b"kb".to_vec(),
            data: b"d".to_vec(),
            ..Default::default()
        };
        let sig = proto::SignSingleResponse { signature: b"s".to_vec() }.encode_to_vec();
        let a = decode(Rpc::SignSingle, &current.encode_to_vec(), Some(&sig), Ended::Ok).unwrap();
        let b = decode(Rpc::SignSingle, &legacy.encode_to_vec(), Some(&sig), Ended::Ok).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.args[1], ("key", In::Blob(b"kb".to_vec())));
        assert_eq!(a.outputs, [("Signature", b"s".to_vec())]);
        // A failed call has no response fields to read.
        let failed = decode(Rpc::SignSingle, &current.encode_to_vec(), None, Ended::Rv(CkRv(0x63))).unwrap();
        assert_eq!(failed.outputs, [("Signature", Vec::new())]);
        assert!(matches!(
            decode(Rpc::SignSingle, b"\xff\xff", Some(&sig), Ended::Ok),
            Err(Undecodable::Protobuf { side: "request", .. })
        ));
    }
}
