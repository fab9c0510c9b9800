//! How each attribute's value is typed on the wire (`AttributeValue`'s oneof): the one
//! table that YAML parsing, the emulator's templates and reports all read.

use super::ibm::*;
use super::*;

/// The `AttributeValue` arm an attribute travels in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AttrKind {
    /// `CK_BBOOL`, as `AttributeTF`.
    Bool,
    /// `CK_ULONG` (classes, key types, lengths, mechanisms), as `AttributeI`.
    Ulong,
    /// Byte strings (values, OIDs, points, labels), as `AttributeB`.
    Bytes,
}

static KINDS: &[(CkAttributeType, AttrKind)] = &[
    (CKA_CLASS, AttrKind::Ulong),
    (CKA_KEY_TYPE, AttrKind::Ulong),
    (CKA_VALUE_LEN, AttrKind::Ulong),
    (CKA_MODULUS_BITS, AttrKind::Ulong),
    (CKA_KEY_GEN_MECHANISM, AttrKind::Ulong),
    (CKA_CERTIFICATE_TYPE, AttrKind::Ulong),
    (CKA_TOKEN, AttrKind::Bool),
    (CKA_PRIVATE, AttrKind::Bool),
    (CKA_MODIFIABLE, AttrKind::Bool),
    (CKA_COPYABLE, AttrKind::Bool),
    (CKA_DESTROYABLE, AttrKind::Bool),
    (CKA_SENSITIVE, AttrKind::Bool),
    (CKA_ENCRYPT, AttrKind::Bool),
    (CKA_DECRYPT, AttrKind::Bool),
    (CKA_WRAP, AttrKind::Bool),
    (CKA_UNWRAP, AttrKind::Bool),
    (CKA_SIGN, AttrKind::Bool),
    (CKA_SIGN_RECOVER, AttrKind::Bool),
    (CKA_VERIFY, AttrKind::Bool),
    (CKA_VERIFY_RECOVER, AttrKind::Bool),
    (CKA_DERIVE, AttrKind::Bool),
    (CKA_EXTRACTABLE, AttrKind::Bool),
    (CKA_LOCAL, AttrKind::Bool),
    (CKA_NEVER_EXTRACTABLE, AttrKind::Bool),
    (CKA_ALWAYS_SENSITIVE, AttrKind::Bool),
    (CKA_ALWAYS_AUTHENTICATE, AttrKind::Bool),
    (CKA_TRUSTED, AttrKind::Bool),
    (CKA_WRAP_WITH_TRUSTED, AttrKind::Bool),
    (CKA_IBM_RESTRICTABLE, AttrKind::Bool),
    (CKA_IBM_NEVER_MODIFIABLE, AttrKind::Bool),
    (CKA_IBM_ATTRBOUND, AttrKind::Bool),
    (CKA_IBM_USE_AS_DATA, AttrKind::Bool),
    (CKA_VALUE, AttrKind::Bytes),
    (CKA_LABEL, AttrKind::Bytes),
    (CKA_ID, AttrKind::Bytes),
    (CKA_APPLICATION, AttrKind::Bytes),
    (CKA_OBJECT_ID, AttrKind::Bytes),
    (CKA_SUBJECT, AttrKind::Bytes),
    (CKA_START_DATE, AttrKind::Bytes),
    (CKA_END_DATE, AttrKind::Bytes),
    (CKA_CHECK_VALUE, AttrKind::Bytes),
    (CKA_EC_PARAMS, AttrKind::Bytes),
    (CKA_EC_POINT, AttrKind::Bytes),
    (CKA_MODULUS, AttrKind::Bytes),
    (CKA_PUBLIC_EXPONENT, AttrKind::Bytes),
    (CKA_PRIVATE_EXPONENT, AttrKind::Bytes),
    (CKA_PRIME_1, AttrKind::Bytes),
    (CKA_PRIME_2, AttrKind::Bytes),
    (CKA_EXPONENT_1, AttrKind::Bytes),
    (CKA_EXPONENT_2, AttrKind::Bytes),
    (CKA_COEFFICIENT, AttrKind::Bytes),
];

/// The attributes PKCS #11 types as big integers (big-endian byte strings). IBM's clients
/// send small ones as `AttributeI` (CKA_PUBLIC_EXPONENT = 65537), and its service takes
/// either form.
static BIG_INTEGERS: &[CkAttributeType] =
    &[CKA_PUBLIC_EXPONENT, CKA_MODULUS, CKA_PRIME, CKA_SUBPRIME, CKA_BASE];

/// Whether an attribute is a big integer that may also travel as `AttributeI`.
pub fn is_big_integer(attr: CkAttributeType) -> bool {
    BIG_INTEGERS.contains(&attr)
}

/// The wire type of an attribute, or `None` for attributes this vocabulary does not type.
pub fn attribute_kind(attr: CkAttributeType) -> Option<AttrKind> {
    KINDS.iter().find(|(a, _)| *a == attr).map(|&(_, k)| k)
}
