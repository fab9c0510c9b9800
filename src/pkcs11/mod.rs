//! The PKCS #11 vocabulary shared by suites, runner, emulator and reports: `CK_*` value
//! newtypes, their names, and the few facts about attributes and curves that every layer
//! needs. Standard names come from the OASIS headers (`names.rs`), IBM's from `ibm.rs`;
//! each name exists once, so a name read in YAML, printed in a report or matched in the
//! emulator is the same constant.

/// Declares the constants of one `CK_*` family from `cryptoki-sys`, and their name rows.
macro_rules! standard_names {
    ($ty:ident, $rows:ident: [$($name:ident,)*]) => {
        $(#[doc = concat!("`", stringify!($name), "`, as the OASIS headers define it.")]
        pub const $name: $ty = $ty(cryptoki_sys::$name as u64);)*
        pub(super) static $rows: &[(u64, &str)] = &[$((cryptoki_sys::$name as u64, stringify!($name)),)*];
    };
}

/// Declares vendor constants with explicit values, and their name rows.
macro_rules! vendor_names {
    ($ty:ident, $rows:ident: [$($name:ident = $value:expr,)*]) => {
        $(#[doc = concat!("`", stringify!($name), "`, IBM's vendor value.")]
        pub const $name: $ty = $ty($value);)*
        pub(super) static $rows: &[(u64, &str)] = &[$(($value, stringify!($name)),)*];
    };
}

mod attr;
mod curve;
pub mod ibm;
mod names;

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

pub use attr::{AttrKind, attribute_kind, is_big_integer};
pub use curve::Curve;
pub use names::*;

/// `CKM_VENDOR_DEFINED`, `CKA_VENDOR_DEFINED`: the base of IBM's values.
pub const VENDOR_DEFINED: u64 = 0x8000_0000;

/// A name table: the standard rows, then the vendor rows. Lookups by value return the
/// first row, so a renamed constant prints under its current name.
struct Table {
    by_value: HashMap<u64, &'static str>,
    by_name: HashMap<&'static str, u64>,
}

impl Table {
    fn new(rows: &[&[(u64, &'static str)]]) -> Self {
        let mut by_value = HashMap::new();
        let mut by_name = HashMap::new();
        for &(value, name) in rows.iter().copied().flatten() {
            by_value.entry(value).or_insert(name);
            by_name.insert(name, value);
        }
        Table { by_value, by_name }
    }
}

/// Defines a `CK_*` value newtype: name lookups both ways, and Display that prints the
/// name, or the C type and the value in hex when the value has no name.
macro_rules! ck_type {
    ($(#[$doc:meta])* $ty:ident, $c_name:literal, [$($rows:path),*]) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
        pub struct $ty(pub u64);

        impl $ty {
            fn table() -> &'static Table {
                static TABLE: LazyLock<Table> = LazyLock::new(|| Table::new(&[$($rows),*]));
                &TABLE
            }

            /// The spec name of this value, if it has one.
            pub fn name(self) -> Option<&'static str> {
                Self::table().by_value.get(&self.0).copied()
            }

            /// The value of a spec name (current or former spelling).
            pub fn from_name(name: &str) -> Option<Self> {
                Self::table().by_name.get(name).map(|&v| $ty(v))
            }

            /// Every spec name (current and former spellings), for suggestions.
            pub fn names() -> impl Iterator<Item = &'static str> {
                Self::table().by_name.keys().copied()
            }

            /// The C type name, for values that have no spec name.
            pub const C_TYPE: &'static str = $c_name;
        }

        /// Serialised as it prints: the spec name, or the C type and hex value.
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => f.write_str(name),
                    None => write!(f, "{} {:#X}", $c_name, self.0),
                }
            }
        }
    };
}

ck_type!(
    /// `CK_RV`: the result of a PKCS #11 call, carried as `Grep11Error.Code`.
    CkRv, "CK_RV", [names::RV_NAMES, ibm::RV_NAMES]
);
ck_type!(
    /// `CK_MECHANISM_TYPE`.
    CkMechanismType, "CK_MECHANISM_TYPE", [names::MECHANISM_NAMES, ibm::MECHANISM_NAMES]
);
ck_type!(
    /// `CK_ATTRIBUTE_TYPE`.
    CkAttributeType, "CK_ATTRIBUTE_TYPE", [names::ATTRIBUTE_NAMES, ibm::ATTRIBUTE_NAMES]
);
ck_type!(
    /// `CK_KEY_TYPE`.
    CkKeyType, "CK_KEY_TYPE", [names::KEY_TYPE_NAMES]
);
ck_type!(
    /// `CK_OBJECT_CLASS`.
    CkObjectClass, "CK_OBJECT_CLASS", [names::OBJECT_CLASS_NAMES]
);
ck_type!(
    /// `CK_EC_KDF_TYPE` (`CKD_*`), the KDF of ECDH derivation.
    CkEcKdf, "CK_EC_KDF_TYPE", [names::EC_KDF_NAMES]
);
ck_type!(
    /// One or more `CK_MECHANISM_INFO` flag bits (`CKF_*`).
    CkMechanismFlags, "CK_FLAGS", [names::MECHANISM_FLAG_NAMES]
);

impl CkRv {
    /// `CKR_OK`, the one success value.
    pub fn is_ok(self) -> bool {
        self == CKR_OK
    }

    /// `CKR_SIGNATURE_INVALID (0xC0)`: the form used in every message, since users search
    /// logs and documentation by both.
    pub fn describe(self) -> String {
        match self.name() {
            Some(name) => format!("{name} ({:#X})", self.0),
            None => format!("CK_RV {:#X}", self.0),
        }
    }
}

impl CkMechanismFlags {
    /// True when every bit of `other` is set here.
    pub fn contains(self, other: CkMechanismFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names of the bits set, in table order; unnamed bits in hex.
    pub fn bit_names(self) -> Vec<String> {
        let mut rest = self.0;
        let mut out = Vec::new();
        for bit in 0..64 {
            let mask = 1u64 << bit;
            if rest & mask != 0 {
                rest &= !mask;
                out.push(CkMechanismFlags(mask).to_string());
            }
        }
        out
    }
}

impl std::ops::BitOr for CkMechanismFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        CkMechanismFlags(self.0 | rhs.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_every_table() {
        for (value, name) in names::MECHANISM_NAMES.iter().chain(ibm::MECHANISM_NAMES) {
            let mech = CkMechanismType::from_name(name).expect(name);
            assert_eq!(mech.0, *value, "{name}");
            // A renamed constant prints as its first name, which maps back to the same value.
            let shown = mech.name().unwrap();
            assert_eq!(CkMechanismType::from_name(shown), Some(mech));
        }
        for (value, name) in names::RV_NAMES.iter().chain(ibm::RV_NAMES) {
            assert_eq!(CkRv::from_name(name), Some(CkRv(*value)), "{name}");
            assert_eq!(CkRv(*value).name(), Some(*name));
        }
        for (value, name) in names::ATTRIBUTE_NAMES.iter().chain(ibm::ATTRIBUTE_NAMES) {
            assert_eq!(CkAttributeType::from_name(name), Some(CkAttributeType(*value)));
        }
    }

    #[test]
    fn display_names_known_values_and_hex_for_unknown() {
        assert_eq!(CKR_SIGNATURE_INVALID.describe(), "CKR_SIGNATURE_INVALID (0xC0)");
        assert_eq!(CKR_OK.describe(), "CKR_OK (0x0)");
        assert_eq!(CkRv(0x8001_0203).describe(), "CK_RV 0x80010203");
        assert_eq!(CKM_AES_CBC_PAD.to_string(), "CKM_AES_CBC_PAD");
        assert_eq!(CkMechanismType(0x8123_4567).to_string(), "CK_MECHANISM_TYPE 0x81234567");
        assert_eq!(ibm::CKM_IBM_ED25519_SHA512.to_string(), "CKM_IBM_ED25519_SHA512");
    }

    #[test]
    fn renamed_constants_print_under_their_current_name() {
        assert_eq!(CkMechanismType::from_name("CKM_ECDSA_KEY_PAIR_GEN"), Some(CKM_EC_KEY_PAIR_GEN));
        assert_eq!(CKM_EC_KEY_PAIR_GEN.to_string(), "CKM_EC_KEY_PAIR_GEN");
        assert_eq!(CKA_EC_PARAMS.to_string(), "CKA_EC_PARAMS");
        assert_eq!(CKK_EC.to_string(), "CKK_EC");
    }

    #[test]
    fn flags_name_each_bit() {
        let flags = CKF_ENCRYPT | CKF_DECRYPT | CkMechanismFlags(1 << 40);
        assert_eq!(flags.bit_names(), ["CKF_ENCRYPT", "CKF_DECRYPT", "CK_FLAGS 0x10000000000"]);
        assert!(flags.contains(CKF_ENCRYPT));
        assert!(!flags.contains(CKF_SIGN));
    }
}
