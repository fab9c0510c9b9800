//! The CKM_IBM_ATTRIBUTEBOUND_WRAP family: WrapKey and UnwrapKey of attribute-bound keys
//! (wrapped form in [`format`]).
//!
//! All three keys must be attribute-bound (CKA_IBM_ATTRBOUND true), as IBM documents for
//! attribute-bound wrapping; one that is not is CKR_KEY_FUNCTION_NOT_PERMITTED. The KeK is an
//! AES key or an RSA key pair (public half to wrap, private half to unwrap) with CKA_WRAP /
//! CKA_UNWRAP; the MAC key a generic secret with CKA_SIGN (wrap) / CKA_VERIFY (unwrap). The
//! key to wrap is a secret or private key with CKA_EXTRACTABLE.
//!
//! Unwrapping restores the bound attributes: the template may repeat them (and the class,
//! type and size the material decides) but any value that differs is
//! CKR_TEMPLATE_INCONSISTENT. The history attributes start afresh, as for any unwrapped key
//! (CKA_LOCAL false, ...). An attribute-bound key cannot leave by any other wrapping
//! mechanism (CKR_KEY_NOT_WRAPPABLE), or its attributes could be dropped on the way back.

use zeroize::Zeroizing;

pub mod format;

use format::{Bound, Kek};

use super::registry::{Registry, Unwrap, WRAP, Wrap};
use super::rsa as rsa_mech;
use super::{MechParam, Mechanism};
use crate::emulator::attrs::{self, AttrValue, Attrs, Origin, Template, WireValue};
use crate::emulator::blob::{Key, Material};
use crate::emulator::engine::{Engine, NewKey, check_secret_len, secret_fixed, type_inconsistent};
use crate::emulator::error::{Error, Result};
use crate::pkcs11::ibm::{CKA_IBM_ATTRBOUND, CKM_IBM_ATTRIBUTEBOUND_WRAP};
use crate::pkcs11::*;

/// The KeK is an AES key (16..32 bytes) or an RSA key (up to `rsa::MAX_BITS` bits): as for
/// CKM_IBM_TRANSPORTKEY the range spans both units.
pub(super) fn register(r: &mut Registry) {
    r.add(CKM_IBM_ATTRIBUTEBOUND_WRAP, 16, rsa_mech::MAX_BITS, WRAP)
        .wrap(AttrBoundWrap)
        .unwrap(AttrBoundWrap)
        .heavy();
}

struct AttrBoundWrap;

impl Wrap for AttrBoundWrap {
    fn wrap(&self, e: &Engine, mech: &Mechanism, key: &[u8], kek: &[u8], mac_key: &[u8]) -> Result<Vec<u8>> {
        no_parameter(mech)?;
        let mac_key = mac_value(e, mac_key, CKA_SIGN)?;
        let kek = e.open_key(kek)?;
        bound_or_refused(&kek.attrs)?;
        let kek_ref = match &kek.material {
            Material::Secret(v) if kek.attrs.key_type() == CKK_AES => Kek::Aes(v),
            Material::RsaPublic(pk) => Kek::RsaPublic(pk),
            _ => return Err(type_inconsistent(mech.mech, &kek.attrs)),
        };
        kek.attrs.require(CKA_WRAP)?;
        let key = e.open_key(key)?;
        bound_or_refused(&key.attrs)?;
        if !key.attrs.flag(CKA_EXTRACTABLE) {
            return Err(Error::KeyUnextractable);
        }
        let material = match &key.material {
            Material::Secret(v) => v.clone(),
            Material::EcPrivate(c, sk) => c.to_pkcs8(sk)?,
            Material::RsaPrivate(sk) => rsa_mech::to_pkcs8(sk)?,
            _ => return Err(Error::KeyNotWrappable(key.attrs.class())),
        };
        let bound = key.attrs.iter().filter(|(a, _)| is_bound(*a)).map(|(a, v)| (a, v.clone())).collect();
        format::wrap(&Bound { attrs: bound, material }, kek_ref, &mac_key)
    }
}

impl Unwrap for AttrBoundWrap {
    fn unwrap(
        &self,
        e: &Engine,
        mech: &Mechanism,
        kek: &[u8],
        mac_key: &[u8],
        wrapped: &[u8],
        template: &Template,
    ) -> Result<NewKey> {
        no_parameter(mech)?;
        let mac_key = mac_value(e, mac_key, CKA_VERIFY)?;
        let kek = e.open_key(kek)?;
        bound_or_refused(&kek.attrs)?;
        let kek_ref = match &kek.material {
            Material::Secret(v) if kek.attrs.key_type() == CKK_AES => Kek::Aes(v),
            Material::RsaPrivate(sk) => Kek::RsaPrivate(sk),
            _ => return Err(type_inconsistent(mech.mech, &kek.attrs)),
        };
        kek.attrs.require(CKA_UNWRAP)?;
        let bound = format::unwrap(wrapped, kek_ref, &mac_key)?;
        let merged = merge(&bound.attrs, template)?;
        let value_of = |attr| bound.attrs.iter().find(|(a, _)| *a == attr).map(|(_, v)| v.clone());
        match (value_of(CKA_CLASS), value_of(CKA_KEY_TYPE)) {
            (Some(AttrValue::Ulong(c)), Some(AttrValue::Ulong(t))) if CkObjectClass(c) == CKO_SECRET_KEY => {
                let key_type = CkKeyType(t);
                let len = bound.material.len() as u64;
                check_secret_len(key_type, len)
                    .map_err(|_| Error::WrappedKeyInvalid("the bound value is not a key of its type"))?;
                let attrs = Attrs::build(&merged, &secret_fixed(key_type, len), Origin::Unwrapped)?;
                e.issue_secret(attrs, bound.material)
            }
            (Some(AttrValue::Ulong(c)), Some(AttrValue::Ulong(_))) if CkObjectClass(c) == CKO_PRIVATE_KEY => {
                e.import_private(&merged, &bound.material)
            }
            _ => Err(Error::WrappedKeyInvalid("the bound attributes name no key class and type")),
        }
    }
}

/// The MAC key's value: an attribute-bound generic secret with `usage`.
fn mac_value(e: &Engine, blob: &[u8], usage: CkAttributeType) -> Result<Zeroizing<Vec<u8>>> {
    if blob.is_empty() {
        return Err(Error::ArgumentsBad("CKM_IBM_ATTRIBUTEBOUND_WRAP needs a MacKey"));
    }
    let key = e.open_key(blob)?;
    let Material::Secret(value) = &key.material else {
        return Err(type_inconsistent(CKM_IBM_ATTRIBUTEBOUND_WRAP, &key.attrs));
    };
    if key.attrs.key_type() != CKK_GENERIC_SECRET {
        return Err(type_inconsistent(CKM_IBM_ATTRIBUTEBOUND_WRAP, &key.attrs));
    }
    bound_or_refused(&key.attrs)?;
    key.attrs.require(usage)?;
    Ok(value.clone())
}

/// An attribute-bound key leaves only through CKM_IBM_ATTRIBUTEBOUND_WRAP.
pub fn refuse_plain_wrap(key: &Key) -> Result<()> {
    if key.attrs.flag(CKA_IBM_ATTRBOUND) { Err(Error::KeyNotWrappable(key.attrs.class())) } else { Ok(()) }
}

fn bound_or_refused(attrs: &Attrs) -> Result<()> {
    attrs.require(CKA_IBM_ATTRBOUND)
}

fn no_parameter(mech: &Mechanism) -> Result<()> {
    match mech.param {
        MechParam::None => Ok(()),
        _ => Err(Error::MechanismParamInvalid { mech: mech.mech, reason: "takes no parameter" }),
    }
}

/// What the wrap binds: class and type, and every attribute a template could have chosen.
fn is_bound(attr: CkAttributeType) -> bool {
    attr == CKA_CLASS || attr == CKA_KEY_TYPE || attrs::template_settable(attr)
}

/// The template of the unwrapped key: the bound attributes, with the request's template
/// allowed to repeat but not to change them.
fn merge(bound: &[(CkAttributeType, AttrValue)], template: &Template) -> Result<Template> {
    let mut out: Template = bound
        .iter()
        .map(|(a, v)| {
            let wire = match v {
                AttrValue::Bool(b) => WireValue::Bool(*b),
                AttrValue::Ulong(u) => WireValue::Int(*u as i64),
                AttrValue::Bytes(b) => WireValue::Bytes(b.clone()),
            };
            (*a, wire)
        })
        .collect();
    for (&attr, wire) in template {
        match bound.iter().find(|(a, _)| *a == attr) {
            Some((_, v)) if attrs::typed(attr, wire)? != *v => {
                return Err(Error::TemplateInconsistent {
                    attr,
                    reason: "differs from the attribute-bound value",
                });
            }
            Some(_) => {}
            // Class-, type- and size-decided attributes are checked against the material
            // by `Attrs::build`; anything else is refused there.
            None => {
                out.insert(attr, wire.clone());
            }
        }
    }
    Ok(out)
}
