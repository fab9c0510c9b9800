//! Named elliptic curves as `CKA_EC_PARAMS` carries them: the DER encoding of the curve's
//! object identifier (PKCS #11 v2.40 §2.3.3, "namedCurve" choice of ECParameters).

use const_oid::ObjectIdentifier;

/// A named curve the suites and the emulator can speak of.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Curve {
    /// The name used in suites (`curve:P-256`) and reports.
    pub name: &'static str,
    /// The curve's object identifier.
    pub oid: ObjectIdentifier,
    /// Bytes of one field element: the length of each of ECDSA's `r` and `s`.
    pub field_bytes: usize,
}

impl Curve {
    /// NIST P-224 (secp224r1).
    pub const P224: Curve = Curve::new("P-224", "1.3.132.0.33", 28);
    /// NIST P-256 (secp256r1, prime256v1).
    pub const P256: Curve = Curve::new("P-256", "1.2.840.10045.3.1.7", 32);
    /// NIST P-384 (secp384r1).
    pub const P384: Curve = Curve::new("P-384", "1.3.132.0.34", 48);
    /// NIST P-521 (secp521r1).
    pub const P521: Curve = Curve::new("P-521", "1.3.132.0.35", 66);
    /// secp256k1, the Bitcoin curve.
    pub const SECP256K1: Curve = Curve::new("secp256k1", "1.3.132.0.10", 32);
    /// Ed25519 (RFC 8410).
    pub const ED25519: Curve = Curve::new("Ed25519", "1.3.101.112", 32);
    /// X25519 (RFC 8410).
    pub const X25519: Curve = Curve::new("X25519", "1.3.101.110", 32);

    /// Every curve above.
    pub const ALL: [Curve; 7] =
        [Curve::P224, Curve::P256, Curve::P384, Curve::P521, Curve::SECP256K1, Curve::ED25519, Curve::X25519];

    const fn new(name: &'static str, oid: &str, field_bytes: usize) -> Curve {
        Curve { name, oid: ObjectIdentifier::new_unwrap(oid), field_bytes }
    }

    /// The curve by suite name, case-insensitively (`P-256`, `p-256`, `secp256r1` aliases).
    pub fn by_name(name: &str) -> Option<Curve> {
        let canonical = match name.to_ascii_lowercase().as_str() {
            "secp224r1" => "p-224",
            "secp256r1" | "prime256v1" => "p-256",
            "secp384r1" => "p-384",
            "secp521r1" => "p-521",
            other => return Curve::ALL.into_iter().find(|c| c.name.eq_ignore_ascii_case(other)),
        }
        .to_owned();
        Curve::ALL.into_iter().find(|c| c.name.eq_ignore_ascii_case(&canonical))
    }

    /// `CKA_EC_PARAMS`: the DER OBJECT IDENTIFIER (tag 0x06, short length, arcs).
    pub fn ec_params(&self) -> Vec<u8> {
        let arcs = self.oid.as_bytes();
        // Every named curve's encoded arcs are well under 128 bytes: a short-form length.
        let mut der = Vec::with_capacity(arcs.len() + 2);
        der.push(0x06);
        der.push(arcs.len() as u8);
        der.extend_from_slice(arcs);
        der
    }

    /// The curve whose `CKA_EC_PARAMS` these bytes are.
    pub fn from_ec_params(der: &[u8]) -> Option<Curve> {
        Curve::ALL.into_iter().find(|c| c.ec_params() == der)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p256_params_are_the_published_der() {
        assert_eq!(hex::encode(Curve::P256.ec_params()), "06082a8648ce3d030107");
        assert_eq!(hex::encode(Curve::ED25519.ec_params()), "06032b6570");
        assert_eq!(hex::encode(Curve::P384.ec_params()), "06052b81040022");
    }

    #[test]
    fn names_and_params_round_trip() {
        for c in Curve::ALL {
            assert_eq!(Curve::by_name(c.name), Some(c));
            assert_eq!(Curve::from_ec_params(&c.ec_params()), Some(c));
        }
        assert_eq!(Curve::by_name("secp256r1"), Some(Curve::P256));
        assert_eq!(Curve::by_name("P-257"), None);
    }
}
