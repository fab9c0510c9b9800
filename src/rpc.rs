//! The GREP11 interface as the suites see it: every RPC by its proto name, whether the
//! seed table lists it, the arguments a suite step may give it and the response fields a
//! step may save or check. The suite loader validates against this table, the client
//! builds requests from it and reports count coverage by it: one list, three readers.

use std::fmt;

/// The largest message the harness and the emulator send or accept (64 MiB): above the
/// largest suite inputs, and a bound on what one request can make either side allocate.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// The bytes in front of each gRPC message on the wire: a compression flag, then the
/// message's length (big-endian `u32`).
pub const FRAME_PREFIX_LEN: usize = 5;

/// The prefix of an uncompressed gRPC message of `len` bytes, for code that frames
/// messages itself ([`frame`], and tests that announce a false length).
pub fn frame_prefix(len: u32) -> [u8; FRAME_PREFIX_LEN] {
    let mut prefix = [0; FRAME_PREFIX_LEN];
    prefix[1..].copy_from_slice(&len.to_be_bytes());
    prefix
}

/// `message` as one uncompressed gRPC frame, prefix and all; `None` when its length does
/// not fit the prefix's `u32`.
pub fn frame(message: &[u8]) -> Option<Vec<u8>> {
    let len = u32::try_from(message.len()).ok()?;
    Some([&frame_prefix(len)[..], message].concat())
}

/// A prefix read back: the compression flag (0: none) and the length it announces.
pub fn read_frame_prefix(prefix: &[u8; FRAME_PREFIX_LEN]) -> (u8, usize) {
    let [flag, len @ ..] = *prefix;
    (flag, u32::from_be_bytes(len) as usize)
}

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
    /// A byte string, saved as bytes and compared with a byte expression.
    Bytes,
    /// An unsigned integer (a `CK_ULONG` such as a key size from GetMechanismInfo).
    Uint,
    /// A list of mechanism values (`Mechs`).
    Mechanisms,
}

/// One argument of a step: its YAML name, kind, and whether the step must give it.
#[derive(Clone, Copy, Debug)]
pub struct Arg {
    /// The key the step writes it under (`mech`, `key`, `data`, `template`...).
    pub name: &'static str,
    /// What the YAML value must look like.
    pub kind: ArgKind,
    /// Whether the suite loader refuses a step that leaves it out.
    pub required: bool,
}

/// The interface, once: every RPC in proto order with its method and message names, then
/// its step arguments (each with how the client puts it into the request: the setter, in
/// `client::call`, and the request fields it fills) and the response fields a step can
/// read (each with the getter that reads them and the response fields they come from).
///
/// The table is handed to a macro named by the caller (`rpc_table!(callback)`), so that
/// each reader generates what it needs from the same rows: this module the [`Rpc`]
/// vocabulary, the client its calls, the emulator its dispatch and the fault wrapper its
/// pass-through. Adding an RPC is one row here plus its behaviour in the emulator; the
/// compiler checks the Rust names against the generated messages, and a unit test
/// (`the_table_agrees_with_the_proto`) checks every name against the proto's descriptors.
///
/// Setters: `mech`, `mech_type` (the bare `CK_MECHANISM_TYPE`), `bytes`, `uint`, `template`,
/// `key` (the `KeyBlob` field, then the legacy bytes field), `key_blob` (a `KeyBlob` alone),
/// `attribute_names` (the `Attributes` map, then `AttributesBytes`). Getters: `bytes`,
/// `mechs`, `key` (the legacy bytes field, then the `KeyBlob` field), `mech_info`,
/// `attributes` (`AttributesBytes`, then `Attributes`; values under their `CKA_*` names).
macro_rules! rpc_table {
    ($callback:ident) => {
        $callback! {
            GenerateRandom generate_random (GenerateRandomRequest -> GenerateRandomResponse) seed true {
                args: uint "len" req (len);
                fields: bytes ("Rnd") (rnd);
            }
            SeedRandom seed_random (SeedRandomRequest -> SeedRandomResponse) seed true {
                args: bytes "mixin" req (mixin);
                fields: ;
            }
            DigestInit digest_init (DigestInitRequest -> DigestInitResponse) seed true {
                args: mech "mech" req (mech);
                fields: bytes ("State") (state);
            }
            Digest digest (DigestRequest -> DigestResponse) seed true {
                args: bytes "state" req (state), bytes "data" req (data);
                fields: bytes ("Digest") (digest);
            }
            DigestUpdate digest_update (DigestUpdateRequest -> DigestUpdateResponse) seed true {
                args: bytes "state" req (state), bytes "data" req (data);
                fields: bytes ("State") (state);
            }
            DigestKey digest_key (DigestKeyRequest -> DigestKeyResponse) seed false {
                args: bytes "state" req (state), key "key" req (key, legacy_key);
                fields: bytes ("State") (state);
            }
            DigestFinal digest_final (DigestFinalRequest -> DigestFinalResponse) seed true {
                args: bytes "state" req (state);
                fields: bytes ("Digest") (digest);
            }
            DigestSingle digest_single (DigestSingleRequest -> DigestSingleResponse) seed true {
                args: mech "mech" req (mech), bytes "data" req (data);
                fields: bytes ("Digest") (digest);
            }
            EncryptInit encrypt_init (EncryptInitRequest -> EncryptInitResponse) seed true {
                args: mech "mech" req (mech), key "key" req (key, legacy_key);
                fields: bytes ("State") (state);
            }
            DecryptInit decrypt_init (DecryptInitRequest -> DecryptInitResponse) seed true {
                args: mech "mech" req (mech), key "key" req (key, legacy_key);
                fields: bytes ("State") (state);
            }
            EncryptUpdate encrypt_update (EncryptUpdateRequest -> EncryptUpdateResponse) seed true {
                args: bytes "state" req (state), bytes "plain" req (plain);
                fields: bytes ("State") (state), bytes ("Ciphered") (ciphered);
            }
            DecryptUpdate decrypt_update (DecryptUpdateRequest -> DecryptUpdateResponse) seed true {
                args: bytes "state" req (state), bytes "ciphered" req (ciphered);
                fields: bytes ("State") (state), bytes ("Plain") (plain);
            }
            Encrypt encrypt (EncryptRequest -> EncryptResponse) seed true {
                args: bytes "state" req (state), bytes "plain" req (plain);
                fields: bytes ("Ciphered") (ciphered);
            }
            Decrypt decrypt (DecryptRequest -> DecryptResponse) seed true {
                args: bytes "state" req (state), bytes "ciphered" req (ciphered);
                fields: bytes ("Plain") (plain);
            }
            EncryptFinal encrypt_final (EncryptFinalRequest -> EncryptFinalResponse) seed true {
                args: bytes "state" req (state);
                fields: bytes ("Ciphered") (ciphered);
            }
            DecryptFinal decrypt_final (DecryptFinalRequest -> DecryptFinalResponse) seed true {
                args: bytes "state" req (state);
                fields: bytes ("Plain") (plain);
            }
            EncryptSingle encrypt_single (EncryptSingleRequest -> EncryptSingleResponse) seed true {
                args: mech "mech" req (mech), key "key" req (key, legacy_key), bytes "plain" req (plain);
                fields: bytes ("Ciphered") (ciphered);
            }
            DecryptSingle decrypt_single (DecryptSingleRequest -> DecryptSingleResponse) seed true {
                args: mech "mech" req (mech), key "key" req (key, legacy_key), bytes "ciphered" req (ciphered);
                fields: bytes ("Plain") (plain);
            }
            // Only the KeyBlob generation of this RPC is published.
            ReencryptSingle reencrypt_single (ReencryptSingleRequest -> ReencryptSingleResponse) seed false {
                args: mech "decmech" req (dec_mech), mech "encmech" req (enc_mech),
                    key_blob "deckey" req (dec_key), key_blob "enckey" req (enc_key),
                    bytes "ciphered" req (ciphered);
                fields: bytes ("Reciphered") (reciphered);
            }
            SignInit sign_init (SignInitRequest -> SignInitResponse) seed true {
                args: mech "mech" req (mech), key "key" req (priv_key, legacy_priv_key);
                fields: bytes ("State") (state);
            }
            VerifyInit verify_init (VerifyInitRequest -> VerifyInitResponse) seed true {
                args: mech "mech" req (mech), key "key" req (pub_key, legacy_pub_key);
                fields: bytes ("State") (state);
            }
            SignUpdate sign_update (SignUpdateRequest -> SignUpdateResponse) seed true {
                args: bytes "state" req (state), bytes "data" req (data);
                fields: bytes ("State") (state);
            }
            VerifyUpdate verify_update (VerifyUpdateRequest -> VerifyUpdateResponse) seed true {
                args: bytes "state" req (state), bytes "data" req (data);
                fields: bytes ("State") (state);
            }
            SignFinal sign_final (SignFinalRequest -> SignFinalResponse) seed true {
                args: bytes "state" req (state);
                fields: bytes ("Signature") (signature);
            }
            VerifyFinal verify_final (VerifyFinalRequest -> VerifyFinalResponse) seed true {
                args: bytes "state" req (state), bytes "signature" req (signature);
                fields: ;
            }
            Sign sign (SignRequest -> SignResponse) seed true {
                args: bytes "state" req (state), bytes "data" req (data);
                fields: bytes ("Signature") (signature);
            }
            Verify verify (VerifyRequest -> VerifyResponse) seed true {
                args: bytes "state" req (state), bytes "data" req (data), bytes "signature" req (signature);
                fields: ;
            }
            SignSingle sign_single (SignSingleRequest -> SignSingleResponse) seed true {
                args: mech "mech" req (mech), key "key" req (priv_key, legacy_priv_key), bytes "data" req (data);
                fields: bytes ("Signature") (signature);
            }
            VerifySingle verify_single (VerifySingleRequest -> VerifySingleResponse) seed true {
                args: mech "mech" req (mech), key "key" req (pub_key, legacy_pub_key), bytes "data" req (data),
                    bytes "signature" req (signature);
                fields: ;
            }
            GenerateKey generate_key (GenerateKeyRequest -> GenerateKeyResponse) seed true {
                args: mech "mech" req (mech), template "template" req (template);
                fields: key ("Key", "KeyBytes") (key_bytes, key), bytes ("CheckSum") (check_sum);
            }
            GenerateKeyPair generate_key_pair (GenerateKeyPairRequest -> GenerateKeyPairResponse) seed true {
                args: mech "mech" req (mech), template "public" req (pub_key_template),
                    template "private" req (priv_key_template);
                fields: key ("PubKey", "PubKeyBytes") (pub_key_bytes, pub_key),
                    key ("PrivKey", "PrivKeyBytes") (priv_key_bytes, priv_key);
            }
            WrapKey wrap_key (WrapKeyRequest -> WrapKeyResponse) seed true {
                args: mech "mech" req (mech), key "key" req (key, legacy_key), key "kek" req (ke_k, legacy_ke_k),
                    key "mackey" opt (mac_key, legacy_mac_key);
                fields: bytes ("Wrapped") (wrapped);
            }
            UnwrapKey unwrap_key (UnwrapKeyRequest -> UnwrapKeyResponse) seed true {
                args: mech "mech" req (mech), bytes "wrapped" req (wrapped), key "kek" req (ke_k, legacy_ke_k),
                    key "mackey" opt (mac_key, legacy_mac_key), template "template" req (template);
                fields: key ("Unwrapped", "UnwrappedBytes") (unwrapped_bytes, unwrapped),
                    bytes ("CheckSum") (check_sum);
            }
            DeriveKey derive_key (DeriveKeyRequest -> DeriveKeyResponse) seed true {
                args: mech "mech" req (mech), key "key" req (base_key, legacy_base_key), bytes "data" opt (data),
                    template "template" req (template);
                fields: key ("NewKey", "NewKeyBytes") (new_key_bytes, new_key), bytes ("CheckSum") (check_sum);
            }
            GetMechanismList get_mechanism_list (GetMechanismListRequest -> GetMechanismListResponse) seed true {
                args: ;
                fields: mechs ("Mechs") (mechs);
            }
            GetMechanismInfo get_mechanism_info (GetMechanismInfoRequest -> GetMechanismInfoResponse) seed true {
                args: mech_type "mech" req (mech);
                fields: mech_info ("MinKeySize", "MaxKeySize", "Flags") (mech_info);
            }
            GetAttributeValue get_attribute_value (GetAttributeValueRequest -> GetAttributeValueResponse) seed true {
                args: bytes "object" req (object), attribute_names "attributes" req (attributes, attributes_bytes);
                fields: attributes () (attributes_bytes, attributes);
            }
            SetAttributeValue set_attribute_value (SetAttributeValueRequest -> SetAttributeValueResponse) seed true {
                args: bytes "object" req (object), template "attributes" req (attributes);
                fields: bytes ("Object") (object);
            }
            Login login (LoginRequest -> LoginResponse) seed false {
                args: bytes "storeid" opt (storeid), bytes "pin" opt (pin);
                fields: bytes ("Pinblob") (pinblob);
            }
            Logout logout (LogoutRequest -> LogoutResponse) seed false {
                args: ;
                fields: ;
            }
            RewrapKeyBlob rewrap_key_blob (RewrapKeyBlobRequest -> RewrapKeyBlobResponse) seed false {
                args: key "key" req (wrapped_key, wrapped_key_bytes);
                fields: key ("RewrappedKey", "RewrappedKeyBytes") (rewrapped_key_bytes, rewrapped_key);
            }
        }
    };
}
pub(crate) use rpc_table;

/// The suite kind of each setter's argument.
macro_rules! arg_kind {
    (mech) => {
        ArgKind::Mechanism
    };
    (mech_type) => {
        ArgKind::Mechanism
    };
    (bytes) => {
        ArgKind::Bytes
    };
    (key) => {
        ArgKind::Bytes
    };
    (key_blob) => {
        ArgKind::Bytes
    };
    (uint) => {
        ArgKind::Uint
    };
    (template) => {
        ArgKind::Template
    };
    (attribute_names) => {
        ArgKind::AttributeList
    };
}

/// The suite kind of each getter's fields.
macro_rules! field_kind {
    (bytes) => {
        FieldKind::Bytes
    };
    (key) => {
        FieldKind::Bytes
    };
    (mechs) => {
        FieldKind::Mechanisms
    };
    (mech_info) => {
        FieldKind::Uint
    };
}

macro_rules! required {
    (req) => {
        true
    };
    (opt) => {
        false
    };
}

/// The suite vocabulary from the table.
macro_rules! vocabulary {
    ($($name:ident $method:ident ($req:ident -> $resp:ident) seed $seed:literal {
        args: $($set:ident $arg:literal $need:ident ($($to:ident),+)),* ;
        fields: $($get:ident ($($field:literal),*) ($($from:ident),+)),* ;
    })*) => {
        /// A GREP11 RPC, named as in the proto (`/grep11.Crypto/<Name>`).
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub enum Rpc {
            $(
                #[doc = concat!("Takes a `", stringify!($req), "`, answers a `", stringify!($resp), "`.")]
                $name,
            )*
        }

        impl Rpc {
            /// Every RPC of the interface, in proto order.
            pub const ALL: &'static [Rpc] = &[$(Rpc::$name,)*];

            /// The proto's method name (`SignSingle`), as suites and reports write it.
            pub fn name(self) -> &'static str {
                match self { $(Rpc::$name => stringify!($name),)* }
            }

            /// The gRPC path the RPC is called at (`/grep11.Crypto/SignSingle`): the proto's
            /// package and service, then the method.
            pub fn path(self) -> &'static str {
                match self { $(Rpc::$name => concat!("/grep11.Crypto/", stringify!($name)),)* }
            }

            /// True for the 36 functions of the seed table that an endpoint must implement.
            pub fn in_seed_table(self) -> bool {
                match self { $(Rpc::$name => $seed,)* }
            }

            /// The arguments a suite step may give the RPC, in the table's order.
            pub fn args(self) -> &'static [Arg] {
                match self {
                    $(Rpc::$name => &[$(Arg { name: $arg, kind: arg_kind!($set), required: required!($need) }),*],)*
                }
            }

            /// The response fields a step can save or check (besides attributes, which
            /// GetAttributeValue returns under their `CKA_*` names).
            pub fn fields(self) -> &'static [(&'static str, FieldKind)] {
                match self { $(Rpc::$name => &[$($(($field, field_kind!($get)),)*)*],)* }
            }
        }

        /// The table's wire names, as text, for checking against the proto's descriptors.
        #[cfg(test)]
        pub(crate) fn wire_shape(rpc: Rpc) -> WireShape {
            match rpc {
                $(Rpc::$name => WireShape {
                    method: stringify!($method),
                    request: stringify!($req),
                    response: stringify!($resp),
                    sets: &[$((stringify!($set), &[$(stringify!($to)),+])),*],
                    gets: &[$((stringify!($get), &[$($field),*], &[$(stringify!($from)),+])),*],
                },)*
            }
        }
    };
}

/// One row of the table as text: method, message names, each setter with the request
/// fields it fills, each getter with its field names and the response fields it reads.
#[cfg(test)]
pub(crate) struct WireShape {
    pub method: &'static str,
    pub request: &'static str,
    pub response: &'static str,
    pub sets: &'static [(&'static str, &'static [&'static str])],
    pub gets: &'static [(&'static str, &'static [&'static str], &'static [&'static str])],
}

rpc_table!(vocabulary);

impl Rpc {
    /// The RPC with this proto method name (case-sensitive); `None` for any other name.
    pub fn from_name(name: &str) -> Option<Rpc> {
        Rpc::ALL.iter().copied().find(|r| r.name() == name)
    }

    /// The RPC a gRPC path names.
    pub fn from_path(path: &str) -> Option<Rpc> {
        Rpc::ALL.iter().copied().find(|r| r.path() == path)
    }

    /// The RPCs of the seed table, in proto order.
    pub fn seed_table() -> impl Iterator<Item = Rpc> {
        Rpc::ALL.iter().copied().filter(|r| r.in_seed_table())
    }

    /// The step argument of that YAML name; `None` when the RPC takes no such argument.
    pub fn arg(self, name: &str) -> Option<&'static Arg> {
        self.args().iter().find(|a| a.name == name)
    }

    /// The kind of the response field a step may save or check under `name`; `None` when
    /// the response has no such field (attribute names are not listed here).
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

    /// The gRPC framing as the protocol spells it: flag byte, then a big-endian length.
    #[test]
    fn frame_prefixes_are_written_and_read_as_grpc_spells_them() {
        assert_eq!(frame_prefix(2), [0, 0, 0, 0, 2]);
        assert_eq!(frame_prefix(0x0102_0304), [0, 1, 2, 3, 4]);
        assert_eq!(read_frame_prefix(&[1, 0, 0, 1, 0]), (1, 256));
        assert_eq!(read_frame_prefix(&frame_prefix(u32::MAX)), (0, u32::MAX as usize));
    }

    #[test]
    fn frames_are_the_prefix_then_the_message() {
        assert_eq!(frame(b"ab"), Some(vec![0, 0, 0, 0, 2, b'a', b'b']));
        assert_eq!(frame(b""), Some(vec![0; FRAME_PREFIX_LEN]));
    }

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
            assert_eq!(Rpc::from_path(rpc.path()), Some(*rpc));
        }
        assert_eq!(Rpc::from_path("/grep11.Crypto"), None);
        assert_eq!(Rpc::from_path("/other.Crypto/SignSingle"), None);
    }

    use prost::Message;
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorSet};

    /// `build.rs`'s compiled descriptors of `proto/`.
    const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/grep11.fds"));

    /// A Rust name and a proto name compared as prost maps one to the other (`KeK`, `ke_k`).
    fn same_name(proto: &str, rust: &str) -> bool {
        proto.to_lowercase() == rust.replace('_', "")
    }

    /// A field's type as text: `bytes`, `uint64`, `repeated uint64`, `.grep11.KeyBlob`,
    /// `map<uint64,bytes>`.
    fn type_of(message: &DescriptorProto, field: &FieldDescriptorProto) -> String {
        let scalar = match field.r#type() {
            Type::Bytes => "bytes".to_owned(),
            Type::Uint64 => "uint64".to_owned(),
            Type::Message => {
                let entry = message.nested_type.iter().find(|n| {
                    n.options.as_ref().is_some_and(|o| o.map_entry())
                        && field.type_name().ends_with(&format!(".{}", n.name()))
                });
                if let Some(entry) = entry {
                    return format!(
                        "map<{},{}>",
                        type_of(entry, &entry.field[0]),
                        type_of(entry, &entry.field[1])
                    );
                }
                field.type_name().to_owned()
            }
            other => format!("{other:?}"),
        };
        if field.label() == Label::Repeated { format!("repeated {scalar}") } else { scalar }
    }

    /// The proto types a setter fills, field by field, in the table's order.
    fn setter_types(setter: &str) -> &'static [&'static str] {
        match setter {
            "mech" => &[".grep11.Mechanism"],
            "mech_type" | "uint" => &["uint64"],
            "bytes" => &["bytes"],
            "template" => &["map<uint64,.grep11.AttributeValue>"],
            "key" => &[".grep11.KeyBlob", "bytes"],
            "key_blob" => &[".grep11.KeyBlob"],
            "attribute_names" => &["map<uint64,.grep11.AttributeValue>", "map<uint64,bytes>"],
            other => panic!("no setter {other}"),
        }
    }

    /// The proto types a getter reads, field by field, in the table's order.
    fn getter_types(getter: &str) -> &'static [&'static str] {
        match getter {
            "bytes" => &["bytes"],
            "mechs" => &["repeated uint64"],
            "key" => &["bytes", ".grep11.KeyBlob"],
            "mech_info" => &[".grep11.MechanismInfo"],
            "attributes" => &["map<uint64,bytes>", "map<uint64,.grep11.AttributeValue>"],
            other => panic!("no getter {other}"),
        }
    }

    #[test]
    fn the_table_agrees_with_the_proto() {
        let set = FileDescriptorSet::decode(DESCRIPTORS).unwrap();
        let file = set.file.iter().find(|f| f.package() == "grep11").unwrap();
        let message = |name: &str| file.message_type.iter().find(|m| m.name() == name).unwrap();
        let service = file.service.iter().find(|s| s.name() == "Crypto").unwrap();
        let methods: Vec<&str> = service.method.iter().map(|m| m.name()).collect();
        let rpcs: Vec<&str> = Rpc::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(rpcs, methods, "the table lists the proto's RPCs in proto order");

        for (rpc, method) in Rpc::ALL.iter().zip(&service.method) {
            assert_eq!(rpc.path(), format!("/{}.{}/{}", file.package(), service.name(), method.name()));
            let shape = wire_shape(*rpc);
            assert!(same_name(rpc.name(), shape.method), "{rpc}: method {}", shape.method);
            assert_eq!(method.input_type(), format!(".grep11.{}", shape.request), "{rpc}");
            assert_eq!(method.output_type(), format!(".grep11.{}", shape.response), "{rpc}");

            // Every request field is filled by exactly one argument, with its setter's type.
            let request = message(shape.request);
            let mut filled = Vec::new();
            for (setter, fields) in shape.sets {
                assert_eq!(fields.len(), setter_types(setter).len(), "{rpc}: {setter} fills {fields:?}");
                for (rust, want) in fields.iter().zip(setter_types(setter)) {
                    let field = request.field.iter().find(|f| same_name(f.name(), rust));
                    let field =
                        field.unwrap_or_else(|| panic!("{rpc}: {} has no field {rust}", shape.request));
                    assert_eq!(type_of(request, field), *want, "{rpc}: {}.{}", shape.request, field.name());
                    filled.push(field.name());
                }
            }
            let mut all: Vec<&str> = request.field.iter().map(|f| f.name()).collect();
            filled.sort();
            all.sort();
            assert_eq!(filled, all, "{rpc}: request fields filled by the arguments");

            // Every response field is read, under its proto name.
            let response = message(shape.response);
            let mut read = Vec::new();
            for (getter, names, fields) in shape.gets {
                assert_eq!(fields.len(), getter_types(getter).len(), "{rpc}: {getter} reads {fields:?}");
                let fields: Vec<&FieldDescriptorProto> = fields
                    .iter()
                    .zip(getter_types(getter))
                    .map(|(rust, want)| {
                        let field = response.field.iter().find(|f| same_name(f.name(), rust));
                        let field =
                            field.unwrap_or_else(|| panic!("{rpc}: {} has no field {rust}", shape.response));
                        assert_eq!(
                            type_of(response, field),
                            *want,
                            "{rpc}: {}.{}",
                            shape.response,
                            field.name()
                        );
                        read.push(field.name());
                        field
                    })
                    .collect();
                let expected: Vec<&str> = match *getter {
                    // The key under the KeyBlob field's name, its bytes under the bytes field's.
                    "key" => vec![fields[1].name(), fields[0].name()],
                    "mech_info" => message("MechanismInfo").field.iter().map(|f| f.name()).collect(),
                    // Attributes go under their CKA_* names.
                    "attributes" => Vec::new(),
                    _ => fields.iter().map(|f| f.name()).collect(),
                };
                assert_eq!(names.to_vec(), expected, "{rpc}: the names {getter} saves fields under");
            }
            let mut all: Vec<&str> = response.field.iter().map(|f| f.name()).collect();
            read.sort();
            all.sort();
            assert_eq!(read, all, "{rpc}: response fields read");
        }
    }
}
