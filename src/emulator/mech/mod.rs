//! The mechanism registry: one row per mechanism with its key sizes, CKF flags and family.
//! GetMechanismList and GetMechanismInfo read these rows, and every RPC finds its
//! mechanism here (a mechanism whose row lacks the function's CKF flag is
//! CKR_MECHANISM_INVALID for that function), so what is advertised is what is served.
//!
//! Key sizes follow PKCS #11's units per family: AES and generic secrets in bytes, EC and
//! RSA in bits.

pub mod aes;
pub mod attrbound;
pub mod bip32;
pub mod cmac;
pub mod des3;
pub mod dh;
pub mod digest;
pub mod dsa;
pub mod ec;
pub mod hmac;
pub mod random;
pub mod rsa;
pub mod sign;

use aes::AesMode;
use digest::HashAlg;
use sign::SignScheme;

use super::error::{Error, Result};
use crate::pkcs11::ibm;
use crate::pkcs11::ibm::{
    CKM_IBM_ECDSA_SHA224, CKM_IBM_ECDSA_SHA256, CKM_IBM_ECDSA_SHA384, CKM_IBM_ECDSA_SHA512,
    CKM_IBM_ED25519_SHA512, CKM_IBM_TRANSPORTKEY,
};
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

/// What a mechanism does; the engine dispatches on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    AesKeyGen,
    GenericSecretKeyGen,
    EcKeyPairGen,
    Aes(AesMode),
    Digest(HashAlg),
    Sign(SignScheme),
    Ecdh1Derive,
    /// CKM_IBM_TRANSPORTKEY: import of an outside SPKI through UnwrapKey.
    TransportKey,
    Des3KeyGen,
    /// DES3 in a block mode (ECB, CBC, CBC_PAD of [`AesMode`]).
    Des3(AesMode),
    RsaKeyPairGen,
    /// RSA encryption and key wrapping (CKM_RSA_PKCS also signs: see [`Family::sign_scheme`]).
    Rsa(RsaMech),
    /// CKM_DH_PKCS_PARAMETER_GEN and CKM_DSA_PARAMETER_GEN: GenerateKey making domain
    /// parameters (see `engine::ffc`).
    DhParamGen,
    DsaParamGen,
    DhKeyPairGen,
    DsaKeyPairGen,
    DhDerive,
    /// CKM_IBM_BTC_DERIVE: BIP-32 and SLIP-10 ([`bip32`]).
    BtcDerive,
    /// CKM_IBM_ATTRIBUTEBOUND_WRAP: a key with its attributes, under a KeK and a MAC key
    /// ([`attrbound`]).
    AttrBoundWrap,
}

/// The RSA mechanisms that encrypt and wrap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaMech {
    Pkcs,
    Oaep,
}

impl Family {
    /// The signing scheme of a row that signs: CKM_RSA_PKCS is an encryption row that also
    /// signs (raw PKCS #1 v1.5 over a DigestInfo).
    pub fn sign_scheme(self) -> Option<SignScheme> {
        match self {
            Family::Sign(s) => Some(s),
            Family::Rsa(RsaMech::Pkcs) => Some(SignScheme::RsaPkcs(None)),
            _ => None,
        }
    }
}

/// One registry row.
#[derive(Clone, Copy, Debug)]
pub struct MechRow {
    pub mech: CkMechanismType,
    pub family: Family,
    pub min_key_size: u64,
    pub max_key_size: u64,
    pub flags: CkMechanismFlags,
}

const fn row(mech: CkMechanismType, family: Family, min: u64, max: u64, flags: u64) -> MechRow {
    MechRow { mech, family, min_key_size: min, max_key_size: max, flags: CkMechanismFlags(flags) }
}

// CKF bits as plain integers so rows can be built in a const table.
const ENC: u64 = CKF_ENCRYPT.0 | CKF_DECRYPT.0;
const SIGN: u64 = CKF_SIGN.0 | CKF_VERIFY.0;
const WRAP: u64 = CKF_WRAP.0 | CKF_UNWRAP.0;
const EC: u64 = CKF_EC_F_P.0 | CKF_EC_NAMEDCURVE.0 | CKF_EC_UNCOMPRESS.0;

/// Generic secret (and HMAC key) lengths in bytes.
pub const GENERIC_SECRET_MIN: u64 = 1;
pub const GENERIC_SECRET_MAX: u64 = 256;

/// RSA modulus sizes in bits.
const RSA_MIN: u64 = rsa::MIN_BITS;
const RSA_MAX: u64 = rsa::MAX_BITS;
/// EC key sizes in bits over the ECDSA/ECDH curves.
const EC_MIN: u64 = ec::EC_MIN_BITS;
const EC_MAX: u64 = ec::EC_MAX_BITS;

/// Every mechanism the emulator serves, in GetMechanismList order: CKM_RSA_PKCS first, as
/// IBM's service lists it.
pub static MECHANISMS: &[MechRow] = &[
    row(CKM_RSA_PKCS, Family::Rsa(RsaMech::Pkcs), RSA_MIN, RSA_MAX, ENC | SIGN | WRAP),
    row(CKM_RSA_PKCS_KEY_PAIR_GEN, Family::RsaKeyPairGen, RSA_MIN, RSA_MAX, CKF_GENERATE_KEY_PAIR.0),
    row(CKM_RSA_PKCS_OAEP, Family::Rsa(RsaMech::Oaep), RSA_MIN, RSA_MAX, ENC | WRAP),
    row(CKM_SHA1_RSA_PKCS, Family::Sign(SignScheme::RsaPkcs(Some(HashAlg::Sha1))), RSA_MIN, RSA_MAX, SIGN),
    row(
        CKM_SHA224_RSA_PKCS,
        Family::Sign(SignScheme::RsaPkcs(Some(HashAlg::Sha224))),
        RSA_MIN,
        RSA_MAX,
        SIGN,
    ),
    row(
        CKM_SHA256_RSA_PKCS,
        Family::Sign(SignScheme::RsaPkcs(Some(HashAlg::Sha256))),
        RSA_MIN,
        RSA_MAX,
        SIGN,
    ),
    row(
        CKM_SHA384_RSA_PKCS,
        Family::Sign(SignScheme::RsaPkcs(Some(HashAlg::Sha384))),
        RSA_MIN,
        RSA_MAX,
        SIGN,
    ),
    row(
        CKM_SHA512_RSA_PKCS,
        Family::Sign(SignScheme::RsaPkcs(Some(HashAlg::Sha512))),
        RSA_MIN,
        RSA_MAX,
        SIGN,
    ),
    row(CKM_RSA_PKCS_PSS, Family::Sign(SignScheme::RsaPss(None)), RSA_MIN, RSA_MAX, SIGN),
    row(CKM_SHA1_RSA_PKCS_PSS, Family::Sign(SignScheme::RsaPss(Some(HashAlg::Sha1))), RSA_MIN, RSA_MAX, SIGN),
    row(
        CKM_SHA224_RSA_PKCS_PSS,
        Family::Sign(SignScheme::RsaPss(Some(HashAlg::Sha224))),
        RSA_MIN,
        RSA_MAX,
        SIGN,
    ),
    row(
        CKM_SHA256_RSA_PKCS_PSS,
        Family::Sign(SignScheme::RsaPss(Some(HashAlg::Sha256))),
        RSA_MIN,
        RSA_MAX,
        SIGN,
    ),
    row(
        CKM_SHA384_RSA_PKCS_PSS,
        Family::Sign(SignScheme::RsaPss(Some(HashAlg::Sha384))),
        RSA_MIN,
        RSA_MAX,
        SIGN,
    ),
    row(
        CKM_SHA512_RSA_PKCS_PSS,
        Family::Sign(SignScheme::RsaPss(Some(HashAlg::Sha512))),
        RSA_MIN,
        RSA_MAX,
        SIGN,
    ),
    row(CKM_AES_KEY_GEN, Family::AesKeyGen, 16, 32, CKF_GENERATE.0),
    row(CKM_AES_ECB, Family::Aes(AesMode::Ecb), 16, 32, ENC),
    row(CKM_AES_CBC, Family::Aes(AesMode::Cbc), 16, 32, ENC),
    row(CKM_AES_CBC_PAD, Family::Aes(AesMode::CbcPad), 16, 32, ENC | WRAP),
    row(CKM_SHA_1, Family::Digest(HashAlg::Sha1), 0, 0, CKF_DIGEST.0),
    row(CKM_SHA256, Family::Digest(HashAlg::Sha256), 0, 0, CKF_DIGEST.0),
    row(CKM_SHA384, Family::Digest(HashAlg::Sha384), 0, 0, CKF_DIGEST.0),
    row(CKM_SHA512, Family::Digest(HashAlg::Sha512), 0, 0, CKF_DIGEST.0),
    row(CKM_EC_KEY_PAIR_GEN, Family::EcKeyPairGen, EC_MIN, EC_MAX, CKF_GENERATE_KEY_PAIR.0 | EC),
    row(CKM_ECDSA, Family::Sign(SignScheme::Ecdsa(None)), EC_MIN, EC_MAX, SIGN | EC),
    row(CKM_ECDSA_SHA256, Family::Sign(SignScheme::Ecdsa(Some(HashAlg::Sha256))), EC_MIN, EC_MAX, SIGN | EC),
    row(CKM_ECDH1_DERIVE, Family::Ecdh1Derive, EC_MIN, EC_MAX, CKF_DERIVE.0 | EC),
    row(CKM_ECDSA_SHA1, Family::Sign(SignScheme::Ecdsa(Some(HashAlg::Sha1))), EC_MIN, EC_MAX, SIGN | EC),
    row(CKM_ECDSA_SHA224, Family::Sign(SignScheme::Ecdsa(Some(HashAlg::Sha224))), EC_MIN, EC_MAX, SIGN | EC),
    row(CKM_ECDSA_SHA384, Family::Sign(SignScheme::Ecdsa(Some(HashAlg::Sha384))), EC_MIN, EC_MAX, SIGN | EC),
    row(CKM_ECDSA_SHA512, Family::Sign(SignScheme::Ecdsa(Some(HashAlg::Sha512))), EC_MIN, EC_MAX, SIGN | EC),
    // IBM's own codes for the same schemes (EP11 predates the PKCS #11 v2.40 ones).
    row(
        CKM_IBM_ECDSA_SHA224,
        Family::Sign(SignScheme::Ecdsa(Some(HashAlg::Sha224))),
        EC_MIN,
        EC_MAX,
        SIGN | EC,
    ),
    row(
        CKM_IBM_ECDSA_SHA256,
        Family::Sign(SignScheme::Ecdsa(Some(HashAlg::Sha256))),
        EC_MIN,
        EC_MAX,
        SIGN | EC,
    ),
    row(
        CKM_IBM_ECDSA_SHA384,
        Family::Sign(SignScheme::Ecdsa(Some(HashAlg::Sha384))),
        EC_MIN,
        EC_MAX,
        SIGN | EC,
    ),
    row(
        CKM_IBM_ECDSA_SHA512,
        Family::Sign(SignScheme::Ecdsa(Some(HashAlg::Sha512))),
        EC_MIN,
        EC_MAX,
        SIGN | EC,
    ),
    row(CKM_IBM_ED25519_SHA512, Family::Sign(SignScheme::Ed25519), 256, 256, SIGN),
    row(
        CKM_GENERIC_SECRET_KEY_GEN,
        Family::GenericSecretKeyGen,
        GENERIC_SECRET_MIN,
        GENERIC_SECRET_MAX,
        CKF_GENERATE.0,
    ),
    row(
        CKM_SHA256_HMAC,
        Family::Sign(SignScheme::Hmac(HashAlg::Sha256)),
        GENERIC_SECRET_MIN,
        GENERIC_SECRET_MAX,
        SIGN,
    ),
    // Symmetric breadth. AES-GCM is left out: its parameter (IV, AAD, tag length) needs a
    // GCM parameter arm, and the wire spec gives ParameterB (a plain byte string) only;
    // any packing of three fields into it would be our invention, not GREP11's.
    row(CKM_AES_CTR, Family::Aes(AesMode::Ctr), 16, 32, ENC),
    row(CKM_AES_KEY_WRAP, Family::Aes(AesMode::KeyWrap), 16, 32, ENC | WRAP),
    row(CKM_AES_KEY_WRAP_PAD, Family::Aes(AesMode::KeyWrapPad), 16, 32, ENC | WRAP),
    row(CKM_AES_CMAC, Family::Sign(SignScheme::Cmac), 16, 32, SIGN),
    row(CKM_DES3_KEY_GEN, Family::Des3KeyGen, 24, 24, CKF_GENERATE.0),
    row(CKM_DES3_ECB, Family::Des3(AesMode::Ecb), 24, 24, ENC),
    row(CKM_DES3_CBC, Family::Des3(AesMode::Cbc), 24, 24, ENC),
    row(CKM_DES3_CBC_PAD, Family::Des3(AesMode::CbcPad), 24, 24, ENC | WRAP),
    row(CKM_SHA224, Family::Digest(HashAlg::Sha224), 0, 0, CKF_DIGEST.0),
    row(CKM_SHA512_224, Family::Digest(HashAlg::Sha512_224), 0, 0, CKF_DIGEST.0),
    row(ibm::CKM_IBM_SHA512_224, Family::Digest(HashAlg::Sha512_224), 0, 0, CKF_DIGEST.0),
    row(CKM_SHA512_256, Family::Digest(HashAlg::Sha512_256), 0, 0, CKF_DIGEST.0),
    row(ibm::CKM_IBM_SHA512_256, Family::Digest(HashAlg::Sha512_256), 0, 0, CKF_DIGEST.0),
    row(ibm::CKM_IBM_SHA3_224, Family::Digest(HashAlg::Sha3_224), 0, 0, CKF_DIGEST.0),
    row(ibm::CKM_IBM_SHA3_256, Family::Digest(HashAlg::Sha3_256), 0, 0, CKF_DIGEST.0),
    row(ibm::CKM_IBM_SHA3_384, Family::Digest(HashAlg::Sha3_384), 0, 0, CKF_DIGEST.0),
    row(ibm::CKM_IBM_SHA3_512, Family::Digest(HashAlg::Sha3_512), 0, 0, CKF_DIGEST.0),
    row(CKM_SHA3_224, Family::Digest(HashAlg::Sha3_224), 0, 0, CKF_DIGEST.0),
    row(CKM_SHA3_256, Family::Digest(HashAlg::Sha3_256), 0, 0, CKF_DIGEST.0),
    row(CKM_SHA3_384, Family::Digest(HashAlg::Sha3_384), 0, 0, CKF_DIGEST.0),
    row(CKM_SHA3_512, Family::Digest(HashAlg::Sha3_512), 0, 0, CKF_DIGEST.0),
    hmac_row(CKM_SHA_1_HMAC, HashAlg::Sha1),
    hmac_row(CKM_SHA224_HMAC, HashAlg::Sha224),
    hmac_row(CKM_SHA384_HMAC, HashAlg::Sha384),
    hmac_row(CKM_SHA512_HMAC, HashAlg::Sha512),
    hmac_row(ibm::CKM_IBM_SHA3_224_HMAC, HashAlg::Sha3_224),
    hmac_row(ibm::CKM_IBM_SHA3_256_HMAC, HashAlg::Sha3_256),
    hmac_row(ibm::CKM_IBM_SHA3_384_HMAC, HashAlg::Sha3_384),
    hmac_row(ibm::CKM_IBM_SHA3_512_HMAC, HashAlg::Sha3_512),
    row(CKM_IBM_TRANSPORTKEY, Family::TransportKey, EC_MIN, RSA_MAX, CKF_UNWRAP.0),
    // Finite-field DH and DSA, sized by the prime in bits (see `dh` and `dsa` for the sizes).
    row(CKM_DH_PKCS_PARAMETER_GEN, Family::DhParamGen, DH_NAMED_MIN, dh::MAX_BITS, CKF_GENERATE.0),
    row(CKM_DH_PKCS_KEY_PAIR_GEN, Family::DhKeyPairGen, dh::MIN_BITS, dh::MAX_BITS, CKF_GENERATE_KEY_PAIR.0),
    row(CKM_DH_PKCS_DERIVE, Family::DhDerive, dh::MIN_BITS, dh::MAX_BITS, CKF_DERIVE.0),
    row(CKM_DSA_PARAMETER_GEN, Family::DsaParamGen, dsa::MIN_BITS, dsa::MAX_BITS, CKF_GENERATE.0),
    row(CKM_DSA_KEY_PAIR_GEN, Family::DsaKeyPairGen, dsa::MIN_BITS, dsa::MAX_BITS, CKF_GENERATE_KEY_PAIR.0),
    dsa_row(CKM_DSA, None),
    dsa_row(CKM_DSA_SHA1, Some(HashAlg::Sha1)),
    dsa_row(CKM_DSA_SHA224, Some(HashAlg::Sha224)),
    dsa_row(CKM_DSA_SHA256, Some(HashAlg::Sha256)),
    dsa_row(CKM_DSA_SHA384, Some(HashAlg::Sha384)),
    dsa_row(CKM_DSA_SHA512, Some(HashAlg::Sha512)),
    // Sizes in bits of the derived keys: every BIP-32/SLIP-10 curve here is 256 bits.
    row(ibm::CKM_IBM_BTC_DERIVE, Family::BtcDerive, 256, 256, CKF_DERIVE.0 | EC),
    // The KeK is an AES key (16..32 bytes) or an RSA key (up to RSA_MAX bits), as for
    // CKM_IBM_TRANSPORTKEY the range spans both units.
    row(ibm::CKM_IBM_ATTRIBUTEBOUND_WRAP, Family::AttrBoundWrap, 16, RSA_MAX, WRAP),
];

/// The smallest group DH parameter generation hands out (see `dh`).
const DH_NAMED_MIN: u64 = dh::NAMED_BITS[0];

/// A DSA signing row (FIPS 186-4 prime sizes).
const fn dsa_row(mech: CkMechanismType, hash: Option<HashAlg>) -> MechRow {
    row(mech, Family::Sign(SignScheme::Dsa(hash)), dsa::MIN_BITS, dsa::MAX_BITS, SIGN)
}

/// A full-length HMAC row over generic secret keys.
const fn hmac_row(mech: CkMechanismType, alg: HashAlg) -> MechRow {
    row(mech, Family::Sign(SignScheme::Hmac(alg)), GENERIC_SECRET_MIN, GENERIC_SECRET_MAX, SIGN)
}

/// The row of `mech` if it serves `function` (named by its CKF flag): unknown mechanisms and
/// mechanisms without that flag are CKR_MECHANISM_INVALID.
pub fn lookup(
    mech: CkMechanismType,
    flag: CkMechanismFlags,
    function: &'static str,
) -> Result<&'static MechRow> {
    MECHANISMS
        .iter()
        .find(|r| r.mech == mech && r.flags.contains(flag))
        .ok_or(Error::MechanismInvalid { mech, function })
}

/// The row of `mech`, for GetMechanismInfo.
pub fn info(mech: CkMechanismType) -> Result<&'static MechRow> {
    MECHANISMS
        .iter()
        .find(|r| r.mech == mech)
        .ok_or(Error::MechanismInvalid { mech, function: "GetMechanismInfo" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_unique_and_sized_sanely() {
        for (i, r) in MECHANISMS.iter().enumerate() {
            assert!(MECHANISMS[..i].iter().all(|o| o.mech != r.mech), "{} twice", r.mech);
            assert!(r.min_key_size <= r.max_key_size, "{}", r.mech);
            assert!(r.flags.0 != 0, "{}", r.mech);
        }
        assert!(lookup(CKM_SHA256, CKF_ENCRYPT, "EncryptInit").is_err());
        assert!(lookup(CKM_AES_CBC, CKF_WRAP, "WrapKey").is_err());
        assert!(lookup(CKM_AES_CBC_PAD, CKF_WRAP, "WrapKey").is_ok());
    }
}

#[cfg(test)]
mod vectors;
