//! The mechanism families and their [`registry`]: each family module holds its primitives,
//! the operations it implements and the `register` that lists its mechanisms (see
//! [`registry`] for how a family is added). [`Mechanism`] is a mechanism as a request
//! carries it.

pub mod aes;
pub mod attrbound;
pub mod bip32;
pub mod btc;
pub mod cmac;
pub mod des3;
pub mod dh;
pub mod digest;
pub mod dsa;
pub mod ec;
pub mod ffc;
pub mod hmac;
pub mod random;
pub mod registry;
pub mod rsa;
pub mod sign;
pub mod transport;

pub use registry::{MechRow, info, mechanisms, operation};

use crate::pkcs11::*;

/// A mechanism and its parameter, as a request carries them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mechanism {
    /// The `CKM_*` value (`Mechanism.Mechanism` on the wire).
    pub mech: CkMechanismType,
    /// Its parameter (`Mechanism.Parameter`).
    pub param: MechParam,
}

/// The parameter arms the emulator reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MechParam {
    /// No parameter.
    None,
    /// ParameterB: an IV.
    Bytes(Vec<u8>),
    /// ECDH1DeriveParameter.
    Ecdh {
        /// The `CKD_*` key derivation function applied to the shared secret.
        kdf: CkEcKdf,
        /// The KDF's SharedData (empty with `CKD_NULL`).
        shared_data: Vec<u8>,
        /// The other party's public point.
        public_data: Vec<u8>,
    },
    /// RSAOAEPParameter: HashMech, Mgf (CKG_MGF1_*), EncodingParmType (CKZ_*), label.
    Oaep {
        /// The digest mechanism (`CKM_SHA256`...).
        hash: CkMechanismType,
        /// The `CKG_MGF1_*` mask generation function.
        mgf: u64,
        /// The `CKZ_*` label source.
        source: u64,
        /// The label (EncodingParm).
        label: Vec<u8>,
    },
    /// RSAPSSParameter: HashMech, Mgf (CKG_MGF1_*), SaltByteCount.
    Pss {
        /// The digest mechanism (`CKM_SHA256`...).
        hash: CkMechanismType,
        /// The `CKG_MGF1_*` mask generation function.
        mgf: u64,
        /// The salt length in bytes.
        salt_len: u64,
    },
    /// BTCDeriveParm (CKM_IBM_BTC_DERIVE): derivation type (the wire enum value), child
    /// index, the parent's chain code and the parameter version.
    BtcDerive {
        /// `Type`: BIP-32 (1 to 4) or SLIP-0010 (5 to 8) private-to-private,
        /// private-to-public, public-to-public or master key derivation.
        kind: u64,
        /// `ChildKeyIndex`; 2^31 and above are hardened children.
        child_index: u64,
        /// `ChainCode` of the parent key.
        chain_code: Vec<u8>,
        /// `Version` of the parameter layout; the emulator takes only the one IBM's
        /// clients send.
        version: u64,
    },
    /// A parameter arm no emulated mechanism takes.
    Other,
}

/// Generic secret (and HMAC key) lengths in bytes.
pub const GENERIC_SECRET_MIN: u64 = 1;
pub const GENERIC_SECRET_MAX: u64 = 256;

#[cfg(test)]
mod vectors;
