//! The emulator's engine: one method per GREP11 function, in plain Rust over domain types.
//! Each method finds its mechanism in the registry ([`mech::registry`]) and calls the
//! operation the mechanism's family registered; what every family shares lives here:
//! opening and sealing blobs and states, usage checks, templates of new keys, CheckSums.
//! Nothing is kept between calls.
//!
//! CheckSum of new secret keys (GenerateKey, UnwrapKey, DeriveKey): 3 bytes of key check
//! value followed by the key length in bits as 4 bytes big-endian (EP11's layout). The check
//! value is AES-ECB(key, 16 zero bytes)[..3] for AES keys, DES3-ECB(key, 8 zero bytes)[..3]
//! for DES3 keys and, for generic secrets,
//! SHA-1(value)[..3] (PKCS #11 v3.0 CKA_CHECK_VALUE for generic secrets). Public keys
//! imported with CKM_IBM_TRANSPORTKEY get an empty CheckSum, as do private keys and
//! generated key pairs.
//!
//! Private keys (RSA, EC, Ed25519) are wrapped as a DER PKCS #8 PrivateKeyInfo (PKCS #11
//! v2.40 §2.1.18 and §2.3.13 for the wrapped form), and unwrapped from one when the template
//! asks for CKO_PRIVATE_KEY; secret keys are wrapped by RSA public keys (their value, as
//! PKCS #11 §2.1.6 describes for CKM_RSA_PKCS and CKM_RSA_PKCS_OAEP).

use zeroize::Zeroizing;

use super::attrs::{self, AttrValue, Attrs, Origin, Template};
use super::blob::{Key, Material, Operation, Sealer, State};
use super::error::{Error, Result};
use super::fault::{Fault, FaultSet};
use super::mech::aes::{self, BlockCipher, CipherState};
use super::mech::des3;
use super::mech::digest::{DigestState, HashAlg};
use super::mech::rsa as rsa_mech;
use super::mech::sign::SignState;
use super::mech::{self, GENERIC_SECRET_MAX, GENERIC_SECRET_MIN, MechRow, Mechanism, ec, random};
use crate::pkcs11::*;
use crate::rpc::Rpc;

/// A key the engine just made, ready for a response.
pub struct NewKey {
    /// The blob (KeyBytes / KeyBlobs[0]).
    pub blob: Vec<u8>,
    /// Its attributes, none secret (KeyBlob.Attributes).
    pub(crate) attrs: Attrs,
    /// The CheckSum field (see the module comment).
    pub(crate) checksum: Vec<u8>,
}

/// The engine, holding only the wrapping key (and the faults it is told to commit).
pub struct Engine {
    sealer: Sealer,
    faults: FaultSet,
}

impl Engine {
    /// An engine that seals under `wrapping_key` (AES-256) and commits no faults.
    pub fn new(wrapping_key: &[u8; 32]) -> Engine {
        Engine::with_faults(wrapping_key, FaultSet::default())
    }

    /// An engine that commits the key-policy faults in `faults` (the others are the
    /// service wrapper's, `fault::FaultyService`).
    pub(crate) fn with_faults(wrapping_key: &[u8; 32], faults: FaultSet) -> Engine {
        Engine { sealer: Sealer::new(wrapping_key), faults }
    }

    /// `key.attrs.require(usage)`, except that the `ignores-encrypt-false` fault lets
    /// CKA_ENCRYPT pass: the one place a wrapper cannot reach, the key's own attributes.
    pub(crate) fn require(&self, attrs: &Attrs, usage: CkAttributeType) -> Result<()> {
        if usage == CKA_ENCRYPT && self.faults.contains(Fault::IgnoresEncryptFalse) {
            return Ok(());
        }
        attrs.require(usage)
    }

    // ---- random ----

    pub(crate) fn generate_random(&self, len: u64) -> Result<Vec<u8>> {
        random::generate(len)
    }

    pub(crate) fn seed_random(&self, mixin: &[u8]) -> Result<()> {
        random::seed(mixin)
    }

    // ---- digest ----

    pub(crate) fn digest_init(&self, mech: &Mechanism) -> Result<Vec<u8>> {
        let alg = digest_alg(mech, Rpc::DigestInit)?;
        self.sealer.seal_state(&State::Digest(DigestState::new(alg)))
    }

    pub(crate) fn digest(&self, state: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        let mut state = self.digest_state(state)?;
        state.update(data)?;
        state.finish()
    }

    pub(crate) fn digest_update(&self, state: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        let mut state = self.digest_state(state)?;
        state.update(data)?;
        self.sealer.seal_state(&State::Digest(state))
    }

    pub(crate) fn digest_final(&self, state: &[u8]) -> Result<Vec<u8>> {
        self.digest_state(state)?.finish()
    }

    /// DigestSingle: the digest of `data` under a digest mechanism (`CKM_SHA256`...).
    pub fn digest_single(&self, mech: &Mechanism, data: &[u8]) -> Result<Vec<u8>> {
        Ok(digest_alg(mech, Rpc::DigestSingle)?.digest(data))
    }

    fn digest_state(&self, blob: &[u8]) -> Result<DigestState> {
        match self.sealer.open_state(blob, Operation::Digest)? {
            State::Digest(s) => Ok(s),
            _ => Err(Error::SavedStateInvalid),
        }
    }

    // ---- encrypt / decrypt (op is Operation::Encrypt or Operation::Decrypt) ----

    pub(crate) fn cipher_init(&self, op: Operation, mech: &Mechanism, key: &[u8]) -> Result<Vec<u8>> {
        let name = if op == Operation::Encrypt { Rpc::EncryptInit } else { Rpc::DecryptInit };
        self.sealer.seal_state(&self.cipher_start(op, mech, key, name)?)
    }

    /// Encrypt / Decrypt: the rest of the data in one call.
    pub(crate) fn cipher(&self, op: Operation, state: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        run_cipher(self.sealer.open_state(state, op)?, data)
    }

    /// EncryptUpdate / DecryptUpdate: the next state and the output so far.
    pub(crate) fn cipher_update(
        &self,
        op: Operation,
        state: &[u8],
        data: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        let mut state = self.cipher_state(op, state)?;
        let out = state.update(data)?;
        Ok((self.sealer.seal_state(&State::Cipher(state))?, out))
    }

    pub(crate) fn cipher_final(&self, op: Operation, state: &[u8]) -> Result<Vec<u8>> {
        self.cipher_state(op, state)?.finish()
    }

    /// ReencryptSingle: decrypts under `dec_key` with `dec_mech` and encrypts the plaintext
    /// under `enc_key` with `enc_mech`, in one call; the plaintext never leaves the server.
    /// Each half is checked and refused exactly as DecryptSingle and EncryptSingle would be.
    pub(crate) fn reencrypt_single(
        &self,
        dec_mech: &Mechanism,
        dec_key: &[u8],
        enc_mech: &Mechanism,
        enc_key: &[u8],
        ciphered: &[u8],
    ) -> Result<Vec<u8>> {
        let plain = Zeroizing::new(self.cipher_single(Operation::Decrypt, dec_mech, dec_key, ciphered)?);
        self.cipher_single(Operation::Encrypt, enc_mech, enc_key, &plain)
    }

    /// EncryptSingle or DecryptSingle (`op` says which, `Operation::Encrypt` or
    /// `Operation::Decrypt`): `data` through `mech` under the sealed `key`.
    pub fn cipher_single(&self, op: Operation, mech: &Mechanism, key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        let name = if op == Operation::Encrypt { Rpc::EncryptSingle } else { Rpc::DecryptSingle };
        run_cipher(self.cipher_start(op, mech, key, name)?, data)
    }

    /// The first state of an encryption or decryption, from the mechanism's [`mech::registry::Cipher`].
    fn cipher_start(&self, op: Operation, mech: &Mechanism, key: &[u8], name: Rpc) -> Result<State> {
        let flag = if op == Operation::Encrypt { CKF_ENCRYPT } else { CKF_DECRYPT };
        mech::operation(mech.mech, flag, name, |o| o.cipher.as_deref())?.start(self, op, mech, key, name)
    }

    fn cipher_state(&self, op: Operation, blob: &[u8]) -> Result<CipherState> {
        match self.sealer.open_state(blob, op)? {
            State::Cipher(s) => Ok(s),
            State::Rsa(_) => {
                Err(Error::FunctionNotSupported("multi-part RSA encryption (RSA is single-part)"))
            }
            _ => Err(Error::SavedStateInvalid),
        }
    }

    // ---- sign / verify (op is Operation::Sign or Operation::Verify) ----

    pub(crate) fn sign_init(&self, op: Operation, mech: &Mechanism, key: &[u8]) -> Result<Vec<u8>> {
        let state = self.sign_start(
            op,
            mech,
            key,
            if op == Operation::Sign { Rpc::SignInit } else { Rpc::VerifyInit },
        )?;
        self.sealer.seal_state(&State::Sign(state))
    }

    pub(crate) fn sign(&self, state: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        self.sign_state(Operation::Sign, state)?.sign(data)
    }

    pub(crate) fn verify(&self, state: &[u8], data: &[u8], signature: &[u8]) -> Result<()> {
        self.sign_state(Operation::Verify, state)?.verify(data, signature)
    }

    /// SignUpdate / VerifyUpdate: the next state.
    pub(crate) fn sign_update(&self, op: Operation, state: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        let mut state = self.sign_state(op, state)?;
        state.update(data)?;
        self.sealer.seal_state(&State::Sign(state))
    }

    pub(crate) fn sign_final(&self, state: &[u8]) -> Result<Vec<u8>> {
        self.sign_state(Operation::Sign, state)?.sign_final()
    }

    pub(crate) fn verify_final(&self, state: &[u8], signature: &[u8]) -> Result<()> {
        self.sign_state(Operation::Verify, state)?.verify_final(signature)
    }

    /// SignSingle: the signature or MAC of `data` under the sealed private or secret `key`.
    pub fn sign_single(&self, mech: &Mechanism, key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        self.sign_start(Operation::Sign, mech, key, Rpc::SignSingle)?.sign(data)
    }

    /// VerifySingle: `Ok` when `signature` is valid for `data`, else
    /// [`Error::SignatureInvalid`] (or [`Error::SignatureLenRange`] for a wrong length).
    pub fn verify_single(&self, mech: &Mechanism, key: &[u8], data: &[u8], signature: &[u8]) -> Result<()> {
        self.sign_start(Operation::Verify, mech, key, Rpc::VerifySingle)?.verify(data, signature)
    }

    /// The first state of a signature or verification: the parameter, then the key as the
    /// mechanism's [`mech::registry::Sign`] takes it, then the key's usage.
    fn sign_start(&self, op: Operation, mech: &Mechanism, key: &[u8], name: Rpc) -> Result<SignState> {
        let verify = op == Operation::Verify;
        let (flag, usage) = if verify { (CKF_VERIFY, CKA_VERIFY) } else { (CKF_SIGN, CKA_SIGN) };
        let signer = mech::operation(mech.mech, flag, name, |o| o.sign.as_deref())?;
        let param = signer.param(mech)?;
        let key = self.sealer.open_key(key)?;
        let (material, param) = signer.key(mech, &key, verify, param)?;
        key.attrs.require(usage)?;
        Ok(SignState::new(op, signer.scheme(), material).with(param))
    }

    fn sign_state(&self, op: Operation, blob: &[u8]) -> Result<SignState> {
        match self.sealer.open_state(blob, op)? {
            State::Sign(s) => Ok(s),
            _ => Err(Error::SavedStateInvalid),
        }
    }

    // ---- keys ----

    /// GenerateKey: a new secret key from a key generation mechanism and a template.
    pub fn generate_key(&self, mech: &Mechanism, template: &Template) -> Result<NewKey> {
        mech::operation(mech.mech, CKF_GENERATE, Rpc::GenerateKey, |o| o.key_gen.as_deref())?
            .generate_key(self, mech, template)
    }

    /// GenerateKeyPair: (private, public), each template applying to its half.
    pub fn generate_key_pair(
        &self,
        mech: &Mechanism,
        public_template: &Template,
        private_template: &Template,
    ) -> Result<(NewKey, NewKey)> {
        mech::operation(mech.mech, CKF_GENERATE_KEY_PAIR, Rpc::GenerateKeyPair, |o| {
            o.key_pair_gen.as_deref()
        })?
        .generate_key_pair(self, mech, public_template, private_template)
    }

    /// WrapKey without a MacKey (see [`Engine::wrap_key_with_mac`]), for the tests.
    #[cfg(test)]
    pub(crate) fn wrap_key(&self, mech: &Mechanism, key: &[u8], kek: &[u8]) -> Result<Vec<u8>> {
        self.wrap_key_with_mac(mech, key, kek, &[])
    }

    /// WrapKey with the request's MacKey, which only CKM_IBM_ATTRIBUTEBOUND_WRAP uses.
    pub(crate) fn wrap_key_with_mac(
        &self,
        mech: &Mechanism,
        key: &[u8],
        kek: &[u8],
        mac_key: &[u8],
    ) -> Result<Vec<u8>> {
        mech::operation(mech.mech, CKF_WRAP, Rpc::WrapKey, |o| o.wrap.as_deref())?
            .wrap(self, mech, key, kek, mac_key)
    }

    /// UnwrapKey without a MacKey (see [`Engine::unwrap_key_with_mac`]), for the tests.
    #[cfg(test)]
    pub(crate) fn unwrap_key(
        &self,
        mech: &Mechanism,
        kek: &[u8],
        wrapped: &[u8],
        template: &Template,
    ) -> Result<NewKey> {
        self.unwrap_key_with_mac(mech, kek, &[], wrapped, template)
    }

    /// UnwrapKey with the request's MacKey, which only CKM_IBM_ATTRIBUTEBOUND_WRAP uses.
    pub(crate) fn unwrap_key_with_mac(
        &self,
        mech: &Mechanism,
        kek: &[u8],
        mac_key: &[u8],
        wrapped: &[u8],
        template: &Template,
    ) -> Result<NewKey> {
        mech::operation(mech.mech, CKF_UNWRAP, Rpc::UnwrapKey, |o| o.unwrap.as_deref())?
            .unwrap(self, mech, kek, mac_key, wrapped, template)
    }

    pub(crate) fn derive_key(&self, mech: &Mechanism, base: &[u8], template: &Template) -> Result<NewKey> {
        mech::operation(mech.mech, CKF_DERIVE, Rpc::DeriveKey, |o| o.derive.as_deref())?
            .derive(self, mech, base, template)
    }

    // ---- mechanisms and attributes ----

    pub(crate) fn mechanism_list(&self) -> Vec<CkMechanismType> {
        mech::mechanisms().iter().map(|r| r.mech).collect()
    }

    pub(crate) fn mechanism_info(&self, mech: CkMechanismType) -> Result<&'static MechRow> {
        mech::info(mech)
    }

    /// GetAttributeValue: each requested attribute's value, or the first refusal.
    pub(crate) fn get_attributes(
        &self,
        blob: &[u8],
        wanted: &[CkAttributeType],
    ) -> Result<Vec<(CkAttributeType, AttrValue)>> {
        let key = self.sealer.open_key(blob)?;
        wanted
            .iter()
            .map(|&attr| {
                let value = match (attr, &key.material) {
                    (CKA_VALUE, Material::Secret(v)) if self.faults.contains(Fault::LeaksSensitiveValue) => {
                        Ok(AttrValue::Bytes(v.to_vec()))
                    }
                    (CKA_VALUE, Material::Secret(v)) => {
                        key.attrs.value_readable().map(|_| AttrValue::Bytes(v.to_vec()))
                    }
                    (
                        CKA_VALUE,
                        Material::EcPrivate(..)
                        | Material::RsaPrivate(_)
                        | Material::DhPrivate(..)
                        | Material::DsaPrivate(_),
                    ) => Err(Error::AttributeSensitive(CKA_VALUE)),
                    _ => key.attrs.get(attr),
                };
                value.map(|v| (attr, v))
            })
            .collect()
    }

    /// SetAttributeValue: the new blob.
    pub(crate) fn set_attributes(&self, blob: &[u8], changes: &Template) -> Result<Vec<u8>> {
        let mut key = self.sealer.open_key(blob)?;
        for (&attr, value) in changes {
            key.attrs.set(attr, value)?;
        }
        self.sealer.seal_key(&key)
    }

    // ---- what the families' operations share ----

    pub(crate) fn open_key(&self, blob: &[u8]) -> Result<Key> {
        self.sealer.open_key(blob)
    }

    pub(crate) fn issue(&self, key: Key, checksum: Vec<u8>) -> Result<NewKey> {
        Ok(NewKey { blob: self.sealer.seal_key(&key)?, attrs: key.attrs, checksum })
    }

    /// A private key from a PKCS #8 PrivateKeyInfo, of the CKA_KEY_TYPE the template names
    /// (CKK_RSA, CKK_EC or CKK_EC_EDWARDS); a DER that is not one is CKR_WRAPPED_KEY_INVALID.
    pub(crate) fn import_private(&self, template: &Template, der: &[u8]) -> Result<NewKey> {
        let key_type = CkKeyType(attrs::required_ulong(template, CKA_KEY_TYPE)?);
        let not_that = Error::WrappedKeyInvalid("not a PKCS #8 private key of the template's CKA_KEY_TYPE");
        let (material, fixed) = match key_type {
            CKK_RSA => {
                let sk = rsa_mech::from_pkcs8(der).ok_or(not_that)?;
                let pk = sk.to_public_key();
                let fixed = rsa_fixed(CKO_PRIVATE_KEY, &pk, &rsa_mech::public_exponent(&pk));
                (Material::RsaPrivate(Box::new(sk)), fixed)
            }
            CKK_EC | CKK_EC_EDWARDS => {
                let (curve, sk) =
                    ec::from_pkcs8(der).filter(|(c, _)| c.key_type() == key_type).ok_or(not_that)?;
                (Material::EcPrivate(curve, sk), ec_fixed(CKO_PRIVATE_KEY, curve, None))
            }
            _ => {
                return Err(Error::TemplateInconsistent {
                    attr: CKA_KEY_TYPE,
                    reason: "private keys are CKK_RSA, CKK_EC or CKK_EC_EDWARDS",
                });
            }
        };
        let attrs = Attrs::build(template, &fixed, Origin::Unwrapped)?;
        self.issue(Key { attrs, material }, Vec::new())
    }

    pub(crate) fn issue_secret(&self, attrs: Attrs, value: Zeroizing<Vec<u8>>) -> Result<NewKey> {
        let checksum = checksum(attrs.key_type(), &value)?;
        self.issue(Key { attrs, material: Material::Secret(value) }, checksum)
    }

    /// GenerateKey of a secret key of `key_type` and `len` bytes: the length is checked
    /// before `generate` makes the value.
    pub(crate) fn generate_secret(
        &self,
        mech: &Mechanism,
        template: &Template,
        key_type: CkKeyType,
        len: u64,
        generate: impl FnOnce() -> Result<Zeroizing<Vec<u8>>>,
    ) -> Result<NewKey> {
        check_secret_len(key_type, len)?;
        let value = generate()?;
        let attrs = Attrs::build(template, &secret_fixed(key_type, len), Origin::Generated(mech.mech))?;
        self.issue_secret(attrs, value)
    }
}

/// Encrypt / Decrypt / the single-part calls on a first or saved state.
fn run_cipher(state: State, data: &[u8]) -> Result<Vec<u8>> {
    match state {
        State::Rsa(rsa) => rsa.run(data),
        State::Cipher(mut s) => s.run(data),
        _ => Err(Error::SavedStateInvalid),
    }
}

fn digest_alg(mech: &Mechanism, name: Rpc) -> Result<HashAlg> {
    mech::operation(mech.mech, CKF_DIGEST, name, |o| o.digest.as_ref()).copied()
}

/// The value of a secret key of `key_type`; any other key is CKR_KEY_TYPE_INCONSISTENT.
pub(crate) fn secret_value(key: &Key, mech: CkMechanismType, key_type: CkKeyType) -> Result<&[u8]> {
    match &key.material {
        Material::Secret(v) if key.attrs.key_type() == key_type => Ok(v),
        _ => Err(type_inconsistent(mech, &key.attrs)),
    }
}

/// What a decryption failure means inside UnwrapKey: the wrapped data, not the ciphertext of
/// an Encrypt, is at fault.
pub(crate) fn unwrap_error(wrapped: &[u8]) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::EncryptedDataLenRange(_) => Error::WrappedKeyLenRange(wrapped.len()),
        Error::EncryptedDataInvalid => {
            Error::WrappedKeyInvalid("bad padding or failed key-wrap integrity check")
        }
        other => other,
    }
}

pub(crate) fn type_inconsistent(mech: CkMechanismType, attrs: &Attrs) -> Error {
    Error::KeyTypeInconsistent { mech, class: attrs.class(), key_type: attrs.key_type() }
}

/// Checks a secret key length: AES 16/24/32 bytes, DES3 24, generic secrets within the registry's
/// bounds; CKR_KEY_SIZE_RANGE otherwise.
pub(crate) fn check_secret_len(key_type: CkKeyType, len: u64) -> Result<()> {
    let ok = match key_type {
        CKK_AES => aes::valid_key_len(len),
        CKK_DES3 => len == des3::KEY_LEN,
        _ => (GENERIC_SECRET_MIN..=GENERIC_SECRET_MAX).contains(&len),
    };
    if ok { Ok(()) } else { Err(Error::KeySizeRange(len)) }
}

/// CKA_CLASS and CKA_KEY_TYPE of an unwrap or derive template: both required, the class
/// CKO_SECRET_KEY and the type CKK_AES, CKK_DES3 or CKK_GENERIC_SECRET.
pub(crate) fn secret_template(template: &Template) -> Result<CkKeyType> {
    let class = CkObjectClass(attrs::required_ulong(template, CKA_CLASS)?);
    let key_type = CkKeyType(attrs::required_ulong(template, CKA_KEY_TYPE)?);
    if class != CKO_SECRET_KEY {
        return Err(Error::TemplateInconsistent {
            attr: CKA_CLASS,
            reason: "only secret keys can be made here",
        });
    }
    if key_type != CKK_AES && key_type != CKK_GENERIC_SECRET && key_type != CKK_DES3 {
        return Err(Error::TemplateInconsistent {
            attr: CKA_KEY_TYPE,
            reason: "only AES, DES3 and generic secrets",
        });
    }
    Ok(key_type)
}

pub(crate) fn secret_fixed(key_type: CkKeyType, len: u64) -> Vec<(CkAttributeType, AttrValue)> {
    vec![
        (CKA_CLASS, AttrValue::Ulong(CKO_SECRET_KEY.0)),
        (CKA_KEY_TYPE, AttrValue::Ulong(key_type.0)),
        (CKA_VALUE_LEN, AttrValue::Ulong(len)),
    ]
}

/// The attributes of a secret key a derivation made: the value and its length, fixed;
/// the history attributes from the base key.
pub(crate) fn derived_secret(
    template: &Template,
    base: &Attrs,
    key_type: CkKeyType,
    len: u64,
) -> Result<Attrs> {
    let origin = Origin::Derived {
        always_sensitive: base.flag(CKA_ALWAYS_SENSITIVE),
        never_extractable: base.flag(CKA_NEVER_EXTRACTABLE),
    };
    Attrs::build(template, &secret_fixed(key_type, len), origin)
}

pub(crate) fn ec_fixed(
    class: CkObjectClass,
    curve: &dyn ec::CurveOps,
    public: Option<&[u8]>,
) -> Vec<(CkAttributeType, AttrValue)> {
    let mut fixed = vec![
        (CKA_CLASS, AttrValue::Ulong(class.0)),
        (CKA_KEY_TYPE, AttrValue::Ulong(curve.key_type().0)),
        (CKA_EC_PARAMS, AttrValue::Bytes(curve.curve().ec_params())),
    ];
    if let Some(point) = public {
        fixed.push((CKA_EC_POINT, AttrValue::Bytes(ec::ec_point_attribute(point))));
    }
    fixed
}

/// RSA keys show modulus, its bits and the public exponent (PKCS #11 §2.1.2, §2.1.3; the
/// private key carries them too, as SoftHSM's do, so either half answers).
pub(crate) fn rsa_fixed(
    class: CkObjectClass,
    pk: &::rsa::PublicKey,
    exponent: &[u8],
) -> Vec<(CkAttributeType, AttrValue)> {
    vec![
        (CKA_CLASS, AttrValue::Ulong(class.0)),
        (CKA_KEY_TYPE, AttrValue::Ulong(CKK_RSA.0)),
        (CKA_MODULUS, AttrValue::Bytes(rsa_mech::modulus(pk))),
        (CKA_MODULUS_BITS, AttrValue::Ulong(rsa_mech::bits(pk))),
        (CKA_PUBLIC_EXPONENT, AttrValue::Bytes(exponent.to_vec())),
    ]
}

/// The CheckSum of a secret key (see the module comment).
fn checksum(key_type: CkKeyType, value: &[u8]) -> Result<Vec<u8>> {
    let mut sum = match key_type {
        CKK_AES => aes::check_value(value)?,
        CKK_DES3 => BlockCipher::Des3.check_value(value)?,
        _ => HashAlg::Sha1.digest(value)[..3].to_vec(),
    };
    // Key lengths are at most 256 bytes: the bit count fits in 32 bits.
    sum.extend_from_slice(&((value.len() as u32) * 8).to_be_bytes());
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::attrs::WireValue;
    use crate::emulator::mech::MechParam;
    use p256::ecdsa::signature::{Signer, Verifier};

    const IV: [u8; 16] = [0x42; 16];

    fn engine() -> Engine {
        Engine::new(&[7; 32])
    }

    fn mech(mech: CkMechanismType) -> Mechanism {
        Mechanism { mech, param: MechParam::None }
    }

    fn with_iv(mech: CkMechanismType, iv: &[u8]) -> Mechanism {
        Mechanism { mech, param: MechParam::Bytes(iv.to_vec()) }
    }

    fn int(v: u64) -> WireValue {
        WireValue::Int(v as i64)
    }

    fn template(rows: &[(CkAttributeType, WireValue)]) -> Template {
        rows.iter().cloned().collect()
    }

    fn rv<T>(result: Result<T>) -> CkRv {
        result.err().map_or(CKR_OK, |e| e.rv())
    }

    fn aes_key(e: &Engine, len: u64, extra: &[(CkAttributeType, WireValue)]) -> NewKey {
        let mut t = template(extra);
        t.insert(CKA_VALUE_LEN, int(len));
        e.generate_key(&mech(CKM_AES_KEY_GEN), &t).unwrap()
    }

    fn ec_pair(e: &Engine) -> (NewKey, NewKey) {
        let public = template(&[(CKA_EC_PARAMS, WireValue::Bytes(Curve::P256.ec_params()))]);
        let private = template(&[(CKA_DERIVE, WireValue::Bool(true))]);
        e.generate_key_pair(&mech(CKM_EC_KEY_PAIR_GEN), &public, &private).unwrap()
    }

    /// Imports a plain secret value the documented way: EncryptSingle(CKM_AES_CBC_PAD) under
    /// a transport key, then UnwrapKey with the same mechanism and IV.
    fn import(e: &Engine, value: &[u8], key_type: CkKeyType) -> NewKey {
        let transport = aes_key(e, 32, &[]);
        let m = with_iv(CKM_AES_CBC_PAD, &IV);
        let wrapped = e.cipher_single(Operation::Encrypt, &m, &transport.blob, value).unwrap();
        let t = template(&[(CKA_CLASS, int(CKO_SECRET_KEY.0)), (CKA_KEY_TYPE, int(key_type.0))]);
        e.unwrap_key(&m, &transport.blob, &wrapped, &t).unwrap()
    }

    /// Encrypt or decrypt in every flow; all must agree. Splits include empty updates.
    fn cipher_all_flows(e: &Engine, op: Operation, m: &Mechanism, key: &[u8], data: &[u8]) -> Vec<u8> {
        let single = e.cipher_single(op, m, key, data).unwrap();
        let state = e.cipher_init(op, m, key).unwrap();
        assert_eq!(e.cipher(op, &state, data).unwrap(), single, "single-part");
        for split in [0, 1, 16, 17, data.len() / 2, data.len()] {
            let split = split.min(data.len());
            let mut out = Vec::new();
            let mut state = e.cipher_init(op, m, key).unwrap();
            for part in [&data[..split], &[][..], &data[split..]] {
                let (next, chunk) = e.cipher_update(op, &state, part).unwrap();
                out.extend(chunk);
                state = next;
            }
            out.extend(e.cipher_final(op, &state).unwrap());
            assert_eq!(out, single, "split at {split}");
        }
        single
    }

    #[test]
    fn aes_round_trips_in_every_flow() {
        let e = engine();
        let data: Vec<u8> = (0..=99u8).collect();
        for len in [16, 24, 32] {
            let key = aes_key(&e, len, &[]);
            assert_eq!(
                key.checksum[..3],
                aes::check_value(&e.get_attributes(&key.blob, &[CKA_VALUE]).unwrap()[0].1.to_bytes())
                    .unwrap()[..]
            );
            for (m, plain) in [
                (mech(CKM_AES_ECB), &data[..96]),
                (with_iv(CKM_AES_CBC, &IV), &data[..96]),
                (with_iv(CKM_AES_CBC_PAD, &IV), &data[..]),
            ] {
                let ct = cipher_all_flows(&e, Operation::Encrypt, &m, &key.blob, plain);
                let back = cipher_all_flows(&e, Operation::Decrypt, &m, &key.blob, &ct);
                assert_eq!(back, plain, "{} {len}", m.mech);
            }
        }
    }

    /// NIST SP 800-38A F.1.1 (ECB-AES128.Encrypt) and F.2.1 (CBC-AES128.Encrypt), the key
    /// imported through the unwrap flow.
    #[test]
    fn sp800_38a_vectors() {
        let e = engine();
        let key = import(&e, &hex::decode("2b7e151628aed2a6abf7158809cf4f3c").unwrap(), CKK_AES);
        let plain = hex::decode(concat!(
            "6bc1bee22e409f96e93d7e117393172a",
            "ae2d8a571e03ac9c9eb76fac45af8e51",
            "30c81c46a35ce411e5fbc1191a0a52ef",
            "f69f2445df4f9b17ad2b417be66c3710"
        ))
        .unwrap();
        let ecb = e.cipher_single(Operation::Encrypt, &mech(CKM_AES_ECB), &key.blob, &plain).unwrap();
        assert_eq!(
            hex::encode(ecb),
            concat!(
                "3ad77bb40d7a3660a89ecaf32466ef97",
                "f5d3d58503b9699de785895a96fdbaaf",
                "43b1cd7f598ece23881b00e3ed030688",
                "7b0c785e27e8ad3f8223207104725dd4"
            )
        );
        let iv = hex::decode("000102030405060708090a0b0c0d0e0f").unwrap();
        let cbc = e.cipher_single(Operation::Encrypt, &with_iv(CKM_AES_CBC, &iv), &key.blob, &plain).unwrap();
        assert_eq!(
            hex::encode(cbc),
            concat!(
                "7649abac8119b246cee98e9b12e9197d",
                "5086cb9b507219ee95db113a917678b2",
                "73bed6b8e3c1743b7116e69e22229516",
                "3ff1caa1681fac09120eca307586e1a7"
            )
        );
    }

    #[test]
    fn digests_agree_across_flows_and_state_does_not_grow() {
        let e = engine();
        let m = mech(CKM_SHA256);
        let want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(hex::encode(e.digest_single(&m, b"abc").unwrap()), want);
        let state = e.digest_init(&m).unwrap();
        assert_eq!(hex::encode(e.digest(&state, b"abc").unwrap()), want);
        let mut state = e.digest_init(&m).unwrap();
        for part in [&b"a"[..], b"", b"bc"] {
            state = e.digest_update(&state, part).unwrap();
        }
        assert_eq!(hex::encode(e.digest_final(&state).unwrap()), want);

        let small = e.digest_update(&e.digest_init(&m).unwrap(), &[1]).unwrap();
        let large = e.digest_update(&e.digest_init(&m).unwrap(), &vec![1; 1 << 20]).unwrap();
        assert_eq!(small.len(), large.len());
    }

    #[test]
    fn ecdsa_sign_verify_in_every_flow() {
        let e = engine();
        let (private, public) = ec_pair(&e);
        let data = b"message to sign, long enough to span more than one update".to_vec();
        for mech_type in [CKM_ECDSA, CKM_ECDSA_SHA256] {
            let m = mech(mech_type);
            let input = if mech_type == CKM_ECDSA { HashAlg::Sha256.digest(&data) } else { data.clone() };
            let sig = e.sign_single(&m, &private.blob, &input).unwrap();
            assert_eq!(sig.len(), 64);
            e.verify_single(&m, &public.blob, &input, &sig).unwrap();
            let state = e.sign_init(Operation::Sign, &m, &private.blob).unwrap();
            e.verify_single(&m, &public.blob, &input, &e.sign(&state, &input).unwrap()).unwrap();
            let state = e.sign_init(Operation::Verify, &m, &public.blob).unwrap();
            e.verify(&state, &input, &sig).unwrap();
        }
        // Multi-part SHA-256 with empty updates, checked by the p256 crate on the SPKI.
        let m = mech(CKM_ECDSA_SHA256);
        let mut state = e.sign_init(Operation::Sign, &m, &private.blob).unwrap();
        for part in [&data[..5], &[][..], &data[5..]] {
            state = e.sign_update(Operation::Sign, &state, part).unwrap();
        }
        let sig = e.sign_final(&state).unwrap();
        let pk = <p256::PublicKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(
            &public.blob[..91], // a P-256 SPKI is 91 bytes
        )
        .unwrap();
        let vk = p256::ecdsa::VerifyingKey::from(pk);
        vk.verify(&data, &p256::ecdsa::Signature::from_slice(&sig).unwrap()).unwrap();
        let mut state = e.sign_init(Operation::Verify, &m, &public.blob).unwrap();
        for part in [&data[..30], &[][..], &data[30..]] {
            state = e.sign_update(Operation::Verify, &state, part).unwrap();
        }
        e.verify_final(&state, &sig).unwrap();
    }

    /// CKM_ECDSA takes a hash of any length (PKCS #11 §2.3.6) except empty, which is
    /// CKR_DATA_LEN_RANGE; none of these may panic.
    #[test]
    fn raw_ecdsa_accepts_any_length() {
        let e = engine();
        let (private, public) = ec_pair(&e);
        assert_eq!(rv(e.sign_single(&mech(CKM_ECDSA), &private.blob, &[])), CKR_DATA_LEN_RANGE);
        assert_eq!(rv(e.verify_single(&mech(CKM_ECDSA), &public.blob, &[], &[1; 64])), CKR_DATA_LEN_RANGE);
        for len in [1, 20, 32, 64, 100] {
            let data = vec![0xab; len];
            let sig = e.sign_single(&mech(CKM_ECDSA), &private.blob, &data).unwrap();
            e.verify_single(&mech(CKM_ECDSA), &public.blob, &data, &sig).unwrap();
        }
    }

    /// A signature made with the p256 crate verifies with a public key imported through
    /// CKM_IBM_TRANSPORTKEY.
    #[test]
    fn imported_spki_verifies_a_local_signature() {
        let e = engine();
        let sk = p256::ecdsa::SigningKey::from_slice(&[0x21; 32]).unwrap();
        let sig: p256::ecdsa::Signature = sk.sign(b"hello");
        let spki = spki_of(sk.verifying_key());
        let kek = aes_key(&e, 32, &[]);
        let t = template(&[(CKA_VERIFY, WireValue::Bool(true))]);
        let public = e.unwrap_key(&mech(ibm::CKM_IBM_TRANSPORTKEY), &kek.blob, &spki, &t).unwrap();
        assert!(public.blob.starts_with(&spki));
        e.verify_single(&mech(CKM_ECDSA_SHA256), &public.blob, b"hello", &sig.to_bytes()).unwrap();
        let mut bad = sig.to_bytes().to_vec();
        bad[0] ^= 1;
        assert_eq!(
            rv(e.verify_single(&mech(CKM_ECDSA_SHA256), &public.blob, b"hello", &bad)),
            CKR_SIGNATURE_INVALID
        );
    }

    fn spki_of(vk: &p256::ecdsa::VerifyingKey) -> Vec<u8> {
        use p256::pkcs8::EncodePublicKey;
        vk.to_public_key_der().unwrap().as_bytes().to_vec()
    }

    fn ecdh(point: Vec<u8>) -> Mechanism {
        Mechanism {
            mech: CKM_ECDH1_DERIVE,
            param: MechParam::Ecdh { kdf: CkEcKdf(CKD_NULL.0), shared_data: vec![], public_data: point },
        }
    }

    fn point_of(e: &Engine, public: &NewKey) -> Vec<u8> {
        e.get_attributes(&public.blob, &[CKA_EC_POINT]).unwrap()[0].1.to_bytes()
    }

    #[test]
    fn ecdh_both_sides_agree() {
        let e = engine();
        let (a_priv, a_pub) = ec_pair(&e);
        let (b_priv, b_pub) = ec_pair(&e);
        let generic =
            template(&[(CKA_CLASS, int(CKO_SECRET_KEY.0)), (CKA_KEY_TYPE, int(CKK_GENERIC_SECRET.0))]);
        // One side passes the DER OCTET STRING form, the other the raw point.
        let a = e.derive_key(&ecdh(point_of(&e, &b_pub)), &a_priv.blob, &generic).unwrap();
        let b = e.derive_key(&ecdh(point_of(&e, &a_pub)[2..].to_vec()), &b_priv.blob, &generic).unwrap();
        let value = |k: &NewKey| e.get_attributes(&k.blob, &[CKA_VALUE]).unwrap()[0].1.to_bytes();
        assert_eq!(value(&a).len(), 32);
        assert_eq!(value(&a), value(&b));
        let mut aes_t = generic.clone();
        aes_t.insert(CKA_KEY_TYPE, int(CKK_AES.0));
        aes_t.insert(CKA_VALUE_LEN, int(16));
        let k = e.derive_key(&ecdh(point_of(&e, &b_pub)), &a_priv.blob, &aes_t).unwrap();
        assert_eq!(value(&k), value(&a)[16..], "the last CKA_VALUE_LEN bytes of Z");
        assert_eq!(k.checksum[..3], aes::check_value(&value(&k)).unwrap()[..]);
    }

    /// RFC 4231 test case 2, the key imported through the unwrap flow.
    #[test]
    fn hmac_known_answer_in_every_flow() {
        let e = engine();
        let key = import(&e, b"Jefe", CKK_GENERIC_SECRET);
        let m = mech(CKM_SHA256_HMAC);
        let data = b"what do ya want for nothing?";
        let want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let tag = e.sign_single(&m, &key.blob, data).unwrap();
        assert_eq!(hex::encode(&tag), want);
        let state = e.sign_init(Operation::Sign, &m, &key.blob).unwrap();
        assert_eq!(e.sign(&state, data).unwrap(), tag);
        let mut state = e.sign_init(Operation::Sign, &m, &key.blob).unwrap();
        for part in [&data[..4], &[][..], &data[4..]] {
            state = e.sign_update(Operation::Sign, &state, part).unwrap();
        }
        assert_eq!(e.sign_final(&state).unwrap(), tag);
        e.verify_single(&m, &key.blob, data, &tag).unwrap();
        let state = e.sign_init(Operation::Verify, &m, &key.blob).unwrap();
        e.verify_final(&e.sign_update(Operation::Verify, &state, data).unwrap(), &tag).unwrap();
        let generated = e
            .generate_key(&mech(CKM_GENERIC_SECRET_KEY_GEN), &template(&[(CKA_VALUE_LEN, int(32))]))
            .unwrap();
        let tag = e.sign_single(&m, &generated.blob, data).unwrap();
        e.verify_single(&m, &generated.blob, data, &tag).unwrap();
    }

    #[test]
    fn wrap_then_unwrap_keeps_the_key() {
        let e = engine();
        let kek = aes_key(&e, 32, &[]);
        let key = aes_key(&e, 16, &[(CKA_SENSITIVE, WireValue::Bool(true))]);
        let m = with_iv(CKM_AES_CBC_PAD, &IV);
        let wrapped = e.wrap_key(&m, &key.blob, &kek.blob).unwrap();
        assert_eq!(wrapped.len(), 32);
        let t = template(&[
            (CKA_CLASS, int(CKO_SECRET_KEY.0)),
            (CKA_KEY_TYPE, int(CKK_AES.0)),
            (CKA_VALUE_LEN, int(16)),
        ]);
        let back = e.unwrap_key(&m, &kek.blob, &wrapped, &t).unwrap();
        assert_eq!(back.checksum, key.checksum);
        assert_eq!(back.checksum.len(), 7);
        let ct = e.cipher_single(Operation::Encrypt, &mech(CKM_AES_ECB), &key.blob, &[0; 16]).unwrap();
        assert_eq!(
            e.cipher_single(Operation::Decrypt, &mech(CKM_AES_ECB), &back.blob, &ct).unwrap(),
            [0; 16]
        );
    }

    #[test]
    fn attributes_read_and_change() {
        let e = engine();
        let key = aes_key(&e, 16, &[]);
        let got = e.get_attributes(&key.blob, &[CKA_CLASS, CKA_VALUE_LEN, CKA_ENCRYPT, CKA_LOCAL]).unwrap();
        assert_eq!(
            got.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
            [
                AttrValue::Ulong(CKO_SECRET_KEY.0),
                AttrValue::Ulong(16),
                AttrValue::Bool(true),
                AttrValue::Bool(true)
            ]
        );
        let changed =
            e.set_attributes(&key.blob, &template(&[(CKA_ENCRYPT, WireValue::Bool(false))])).unwrap();
        assert_eq!(e.get_attributes(&changed, &[CKA_ENCRYPT]).unwrap()[0].1, AttrValue::Bool(false));
        assert_eq!(e.get_attributes(&key.blob, &[CKA_ENCRYPT]).unwrap()[0].1, AttrValue::Bool(true));
        let (_, public) = ec_pair(&e);
        let changed =
            e.set_attributes(&public.blob, &template(&[(CKA_VERIFY, WireValue::Bool(false))])).unwrap();
        assert!(changed.starts_with(&public.blob[..91]));
        assert_eq!(
            rv(e.verify_single(&mech(CKM_ECDSA), &changed, &[0; 32], &[1; 64])),
            CKR_KEY_FUNCTION_NOT_PERMITTED
        );
        assert!(e.mechanism_list().iter().all(|&m| e.mechanism_info(m).is_ok()));
        let info = e.mechanism_info(CKM_AES_CBC_PAD).unwrap();
        assert_eq!((info.min_key_size, info.max_key_size), (16, 32));
        assert!(info.flags.contains(CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP));
    }

    /// Every code of the error policy, at least once.
    #[test]
    fn error_policy() {
        let e = engine();
        let aes = aes_key(&e, 16, &[]);
        let (private, public) = ec_pair(&e);
        let cbc = with_iv(CKM_AES_CBC, &IV);
        let pad = with_iv(CKM_AES_CBC_PAD, &IV);
        let enc = Operation::Encrypt;
        let dec = Operation::Decrypt;

        // Mechanisms and parameters.
        assert_eq!(rv(e.cipher_init(enc, &mech(CKM_SHA256), &aes.blob)), CKR_MECHANISM_INVALID);
        assert_eq!(rv(e.digest_init(&mech(CkMechanismType(0x7fff_fff0)))), CKR_MECHANISM_INVALID);
        assert_eq!(rv(e.mechanism_info(CkMechanismType(0x7fff_fff0))), CKR_MECHANISM_INVALID);
        assert_eq!(
            rv(e.cipher_init(enc, &with_iv(CKM_AES_CBC, &[0; 8]), &aes.blob)),
            CKR_MECHANISM_PARAM_INVALID
        );
        let derive_t =
            template(&[(CKA_CLASS, int(CKO_SECRET_KEY.0)), (CKA_KEY_TYPE, int(CKK_GENERIC_SECRET.0))]);
        assert_eq!(
            rv(e.derive_key(&mech(CKM_ECDH1_DERIVE), &private.blob, &derive_t)),
            CKR_MECHANISM_PARAM_INVALID
        );
        let mut asn1_kdf = ecdh(point_of(&e, &public));
        if let MechParam::Ecdh { kdf, .. } = &mut asn1_kdf.param {
            *kdf = CkEcKdf(CKD_SHA1_KDF_ASN1.0);
        }
        assert_eq!(rv(e.derive_key(&asn1_kdf, &private.blob, &derive_t)), CKR_MECHANISM_PARAM_INVALID);

        // Blobs and states.
        assert_eq!(rv(e.cipher_init(enc, &cbc, &[])), CKR_ARGUMENTS_BAD);
        let mut tampered = aes.blob.clone();
        tampered[20] ^= 1;
        assert_eq!(rv(e.cipher_init(enc, &cbc, &tampered)), CKR_KEY_HANDLE_INVALID);
        assert_eq!(rv(e.cipher_init(enc, &cbc, b"garbage")), CKR_KEY_HANDLE_INVALID);
        assert_eq!(rv(Engine::new(&[8; 32]).cipher_init(enc, &cbc, &aes.blob)), CKR_KEY_HANDLE_INVALID);
        let mut bad_public = public.blob.clone();
        let last = bad_public.len() - 1;
        bad_public[last] ^= 1;
        assert_eq!(
            rv(e.verify_single(&mech(CKM_ECDSA), &bad_public, &[0; 32], &[1; 64])),
            CKR_KEY_HANDLE_INVALID
        );
        let digest_state = e.digest_init(&mech(CKM_SHA256)).unwrap();
        let mut bad_state = digest_state.clone();
        bad_state[30] ^= 1;
        assert_eq!(rv(e.digest_update(&bad_state, b"x")), CKR_SAVED_STATE_INVALID);
        assert_eq!(rv(e.digest_final(&[])), CKR_SAVED_STATE_INVALID);
        assert_eq!(rv(e.digest_final(b"garbage")), CKR_SAVED_STATE_INVALID);
        assert_eq!(rv(e.cipher_update(enc, &digest_state, b"x")), CKR_OPERATION_NOT_INITIALIZED);
        let enc_state = e.cipher_init(enc, &cbc, &aes.blob).unwrap();
        assert_eq!(rv(e.cipher_update(dec, &enc_state, b"x")), CKR_OPERATION_NOT_INITIALIZED);
        let sign_state = e.sign_init(Operation::Sign, &mech(CKM_ECDSA), &private.blob).unwrap();
        assert_eq!(rv(e.verify(&sign_state, &[0; 32], &[0; 64])), CKR_OPERATION_NOT_INITIALIZED);

        // Keys and usage.
        assert_eq!(rv(e.cipher_init(enc, &cbc, &private.blob)), CKR_KEY_TYPE_INCONSISTENT);
        assert_eq!(rv(e.sign_init(Operation::Sign, &mech(CKM_ECDSA), &aes.blob)), CKR_KEY_TYPE_INCONSISTENT);
        assert_eq!(
            rv(e.sign_init(Operation::Sign, &mech(CKM_SHA256_HMAC), &private.blob)),
            CKR_KEY_TYPE_INCONSISTENT
        );
        let no_encrypt = aes_key(&e, 16, &[(CKA_ENCRYPT, WireValue::Bool(false))]);
        assert_eq!(rv(e.cipher_init(enc, &cbc, &no_encrypt.blob)), CKR_KEY_FUNCTION_NOT_PERMITTED);

        // Data lengths, padding, signatures.
        assert_eq!(rv(e.cipher_single(enc, &cbc, &aes.blob, &[0; 15])), CKR_DATA_LEN_RANGE);
        assert_eq!(rv(e.cipher_single(dec, &cbc, &aes.blob, &[0; 15])), CKR_ENCRYPTED_DATA_LEN_RANGE);
        assert_eq!(rv(e.cipher_single(dec, &pad, &aes.blob, &[])), CKR_ENCRYPTED_DATA_LEN_RANGE);
        let mut ct = e.cipher_single(enc, &pad, &aes.blob, b"x").unwrap();
        ct[15] ^= 0x55;
        assert_eq!(rv(e.cipher_single(dec, &pad, &aes.blob, &ct)), CKR_ENCRYPTED_DATA_INVALID);
        let sig = e.sign_single(&mech(CKM_ECDSA_SHA256), &private.blob, b"m").unwrap();
        assert_eq!(
            rv(e.verify_single(&mech(CKM_ECDSA_SHA256), &public.blob, b"m", &sig[..63])),
            CKR_SIGNATURE_LEN_RANGE
        );
        assert_eq!(
            rv(e.verify_single(&mech(CKM_ECDSA_SHA256), &public.blob, b"n", &sig)),
            CKR_SIGNATURE_INVALID
        );
        assert_eq!(rv(e.sign_update(Operation::Sign, &sign_state, b"x")), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(rv(e.sign_final(&sign_state)), CKR_FUNCTION_NOT_SUPPORTED);

        // Templates.
        let keygen = |rows: &[(CkAttributeType, WireValue)]| {
            rv(e.generate_key(&mech(CKM_AES_KEY_GEN), &template(rows)))
        };
        assert_eq!(keygen(&[]), CKR_TEMPLATE_INCOMPLETE);
        assert_eq!(
            keygen(&[(CKA_VALUE_LEN, int(16)), (CKA_CLASS, int(CKO_PUBLIC_KEY.0))]),
            CKR_TEMPLATE_INCONSISTENT
        );
        assert_eq!(
            keygen(&[(CKA_VALUE_LEN, int(16)), (CKA_KEY_TYPE, int(CKK_EC.0))]),
            CKR_TEMPLATE_INCONSISTENT
        );
        assert_eq!(keygen(&[(CKA_VALUE_LEN, WireValue::Bool(true))]), CKR_ATTRIBUTE_VALUE_INVALID);
        assert_eq!(
            keygen(&[(CKA_VALUE_LEN, int(16)), (CkAttributeType(0x7777), int(1))]),
            CKR_ATTRIBUTE_TYPE_INVALID
        );
        assert_eq!(keygen(&[(CKA_VALUE_LEN, int(20))]), CKR_KEY_SIZE_RANGE);
        let pair = |params: Vec<u8>| {
            let t = template(&[(CKA_EC_PARAMS, WireValue::Bytes(params))]);
            rv(e.generate_key_pair(&mech(CKM_EC_KEY_PAIR_GEN), &t, &Template::new()))
        };
        assert_eq!(pair(Curve::X25519.ec_params()), CKR_CURVE_NOT_SUPPORTED);
        assert_eq!(
            rv(e.generate_key_pair(&mech(CKM_EC_KEY_PAIR_GEN), &Template::new(), &Template::new())),
            CKR_TEMPLATE_INCOMPLETE
        );
        let wrapped = e.wrap_key(&pad, &aes.blob, &aes.blob).unwrap();
        let no_class = template(&[(CKA_KEY_TYPE, int(CKK_AES.0))]);
        assert_eq!(rv(e.unwrap_key(&pad, &aes.blob, &wrapped, &no_class)), CKR_TEMPLATE_INCOMPLETE);

        // Attributes.
        let sensitive = aes_key(&e, 16, &[(CKA_SENSITIVE, WireValue::Bool(true))]);
        assert_eq!(rv(e.get_attributes(&sensitive.blob, &[CKA_VALUE])), CKR_ATTRIBUTE_SENSITIVE);
        assert_eq!(rv(e.get_attributes(&private.blob, &[CKA_VALUE])), CKR_ATTRIBUTE_SENSITIVE);
        assert_eq!(rv(e.get_attributes(&aes.blob, &[CkAttributeType(0x7777)])), CKR_ATTRIBUTE_TYPE_INVALID);
        assert_eq!(rv(e.get_attributes(&aes.blob, &[CKA_EC_POINT])), CKR_ATTRIBUTE_TYPE_INVALID);
        let set = |blob: &[u8], attr, v| rv(e.set_attributes(blob, &template(&[(attr, v)])));
        assert_eq!(set(&aes.blob, CKA_VALUE_LEN, int(32)), CKR_ATTRIBUTE_READ_ONLY);
        assert_eq!(set(&sensitive.blob, CKA_SENSITIVE, WireValue::Bool(false)), CKR_ATTRIBUTE_READ_ONLY);
        let frozen = aes_key(&e, 16, &[(CKA_MODIFIABLE, WireValue::Bool(false))]);
        assert_eq!(set(&frozen.blob, CKA_ENCRYPT, WireValue::Bool(false)), CKR_ATTRIBUTE_READ_ONLY);

        // Wrap and unwrap.
        let unextractable = aes_key(&e, 16, &[(CKA_EXTRACTABLE, WireValue::Bool(false))]);
        assert_eq!(rv(e.wrap_key(&pad, &unextractable.blob, &aes.blob)), CKR_KEY_UNEXTRACTABLE);
        let no_wrap = aes_key(&e, 16, &[(CKA_WRAP, WireValue::Bool(false))]);
        assert_eq!(rv(e.wrap_key(&pad, &aes.blob, &no_wrap.blob)), CKR_KEY_FUNCTION_NOT_PERMITTED);
        let t = template(&[(CKA_CLASS, int(CKO_SECRET_KEY.0)), (CKA_KEY_TYPE, int(CKK_AES.0))]);
        let mut bad_wrap = wrapped.clone();
        bad_wrap[31] ^= 0x55;
        assert_eq!(rv(e.unwrap_key(&pad, &aes.blob, &bad_wrap, &t)), CKR_WRAPPED_KEY_INVALID);
        assert_eq!(rv(e.unwrap_key(&pad, &aes.blob, &wrapped[..31], &t)), CKR_WRAPPED_KEY_LEN_RANGE);
        let transport = mech(ibm::CKM_IBM_TRANSPORTKEY);
        assert_eq!(
            rv(e.unwrap_key(&transport, &aes.blob, b"not an spki", &Template::new())),
            CKR_WRAPPED_KEY_INVALID
        );
        assert_eq!(
            rv(e.unwrap_key(&transport, &[], &public.blob[..91], &Template::new())),
            CKR_ARGUMENTS_BAD
        );

        // Random.
        assert_eq!(rv(e.generate_random(random::RANDOM_MAX + 1)), CKR_ARGUMENTS_BAD);
        assert_eq!(e.generate_random(0).unwrap(), Vec::<u8>::new());
        assert_eq!(rv(e.seed_random(&[])), CKR_ARGUMENTS_BAD);
        assert_eq!(rv(e.seed_random(b"mixin")), CKR_OK);
    }
}
