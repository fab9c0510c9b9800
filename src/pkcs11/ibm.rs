//! IBM's vendor values (EP11), as the GREP11 wire interface defines them. Each is
//! `CKM_VENDOR_DEFINED` / `CKA_VENDOR_DEFINED` (0x80000000) plus an offset.

use super::{CkAttributeType, CkMechanismType};

const V: u64 = super::VENDOR_DEFINED;

vendor_names!(CkMechanismType, MECHANISM_NAMES: [
    CKM_IBM_SHA3_224 = V + 0x10001,
    CKM_IBM_SHA3_256 = V + 0x10002,
    CKM_IBM_SHA3_384 = V + 0x10003,
    CKM_IBM_SHA3_512 = V + 0x10004,
    CKM_IBM_ECDSA_SHA224 = V + 0x10008,
    CKM_IBM_ECDSA_SHA256 = V + 0x10009,
    CKM_IBM_ECDSA_SHA384 = V + 0x1000A,
    CKM_IBM_ECDSA_SHA512 = V + 0x1000B,
    CKM_IBM_SHA512_256 = V + 0x10012,
    CKM_IBM_SHA512_224 = V + 0x10013,
    CKM_IBM_EC_X25519 = V + 0x1001B,
    CKM_IBM_ED25519_SHA512 = V + 0x1001C,
    CKM_IBM_SHA3_224_HMAC = V + 0x10025,
    CKM_IBM_SHA3_256_HMAC = V + 0x10026,
    CKM_IBM_SHA3_384_HMAC = V + 0x10027,
    CKM_IBM_SHA3_512_HMAC = V + 0x10028,
    CKM_IBM_ATTRIBUTEBOUND_WRAP = V + 0x20004,
    CKM_IBM_TRANSPORTKEY = V + 0x20005,
    CKM_IBM_ECDH1_DERIVE_RAW = V + 0x20007,
    CKM_IBM_BTC_DERIVE = V + 0x70001,
]);

vendor_names!(CkAttributeType, ATTRIBUTE_NAMES: [
    CKA_IBM_RESTRICTABLE = V + 0x10001,
    CKA_IBM_NEVER_MODIFIABLE = V + 0x10002,
    CKA_IBM_ATTRBOUND = V + 0x10004,
    CKA_IBM_USE_AS_DATA = V + 0x10008,
    CKA_IBM_STRUCT_PARAMS = V + 0x10009,
]);

// No IBM return codes are part of the published interface yet; the table exists so that
// one can be added as a row of `vendor_names!(CkRv, ...)`.
pub(super) static RV_NAMES: &[(u64, &str)] = &[];
