//! The emulator's engine: one method per GREP11 function, in plain Rust over domain types.
//! Each method opens its blobs, finds its mechanism row, checks key and template, calls the
//! family module, and seals what it returns. Nothing is kept between calls.
//!
//! CheckSum of new secret keys (GenerateKey, UnwrapKey, DeriveKey): 3 bytes of key check
//! value followed by the key length in bits as 4 bytes big-endian (EP11's layout). The check
//! value is AES-ECB(key, 16 zero bytes)[..3] for AES keys and, for generic secrets,
//! SHA-1(value)[..3] (PKCS #11 v3.0 CKA_CHECK_VALUE for generic secrets). Public keys
//! imported with CKM_IBM_TRANSPORTKEY get an empty CheckSum.

use zeroize::Zeroizing;

use super::attrs::{self, AttrValue, Attrs, Origin, Template};
use super::blob::{Key, Material, Operation, Sealer, State};
use super::error::{Error, Result};
use super::mech::aes::{self, CipherState};
use super::mech::digest::{DigestState, HashAlg};
use super::mech::sign::{SignScheme, SignState};
use super::mech::{self, Family, GENERIC_SECRET_MAX, GENERIC_SECRET_MIN, MechRow, Mechanism, ec, random};
use crate::pkcs11::*;

/// A key the engine just made, ready for a response.
pub struct NewKey {
    /// The blob (KeyBytes / KeyBlobs[0]).
    pub blob: Vec<u8>,
    /// Its attributes, none secret (KeyBlob.Attributes).
    pub attrs: Attrs,
    /// The CheckSum field (see the module comment).
    pub checksum: Vec<u8>,
}

/// The engine, holding only the wrapping key.
pub struct Engine {
    sealer: Sealer,
}

impl Engine {
    pub fn new(wrapping_key: &[u8; 32]) -> Engine {
        Engine { sealer: Sealer::new(wrapping_key) }
    }

    // ---- random ----

    pub fn generate_random(&self, len: u64) -> Result<Vec<u8>> {
        random::generate(len)
    }

    pub fn seed_random(&self, mixin: &[u8]) -> Result<()> {
        random::seed(mixin)
    }

    // ---- digest ----

    pub fn digest_init(&self, mech: &Mechanism) -> Result<Vec<u8>> {
        let alg = digest_alg(mech, "DigestInit")?;
        self.sealer.seal_state(&State::Digest(DigestState::new(alg)))
    }

    pub fn digest(&self, state: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        let mut state = self.digest_state(state)?;
        state.update(data)?;
        state.finish()
    }

    pub fn digest_update(&self, state: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        let mut state = self.digest_state(state)?;
        state.update(data)?;
        self.sealer.seal_state(&State::Digest(state))
    }

    pub fn digest_final(&self, state: &[u8]) -> Result<Vec<u8>> {
        self.digest_state(state)?.finish()
    }

    pub fn digest_single(&self, mech: &Mechanism, data: &[u8]) -> Result<Vec<u8>> {
        Ok(digest_alg(mech, "DigestSingle")?.digest(data))
    }

    fn digest_state(&self, blob: &[u8]) -> Result<DigestState> {
        match self.sealer.open_state(blob, Operation::Digest)? {
            State::Digest(s) => Ok(s),
            _ => Err(Error::SavedStateInvalid),
        }
    }

    // ---- encrypt / decrypt (op is Operation::Encrypt or Operation::Decrypt) ----

    pub fn cipher_init(&self, op: Operation, mech: &Mechanism, key: &[u8]) -> Result<Vec<u8>> {
        let state = self.cipher_start(
            op,
            mech,
            key,
            if op == Operation::Encrypt { "EncryptInit" } else { "DecryptInit" },
        )?;
        self.sealer.seal_state(&State::Cipher(state))
    }

    /// Encrypt / Decrypt: the rest of the data in one call.
    pub fn cipher(&self, op: Operation, state: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        self.cipher_state(op, state)?.run(data)
    }

    /// EncryptUpdate / DecryptUpdate: the next state and the output so far.
    pub fn cipher_update(&self, op: Operation, state: &[u8], data: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
        let mut state = self.cipher_state(op, state)?;
        let out = state.update(data)?;
        Ok((self.sealer.seal_state(&State::Cipher(state))?, out))
    }

    pub fn cipher_final(&self, op: Operation, state: &[u8]) -> Result<Vec<u8>> {
        self.cipher_state(op, state)?.finish()
    }

    pub fn cipher_single(&self, op: Operation, mech: &Mechanism, key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        let name = if op == Operation::Encrypt { "EncryptSingle" } else { "DecryptSingle" };
        self.cipher_start(op, mech, key, name)?.run(data)
    }

    fn cipher_start(
        &self,
        op: Operation,
        mech: &Mechanism,
        key: &[u8],
        name: &'static str,
    ) -> Result<CipherState> {
        let (flag, usage) =
            if op == Operation::Encrypt { (CKF_ENCRYPT, CKA_ENCRYPT) } else { (CKF_DECRYPT, CKA_DECRYPT) };
        let Family::Aes(mode) = mech::lookup(mech.mech, flag, name)?.family else {
            return Err(Error::MechanismInvalid { mech: mech.mech, function: name });
        };
        let key = self.sealer.open_key(key)?;
        let value = secret_value(&key, mech.mech, CKK_AES)?;
        key.attrs.require(usage)?;
        CipherState::new(op, mode, mech, value)
    }

    fn cipher_state(&self, op: Operation, blob: &[u8]) -> Result<CipherState> {
        match self.sealer.open_state(blob, op)? {
            State::Cipher(s) => Ok(s),
            _ => Err(Error::SavedStateInvalid),
        }
    }

    // ---- sign / verify (op is Operation::Sign or Operation::Verify) ----

    pub fn sign_init(&self, op: Operation, mech: &Mechanism, key: &[u8]) -> Result<Vec<u8>> {
        let state =
            self.sign_start(op, mech, key, if op == Operation::Sign { "SignInit" } else { "VerifyInit" })?;
        self.sealer.seal_state(&State::Sign(state))
    }

    pub fn sign(&self, state: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        self.sign_state(Operation::Sign, state)?.sign(data)
    }

    pub fn verify(&self, state: &[u8], data: &[u8], signature: &[u8]) -> Result<()> {
        self.sign_state(Operation::Verify, state)?.verify(data, signature)
    }

    /// SignUpdate / VerifyUpdate: the next state.
    pub fn sign_update(&self, op: Operation, state: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        let mut state = self.sign_state(op, state)?;
        state.update(data)?;
        self.sealer.seal_state(&State::Sign(state))
    }

    pub fn sign_final(&self, state: &[u8]) -> Result<Vec<u8>> {
        self.sign_state(Operation::Sign, state)?.sign_final()
    }

    pub fn verify_final(&self, state: &[u8], signature: &[u8]) -> Result<()> {
        self.sign_state(Operation::Verify, state)?.verify_final(signature)
    }

    pub fn sign_single(&self, mech: &Mechanism, key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        self.sign_start(Operation::Sign, mech, key, "SignSingle")?.sign(data)
    }

    pub fn verify_single(&self, mech: &Mechanism, key: &[u8], data: &[u8], signature: &[u8]) -> Result<()> {
        self.sign_start(Operation::Verify, mech, key, "VerifySingle")?.verify(data, signature)
    }

    fn sign_start(
        &self,
        op: Operation,
        mech: &Mechanism,
        key: &[u8],
        name: &'static str,
    ) -> Result<SignState> {
        let verify = op == Operation::Verify;
        let (flag, usage) = if verify { (CKF_VERIFY, CKA_VERIFY) } else { (CKF_SIGN, CKA_SIGN) };
        let Family::Sign(scheme) = mech::lookup(mech.mech, flag, name)?.family else {
            return Err(Error::MechanismInvalid { mech: mech.mech, function: name });
        };
        if !matches!(mech.param, mech::MechParam::None) {
            return Err(Error::MechanismParamInvalid { mech: mech.mech, reason: "takes no parameter" });
        }
        let key = self.sealer.open_key(key)?;
        let material = match (scheme, &key.material, verify) {
            (SignScheme::Ecdsa(_), Material::EcPrivate(sk), false) => sk.to_bytes().to_vec(),
            (SignScheme::Ecdsa(_), Material::EcPublic(pk), true) => ec::sec1_point(pk),
            (SignScheme::Hmac(_), _, _) => secret_value(&key, mech.mech, CKK_GENERIC_SECRET)?.to_vec(),
            _ => return Err(type_inconsistent(mech.mech, &key.attrs)),
        };
        key.attrs.require(usage)?;
        Ok(SignState::new(op, scheme, material))
    }

    fn sign_state(&self, op: Operation, blob: &[u8]) -> Result<SignState> {
        match self.sealer.open_state(blob, op)? {
            State::Sign(s) => Ok(s),
            _ => Err(Error::SavedStateInvalid),
        }
    }

    // ---- keys ----

    pub fn generate_key(&self, mech: &Mechanism, template: &Template) -> Result<NewKey> {
        let row = mech::lookup(mech.mech, CKF_GENERATE, "GenerateKey")?;
        let key_type = match row.family {
            Family::AesKeyGen => CKK_AES,
            Family::GenericSecretKeyGen => CKK_GENERIC_SECRET,
            _ => return Err(Error::MechanismInvalid { mech: mech.mech, function: "GenerateKey" }),
        };
        let len = attrs::required_ulong(template, CKA_VALUE_LEN)?;
        check_secret_len(key_type, len)?;
        let value = Zeroizing::new(random::generate(len)?);
        let attrs = Attrs::build(template, &secret_fixed(key_type, len), Origin::Generated(mech.mech))?;
        self.issue_secret(attrs, value)
    }

    /// GenerateKeyPair: (private, public).
    pub fn generate_key_pair(
        &self,
        mech: &Mechanism,
        public_template: &Template,
        private_template: &Template,
    ) -> Result<(NewKey, NewKey)> {
        let row = mech::lookup(mech.mech, CKF_GENERATE_KEY_PAIR, "GenerateKeyPair")?;
        if row.family != Family::EcKeyPairGen {
            return Err(Error::MechanismInvalid { mech: mech.mech, function: "GenerateKeyPair" });
        }
        let params = match attrs::optional_bytes(public_template, CKA_EC_PARAMS)? {
            Some(p) => p,
            None => attrs::optional_bytes(private_template, CKA_EC_PARAMS)?
                .ok_or(Error::TemplateIncomplete(CKA_EC_PARAMS))?,
        };
        ec::check_params(&params)?;
        let sk = ec::generate();
        let pk = sk.public_key();
        let origin = Origin::Generated(mech.mech);
        let private = Attrs::build(private_template, &ec_fixed(CKO_PRIVATE_KEY, &params, None), origin)?;
        let public = Attrs::build(public_template, &ec_fixed(CKO_PUBLIC_KEY, &params, Some(&pk)), origin)?;
        let private = self.issue(Key { attrs: private, material: Material::EcPrivate(sk) }, Vec::new())?;
        let public = self.issue(Key { attrs: public, material: Material::EcPublic(pk) }, Vec::new())?;
        Ok((private, public))
    }

    /// WrapKey with CKM_AES_CBC_PAD: AES-CBC-PAD(KeK, IV, value of a secret key).
    pub fn wrap_key(&self, mech: &Mechanism, key: &[u8], kek: &[u8]) -> Result<Vec<u8>> {
        let Family::Aes(mode) = mech::lookup(mech.mech, CKF_WRAP, "WrapKey")?.family else {
            return Err(Error::MechanismInvalid { mech: mech.mech, function: "WrapKey" });
        };
        let kek = self.sealer.open_key(kek)?;
        let kek_value = secret_value(&kek, mech.mech, CKK_AES)?;
        kek.attrs.require(CKA_WRAP)?;
        let key = self.sealer.open_key(key)?;
        let Material::Secret(value) = &key.material else {
            return Err(Error::KeyNotWrappable(key.attrs.class()));
        };
        if !key.attrs.flag(CKA_EXTRACTABLE) {
            return Err(Error::KeyUnextractable);
        }
        CipherState::new(Operation::Encrypt, mode, mech, kek_value)?.run(value)
    }

    pub fn unwrap_key(
        &self,
        mech: &Mechanism,
        kek: &[u8],
        wrapped: &[u8],
        template: &Template,
    ) -> Result<NewKey> {
        let row = mech::lookup(mech.mech, CKF_UNWRAP, "UnwrapKey")?;
        let kek = self.sealer.open_key(kek)?;
        match row.family {
            Family::Aes(mode) => {
                let kek_value = secret_value(&kek, mech.mech, CKK_AES)?;
                kek.attrs.require(CKA_UNWRAP)?;
                let key_type = secret_template(template)?;
                let value = CipherState::new(Operation::Decrypt, mode, mech, kek_value)?
                    .run(wrapped)
                    .map_err(|e| match e {
                        Error::EncryptedDataLenRange(_) => Error::WrappedKeyLenRange(wrapped.len()),
                        Error::EncryptedDataInvalid => Error::WrappedKeyInvalid("bad padding"),
                        other => other,
                    })?;
                let value = Zeroizing::new(value);
                let len = value.len() as u64;
                check_secret_len(key_type, len)
                    .map_err(|_| Error::WrappedKeyInvalid("the unwrapped value is not a key of that type"))?;
                let attrs = Attrs::build(template, &secret_fixed(key_type, len), Origin::Unwrapped)?;
                self.issue_secret(attrs, value)
            }
            Family::TransportKey => {
                // The KeK must be present and valid (opened above) but plays no part: the
                // SPKI is public and arrives in the clear.
                let pk = ec::import_spki(wrapped)?;
                let params = Curve::P256.ec_params();
                let attrs =
                    Attrs::build(template, &ec_fixed(CKO_PUBLIC_KEY, &params, Some(&pk)), Origin::Unwrapped)?;
                self.issue(Key { attrs, material: Material::EcPublic(pk) }, Vec::new())
            }
            _ => Err(Error::MechanismInvalid { mech: mech.mech, function: "UnwrapKey" }),
        }
    }

    /// DeriveKey with CKM_ECDH1_DERIVE (CKD_NULL). The new key's value is the LAST
    /// CKA_VALUE_LEN bytes of the shared x-coordinate Z, as SoftHSM does; generic secrets
    /// without CKA_VALUE_LEN take the whole Z (32 bytes).
    pub fn derive_key(&self, mech: &Mechanism, base: &[u8], template: &Template) -> Result<NewKey> {
        let row = mech::lookup(mech.mech, CKF_DERIVE, "DeriveKey")?;
        if row.family != Family::Ecdh1Derive {
            return Err(Error::MechanismInvalid { mech: mech.mech, function: "DeriveKey" });
        }
        let base = self.sealer.open_key(base)?;
        let Material::EcPrivate(sk) = &base.material else {
            return Err(type_inconsistent(mech.mech, &base.attrs));
        };
        base.attrs.require(CKA_DERIVE)?;
        let z = ec::ecdh(mech, sk)?;
        let key_type = secret_template(template)?;
        let len = match (key_type, attrs::optional_ulong(template, CKA_VALUE_LEN)?) {
            (CKK_AES, None) => return Err(Error::TemplateIncomplete(CKA_VALUE_LEN)),
            (_, None) => z.len() as u64,
            (_, Some(len)) => len,
        };
        if len as usize > z.len() {
            return Err(Error::KeySizeRange(len));
        }
        check_secret_len(key_type, len)?;
        let value = Zeroizing::new(z[z.len() - len as usize..].to_vec());
        let origin = Origin::Derived {
            always_sensitive: base.attrs.flag(CKA_ALWAYS_SENSITIVE),
            never_extractable: base.attrs.flag(CKA_NEVER_EXTRACTABLE),
        };
        let attrs = Attrs::build(template, &secret_fixed(key_type, len), origin)?;
        self.issue_secret(attrs, value)
    }

    // ---- mechanisms and attributes ----

    pub fn mechanism_list(&self) -> Vec<CkMechanismType> {
        mech::MECHANISMS.iter().map(|r| r.mech).collect()
    }

    pub fn mechanism_info(&self, mech: CkMechanismType) -> Result<&'static MechRow> {
        mech::info(mech)
    }

    /// GetAttributeValue: each requested attribute's value, or the first refusal.
    pub fn get_attributes(
        &self,
        blob: &[u8],
        wanted: &[CkAttributeType],
    ) -> Result<Vec<(CkAttributeType, AttrValue)>> {
        let key = self.sealer.open_key(blob)?;
        wanted
            .iter()
            .map(|&attr| {
                let value = match (attr, &key.material) {
                    (CKA_VALUE, Material::Secret(v)) => {
                        key.attrs.value_readable().map(|_| AttrValue::Bytes(v.to_vec()))
                    }
                    (CKA_VALUE, Material::EcPrivate(_)) => Err(Error::AttributeSensitive(CKA_VALUE)),
                    _ => key.attrs.get(attr),
                };
                value.map(|v| (attr, v))
            })
            .collect()
    }

    /// SetAttributeValue: the new blob.
    pub fn set_attributes(&self, blob: &[u8], changes: &Template) -> Result<Vec<u8>> {
        let mut key = self.sealer.open_key(blob)?;
        for (&attr, value) in changes {
            key.attrs.set(attr, value)?;
        }
        self.sealer.seal_key(&key)
    }

    // ---- helpers ----

    fn issue(&self, key: Key, checksum: Vec<u8>) -> Result<NewKey> {
        Ok(NewKey { blob: self.sealer.seal_key(&key)?, attrs: key.attrs, checksum })
    }

    fn issue_secret(&self, attrs: Attrs, value: Zeroizing<Vec<u8>>) -> Result<NewKey> {
        let checksum = checksum(attrs.key_type(), &value)?;
        self.issue(Key { attrs, material: Material::Secret(value) }, checksum)
    }
}

fn digest_alg(mech: &Mechanism, name: &'static str) -> Result<HashAlg> {
    match mech::lookup(mech.mech, CKF_DIGEST, name)?.family {
        Family::Digest(alg) => Ok(alg),
        _ => Err(Error::MechanismInvalid { mech: mech.mech, function: name }),
    }
}

/// The value of a secret key of `key_type`; any other key is CKR_KEY_TYPE_INCONSISTENT.
fn secret_value(key: &Key, mech: CkMechanismType, key_type: CkKeyType) -> Result<&[u8]> {
    match &key.material {
        Material::Secret(v) if key.attrs.key_type() == key_type => Ok(v),
        _ => Err(type_inconsistent(mech, &key.attrs)),
    }
}

fn type_inconsistent(mech: CkMechanismType, attrs: &Attrs) -> Error {
    Error::KeyTypeInconsistent { mech, class: attrs.class(), key_type: attrs.key_type() }
}

/// Checks a secret key length: AES 16/24/32 bytes, generic secrets within the registry's
/// bounds; CKR_KEY_SIZE_RANGE otherwise.
fn check_secret_len(key_type: CkKeyType, len: u64) -> Result<()> {
    let ok = match key_type {
        CKK_AES => aes::valid_key_len(len),
        _ => (GENERIC_SECRET_MIN..=GENERIC_SECRET_MAX).contains(&len),
    };
    if ok { Ok(()) } else { Err(Error::KeySizeRange(len)) }
}

/// CKA_CLASS and CKA_KEY_TYPE of an unwrap or derive template: both required, the class
/// CKO_SECRET_KEY and the type CKK_AES or CKK_GENERIC_SECRET.
fn secret_template(template: &Template) -> Result<CkKeyType> {
    let class = CkObjectClass(attrs::required_ulong(template, CKA_CLASS)?);
    let key_type = CkKeyType(attrs::required_ulong(template, CKA_KEY_TYPE)?);
    if class != CKO_SECRET_KEY {
        return Err(Error::TemplateInconsistent {
            attr: CKA_CLASS,
            reason: "only secret keys can be made here",
        });
    }
    if key_type != CKK_AES && key_type != CKK_GENERIC_SECRET {
        return Err(Error::TemplateInconsistent {
            attr: CKA_KEY_TYPE,
            reason: "only AES and generic secrets",
        });
    }
    Ok(key_type)
}

fn secret_fixed(key_type: CkKeyType, len: u64) -> Vec<(CkAttributeType, AttrValue)> {
    vec![
        (CKA_CLASS, AttrValue::Ulong(CKO_SECRET_KEY.0)),
        (CKA_KEY_TYPE, AttrValue::Ulong(key_type.0)),
        (CKA_VALUE_LEN, AttrValue::Ulong(len)),
    ]
}

fn ec_fixed(
    class: CkObjectClass,
    params: &[u8],
    public: Option<&p256::PublicKey>,
) -> Vec<(CkAttributeType, AttrValue)> {
    let mut fixed = vec![
        (CKA_CLASS, AttrValue::Ulong(class.0)),
        (CKA_KEY_TYPE, AttrValue::Ulong(CKK_EC.0)),
        (CKA_EC_PARAMS, AttrValue::Bytes(params.to_vec())),
    ];
    if let Some(pk) = public {
        fixed.push((CKA_EC_POINT, AttrValue::Bytes(ec::ec_point_attribute(pk))));
    }
    fixed
}

/// The CheckSum of a secret key (see the module comment).
fn checksum(key_type: CkKeyType, value: &[u8]) -> Result<Vec<u8>> {
    let mut sum = match key_type {
        CKK_AES => aes::check_value(value)?,
        _ => HashAlg::Sha1.digest(value)[..3].to_vec(),
    };
    // Key lengths are at most 256 bytes: the bit count fits in 32 bits.
    sum.extend_from_slice(&((value.len() as u32) * 8).to_be_bytes());
    Ok(sum)
}
