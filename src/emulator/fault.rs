//! Deliberate defects the emulator can be told to commit, so that the suites can be shown
//! to catch wrong implementations (`serve --fault NAME`, `Config::faults`, and
//! `tests/mutation.rs`). Each fault has a stable kebab-case name and one line saying what
//! it breaks.
//!
//! Most faults are injected by [`wrapper::FaultyService`], a `Crypto` service that
//! delegates to the real one and bends the request or the answer on the way; only the two
//! that need a key's attributes (usage flags, sensitivity) are hooks in the engine, which
//! reads [`FaultSet`]. *Correctness* faults make the endpoint answer wrongly and a
//! conforming suite must notice; *benign* faults (a transient refusal that asks for a
//! retry, a little latency) are things a real service does and must not fail any case.

mod wrapper;

use std::fmt;
use std::str::FromStr;

pub use wrapper::FaultyService;

/// The catalogue, once: each fault's variant, name, kind and description. The enum and
/// [`ROWS`] are both generated from it, so they cannot disagree and the variants'
/// discriminants index the rows.
macro_rules! catalogue {
    ($($fault:ident $name:literal $kind:ident $description:literal;)*) => {
        /// One defect class.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub enum Fault {
            $(
                #[doc = concat!("`", $name, "`", kind_note!($kind), ": ", $description, ".")]
                $fault,
            )*
        }

        /// Every fault, in the order `--list-faults` prints them. `Fault as usize` indexes it.
        const ROWS: &[Row] = &[
            $(Row { fault: Fault::$fault, name: $name, kind: Kind::$kind, description: $description },)*
        ];
    };
}

/// Benign faults are flagged in their variant's doc, since a suite must tolerate them, not catch them.
macro_rules! kind_note {
    (Correctness) => {
        ""
    };
    (Benign) => {
        " (benign)"
    };
}

/// Whether a fault is a wrong answer or a harmless condition.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// The endpoint answers wrongly: some suite case must fail.
    Correctness,
    /// Real services do this too: no case may fail because of it.
    Benign,
}

struct Row {
    fault: Fault,
    name: &'static str,
    kind: Kind,
    description: &'static str,
}

catalogue! {
    CiphertextFlip "ciphertext-flip" Correctness
        "flips a bit of the ciphertext from EncryptSingle, Encrypt, EncryptUpdate and EncryptFinal";
    WrongDigest "wrong-digest" Correctness
        "returns a digest with one bit flipped from DigestSingle, Digest and DigestFinal";
    BadSignature "bad-signature" Correctness
        "returns signatures and MACs that do not verify (one bit flipped) from SignSingle, Sign and SignFinal";
    VerifyAcceptsCorrupt "verify-accepts-corrupt" Correctness
        "VerifySingle, Verify and VerifyFinal answer OK where CKR_SIGNATURE_INVALID is due";
    KeyTypeAsMechanismInvalid "key-type-as-mechanism-invalid" Correctness
        "answers CKR_MECHANISM_INVALID where CKR_KEY_TYPE_INCONSISTENT is due";
    DataLenCodesSwapped "data-len-codes-swapped" Correctness
        "answers CKR_ENCRYPTED_DATA_LEN_RANGE for CKR_DATA_LEN_RANGE and the reverse";
    IgnoresEncryptFalse "ignores-encrypt-false" Correctness
        "encrypts with keys whose CKA_ENCRYPT is false";
    LeaksSensitiveValue "leaks-sensitive-value" Correctness
        "GetAttributeValue returns CKA_VALUE of sensitive and unextractable secret keys";
    StateDoesNotAdvance "state-does-not-advance" Correctness
        "DigestUpdate, EncryptUpdate, DecryptUpdate, SignUpdate and VerifyUpdate return the state they were given";
    CbcPadZeroPadding "cbc-pad-zero-padding" Correctness
        "EncryptSingle with CKM_AES_CBC_PAD or CKM_DES3_CBC_PAD pads with zero bytes instead of PKCS #7";
    RandomTruncated "random-truncated" Correctness
        "GenerateRandom returns one byte fewer than asked";
    MechanismInfoSwapped "mechanism-info-swapped" Correctness
        "GetMechanismInfo reports MinKeySize and MaxKeySize swapped";
    MechanismListDrops "mechanism-list-drops" Correctness
        "GetMechanismList leaves out CKM_SHA256 while the mechanism is still served";
    UnwrapIgnoresTemplate "unwrap-ignores-template" Correctness
        "UnwrapKey drops the template's boolean attributes, so the key gets default usage and protection";
    WrongChecksum "wrong-checksum" Correctness
        "the key check value in the CheckSum of GenerateKey, UnwrapKey and DeriveKey is off by one bit";
    SetAttributeIgnored "set-attribute-ignored" Correctness
        "SetAttributeValue answers OK with the object unchanged";
    WrapReturnsClear "wrap-returns-clear" Correctness
        "WrapKey returns a secret key's value in clear (UnwrapKey still takes it back)";
    EcdhKdfIgnoresSharedData "ecdh-kdf-ignores-shared-data" Correctness
        "DeriveKey with CKM_ECDH1_DERIVE runs the X9.63 KDF without the SharedData";
    EcPointDisagrees "ec-point-disagrees-with-spki" Correctness
        "GetAttributeValue returns a CKA_EC_POINT one bit away from the public key in the SPKI";
    RandomDegenerate "random-degenerate" Correctness
        "GenerateRandom repeats one random 16-byte block (draws of 16 bytes or fewer look fine)";
    KeysInBytesOnly "keys-in-bytes-only" Correctness
        "GenerateKey, GenerateKeyPair, UnwrapKey and DeriveKey return keys in the legacy byte fields alone, the KeyBlob fields empty";
    KeysInKeyBlobOnly "keys-in-keyblob-only" Correctness
        "GenerateKey, GenerateKeyPair, UnwrapKey and DeriveKey return keys in the KeyBlob fields alone, the legacy byte fields empty";
    RetryEveryRefusal "retry-every-refusal" Correctness
        "marks every refusal Retry, CKR_SIGNATURE_INVALID and CKR_MECHANISM_INVALID included";
    TransientUnavailable "transient-unavailable" Benign
        "refuses every 5th call (never one request twice) with UNAVAILABLE and a Grep11Error whose Retry is true";
    Latency "latency" Benign
        "delays every answer by a random 0 to 5 ms";
}

impl Fault {
    /// Every fault, in catalogue order.
    pub fn all() -> impl Iterator<Item = Fault> {
        ROWS.iter().map(|r| r.fault)
    }

    fn row(self) -> &'static Row {
        // ROWS and the enum come from the same table in the same order, so the
        // discriminant is the row's index.
        &ROWS[self as usize]
    }

    /// The stable kebab-case name (`ciphertext-flip`).
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// Whether a suite must catch it ([`Kind::Correctness`]) or tolerate it ([`Kind::Benign`]).
    pub fn kind(self) -> Kind {
        self.row().kind
    }

    /// One line: what the fault breaks.
    pub fn description(self) -> &'static str {
        self.row().description
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not in the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault {0:?} (`serve --list-faults` lists them)")]
pub struct UnknownFault(
    /// The name as given.
    pub String,
);

impl FromStr for Fault {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<Fault, UnknownFault> {
        ROWS.iter().find(|r| r.name == s).map(|r| r.fault).ok_or_else(|| UnknownFault(s.to_owned()))
    }
}

/// The faults an emulator commits; empty means none (the default).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultSet(u32);

impl FaultSet {
    /// Whether the emulator commits `fault`.
    pub fn contains(self, fault: Fault) -> bool {
        self.0 & (1 << fault as u32) != 0
    }

    /// Adds `fault`; adding one already present changes nothing.
    pub fn insert(&mut self, fault: Fault) {
        self.0 |= 1 << fault as u32;
    }

    /// True when the emulator behaves correctly.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The faults in the set, in catalogue order.
    pub fn iter(self) -> impl Iterator<Item = Fault> {
        Fault::all().filter(move |f| self.contains(*f))
    }
}

impl FromIterator<Fault> for FaultSet {
    fn from_iter<I: IntoIterator<Item = Fault>>(iter: I) -> FaultSet {
        let mut set = FaultSet::default();
        for fault in iter {
            set.insert(fault);
        }
        set
    }
}

impl fmt::Debug for FaultSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Fault::name)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_declaration_order_and_names_round_trip() {
        for (index, row) in ROWS.iter().enumerate() {
            assert_eq!(row.fault as usize, index, "{} is out of order", row.name);
            assert_eq!(row.name.parse::<Fault>(), Ok(row.fault));
            assert!(row.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{}", row.name);
            assert!(!row.description.is_empty());
        }
        assert!(ROWS.len() <= 32, "FaultSet is a u32 bitmask");
        assert_eq!(Fault::all().filter(|f| f.kind() == Kind::Correctness).count(), 23);
        assert_eq!("no-such-fault".parse::<Fault>(), Err(UnknownFault("no-such-fault".into())));
    }

    #[test]
    fn sets_hold_what_was_put_in() {
        let set: FaultSet = [Fault::Latency, Fault::WrongDigest].into_iter().collect();
        assert!(set.contains(Fault::Latency) && set.contains(Fault::WrongDigest));
        assert!(!set.contains(Fault::CiphertextFlip));
        assert_eq!(set.iter().collect::<Vec<_>>(), [Fault::WrongDigest, Fault::Latency]);
        assert_eq!(format!("{set:?}"), r#"{"wrong-digest", "latency"}"#);
        assert!(FaultSet::default().is_empty());
    }
}
