//! The emulator's one error type. Each variant names a cause and maps to exactly one
//! `CK_RV` through [`Error::rv`]; the service turns it into a `Grep11Error` status through
//! [`Grep11Failure`], so the code a client sees is decided here and nowhere else.

use crate::pkcs11::*;
use crate::rpc::Rpc;
use crate::status::Grep11Failure;

use super::blob::{Operation, Unopened};

/// Why an emulator call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The mechanism is unknown, or not valid for the function called.
    #[error("{mech} is not supported by {function}")]
    MechanismInvalid {
        /// The mechanism asked for.
        mech: CkMechanismType,
        /// The RPC it was asked of.
        function: Rpc,
    },
    /// The mechanism parameter is missing, of the wrong form, or asks for something unsupported.
    #[error("{mech}: {reason}")]
    MechanismParamInvalid {
        /// The mechanism whose parameter was refused.
        mech: CkMechanismType,
        /// What is wrong with the parameter.
        reason: &'static str,
    },
    /// A required request field is missing or out of range.
    #[error("bad arguments: {0}")]
    ArgumentsBad(&'static str),
    /// A key blob that opened holds material the key's type cannot use (a layout of another
    /// build, or a bug).
    #[error("the key blob is not valid for this server")]
    KeyHandleInvalid,
    /// A key blob does not open: sealed under another wrapping key, altered, of another
    /// format version, a state, or not a blob at all.
    #[error("the key blob {0}")]
    KeyBlobRefused(Unopened),
    /// A state blob that opened does not hold what its operation needs.
    #[error("the state blob is not valid for this server")]
    SavedStateInvalid,
    /// A state blob does not open: sealed under another wrapping key, altered, truncated,
    /// empty, of another format version, or a key.
    #[error("the state blob {0}")]
    StateBlobRefused(Unopened),
    /// A valid state of another operation was passed (a digest state to EncryptUpdate...).
    #[error("the state belongs to a {found} operation, not {expected}")]
    OperationNotInitialized {
        /// The operation of the RPC called.
        expected: Operation,
        /// The operation the state was made for.
        found: Operation,
    },
    /// The key's class or type does not suit the mechanism.
    #[error("{mech} cannot use a {key_type} key of class {class}")]
    KeyTypeInconsistent {
        /// The mechanism that refused the key.
        mech: CkMechanismType,
        /// The key's CKA_CLASS.
        class: CkObjectClass,
        /// The key's CKA_KEY_TYPE.
        key_type: CkKeyType,
    },
    /// The key's usage attribute for this function is false.
    #[error("the key has {0} false")]
    KeyFunctionNotPermitted(CkAttributeType),
    /// The key to wrap has CKA_EXTRACTABLE false.
    #[error("the key to wrap is not extractable")]
    KeyUnextractable,
    /// The key to wrap is of a class this wrapping mechanism does not carry.
    #[error("{0} keys cannot be wrapped with this mechanism")]
    KeyNotWrappable(CkObjectClass),
    /// DH or DSA domain parameters that do not parse or are not a group.
    #[error("the domain parameters are invalid: {0}")]
    DomainParamsInvalid(&'static str),
    /// A key length outside what the mechanism supports.
    #[error("key length {0} is out of range")]
    KeySizeRange(u64),
    /// CKA_EC_PARAMS names a curve this emulator does not implement.
    #[error("the curve is not supported")]
    CurveNotSupported,
    /// Plaintext of a length the mechanism cannot process.
    #[error("data length out of range: {0}")]
    DataLenRange(&'static str),
    /// Ciphertext of a length the mechanism cannot have produced.
    #[error("encrypted data length out of range: {0}")]
    EncryptedDataLenRange(&'static str),
    /// Ciphertext that decrypts to invalid padding.
    #[error("encrypted data is invalid (bad padding)")]
    EncryptedDataInvalid,
    /// A signature of the wrong length for the mechanism.
    #[error("signature has {got} bytes, expected {expected}")]
    SignatureLenRange {
        /// The signature length the mechanism and key produce, in bytes.
        expected: usize,
        /// The length given, in bytes.
        got: usize,
    },
    /// The signature does not verify.
    #[error("the signature does not verify")]
    SignatureInvalid,
    /// The template lacks an attribute the operation needs.
    #[error("the template lacks {0}")]
    TemplateIncomplete(CkAttributeType),
    /// A template value contradicts the mechanism, the key class, or another value.
    #[error("{attr} contradicts the operation: {reason}")]
    TemplateInconsistent {
        /// The attribute at fault.
        attr: CkAttributeType,
        /// What it contradicts.
        reason: &'static str,
    },
    /// An attribute value in the wrong `AttributeValue` arm, or an impossible value.
    #[error("invalid value for {0}")]
    AttributeValueInvalid(CkAttributeType),
    /// An attribute type this emulator does not model (or not present on the object).
    #[error("attribute {0} is not valid here")]
    AttributeTypeInvalid(CkAttributeType),
    /// An attempt to change an attribute that cannot change (or not that way).
    #[error("{0} cannot be changed")]
    AttributeReadOnly(CkAttributeType),
    /// An attempt to read a secret the key does not reveal.
    #[error("{0} is sensitive")]
    AttributeSensitive(CkAttributeType),
    /// The wrapped key does not decode to a key (bad padding, unparsable SPKI, wrong length).
    #[error("the wrapped key is invalid: {0}")]
    WrappedKeyInvalid(&'static str),
    /// The wrapped key has a length the unwrapping mechanism cannot accept.
    #[error("wrapped key length {0} is out of range")]
    WrappedKeyLenRange(usize),
    /// The function exists on the wire but the emulator (or the mechanism) does not offer it.
    #[error("{0} is not supported")]
    FunctionNotSupported(&'static str),
    /// The configured wrapping key is not 64 hex characters. The value is never echoed.
    #[error("the wrapping key must be 64 hex characters (32 bytes)")]
    WrappingKeyInvalid,
    /// Nothing else fits; the text says what happened.
    #[error("internal error: {0}")]
    General(&'static str),
}

impl Error {
    /// The `CK_RV` a client sees for this error.
    pub fn rv(&self) -> CkRv {
        match self {
            Error::MechanismInvalid { .. } => CKR_MECHANISM_INVALID,
            Error::MechanismParamInvalid { .. } => CKR_MECHANISM_PARAM_INVALID,
            Error::ArgumentsBad(_) | Error::WrappingKeyInvalid => CKR_ARGUMENTS_BAD,
            Error::KeyHandleInvalid | Error::KeyBlobRefused(_) => CKR_KEY_HANDLE_INVALID,
            Error::SavedStateInvalid | Error::StateBlobRefused(_) => CKR_SAVED_STATE_INVALID,
            Error::OperationNotInitialized { .. } => CKR_OPERATION_NOT_INITIALIZED,
            Error::KeyTypeInconsistent { .. } => CKR_KEY_TYPE_INCONSISTENT,
            Error::KeyFunctionNotPermitted(_) => CKR_KEY_FUNCTION_NOT_PERMITTED,
            Error::KeyUnextractable => CKR_KEY_UNEXTRACTABLE,
            Error::KeyNotWrappable(_) => CKR_KEY_NOT_WRAPPABLE,
            Error::KeySizeRange(_) => CKR_KEY_SIZE_RANGE,
            Error::DomainParamsInvalid(_) => CKR_DOMAIN_PARAMS_INVALID,
            Error::CurveNotSupported => CKR_CURVE_NOT_SUPPORTED,
            Error::DataLenRange(_) => CKR_DATA_LEN_RANGE,
            Error::EncryptedDataLenRange(_) => CKR_ENCRYPTED_DATA_LEN_RANGE,
            Error::EncryptedDataInvalid => CKR_ENCRYPTED_DATA_INVALID,
            Error::SignatureLenRange { .. } => CKR_SIGNATURE_LEN_RANGE,
            Error::SignatureInvalid => CKR_SIGNATURE_INVALID,
            Error::TemplateIncomplete(_) => CKR_TEMPLATE_INCOMPLETE,
            Error::TemplateInconsistent { .. } => CKR_TEMPLATE_INCONSISTENT,
            Error::AttributeValueInvalid(_) => CKR_ATTRIBUTE_VALUE_INVALID,
            Error::AttributeTypeInvalid(_) => CKR_ATTRIBUTE_TYPE_INVALID,
            Error::AttributeReadOnly(_) => CKR_ATTRIBUTE_READ_ONLY,
            Error::AttributeSensitive(_) => CKR_ATTRIBUTE_SENSITIVE,
            Error::WrappedKeyInvalid(_) => CKR_WRAPPED_KEY_INVALID,
            Error::WrappedKeyLenRange(_) => CKR_WRAPPED_KEY_LEN_RANGE,
            Error::FunctionNotSupported(_) => CKR_FUNCTION_NOT_SUPPORTED,
            Error::General(_) => CKR_GENERAL_ERROR,
        }
    }
}

impl From<&Error> for Grep11Failure {
    fn from(e: &Error) -> Grep11Failure {
        // The code's name leads the text, so that a client printing only the message (the
        // gRPC status text, identical to the Detail) still shows which CKR_* it got.
        Grep11Failure { rv: e.rv(), detail: format!("{}: {e}", e.rv().describe()), retry: false }
    }
}

/// The result type of every engine call.
pub type Result<T> = std::result::Result<T, Error>;
