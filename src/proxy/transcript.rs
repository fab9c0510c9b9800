//! Recorded calls as suite steps. Every output of a call is remembered by its bytes; a
//! later argument with the same bytes is written as the variable that output was saved
//! in, which is how key blobs and states flow from one step to the next. A key or state
//! argument that matches no earlier output (made before the recording began) cannot be
//! replayed: that call is left out with a comment saying why, and so is anything that
//! needed its outputs. Expectations: the recorded `CKR_*` or gRPC code; for answers, the
//! value when it equals an earlier value (a decryption returning the plaintext), a local
//! reference computation where the harness can make one that agreed with the recorded
//! answer (digests, signatures checked with the public key of a recorded key pair), and
//! the length otherwise. Key blobs and states are opaque: never checked, never written out.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::pkcs11::{AttrKind, CkAttributeType, CkEcKdf, CkMechanismType, CkRv, attribute_kind};
use crate::proto::{self, AttributeValue, attribute_value::OneAttr, mechanism::Parameter};
use crate::rpc::Rpc;
use crate::runner::reference;
use crate::suite::{BtcDeriveType, Mgf, grpc_code_name};

use super::decode::{Call, Ended, In};

/// One step as it will be written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Step {
    /// An RPC name or `local.*`; empty for a comment alone.
    pub action: String,
    /// The RPC, for a call.
    pub rpc: Option<Rpc>,
    /// Argument name and its YAML flow text.
    pub args: Vec<(&'static str, String)>,
    /// variable ← field
    pub save: BTreeMap<String, &'static str>,
    /// `{..}` flow text; `None` is `ok` with no field checks.
    pub expect: Option<String>,
    /// Variables the step reads (arguments and expectations).
    pub uses: BTreeSet<String>,
    /// For a call: what the workload groups it by (RPC, mechanism, outcome).
    pub group: Option<String>,
    /// For a local step that judges a call's answer: that call's step index.
    pub checks: Option<usize>,
    /// A comment written above the step.
    pub comment: Option<String>,
}

/// Where a remembered value came from.
#[derive(Clone, Debug)]
struct Source {
    step: usize,
    field: &'static str,
}

/// A multi-part operation's history, by the state it is at.
#[derive(Clone, Debug)]
struct Lineage {
    mech: proto::Mechanism,
    /// The key the Init step was given (for signatures).
    key: Option<Vec<u8>>,
    parts: Vec<String>,
    data: Vec<u8>,
}

/// Key fields of responses: opaque, any length, never checked.
const BLOB_FIELDS: &[&str] =
    &["Key", "PubKey", "PrivKey", "State", "Unwrapped", "NewKey", "Rewrapped", "Object", "Pinblob"];
/// Answer fields whose value or length a replay can check.
const CHECKED_FIELDS: &[&str] = &["Digest", "Signature", "Ciphered", "Plain", "Rnd", "Wrapped", "Reciphered"];
/// Arguments whose values are message data (what `--redact data` replaces).
const DATA_ARGS: &[&str] = &["data", "plain", "ciphered", "signature", "mixin", "wrapped", "pin", "storeid"];
/// Shorter answers are not matched against later arguments: a coincidence is too likely.
const MIN_MATCH: usize = 4;

/// Builds the steps of one recording.
#[derive(Default)]
pub struct Transcript {
    redact: bool,
    /// The steps so far, in call order.
    pub steps: Vec<Step>,
    values: HashMap<Vec<u8>, Source>,
    literals: BTreeSet<Vec<u8>>,
    lineage: HashMap<Vec<u8>, Lineage>,
    /// private key blob → public key blob, from GenerateKeyPair.
    pairs: HashMap<Vec<u8>, Vec<u8>>,
    /// How many calls were left out (each has a comment step saying why).
    pub left_out: usize,
}

/// Why a call cannot be written as a step.
struct Skip(String);

impl Transcript {
    /// An empty transcript; `redact` writes placeholders for message data (`--redact data`).
    pub fn new(redact: bool) -> Transcript {
        Transcript { redact, ..Default::default() }
    }

    /// A comment in the step list (a call that could not be recorded).
    pub fn note(&mut self, text: String) {
        self.left_out += 1;
        self.steps.push(Step { comment: Some(text), ..Default::default() });
    }

    /// Adds one call: its step, with any local steps that prepare or judge it.
    pub fn add(&mut self, number: usize, call: &Call) {
        let mark = self.steps.len();
        let outcome = self.replayable(call).and_then(|()| self.try_add(call));
        if let Err(Skip(why)) = outcome {
            self.steps.truncate(mark);
            self.note(format!("call {number} ({}) left out: {why}", call.rpc));
        }
    }

    /// Whether every argument can be written: keys and states made earlier in the
    /// recording, names for every mechanism, attribute and parameter constant.
    fn replayable(&self, call: &Call) -> Result<(), Skip> {
        for (_, value) in &call.args {
            match value {
                In::Blob(b) if !b.is_empty() && !self.values.contains_key(b) => {
                    return Err(Skip(
                        "a key blob or state it was given was not made in this recording".into(),
                    ));
                }
                In::Mech(m) => check_mech(m)?,
                In::Template(t) => {
                    for (attr, value) in t {
                        template_value(CkAttributeType(*attr), value, |_| String::new())?;
                    }
                }
                In::Attributes(list) => {
                    for a in list {
                        attr_name(*a)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn try_add(&mut self, call: &Call) -> Result<(), Skip> {
        let mut step = Step { action: call.rpc.name().to_owned(), rpc: Some(call.rpc), ..Default::default() };
        // Arguments first: they may add local steps (redacted data) ahead of the call.
        let mut pending_names = Vec::new();
        for (name, value) in &call.args {
            let text = match value {
                In::Mech(m) => self.mech(m, &mut step.uses, &mut pending_names)?,
                In::Blob(b) => self.blob(b, &mut step.uses, &mut pending_names)?,
                In::Data(d) if DATA_ARGS.contains(name) => {
                    self.data(d, self.redact, &mut step.uses, &mut pending_names)
                }
                In::Data(d) => self.data(d, false, &mut step.uses, &mut pending_names),
                In::Uint(u) => u.to_string(),
                In::Template(t) => self.template(t, &mut step.uses, &mut pending_names)?,
                In::Attributes(a) => {
                    let names: Result<Vec<&str>, Skip> = a.iter().map(|n| attr_name(*n)).collect();
                    format!("[{}]", names?.join(", "))
                }
            };
            step.args.push((name, text));
        }
        let group_mech = self.group_mech(call);
        step.group = Some(match (&group_mech, &call.ended) {
            (Some(m), Ended::Ok) => format!("{} {m}", call.rpc),
            (None, Ended::Ok) => call.rpc.name().to_owned(),
            (m, ended) => format!(
                "{}{} {}",
                call.rpc,
                m.as_ref().map(|m| format!(" {m}")).unwrap_or_default(),
                ended_name(ended)
            ),
        });
        let mut checks = Vec::new();
        let mut after = Vec::new();
        match &call.ended {
            Ended::Rv(rv) => step.expect = Some(format!("{{error: {}}}", rv_name(*rv))),
            Ended::Grpc(code) => step.expect = Some(format!("{{grpc: {}}}", grpc_code_name(*code))),
            Ended::Ok => {
                let reference_digest = self.reference_digest(call, &step.args);
                for (field, bytes) in &call.outputs {
                    if !CHECKED_FIELDS.contains(field) {
                        continue;
                    }
                    let check = if *field == "Digest"
                        && let Some(var) = &reference_digest
                    {
                        step.uses.insert(var.clone());
                        format!("${var}")
                    } else if bytes.len() >= MIN_MATCH
                        && let Some(var) = self.var(bytes, &mut pending_names)
                    {
                        step.uses.insert(var.clone());
                        format!("${var}")
                    } else if bytes.len() >= MIN_MATCH && self.literals.contains(bytes) {
                        format!("\"hex:{}\"", hex::encode(bytes))
                    } else {
                        format!("{{len: {}}}", bytes.len())
                    };
                    checks.push(format!("{field}: {check}"));
                }
                for (attr, value) in &call.attributes {
                    if let Some(check) = attribute_check(*attr, value) {
                        checks.push(check);
                    }
                }
                after = self.signature_check(call, &step.args);
            }
        }
        if !checks.is_empty() {
            step.expect = Some(format!("{{{}}}", checks.join(", ")));
        }
        for (step_index, var, field) in pending_names {
            self.steps[step_index].save.insert(var, field);
        }
        let index = self.steps.len();
        self.steps.push(step);
        if call.ended == Ended::Ok {
            self.remember(index, call);
        }
        for mut local in after {
            let mut names = Vec::new();
            // The signature is this call's output, remembered just above.
            if let Some(sig) = call.outputs.iter().find(|(f, _)| *f == "Signature").map(|(_, b)| b.clone())
                && let Some(var) = self.var(&sig, &mut names)
            {
                local.uses.insert(var.clone());
                local.args.push(("signature", format!("\"${var}\"")));
            }
            for (i, var, field) in names {
                self.steps[i].save.insert(var, field);
            }
            local.checks = Some(index);
            self.steps.push(local);
        }
        Ok(())
    }

    /// Remembers a successful call's outputs and what they mean for later checks.
    fn remember(&mut self, index: usize, call: &Call) {
        for (field, bytes) in &call.outputs {
            let blob = BLOB_FIELDS.contains(field);
            if (blob && !bytes.is_empty()) || (CHECKED_FIELDS.contains(field) && bytes.len() >= MIN_MATCH) {
                self.values.insert(bytes.clone(), Source { step: index, field });
            }
        }
        let output = |name: &str| call.outputs.iter().find(|(f, _)| *f == name).map(|(_, b)| b.clone());
        let arg = |name: &str| call.args.iter().find(|(n, _)| *n == name).map(|(_, v)| v);
        let data = |v: Option<&In>| match v {
            Some(In::Data(d)) => d.clone(),
            _ => Vec::new(),
        };
        let state_in = match arg("state") {
            Some(In::Blob(s)) => self.lineage.get(s).cloned(),
            _ => None,
        };
        match call.rpc {
            Rpc::GenerateKeyPair => {
                if let (Some(public), Some(private)) = (output("PubKey"), output("PrivKey")) {
                    self.pairs.insert(private, public);
                }
            }
            Rpc::DigestInit | Rpc::SignInit | Rpc::VerifyInit => {
                if let (Some(In::Mech(mech)), Some(state)) = (arg("mech"), output("State")) {
                    let key = match arg("key") {
                        Some(In::Blob(k)) => Some(k.clone()),
                        _ => None,
                    };
                    self.lineage.insert(
                        state,
                        Lineage { mech: mech.clone(), key, parts: Vec::new(), data: Vec::new() },
                    );
                }
            }
            Rpc::DigestUpdate | Rpc::SignUpdate | Rpc::VerifyUpdate => {
                if let (Some(mut lineage), Some(state)) = (state_in, output("State")) {
                    let bytes = data(arg("data"));
                    if let Some((_, text)) = self.steps[index].args.iter().find(|(n, _)| *n == "data")
                        && !bytes.is_empty()
                    {
                        lineage.parts.push(unquote(text));
                    }
                    lineage.data.extend_from_slice(&bytes);
                    self.lineage.insert(state, lineage);
                }
            }
            _ => {}
        }
    }

    /// The mechanism a call's workload is grouped by: its own, or its state's.
    fn group_mech(&self, call: &Call) -> Option<String> {
        let mech = call.args.iter().find_map(|(n, v)| match (n, v) {
            (&"mech" | &"decmech", In::Mech(m)) => Some(m.mechanism),
            _ => None,
        });
        let mech = mech.or_else(|| match call.args.iter().find(|(n, _)| *n == "state") {
            Some((_, In::Blob(s))) => self.lineage.get(s).map(|l| l.mech.mechanism),
            _ => None,
        })?;
        Some(mech_name(mech))
    }

    /// The saved variable holding `bytes`, naming it on its step when first needed.
    fn var(&self, bytes: &[u8], pending: &mut Vec<(usize, String, &'static str)>) -> Option<String> {
        let source = self.values.get(bytes)?;
        let existing = self
            .steps
            .get(source.step)?
            .save
            .iter()
            .find(|(_, f)| **f == source.field)
            .map(|(v, _)| v.clone());
        if let Some(var) = existing {
            return Some(var);
        }
        if let Some((_, var, _)) = pending.iter().find(|(s, _, f)| *s == source.step && *f == source.field) {
            return Some(var.clone());
        }
        let var = format!("{}{}", prefix(source.field), source.step + 1);
        pending.push((source.step, var.clone(), source.field));
        Some(var)
    }

    /// A key blob or state: only ever an earlier output.
    fn blob(
        &mut self,
        bytes: &[u8],
        uses: &mut BTreeSet<String>,
        pending: &mut Vec<(usize, String, &'static str)>,
    ) -> Result<String, Skip> {
        if bytes.is_empty() {
            return Ok("\"hex:\"".into());
        }
        let var = self
            .var(bytes, pending)
            .ok_or_else(|| Skip("a key blob or state it was given was not made in this recording".into()))?;
        uses.insert(var.clone());
        Ok(format!("\"${var}\""))
    }

    /// A data value: an earlier output's variable, a literal, or (redacted) a fresh random
    /// value of the same length saved by a `local.random` step.
    fn data(
        &mut self,
        bytes: &[u8],
        redact: bool,
        uses: &mut BTreeSet<String>,
        pending: &mut Vec<(usize, String, &'static str)>,
    ) -> String {
        if bytes.is_empty() {
            return "\"hex:\"".into();
        }
        if bytes.len() >= MIN_MATCH
            && let Some(var) = self.var(bytes, pending)
        {
            uses.insert(var.clone());
            return format!("\"${var}\"");
        }
        if !redact {
            self.literals.insert(bytes.to_vec());
            return format!("\"hex:{}\"", hex::encode(bytes));
        }
        // Flush names chosen so far: the new step goes before the call being built.
        let index = self.steps.len();
        let var = format!("data{}", index + 1);
        let mut save = BTreeMap::new();
        save.insert(var.clone(), "Rnd");
        self.steps.push(Step {
            action: "local.random".into(),
            args: vec![("len", bytes.len().to_string())],
            save,
            ..Default::default()
        });
        self.values.insert(bytes.to_vec(), Source { step: index, field: "Rnd" });
        uses.insert(var.clone());
        format!("\"${var}\"")
    }

    fn mech(
        &mut self,
        m: &proto::Mechanism,
        uses: &mut BTreeSet<String>,
        pending: &mut Vec<(usize, String, &'static str)>,
    ) -> Result<String, Skip> {
        let name = CkMechanismType(m.mechanism).name();
        let text = match (&m.parameter, name) {
            (None, Some(name)) => name.to_owned(),
            (None, None) => m.mechanism.to_string(),
            (Some(_), None) => return Err(Skip(format!("mechanism {:#x} has no CKM_ name", m.mechanism))),
            (Some(Parameter::ParameterB(b)), Some(name)) => {
                format!("{{type: {name}, param: {}}}", self.data(b, false, uses, pending))
            }
            (Some(Parameter::RsaoaepParameter(p)), Some(name)) => {
                let label = if p.encoding_parm.is_empty() {
                    String::new()
                } else {
                    format!(", label: {}", self.data(&p.encoding_parm, false, uses, pending))
                };
                format!(
                    "{{type: {name}, oaep: {{hash: {}, mgf: {}{label}}}}}",
                    named_mech(p.hash_mech)?,
                    mgf(p.mgf)?
                )
            }
            (Some(Parameter::RsapssParameter(p)), Some(name)) => format!(
                "{{type: {name}, pss: {{hash: {}, mgf: {}, salt: {}}}}}",
                named_mech(p.hash_mech)?,
                mgf(p.mgf)?,
                p.salt_byte_count
            ),
            (Some(Parameter::Ecdh1DeriveParameter(p)), Some(name)) => {
                let kdf = CkEcKdf(p.kdf as u64)
                    .name()
                    .ok_or_else(|| Skip(format!("ECDH KDF {} has no CKD_ name", p.kdf)))?;
                let public = self.data(&p.public_data, false, uses, pending);
                let shared = if p.shared_data.is_empty() {
                    String::new()
                } else {
                    format!(", shared: {}", self.data(&p.shared_data, false, uses, pending))
                };
                format!("{{type: {name}, ecdh: {{kdf: {kdf}, public: {public}{shared}}}}}")
            }
            (Some(Parameter::BtcDeriveParameter(p)), Some(name)) => {
                let kind = BtcDeriveType::from_value(p.r#type as u64)
                    .map(BtcDeriveType::name)
                    .ok_or_else(|| Skip(format!("BTC derivation type {} is unknown", p.r#type)))?;
                let chain = if p.chain_code.is_empty() {
                    String::new()
                } else {
                    format!(", chain: {}", self.data(&p.chain_code, false, uses, pending))
                };
                format!(
                    "{{type: {name}, btc: {{type: {kind}, index: {}{chain}, version: {}}}}}",
                    p.child_key_index, p.version
                )
            }
        };
        Ok(text)
    }

    fn template(
        &mut self,
        template: &HashMap<u64, AttributeValue>,
        uses: &mut BTreeSet<String>,
        pending: &mut Vec<(usize, String, &'static str)>,
    ) -> Result<String, Skip> {
        let mut attrs: Vec<(&u64, &AttributeValue)> = template.iter().collect();
        attrs.sort_by_key(|(a, _)| **a);
        let mut out = Vec::new();
        for (attr, value) in attrs {
            let attr = CkAttributeType(*attr);
            let mut data = |b: &[u8]| self.data(b, false, uses, pending);
            if let Some(text) = template_value(attr, value, &mut data)? {
                out.push(format!("{}: {text}", attr_name(attr.0)?));
            }
        }
        Ok(format!("{{{}}}", out.join(", ")))
    }

    /// For a digest answer the harness can compute itself: a `local.digest` step ahead of
    /// the call (its variable name is returned), when the recorded answer agreed with it.
    fn reference_digest(&mut self, call: &Call, written: &[(&'static str, String)]) -> Option<String> {
        let digest = call.outputs.iter().find(|(f, _)| *f == "Digest").map(|(_, b)| b)?;
        let (mech, parts, data) = self.operation(call, written)?;
        if reference::digest(CkMechanismType(mech.mechanism), &data).ok()? != *digest
            || mech.parameter.is_some()
        {
            return None;
        }
        let index = self.steps.len();
        let var = format!("ref{}", index + 1);
        let data_text = match parts.as_slice() {
            [] => "\"hex:\"".to_owned(),
            [one] => format!("\"{one}\""),
            many => format!("\"concat({})\"", many.join(", ")),
        };
        let mut uses = BTreeSet::new();
        for part in &parts {
            if let Some(v) = part.strip_prefix('$') {
                uses.insert(v.to_owned());
            }
        }
        let mut save = BTreeMap::new();
        save.insert(var.clone(), "Digest");
        self.steps.push(Step {
            action: "local.digest".into(),
            args: vec![("mech", mech_name(mech.mechanism)), ("data", data_text)],
            save,
            uses,
            ..Default::default()
        });
        Some(var)
    }

    /// The mechanism, data parts (as expressions) and data of a digest or signature call:
    /// its own for a single-call RPC, its state's history plus its own data otherwise.
    fn operation(
        &self,
        call: &Call,
        written: &[(&'static str, String)],
    ) -> Option<(proto::Mechanism, Vec<String>, Vec<u8>)> {
        let arg = |name: &str| call.args.iter().find(|(n, _)| *n == name).map(|(_, v)| v);
        let own_data = match arg("data") {
            Some(In::Data(d)) => d.clone(),
            _ => Vec::new(),
        };
        let (mech, mut parts, mut data) = match (arg("mech"), arg("state")) {
            (Some(In::Mech(m)), _) => (m.clone(), Vec::new(), Vec::new()),
            (_, Some(In::Blob(s))) => {
                let l = self.lineage.get(s)?;
                (l.mech.clone(), l.parts.clone(), l.data.clone())
            }
            _ => return None,
        };
        // The data argument as this call's step writes it.
        if let Some((_, text)) = written.iter().find(|(n, _)| *n == "data")
            && !own_data.is_empty()
        {
            parts.push(unquote(text));
        }
        data.extend_from_slice(&own_data);
        Some((mech, parts, data))
    }

    /// A `local.verify` of a signature made with the private half of a recorded key pair,
    /// when the recorded signature verifies with the harness's own code (the signature
    /// argument is added once the call's output is remembered).
    fn signature_check(&mut self, call: &Call, written: &[(&'static str, String)]) -> Vec<Step> {
        if !matches!(call.rpc, Rpc::SignSingle | Rpc::Sign | Rpc::SignFinal) {
            return Vec::new();
        }
        let Some(signature) = call.outputs.iter().find(|(f, _)| *f == "Signature").map(|(_, b)| b.clone())
        else {
            return Vec::new();
        };
        let mut pending = Vec::new();
        let Some((mech, parts, data)) = self.operation(call, written) else { return Vec::new() };
        let key = match call.args.iter().find(|(n, _)| *n == "key") {
            Some((_, In::Blob(k))) => Some(k.clone()),
            _ => call.args.iter().find_map(|(n, v)| match (n, v) {
                (&"state", In::Blob(s)) => self.lineage.get(s).and_then(|l| l.key.clone()),
                _ => None,
            }),
        };
        let Some(public) = key.and_then(|k| self.pairs.get(&k).cloned()) else { return Vec::new() };
        if reference::verify(CkMechanismType(mech.mechanism), &public, &data, &signature, None).is_err() {
            return Vec::new();
        }
        let Some(pub_var) = self.var(&public, &mut pending) else { return Vec::new() };
        let mut uses = BTreeSet::from([pub_var.clone()]);
        let Ok(mech_text) = self.mech(&mech, &mut uses, &mut pending) else { return Vec::new() };
        for part in &parts {
            if let Some(v) = part.strip_prefix('$') {
                uses.insert(v.to_owned());
            }
        }
        let data_text = match parts.as_slice() {
            [] => "\"hex:\"".to_owned(),
            [one] => format!("\"{one}\""),
            many => format!("\"concat({})\"", many.join(", ")),
        };
        for (i, var, field) in pending {
            self.steps[i].save.insert(var, field);
        }
        vec![Step {
            action: "local.verify".into(),
            args: vec![("mech", mech_text), ("key", format!("\"${pub_var}\"")), ("data", data_text)],
            uses,
            ..Default::default()
        }]
    }
}

/// A YAML double-quoted expression back to the expression.
fn unquote(text: &str) -> String {
    text.trim_matches('"').to_owned()
}

fn prefix(field: &str) -> &'static str {
    match field {
        "Key" | "Unwrapped" | "NewKey" | "Rewrapped" => "key",
        "PubKey" => "pub",
        "PrivKey" => "priv",
        "State" => "state",
        "Signature" => "sig",
        "Ciphered" | "Reciphered" => "ct",
        "Plain" => "pt",
        "Digest" => "md",
        "Rnd" => "rnd",
        "Wrapped" => "wrapped",
        "Object" => "obj",
        "Pinblob" => "pin",
        _ => "v",
    }
}

/// A mechanism's name, or its number when it has none.
pub fn mech_name(mech: u64) -> String {
    CkMechanismType(mech).name().map(str::to_owned).unwrap_or_else(|| mech.to_string())
}

fn named_mech(mech: u64) -> Result<&'static str, Skip> {
    CkMechanismType(mech).name().ok_or_else(|| Skip(format!("mechanism {mech:#x} has no CKM_ name")))
}

fn mgf(value: i32) -> Result<&'static str, Skip> {
    Mgf::from_value(value as u64).map(Mgf::name).ok_or_else(|| Skip(format!("MGF {value} is unknown")))
}

fn rv_name(rv: CkRv) -> String {
    rv.name().map(str::to_owned).unwrap_or_else(|| rv.0.to_string())
}

fn ended_name(ended: &Ended) -> String {
    match ended {
        Ended::Ok => "CKR_OK".into(),
        Ended::Rv(rv) => rv_name(*rv),
        Ended::Grpc(code) => grpc_code_name(*code),
    }
}

/// An `expect` check for a boolean or integer attribute (deterministic in what the
/// template asked for); byte attributes are not checked.
fn attribute_check(attr: u64, value: &AttributeValue) -> Option<String> {
    let attr = CkAttributeType(attr);
    let name = attr.name()?;
    match (attribute_kind(attr)?, value.one_attr.as_ref()?) {
        (AttrKind::Bool, OneAttr::AttributeTf(b)) => Some(format!("{name}: {b}")),
        (AttrKind::Bool, OneAttr::AttributeI(i)) => Some(format!("{name}: {}", *i != 0)),
        (AttrKind::Ulong, OneAttr::AttributeI(i)) if *i >= 0 => Some(format!("{name}: {i}")),
        _ => None,
    }
}

fn attr_name(attr: u64) -> Result<&'static str, Skip> {
    CkAttributeType(attr).name().ok_or_else(|| Skip(format!("attribute {attr:#x} has no CKA_ name")))
}

/// A template value as YAML (`None`: no value given), bytes written by `data`.
fn template_value(
    attr: CkAttributeType,
    value: &AttributeValue,
    mut data: impl FnMut(&[u8]) -> String,
) -> Result<Option<String>, Skip> {
    let name = attr_name(attr.0)?;
    Ok(Some(match (&value.one_attr, attribute_kind(attr)) {
        (None, _) => return Ok(None),
        (Some(OneAttr::AttributeTf(b)), Some(AttrKind::Bool) | None) => b.to_string(),
        (Some(OneAttr::AttributeI(i)), Some(AttrKind::Bool)) => (*i != 0).to_string(),
        (Some(OneAttr::AttributeI(i)), _) if *i >= 0 => i.to_string(),
        (Some(OneAttr::AttributeB(b)), Some(AttrKind::Bytes) | None) => data(b),
        (Some(other), _) => return Err(Skip(format!("{name} has a value of the wrong type ({other:?})"))),
    }))
}

/// Every constant inside a mechanism has a name the suite language reads.
fn check_mech(m: &proto::Mechanism) -> Result<(), Skip> {
    let Some(parameter) = &m.parameter else { return Ok(()) };
    named_mech(m.mechanism)?;
    match parameter {
        Parameter::ParameterB(_) => {}
        Parameter::RsaoaepParameter(p) => {
            named_mech(p.hash_mech)?;
            mgf(p.mgf)?;
        }
        Parameter::RsapssParameter(p) => {
            named_mech(p.hash_mech)?;
            mgf(p.mgf)?;
        }
        Parameter::Ecdh1DeriveParameter(p) => {
            CkEcKdf(p.kdf as u64)
                .name()
                .ok_or_else(|| Skip(format!("ECDH KDF {} has no CKD_ name", p.kdf)))?;
        }
        Parameter::BtcDeriveParameter(p) => {
            if BtcDeriveType::from_value(p.r#type as u64).is_none() {
                return Err(Skip(format!("BTC derivation type {} is unknown", p.r#type)));
            }
        }
    }
    Ok(())
}
