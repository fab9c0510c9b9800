//! The finite-field family, DH and DSA (arithmetic in `dh` and `dsa`): domain parameters
//! (GenerateKey with CKM_DH_PKCS_PARAMETER_GEN and CKM_DSA_PARAMETER_GEN), key pairs over
//! them (GenerateKeyPair), DH derivation (DeriveKey with CKM_DH_PKCS_DERIVE) and DSA
//! signatures.
//!
//! Domain parameters are not keys: GenerateKey answers them as KeyBytes holding the DER
//! parameters (`DHParameter` or `Dss-Parms`), which IBM's clients hand back unchanged as
//! the CKA_IBM_STRUCT_PARAMS of a key pair template, with the attributes CKA_CLASS
//! (CKO_DOMAIN_PARAMETERS), CKA_KEY_TYPE, CKA_PRIME_BITS, CKA_PRIME, CKA_BASE (and
//! CKA_SUBPRIME for DSA), and an empty CheckSum. Nothing about them is sealed: they are
//! public, and a key pair checks whatever parameters it is given.
//!
//! A key pair template gives the parameters as CKA_IBM_STRUCT_PARAMS (public template
//! first, then private), or as PKCS #11's CKA_PRIME, CKA_BASE (and CKA_SUBPRIME). Parameters
//! of another size are CKR_KEY_SIZE_RANGE; parameters that do not parse, or are not a
//! group (an even prime, a base out of range), CKR_DOMAIN_PARAMS_INVALID (PKCS #11's code
//! for unusable domain parameters). Both halves carry CKA_PRIME, CKA_BASE (CKA_SUBPRIME) and, when given,
//! CKA_IBM_STRUCT_PARAMS as given.
//!
//! DH derivation takes the peer's public value as ParameterB (big-endian bytes, as IBM's
//! clients take it from the peer's SPKI); a value outside (1, p - 1) of the base key's group
//! is CKR_MECHANISM_PARAM_INVALID. The new key is made as ECDH's is (`derive_key`): the last
//! CKA_VALUE_LEN bytes of Z, or all of Z for a generic secret without a length.

use zeroize::Zeroizing;

use super::dh::{self, DhParams, Unusable};
use super::digest::HashAlg;
use super::registry::{Derive, KeyGen, KeyPairGen, Registry, SIGN, Sign};
use super::sign::{SignParam, SignScheme};
use super::{MechParam, Mechanism, dsa as dsa_mech};
use crate::emulator::attrs::{self, AttrValue, Attrs, Origin, Template};
use crate::emulator::blob::{Key, Material};
use crate::emulator::engine::{
    Engine, NewKey, check_secret_len, derived_secret, secret_template, type_inconsistent,
};
use crate::emulator::error::{Error, Result};
use crate::pkcs11::ibm::CKA_IBM_STRUCT_PARAMS;
use crate::pkcs11::*;

/// Attributes a parameter generation template may hold besides the sizes: the class and
/// type (which must agree) and the object attributes every GREP11 template may carry,
/// which parameters, being no key, ignore.
const PARAMS_IGNORED: [CkAttributeType; 5] = [CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE, CKA_LABEL, CKA_ID];

/// DH and DSA, sized by the prime in bits (see `dh` and `dsa` for the sizes). All of it is
/// big-integer work (a 2048-bit DSA parameter generation takes seconds), so off the I/O
/// threads.
pub(super) fn register(r: &mut Registry) {
    let dh_named_min = dh::NAMED_BITS[0];
    r.add(CKM_DH_PKCS_PARAMETER_GEN, dh_named_min, dh::MAX_BITS, CKF_GENERATE)
        .key_gen(ParamGen(CKK_DH))
        .heavy();
    r.add(CKM_DH_PKCS_KEY_PAIR_GEN, dh::MIN_BITS, dh::MAX_BITS, CKF_GENERATE_KEY_PAIR)
        .key_pair_gen(PairGen(CKK_DH))
        .heavy();
    r.add(CKM_DH_PKCS_DERIVE, dh::MIN_BITS, dh::MAX_BITS, CKF_DERIVE).derive(DhDerive).heavy();
    let (min, max) = (dsa_mech::MIN_BITS, dsa_mech::MAX_BITS);
    r.add(CKM_DSA_PARAMETER_GEN, min, max, CKF_GENERATE).key_gen(ParamGen(CKK_DSA)).heavy();
    r.add(CKM_DSA_KEY_PAIR_GEN, min, max, CKF_GENERATE_KEY_PAIR).key_pair_gen(PairGen(CKK_DSA)).heavy();
    r.add(CKM_DSA, min, max, SIGN).sign(DsaSign(None)).heavy();
    for (mech, hash) in [
        (CKM_DSA_SHA1, HashAlg::Sha1),
        (CKM_DSA_SHA224, HashAlg::Sha224),
        (CKM_DSA_SHA256, HashAlg::Sha256),
        (CKM_DSA_SHA384, HashAlg::Sha384),
        (CKM_DSA_SHA512, HashAlg::Sha512),
    ] {
        r.add(mech, min, max, SIGN).sign(DsaSign(Some(hash))).heavy();
    }
}

/// GenerateKey for the parameter generation rows, of CKK_DH or CKK_DSA.
struct ParamGen(CkKeyType);

impl KeyGen for ParamGen {
    fn generate_key(&self, _: &Engine, mech: &Mechanism, template: &Template) -> Result<NewKey> {
        let key_type = self.0;
        check_params_template(template, key_type)?;
        let bits = attrs::required_ulong(template, CKA_PRIME_BITS)?;
        let subprime_bits = attrs::optional_ulong(template, CKA_SUBPRIME_BITS)?;
        let (der, parts) = if key_type == CKK_DH {
            let params = DhParams::named(bits).ok_or(Error::KeySizeRange(bits))?;
            (params.to_der()?, vec![(CKA_PRIME, params.prime()), (CKA_BASE, params.base())])
        } else {
            let params = dsa_mech::generate_params(bits, subprime_bits)?;
            let [p, q, g] = dsa_mech::params_parts(&params);
            (dsa_mech::params_der(&params)?, vec![(CKA_PRIME, p), (CKA_SUBPRIME, q), (CKA_BASE, g)])
        };
        let mut rows = vec![
            (CKA_CLASS.0, AttrValue::Ulong(CKO_DOMAIN_PARAMETERS.0)),
            (CKA_KEY_TYPE.0, AttrValue::Ulong(key_type.0)),
            (CKA_PRIME_BITS.0, AttrValue::Ulong(bits)),
            (CKA_LOCAL.0, AttrValue::Bool(true)),
            (CKA_KEY_GEN_MECHANISM.0, AttrValue::Ulong(mech.mech.0)),
        ];
        rows.extend(parts.into_iter().map(|(a, v)| (a.0, AttrValue::Bytes(v))));
        Ok(NewKey { blob: der, attrs: Attrs::from_rows(rows), checksum: Vec::new() })
    }
}

/// GenerateKeyPair for CKM_DH_PKCS_KEY_PAIR_GEN and CKM_DSA_KEY_PAIR_GEN (CKK_DH or CKK_DSA).
struct PairGen(CkKeyType);

impl KeyPairGen for PairGen {
    fn generate_key_pair(
        &self,
        e: &Engine,
        mech: &Mechanism,
        public_template: &Template,
        private_template: &Template,
    ) -> Result<(NewKey, NewKey)> {
        let from = |attr| -> Result<Option<Vec<u8>>> {
            match attrs::optional_bytes(public_template, attr)? {
                Some(v) => Ok(Some(v)),
                None => attrs::optional_bytes(private_template, attr),
            }
        };
        let required = |attr| from(attr)?.ok_or(Error::TemplateIncomplete(attr));
        let structured = from(CKA_IBM_STRUCT_PARAMS)?;
        let unusable = |attr: CkAttributeType| {
            move |e| match e {
                Unusable::Size(bits) => Error::KeySizeRange(bits),
                Unusable::Malformed if attr == CKA_IBM_STRUCT_PARAMS => {
                    Error::DomainParamsInvalid("CKA_IBM_STRUCT_PARAMS is not DER parameters of a group")
                }
                Unusable::Malformed => Error::DomainParamsInvalid("CKA_PRIME and CKA_BASE are not a group"),
            }
        };
        let (private, public, mut fixed) = if self.0 == CKK_DH {
            let params = match &structured {
                Some(der) => DhParams::from_der(der).map_err(unusable(CKA_IBM_STRUCT_PARAMS))?,
                None => DhParams::from_parts(&required(CKA_PRIME)?, &required(CKA_BASE)?)
                    .map_err(unusable(CKA_PRIME))?,
            };
            let fixed = vec![
                (CKA_KEY_TYPE, AttrValue::Ulong(CKK_DH.0)),
                (CKA_PRIME, AttrValue::Bytes(params.prime())),
                (CKA_BASE, AttrValue::Bytes(params.base())),
            ];
            let (x, y) = params.generate();
            let params = Box::new(params);
            (Material::DhPrivate(params.clone(), x), Material::DhPublic(params, y), fixed)
        } else {
            let params = match &structured {
                Some(der) => dsa_mech::params_from_der(der).map_err(unusable(CKA_IBM_STRUCT_PARAMS))?,
                None => dsa_mech::params_from_parts(
                    &required(CKA_PRIME)?,
                    &required(CKA_SUBPRIME)?,
                    &required(CKA_BASE)?,
                )
                .map_err(unusable(CKA_PRIME))?,
            };
            let [p, q, g] = dsa_mech::params_parts(&params);
            let fixed = vec![
                (CKA_KEY_TYPE, AttrValue::Ulong(CKK_DSA.0)),
                (CKA_PRIME, AttrValue::Bytes(p)),
                (CKA_SUBPRIME, AttrValue::Bytes(q)),
                (CKA_BASE, AttrValue::Bytes(g)),
            ];
            let sk = dsa_mech::generate(params);
            let pk = Box::new(sk.verifying_key().clone());
            (Material::DsaPrivate(Box::new(sk)), Material::DsaPublic(pk), fixed)
        };
        if let Some(der) = structured {
            fixed.push((CKA_IBM_STRUCT_PARAMS, AttrValue::Bytes(der)));
        }
        let origin = Origin::Generated(mech.mech);
        let with_class = |class: CkObjectClass| {
            let mut rows = vec![(CKA_CLASS, AttrValue::Ulong(class.0))];
            rows.extend(fixed.iter().cloned());
            rows
        };
        let private_attrs = Attrs::build(private_template, &with_class(CKO_PRIVATE_KEY), origin)?;
        let public_attrs = Attrs::build(public_template, &with_class(CKO_PUBLIC_KEY), origin)?;
        let private = e.issue(Key { attrs: private_attrs, material: private }, Vec::new())?;
        let public = e.issue(Key { attrs: public_attrs, material: public }, Vec::new())?;
        Ok((private, public))
    }
}

/// DeriveKey with CKM_DH_PKCS_DERIVE.
struct DhDerive;

impl Derive for DhDerive {
    fn derive(&self, e: &Engine, mech: &Mechanism, base: &[u8], template: &Template) -> Result<NewKey> {
        let bad = |reason| Error::MechanismParamInvalid { mech: mech.mech, reason };
        let MechParam::Bytes(peer) = &mech.param else {
            return Err(bad("the peer's public value (ParameterB) is required"));
        };
        let base = e.open_key(base)?;
        let Material::DhPrivate(params, x) = &base.material else {
            return Err(type_inconsistent(mech.mech, &base.attrs));
        };
        base.attrs.require(CKA_DERIVE)?;
        let z = params
            .agree(x, peer)
            .ok_or(bad("the peer's public value is not in (1, p - 1) of the key's group"))?;
        let key_type = secret_template(template)?;
        let len = match (key_type, attrs::optional_ulong(template, CKA_VALUE_LEN)?) {
            (CKK_AES, None) => return Err(Error::TemplateIncomplete(CKA_VALUE_LEN)),
            (_, None) => z.len() as u64,
            (_, Some(len)) => len,
        };
        check_secret_len(key_type, len)?;
        let start = z.len().checked_sub(len as usize).ok_or(Error::KeySizeRange(len))?;
        let value = Zeroizing::new(z[start..].to_vec());
        let attrs = derived_secret(template, &base.attrs, key_type, len)?;
        e.issue_secret(attrs, value)
    }
}

/// DSA signatures: CKM_DSA signs the given hash, CKM_DSA_SHA* hash first.
struct DsaSign(Option<HashAlg>);

impl Sign for DsaSign {
    fn scheme(&self) -> SignScheme {
        SignScheme::Dsa(self.0)
    }

    fn key(
        &self,
        mech: &Mechanism,
        key: &Key,
        verify: bool,
        param: SignParam,
    ) -> Result<(Vec<u8>, SignParam)> {
        match (&key.material, verify) {
            (Material::DsaPrivate(sk), false) => Ok((dsa_mech::to_pkcs8(sk)?.to_vec(), param)),
            (Material::DsaPublic(pk), true) => Ok((dsa_mech::to_spki(pk)?, param)),
            _ => Err(type_inconsistent(mech.mech, &key.attrs)),
        }
    }
}

/// A DH or DSA public key from an SPKI (CKM_IBM_TRANSPORTKEY imports), or `None`.
pub fn public_from_spki(spki: &[u8]) -> Option<Material> {
    if let Some(key) = dsa_mech::from_spki(spki) {
        return Some(Material::DsaPublic(Box::new(key)));
    }
    dh::from_spki(spki).map(|(params, y)| Material::DhPublic(Box::new(params), y))
}

/// The fixed attributes of an imported DH or DSA public key.
pub fn public_fixed(material: &Material) -> Vec<(CkAttributeType, AttrValue)> {
    let mut rows = vec![(CKA_CLASS, AttrValue::Ulong(CKO_PUBLIC_KEY.0))];
    match material {
        Material::DhPublic(params, _) => rows.extend([
            (CKA_KEY_TYPE, AttrValue::Ulong(CKK_DH.0)),
            (CKA_PRIME, AttrValue::Bytes(params.prime())),
            (CKA_BASE, AttrValue::Bytes(params.base())),
        ]),
        Material::DsaPublic(key) => {
            let [p, q, g] = dsa_mech::params_parts(key.components());
            rows.extend([
                (CKA_KEY_TYPE, AttrValue::Ulong(CKK_DSA.0)),
                (CKA_PRIME, AttrValue::Bytes(p)),
                (CKA_SUBPRIME, AttrValue::Bytes(q)),
                (CKA_BASE, AttrValue::Bytes(g)),
            ]);
        }
        _ => {}
    }
    rows
}

/// The template of a parameter generation: CKA_PRIME_BITS (and, for DSA,
/// CKA_SUBPRIME_BITS), CKA_CLASS and CKA_KEY_TYPE agreeing, and [`PARAMS_IGNORED`].
fn check_params_template(template: &Template, key_type: CkKeyType) -> Result<()> {
    for (&attr, value) in template {
        let typed = attrs::typed(attr, value)?;
        let agrees = match attr {
            CKA_PRIME_BITS => true,
            CKA_SUBPRIME_BITS => key_type == CKK_DSA,
            CKA_CLASS => typed == AttrValue::Ulong(CKO_DOMAIN_PARAMETERS.0),
            CKA_KEY_TYPE => typed == AttrValue::Ulong(key_type.0),
            _ => PARAMS_IGNORED.contains(&attr),
        };
        if !agrees {
            return Err(Error::TemplateInconsistent {
                attr,
                reason: "domain parameter generation does not take it",
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::attrs::WireValue;
    use crate::emulator::blob::Operation;
    use num_bigint::BigUint;

    fn engine() -> Engine {
        Engine::new(&[9; 32])
    }

    fn mech(m: CkMechanismType) -> Mechanism {
        Mechanism { mech: m, param: MechParam::None }
    }

    fn template(rows: &[(CkAttributeType, WireValue)]) -> Template {
        rows.iter().cloned().collect()
    }

    fn int(v: u64) -> WireValue {
        WireValue::Int(v as i64)
    }

    fn rv<T>(r: Result<T>) -> CkRv {
        r.err().map(|e| e.rv()).unwrap_or(CKR_OK)
    }

    /// The SPKI at the start of a public key blob (SPKI || tag).
    fn spki_of(blob: &[u8]) -> &[u8] {
        use der::{Decode, Reader};
        let mut reader = der::SliceReader::new(blob).unwrap();
        spki::SubjectPublicKeyInfoRef::decode(&mut reader).unwrap();
        &blob[..u32::from(reader.position()) as usize]
    }

    /// The public value inside a public key blob, as IBM's clients read it.
    fn public_value(blob: &[u8]) -> Vec<u8> {
        use der::Decode;
        let info = spki::SubjectPublicKeyInfoRef::from_der(spki_of(blob)).unwrap();
        let y = der::asn1::Uint::from_der(info.subject_public_key.as_bytes().unwrap()).unwrap();
        y.as_bytes().to_vec()
    }

    fn dh_pair(e: &Engine, params_der: &[u8]) -> (NewKey, NewKey) {
        let public = template(&[(CKA_IBM_STRUCT_PARAMS, WireValue::Bytes(params_der.to_vec()))]);
        let private =
            template(&[(CKA_DERIVE, WireValue::Bool(true)), (CKA_SENSITIVE, WireValue::Bool(true))]);
        e.generate_key_pair(&mech(CKM_DH_PKCS_KEY_PAIR_GEN), &public, &private).unwrap()
    }

    fn derive(e: &Engine, private: &NewKey, peer: Vec<u8>, t: &Template) -> Result<NewKey> {
        e.derive_key(&Mechanism { mech: CKM_DH_PKCS_DERIVE, param: MechParam::Bytes(peer) }, &private.blob, t)
    }

    /// The IBM client flow: parameters, two pairs over them, both sides derive; the secret
    /// is checked against num-bigint's modpow with the public values of the SPKIs.
    #[test]
    fn dh_flow_as_the_clients_run_it() {
        let e = engine();
        let params = e
            .generate_key(&mech(CKM_DH_PKCS_PARAMETER_GEN), &template(&[(CKA_PRIME_BITS, int(2048))]))
            .unwrap();
        assert_eq!(params.blob, DhParams::named(2048).unwrap().to_der().unwrap());
        assert!(params.checksum.is_empty());
        let (a_priv, a_pub) = dh_pair(&e, &params.blob);
        let (b_priv, b_pub) = dh_pair(&e, &params.blob);
        let (ya, yb) = (public_value(&a_pub.blob), public_value(&b_pub.blob));
        let generic =
            template(&[(CKA_CLASS, int(CKO_SECRET_KEY.0)), (CKA_KEY_TYPE, int(CKK_GENERIC_SECRET.0))]);
        let za = derive(&e, &a_priv, yb.clone(), &generic).unwrap();
        let zb = derive(&e, &b_priv, ya.clone(), &generic).unwrap();
        let value = |k: &NewKey| e.get_attributes(&k.blob, &[CKA_VALUE]).unwrap()[0].1.to_bytes();
        assert_eq!(value(&za), value(&zb));
        assert_eq!(value(&za).len(), 256);
        let aes = template(&[
            (CKA_CLASS, int(CKO_SECRET_KEY.0)),
            (CKA_KEY_TYPE, int(CKK_AES.0)),
            (CKA_VALUE_LEN, int(16)),
        ]);
        let ka = derive(&e, &a_priv, yb, &aes).unwrap();
        let kb = derive(&e, &b_priv, ya, &aes).unwrap();
        let enc =
            |k: &NewKey| e.cipher_single(Operation::Encrypt, &mech(CKM_AES_ECB), &k.blob, &[0; 16]).unwrap();
        assert_eq!(enc(&ka), enc(&kb));
        assert_eq!(value(&ka), value(&za)[240..], "the last CKA_VALUE_LEN bytes of Z");
    }

    /// A pair over parameters given as CKA_PRIME and CKA_BASE, against a peer whose
    /// private value the test knows: Z matches num-bigint's modpow exactly.
    #[test]
    fn dh_secret_matches_num_bigint() {
        let e = engine();
        let group = DhParams::named(3072).unwrap();
        let t = template(&[
            (CKA_PRIME, WireValue::Bytes(group.prime())),
            (CKA_BASE, WireValue::Bytes(group.base())),
        ]);
        let derive_t = template(&[(CKA_DERIVE, WireValue::Bool(true))]);
        let (private, public) = e.generate_key_pair(&mech(CKM_DH_PKCS_KEY_PAIR_GEN), &t, &derive_t).unwrap();
        let p = BigUint::from_bytes_be(&group.prime());
        let peer_x = BigUint::from_bytes_be(&[0x5a; 40]);
        let peer_y = BigUint::from(2u8).modpow(&peer_x, &p);
        let generic = template(&[
            (CKA_CLASS, int(CKO_SECRET_KEY.0)),
            (CKA_KEY_TYPE, int(CKK_GENERIC_SECRET.0)),
            (CKA_VALUE_LEN, int(200)),
        ]);
        let k = derive(&e, &private, peer_y.to_bytes_be(), &generic).unwrap();
        let ours = BigUint::from_bytes_be(&public_value(&public.blob));
        let z = ours.modpow(&peer_x, &p).to_bytes_be();
        let mut padded = vec![0u8; 384 - z.len()];
        padded.extend_from_slice(&z);
        let got = e.get_attributes(&k.blob, &[CKA_VALUE]).unwrap()[0].1.to_bytes();
        assert_eq!(got, padded[184..]);
        // The pair's attributes show the group.
        let shown = e.get_attributes(&public.blob, &[CKA_KEY_TYPE, CKA_PRIME, CKA_BASE]).unwrap();
        assert_eq!(shown[0].1, AttrValue::Ulong(CKK_DH.0));
        assert_eq!(shown[1].1, AttrValue::Bytes(group.prime()));
        assert_eq!(rv(e.get_attributes(&private.blob, &[CKA_VALUE])), CKR_ATTRIBUTE_SENSITIVE);
    }

    #[test]
    fn dh_refusals() {
        let e = engine();
        let gen_params = |rows: &[(CkAttributeType, WireValue)]| {
            rv(e.generate_key(&mech(CKM_DH_PKCS_PARAMETER_GEN), &template(rows)))
        };
        assert_eq!(gen_params(&[]), CKR_TEMPLATE_INCOMPLETE);
        assert_eq!(gen_params(&[(CKA_PRIME_BITS, int(1024))]), CKR_KEY_SIZE_RANGE);
        assert_eq!(gen_params(&[(CKA_PRIME_BITS, int(2047))]), CKR_KEY_SIZE_RANGE);
        assert_eq!(gen_params(&[(CKA_PRIME_BITS, WireValue::Bool(true))]), CKR_ATTRIBUTE_VALUE_INVALID);
        assert_eq!(
            gen_params(&[(CKA_PRIME_BITS, int(2048)), (CKA_SUBPRIME_BITS, int(256))]),
            CKR_TEMPLATE_INCONSISTENT
        );
        assert_eq!(
            gen_params(&[(CKA_PRIME_BITS, int(2048)), (CKA_KEY_TYPE, int(CKK_DSA.0))]),
            CKR_TEMPLATE_INCONSISTENT
        );
        assert_eq!(
            gen_params(&[(CKA_PRIME_BITS, int(2048)), (CKA_LABEL, WireValue::Bytes(b"x".to_vec()))]),
            CKR_OK
        );
        let pair = |public: Template| {
            rv(e.generate_key_pair(&mech(CKM_DH_PKCS_KEY_PAIR_GEN), &public, &Template::new()))
        };
        assert_eq!(pair(Template::new()), CKR_TEMPLATE_INCOMPLETE);
        assert_eq!(
            pair(template(&[(CKA_IBM_STRUCT_PARAMS, WireValue::Bytes(b"garbage".to_vec()))])),
            CKR_DOMAIN_PARAMS_INVALID
        );
        let small = dh::DhParams::named(2048).unwrap().prime()[..64].to_vec();
        assert_eq!(
            pair(template(&[(CKA_PRIME, WireValue::Bytes(small)), (CKA_BASE, WireValue::Bytes(vec![2]))])),
            CKR_KEY_SIZE_RANGE
        );
        let der = DhParams::named(2048).unwrap().to_der().unwrap();
        let (private, public) = dh_pair(&e, &der);
        let generic =
            template(&[(CKA_CLASS, int(CKO_SECRET_KEY.0)), (CKA_KEY_TYPE, int(CKK_GENERIC_SECRET.0))]);
        assert_eq!(rv(derive(&e, &private, vec![1], &generic)), CKR_MECHANISM_PARAM_INVALID);
        assert_eq!(
            rv(e.derive_key(&mech(CKM_DH_PKCS_DERIVE), &private.blob, &generic)),
            CKR_MECHANISM_PARAM_INVALID
        );
        let y = public_value(&public.blob);
        assert_eq!(rv(derive(&e, &public, y.clone(), &generic)), CKR_KEY_TYPE_INCONSISTENT);
        let too_long = template(&[
            (CKA_CLASS, int(CKO_SECRET_KEY.0)),
            (CKA_KEY_TYPE, int(CKK_GENERIC_SECRET.0)),
            (CKA_VALUE_LEN, int(257)),
        ]);
        assert_eq!(rv(derive(&e, &private, y.clone(), &too_long)), CKR_KEY_SIZE_RANGE);
        let no_derive = e
            .generate_key_pair(
                &mech(CKM_DH_PKCS_KEY_PAIR_GEN),
                &template(&[(CKA_IBM_STRUCT_PARAMS, WireValue::Bytes(der))]),
                &Template::new(),
            )
            .unwrap()
            .0;
        assert_eq!(rv(derive(&e, &no_derive, y, &generic)), CKR_KEY_FUNCTION_NOT_PERMITTED);
    }

    /// The IBM client flow for DSA (1024-bit parameters to keep the test quick), every
    /// signing flow, and signatures checked with the `dsa` crate directly.
    #[test]
    fn dsa_flow_in_every_signing_flow() {
        use ::dsa::signature::hazmat::PrehashVerifier;
        let e = engine();
        let params =
            e.generate_key(&mech(CKM_DSA_PARAMETER_GEN), &template(&[(CKA_PRIME_BITS, int(1024))])).unwrap();
        assert!(dsa_mech::params_from_der(&params.blob).is_ok());
        let public_t = template(&[
            (CKA_IBM_STRUCT_PARAMS, WireValue::Bytes(params.blob.clone())),
            (CKA_VERIFY, WireValue::Bool(true)),
        ]);
        let private_t =
            template(&[(CKA_SIGN, WireValue::Bool(true)), (CKA_SENSITIVE, WireValue::Bool(true))]);
        let (private, public) =
            e.generate_key_pair(&mech(CKM_DSA_KEY_PAIR_GEN), &public_t, &private_t).unwrap();
        let vk = dsa_mech::from_spki(spki_of(&public.blob)).unwrap();
        let data = b"This data needs to be signed";
        let m = mech(CKM_DSA_SHA1);
        let check = |sig: &[u8]| {
            let (r, s) = sig.split_at(20);
            let sig = ::dsa::Signature::from_components(
                ::dsa::BoxedUint::from_be_slice_vartime(r),
                ::dsa::BoxedUint::from_be_slice_vartime(s),
            )
            .unwrap();
            vk.verify_prehash(&crate::emulator::mech::digest::HashAlg::Sha1.digest(data), &sig).unwrap();
        };
        let single = e.sign_single(&m, &private.blob, data).unwrap();
        assert_eq!(single.len(), 40);
        check(&single);
        e.verify_single(&m, &public.blob, data, &single).unwrap();
        let state = e.sign_init(Operation::Sign, &m, &private.blob).unwrap();
        let part = e.sign(&state, data).unwrap();
        check(&part);
        let mut state = e.sign_init(Operation::Sign, &m, &private.blob).unwrap();
        state = e.sign_update(Operation::Sign, &state, &data[..8]).unwrap();
        state = e.sign_update(Operation::Sign, &state, &data[8..]).unwrap();
        let multi = e.sign_final(&state).unwrap();
        check(&multi);
        let mut vstate = e.sign_init(Operation::Verify, &m, &public.blob).unwrap();
        vstate = e.sign_update(Operation::Verify, &vstate, &data[..8]).unwrap();
        vstate = e.sign_update(Operation::Verify, &vstate, &data[8..]).unwrap();
        e.verify_final(&vstate, &multi).unwrap();
        let mut bad = multi.clone();
        bad[5] ^= 1;
        assert_eq!(rv(e.verify_final(&vstate, &bad)), CKR_SIGNATURE_INVALID);
        // CKM_DSA over a SHA-256 prehash (longer than q: its leftmost 160 bits are used).
        let hash = crate::emulator::mech::digest::HashAlg::Sha256.digest(data);
        let raw = e.sign_single(&mech(CKM_DSA), &private.blob, &hash).unwrap();
        e.verify_single(&mech(CKM_DSA), &public.blob, &hash, &raw).unwrap();
        e.verify_single(&mech(CKM_DSA_SHA256), &public.blob, data, &raw).unwrap();
        let raw_state = e.sign_init(Operation::Sign, &mech(CKM_DSA), &private.blob).unwrap();
        assert_eq!(rv(e.sign_update(Operation::Sign, &raw_state, &hash)), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(rv(e.sign_single(&mech(CKM_DSA), &private.blob, &[])), CKR_DATA_LEN_RANGE);
        assert_eq!(rv(e.sign_single(&mech(CKM_DSA_SHA1), &public.blob, data)), CKR_KEY_TYPE_INCONSISTENT);
        assert_eq!(rv(e.verify_single(&m, &public.blob, data, &single[..39])), CKR_SIGNATURE_LEN_RANGE);
        assert_eq!(rv(e.get_attributes(&private.blob, &[CKA_VALUE])), CKR_ATTRIBUTE_SENSITIVE);
        // The public key travels: imported through the transport-key unwrap it verifies.
        let kek = e.generate_key(&mech(CKM_AES_KEY_GEN), &template(&[(CKA_VALUE_LEN, int(16))])).unwrap();
        let imported = e
            .unwrap_key(
                &mech(crate::pkcs11::ibm::CKM_IBM_TRANSPORTKEY),
                &kek.blob,
                spki_of(&public.blob),
                &template(&[(CKA_VERIFY, WireValue::Bool(true))]),
            )
            .unwrap();
        e.verify_single(&m, &imported.blob, data, &single).unwrap();
        let shown = e.get_attributes(&imported.blob, &[CKA_KEY_TYPE]).unwrap();
        assert_eq!(shown[0].1, AttrValue::Ulong(CKK_DSA.0));
    }

    #[test]
    fn dsa_refusals() {
        let e = engine();
        let gen_params = |rows: &[(CkAttributeType, WireValue)]| {
            rv(e.generate_key(&mech(CKM_DSA_PARAMETER_GEN), &template(rows)))
        };
        assert_eq!(gen_params(&[(CKA_PRIME_BITS, int(4096))]), CKR_KEY_SIZE_RANGE);
        assert_eq!(
            gen_params(&[(CKA_PRIME_BITS, int(2048)), (CKA_SUBPRIME_BITS, int(160))]),
            CKR_KEY_SIZE_RANGE
        );
        assert_eq!(gen_params(&[(CKA_SUBPRIME_BITS, int(256))]), CKR_TEMPLATE_INCOMPLETE);
        let pair = |public: Template| {
            rv(e.generate_key_pair(&mech(CKM_DSA_KEY_PAIR_GEN), &public, &Template::new()))
        };
        assert_eq!(pair(Template::new()), CKR_TEMPLATE_INCOMPLETE);
        assert_eq!(
            pair(template(&[(CKA_IBM_STRUCT_PARAMS, WireValue::Bytes(vec![0x30, 0x00]))])),
            CKR_DOMAIN_PARAMS_INVALID
        );
        // DH parameters are not DSA parameters.
        let dh_der = DhParams::named(2048).unwrap().to_der().unwrap();
        assert_eq!(
            pair(template(&[(CKA_IBM_STRUCT_PARAMS, WireValue::Bytes(dh_der))])),
            CKR_DOMAIN_PARAMS_INVALID
        );
    }
}
