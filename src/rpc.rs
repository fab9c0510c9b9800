//! The GREP11 interface as the suites see it: every RPC by its proto name, whether the
//! seed table lists it, the arguments a suite step may give it and the response fields a
//! step may save or check. The suite loader validates against this table, the client
//! builds requests from it and reports count coverage by it: one list, three readers.

use std::fmt;

/// The largest message the harness and the emulator send or accept (64 MiB): above the
/// largest suite inputs, and a bound on what one request can make either side allocate.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// How a step argument is written in YAML.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ArgKind {
    /// A mechanism: `CKM_NAME`, `$var`, or `{type: .., param: .., ecdh: ..}`.
    Mechanism,
    /// A byte string expression (`hex:..`, `$var`, `sha256(..)`, ...).
    Bytes,
    /// An unsigned integer.
    Uint,
    /// An attribute template: `{CKA_NAME: value, ...}`.
    Template,
    /// A list of attribute names.
    AttributeList,
}

/// The type of a response field, for `save` and `expect`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FieldKind {
    Bytes,
    Uint,
    /// A list of mechanism values (`Mechs`).
    Mechanisms,
}

/// One argument of a step: its YAML name, kind, and whether the step must give it.
#[derive(Clone, Copy, Debug)]
pub struct Arg {
    pub name: &'static str,
    pub kind: ArgKind,
    pub required: bool,
}

const fn req(name: &'static str, kind: ArgKind) -> Arg {
    Arg { name, kind, required: true }
}
const fn opt(name: &'static str, kind: ArgKind) -> Arg {
    Arg { name, kind, required: false }
}

use ArgKind::*;
const MECH: Arg = req("mech", Mechanism);
const KEY: Arg = req("key", Bytes);
const STATE: Arg = req("state", Bytes);
const DATA: Arg = req("data", Bytes);
const PLAIN: Arg = req("plain", Bytes);
const CIPHERED: Arg = req("ciphered", Bytes);
const SIGNATURE: Arg = req("signature", Bytes);

const B: FieldKind = FieldKind::Bytes;
const U: FieldKind = FieldKind::Uint;

macro_rules! rpcs {
    ($($name:ident { seed: $seed:expr, args: [$($arg:expr),*], fields: [$($field:literal: $kind:expr),*] },)*) => {
        /// A GREP11 RPC, named as in the proto (`/grep11.Crypto/<Name>`).
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub enum Rpc { $($name,)* }

        impl Rpc {
            pub const ALL: &'static [Rpc] = &[$(Rpc::$name,)*];

            pub fn name(self) -> &'static str {
                match self { $(Rpc::$name => stringify!($name),)* }
            }

            /// True for the 36 functions of the seed table that an endpoint must implement.
            pub fn in_seed_table(self) -> bool {
                match self { $(Rpc::$name => $seed,)* }
            }

            pub fn args(self) -> &'static [Arg] {
                match self { $(Rpc::$name => { const ARGS: &[Arg] = &[$($arg),*]; ARGS })* }
            }

            /// The response fields a step can save or check (besides attributes, which
            /// GetAttributeValue returns under their `CKA_*` names).
            pub fn fields(self) -> &'static [(&'static str, FieldKind)] {
                match self { $(Rpc::$name => &[$(($field, $kind)),*],)* }
            }
        }
    };
}

rpcs! {
    GetMechanismList { seed: true, args: [], fields: ["Mechs": FieldKind::Mechanisms] },
    GetMechanismInfo { seed: true, args: [MECH], fields: ["MinKeySize": U, "MaxKeySize": U, "Flags": U] },
    GetAttributeValue { seed: true, args: [req("object", Bytes), req("attributes", AttributeList)], fields: [] },
    SetAttributeValue { seed: true, args: [req("object", Bytes), req("attributes", Template)], fields: ["Object": B] },
    GenerateRandom { seed: true, args: [req("len", Uint)], fields: ["Rnd": B] },
    SeedRandom { seed: true, args: [req("mixin", Bytes)], fields: [] },
    DigestInit { seed: true, args: [MECH], fields: ["State": B] },
    Digest { seed: true, args: [STATE, DATA], fields: ["Digest": B] },
    DigestUpdate { seed: true, args: [STATE, DATA], fields: ["State": B] },
    DigestFinal { seed: true, args: [STATE], fields: ["Digest": B] },
    DigestSingle { seed: true, args: [MECH, DATA], fields: ["Digest": B] },
    EncryptInit { seed: true, args: [MECH, KEY], fields: ["State": B] },
    Encrypt { seed: true, args: [STATE, PLAIN], fields: ["Ciphered": B] },
    EncryptUpdate { seed: true, args: [STATE, PLAIN], fields: ["State": B, "Ciphered": B] },
    EncryptFinal { seed: true, args: [STATE], fields: ["Ciphered": B] },
    EncryptSingle { seed: true, args: [MECH, KEY, PLAIN], fields: ["Ciphered": B] },
    DecryptInit { seed: true, args: [MECH, KEY], fields: ["State": B] },
    Decrypt { seed: true, args: [STATE, CIPHERED], fields: ["Plain": B] },
    DecryptUpdate { seed: true, args: [STATE, CIPHERED], fields: ["State": B, "Plain": B] },
    DecryptFinal { seed: true, args: [STATE], fields: ["Plain": B] },
    DecryptSingle { seed: true, args: [MECH, KEY, CIPHERED], fields: ["Plain": B] },
    SignInit { seed: true, args: [MECH, KEY], fields: ["State": B] },
    Sign { seed: true, args: [STATE, DATA], fields: ["Signature": B] },
    SignUpdate { seed: true, args: [STATE, DATA], fields: ["State": B] },
    SignFinal { seed: true, args: [STATE], fields: ["Signature": B] },
    SignSingle { seed: true, args: [MECH, KEY, DATA], fields: ["Signature": B] },
    VerifyInit { seed: true, args: [MECH, KEY], fields: ["State": B] },
    Verify { seed: true, args: [STATE, DATA, SIGNATURE], fields: [] },
    VerifyUpdate { seed: true, args: [STATE, DATA], fields: ["State": B] },
    VerifyFinal { seed: true, args: [STATE, SIGNATURE], fields: [] },
    VerifySingle { seed: true, args: [MECH, KEY, DATA, SIGNATURE], fields: [] },
    GenerateKey { seed: true, args: [MECH, req("template", Template)], fields: ["Key": B, "KeyBytes": B, "CheckSum": B] },
    GenerateKeyPair {
        seed: true,
        args: [MECH, req("public", Template), req("private", Template)],
        fields: ["PubKey": B, "PrivKey": B, "PubKeyBytes": B, "PrivKeyBytes": B]
    },
    WrapKey { seed: true, args: [MECH, KEY, req("kek", Bytes), opt("mackey", Bytes)], fields: ["Wrapped": B] },
    UnwrapKey {
        seed: true,
        args: [MECH, req("wrapped", Bytes), req("kek", Bytes), opt("mackey", Bytes), req("template", Template)],
        fields: ["Unwrapped": B, "UnwrappedBytes": B, "CheckSum": B]
    },
    DeriveKey {
        seed: true,
        args: [MECH, KEY, opt("data", Bytes), req("template", Template)],
        fields: ["NewKey": B, "NewKeyBytes": B, "CheckSum": B]
    },
    DigestKey { seed: false, args: [STATE, KEY], fields: ["State": B] },
    ReencryptSingle {
        seed: false,
        args: [req("decmech", Mechanism), req("encmech", Mechanism), req("deckey", Bytes), req("enckey", Bytes), CIPHERED],
        fields: ["Reciphered": B]
    },
    Login { seed: false, args: [opt("storeid", Bytes), opt("pin", Bytes)], fields: ["Pinblob": B] },
    Logout { seed: false, args: [], fields: [] },
    RewrapKeyBlob { seed: false, args: [KEY], fields: ["Rewrapped": B, "RewrappedBytes": B] },
}

impl Rpc {
    pub fn from_name(name: &str) -> Option<Rpc> {
        Rpc::ALL.iter().copied().find(|r| r.name() == name)
    }

    /// The RPCs of the seed table, in proto order.
    pub fn seed_table() -> impl Iterator<Item = Rpc> {
        Rpc::ALL.iter().copied().filter(|r| r.in_seed_table())
    }

    pub fn arg(self, name: &str) -> Option<&'static Arg> {
        self.args().iter().find(|a| a.name == name)
    }

    pub fn field(self, name: &str) -> Option<FieldKind> {
        self.fields().iter().find(|(n, _)| *n == name).map(|&(_, k)| k)
    }
}

impl serde::Serialize for Rpc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl fmt::Display for Rpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_table_has_36_functions() {
        // 31 PKCS #11 functions marked `*` (SeedRandom among them) and five IBM *Single.
        assert_eq!(Rpc::seed_table().count(), 36);
        for single in ["EncryptSingle", "DecryptSingle", "DigestSingle", "SignSingle", "VerifySingle"] {
            assert!(Rpc::from_name(single).unwrap().in_seed_table());
        }
        assert!(!Rpc::DigestKey.in_seed_table());
    }

    #[test]
    fn names_round_trip() {
        for rpc in Rpc::ALL {
            assert_eq!(Rpc::from_name(rpc.name()), Some(*rpc));
        }
    }
}
