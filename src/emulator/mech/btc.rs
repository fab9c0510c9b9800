//! The CKM_IBM_BTC_DERIVE family: DeriveKey by BIP-32 and SLIP-0010 (arithmetic in
//! `bip32`).
//!
//! - Master (CkBIP0032MASTERK, CkSLIP0010MASTERK): the base key is the seed, a generic
//!   secret of 16..64 bytes with CKA_DERIVE and CKA_IBM_USE_AS_DATA; the template's
//!   CKA_EC_PARAMS names the curve. ChildKeyIndex and ChainCode play no part.
//! - Private to private or public: the base key is an EC (or Ed25519) private key, the
//!   parameter carries its chain code; private to public returns the public half of the
//!   private child.
//! - Public to public: the base key is a public key (BIP-32 and SLIP-0010 on the Weierstrass
//!   curves, non-hardened indexes only).
//!
//! The new key's CheckSum is its chain code (32 bytes), which the next step's parameter
//! takes back. Clients send one template for both halves of a derivation (with
//! CKA_KEY_TYPE CKK_ECDSA for every curve, Ed25519 included, and CKA_VALUE_LEN 0), so the
//! template is read leniently: attributes only the other key class carries are left out,
//! CKA_KEY_TYPE may be CKK_EC or the curve's own type, CKA_VALUE_LEN may only be 0.

use super::bip32::{self, HdCurve, Step};
use super::ec::{self, CurveOps};
use super::registry::{Derive, EC_CURVES, Registry};
use super::{MechParam, Mechanism};
use crate::emulator::attrs::{self, Attrs, Origin, Template};
use crate::emulator::blob::{Key, Material};
use crate::emulator::engine::{Engine, NewKey, ec_fixed, type_inconsistent};
use crate::emulator::error::{Error, Result};
use crate::pkcs11::ibm::{CKA_IBM_USE_AS_DATA, CKM_IBM_BTC_DERIVE};
use crate::pkcs11::*;

/// The version of BTCDeriveParm IBM's clients send.
const PARAM_VERSION: u64 = 1;

/// Sizes in bits of the derived keys: every BIP-32/SLIP-10 curve here is 256 bits.
pub(super) fn register(r: &mut Registry) {
    r.add(CKM_IBM_BTC_DERIVE, 256, 256, CKF_DERIVE | EC_CURVES).derive(BtcDerive).heavy();
}

struct BtcDerive;

impl Derive for BtcDerive {
    fn derive(&self, e: &Engine, mech: &Mechanism, base: &[u8], template: &Template) -> Result<NewKey> {
        let param = |reason| Error::MechanismParamInvalid { mech: mech.mech, reason };
        let MechParam::BtcDerive { kind, child_index, chain_code, version } = &mech.param else {
            return Err(param("BTCDeriveParameter is required"));
        };
        let (scheme, step) =
            bip32::kind(*kind).ok_or(param("Type is not a BIP-32 or SLIP-0010 derivation"))?;
        if *version != PARAM_VERSION {
            return Err(param("Version must be 1"));
        }
        let index = u32::try_from(*child_index).map_err(|_| param("ChildKeyIndex must fit in 32 bits"))?;
        let asked = match attrs::optional_bytes(template, CKA_EC_PARAMS)? {
            Some(p) => Some(ec::by_params(&p)?),
            None => None,
        };
        let base = e.open_key(base)?;
        let (ops, material, chain): (&'static dyn CurveOps, Material, Vec<u8>) = match (step, &base.material)
        {
            (Step::Master, Material::Secret(seed)) if base.attrs.key_type() == CKK_GENERIC_SECRET => {
                base.attrs.require(CKA_DERIVE)?;
                base.attrs.require(CKA_IBM_USE_AS_DATA)?;
                let ops = asked.ok_or(Error::TemplateIncomplete(CKA_EC_PARAMS))?;
                let x = bip32::master(HdCurve::of(ops.curve(), scheme)?, scheme, seed)?;
                (ops, Material::EcPrivate(ops, x.key), x.chain_code)
            }
            (Step::PrivateToPrivate | Step::PrivateToPublic, Material::EcPrivate(ops, sk)) => {
                base.attrs.require(CKA_DERIVE)?;
                same_curve(asked, *ops)?;
                let x =
                    bip32::private_child(HdCurve::of(ops.curve(), scheme)?, scheme, sk, chain_code, index)?;
                let material = if step == Step::PrivateToPublic {
                    Material::EcPublic(*ops, ops.public_point(&x.key)?)
                } else {
                    Material::EcPrivate(*ops, x.key)
                };
                (*ops, material, x.chain_code)
            }
            (Step::PublicToPublic, Material::EcPublic(ops, point)) => {
                base.attrs.require(CKA_DERIVE)?;
                same_curve(asked, *ops)?;
                let x =
                    bip32::public_child(HdCurve::of(ops.curve(), scheme)?, scheme, point, chain_code, index)?;
                (*ops, Material::EcPublic(*ops, x.point), x.chain_code)
            }
            _ => return Err(type_inconsistent(mech.mech, &base.attrs)),
        };
        let (class, point) = match &material {
            Material::EcPublic(_, p) => (CKO_PUBLIC_KEY, Some(p.as_slice())),
            _ => (CKO_PRIVATE_KEY, None),
        };
        let template = derived_template(template, class, ops)?;
        let origin = Origin::Derived {
            always_sensitive: base.attrs.flag(CKA_ALWAYS_SENSITIVE),
            never_extractable: base.attrs.flag(CKA_NEVER_EXTRACTABLE),
        };
        let attrs = Attrs::build(&template, &ec_fixed(class, ops, point), origin)?;
        e.issue(Key { attrs, material }, chain)
    }
}

/// A template's curve, if it names one, must be the base key's.
fn same_curve(asked: Option<&'static dyn CurveOps>, base: &dyn CurveOps) -> Result<()> {
    match asked {
        Some(c) if c.curve() != base.curve() => Err(Error::TemplateInconsistent {
            attr: CKA_EC_PARAMS,
            reason: "names another curve than the base key's",
        }),
        _ => Ok(()),
    }
}

/// The template as it applies to a derived key of `class` (see the module comment).
fn derived_template(template: &Template, class: CkObjectClass, ops: &dyn CurveOps) -> Result<Template> {
    let mut out = Template::new();
    for (&attr, value) in template {
        match attr {
            CKA_VALUE_LEN => {
                if attrs::optional_ulong(template, attr)? != Some(0) {
                    return Err(Error::TemplateInconsistent {
                        attr,
                        reason: "a derived EC key has no length to ask for",
                    });
                }
            }
            CKA_KEY_TYPE => {
                let asked = CkKeyType(attrs::required_ulong(template, attr)?);
                if asked != CKK_EC && asked != ops.key_type() {
                    return Err(Error::TemplateInconsistent { attr, reason: "the derived key is an EC key" });
                }
            }
            // Checked against the curve already; the new key's own value is fixed.
            CKA_EC_PARAMS => {}
            _ if attrs::only_other_classes(attr, class) => {}
            _ => {
                out.insert(attr, value.clone());
            }
        }
    }
    // CKA_CLASS stays: `Attrs::build` refuses one that is not the derivation's.
    Ok(out)
}
