//! The suite language as typed data. Names (`CKM_*`, `CKA_*`, `CKR_*`, RPCs, argument
//! names) are checked while the YAML is read, so a wrong one is reported at its own line
//! and column; cross-references (variables, saved fields) are checked by `load.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use strum::IntoEnumIterator;

use super::by_name::{AnyName, ByName, Named, lookup};
use super::expr::Expr;
use super::yaml::{Placed, located};
use crate::pkcs11::{
    AttrKind, CkAttributeType, CkEcKdf, CkMechanismType, CkRv, attribute_kind, is_big_integer,
};
use crate::rpc::{ArgKind, FieldKind, Rpc};

/// A line and column in a suite file (1-based).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Location {
    /// Line number, counted from 1.
    pub line: usize,
    /// Column in characters, counted from 1.
    pub col: usize,
}

/// One suite file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// The suite's id: the first part of every case id.
    pub suite: String,
    /// `title:`, a human-readable heading for reports; empty when absent.
    #[serde(default)]
    pub title: String,
    /// Mechanisms every case needs, on top of those its steps use.
    #[serde(default)]
    pub requires: Vec<Mechanism>,
    /// Tags of every case of the suite, which a profile's `tags:` selects by (see
    /// [`STRICT_TAG`](super::STRICT_TAG)).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Fixture files (paths relative to this file) whose fixtures `use:` may name.
    #[serde(default)]
    pub include: Vec<PathBuf>,
    /// Fixtures of this file alone.
    #[serde(default, deserialize_with = "located")]
    pub(crate) fixtures: Vec<Fixture>,
    /// The cases in file order; once loaded, their `steps` have every fixture inserted.
    #[serde(deserialize_with = "located")]
    pub cases: Vec<Case>,
    /// The path the suite was loaded from, as given (not canonicalised).
    #[serde(skip)]
    pub file: PathBuf,
}

/// A file of shared fixtures (`include:`d by suites).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FixtureFile {
    #[serde(deserialize_with = "located")]
    pub fixtures: Vec<Fixture>,
}

/// A named sequence of steps that cases insert with `use:`. Its parameters are variables
/// bound from the use's `with:`; every other variable it saves is its own unless the use's
/// `save:` gives it a name in the case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Fixture {
    pub name: String,
    #[serde(default)]
    pub title: String,
    /// Parameters every use must give.
    #[serde(default)]
    pub params: Vec<String>,
    /// Parameters that are null (the attribute or argument left out) unless given.
    #[serde(default)]
    pub optional: Vec<String>,
    #[serde(deserialize_with = "located")]
    pub steps: Vec<StepItem>,
    #[serde(skip)]
    pub location: Location,
    #[serde(skip)]
    pub file: PathBuf,
}

/// `- use: NAME` in a case's steps.
#[derive(Clone, Debug)]
pub(crate) struct Use {
    pub fixture: String,
    pub with: Vec<(String, Param)>,
    /// case variable ← fixture variable
    pub save: Vec<(String, String)>,
    pub location: Location,
}

/// One entry of a `steps:` list as written: a step, or a fixture's steps.
#[derive(Clone, Debug)]
pub(crate) enum StepItem {
    Step(Step),
    Use(Use),
}

/// Where a step that came from a fixture was written and used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UseOrigin {
    /// The fixture's `name:`.
    pub fixture: String,
    /// The fixture's file and the step's place in it are `Step::location`'s.
    pub file: PathBuf,
    /// The `use:` in the case.
    pub used_at: Location,
}

/// One entry of a suite's `cases:`: steps to run, once per matrix row or vector.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Stable id within the suite; derived from `name` when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// `name:`, what the case shows in reports.
    pub name: String,
    /// Mechanisms the case needs besides those its steps use, on top of the suite's.
    #[serde(default)]
    pub requires: Vec<Mechanism>,
    /// Tags a profile selects by, added to the suite's.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Parameters the case runs under, one instance per combination; `None`: one instance.
    #[serde(default)]
    pub matrix: Option<Matrix>,
    /// Published test vectors: one instance per selected test (instead of a matrix).
    #[serde(default)]
    pub vectors: Option<super::vectors::VectorSource>,
    /// The steps as written; the loader turns them into `steps`.
    #[serde(rename = "steps", deserialize_with = "located")]
    pub(crate) items: Vec<StepItem>,
    /// The steps to run, every `use:` replaced by its fixture's steps.
    #[serde(skip)]
    pub steps: Vec<Step>,
    /// Where the case starts in its suite file.
    #[serde(skip)]
    pub location: Location,
}

impl Placed for Case {
    fn place(&mut self, at: Location) {
        self.location = at;
    }
}

impl Placed for Fixture {
    fn place(&mut self, at: Location) {
        self.location = at;
    }
}

impl Placed for StepItem {
    fn place(&mut self, at: Location) {
        match self {
            StepItem::Step(step) => step.location = at,
            StepItem::Use(u) => u.location = at,
        }
    }
}

impl Case {
    /// The case's part of an instance id: `id:`, or else [`slug`] of its name.
    pub fn id(&self) -> String {
        self.id.clone().unwrap_or_else(|| slug(&self.name))
    }
}

/// Lower-case words joined by `-`: a case name as an id.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for word in name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&word.to_ascii_lowercase());
    }
    out
}

/// A mechanism named in YAML, by `CKM_*` name (IBM's included) or number.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(from = "ByName<CkMechanismType>")]
pub struct Mechanism(pub CkMechanismType);

impl From<ByName<CkMechanismType>> for Mechanism {
    fn from(ByName(mech): ByName<CkMechanismType>) -> Self {
        Mechanism(mech)
    }
}

/// A matrix parameter's value, kept as written: it becomes a number, a flag, a byte string
/// or nothing depending on where the case uses it.
#[derive(Clone, PartialEq, Debug)]
pub enum Param {
    /// YAML `null`: a fixture parameter bound to it leaves out the attribute or argument
    /// that uses it.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A non-negative integer (negative numbers are refused when read).
    Int(u64),
    /// A `CK*_` name, resolved in every table: the name as written and its value.
    Name(String, u64),
    /// Any other string, parsed as a byte-string expression.
    Expr(Expr),
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Param::Null => f.write_str("none"),
            Param::Bool(b) => write!(f, "{b}"),
            Param::Int(i) => write!(f, "{i}"),
            Param::Name(n, _) => f.write_str(n),
            Param::Expr(e) => write!(f, "{e}"),
        }
    }
}

fn looks_like_name(s: &str) -> bool {
    s.starts_with("CK")
        && s.contains('_')
        && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

impl<'de> Deserialize<'de> for Param {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Param;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, a boolean, a PKCS #11 name, an expression or null")
            }
            fn visit_unit<E>(self) -> Result<Param, E> {
                Ok(Param::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Param, E> {
                Ok(Param::Bool(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Param, E> {
                Ok(Param::Int(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Param, E> {
                u64::try_from(v).map(Param::Int).map_err(|_| E::custom(format!("negative parameter {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Param, E> {
                if looks_like_name(v) {
                    return lookup::<AnyName>(v).map(|n| Param::Name(v.to_owned(), n.0)).map_err(E::custom);
                }
                Expr::parse(v).map(Param::Expr).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// How a case expands: the cartesian product of named lists, or explicit rows.
#[derive(Clone, Debug)]
pub enum Matrix {
    /// A map of parameter name to its values (each list non-empty), in YAML order; every
    /// combination is one instance, the last parameter varying fastest.
    Product(Vec<(String, Vec<Param>)>),
    /// A list of maps, one instance each; a row's parameters are in name order.
    Rows(Vec<Vec<(String, Param)>>),
}

impl Matrix {
    /// Every parameter name the matrix sets.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Matrix::Product(axes) => axes.iter().map(|(n, _)| n.as_str()).collect(),
            Matrix::Rows(rows) => {
                let mut names: Vec<&str> = rows.iter().flatten().map(|(n, _)| n.as_str()).collect();
                names.sort_unstable();
                names.dedup();
                names
            }
        }
    }
}

impl<'de> Deserialize<'de> for Matrix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Matrix;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of parameter lists (product) or a list of parameter maps (rows)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Matrix, A::Error> {
                let mut axes = Vec::new();
                while let Some((name, values)) = map.next_entry::<String, Vec<Param>>()? {
                    if values.is_empty() {
                        return Err(de::Error::custom(format!("matrix parameter {name:?} has no values")));
                    }
                    axes.push((name, values));
                }
                Ok(Matrix::Product(axes))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Matrix, A::Error> {
                let mut rows = Vec::new();
                while let Some(row) = seq.next_element::<BTreeMap<String, Param>>()? {
                    rows.push(row.into_iter().collect());
                }
                Ok(Matrix::Rows(rows))
            }
        }
        d.deserialize_any(V)
    }
}

/// A harness-computed step: reference cryptography that makes a consistently wrong endpoint
/// fail, because its answers are compared with an independent computation.
#[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
pub enum LocalOp {
    /// `local.digest`: the digest of `data` under `mech`; saves `Digest`.
    #[strum(serialize = "local.digest")]
    Digest,
    /// `local.encrypt`: encrypts `plain` under `mech` with `key` (a secret key's value or
    /// an RSA public key); saves `Ciphered`.
    #[strum(serialize = "local.encrypt")]
    Encrypt,
    /// `local.decrypt`: decrypts `ciphered` (typically the endpoint's) under `mech` with
    /// `key`; saves `Plain`.
    #[strum(serialize = "local.decrypt")]
    Decrypt,
    /// `local.sign`: signs `data` under `mech` with the private key `key`; saves
    /// `Signature`.
    #[strum(serialize = "local.sign")]
    Sign,
    /// `local.verify`: verifies the endpoint's `signature` of `data` with the public key
    /// `key`, on `curve` when given; saves nothing, fails the step when it does not verify.
    #[strum(serialize = "local.verify")]
    Verify,
    /// `local.keypair`: a fresh EC/Ed25519 pair on `curve` or an RSA pair of `bits`; saves
    /// `Private`, `Public` (SPKI), `Point` and `Pkcs8`.
    #[strum(serialize = "local.keypair")]
    Keypair,
    /// `local.ecdh`: the ECDH secret of the harness's private `key` and the peer's `public`,
    /// through `kdf` (default `CKD_NULL`) with `shared` data and `len`; saves `Secret`.
    #[strum(serialize = "local.ecdh")]
    Ecdh,
    /// `local.random`: `len` bytes from the harness's own generator; saves `Rnd`.
    #[strum(serialize = "local.random")]
    Random,
    /// `local.rng-quality`: statistical checks on `data` from the endpoint's generator;
    /// saves nothing, fails the step when the bytes do not look random.
    #[strum(serialize = "local.rng-quality")]
    RngQuality,
    /// `local.ec-point`: checks that `point` is the point of the public key `key`; saves
    /// `Point`.
    #[strum(serialize = "local.ec-point")]
    EcPoint,
    /// `local.dh-keypair`: a Diffie-Hellman pair over the DER DHParameter `params`; saves
    /// `Private` and `Public`.
    #[strum(serialize = "local.dh-keypair")]
    DhKeypair,
    /// `local.dh`: the Diffie-Hellman secret of the harness's private `key` and the peer's
    /// `public`; saves `Secret`.
    #[strum(serialize = "local.dh")]
    Dh,
}

impl LocalOp {
    /// The step's name in YAML (`local.digest`).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The arguments the step takes, with their kinds and whether each is required.
    pub fn args(self) -> &'static [crate::rpc::Arg] {
        use crate::rpc::Arg;
        const fn a(name: &'static str, kind: ArgKind) -> Arg {
            Arg { name, kind, required: true }
        }
        const MECH: Arg = a("mech", ArgKind::Mechanism);
        const KEY: Arg = a("key", ArgKind::Bytes);
        const DATA: Arg = a("data", ArgKind::Bytes);
        const DIGEST: &[Arg] = &[MECH, DATA];
        const ENCRYPT: &[Arg] = &[MECH, KEY, a("plain", ArgKind::Bytes)];
        const DECRYPT: &[Arg] = &[MECH, KEY, a("ciphered", ArgKind::Bytes)];
        const SIGN: &[Arg] = &[MECH, KEY, DATA];
        // `curve`: the CKA_EC_PARAMS the case asked for; the key must be on it.
        const VERIFY: &[Arg] = &[
            MECH,
            KEY,
            DATA,
            a("signature", ArgKind::Bytes),
            Arg { name: "curve", kind: ArgKind::Bytes, required: false },
        ];
        // `curve` (CKA_EC_PARAMS) for EC and Ed25519 pairs, or `bits` for an RSA pair.
        const KEYPAIR: &[Arg] = &[
            Arg { name: "curve", kind: ArgKind::Bytes, required: false },
            Arg { name: "bits", kind: ArgKind::Uint, required: false },
        ];
        // `kdf` (a CKD_* name), `shared` (SharedData) and `len` as CKM_ECDH1_DERIVE takes them.
        const ECDH: &[Arg] = &[
            KEY,
            a("public", ArgKind::Bytes),
            Arg { name: "kdf", kind: ArgKind::Uint, required: false },
            Arg { name: "shared", kind: ArgKind::Bytes, required: false },
            Arg { name: "len", kind: ArgKind::Uint, required: false },
        ];
        const RANDOM: &[Arg] = &[a("len", ArgKind::Uint)];
        const RNG_QUALITY: &[Arg] = &[DATA];
        const EC_POINT: &[Arg] = &[KEY, a("point", ArgKind::Bytes)];
        // DH: a pair over DER DHParameter `params`; a secret from the harness's private
        // value and the peer's SPKI (or public key blob).
        const DH_KEYPAIR: &[Arg] = &[a("params", ArgKind::Bytes)];
        const DH: &[Arg] = &[KEY, a("public", ArgKind::Bytes)];
        match self {
            LocalOp::Digest => DIGEST,
            LocalOp::Encrypt => ENCRYPT,
            LocalOp::Decrypt => DECRYPT,
            LocalOp::Sign => SIGN,
            LocalOp::Verify => VERIFY,
            LocalOp::Keypair => KEYPAIR,
            LocalOp::Ecdh => ECDH,
            LocalOp::Random => RANDOM,
            LocalOp::RngQuality => RNG_QUALITY,
            LocalOp::EcPoint => EC_POINT,
            LocalOp::Dh => DH,
            LocalOp::DhKeypair => DH_KEYPAIR,
        }
    }

    /// The result fields the step produces (for `save:` and checks), with their kinds.
    pub fn fields(self) -> &'static [(&'static str, FieldKind)] {
        use FieldKind::Bytes as B;
        match self {
            LocalOp::Digest => &[("Digest", B)],
            LocalOp::Encrypt => &[("Ciphered", B)],
            LocalOp::Decrypt => &[("Plain", B)],
            LocalOp::Sign => &[("Signature", B)],
            LocalOp::Verify => &[],
            LocalOp::Keypair => &[("Private", B), ("Public", B), ("Point", B), ("Pkcs8", B)],
            LocalOp::Ecdh | LocalOp::Dh => &[("Secret", B)],
            LocalOp::Random => &[("Rnd", B)],
            LocalOp::RngQuality => &[],
            LocalOp::EcPoint => &[("Point", B)],
            LocalOp::DhKeypair => &[("Private", B), ("Public", B)],
        }
    }
}

/// What a step does: call the endpoint, or compute locally.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Action {
    /// A GREP11 RPC sent to the endpoint.
    Call(Rpc),
    /// A step the harness computes itself.
    Local(LocalOp),
}

impl Action {
    fn from_name(name: &str) -> Option<Action> {
        Rpc::from_name(name).map(Action::Call).or_else(|| name.parse().ok().map(Action::Local))
    }

    /// The step's key in YAML: the RPC name (`SignSingle`) or `local.*`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Call(rpc) => rpc.name(),
            Action::Local(op) => op.name(),
        }
    }

    /// The arguments the step takes, with their kinds and whether each is required.
    pub fn args(self) -> &'static [crate::rpc::Arg] {
        match self {
            Action::Call(rpc) => rpc.args(),
            Action::Local(op) => op.args(),
        }
    }

    /// The kind of a response field this action produces, if it produces one by that name.
    pub fn field(self, name: &str) -> Option<FieldKind> {
        match self {
            Action::Call(Rpc::GetAttributeValue) => {
                CkAttributeType::from_name(name).map(|a| match attribute_kind(a) {
                    Some(AttrKind::Bytes) | None => FieldKind::Bytes,
                    Some(AttrKind::Bool | AttrKind::Ulong) => FieldKind::Uint,
                })
            }
            Action::Call(rpc) => rpc.field(name),
            Action::Local(op) => op.fields().iter().find(|(n, _)| *n == name).map(|&(_, k)| k),
        }
    }

    /// The field names the action produces, for error messages; `GetAttributeValue` gives
    /// `CKA_*`, as it returns any attribute by name.
    pub fn field_names(self) -> Vec<&'static str> {
        match self {
            Action::Call(Rpc::GetAttributeValue) => vec!["CKA_*"],
            Action::Call(rpc) => rpc.fields().iter().map(|(n, _)| *n).collect(),
            Action::Local(op) => op.fields().iter().map(|(n, _)| *n).collect(),
        }
    }
}

/// A name that a matrix may supply: `CKM_AES_CBC` or `$mech`.
#[derive(Clone, PartialEq, Debug)]
pub enum Sym<T> {
    /// Given in the suite.
    Value(T),
    /// `$name` (without the `$`): taken from the case's variables when it runs.
    Var(String),
}

/// A mechanism with its parameter.
#[derive(Clone, PartialEq, Debug)]
pub struct MechSpec {
    /// The `CKM_*` mechanism (`type:` in the map form).
    pub mech: Sym<CkMechanismType>,
    /// `ParameterB`: an IV, an OID.
    pub param: Option<Expr>,
    /// `ecdh:`, ECDH1DeriveParm for `CKM_ECDH1_DERIVE`.
    pub ecdh: Option<EcdhSpec>,
    /// RSAOAEPParameter or RSAPSSParameter.
    pub rsa: Option<RsaParamSpec>,
    /// BTCDeriveParameter (CKM_IBM_BTC_DERIVE); boxed, as few mechanisms carry one.
    pub btc: Option<Box<BtcSpec>>,
}

/// `btc: {type: CkBIP0032PRV2PRV, index: 2147483648, chain: $cc, version: 1}`: the
/// derivation type by its wire enum name; `chain` may be left out (master keys), `version`
/// defaults to 1.
#[derive(Clone, PartialEq, Debug)]
pub struct BtcSpec {
    /// `type:`, a [`BtcDeriveType`]'s wire value.
    pub kind: u64,
    /// `index:`, the child index (hardened from 2^31); 0 when absent.
    pub index: Sym<u64>,
    /// `chain:`, the parent's chain code; `None` for master key derivation.
    pub chain: Option<Expr>,
    /// `version:`, the parameter structure's version.
    pub version: u64,
}

/// The `BTCDeriveParm.Type` names and their wire values.
#[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[repr(u64)]
pub enum BtcDeriveType {
    /// BIP-32: private parent to private child.
    CkBIP0032PRV2PRV = 1,
    /// BIP-32: private parent to public child.
    CkBIP0032PRV2PUB = 2,
    /// BIP-32: public parent to public child.
    CkBIP0032PUB2PUB = 3,
    /// BIP-32: master key from a seed.
    CkBIP0032MASTERK = 4,
    /// SLIP-0010: private parent to private child.
    CkSLIP0010PRV2PRV = 5,
    /// SLIP-0010: private parent to public child.
    CkSLIP0010PRV2PUB = 6,
    /// SLIP-0010: public parent to public child.
    CkSLIP0010PUB2PUB = 7,
    /// SLIP-0010: master key from a seed.
    CkSLIP0010MASTERK = 8,
}

impl BtcDeriveType {
    /// The type with this wire value.
    pub fn from_value(value: u64) -> Option<Self> {
        Self::iter().find(|t| *t as u64 == value)
    }

    /// The wire enum name, as suites write it.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// A number or `$var`, as Uint step arguments are written.
struct UintArg(Sym<u64>);

impl<'de> Deserialize<'de> for UintArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Param::deserialize(d)? {
            Param::Int(i) => Ok(UintArg(Sym::Value(i))),
            Param::Expr(Expr::Var(v)) => Ok(UintArg(Sym::Var(v))),
            other => Err(de::Error::custom(format!("expected a number or $var, got {other}"))),
        }
    }
}

fn btc_version() -> u64 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BtcRaw {
    #[serde(rename = "type")]
    kind: ByName<BtcDeriveType>,
    #[serde(default)]
    index: Option<UintArg>,
    #[serde(default)]
    chain: Option<ExprValue>,
    #[serde(default = "btc_version")]
    version: u64,
}

/// `oaep: {hash: CKM_SHA256, mgf: CKG_MGF1_SHA256, label: <bytes>}` or
/// `pss: {hash: CKM_SHA256, mgf: CKG_MGF1_SHA256, salt: 32}`.
#[derive(Clone, PartialEq, Debug)]
pub enum RsaParamSpec {
    /// RSAOAEPParameter.
    Oaep {
        /// The digest mechanism (`CKM_SHA*`).
        hash: CkMechanismType,
        /// A [`Mgf`]'s `CKG_*` value.
        mgf: u64,
        /// The OAEP label; `None`: no label.
        label: Option<Expr>,
    },
    /// RSAPSSParameter.
    Pss {
        /// The digest mechanism (`CKM_SHA*`).
        hash: CkMechanismType,
        /// A [`Mgf`]'s `CKG_*` value.
        mgf: u64,
        /// The salt length in bytes.
        salt: u64,
    },
}

/// The `CKG_MGF1_*` names (PKCS #11 v2.40 §2.1.7), which the wire's Mgf enums carry.
#[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::IntoStaticStr, strum::EnumIter)]
#[repr(u64)]
pub enum Mgf {
    /// MGF1 with SHA-1.
    #[strum(serialize = "CKG_MGF1_SHA1")]
    Sha1 = cryptoki_sys::CKG_MGF1_SHA1,
    /// MGF1 with SHA-224.
    #[strum(serialize = "CKG_MGF1_SHA224")]
    Sha224 = cryptoki_sys::CKG_MGF1_SHA224,
    /// MGF1 with SHA-256.
    #[strum(serialize = "CKG_MGF1_SHA256")]
    Sha256 = cryptoki_sys::CKG_MGF1_SHA256,
    /// MGF1 with SHA-384.
    #[strum(serialize = "CKG_MGF1_SHA384")]
    Sha384 = cryptoki_sys::CKG_MGF1_SHA384,
    /// MGF1 with SHA-512.
    #[strum(serialize = "CKG_MGF1_SHA512")]
    Sha512 = cryptoki_sys::CKG_MGF1_SHA512,
}

impl Mgf {
    /// The MGF with this `CKG_*` value.
    pub fn from_value(value: u64) -> Option<Self> {
        Self::iter().find(|m| *m as u64 == value)
    }

    /// The `CKG_*` name.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OaepRaw {
    hash: ByName<CkMechanismType>,
    mgf: ByName<Mgf>,
    #[serde(default)]
    label: Option<ExprValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PssRaw {
    hash: ByName<CkMechanismType>,
    mgf: ByName<Mgf>,
    salt: u64,
}

/// `ecdh: {kdf: CKD_NULL, public: <bytes>, shared: <bytes>}`: ECDH1DeriveParm.
#[derive(Clone, PartialEq, Debug)]
pub struct EcdhSpec {
    /// The key derivation function applied to the raw secret (`CKD_*`).
    pub kdf: CkEcKdf,
    /// The other party's public key.
    pub public: Expr,
    /// The KDF's shared data; `None`: none.
    pub shared: Option<Expr>,
}

impl<'de> Deserialize<'de> for MechSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MechSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mechanism (CKM_NAME, $var, or {type: CKM_NAME, param: .., ecdh: {..}})")
            }
            fn visit_u64<E>(self, v: u64) -> Result<MechSpec, E> {
                Ok(MechSpec {
                    mech: Sym::Value(CkMechanismType(v)),
                    param: None,
                    ecdh: None,
                    rsa: None,
                    btc: None,
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MechSpec, E> {
                Ok(MechSpec { mech: mech_sym(v)?, param: None, ecdh: None, rsa: None, btc: None })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MechSpec, A::Error> {
                let (mut mech, mut param, mut ecdh, mut rsa, mut btc) = (None, None, None, None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "type" => mech = Some(mech_sym(&map.next_value::<String>()?)?),
                        "param" => param = Some(map.next_value::<ExprValue>()?.0),
                        "ecdh" => ecdh = Some(map.next_value::<EcdhRaw>()?),
                        "oaep" => {
                            let o = map.next_value::<OaepRaw>()?;
                            rsa = Some(RsaParamSpec::Oaep {
                                hash: o.hash.0,
                                mgf: o.mgf.0 as u64,
                                label: o.label.map(|l| l.0),
                            });
                        }
                        "pss" => {
                            let p = map.next_value::<PssRaw>()?;
                            rsa =
                                Some(RsaParamSpec::Pss { hash: p.hash.0, mgf: p.mgf.0 as u64, salt: p.salt });
                        }
                        "btc" => {
                            let b = map.next_value::<BtcRaw>()?;
                            btc = Some(Box::new(BtcSpec {
                                kind: b.kind.0 as u64,
                                index: b.index.map_or(Sym::Value(0), |i| i.0),
                                chain: b.chain.map(|c| c.0),
                                version: b.version,
                            }));
                        }
                        other => {
                            return Err(de::Error::custom(format!(
                                "unknown mechanism field {other:?}; expected type, param, ecdh, oaep, pss or btc"
                            )));
                        }
                    }
                }
                let mech = mech.ok_or_else(|| de::Error::custom("mechanism needs a `type`"))?;
                let ecdh = ecdh.map(|e| EcdhSpec {
                    kdf: e.kdf.0,
                    public: e.public.0,
                    shared: e.shared.map(|s| s.0),
                });
                Ok(MechSpec { mech, param, ecdh, rsa, btc })
            }
        }
        d.deserialize_any(V)
    }
}

fn mech_sym<E: de::Error>(v: &str) -> Result<Sym<CkMechanismType>, E> {
    if let Some(var) = v.strip_prefix('$') {
        return Ok(Sym::Var(var.to_owned()));
    }
    lookup(v).map(Sym::Value).map_err(E::custom)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EcdhRaw {
    kdf: ByName<CkEcKdf>,
    public: ExprValue,
    #[serde(default)]
    shared: Option<ExprValue>,
}

/// An expression written as a YAML string.
#[derive(Clone, PartialEq, Debug)]
struct ExprValue(Expr);

impl<'de> Deserialize<'de> for ExprValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Expr::parse(&text).map(ExprValue).map_err(de::Error::custom)
    }
}

/// A template value, typed by the attribute table.
#[derive(Clone, PartialEq, Debug)]
pub enum TemplateValue {
    /// For a `CK_BBOOL` attribute.
    Bool(bool),
    /// For a `CK_ULONG` attribute (a number or a `CK*_` name), or a big integer written as
    /// a number.
    Uint(u64),
    /// For a byte-array attribute.
    Bytes(Expr),
    /// `$var`: typed by the attribute when the case runs.
    Var(String),
}

/// `{CKA_NAME: value}` in YAML order.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct Template(pub Vec<(CkAttributeType, TemplateValue)>);

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Template;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an attribute template {CKA_NAME: value, ...}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Template, A::Error> {
                let mut out = Vec::new();
                while let Some(ByName(attr)) = map.next_key::<ByName<CkAttributeType>>()? {
                    let value = map.next_value_seed(TemplateValueSeed(attr))?;
                    out.push((attr, value));
                }
                Ok(Template(out))
            }
        }
        d.deserialize_map(V)
    }
}

struct TemplateValueSeed(CkAttributeType);

impl<'de> DeserializeSeed<'de> for TemplateValueSeed {
    type Value = TemplateValue;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TemplateValue, D::Error> {
        let attr = self.0;
        let kind = attribute_kind(attr);
        let wrong = |got: &str| {
            de::Error::custom(format!(
                "{attr} takes {}, got {got}",
                match kind {
                    Some(AttrKind::Bool) => "true or false",
                    Some(AttrKind::Ulong) => "a number or a CK*_ name",
                    Some(AttrKind::Bytes) => "a byte expression",
                    None => "a value",
                }
            ))
        };
        match Param::deserialize(d)? {
            Param::Expr(Expr::Var(v)) => Ok(TemplateValue::Var(v)),
            Param::Bool(b) if matches!(kind, Some(AttrKind::Bool) | None) => Ok(TemplateValue::Bool(b)),
            Param::Int(i) if matches!(kind, Some(AttrKind::Ulong) | None) => Ok(TemplateValue::Uint(i)),
            // A big integer written as a number travels as AttributeI, as IBM's clients send it.
            Param::Int(i) if is_big_integer(attr) => Ok(TemplateValue::Uint(i)),
            Param::Name(_, v) if matches!(kind, Some(AttrKind::Ulong) | None) => Ok(TemplateValue::Uint(v)),
            Param::Expr(e) if matches!(kind, Some(AttrKind::Bytes) | None) => Ok(TemplateValue::Bytes(e)),
            Param::Null => Err(wrong("null")),
            Param::Bool(b) => Err(wrong(&b.to_string())),
            Param::Int(i) => Err(wrong(&i.to_string())),
            Param::Name(n, _) => Err(wrong(&n)),
            Param::Expr(e) => Err(wrong(&format!("`{e}`"))),
        }
    }
}

/// A value given to a step argument.
#[derive(Clone, PartialEq, Debug)]
pub enum ArgValue {
    /// A mechanism with its parameter (`mech:`).
    Mechanism(MechSpec),
    /// A byte string: a key blob, data, a state, ...
    Bytes(Expr),
    /// A number (a length, an index, ...).
    Uint(Sym<u64>),
    /// An attribute template (`template:`).
    Template(Template),
    /// Attribute types whose values are asked for (`GetAttributeValue`).
    AttributeList(Vec<CkAttributeType>),
}

struct ArgSeed(ArgKind);

impl<'de> DeserializeSeed<'de> for ArgSeed {
    type Value = ArgValue;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ArgValue, D::Error> {
        Ok(match self.0 {
            ArgKind::Mechanism => ArgValue::Mechanism(MechSpec::deserialize(d)?),
            ArgKind::Bytes => ArgValue::Bytes(ExprValue::deserialize(d)?.0),
            ArgKind::Template => ArgValue::Template(Template::deserialize(d)?),
            ArgKind::Uint => ArgValue::Uint(match Param::deserialize(d)? {
                Param::Int(i) => Sym::Value(i),
                Param::Name(_, v) => Sym::Value(v),
                Param::Expr(Expr::Var(v)) => Sym::Var(v),
                other => return Err(de::Error::custom(format!("expected a number or $var, got {other}"))),
            }),
            ArgKind::AttributeList => ArgValue::AttributeList(
                Vec::<ByName<CkAttributeType>>::deserialize(d)?.into_iter().map(|a| a.0).collect(),
            ),
        })
    }
}

struct ArgsSeed(Action);

impl<'de> DeserializeSeed<'de> for ArgsSeed {
    type Value = BTreeMap<&'static str, ArgValue>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ArgsSeed {
    type Value = BTreeMap<&'static str, ArgValue>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "the arguments of {}", self.0.name())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.check_required(&BTreeMap::new())?;
        Ok(BTreeMap::new())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let Some(arg) = self.0.args().iter().find(|a| a.name == key) else {
                let known: Vec<&str> = self.0.args().iter().map(|a| a.name).collect();
                return Err(de::Error::custom(format!(
                    "unknown argument {key:?} for {}; expected {}",
                    self.0.name(),
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                )));
            };
            out.insert(arg.name, map.next_value_seed(ArgSeed(arg.kind))?);
        }
        self.check_required(&out)?;
        Ok(out)
    }
}

impl ArgsSeed {
    fn check_required<E: de::Error>(&self, given: &BTreeMap<&'static str, ArgValue>) -> Result<(), E> {
        let missing: Vec<&str> = self
            .0
            .args()
            .iter()
            .filter(|a| a.required && !given.contains_key(a.name))
            .map(|a| a.name)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(E::custom(format!("{} is missing argument {}", self.0.name(), missing.join(", "))))
        }
    }
}

/// What a step must produce.
#[derive(Clone, PartialEq, Debug)]
pub enum Expect {
    /// Success, and every check holds.
    Ok(Vec<FieldCheck>),
    /// A PKCS #11 error: one of these codes.
    Error(Vec<CkRv>),
    /// A gRPC status without a PKCS #11 result.
    Grpc(tonic::Code),
}

impl Default for Expect {
    fn default() -> Self {
        Expect::Ok(Vec::new())
    }
}

/// `Field: check` in an `expect:` map.
#[derive(Clone, PartialEq, Debug)]
pub struct FieldCheck {
    /// A response field name (`Signature`), or a `CKA_*` name after `GetAttributeValue`.
    pub field: String,
    /// What the field's value must satisfy.
    pub check: Check,
}

/// A condition on one response field; a bare value means `eq`.
#[derive(Clone, PartialEq, Debug)]
pub enum Check {
    /// `eq`: the value equals this.
    Eq(Operand),
    /// `ne`: the value differs from this.
    Ne(Operand),
    /// `len`: the byte string has this many bytes.
    Len(Sym<u64>),
    /// `prefix`: the byte string starts with these bytes.
    Prefix(Expr),
    /// Every listed value is in the list (`Mechs`).
    Contains(Vec<u64>),
    /// The list starts with this value (`Mechs`).
    First(u64),
    /// Every listed flag bit is set (`Flags`).
    Has(u64),
    /// `min`: the number is at least this.
    Min(u64),
    /// `max`: the number is at most this.
    Max(u64),
}

/// A value a field is compared with, typed as written.
#[derive(Clone, PartialEq, Debug)]
pub enum Operand {
    /// `true` or `false`.
    Bool(bool),
    /// A number or a `CK*_` name's value.
    Uint(u64),
    /// A byte-string expression.
    Bytes(Expr),
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Bool(b) => write!(f, "{b}"),
            Operand::Uint(u) => write!(f, "{u}"),
            Operand::Bytes(e) => write!(f, "{e}"),
        }
    }
}

impl<'de> Deserialize<'de> for Operand {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Param::deserialize(d)? {
            Param::Bool(b) => Ok(Operand::Bool(b)),
            Param::Int(i) | Param::Name(_, i) => Ok(Operand::Uint(i)),
            Param::Expr(e) => Ok(Operand::Bytes(e)),
            Param::Null => Err(de::Error::custom("a check needs a value, got null")),
        }
    }
}

fn name_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    Ok(Vec::<ByName<AnyName>>::deserialize(d)?.into_iter().map(|n| n.0.0).collect())
}

impl<'de> Deserialize<'de> for Check {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Check;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value to compare with, or {eq|ne|len|prefix|contains|first|has|min|max: ..}")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Check, E> {
                Ok(Check::Eq(Operand::Bool(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Check, E> {
                Ok(Check::Eq(Operand::Uint(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Check, E> {
                Operand::deserialize(de::value::StrDeserializer::<E>::new(v)).map(Check::Eq)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Check, A::Error> {
                let Some(op) = map.next_key::<String>()? else {
                    return Err(de::Error::custom("empty check"));
                };
                let check = match op.as_str() {
                    "eq" => Check::Eq(map.next_value()?),
                    "ne" => Check::Ne(map.next_value()?),
                    "len" => Check::Len(match map.next_value::<Param>()? {
                        Param::Int(i) => Sym::Value(i),
                        Param::Expr(Expr::Var(v)) => Sym::Var(v),
                        other => {
                            return Err(de::Error::custom(format!(
                                "len takes a number or $var, got {other}"
                            )));
                        }
                    }),
                    "prefix" => Check::Prefix(map.next_value::<ExprValue>()?.0),
                    "min" => Check::Min(map.next_value()?),
                    "max" => Check::Max(map.next_value()?),
                    "contains" => Check::Contains(map.next_value_seed(NameList)?),
                    "first" => Check::First(map.next_value::<ByName<AnyName>>()?.0.0),
                    "has" => Check::Has(map.next_value_seed(NameList)?.into_iter().fold(0, |a, b| a | b)),
                    other => {
                        return Err(de::Error::custom(format!(
                            "unknown check {other:?}; expected eq, ne, len, prefix, contains, first, has, min or max"
                        )));
                    }
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom("one check per field; give one operator"));
                }
                Ok(check)
            }
        }
        d.deserialize_any(V)
    }
}

struct NameList;

impl<'de> DeserializeSeed<'de> for NameList {
    type Value = Vec<u64>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<u64>, D::Error> {
        name_list(d)
    }
}

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Expect;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`ok`, {error: CKR_NAME or [..]}, {grpc: CODE}, or {Field: check, ..}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Expect, E> {
                match v {
                    "ok" => Ok(Expect::Ok(Vec::new())),
                    other => Err(E::custom(format!("unknown expectation {other:?}; write `ok` or a map"))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Expect, A::Error> {
                let mut checks = Vec::new();
                let mut outcome = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "error" => {
                            outcome = Some(Expect::Error(
                                map.next_value::<OneOrMany<ByName<CkRv>>>()?
                                    .0
                                    .into_iter()
                                    .map(|r| r.0)
                                    .collect(),
                            ))
                        }
                        "grpc" => outcome = Some(Expect::Grpc(map.next_value::<ByName<tonic::Code>>()?.0)),
                        _ => checks.push(FieldCheck { field: key, check: map.next_value()? }),
                    }
                }
                match outcome {
                    Some(_) if !checks.is_empty() => {
                        Err(de::Error::custom("an expected error cannot be combined with field checks"))
                    }
                    Some(outcome) => Ok(outcome),
                    None => Ok(Expect::Ok(checks)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

struct OneOrMany<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value or a list of values")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(de::value::StrDeserializer::new(v)).map(|t| OneOrMany(vec![t]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                T::deserialize(de::value::U64Deserializer::new(v)).map(|t| OneOrMany(vec![t]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(t) = seq.next_element()? {
                    out.push(t);
                }
                Ok(OneOrMany(out))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

// The name lives with the rest of the status vocabulary.
pub use crate::status::grpc_code_name;

/// One step: an action with its arguments, what to save and what to expect.
#[derive(Clone, Debug)]
pub struct Step {
    /// The RPC or local step: the step's one key that is not `save`/`expect`.
    pub action: Action,
    /// The arguments by name, each typed by the action's argument table.
    pub args: BTreeMap<&'static str, ArgValue>,
    /// variable name ← response field name
    pub save: Vec<(String, String)>,
    /// `expect:`; absent means success with no field checks.
    pub expect: Expect,
    /// Where the step is written: in the case, or in the fixture's file (see `origin`).
    pub location: Location,
    /// Fixture parameters bound (in the case's variables) before this step runs: set on the
    /// first step of a `use:`.
    pub binds: Vec<(String, Param)>,
    /// The fixture and `use:` the step came from; `None` for a step written in the case.
    pub origin: Option<std::sync::Arc<UseOrigin>>,
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match StepItem::deserialize(d)? {
            StepItem::Step(step) => Ok(step),
            StepItem::Use(_) => Err(de::Error::custom("`use:` is not available here")),
        }
    }
}

impl<'de> Deserialize<'de> for StepItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StepItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a step: {RpcName: {args}, save: {..}, expect: ..} or {use: FIXTURE, with: {..}, save: {..}}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StepItem, A::Error> {
                let (mut call, mut save, mut expect) = (None, Vec::new(), None);
                let (mut fixture, mut with) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "save" => save = map.next_value::<BTreeMap<String, String>>()?.into_iter().collect(),
                        "expect" => expect = Some(map.next_value()?),
                        "use" => fixture = Some(map.next_value::<String>()?),
                        "with" => {
                            with = Some(map.next_value::<BTreeMap<String, Param>>()?.into_iter().collect())
                        }
                        name => {
                            let action = Action::from_name(name).ok_or_else(|| {
                                de::Error::custom(format!(
                                    "unknown step {name:?}: expected an RPC name (e.g. SignSingle), a local step \
                                     ({}) or use: FIXTURE",
                                    LocalOp::names().join(", ")
                                ))
                            })?;
                            if let Some((first, _)) = &call {
                                return Err(de::Error::custom(format!(
                                    "a step does one thing: {} and {name} are both given",
                                    Action::name(*first)
                                )));
                            }
                            call = Some((action, map.next_value_seed(ArgsSeed(action))?));
                        }
                    }
                }
                match (call, fixture) {
                    (Some((action, _)), Some(name)) => Err(de::Error::custom(format!(
                        "a step does one thing: {} and use: {name} are both given",
                        Action::name(action)
                    ))),
                    (None, Some(fixture)) if expect.is_some() => Err(de::Error::custom(format!(
                        "use: {fixture} takes no `expect`; the fixture's steps say what they expect"
                    ))),
                    (None, Some(fixture)) => Ok(StepItem::Use(Use {
                        fixture,
                        with: with.unwrap_or_default(),
                        save,
                        location: Location::default(),
                    })),
                    (Some(_), None) if with.is_some() => {
                        Err(de::Error::custom("`with` belongs to a `use:` step"))
                    }
                    (Some((action, args)), None) => Ok(StepItem::Step(Step {
                        action,
                        args,
                        save,
                        expect: expect.unwrap_or_default(),
                        location: Location::default(),
                        binds: Vec::new(),
                        origin: None,
                    })),
                    (None, None) => Err(de::Error::custom("a step needs an RPC, a local step or `use:`")),
                }
            }
        }
        d.deserialize_map(V)
    }
}
