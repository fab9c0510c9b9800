//! A recording proxy: an application talks to it as to its GREP11 endpoint, it forwards
//! every call to the real endpoint, and what passed through becomes a suite that replays
//! the sequence with its answers checked, and a load workload with the observed mix.
//!
//! Design: the proxy forwards HTTP/2 requests, not GREP11 calls. Each request (path,
//! headers, body frames) goes to the upstream over the harness's own connection path
//! (`client::Endpoint::channel`: h2c or TLS, client certificates, connect timeout) and the
//! response (headers, body frames, trailers) comes back as it arrived. Nothing is
//! decoded on the way and nothing re-encoded, so both wire generations, any metadata
//! (`authorization`, `bluemix-instance`, ...), the deadline (`grpc-timeout`), the status
//! and its `grpc-status-details-bin` (a `Grep11Error`), and fields this harness does not
//! know all pass through byte for byte; a method the harness does not know is forwarded
//! too (and noted, not recorded). Decoding a typed message instead would drop unknown
//! fields and normalize encodings, the opposite of what a proxy in front of an
//! application must do. The only change: the upstream flags' metadata (`--header`,
//! `--instance-id`, the IAM token of `--api-key`) replaces what the application sent under
//! the same names, so the application can run without the credentials.
//!
//! Recording taps a copy of each body (`tee`, bounded by the interface's message size);
//! when the response ends, the copy is decoded with the prost types (`decode`) and kept.
//! On shutdown the calls, in the order their answers completed, become steps
//! (`transcript`) and then the two files (`render`).

pub(crate) mod decode;
mod forward;
pub(crate) mod render;
mod tee;
pub mod transcript;

pub use forward::{Exchange, Proxy, Recording};

use decode::{Undecodable, decode, ended, rpc_of_path, unframe};
use transcript::Transcript;

/// The recorded exchanges as steps (`redact`: message data replaced by random values of
/// the same lengths).
pub fn transcript(exchanges: &[Exchange], redact: bool) -> Transcript {
    let mut t = Transcript::new(redact);
    for (i, exchange) in exchanges.iter().enumerate() {
        let number = i + 1;
        match decode_exchange(exchange) {
            Ok(call) => t.add(number, &call),
            Err(why) => t.note(format!("call {number} ({}) left out: {why}", exchange.path)),
        }
    }
    t
}

fn decode_exchange(e: &Exchange) -> Result<decode::Call, Undecodable> {
    let rpc = rpc_of_path(&e.path)?;
    let status = e.status.as_ref().ok_or(Undecodable::NoStatus)?;
    let ended = ended(status);
    let request = unframe(&e.request, "request")?;
    let response = match ended {
        decode::Ended::Ok => Some(unframe(&e.response, "response")?),
        _ => None,
    };
    decode(rpc, request, response, ended)
}

#[cfg(test)]
mod tests {
    use super::decode::{Call, Ended, In};
    use super::render::{Origin, suite, workload};
    use super::transcript::Transcript;
    use crate::pkcs11::{CKM_AES_CBC_PAD, CKM_AES_KEY_GEN, CKM_ECDSA, CKM_SHA256, CKR_SIGNATURE_INVALID};
    use crate::proto::{Mechanism, mechanism::Parameter};
    use crate::rpc::Rpc;

    fn call(
        rpc: Rpc,
        args: Vec<(&'static str, In)>,
        outputs: Vec<(&'static str, &[u8])>,
        ended: Ended,
    ) -> Call {
        let outputs = outputs.into_iter().map(|(f, b)| (f, b.to_vec())).collect();
        Call { rpc, args, outputs, attributes: Vec::new(), ended }
    }

    fn mech(m: crate::pkcs11::CkMechanismType, param: Option<&[u8]>) -> In {
        In::Mech(Mechanism { mechanism: m.0, parameter: param.map(|p| Parameter::ParameterB(p.to_vec())) })
    }

    /// A key made, used to encrypt and decrypt; a digest; a call with a key from before
    /// the recording; a refusal.
    fn recorded(redact: bool) -> Transcript {
        let plain = b"attack at dawn, bring snacks".as_slice();
        let mut t = Transcript::new(redact);
        let calls = [
            call(
                Rpc::GenerateKey,
                vec![("mech", mech(CKM_AES_KEY_GEN, None)), ("template", In::Template(Default::default()))],
                vec![("Key", b"KEYBLOB-1"), ("CheckSum", b"cs")],
                Ended::Ok,
            ),
            call(Rpc::GenerateRandom, vec![("len", In::Uint(16))], vec![("Rnd", &[7; 16])], Ended::Ok),
            call(
                Rpc::EncryptSingle,
                vec![
                    ("mech", mech(CKM_AES_CBC_PAD, Some(&[7; 16]))),
                    ("key", In::Blob(b"KEYBLOB-1".to_vec())),
                    ("plain", In::Data(plain.to_vec())),
                ],
                vec![("Ciphered", &[9; 32])],
                Ended::Ok,
            ),
            call(
                Rpc::DecryptSingle,
                vec![
                    ("mech", mech(CKM_AES_CBC_PAD, Some(&[7; 16]))),
                    ("key", In::Blob(b"KEYBLOB-1".to_vec())),
                    ("ciphered", In::Data(vec![9; 32])),
                ],
                vec![("Plain", plain)],
                Ended::Ok,
            ),
            call(
                Rpc::DigestSingle,
                vec![("mech", mech(CKM_SHA256, None)), ("data", In::Data(b"abc".to_vec()))],
                vec![("Digest", &crate::runner::reference::digest(CKM_SHA256, b"abc").unwrap())],
                Ended::Ok,
            ),
            call(
                Rpc::SignSingle,
                vec![
                    ("mech", mech(CKM_ECDSA, None)),
                    ("key", In::Blob(b"OLD-KEY".to_vec())),
                    ("data", In::Data(vec![1; 32])),
                ],
                vec![("Signature", &[2; 64])],
                Ended::Ok,
            ),
            call(
                Rpc::VerifySingle,
                vec![
                    ("mech", mech(CKM_ECDSA, None)),
                    ("key", In::Blob(b"KEYBLOB-1".to_vec())),
                    ("data", In::Data(vec![1; 32])),
                    ("signature", In::Data(vec![2; 64])),
                ],
                vec![],
                Ended::Rv(CKR_SIGNATURE_INVALID),
            ),
        ];
        for (i, c) in calls.iter().enumerate() {
            t.add(i + 1, c);
        }
        t
    }

    #[test]
    fn outputs_become_variables_and_both_files_load() {
        let t = recorded(false);
        let origin = Origin { upstream: "http://127.0.0.1:1", calls: 7, redacted: false };
        let text = suite(&t, &origin);
        // Key blobs only as variables; the IV from GenerateRandom too; the decryption is
        // expected to give back the plaintext; the digest is checked by local.digest.
        assert!(!text.contains(&hex::encode(b"KEYBLOB-1")), "{text}");
        assert!(text.contains("save: {key1: Key}"), "{text}");
        assert!(text.contains("param: \"$rnd2\""), "{text}");
        assert!(
            text.contains(&format!(
                "expect: {{Plain: \"hex:{}\"}}",
                hex::encode(b"attack at dawn, bring snacks")
            )),
            "{text}"
        );
        assert!(text.contains("local.digest: {mech: CKM_SHA256, data: \"hex:616263\"}"), "{text}");
        assert!(text.contains("call 6 (SignSingle) left out: a key blob or state"), "{text}");
        assert!(text.contains("expect: {error: CKR_SIGNATURE_INVALID}"), "{text}");
        let loaded = crate::suite::load::load_str(std::path::Path::new("suite.yaml"), &text);
        assert!(loaded.is_ok(), "{:?}\n{text}", loaded.err());
        let text = workload(&t, &origin);
        let loaded = crate::load::workload::parse("workload.yaml", &text);
        let workloads = loaded.unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        let decrypt = workloads.iter().find(|w| w.name == "decryptsingle-ckm-aes-cbc-pad").expect("grouped");
        assert_eq!(decrypt.weight, 1);
        // Its setup makes the key, the IV and the ciphertext it needs, and nothing else.
        let setup: Vec<&str> = decrypt.setup.iter().map(|s| s.action.name()).collect();
        assert_eq!(setup, ["GenerateKey", "GenerateRandom", "EncryptSingle"]);
    }

    #[test]
    fn redaction_keeps_lengths_and_equalities_but_no_values() {
        let t = recorded(true);
        let origin = Origin { upstream: "http://127.0.0.1:1", calls: 7, redacted: true };
        let text = suite(&t, &origin);
        assert!(!text.contains(&hex::encode(b"attack at dawn")), "{text}");
        assert!(!text.contains("616263"), "{text}");
        // The plaintext is one random value, encrypted and expected back.
        assert!(text.contains("local.random: {len: 28}"), "{text}");
        assert!(text.contains("expect: {Plain: $data3}"), "{text}");
        assert!(crate::suite::load::load_str(std::path::Path::new("suite.yaml"), &text).is_ok(), "{text}");
    }
}
