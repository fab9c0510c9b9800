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
    pub mech: CkMechanismType,
    pub param: MechParam,
}

/// The parameter arms the emulator reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MechParam {
    None,
    /// ParameterB: an IV.
    Bytes(Vec<u8>),
    /// ECDH1DeriveParameter.
    Ecdh {
        kdf: CkEcKdf,
        shared_data: Vec<u8>,
        public_data: Vec<u8>,
    },
    /// RSAOAEPParameter: HashMech, Mgf (CKG_MGF1_*), EncodingParmType (CKZ_*), label.
    Oaep {
        hash: CkMechanismType,
        mgf: u64,
        source: u64,
        label: Vec<u8>,
    },
    /// RSAPSSParameter: HashMech, Mgf (CKG_MGF1_*), SaltByteCount.
    Pss {
        hash: CkMechanismType,
        mgf: u64,
        salt_len: u64,
    },
    /// BTCDeriveParm (CKM_IBM_BTC_DERIVE): derivation type (the wire enum value), child
    /// index, the parent's chain code and the parameter version.
    BtcDerive {
        kind: u64,
        child_index: u64,
        chain_code: Vec<u8>,
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
