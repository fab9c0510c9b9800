//! The Sign/Verify state machine shared by every signing family (ECDSA, EdDSA, RSA, HMAC,
//! CMAC): what is accumulated between calls, and which primitive gets it at the end.
//!
//! - CKM_ECDSA (raw) signs the data as given (a hash of any length, PKCS #11 §2.3.6), so
//!   it is single-part only: SignUpdate/VerifyUpdate/SignFinal/VerifyFinal on its state
//!   answer CKR_FUNCTION_NOT_SUPPORTED, as SoftHSM does for single-part mechanisms. So are
//!   CKM_RSA_PKCS (a DigestInfo), CKM_RSA_PKCS_PSS (a hash) and CKM_IBM_ED25519_SHA512:
//!   PureEdDSA hashes the message twice (RFC 8032 §5.1.6), so no hash state can stand in
//!   for the data, and EP11 documents Ed25519 as single-part.
//! - CKM_ECDSA_SHA*, CKM_SHA*_RSA_PKCS and CKM_SHA*_RSA_PKCS_PSS stream the serialized hash
//!   state and sign the prehash at Final.
//! - HMAC buffers the data in the sealed state: the hmac crate offers no serializable
//!   state, and composing HMAC from a raw hash state would hand-roll the construction. The
//!   buffer is capped at [`HMAC_BUFFER_MAX`]; beyond it updates fail with
//!   CKR_DATA_LEN_RANGE.
//! - AES-CMAC buffers the same way under the same cap: the cmac crate (0.8) does not
//!   implement `SerializableState` either.

use serde::{Deserialize, Serialize};

use super::digest::HashAlg;
use super::rsa::{self, PssParams, SigPadding};
use super::{cmac, ec, hmac};
use crate::emulator::blob::Operation;
use crate::emulator::error::{Error, Result};

/// The most data a multi-part HMAC state may hold (8 MiB): the state travels with every
/// call, so it must stay well below the server's 64 MiB message limit.
pub const HMAC_BUFFER_MAX: usize = 8 << 20;

/// A signing mechanism's row data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignScheme {
    /// ECDSA; `None` signs the given data as the hash (CKM_ECDSA).
    Ecdsa(Option<HashAlg>),
    /// HMAC with this hash (full-length output).
    Hmac(HashAlg),
    /// AES-CMAC (full-length output).
    Cmac,
    /// RSA PKCS #1 v1.5; `None` signs the given DigestInfo (CKM_RSA_PKCS).
    RsaPkcs(Option<HashAlg>),
    /// RSA PSS; `None` signs the given hash (CKM_RSA_PKCS_PSS).
    RsaPss(Option<HashAlg>),
    /// Ed25519 (CKM_IBM_ED25519_SHA512).
    Ed25519,
}

/// What a scheme needs beyond the key bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignParam {
    #[default]
    None,
    /// The CKA_EC_PARAMS of the key's curve (ECDSA, Ed25519).
    Curve(Vec<u8>),
    /// RSAPSSParameter.
    Pss(PssParams),
}

/// What the state has accumulated.
#[derive(Serialize, Deserialize)]
enum Input {
    /// Nothing: the mechanism takes its data in one call only.
    SinglePart,
    /// A serialized hash state.
    Hash(HashAlg, Vec<u8>),
    /// The data so far.
    Buffer(Vec<u8>),
}

/// The state of a multi-part sign or verify.
#[derive(Serialize, Deserialize)]
pub struct SignState {
    verify: bool,
    scheme: SignScheme,
    /// Private scalar (ECDSA sign), SEC1 point (ECDSA verify), secret value (HMAC, CMAC),
    /// PKCS #1 RSAPrivateKey (RSA sign) or SubjectPublicKeyInfo (RSA verify).
    key: Vec<u8>,
    input: Input,
    param: SignParam,
}

impl SignState {
    pub fn new(op: Operation, scheme: SignScheme, key: Vec<u8>) -> SignState {
        let input = match scheme {
            SignScheme::Ecdsa(None) => Input::SinglePart,
            SignScheme::Ecdsa(Some(alg)) => Input::Hash(alg, alg.fresh()),
            SignScheme::Hmac(_) | SignScheme::Cmac => Input::Buffer(Vec::new()),
            SignScheme::RsaPkcs(None) | SignScheme::RsaPss(None) | SignScheme::Ed25519 => Input::SinglePart,
            SignScheme::RsaPkcs(Some(alg)) | SignScheme::RsaPss(Some(alg)) => Input::Hash(alg, alg.fresh()),
        };
        SignState { verify: op == Operation::Verify, scheme, key, input, param: SignParam::None }
    }

    /// The same state with the scheme's parameter (curve, PSS parameters).
    pub fn with(mut self, param: SignParam) -> SignState {
        self.param = param;
        self
    }

    fn curve(&self) -> Result<&'static dyn ec::CurveOps> {
        match &self.param {
            SignParam::Curve(params) => ec::by_params(params).map_err(|_| Error::SavedStateInvalid),
            _ => Err(Error::SavedStateInvalid),
        }
    }

    fn rsa_padding(&self) -> Result<SigPadding> {
        match (self.scheme, &self.param) {
            (SignScheme::RsaPkcs(hash), _) => Ok(SigPadding::Pkcs1(hash)),
            (SignScheme::RsaPss(_), SignParam::Pss(p)) => Ok(SigPadding::Pss(*p)),
            _ => Err(Error::SavedStateInvalid),
        }
    }

    pub fn operation(&self) -> Operation {
        if self.verify { Operation::Verify } else { Operation::Sign }
    }

    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        match &mut self.input {
            Input::SinglePart => return Err(single_part_only()),
            Input::Hash(alg, state) => *state = alg.update(state, data)?,
            Input::Buffer(buf) if buf.len().saturating_add(data.len()) > HMAC_BUFFER_MAX => {
                return Err(Error::DataLenRange("multi-part MAC data is capped at 8 MiB"));
            }
            Input::Buffer(buf) => buf.extend_from_slice(data),
        }
        Ok(())
    }

    /// What the primitive signs at Final: the prehash or the buffered message.
    fn message(&self) -> Result<Vec<u8>> {
        match &self.input {
            Input::SinglePart => Err(single_part_only()),
            Input::Hash(alg, state) => alg.finish(state),
            Input::Buffer(buf) => Ok(buf.clone()),
        }
    }

    /// What the primitive signs for a single-part call with `data`.
    fn single_message(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        if let Input::SinglePart = self.input {
            return Ok(data.to_vec());
        }
        self.update(data)?;
        self.message()
    }

    pub fn sign_final(&self) -> Result<Vec<u8>> {
        self.sign_message(&self.message()?)
    }

    pub fn verify_final(&self, signature: &[u8]) -> Result<()> {
        self.verify_message(&self.message()?, signature)
    }

    /// C_Sign: the whole data in one call.
    pub fn sign(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let message = self.single_message(data)?;
        self.sign_message(&message)
    }

    /// C_Verify: the whole data in one call.
    pub fn verify(&mut self, data: &[u8], signature: &[u8]) -> Result<()> {
        let message = self.single_message(data)?;
        self.verify_message(&message, signature)
    }

    fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>> {
        match self.scheme {
            SignScheme::Ecdsa(_) | SignScheme::Ed25519 => self.curve()?.sign(&self.key, message),
            SignScheme::Hmac(alg) => hmac::mac(alg, &self.key, message),
            SignScheme::Cmac => cmac::mac(&self.key, message),
            SignScheme::RsaPkcs(_) | SignScheme::RsaPss(_) => {
                rsa::sign_der(&self.key, self.rsa_padding()?, message)
            }
        }
    }

    fn verify_message(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        match self.scheme {
            SignScheme::Ecdsa(_) | SignScheme::Ed25519 => self.curve()?.verify(&self.key, message, signature),
            SignScheme::Hmac(alg) => hmac::verify(alg, &self.key, message, signature),
            SignScheme::Cmac => cmac::verify(&self.key, message, signature),
            SignScheme::RsaPkcs(_) | SignScheme::RsaPss(_) => {
                rsa::verify_spki(&self.key, self.rsa_padding()?, message, signature)
            }
        }
    }
}

fn single_part_only() -> Error {
    Error::FunctionNotSupported(
        "multi-part signing with a single-part mechanism (CKM_ECDSA, CKM_RSA_PKCS, CKM_RSA_PKCS_PSS, CKM_IBM_ED25519_SHA512)",
    )
}
