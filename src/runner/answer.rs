//! What a step's answer looked like, reduced to what two endpoints can be compared on:
//! the code, and for a success each field's kind and length (or value, for numbers and
//! mechanism lists) and, for a public key, what key it is. Byte values are left out: the
//! same case run twice draws fresh keys and random inputs, so only their shape can agree.

use super::expect::Observed;
use crate::client::Value;
use crate::pkcs11::{CkMechanismType, CkRv, Curve};

/// A step's answer, as far as it can be compared with another endpoint's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepAnswer {
    /// CKR_OK, with the response's fields by name.
    Ok(Vec<(String, Shape)>),
    /// A PKCS #11 refusal.
    Rv(CkRv),
    /// A gRPC status without a `Grep11Error`.
    Grpc(tonic::Code),
    /// No answer (deadline, connection), a malformed one, a refused credential, or a
    /// misused retry: nothing to compare but that.
    NoAnswer,
    /// An answer that breaks the interface: a malformed `Grep11Error` detail, or an OK
    /// response whose fields are not what the RPC returns.
    Malformed,
    /// The credentials were refused, or no bearer token could be had.
    Auth,
    /// A refusal marked Retry that no retry turned into an answer.
    RetryMisused,
    /// A `local.*` step: whether the harness's check of the endpoint's output held.
    Local {
        /// The local computation and the step's field checks succeeded.
        held: bool,
    },
}

/// One response field's comparable shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Data whose length is fixed by the mechanism and input (digests, signatures,
    /// ciphertexts, random bytes).
    Bytes(usize),
    /// A key blob or operation state: opaque and of the implementation's own length; only
    /// whether it is there can be compared.
    Opaque {
        /// The field came back with no bytes.
        empty: bool,
    },
    /// A public key: the key it holds (`EC P-256`, `RSA 2048`), or `unparsed` when it
    /// does not begin with a SubjectPublicKeyInfo. Whatever an endpoint appends after the
    /// SPKI (an integrity tag) is its own.
    PublicKey(String),
    /// A number (an attribute, a length), compared by value.
    Uint(u64),
    /// A mechanism list (`CKM_*` values in the endpoint's order), compared by value.
    Mechanisms(Vec<u64>),
}

/// Fields holding key blobs (both wire generations) and states, compared as [`Shape::Opaque`].
const OPAQUE: &[&str] = &["Key", "PrivKey", "Unwrapped", "NewKey", "Rewrapped", "State", "Object", "Pinblob"];
/// Fields holding a public key that begins with an SPKI.
const PUBLIC: &[&str] = &["PubKey", "CKA_PUBLIC_KEY_INFO"];

/// The name a field goes by whatever the wire generation: `KeyBytes` is `Key`.
pub fn field_name(name: &str) -> &str {
    match name.strip_suffix("Bytes") {
        Some(base) if OPAQUE.contains(&base) || PUBLIC.contains(&base) => base,
        _ => name,
    }
}

impl StepAnswer {
    pub(crate) fn of(observed: &Observed) -> StepAnswer {
        match observed {
            Observed::Ok(fields) => StepAnswer::Ok(
                fields
                    .iter()
                    .map(|(name, value)| (field_name(name).to_owned(), shape(field_name(name), value)))
                    .collect(),
            ),
            Observed::Rv(failure) => StepAnswer::Rv(failure.rv),
            Observed::Grpc(code, _) => StepAnswer::Grpc(*code),
            Observed::NoAnswer(_) => StepAnswer::NoAnswer,
            Observed::Malformed(_) => StepAnswer::Malformed,
            Observed::Auth(_) => StepAnswer::Auth,
            Observed::RetryMisused(_) => StepAnswer::RetryMisused,
        }
    }

    /// The code part alone, as a reader knows it: `CKR_OK (0x0)`, `gRPC UNAVAILABLE`,
    /// `no answer`.
    pub fn code(&self) -> String {
        match self {
            StepAnswer::Ok(_) => crate::pkcs11::CKR_OK.describe(),
            StepAnswer::Rv(rv) => rv.describe(),
            StepAnswer::Grpc(code) => format!("gRPC {}", crate::suite::grpc_code_name(*code)),
            StepAnswer::NoAnswer => "no answer".into(),
            StepAnswer::Malformed => "malformed answer".into(),
            StepAnswer::Auth => "credentials refused".into(),
            StepAnswer::RetryMisused => "retry misused".into(),
            StepAnswer::Local { held: true } => "check held".into(),
            StepAnswer::Local { held: false } => "check failed".into(),
        }
    }
}

fn shape(name: &str, value: &Value) -> Shape {
    match value {
        Value::Uint(u) => Shape::Uint(*u),
        Value::Mechanisms(m) => Shape::Mechanisms(m.clone()),
        Value::Bytes(b) if OPAQUE.contains(&name) => Shape::Opaque { empty: b.is_empty() },
        Value::Bytes(b) if PUBLIC.contains(&name) => {
            Shape::PublicKey(public_key_kind(b).unwrap_or_else(|| "unparsed".to_owned()))
        }
        Value::Bytes(b) => Shape::Bytes(b.len()),
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Bytes(n) => write!(f, "{n} bytes"),
            Shape::Opaque { empty: true } => f.write_str("empty"),
            Shape::Opaque { empty: false } => f.write_str("present"),
            Shape::PublicKey(kind) => write!(f, "public key {kind}"),
            Shape::Uint(u) => write!(f, "{u} ({u:#x})"),
            Shape::Mechanisms(m) => write!(f, "{} mechanisms", m.len()),
        }
    }
}

/// `EC P-256`, `RSA 2048`, `Ed25519`, or the algorithm's OID: what an SPKI (or a blob that
/// begins with one) holds; `None` when there is none to read.
pub fn public_key_kind(blob: &[u8]) -> Option<String> {
    use der::Decode as _;
    let der = super::reference::spki(blob).ok()?;
    let info = spki::SubjectPublicKeyInfoRef::from_der(&der).ok()?;
    let oid = info.algorithm.oid;
    if oid == Curve::ED25519.oid {
        return Some("Ed25519".into());
    }
    if oid == rsa::pkcs1::ALGORITHM_OID {
        let bits = info.subject_public_key.as_bytes()?;
        let key = rsa::pkcs1::RsaPublicKeyRef::from_der(bits).ok()?;
        let modulus = key.modulus.as_bytes();
        let leading = modulus.iter().take_while(|b| **b == 0).count();
        let significant = &modulus[leading..];
        let size = significant.first().map_or(0, |top| 8 * significant.len() - top.leading_zeros() as usize);
        return Some(format!("RSA {size}"));
    }
    let curve = info
        .algorithm
        .parameters_oid()
        .ok()
        .and_then(|p| Curve::ALL.into_iter().find(|c| c.oid == p))
        .map_or_else(|| "unknown curve".to_owned(), |c| c.name.to_owned());
    match oid.to_string().as_str() {
        // id-ecPublicKey
        "1.2.840.10045.2.1" => Some(format!("EC {curve}")),
        other => Some(format!("algorithm {other}")),
    }
}

/// A mechanism list's members, as names.
pub fn mechanism_names(list: &[u64]) -> Vec<String> {
    list.iter().map(|m| CkMechanismType(*m).to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_are_told_by_curve_and_modulus_size() {
        let ec = crate::runner::reference::keypair(&Curve::P256.ec_params()).unwrap();
        let mut tagged = ec.spki.clone();
        tagged.extend_from_slice(b"integrity-tag");
        assert_eq!(public_key_kind(&tagged).as_deref(), Some("EC P-256"));
        let rsa = crate::runner::reference::rsa_keypair(1024).unwrap();
        assert_eq!(public_key_kind(&rsa.spki).as_deref(), Some("RSA 1024"));
        assert_eq!(public_key_kind(b"not der"), None);
    }

    #[test]
    fn key_fields_share_one_name_across_wire_generations() {
        assert_eq!(field_name("PubKeyBytes"), "PubKey");
        assert_eq!(field_name("KeyBytes"), "Key");
        assert_eq!(field_name("Digest"), "Digest");
        let blob = Value::Bytes(vec![1, 2, 3]);
        assert_eq!(shape("Key", &blob), Shape::Opaque { empty: false });
        assert_eq!(shape("Digest", &blob), Shape::Bytes(3));
    }
}
