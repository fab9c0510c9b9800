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

/// One defect class.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Fault {
    /// `ciphertext-flip`: encryption answers with one bit of the ciphertext flipped.
    CiphertextFlip,
    /// `wrong-digest`: digests come back with one bit flipped.
    WrongDigest,
    /// `bad-signature`: signatures and MACs come back with one bit flipped.
    BadSignature,
    /// `verify-accepts-corrupt`: verification answers OK where `CKR_SIGNATURE_INVALID` is due.
    VerifyAcceptsCorrupt,
    /// `key-type-as-mechanism-invalid`: `CKR_MECHANISM_INVALID` where `CKR_KEY_TYPE_INCONSISTENT` is due.
    KeyTypeAsMechanismInvalid,
    /// `data-len-codes-swapped`: `CKR_DATA_LEN_RANGE` and `CKR_ENCRYPTED_DATA_LEN_RANGE` trade places.
    DataLenCodesSwapped,
    /// `ignores-encrypt-false`: keys with `CKA_ENCRYPT` false still encrypt (an engine hook).
    IgnoresEncryptFalse,
    /// `leaks-sensitive-value`: GetAttributeValue reveals `CKA_VALUE` of sensitive, unextractable keys (an engine hook).
    LeaksSensitiveValue,
    /// `state-does-not-advance`: the `*Update` calls hand back the state they were given.
    StateDoesNotAdvance,
    /// `cbc-pad-zero-padding`: single-part CBC-PAD encryption pads with zeros instead of PKCS #7.
    CbcPadZeroPadding,
    /// `random-truncated`: GenerateRandom returns one byte fewer than asked.
    RandomTruncated,
    /// `mechanism-info-swapped`: GetMechanismInfo swaps the minimum and maximum key sizes.
    MechanismInfoSwapped,
    /// `mechanism-list-drops`: GetMechanismList omits `CKM_SHA256`, which is still served.
    MechanismListDrops,
    /// `unwrap-ignores-template`: UnwrapKey drops the template's boolean attributes.
    UnwrapIgnoresTemplate,
    /// `wrong-checksum`: the key check value of new keys is one bit off.
    WrongChecksum,
    /// `set-attribute-ignored`: SetAttributeValue answers OK and changes nothing.
    SetAttributeIgnored,
    /// `wrap-returns-clear`: WrapKey returns a secret key's value unencrypted.
    WrapReturnsClear,
    /// `ecdh-kdf-ignores-shared-data`: ECDH derivation runs its X9.63 KDF without the SharedData.
    EcdhKdfIgnoresSharedData,
    /// `ec-point-disagrees-with-spki`: `CKA_EC_POINT` is one bit away from the SPKI's public key.
    EcPointDisagrees,
    /// `random-degenerate`: GenerateRandom repeats one random 16-byte block.
    RandomDegenerate,
    /// `keys-in-bytes-only`: new keys come back in the legacy byte fields alone.
    KeysInBytesOnly,
    /// `keys-in-keyblob-only`: new keys come back in the `KeyBlob` fields alone.
    KeysInKeyBlobOnly,
    /// `retry-every-refusal`: every refusal is marked retryable, permanent ones included.
    RetryEveryRefusal,
    /// `transient-unavailable` (benign): every 5th call is refused as UNAVAILABLE with Retry set.
    TransientUnavailable,
    /// `latency` (benign): every answer is delayed by 0 to 5 ms.
    Latency,
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

use Fault::*;
use Kind::*;

/// Every fault, in the order `--list-faults` prints them. `Fault as usize` indexes it.
const ROWS: &[Row] = &[
    Row {
        fault: CiphertextFlip,
        name: "ciphertext-flip",
        kind: Correctness,
        description: "flips a bit of the ciphertext from EncryptSingle, Encrypt, EncryptUpdate and EncryptFinal",
    },
    Row {
        fault: WrongDigest,
        name: "wrong-digest",
        kind: Correctness,
        description: "returns a digest with one bit flipped from DigestSingle, Digest and DigestFinal",
    },
    Row {
        fault: BadSignature,
        name: "bad-signature",
        kind: Correctness,
        description: "returns signatures and MACs that do not verify (one bit flipped) from SignSingle, Sign and SignFinal",
    },
    Row {
        fault: VerifyAcceptsCorrupt,
        name: "verify-accepts-corrupt",
        kind: Correctness,
        description: "VerifySingle, Verify and VerifyFinal answer OK where CKR_SIGNATURE_INVALID is due",
    },
    Row {
        fault: KeyTypeAsMechanismInvalid,
        name: "key-type-as-mechanism-invalid",
        kind: Correctness,
        description: "answers CKR_MECHANISM_INVALID where CKR_KEY_TYPE_INCONSISTENT is due",
    },
    Row {
        fault: DataLenCodesSwapped,
        name: "data-len-codes-swapped",
        kind: Correctness,
        description: "answers CKR_ENCRYPTED_DATA_LEN_RANGE for CKR_DATA_LEN_RANGE and the reverse",
    },
    Row {
        fault: IgnoresEncryptFalse,
        name: "ignores-encrypt-false",
        kind: Correctness,
        description: "encrypts with keys whose CKA_ENCRYPT is false",
    },
    Row {
        fault: LeaksSensitiveValue,
        name: "leaks-sensitive-value",
        kind: Correctness,
        description: "GetAttributeValue returns CKA_VALUE of sensitive and unextractable secret keys",
    },
    Row {
        fault: StateDoesNotAdvance,
        name: "state-does-not-advance",
        kind: Correctness,
        description: "DigestUpdate, EncryptUpdate, DecryptUpdate, SignUpdate and VerifyUpdate return the state they were given",
    },
    Row {
        fault: CbcPadZeroPadding,
        name: "cbc-pad-zero-padding",
        kind: Correctness,
        description: "EncryptSingle with CKM_AES_CBC_PAD or CKM_DES3_CBC_PAD pads with zero bytes instead of PKCS #7",
    },
    Row {
        fault: RandomTruncated,
        name: "random-truncated",
        kind: Correctness,
        description: "GenerateRandom returns one byte fewer than asked",
    },
    Row {
        fault: MechanismInfoSwapped,
        name: "mechanism-info-swapped",
        kind: Correctness,
        description: "GetMechanismInfo reports MinKeySize and MaxKeySize swapped",
    },
    Row {
        fault: MechanismListDrops,
        name: "mechanism-list-drops",
        kind: Correctness,
        description: "GetMechanismList leaves out CKM_SHA256 while the mechanism is still served",
    },
    Row {
        fault: UnwrapIgnoresTemplate,
        name: "unwrap-ignores-template",
        kind: Correctness,
        description: "UnwrapKey drops the template's boolean attributes, so the key gets default usage and protection",
    },
    Row {
        fault: WrongChecksum,
        name: "wrong-checksum",
        kind: Correctness,
        description: "the key check value in the CheckSum of GenerateKey, UnwrapKey and DeriveKey is off by one bit",
    },
    Row {
        fault: SetAttributeIgnored,
        name: "set-attribute-ignored",
        kind: Correctness,
        description: "SetAttributeValue answers OK with the object unchanged",
    },
    Row {
        fault: WrapReturnsClear,
        name: "wrap-returns-clear",
        kind: Correctness,
        description: "WrapKey returns a secret key's value in clear (UnwrapKey still takes it back)",
    },
    Row {
        fault: EcdhKdfIgnoresSharedData,
        name: "ecdh-kdf-ignores-shared-data",
        kind: Correctness,
        description: "DeriveKey with CKM_ECDH1_DERIVE runs the X9.63 KDF without the SharedData",
    },
    Row {
        fault: EcPointDisagrees,
        name: "ec-point-disagrees-with-spki",
        kind: Correctness,
        description: "GetAttributeValue returns a CKA_EC_POINT one bit away from the public key in the SPKI",
    },
    Row {
        fault: RandomDegenerate,
        name: "random-degenerate",
        kind: Correctness,
        description: "GenerateRandom repeats one random 16-byte block (draws of 16 bytes or fewer look fine)",
    },
    Row {
        fault: KeysInBytesOnly,
        name: "keys-in-bytes-only",
        kind: Correctness,
        description: "GenerateKey, GenerateKeyPair, UnwrapKey and DeriveKey return keys in the legacy byte fields alone, the KeyBlob fields empty",
    },
    Row {
        fault: KeysInKeyBlobOnly,
        name: "keys-in-keyblob-only",
        kind: Correctness,
        description: "GenerateKey, GenerateKeyPair, UnwrapKey and DeriveKey return keys in the KeyBlob fields alone, the legacy byte fields empty",
    },
    Row {
        fault: RetryEveryRefusal,
        name: "retry-every-refusal",
        kind: Correctness,
        description: "marks every refusal Retry, CKR_SIGNATURE_INVALID and CKR_MECHANISM_INVALID included",
    },
    Row {
        fault: TransientUnavailable,
        name: "transient-unavailable",
        kind: Benign,
        description: "refuses every 5th call (never one request twice) with UNAVAILABLE and a Grep11Error whose Retry is true",
    },
    Row {
        fault: Latency,
        name: "latency",
        kind: Benign,
        description: "delays every answer by a random 0 to 5 ms",
    },
];

impl Fault {
    /// Every fault, in catalogue order.
    pub fn all() -> impl Iterator<Item = Fault> {
        ROWS.iter().map(|r| r.fault)
    }

    fn row(self) -> &'static Row {
        // ROWS lists the variants in declaration order (checked by a unit test), so the
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
