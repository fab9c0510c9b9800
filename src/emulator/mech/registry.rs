//! The mechanism registry: every mechanism the emulator serves, with its key sizes, CKF
//! flags and the operations that carry it out. GetMechanismList and GetMechanismInfo read
//! it, and every RPC finds its mechanism here (a mechanism without the function's CKF flag
//! is CKR_MECHANISM_INVALID for that function), so what is advertised is what is served.
//!
//! Each family module registers its own mechanisms, and with each the operations it
//! implements: a [`Cipher`] for Encrypt/Decrypt, a [`Sign`] for Sign/Verify, a [`KeyGen`],
//! [`KeyPairGen`], [`Wrap`], [`Unwrap`] or [`Derive`], or the [`HashAlg`] of a digest.
//! The engine keeps what every family shares (blob sealing, templates and attributes,
//! usage checks) and calls the operation the registry names: it has no per-family branch.
//! A test checks that every CKF flag of a row has its operation, and no operation lacks
//! its flag.
//!
//! Adding a family is one new module and one line:
//!
//! ```ignore
//! // mech/foo.rs: the primitives, the operations, and
//! pub(super) fn register(r: &mut Registry) {
//!     r.add(CKM_FOO_KEY_GEN, 16, 32, CKF_GENERATE).key_gen(FooKeyGen);
//!     let cbc = FooCbc;
//!     r.add(CKM_FOO_CBC, 16, 32, ENCRYPT | WRAP).cipher(cbc).wrap(cbc).unwrap(cbc);
//! }
//! // here: `foo::register,` in FAMILIES (and `mod foo;` in mech/mod.rs).
//! ```
//!
//! Key sizes follow PKCS #11's units per family: AES and generic secrets in bytes, EC, RSA,
//! DH and DSA in bits. GetMechanismList answers in registration order: family by family
//! in [`FAMILIES`] order, RSA first so that CKM_RSA_PKCS leads, as IBM's service lists it.

use std::sync::LazyLock;

use super::digest::HashAlg;
use super::sign::{SignParam, SignScheme};
use super::{MechParam, Mechanism};
use super::{aes, attrbound, btc, cmac, des3, digest, ec, ffc, hmac, rsa, transport};
use crate::emulator::attrs::Template;
use crate::emulator::blob::{Key, Operation, State};
use crate::emulator::engine::{Engine, NewKey};
use crate::emulator::error::{Error, Result};
use crate::pkcs11::*;
use crate::rpc::Rpc;

/// Every family, in GetMechanismList order.
const FAMILIES: &[fn(&mut Registry)] = &[
    rsa::register,
    aes::register,
    digest::register,
    ec::register,
    hmac::register,
    cmac::register,
    des3::register,
    transport::register,
    ffc::register,
    btc::register,
    attrbound::register,
];

// The flag sets rows are registered with.
pub const ENCRYPT: CkMechanismFlags = CkMechanismFlags(CKF_ENCRYPT.0 | CKF_DECRYPT.0);
pub const SIGN: CkMechanismFlags = CkMechanismFlags(CKF_SIGN.0 | CKF_VERIFY.0);
pub const WRAP: CkMechanismFlags = CkMechanismFlags(CKF_WRAP.0 | CKF_UNWRAP.0);
/// What an EC mechanism says of its curves.
pub const EC_CURVES: CkMechanismFlags =
    CkMechanismFlags(CKF_EC_F_P.0 | CKF_EC_NAMEDCURVE.0 | CKF_EC_UNCOMPRESS.0);

/// EncryptInit / DecryptInit and the single-part calls.
pub trait Cipher: Send + Sync {
    /// The first state of `op` under `key` (a blob): `State::Cipher` or `State::Rsa`.
    /// `function` names the GREP11 function in errors.
    fn start(&self, e: &Engine, op: Operation, mech: &Mechanism, key: &[u8], function: Rpc) -> Result<State>;
}

/// SignInit / VerifyInit and the single-part calls; the state machine is `sign::SignState`.
pub trait Sign: Send + Sync {
    fn scheme(&self) -> SignScheme;

    /// The mechanism parameter, read before the key is opened; by default there is none.
    fn param(&self, mech: &Mechanism) -> Result<SignParam> {
        match mech.param {
            MechParam::None => Ok(SignParam::None),
            _ => Err(Error::MechanismParamInvalid { mech: mech.mech, reason: "takes no parameter" }),
        }
    }

    /// The key bytes the state carries and its final parameter, or
    /// CKR_KEY_TYPE_INCONSISTENT for a key the scheme cannot use this way.
    fn key(
        &self,
        mech: &Mechanism,
        key: &Key,
        verify: bool,
        param: SignParam,
    ) -> Result<(Vec<u8>, SignParam)>;
}

/// GenerateKey.
pub trait KeyGen: Send + Sync {
    fn generate_key(&self, e: &Engine, mech: &Mechanism, template: &Template) -> Result<NewKey>;
}

/// GenerateKeyPair: (private, public).
pub trait KeyPairGen: Send + Sync {
    fn generate_key_pair(
        &self,
        e: &Engine,
        mech: &Mechanism,
        public_template: &Template,
        private_template: &Template,
    ) -> Result<(NewKey, NewKey)>;
}

/// WrapKey; `mac_key` is the request's MacKey, empty when it has none.
pub trait Wrap: Send + Sync {
    fn wrap(&self, e: &Engine, mech: &Mechanism, key: &[u8], kek: &[u8], mac_key: &[u8]) -> Result<Vec<u8>>;
}

/// UnwrapKey; `mac_key` as for [`Wrap`].
pub trait Unwrap: Send + Sync {
    fn unwrap(
        &self,
        e: &Engine,
        mech: &Mechanism,
        kek: &[u8],
        mac_key: &[u8],
        wrapped: &[u8],
        template: &Template,
    ) -> Result<NewKey>;
}

/// DeriveKey.
pub trait Derive: Send + Sync {
    fn derive(&self, e: &Engine, mech: &Mechanism, base: &[u8], template: &Template) -> Result<NewKey>;
}

/// The operations of one mechanism; `None` where it serves no such function.
#[derive(Default)]
pub struct Ops {
    pub digest: Option<HashAlg>,
    pub cipher: Option<Box<dyn Cipher>>,
    pub sign: Option<Box<dyn Sign>>,
    pub key_gen: Option<Box<dyn KeyGen>>,
    pub key_pair_gen: Option<Box<dyn KeyPairGen>>,
    pub wrap: Option<Box<dyn Wrap>>,
    pub unwrap: Option<Box<dyn Unwrap>>,
    pub derive: Option<Box<dyn Derive>>,
}

/// One registered mechanism.
pub struct MechRow {
    pub mech: CkMechanismType,
    pub min_key_size: u64,
    pub max_key_size: u64,
    pub flags: CkMechanismFlags,
    /// Public-key work, which the service runs off its I/O threads.
    pub heavy: bool,
    pub ops: Ops,
}

impl std::fmt::Debug for MechRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MechRow")
            .field("mech", &self.mech)
            .field("min_key_size", &self.min_key_size)
            .field("max_key_size", &self.max_key_size)
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

impl MechRow {
    pub fn digest(&mut self, alg: HashAlg) -> &mut Self {
        self.ops.digest = Some(alg);
        self
    }

    pub fn cipher(&mut self, op: impl Cipher + 'static) -> &mut Self {
        self.ops.cipher = Some(Box::new(op));
        self
    }

    pub fn sign(&mut self, op: impl Sign + 'static) -> &mut Self {
        self.ops.sign = Some(Box::new(op));
        self
    }

    pub fn key_gen(&mut self, op: impl KeyGen + 'static) -> &mut Self {
        self.ops.key_gen = Some(Box::new(op));
        self
    }

    pub fn key_pair_gen(&mut self, op: impl KeyPairGen + 'static) -> &mut Self {
        self.ops.key_pair_gen = Some(Box::new(op));
        self
    }

    pub fn wrap(&mut self, op: impl Wrap + 'static) -> &mut Self {
        self.ops.wrap = Some(Box::new(op));
        self
    }

    pub fn unwrap(&mut self, op: impl Unwrap + 'static) -> &mut Self {
        self.ops.unwrap = Some(Box::new(op));
        self
    }

    pub fn derive(&mut self, op: impl Derive + 'static) -> &mut Self {
        self.ops.derive = Some(Box::new(op));
        self
    }

    /// Marks public-key work (see [`MechRow::heavy`]).
    pub fn heavy(&mut self) -> &mut Self {
        self.heavy = true;
        self
    }
}

/// The rows the families register.
#[derive(Default)]
pub struct Registry {
    rows: Vec<MechRow>,
}

impl Registry {
    /// Registers `mech`; its operations follow on the returned row.
    pub fn add(
        &mut self,
        mech: CkMechanismType,
        min: u64,
        max: u64,
        flags: CkMechanismFlags,
    ) -> &mut MechRow {
        let at = self.rows.len();
        self.rows.push(MechRow {
            mech,
            min_key_size: min,
            max_key_size: max,
            flags,
            heavy: false,
            ops: Ops::default(),
        });
        &mut self.rows[at]
    }
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let mut registry = Registry::default();
    for register in FAMILIES {
        register(&mut registry);
    }
    registry
});

/// Every mechanism the emulator serves, in GetMechanismList order.
pub fn mechanisms() -> &'static [MechRow] {
    &REGISTRY.rows
}

/// The row of `mech` if it serves `function` (named by its CKF flag): unknown mechanisms and
/// mechanisms without that flag are CKR_MECHANISM_INVALID.
pub fn lookup(mech: CkMechanismType, flag: CkMechanismFlags, function: Rpc) -> Result<&'static MechRow> {
    mechanisms()
        .iter()
        .find(|r| r.mech == mech && r.flags.contains(flag))
        .ok_or(Error::MechanismInvalid { mech, function })
}

/// The operation `pick` takes from the row of `mech` for `function` (see [`lookup`]).
pub fn operation<T: ?Sized>(
    mech: CkMechanismType,
    flag: CkMechanismFlags,
    function: Rpc,
    pick: impl FnOnce(&'static Ops) -> Option<&'static T>,
) -> Result<&'static T> {
    pick(&lookup(mech, flag, function)?.ops).ok_or(Error::MechanismInvalid { mech, function })
}

/// The row of `mech`, for GetMechanismInfo.
pub fn info(mech: CkMechanismType) -> Result<&'static MechRow> {
    mechanisms()
        .iter()
        .find(|r| r.mech == mech)
        .ok_or(Error::MechanismInvalid { mech, function: Rpc::GetMechanismInfo })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_unique_sized_sanely_and_backed_by_their_operations() {
        let rows = mechanisms();
        for (i, r) in rows.iter().enumerate() {
            assert!(rows[..i].iter().all(|o| o.mech != r.mech), "{} twice", r.mech);
            assert!(r.min_key_size <= r.max_key_size, "{}", r.mech);
            let o = &r.ops;
            let backed = [
                (CKF_DIGEST, o.digest.is_some()),
                (CKF_ENCRYPT, o.cipher.is_some()),
                (CKF_DECRYPT, o.cipher.is_some()),
                (CKF_SIGN, o.sign.is_some()),
                (CKF_VERIFY, o.sign.is_some()),
                (CKF_GENERATE, o.key_gen.is_some()),
                (CKF_GENERATE_KEY_PAIR, o.key_pair_gen.is_some()),
                (CKF_WRAP, o.wrap.is_some()),
                (CKF_UNWRAP, o.unwrap.is_some()),
                (CKF_DERIVE, o.derive.is_some()),
            ];
            assert!(backed.iter().any(|(_, has)| *has), "{} does nothing", r.mech);
            for (flag, has) in backed {
                assert_eq!(r.flags.contains(flag), has, "{} {flag}", r.mech);
            }
        }
        assert_eq!(rows[0].mech, CKM_RSA_PKCS);
        assert!(lookup(CKM_SHA256, CKF_ENCRYPT, Rpc::EncryptInit).is_err());
        assert!(lookup(CKM_AES_CBC, CKF_WRAP, Rpc::WrapKey).is_err());
        assert!(lookup(CKM_AES_CBC_PAD, CKF_WRAP, Rpc::WrapKey).is_ok());
    }
}
