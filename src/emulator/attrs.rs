//! Attribute policy: which attributes each key class carries, their defaults, which a
//! template may set, and how GetAttributeValue/SetAttributeValue treat them. One table
//! ([`RULES`]) drives all of it (PKCS #11 v2.40 §4.1 object attribute rules, §4.7–4.9 key
//! attributes).
//!
//! Defaults when a template omits a flag (PKCS #11 leaves most of them token-specific):
//! - usage flags the key's class carries (secret: ENCRYPT, DECRYPT, SIGN, VERIFY, WRAP,
//!   UNWRAP; private: DECRYPT, SIGN, UNWRAP; public: ENCRYPT, VERIFY, WRAP) default **true**,
//!   as in SoftHSM; the mechanism still checks the key type;
//! - CKA_DERIVE defaults **false**, the one usage default the specification fixes;
//! - CKA_EXTRACTABLE true, CKA_SENSITIVE false, CKA_MODIFIABLE true;
//! - CKA_TOKEN and CKA_PRIVATE false: a key blob is held by the application, never by the
//!   service, and no login guards it. Both are accepted in every template, as IBM's service
//!   accepts them (its clients send them), and never change afterwards.
//!
//! Leniencies IBM's service shows (docs/service-behaviour.md): CKA_EXTRACTABLE is accepted
//! in a public-key template and kept on the public key; a big-integer attribute
//! (CKA_PUBLIC_EXPONENT...) may arrive as `AttributeI` as well as big-endian bytes.
//!
//! Error choices: an attribute outside this table → CKR_ATTRIBUTE_TYPE_INVALID; an attribute
//! of the table that the key's class does not carry → CKR_TEMPLATE_INCONSISTENT; an attribute
//! the operation computes (CKA_LOCAL, CKA_VALUE, ...) given in a template →
//! CKR_ATTRIBUTE_READ_ONLY (§4.1.1 rule 2).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use crate::pkcs11::ibm;
use crate::pkcs11::ibm::CKA_IBM_STRUCT_PARAMS;
use crate::pkcs11::*;

/// A stored attribute value, typed as `pkcs11::attribute_kind` says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttrValue {
    Bool(bool),
    Ulong(u64),
    Bytes(Vec<u8>),
}

impl AttrValue {
    /// The `AttributesBytes` encoding: bool as 1 byte, CK_ULONG as 8 bytes big-endian,
    /// byte strings as they are.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            AttrValue::Bool(b) => vec![u8::from(*b)],
            AttrValue::Ulong(v) => v.to_be_bytes().to_vec(),
            AttrValue::Bytes(b) => b.clone(),
        }
    }
}

/// A template value as the wire carries it: one arm of `AttributeValue`, or none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireValue {
    /// `AttributeTF`: a flag such as CKA_ENCRYPT.
    Bool(bool),
    /// `AttributeI`: a `CK_ULONG` such as CKA_VALUE_LEN, or a big-integer attribute such
    /// as CKA_PUBLIC_EXPONENT whose value fits; a negative value is refused.
    Int(i64),
    /// `AttributeB`: a byte string (CKA_EC_PARAMS, a big integer...).
    Bytes(Vec<u8>),
    /// No arm set: refused as CKR_ATTRIBUTE_VALUE_INVALID.
    Unset,
}

/// A request template, keyed by attribute type.
pub type Template = BTreeMap<CkAttributeType, WireValue>;

/// `CK_UNAVAILABLE_INFORMATION`: CKA_KEY_GEN_MECHANISM of keys that were not generated.
pub const UNAVAILABLE: u64 = u64::MAX;

/// Which key classes carry an attribute (bit set).
#[derive(Clone, Copy)]
struct Classes(u8);
const SECRET: u8 = 1;
const PRIVATE: u8 = 2;
const PUBLIC: u8 = 4;
const ALL: u8 = SECRET | PRIVATE | PUBLIC;

fn class_bit(class: CkObjectClass) -> u8 {
    match class {
        CKO_SECRET_KEY => SECRET,
        CKO_PRIVATE_KEY => PRIVATE,
        CKO_PUBLIC_KEY => PUBLIC,
        _ => 0,
    }
}

/// Where an attribute's value comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The template may set it; otherwise the default applies.
    Settable(bool),
    /// The operation decides it (class, type, length, curve); a template value must agree.
    Input,
    /// The emulator computes it; a template may not mention it.
    Computed,
    /// The template may set it; there is no default (CKA_LABEL, CKA_ID).
    Optional,
}

/// How SetAttributeValue may change an attribute.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Free,
    /// Only towards this value (PKCS #11 §4.7: SENSITIVE only to true, EXTRACTABLE only to false).
    OnlyTo(bool),
    Never,
}

struct Rule {
    attr: CkAttributeType,
    classes: Classes,
    source: Source,
    change: Change,
}

const fn rule(attr: CkAttributeType, classes: u8, source: Source, change: Change) -> Rule {
    Rule { attr, classes: Classes(classes), source, change }
}

use Change::*;
use Source::*;

/// Every attribute the emulator models; anything else is CKR_ATTRIBUTE_TYPE_INVALID.
static RULES: &[Rule] = &[
    rule(CKA_CLASS, ALL, Input, Never),
    rule(CKA_KEY_TYPE, ALL, Input, Never),
    rule(CKA_VALUE_LEN, SECRET, Input, Never),
    rule(CKA_EC_PARAMS, PRIVATE | PUBLIC, Input, Never),
    rule(CKA_EC_POINT, PUBLIC, Computed, Never),
    // RSA: both halves show the public parts (see engine::rsa_fixed); the keygen template
    // gives MODULUS_BITS and PUBLIC_EXPONENT, so they are inputs, the modulus is computed.
    rule(CKA_MODULUS, PRIVATE | PUBLIC, Computed, Never),
    rule(CKA_MODULUS_BITS, PRIVATE | PUBLIC, Input, Never),
    rule(CKA_PUBLIC_EXPONENT, PRIVATE | PUBLIC, Input, Never),
    // DH and DSA domain parameters, on both halves (mech::ffc); CKA_IBM_STRUCT_PARAMS is
    // their DER form as the key pair template gave it.
    rule(CKA_PRIME, PRIVATE | PUBLIC, Input, Never),
    rule(CKA_SUBPRIME, PRIVATE | PUBLIC, Input, Never),
    rule(CKA_BASE, PRIVATE | PUBLIC, Input, Never),
    rule(CKA_IBM_STRUCT_PARAMS, PRIVATE | PUBLIC, Input, Never),
    rule(CKA_VALUE, SECRET | PRIVATE, Computed, Never),
    rule(CKA_ENCRYPT, SECRET | PUBLIC, Settable(true), Free),
    rule(CKA_DECRYPT, SECRET | PRIVATE, Settable(true), Free),
    rule(CKA_SIGN, SECRET | PRIVATE, Settable(true), Free),
    rule(CKA_VERIFY, SECRET | PUBLIC, Settable(true), Free),
    rule(CKA_WRAP, SECRET | PUBLIC, Settable(true), Free),
    rule(CKA_UNWRAP, SECRET | PRIVATE, Settable(true), Free),
    rule(CKA_DERIVE, ALL, Settable(false), Free),
    rule(CKA_EXTRACTABLE, ALL, Settable(true), OnlyTo(false)),
    rule(CKA_SENSITIVE, SECRET | PRIVATE, Settable(false), OnlyTo(true)),
    rule(CKA_MODIFIABLE, ALL, Settable(true), Never),
    rule(CKA_TOKEN, ALL, Settable(false), Never),
    rule(CKA_PRIVATE, ALL, Settable(false), Never),
    rule(CKA_NEVER_EXTRACTABLE, SECRET | PRIVATE, Computed, Never),
    rule(CKA_ALWAYS_SENSITIVE, SECRET | PRIVATE, Computed, Never),
    rule(CKA_LOCAL, ALL, Computed, Never),
    rule(CKA_KEY_GEN_MECHANISM, ALL, Computed, Never),
    // Application labels travel with the blob; GREP11 changes only booleans (seed table),
    // so they are fixed once the key exists.
    rule(CKA_LABEL, ALL, Optional, Never),
    rule(CKA_ID, ALL, Optional, Never),
    // IBM: an attribute-bound key travels only under CKM_IBM_ATTRIBUTEBOUND_WRAP, which
    // binds its attributes (emulator/attrbound); once set it stays set.
    rule(ibm::CKA_IBM_ATTRBOUND, ALL, Settable(false), OnlyTo(true)),
    // IBM: the key's value may be used as data (a BIP-32 seed, a derived key's parent).
    rule(ibm::CKA_IBM_USE_AS_DATA, ALL, Settable(false), Free),
];

/// Whether `attr` is one the table knows but keys of `class` do not carry (a template for
/// either half of a derivation may name attributes of the other).
pub fn only_other_classes(attr: CkAttributeType, class: CkObjectClass) -> bool {
    rule_for(attr).is_ok_and(|r| r.classes.0 & class_bit(class) == 0)
}

/// Whether a template may give `attr` a value of its choice (usage flags, labels): the
/// attributes an attribute-bound wrap binds besides class, type and size.
pub fn template_settable(attr: CkAttributeType) -> bool {
    rule_for(attr).is_ok_and(|r| matches!(r.source, Settable(_) | Optional))
}

fn rule_for(attr: CkAttributeType) -> Result<&'static Rule> {
    RULES.iter().find(|r| r.attr == attr).ok_or(Error::AttributeTypeInvalid(attr))
}

/// Checks a wire value against the attribute's type (the `AttributeValue` arm must match
/// `pkcs11::attribute_kind`; a CK_ULONG cannot be negative). A big integer given as a
/// non-negative `AttributeI` becomes its minimal big-endian bytes.
pub fn typed(attr: CkAttributeType, value: &WireValue) -> Result<AttrValue> {
    let kind = attribute_kind(attr).ok_or(Error::AttributeTypeInvalid(attr))?;
    match (kind, value) {
        (AttrKind::Bool, WireValue::Bool(b)) => Ok(AttrValue::Bool(*b)),
        (AttrKind::Ulong, WireValue::Int(i)) => {
            u64::try_from(*i).map(AttrValue::Ulong).map_err(|_| Error::AttributeValueInvalid(attr))
        }
        (AttrKind::Bytes, WireValue::Bytes(b)) => Ok(AttrValue::Bytes(b.clone())),
        (AttrKind::Bytes, WireValue::Int(i)) if is_big_integer(attr) => {
            let v = u64::try_from(*i).map_err(|_| Error::AttributeValueInvalid(attr))?;
            let bytes = v.to_be_bytes();
            let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len() - 1);
            Ok(AttrValue::Bytes(bytes[first..].to_vec()))
        }
        _ => Err(Error::AttributeValueInvalid(attr)),
    }
}

/// A CK_ULONG the template must hold: missing → CKR_TEMPLATE_INCOMPLETE.
pub fn required_ulong(template: &Template, attr: CkAttributeType) -> Result<u64> {
    optional_ulong(template, attr)?.ok_or(Error::TemplateIncomplete(attr))
}

/// A CK_ULONG the template may hold.
pub fn optional_ulong(template: &Template, attr: CkAttributeType) -> Result<Option<u64>> {
    match template.get(&attr).map(|v| typed(attr, v)).transpose()? {
        None => Ok(None),
        Some(AttrValue::Ulong(v)) => Ok(Some(v)),
        Some(_) => Err(Error::AttributeValueInvalid(attr)),
    }
}

/// A byte string the template may hold.
pub fn optional_bytes(template: &Template, attr: CkAttributeType) -> Result<Option<Vec<u8>>> {
    match template.get(&attr).map(|v| typed(attr, v)).transpose()? {
        None => Ok(None),
        Some(AttrValue::Bytes(v)) => Ok(Some(v)),
        Some(_) => Err(Error::AttributeValueInvalid(attr)),
    }
}

/// How a new key came to be; decides CKA_LOCAL, CKA_KEY_GEN_MECHANISM and the
/// "always/never" history attributes (PKCS #11 §4.7).
#[derive(Clone, Copy, Debug)]
pub enum Origin {
    Generated(CkMechanismType),
    Unwrapped,
    /// Derived from a base key with these CKA_ALWAYS_SENSITIVE / CKA_NEVER_EXTRACTABLE.
    Derived {
        always_sensitive: bool,
        never_extractable: bool,
    },
}

/// The attributes of one key, sorted by type. A sorted vector rather than a map: a key has
/// about twenty attributes, and every use of a key blob decodes them, so building a tree on
/// each call cost more than the AEAD that opens the blob.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Attrs(Vec<(CkAttributeType, AttrValue)>);

impl Attrs {
    fn position(&self, attr: CkAttributeType) -> std::result::Result<usize, usize> {
        self.0.binary_search_by_key(&attr, |(a, _)| *a)
    }

    fn value(&self, attr: CkAttributeType) -> Option<&AttrValue> {
        self.position(attr).ok().map(|i| &self.0[i].1)
    }

    /// Sets an attribute, replacing any value it had.
    fn insert(&mut self, attr: CkAttributeType, value: AttrValue) {
        match self.position(attr) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (attr, value)),
        }
    }

    /// Sets an attribute unless it has a value.
    fn insert_missing(&mut self, attr: CkAttributeType, value: AttrValue) {
        if let Err(i) = self.position(attr) {
            self.0.insert(i, (attr, value));
        }
    }

    /// Builds a new key's attributes: `fixed` are the values the operation decided (class,
    /// key type, length, curve, point); the template may repeat them but not contradict them.
    pub fn build(
        template: &Template,
        fixed: &[(CkAttributeType, AttrValue)],
        origin: Origin,
    ) -> Result<Attrs> {
        let mut attrs = Attrs::default();
        for (attr, value) in fixed {
            attrs.insert(*attr, value.clone());
        }
        let class = attrs.class();
        let bit = class_bit(class);
        for (&attr, wire) in template {
            let rule = rule_for(attr)?;
            let value = typed(attr, wire)?;
            if rule.classes.0 & bit == 0 {
                return Err(Error::TemplateInconsistent {
                    attr,
                    reason: "the key class has no such attribute",
                });
            }
            match rule.source {
                Computed => return Err(Error::AttributeReadOnly(attr)),
                Input if attrs.value(attr) != Some(&value) => {
                    return Err(Error::TemplateInconsistent {
                        attr,
                        reason: "differs from what the operation makes",
                    });
                }
                Input => {}
                Settable(_) | Optional => {
                    attrs.insert(attr, value);
                }
            }
        }
        for rule in RULES.iter().filter(|r| r.classes.0 & bit != 0) {
            if let Settable(default) = rule.source {
                attrs.insert_missing(rule.attr, AttrValue::Bool(default));
            }
        }
        let (local, mech) = match origin {
            Origin::Generated(m) => (true, m.0),
            Origin::Unwrapped | Origin::Derived { .. } => (false, UNAVAILABLE),
        };
        attrs.insert(CKA_LOCAL, AttrValue::Bool(local));
        attrs.insert(CKA_KEY_GEN_MECHANISM, AttrValue::Ulong(mech));
        if bit & (SECRET | PRIVATE) != 0 {
            let sensitive = attrs.flag(CKA_SENSITIVE);
            let extractable = attrs.flag(CKA_EXTRACTABLE);
            let (always, never) = match origin {
                Origin::Generated(_) => (sensitive, !extractable),
                Origin::Unwrapped => (false, false),
                Origin::Derived { always_sensitive, never_extractable } => {
                    (always_sensitive && sensitive, never_extractable && !extractable)
                }
            };
            attrs.insert(CKA_ALWAYS_SENSITIVE, AttrValue::Bool(always));
            attrs.insert(CKA_NEVER_EXTRACTABLE, AttrValue::Bool(never));
        }
        Ok(attrs)
    }

    /// CKA_CLASS (every key has one; an absent value reads as an impossible class).
    pub fn class(&self) -> CkObjectClass {
        CkObjectClass(self.ulong(CKA_CLASS).unwrap_or(UNAVAILABLE))
    }

    /// CKA_KEY_TYPE.
    pub fn key_type(&self) -> CkKeyType {
        CkKeyType(self.ulong(CKA_KEY_TYPE).unwrap_or(UNAVAILABLE))
    }

    /// A boolean attribute; absent reads as false.
    pub fn flag(&self, attr: CkAttributeType) -> bool {
        matches!(self.value(attr), Some(AttrValue::Bool(true)))
    }

    fn ulong(&self, attr: CkAttributeType) -> Option<u64> {
        match self.value(attr) {
            Some(AttrValue::Ulong(v)) => Some(*v),
            _ => None,
        }
    }

    /// Refuses use of the key unless its usage attribute `attr` is true.
    pub fn require(&self, attr: CkAttributeType) -> Result<()> {
        if self.flag(attr) { Ok(()) } else { Err(Error::KeyFunctionNotPermitted(attr)) }
    }

    /// One stored attribute for GetAttributeValue. CKA_VALUE is not stored: the engine
    /// answers it from the key material.
    pub fn get(&self, attr: CkAttributeType) -> Result<AttrValue> {
        rule_for(attr)?;
        self.value(attr).cloned().ok_or(Error::AttributeTypeInvalid(attr))
    }

    /// Whether GetAttributeValue may reveal CKA_VALUE (PKCS #11 §4.9: not when sensitive or
    /// unextractable; a private key's secret never).
    pub fn value_readable(&self) -> Result<()> {
        let readable =
            self.class() == CKO_SECRET_KEY && !self.flag(CKA_SENSITIVE) && self.flag(CKA_EXTRACTABLE);
        if readable { Ok(()) } else { Err(Error::AttributeSensitive(CKA_VALUE)) }
    }

    /// SetAttributeValue: booleans only, following each attribute's [`Change`] rule;
    /// CKA_MODIFIABLE false freezes the key.
    pub fn set(&mut self, attr: CkAttributeType, wire: &WireValue) -> Result<()> {
        let rule = rule_for(attr)?;
        // Only booleans ever change (seed table), whether or not the key carries the attribute.
        if attribute_kind(attr) != Some(AttrKind::Bool) {
            return Err(Error::AttributeReadOnly(attr));
        }
        if self.value(attr).is_none() {
            return Err(Error::TemplateInconsistent { attr, reason: "the key class has no such attribute" });
        }
        if !self.flag(CKA_MODIFIABLE) {
            return Err(Error::AttributeReadOnly(attr));
        }
        let AttrValue::Bool(new) = typed(attr, wire)? else {
            return Err(Error::AttributeValueInvalid(attr));
        };
        let allowed = match rule.change {
            Free => true,
            OnlyTo(target) => new == target || new == self.flag(attr),
            Never => new == self.flag(attr),
        };
        if !allowed {
            return Err(Error::AttributeReadOnly(attr));
        }
        self.insert(attr, AttrValue::Bool(new));
        Ok(())
    }

    /// The attributes a response may show (KeyBlob.Attributes): all stored ones, since
    /// secrets are never stored here.
    pub fn iter(&self) -> impl Iterator<Item = (CkAttributeType, &AttrValue)> {
        self.0.iter().map(|(a, v)| (*a, v))
    }

    /// For sealing: attribute rows as plain integers.
    pub fn to_rows(&self) -> Vec<(u64, AttrValue)> {
        self.0.iter().map(|(a, v)| (a.0, v.clone())).collect()
    }

    /// The inverse of [`Attrs::to_rows`].
    pub fn from_rows(rows: Vec<(u64, AttrValue)>) -> Attrs {
        let mut rows: Vec<(CkAttributeType, AttrValue)> =
            rows.into_iter().map(|(a, v)| (CkAttributeType(a), v)).collect();
        // Sealed rows come out of a sorted `Attrs`; sorting again costs nothing then and
        // keeps the lookups right whatever a blob holds.
        rows.sort_by_key(|(a, _)| *a);
        Attrs(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_fixed() -> Vec<(CkAttributeType, AttrValue)> {
        vec![
            (CKA_CLASS, AttrValue::Ulong(CKO_SECRET_KEY.0)),
            (CKA_KEY_TYPE, AttrValue::Ulong(CKK_AES.0)),
            (CKA_VALUE_LEN, AttrValue::Ulong(16)),
        ]
    }

    #[test]
    fn defaults_follow_the_documented_choice() {
        let a = Attrs::build(&Template::new(), &secret_fixed(), Origin::Generated(CKM_AES_KEY_GEN)).unwrap();
        for attr in [CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP, CKA_EXTRACTABLE] {
            assert!(a.flag(attr), "{attr}");
        }
        for attr in [CKA_DERIVE, CKA_SENSITIVE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE] {
            assert!(!a.flag(attr), "{attr}");
        }
        assert!(a.flag(CKA_MODIFIABLE) && a.flag(CKA_LOCAL));
        assert_eq!(a.get(CKA_KEY_GEN_MECHANISM), Ok(AttrValue::Ulong(CKM_AES_KEY_GEN.0)));
    }

    #[test]
    fn labels_are_kept_and_never_change() {
        let t = Template::from([(CKA_LABEL, WireValue::Bytes(b"payments".to_vec()))]);
        let mut a = Attrs::build(&t, &secret_fixed(), Origin::Unwrapped).unwrap();
        assert_eq!(a.get(CKA_LABEL), Ok(AttrValue::Bytes(b"payments".to_vec())));
        let renamed = a.set(CKA_LABEL, &WireValue::Bytes(b"other".to_vec()));
        assert_eq!(renamed.map_err(|e| e.rv()), Err(CKR_ATTRIBUTE_READ_ONLY));
        // A key made without an ID still refuses to be given one: only booleans change.
        let given = a.set(CKA_ID, &WireValue::Bytes(b"1".to_vec()));
        assert_eq!(given.map_err(|e| e.rv()), Err(CKR_ATTRIBUTE_READ_ONLY));
    }

    #[test]
    fn template_errors_have_their_codes() {
        let build = |attr, v| {
            let t = Template::from([(attr, v)]);
            Attrs::build(&t, &secret_fixed(), Origin::Unwrapped).map(|_| ()).map_err(|e| e.rv())
        };
        assert_eq!(build(CKA_ENCRYPT, WireValue::Int(1)), Err(CKR_ATTRIBUTE_VALUE_INVALID));
        assert_eq!(build(CKA_TRUSTED, WireValue::Bool(false)), Err(CKR_ATTRIBUTE_TYPE_INVALID));
        assert_eq!(build(CKA_TOKEN, WireValue::Bool(true)), Ok(()));
        assert_eq!(build(CKA_PRIVATE, WireValue::Int(1)), Err(CKR_ATTRIBUTE_VALUE_INVALID));
        assert_eq!(build(CKA_LABEL, WireValue::Bool(true)), Err(CKR_ATTRIBUTE_VALUE_INVALID));
        assert_eq!(
            build(CkAttributeType(0x7777_7777), WireValue::Bool(true)),
            Err(CKR_ATTRIBUTE_TYPE_INVALID)
        );
        assert_eq!(build(CKA_EC_POINT, WireValue::Bytes(vec![])), Err(CKR_TEMPLATE_INCONSISTENT));
        assert_eq!(build(CKA_LOCAL, WireValue::Bool(true)), Err(CKR_ATTRIBUTE_READ_ONLY));
        assert_eq!(build(CKA_VALUE_LEN, WireValue::Int(24)), Err(CKR_TEMPLATE_INCONSISTENT));
        assert_eq!(build(CKA_VALUE_LEN, WireValue::Int(-1)), Err(CKR_ATTRIBUTE_VALUE_INVALID));
        assert_eq!(build(CKA_VALUE_LEN, WireValue::Int(16)), Ok(()));
    }

    #[test]
    fn big_integers_arrive_as_integers_or_bytes() {
        let e = |v| typed(CKA_PUBLIC_EXPONENT, &v).map_err(|e| e.rv());
        assert_eq!(e(WireValue::Int(65537)), Ok(AttrValue::Bytes(vec![1, 0, 1])));
        assert_eq!(e(WireValue::Int(17)), Ok(AttrValue::Bytes(vec![17])));
        assert_eq!(e(WireValue::Int(0)), Ok(AttrValue::Bytes(vec![0])));
        assert_eq!(e(WireValue::Bytes(vec![1, 0, 1])), Ok(AttrValue::Bytes(vec![1, 0, 1])));
        assert_eq!(e(WireValue::Int(-3)), Err(CKR_ATTRIBUTE_VALUE_INVALID));
        // Only big integers: a label is never an integer.
        assert_eq!(
            typed(CKA_LABEL, &WireValue::Int(1)).map_err(|e| e.rv()),
            Err(CKR_ATTRIBUTE_VALUE_INVALID)
        );
    }

    #[test]
    fn token_and_private_are_kept_and_fixed() {
        let t = Template::from([(CKA_TOKEN, WireValue::Bool(true)), (CKA_PRIVATE, WireValue::Bool(true))]);
        let mut a = Attrs::build(&t, &secret_fixed(), Origin::Unwrapped).unwrap();
        assert!(a.flag(CKA_TOKEN) && a.flag(CKA_PRIVATE));
        let d = Attrs::build(&Template::new(), &secret_fixed(), Origin::Unwrapped).unwrap();
        assert!(!d.flag(CKA_TOKEN) && !d.flag(CKA_PRIVATE));
        assert_eq!(
            a.set(CKA_TOKEN, &WireValue::Bool(false)).map_err(|e| e.rv()),
            Err(CKR_ATTRIBUTE_READ_ONLY)
        );
    }

    #[test]
    fn one_way_rules_hold() {
        let mut a = Attrs::build(&Template::new(), &secret_fixed(), Origin::Unwrapped).unwrap();
        assert_eq!(a.set(CKA_SENSITIVE, &WireValue::Bool(true)), Ok(()));
        assert_eq!(
            a.set(CKA_SENSITIVE, &WireValue::Bool(false)).map_err(|e| e.rv()),
            Err(CKR_ATTRIBUTE_READ_ONLY)
        );
        assert_eq!(a.set(CKA_EXTRACTABLE, &WireValue::Bool(false)), Ok(()));
        assert_eq!(
            a.set(CKA_EXTRACTABLE, &WireValue::Bool(true)).map_err(|e| e.rv()),
            Err(CKR_ATTRIBUTE_READ_ONLY)
        );
        assert_eq!(
            a.set(CKA_VALUE_LEN, &WireValue::Int(32)).map_err(|e| e.rv()),
            Err(CKR_ATTRIBUTE_READ_ONLY)
        );
        assert_eq!(a.set(CKA_ENCRYPT, &WireValue::Bool(false)), Ok(()));
        let frozen = Template::from([(CKA_MODIFIABLE, WireValue::Bool(false))]);
        let mut f = Attrs::build(&frozen, &secret_fixed(), Origin::Unwrapped).unwrap();
        assert_eq!(
            f.set(CKA_ENCRYPT, &WireValue::Bool(false)).map_err(|e| e.rv()),
            Err(CKR_ATTRIBUTE_READ_ONLY)
        );
    }
}
