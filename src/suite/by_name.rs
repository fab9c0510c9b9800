//! The one way a suite's name becomes a constant: a type says what its values are called
//! and how to look one up ([`Named`]); [`ByName`] reads any such type from YAML, and
//! [`lookup`] is the same for a name already in hand. An unknown name is refused with the
//! kind of thing it should have been and, when one is close, the likely spelling.
//!
//! PKCS #11 families (`CKM_*`, `CKA_*`, `CKR_*`, ...) look names up in their tables
//! (`crate::pkcs11`) and also take a bare number, as C code may; closed sets that only
//! the suite language has (MGFs, BTC derivation types, local steps) are enums whose names
//! `strum` derives.

use std::fmt;
use std::marker::PhantomData;
use std::sync::LazyLock;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use strum::IntoEnumIterator;

use super::suggest::closest;
use crate::pkcs11::{
    CkAttributeType, CkEcKdf, CkKeyType, CkMechanismFlags, CkMechanismType, CkObjectClass, CkRv,
};

/// A type whose values a suite writes by name.
pub trait Named: Sized {
    /// What a value is called in messages: `mechanism`, `return value`, `MGF`.
    const WHAT: &'static str;
    fn from_name(name: &str) -> Option<Self>;
    /// Every accepted name, for suggestions and for listing a small set.
    fn names() -> Vec<&'static str>;
    /// A value written as a number instead (PKCS #11 families only).
    fn from_number(_: u64) -> Option<Self> {
        None
    }
    /// Whether a refusal lists every name (a small closed set), besides the closest one.
    const LIST_ALL: bool = false;
}

/// The value `name` names, or why there is none.
pub fn lookup<T: Named>(name: &str) -> Result<T, String> {
    T::from_name(name).ok_or_else(|| {
        let mut message = format!("unknown {} {name:?}", T::WHAT);
        let names = T::names();
        if T::LIST_ALL {
            message.push_str(&format!("; expected {}", names.join(", ")));
        }
        if let Some(close) = closest(name, names.iter().copied()) {
            message.push_str(&format!("; did you mean {close}?"));
        }
        message
    })
}

/// A value read from YAML by its name (or number, where the type takes one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByName<T>(pub T);

impl<'de, T: Named> Deserialize<'de> for ByName<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<T: Named> Visitor<'_> for V<T> {
            type Value = ByName<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a {} name", T::WHAT)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByName<T>, E> {
                lookup(v).map(ByName).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByName<T>, E> {
                T::from_number(v)
                    .map(ByName)
                    .ok_or_else(|| E::custom(format!("a {} is written by name, not as {v}", T::WHAT)))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// The PKCS #11 families: names from their tables, numbers as they are.
macro_rules! pkcs11_named {
    ($($ty:ident: $what:literal,)*) => {$(
        impl Named for $ty {
            const WHAT: &'static str = $what;
            fn from_name(name: &str) -> Option<Self> {
                $ty::from_name(name)
            }
            fn names() -> Vec<&'static str> {
                let mut names: Vec<&'static str> = $ty::names().collect();
                names.sort_unstable();
                names
            }
            fn from_number(n: u64) -> Option<Self> {
                Some($ty(n))
            }
        }
    )*};
}

pkcs11_named! {
    CkMechanismType: "mechanism",
    CkAttributeType: "attribute",
    CkRv: "return value",
    CkKeyType: "key type",
    CkObjectClass: "object class",
    CkEcKdf: "KDF",
    CkMechanismFlags: "mechanism flag",
}

/// A `CK*_` name from any PKCS #11 family, as its number: where a value's family is not
/// known from its place (matrix parameters, checks of numeric fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnyName(pub u64);

impl Named for AnyName {
    const WHAT: &'static str = "name";
    fn from_name(name: &str) -> Option<Self> {
        fn number<T: Named>(name: &str, value: impl Fn(T) -> u64) -> Option<u64> {
            T::from_name(name).map(value)
        }
        number::<CkMechanismType>(name, |v| v.0)
            .or_else(|| number::<CkAttributeType>(name, |v| v.0))
            .or_else(|| number::<CkKeyType>(name, |v| v.0))
            .or_else(|| number::<CkObjectClass>(name, |v| v.0))
            .or_else(|| number::<CkRv>(name, |v| v.0))
            .or_else(|| number::<CkEcKdf>(name, |v| v.0))
            .or_else(|| number::<CkMechanismFlags>(name, |v| v.0))
            .map(AnyName)
    }
    fn names() -> Vec<&'static str> {
        let mut names = <CkMechanismType as Named>::names();
        names.extend(<CkAttributeType as Named>::names());
        names.extend(<CkKeyType as Named>::names());
        names.extend(<CkObjectClass as Named>::names());
        names.extend(<CkRv as Named>::names());
        names.extend(<CkEcKdf as Named>::names());
        names.extend(<CkMechanismFlags as Named>::names());
        names
    }
    fn from_number(n: u64) -> Option<Self> {
        Some(AnyName(n))
    }
}

/// A closed set of names as a `strum` enum: `EnumString` reads a name, `IntoStaticStr`
/// writes it, `EnumIter` lists them.
macro_rules! strum_named {
    ($($ty:ty: $what:literal,)*) => {$(
        impl Named for $ty {
            const WHAT: &'static str = $what;
            const LIST_ALL: bool = true;
            fn from_name(name: &str) -> Option<Self> {
                name.parse().ok()
            }
            fn names() -> Vec<&'static str> {
                <$ty>::iter().map(<&'static str>::from).collect()
            }
        }
    )*};
}

strum_named! {
    super::model::Mgf: "MGF",
    super::model::BtcDeriveType: "derivation type",
    super::model::LocalOp: "local step",
}

/// gRPC status codes by their canonical upper-case names (`UNAVAILABLE`).
impl Named for tonic::Code {
    const WHAT: &'static str = "gRPC code";
    const LIST_ALL: bool = true;
    fn from_name(name: &str) -> Option<Self> {
        grpc_codes().find(|c| super::model::grpc_code_name(*c) == name)
    }
    fn names() -> Vec<&'static str> {
        static NAMES: LazyLock<Vec<String>> =
            LazyLock::new(|| grpc_codes().map(super::model::grpc_code_name).collect());
        NAMES.iter().map(String::as_str).collect()
    }
}

fn grpc_codes() -> impl Iterator<Item = tonic::Code> {
    (0..=16).map(tonic::Code::from_i32)
}

#[cfg(test)]
mod tests {
    use super::super::yaml::from_str;
    use super::*;

    #[test]
    fn names_numbers_and_refusals() {
        let ByName(m) = from_str::<ByName<CkMechanismType>>("CKM_SHA256").unwrap();
        assert_eq!(m, crate::pkcs11::CKM_SHA256);
        assert_eq!(from_str::<ByName<CkRv>>("0x70").unwrap().0, CkRv(0x70));
        let e = from_str::<ByName<CkMechanismType>>("CKM_SHA257").unwrap_err();
        assert_eq!(e.message, "unknown mechanism \"CKM_SHA257\"; did you mean CKM_SHA256?");
        let e = from_str::<ByName<super::super::model::Mgf>>("MD5").unwrap_err();
        assert_eq!(
            e.message,
            "unknown MGF \"MD5\"; expected CKG_MGF1_SHA1, CKG_MGF1_SHA224, CKG_MGF1_SHA256, CKG_MGF1_SHA384, \
             CKG_MGF1_SHA512"
        );
        let e = from_str::<ByName<super::super::model::Mgf>>("CKG_MGF1_SHA265").unwrap_err();
        assert!(e.message.ends_with("CKG_MGF1_SHA512; did you mean CKG_MGF1_SHA256?"), "{e}");
        assert!(from_str::<ByName<super::super::model::Mgf>>("1").is_err());
        assert_eq!(from_str::<ByName<tonic::Code>>("UNAVAILABLE").unwrap().0, tonic::Code::Unavailable);
        let e = from_str::<ByName<tonic::Code>>("UNAVAILABLEE").unwrap_err();
        assert!(e.message.ends_with("did you mean UNAVAILABLE?"), "{e}");
        assert_eq!(
            lookup::<CkAttributeType>("CKA_VALUE_LENGTH").unwrap_err(),
            "unknown attribute \"CKA_VALUE_LENGTH\"; did you mean CKA_VALUE_LEN?"
        );
        // Nothing close in a large table: no guess and no list.
        assert_eq!(lookup::<CkMechanismType>("FOO").unwrap_err(), "unknown mechanism \"FOO\"");
        assert_eq!(lookup::<AnyName>("CKA_VALUE_LEN"), Ok(AnyName(cryptoki_sys::CKA_VALUE_LEN)));
        assert_eq!(lookup::<AnyName>("CKK_AES").map(|n| n.0), Ok(cryptoki_sys::CKK_AES));
    }
}
