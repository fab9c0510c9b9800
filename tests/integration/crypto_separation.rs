//! The harness checks the emulator with cryptography the emulator does not use: for each
//! primitive, the crates the emulator computes it with (`src/emulator/mech`) and the crates
//! the runner's reference (`src/runner/reference`) checks it with must be different, so a
//! bug in one library cannot pass its own CI and certification. Where only one library in
//! reach has a primitive, the row says why, and the check there is published vectors.
//!
//! Read from the source files, so the table cannot drift from the code: every crate a row
//! names must be used in the file it names, every cryptography crate a reference file uses
//! must be named by one of that file's rows, and a row marked shared must really share.
//! README's "Cryptography" table is this table.

use std::collections::BTreeSet;

/// Crates that implement cryptographic primitives (encodings such as `der` or `spki` are not).
const CRYPTO_CRATES: &[&str] = &[
    "aes",
    "aes_gcm",
    "aes_kw",
    "ansi_x963_kdf",
    "aws_lc_rs",
    "cbc",
    "cmac",
    "ctr",
    "des",
    "ecb",
    "ecdsa",
    "ed25519_dalek",
    "hmac",
    "k256",
    "p224",
    "p256",
    "p384",
    "p521",
    "rsa",
    "sha1",
    "sha2",
    "sha3",
];

struct Row {
    primitive: &'static str,
    /// Emulator file under src/emulator/mech and the crates it computes the primitive with.
    emulator: (&'static str, &'static [&'static str]),
    /// Reference file under src/runner/reference and the crates it checks it with.
    reference: (&'static str, &'static [&'static str]),
    /// Why both sides use the same crate, if they do.
    shared: Option<&'static str>,
}

const fn row(
    primitive: &'static str,
    emulator: (&'static str, &'static [&'static str]),
    reference: (&'static str, &'static [&'static str]),
) -> Row {
    Row { primitive, emulator, reference, shared: None }
}

const fn shared(
    primitive: &'static str,
    emulator: (&'static str, &'static [&'static str]),
    reference: (&'static str, &'static [&'static str]),
    why: &'static str,
) -> Row {
    Row { primitive, emulator, reference, shared: Some(why) }
}

const TABLE: &[Row] = &[
    row(
        "SHA-1, SHA-224/256/384/512, SHA-512/256, SHA3-256/384/512",
        ("digest.rs", &["sha1", "sha2", "sha3"]),
        ("digest.rs", &["aws_lc_rs"]),
    ),
    shared(
        "SHA-512/224, SHA3-224",
        ("digest.rs", &["sha2", "sha3"]),
        ("digest.rs", &["sha2", "sha3"]),
        "AWS-LC's Rust API has neither; suites/digest.yaml checks both against published vectors",
    ),
    row("HMAC over SHA-1 and SHA-2", ("hmac.rs", &["aws_lc_rs"]), ("digest.rs", &["hmac", "sha1", "sha2"])),
    shared(
        "HMAC over SHA-3",
        ("hmac.rs", &["hmac"]),
        ("digest.rs", &["hmac", "sha3"]),
        "AWS-LC's Rust API has no HMAC over SHA-3",
    ),
    row(
        "AES ECB, CBC, CBC_PAD, CTR",
        ("aes.rs", &["aws_lc_rs"]),
        ("cipher.rs", &["aes", "cbc", "ecb", "ctr"]),
    ),
    row(
        "AES key wrap (RFC 3394/5649), 128- and 256-bit keys",
        ("aes.rs", &["aws_lc_rs"]),
        ("cipher.rs", &["aes_kw"]),
    ),
    shared(
        "AES key wrap, 192-bit keys",
        ("aes.rs", &["aes_kw"]),
        ("cipher.rs", &["aes_kw"]),
        "AWS-LC's Rust API wraps with AES-128 and AES-256 only; Wycheproof's kw/kwp vectors check it",
    ),
    row("AES-CMAC", ("cmac.rs", &["aws_lc_rs"]), ("cmac.rs", &["cmac", "aes"])),
    shared(
        "Triple DES (ECB, CBC, CBC_PAD)",
        ("aes.rs", &["des", "cbc", "ecb"]),
        ("cipher.rs", &["des", "cbc", "ecb"]),
        "AWS-LC's Rust API has 3DES only behind a feature that generates bindings at build time; \
         suites/des3.yaml checks SP 800-67 vectors",
    ),
    row(
        "RSA PKCS #1 v1.5 and PSS (salt = hash length) with SHA-256/384/512, 2048-4096 bits",
        ("rsa.rs", &["aws_lc_rs"]),
        ("rsa.rs", &["rsa", "sha2"]),
    ),
    shared(
        "RSA under 2048 bits, with SHA-1/224, raw CKM_RSA_PKCS, other PSS salts, encryption",
        ("rsa.rs", &["rsa", "sha1", "sha2"]),
        ("rsa.rs", &["rsa", "sha1", "sha2"]),
        "AWS-LC's Rust API has none of these; src/emulator/tests/wycheproof.rs checks the emulator's against \
         Wycheproof's RSA vectors",
    ),
    row(
        "ECDSA on P-256, P-384, P-521, secp256k1 (prehash of the curve's hash length)",
        ("ec.rs", &["aws_lc_rs"]),
        ("ec.rs", &["ecdsa", "p256", "p384", "p521", "k256"]),
    ),
    shared(
        "ECDSA on P-224, and other prehash lengths",
        ("ec.rs", &["ecdsa", "p224", "p256", "p384", "p521", "k256"]),
        ("ec.rs", &["ecdsa", "p224", "p256", "p384", "p521", "k256"]),
        "AWS-LC's Rust API has no P-224 and signs only a prehash of its algorithm's length; \
         Wycheproof's ECDSA vectors check the emulator",
    ),
    row("Ed25519", ("ec.rs", &["aws_lc_rs"]), ("ec.rs", &["ed25519_dalek"])),
    row("ECDH on P-256, P-384, P-521", ("ec.rs", &["aws_lc_rs"]), ("ec.rs", &["p256", "p384", "p521"])),
    shared(
        "ECDH on P-224 and secp256k1",
        ("ec.rs", &["p224", "k256"]),
        ("ec.rs", &["p224", "k256"]),
        "AWS-LC's Rust API has no ECDH on these curves; Wycheproof's ECDH vectors check the emulator",
    ),
    shared(
        "ANSI X9.63 KDF (CKD_SHA*_KDF of CKM_ECDH1_DERIVE)",
        ("ec.rs", &["ansi_x963_kdf"]),
        ("ec.rs", &["ansi_x963_kdf", "sha1", "sha2"]),
        "no other library in reach has it; the emulator's unit tests pin it with a NIST CAVS X9.63 vector",
    ),
];

fn source(dir: &str, file: &str) -> String {
    let path = format!("{}/src/{dir}/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Whether `text` uses the crate `name` (`use name::`, `name::` in a path, or `use name;`).
fn uses(text: &str, name: &str) -> bool {
    let code: String =
        text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    // `mod rsa;` makes `rsa::` the file's own module, not the crate.
    if code.contains(&format!("mod {name};")) {
        return false;
    }
    code.match_indices(name).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = &code[i + name.len()..];
        let starts_word = !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        starts_word && (after.starts_with("::") || after.starts_with(';') || after.starts_with(" as "))
    })
}

#[test]
fn every_crate_the_table_names_is_used_where_it_says() {
    for r in TABLE {
        for (dir, (file, crates)) in [("emulator/mech", r.emulator), ("runner/reference", r.reference)] {
            let text = source(dir, file);
            for c in crates {
                assert!(uses(&text, c), "{}: src/{dir}/{file} does not use {c}", r.primitive);
            }
        }
    }
}

#[test]
fn the_reference_never_checks_a_primitive_with_the_emulators_crate() {
    for r in TABLE {
        let emulator: BTreeSet<_> = r.emulator.1.iter().collect();
        let reference: BTreeSet<_> = r.reference.1.iter().collect();
        let common: Vec<_> = emulator.intersection(&reference).collect();
        match r.shared {
            None => assert!(common.is_empty(), "{}: both sides use {common:?}", r.primitive),
            Some(_) => assert!(!common.is_empty(), "{}: marked shared but no longer is", r.primitive),
        }
    }
}

#[test]
fn every_crypto_crate_of_the_reference_is_in_the_table() {
    let dir = format!("{}/src/runner/reference", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(&dir).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        let text = source("runner/reference", &file);
        for c in CRYPTO_CRATES {
            if !uses(&text, c) {
                continue;
            }
            let listed = TABLE.iter().any(|r| r.reference.0 == file && r.reference.1.contains(c));
            assert!(listed, "src/runner/reference/{file} uses {c}, which no row of the table names");
        }
    }
}

#[test]
fn the_check_can_fail() {
    // The scanner finds uses and ignores comments and longer names.
    assert!(uses("use sha2::Digest;", "sha2"));
    assert!(uses("let x = rsa::PrivateKey::new();", "rsa"));
    assert!(!uses("// sha2:: in a comment", "sha2"));
    assert!(!uses("use crate::mech::rsa::sign;", "rsa"));
    assert!(!uses("let p = ansi_x963_kdf::derive;", "kdf"));
    assert!(!uses("mod rsa;\npub use rsa::keypair;", "rsa"));
}
