//! Running one case instance: steps in order, each evaluated, sent (or computed locally),
//! judged; the first step that does not do what the suite expects ends the case.

use std::collections::BTreeSet;
use std::time::Instant;

use super::answer::StepAnswer;
use super::blame::Blame;
use super::error::EvalError;
use super::eval::{Env, describe};
use super::expect::{Verdict, judge, observe};
use super::outcome::{CaseResult, Outcome, StepTrace};
use super::reference;
use crate::client::{Arg, Args, Client, Fields, Value};
use crate::pkcs11::CkMechanismType;
use crate::suite::{Action, CaseInstance, Expect, LocalOp, Profile, Step};

struct Run<'a> {
    instance: &'a CaseInstance,
    profile: &'a Profile,
    /// Accepted but not preferred answers seen so far.
    non_strict: Vec<String>,
    functions: BTreeSet<crate::rpc::Rpc>,
    mechanisms: BTreeSet<CkMechanismType>,
    /// Retries the client made on the endpoint's request, over all steps.
    retries: u32,
    /// Calls sent again after their connection closed, over all steps.
    resent: u32,
    /// Calls made so far: the index in the case's planned calls of the next one.
    calls_made: usize,
    trace: Vec<StepTrace>,
}

/// Runs one case; `profile` supplies the refusal codes accepted as non-strict.
pub async fn run_case(client: &Client, instance: &CaseInstance, profile: &Profile) -> CaseResult {
    let started = Instant::now();
    let mut run = Run {
        instance,
        profile,
        non_strict: Vec::new(),
        functions: BTreeSet::new(),
        mechanisms: BTreeSet::new(),
        retries: 0,
        resent: 0,
        calls_made: 0,
        trace: Vec::new(),
    };
    let (outcome, message, failed_call) = match run.steps(client).await {
        Ok(()) if run.non_strict.is_empty() => (Outcome::Pass, None, None),
        Ok(()) => (Outcome::NonStrict, Some(run.non_strict.join("; ")), None),
        // The failing step is the last call made, or a local step checking its output.
        Err((outcome, message)) => (outcome, Some(message), run.calls_made.checked_sub(1)),
    };
    let case = instance.case();
    CaseResult {
        id: instance.id.clone(),
        wire: client.wire(),
        suite: instance.suite.suite.clone(),
        name: case.name.clone(),
        file: instance.suite.file.display().to_string(),
        line: case.location.line,
        outcome,
        message,
        duration: started.elapsed(),
        functions: run.functions,
        mechanisms: run.mechanisms,
        calls: instance.calls.clone(),
        failed_call,
        deviation: None,
        retries: run.retries,
        resent: run.resent,
        trace: run.trace,
    }
}

impl Run<'_> {
    async fn steps(&mut self, client: &Client) -> Result<(), (Outcome, String)> {
        let mut env =
            Env::with_params(&self.instance.params).map_err(|e| (e.blame().outcome(), e.explained()))?;
        for (index, step) in self.instance.case().steps.iter().enumerate() {
            for (name, value) in &step.binds {
                env.bind(name, value).map_err(|e| self.eval_failure(index, step, &e))?;
            }
            let args = env.args(step).map_err(|e| self.eval_failure(index, step, &e))?;
            for arg in args.0.values() {
                if let Arg::Mechanism(m) = arg {
                    self.mechanisms.insert(CkMechanismType(m.mechanism));
                }
            }
            let request =
                args.0.iter().map(|(k, v)| format!("{k}={}", describe(v))).collect::<Vec<_>>().join(" ");
            let started = Instant::now();
            let fields = match step.action {
                Action::Call(rpc) => {
                    self.functions.insert(rpc);
                    self.calls_made += 1;
                    let counted = client.call_counted(rpc, &args).await;
                    self.retries += counted.retries;
                    self.resent += counted.resent;
                    let result = counted.result;
                    let observed = observe(&result);
                    let verdict = judge(&step.expect, &observed, &env, self.profile);
                    let shown = observed.describe();
                    self.push_trace(index, step, request, shown, StepAnswer::of(&observed), started);
                    match verdict {
                        Verdict::Ok => result.ok(),
                        Verdict::NonStrict(why) => {
                            self.non_strict.push(self.at(index, step, &why));
                            None
                        }
                        Verdict::Blamed(blame, why) => return Err(self.blamed(index, step, blame, &why)),
                        Verdict::Unimplemented(why) => {
                            return Err((Outcome::Unsupported, self.at(index, step, &why)));
                        }
                    }
                }
                Action::Local(op) => {
                    let computed = local(op, &args).and_then(|fields| {
                        if let Expect::Ok(checks) = &step.expect {
                            super::expect::check_fields(checks, &fields, &env)?;
                        }
                        Ok(fields)
                    });
                    let shown = match &computed {
                        Ok(_) => "ok".to_owned(),
                        Err(e) => e.explained(),
                    };
                    let answer = StepAnswer::Local { held: computed.is_ok() };
                    self.push_trace(index, step, request, shown, answer, started);
                    match computed {
                        Ok(fields) => Some(fields),
                        Err(e) => return Err(self.eval_failure(index, step, &e)),
                    }
                }
            };
            for (var, field) in &step.save {
                // The loader checked that the action returns `field`; an answer without it
                // is the endpoint's omission.
                match fields.as_ref().and_then(|f| f.get(field)) {
                    Some(value) => env.set(var, value.clone()),
                    None => {
                        let e = EvalError::NothingToSave { field: field.clone(), var: var.clone() };
                        return Err(self.eval_failure(index, step, &e));
                    }
                }
            }
        }
        Ok(())
    }

    fn push_trace(
        &mut self,
        index: usize,
        step: &Step,
        request: String,
        result: String,
        answer: StepAnswer,
        started: Instant,
    ) {
        self.trace.push(StepTrace {
            index: index + 1,
            action: step.action.name().to_owned(),
            // The trace speaks of the case's file: a fixture's step is where it was used.
            line: step.origin.as_ref().map_or(step.location.line, |o| o.used_at.line),
            request,
            result,
            answer,
            micros: started.elapsed().as_micros() as u64,
        });
    }

    /// `step 4 VerifySingle (suites/sign.yaml:22): why`; a fixture's step names the
    /// fixture's line and the use:
    /// `step 3 UnwrapKey (suites/fixtures/import.yaml:31, use: import-key at suites/aes.yaml:18): why`
    fn at(&self, index: usize, step: &Step, why: &str) -> String {
        let file = self.instance.suite.file.display();
        let place = match &step.origin {
            None => format!("{file}:{}", step.location.line),
            Some(o) => format!(
                "{}:{}, use: {} at {file}:{}",
                o.file.display(),
                step.location.line,
                o.fixture,
                o.used_at.line
            ),
        };
        format!("step {} {} ({place}): {why}", index + 1, step.action.name())
    }

    /// The outcome and message of a step that failed with `blame`: decided here alone.
    fn blamed(&self, index: usize, step: &Step, blame: Blame, why: &str) -> (Outcome, String) {
        (blame.outcome(), self.at(index, step, &blame.explain(why)))
    }

    fn eval_failure(&self, index: usize, step: &Step, e: &EvalError) -> (Outcome, String) {
        self.blamed(index, step, e.blame(), &e.to_string())
    }
}

fn bytes_arg<'a>(args: &'a Args, name: &'static str) -> Result<&'a [u8], EvalError> {
    match args.0.get(name) {
        Some(Arg::Bytes(b)) => Ok(b),
        _ => Err(EvalError::MissingArgument(name)),
    }
}

/// Whose data a local step's reference computation works on, and so who is to blame when
/// that data is refuted or malformed: a check works on the endpoint's answers (a signature,
/// a ciphertext, a public key, random bytes); a computation on the suite's inputs.
fn inputs(op: LocalOp) -> Blame {
    match op {
        LocalOp::Decrypt
        | LocalOp::Verify
        | LocalOp::Ecdh
        | LocalOp::RngQuality
        | LocalOp::EcPoint
        | LocalOp::DhKeypair
        | LocalOp::Dh => Blame::Endpoint,
        LocalOp::Digest | LocalOp::Encrypt | LocalOp::Sign | LocalOp::Keypair | LocalOp::Random => {
            Blame::Suite
        }
    }
}

fn opt_bytes_arg<'a>(args: &'a Args, name: &str) -> Option<&'a [u8]> {
    match args.0.get(name) {
        Some(Arg::Bytes(b)) => Some(b),
        _ => None,
    }
}

/// A `local.*` step computed with the reference cryptography (also load mode's answer
/// checks). A reference failure is blamed by `inputs`: on data that came from the
/// endpoint it is the endpoint's fault (a signature that does not verify, a public key that
/// is not one).
pub fn local(op: LocalOp, args: &Args) -> Result<Fields, EvalError> {
    let (mech, iv, param) = match args.0.get("mech") {
        Some(Arg::Mechanism(m)) => (
            CkMechanismType(m.mechanism),
            match &m.parameter {
                Some(crate::proto::mechanism::Parameter::ParameterB(iv)) => Some(iv.clone()),
                _ => None,
            },
            m.parameter.as_ref(),
        ),
        _ => (CkMechanismType(0), None, None),
    };
    let reference =
        |source: reference::RefError| EvalError::Reference { func: None, inputs: inputs(op), source };
    let mut out = Fields::new();
    let mut put = |name: &str, v: Vec<u8>| {
        out.insert(name.to_owned(), Value::Bytes(v));
    };
    match op {
        LocalOp::Digest => {
            put("Digest", reference::digest(mech, bytes_arg(args, "data")?).map_err(reference)?)
        }
        LocalOp::Encrypt => put(
            "Ciphered",
            match reference::rsa_cipher(mech, param, bytes_arg(args, "key")?, bytes_arg(args, "plain")?, true)
            {
                Some(rsa) => rsa.map_err(reference)?,
                None => reference::cipher(
                    mech,
                    bytes_arg(args, "key")?,
                    iv.as_deref(),
                    bytes_arg(args, "plain")?,
                    true,
                )
                .map_err(reference)?,
            },
        ),
        LocalOp::Decrypt => put(
            "Plain",
            if let Some(rsa) = reference::rsa_cipher(
                mech,
                param,
                bytes_arg(args, "key")?,
                bytes_arg(args, "ciphered")?,
                false,
            ) {
                rsa.map_err(reference)?
            } else {
                reference::cipher(
                    mech,
                    bytes_arg(args, "key")?,
                    iv.as_deref(),
                    bytes_arg(args, "ciphered")?,
                    false,
                )
                .map_err(reference)?
            },
        ),
        LocalOp::Sign => put(
            "Signature",
            reference::sign(mech, bytes_arg(args, "key")?, bytes_arg(args, "data")?).map_err(reference)?,
        ),
        LocalOp::Verify => reference::verify(
            mech,
            bytes_arg(args, "key")?,
            bytes_arg(args, "data")?,
            bytes_arg(args, "signature")?,
            opt_bytes_arg(args, "curve"),
        )
        .map_err(reference)?,
        LocalOp::Keypair => {
            let pair = match (args.0.get("curve"), args.0.get("bits")) {
                (Some(Arg::Bytes(curve)), None) => reference::keypair(curve),
                (None, Some(Arg::Uint(bits))) => reference::rsa_keypair(*bits),
                _ => return Err(EvalError::LocalArguments("local.keypair takes curve (EC) or bits (RSA)")),
            }
            .map_err(reference)?;
            put("Private", pair.private_scalar);
            put("Public", pair.spki);
            put("Point", pair.point);
            put("Pkcs8", pair.pkcs8);
        }
        LocalOp::Ecdh => {
            let kdf = match args.0.get("kdf") {
                Some(Arg::Uint(k)) => crate::pkcs11::CkEcKdf(*k),
                _ => crate::pkcs11::CKD_NULL,
            };
            let len = match args.0.get("len") {
                Some(Arg::Uint(n)) => Some(usize::try_from(*n).map_err(|_| EvalError::LenTooLarge(*n))?),
                _ => None,
            };
            put(
                "Secret",
                reference::ecdh_kdf(
                    bytes_arg(args, "key")?,
                    bytes_arg(args, "public")?,
                    kdf,
                    opt_bytes_arg(args, "shared").unwrap_or_default(),
                    len,
                )
                .map_err(reference)?,
            )
        }
        LocalOp::Random => {
            let len = match args.0.get("len") {
                Some(Arg::Uint(n)) => usize::try_from(*n).map_err(|_| EvalError::LenTooLarge(*n))?,
                _ => return Err(EvalError::MissingArgument("len")),
            };
            // The harness's own generator: inputs never depend on the endpoint's RNG.
            let mut rnd = vec![0u8; len];
            rand::fill(&mut rnd[..]);
            put("Rnd", rnd)
        }
        LocalOp::RngQuality => reference::randomness(bytes_arg(args, "data")?).map_err(reference)?,
        LocalOp::EcPoint => put(
            "Point",
            reference::ec_point_matches(bytes_arg(args, "key")?, bytes_arg(args, "point")?)
                .map_err(reference)?,
        ),
        LocalOp::DhKeypair => {
            let pair = reference::dh_keypair(bytes_arg(args, "params")?).map_err(reference)?;
            put("Private", pair.private);
            put("Public", pair.public);
        }
        LocalOp::Dh => put(
            "Secret",
            reference::dh_agree(bytes_arg(args, "key")?, bytes_arg(args, "public")?).map_err(reference)?,
        ),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::client::Wire;
    use crate::pkcs11::{CKM_AES_CBC, CKM_ECDSA_SHA256};
    use crate::proto::{Mechanism, mechanism::Parameter};
    use crate::suite::{expand, load::load_str};

    async fn run_one(text: &str) -> super::super::CaseResult {
        let suite = load_str(Path::new("suites/blame.yaml"), text).unwrap();
        let instance = &expand(vec![suite])[0];
        let client = crate::embedded::client(Wire::Keyblob, Duration::from_secs(30));
        run_case(&client, instance, &Profile::default()).await
    }

    #[tokio::test]
    async fn a_signature_the_reference_refutes_fails_the_endpoint() {
        let result = run_one(
            "suite: blame\ncases:\n  - name: refuted\n    steps:\n      - GenerateKeyPair:\n          mech: CKM_EC_KEY_PAIR_GEN\n          public: {CKA_EC_PARAMS: \"curve:P-256\", CKA_VERIFY: true}\n          private: {CKA_SIGN: true}\n        save: {pub: PubKey, priv: PrivKey}\n      - SignSingle: {mech: CKM_ECDSA_SHA256, key: $priv, data: \"utf8:signed\"}\n        save: {sig: Signature}\n      - local.verify: {mech: CKM_ECDSA_SHA256, key: $pub, data: \"utf8:other\", signature: $sig}\n",
        )
        .await;
        assert_eq!(result.outcome, Outcome::Fail, "{:?}", result.message);
        assert_eq!(
            result.message.as_deref(),
            Some("step 3 local.verify (suites/blame.yaml:12): the signature does not verify locally")
        );
    }

    #[tokio::test]
    async fn a_computation_the_harness_does_not_make_is_the_suites_error() {
        let result = run_one(
            "suite: blame\ncases:\n  - name: unsupported\n    steps:\n      - local.sign: {mech: CKM_AES_CBC, key: \"hex:00112233445566778899aabbccddeeff\", data: \"hex:00\"}\n",
        )
        .await;
        assert_eq!(result.outcome, Outcome::Error, "{:?}", result.message);
        assert_eq!(
            result.message.as_deref(),
            Some("step 1 local.sign (suites/blame.yaml:5): suite error: no local signing for CKM_AES_CBC")
        );
    }

    fn args(pairs: Vec<(&'static str, Arg)>) -> Args {
        Args(pairs.into_iter().collect())
    }

    #[test]
    fn a_local_step_blames_whoever_supplied_the_data_it_could_not_use() {
        let ecdsa = Arg::Mechanism(Mechanism { mechanism: CKM_ECDSA_SHA256.0, parameter: None });
        // A public key that is no key, as an endpoint might return it.
        let verify = args(vec![
            ("mech", ecdsa),
            ("key", Arg::Bytes(vec![0x30, 0x03, 0x02, 0x01, 0x00])),
            ("data", Arg::Bytes(b"m".to_vec())),
            ("signature", Arg::Bytes(vec![0; 64])),
        ]);
        let e = local(LocalOp::Verify, &verify).unwrap_err();
        assert_eq!(e.blame(), Blame::Endpoint, "{e}");
        // A key of the wrong length, as only a suite can give one to local.encrypt.
        let cbc = Mechanism { mechanism: CKM_AES_CBC.0, parameter: Some(Parameter::ParameterB(vec![0; 16])) };
        let encrypt = args(vec![
            ("mech", Arg::Mechanism(cbc)),
            ("key", Arg::Bytes(vec![0; 5])),
            ("plain", Arg::Bytes(vec![0; 16])),
        ]);
        let e = local(LocalOp::Encrypt, &encrypt).unwrap_err();
        assert_eq!(e.blame(), Blame::Suite, "{e}");
        assert_eq!(e.explained(), "suite error: an AES key has 16, 24 or 32 bytes, not 5");
        let e = local(LocalOp::Random, &Args::default()).unwrap_err();
        assert_eq!(e.explained(), "suite error: missing argument len");
    }
}
