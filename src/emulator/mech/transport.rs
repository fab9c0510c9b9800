//! CKM_IBM_TRANSPORTKEY: UnwrapKey importing an outside public key from its
//! SubjectPublicKeyInfo, of any supported type (EC on every curve, Ed25519, RSA, DH, DSA).
//! The KeK must be present and valid but plays no part: the SPKI is public and arrives in
//! the clear. The imported key has an empty CheckSum.

use super::registry::{Registry, Unwrap};
use super::{Mechanism, ec, ffc, rsa};
use crate::emulator::attrs::{Attrs, Origin, Template};
use crate::emulator::blob::{Key, Material};
use crate::emulator::engine::{Engine, NewKey, ec_fixed, rsa_fixed};
use crate::emulator::error::{Error, Result};
use crate::pkcs11::ibm::CKM_IBM_TRANSPORTKEY;
use crate::pkcs11::*;

/// Its key sizes span EC (from the smallest curve, in bits) to RSA.
pub(super) fn register(r: &mut Registry) {
    r.add(CKM_IBM_TRANSPORTKEY, ec::EC_MIN_BITS, rsa::MAX_BITS, CKF_UNWRAP).unwrap(TransportKey).heavy();
}

struct TransportKey;

impl Unwrap for TransportKey {
    fn unwrap(
        &self,
        e: &Engine,
        _: &Mechanism,
        kek: &[u8],
        _: &[u8],
        wrapped: &[u8],
        template: &Template,
    ) -> Result<NewKey> {
        e.open_key(kek)?;
        let material = match ec::from_spki(wrapped) {
            Some((curve, point)) => Material::EcPublic(curve, point),
            None => match ffc::public_from_spki(wrapped) {
                Some(material) => material,
                None => Material::RsaPublic(Box::new(rsa::from_spki(wrapped).ok_or(
                    Error::WrappedKeyInvalid("not a SubjectPublicKeyInfo of a supported key type"),
                )?)),
            },
        };
        let attrs = Attrs::build(template, &public_fixed(&material), Origin::Unwrapped)?;
        e.issue(Key { attrs, material }, Vec::new())
    }
}

/// The fixed attributes of an imported public key.
fn public_fixed(material: &Material) -> Vec<(CkAttributeType, crate::emulator::attrs::AttrValue)> {
    match material {
        Material::RsaPublic(pk) => rsa_fixed(CKO_PUBLIC_KEY, pk, &rsa::public_exponent(pk)),
        Material::EcPublic(curve, point) => ec_fixed(CKO_PUBLIC_KEY, *curve, Some(point)),
        Material::DhPublic(..) | Material::DsaPublic(_) => ffc::public_fixed(material),
        // Only public material reaches here.
        _ => Vec::new(),
    }
}
