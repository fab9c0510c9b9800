//! One RPC: evaluated arguments in, named response fields out, generated from the one
//! interface table (`rpc::rpc_table!`): each row names the setter that puts each argument
//! into the request and the getter that reads each response field, and the functions
//! below are those setters and getters. A macro over the table rather than messages
//! built and read by name at run time (prost-reflect's dynamic messages): the generated
//! code is the same as hand-written code, so a call costs no more than before, and the
//! compiler checks every field name the table gives against the generated messages; a
//! unit test in `rpc` checks the table's names and types against the proto's descriptors.
//!
//! Keys go in the `KeyBlob` field or the legacy bytes field by wire generation, and are
//! read back from that generation's field alone; where a response carries a key both as
//! bytes and as a `KeyBlob`, the two must agree.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use prost::Message;

use super::{CallError, Client, Fields, Value, Wire, failure};
use crate::pkcs11::{AttrKind, CkAttributeType, attribute_kind};
use crate::proto::{self, AttributeValue, KeyBlob, Mechanism, attribute_value::OneAttr};
use crate::rpc::{Rpc, rpc_table};

/// An evaluated step argument.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// A mechanism with its parameter, as the request's `Mech` field carries it.
    Mechanism(Mechanism),
    /// Bytes: data, a key blob, an IV, a state.
    Bytes(Vec<u8>),
    /// A number: a length, a mechanism type, a count.
    Uint(u64),
    /// A key template: attribute values by `CKA_*` number.
    Template(HashMap<u64, AttributeValue>),
    /// The attributes to read (`GetAttributeValue`), by `CKA_*` type.
    Attributes(Vec<CkAttributeType>),
}

/// Evaluated arguments by their suite names (`rpc::Rpc::args`).
#[derive(Clone, Debug, Default)]
pub struct Args(pub BTreeMap<&'static str, Arg>);

impl Args {
    fn attributes(&self, name: &str) -> &[CkAttributeType] {
        match self.0.get(name) {
            Some(Arg::Attributes(a)) => a,
            _ => &[],
        }
    }
}

/// Setters: one argument into the request field(s) the table names. A missing argument
/// (an optional one, or one the suite loader let through) leaves its fields empty.
mod set {
    use super::*;

    pub fn mech(args: &Args, name: &str, _: Wire) -> Option<Mechanism> {
        match args.0.get(name) {
            Some(Arg::Mechanism(m)) => Some(m.clone()),
            _ => None,
        }
    }

    /// The mechanism type alone (GetMechanismInfo).
    pub fn mech_type(args: &Args, name: &str, wire: Wire) -> u64 {
        mech(args, name, wire).map(|m| m.mechanism).unwrap_or_default()
    }

    pub fn bytes(args: &Args, name: &str, _: Wire) -> Vec<u8> {
        match args.0.get(name) {
            Some(Arg::Bytes(b)) => b.clone(),
            _ => Vec::new(),
        }
    }

    pub fn uint(args: &Args, name: &str, _: Wire) -> u64 {
        match args.0.get(name) {
            Some(Arg::Uint(u)) => *u,
            _ => 0,
        }
    }

    pub fn template(args: &Args, name: &str, _: Wire) -> HashMap<u64, AttributeValue> {
        match args.0.get(name) {
            Some(Arg::Template(t)) => t.clone(),
            _ => HashMap::new(),
        }
    }

    /// A key in the wire generation's field: (KeyBlob, legacy bytes).
    pub fn key(args: &Args, name: &str, wire: Wire) -> (Option<KeyBlob>, Vec<u8>) {
        match (wire, args.0.get(name)) {
            (Wire::Keyblob, Some(Arg::Bytes(_))) => (key_blob(args, name, wire), Vec::new()),
            (Wire::Legacy, Some(Arg::Bytes(b))) => (None, b.clone()),
            _ => (None, Vec::new()),
        }
    }

    /// A key where the RPC has only the `KeyBlob` field.
    pub fn key_blob(args: &Args, name: &str, _: Wire) -> Option<KeyBlob> {
        match args.0.get(name) {
            Some(Arg::Bytes(b)) => Some(KeyBlob { key_blobs: vec![b.clone()], ..Default::default() }),
            _ => None,
        }
    }

    /// The attributes asked for, as the keys of the wire generation's map:
    /// (Attributes, AttributesBytes).
    pub fn attribute_names(
        args: &Args,
        name: &str,
        wire: Wire,
    ) -> (HashMap<u64, AttributeValue>, HashMap<u64, Vec<u8>>) {
        let wanted = args.attributes(name).iter();
        match wire {
            Wire::Keyblob => (wanted.map(|a| (a.0, AttributeValue::default())).collect(), HashMap::new()),
            Wire::Legacy => (HashMap::new(), wanted.map(|a| (a.0, Vec::new())).collect()),
        }
    }
}

/// What a getter knows of the call besides its fields.
struct Call<'a> {
    rpc: Rpc,
    wire: Wire,
    args: &'a Args,
}

/// Getters: response field(s) into named fields, under the names the table gives.
mod get {
    use super::*;

    pub fn bytes(out: &mut Fields, _: &Call, names: &[&str], value: Vec<u8>) -> Result<(), CallError> {
        out.insert(names[0].to_owned(), Value::Bytes(value));
        Ok(())
    }

    pub fn mechs(out: &mut Fields, _: &Call, names: &[&str], value: Vec<u64>) -> Result<(), CallError> {
        out.insert(names[0].to_owned(), Value::Mechanisms(value));
        Ok(())
    }

    pub fn mech_info(
        out: &mut Fields,
        call: &Call,
        names: &[&str],
        info: Option<proto::MechanismInfo>,
    ) -> Result<(), CallError> {
        let rpc = call.rpc;
        let info = info.ok_or_else(|| CallError::BadResponse(format!("{rpc}: no MechInfo")))?;
        for (name, value) in names.iter().zip([info.min_key_size, info.max_key_size, info.flags]) {
            out.insert((*name).to_owned(), Value::Uint(value));
        }
        Ok(())
    }

    /// Reads a key the response carries both as bytes and as a `KeyBlob`: from the field of
    /// the wire generation in use alone (`KeyBlobs[0]` for keyblob, the bytes for legacy), so
    /// that an endpoint filling only one generation's fields fails the other; when the other
    /// field is filled too, the two must agree. Saves the key under `names[0]` and the bytes
    /// under `names[1]`.
    pub fn key(
        out: &mut Fields,
        call: &Call,
        names: &[&str],
        (bytes, blob): (Vec<u8>, Option<KeyBlob>),
    ) -> Result<(), CallError> {
        let (rpc, name, bytes_name) = (call.rpc, names[0], names[1]);
        let from_blob = blob.and_then(|b| b.key_blobs.into_iter().next());
        let key = match (call.wire, from_blob) {
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
        out.insert(name.to_owned(), Value::Bytes(key));
        out.insert(bytes_name.to_owned(), Value::Bytes(bytes));
        Ok(())
    }

    /// The attributes asked for, under their `CKA_*` names, from the map of the generation
    /// asked in (as keys are).
    pub fn attributes(
        out: &mut Fields,
        call: &Call,
        _: &[&str],
        (bytes, values): (HashMap<u64, Vec<u8>>, HashMap<u64, AttributeValue>),
    ) -> Result<(), CallError> {
        let (rpc, w) = (call.rpc, call.wire);
        for &a in call.args.attributes("attributes") {
            let value = match (w, values.get(&a.0), bytes.get(&a.0)) {
                (Wire::Keyblob, Some(v), _) => attribute_value(v)
                    .ok_or_else(|| CallError::BadResponse(format!("{rpc}: {a} has no value")))?,
                (Wire::Legacy, _, Some(raw)) => {
                    attribute_from_bytes(a, raw).map_err(CallError::BadResponse)?
                }
                _ => {
                    let map = if w == Wire::Keyblob { "Attributes" } else { "AttributesBytes" };
                    return Err(CallError::BadResponse(format!(
                        "{rpc}: {a} was asked for in {map} ({w} wire generation) but not returned there"
                    )));
                }
            };
            out.insert(a.to_string(), value);
        }
        Ok(())
    }
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
    /// The response's fields, or why there are none: the last attempt's.
    pub result: Result<Fields, CallError>,
    /// Retries made, at most [`MAX_ATTEMPTS`](super::MAX_ATTEMPTS) - 1.
    pub retries: u32,
    /// Times the request was sent again because its connection closed under it, at most
    /// [`MAX_RESENDS`](super::retry::MAX_RESENDS).
    pub resent: u32,
}

impl Client {
    /// Performs one RPC, retrying it when the endpoint asks to (`retry`).
    pub async fn call(&self, rpc: Rpc, args: &Args) -> Result<Fields, CallError> {
        self.call_counted(rpc, args).await.result
    }

    /// [`Client::call`], also telling how many retries it took.
    pub async fn call_counted(&self, rpc: Rpc, args: &Args) -> Counted {
        let mut attempts = self.attempts();
        let result = self.call_retrying(rpc, args, &mut attempts).await;
        Counted { result, retries: attempts.retries, resent: attempts.resent }
    }
}

/// The client's side of each RPC from the table: building its request and reading its
/// response, and sending it with retries inside the one per-call deadline.
macro_rules! client_calls {
    ($($name:ident $method:ident ($req:ident -> $resp:ident) seed $seed:literal {
        args: $($set:ident $arg:literal $need:ident ($($to:ident),+)),* ;
        fields: $($get:ident ($($field:literal),*) ($($from:ident),+)),* ;
    })*) => {
        impl Client {
            /// The protobuf bytes of the request [`Client::call`] would send for `args`
            /// (without the gRPC frame header): for callers that encode a fixed request
            /// once and send it many times.
            pub fn encode_request(&self, rpc: Rpc, args: &Args) -> bytes::Bytes {
                let w = self.wire;
                // Unused parentheses: a one-field setter assigns to `(m.field)`.
                #[allow(unused_parens, unused_mut)]
                let encoded = match rpc {
                    $(Rpc::$name => {
                        let mut m = proto::$req::default();
                        $( ($(m.$to),+) = set::$set(args, $arg, w); )*
                        m.encode_to_vec()
                    })*
                };
                bytes::Bytes::from(encoded)
            }

            /// Reads `rpc`'s response fields from its protobuf bytes.
            #[allow(unused_parens, unused_variables)]
            fn read_response(&self, call: &Call<'_>, answer: bytes::Bytes) -> Result<Fields, CallError> {
                let mut f = Fields::new();
                match call.rpc {
                    $(Rpc::$name => {
                        let r = proto::$resp::decode(answer)
                            .map_err(|e| CallError::NoAnswer(failure::undecodable(&e)))?;
                        $( get::$get(&mut f, call, &[$($field),*], ($(r.$from),+))?; )*
                    })*
                }
                Ok(f)
            }
        }
    };
}

impl Client {
    async fn call_retrying(
        &self,
        rpc: Rpc,
        args: &Args,
        attempts: &mut super::retry::Attempts,
    ) -> Result<Fields, CallError> {
        // Encoded once: a retry sends the same bytes.
        let body = self.encode_request(rpc, args);
        // Every attempt, and every wait between them, fits inside the one per-call deadline.
        let deadline = Instant::now() + self.timeout;
        let answer = loop {
            let mut request = self.request(body.clone()).await?;
            request.set_timeout(deadline.saturating_duration_since(Instant::now()));
            match self.unary(rpc, request).await {
                Ok(answer) => break answer,
                Err(status) => self.after_refusal(status, deadline, attempts).await?,
            }
        };
        self.read_response(&Call { rpc, wire: self.wire, args }, answer)
    }
}

rpc_table!(client_calls);

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
            let bytes = client.encode_request(Rpc::EncryptSingle, &args);
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
        let bytes = client.encode_request(Rpc::GenerateRandom, &random);
        assert_eq!(proto::GenerateRandomRequest::decode(bytes).unwrap().len, 32);
        assert!(client.encode_request(Rpc::Logout, &Args::default()).is_empty());
    }
}
