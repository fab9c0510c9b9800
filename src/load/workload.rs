//! Workloads: what one measured iteration does, in the suite step language. `setup` steps
//! run once per run and their saves become variables; `step`/`steps` are the measured
//! iteration; `check` holds `local.*` steps that judge a sampled iteration's answers with
//! the runner's reference cryptography (a signature verifies, a ciphertext decrypts). On a
//! sampled iteration the measured steps' own `expect` field checks run too. Loading checks
//! names and variables with the suite loader's own rules, so a workload and a suite can
//! never disagree on what a step means.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use crate::client::{Args, Client, Encoded, Fields, Value};
use crate::pkcs11::CkRv;
use crate::rpc::Rpc;
use crate::runner::{Env, Observed, Ruling, observe, rule};
use crate::suite::{Action, Case, Expect, Location, Step};

/// Whether measured arguments are evaluated once or for every call.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Data {
    /// Evaluated once after setup: the call is all that is measured.
    #[default]
    Fixed,
    /// Evaluated per call (`random(n)` is new each time); the evaluation is inside the
    /// measured time.
    Fresh,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    workloads: Vec<RawWorkload>,
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    name: String,
    #[serde(default)]
    title: String,
    #[serde(default = "one")]
    weight: u32,
    #[serde(default)]
    data: Data,
    #[serde(default = "yes")]
    default: bool,
    #[serde(default)]
    setup: Vec<Step>,
    #[serde(default)]
    step: Option<Step>,
    #[serde(default)]
    steps: Vec<Step>,
    #[serde(default)]
    check: Vec<Step>,
}

/// A checked workload: one entry of a workload file's `workloads` list.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Unique in its file; no `,`, `=` or whitespace, so that `--workload` and `--mix`
    /// can name it.
    pub name: String,
    /// What it measures, for people (`title`; empty when not given).
    pub title: String,
    /// Its share in a mix when `--mix` gives none (`weight`, at least 1; default 1).
    pub weight: u32,
    /// Whether measured arguments are evaluated once or per call (`data`).
    pub data: Data,
    /// Part of the run `grep11-harness load` makes without `--workload`.
    pub default: bool,
    /// Run once by `setup()`, unmeasured; their saves become the iteration's variables.
    /// RPCs or `local.*` steps.
    pub setup: Vec<Step>,
    /// One iteration: `step`, or the `steps` of a flow, in order; RPCs only.
    pub measured: Vec<Step>,
    /// `local.*` steps run after a sampled iteration; empty: only `expect` checks.
    pub check: Vec<Step>,
}

/// A workload file that does not load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct WorkloadError {
    /// The file, or `built-in catalogue`.
    pub source_name: String,
    /// What is wrong, naming the workload and step where there is one.
    pub message: String,
}

/// Parses and checks workloads; every problem is listed.
pub fn parse(source_name: &str, text: &str) -> Result<Vec<Workload>, Vec<WorkloadError>> {
    let problem = |message: String| WorkloadError { source_name: source_name.to_owned(), message };
    let file: File = crate::suite::yaml::from_str(text).map_err(|e| vec![problem(e.to_string())])?;
    let mut errors = Vec::new();
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for raw in file.workloads {
        let name = raw.name.clone();
        if !names.insert(name.clone()) {
            errors.push(problem(format!("workload {name:?} is defined twice")));
        }
        if name.is_empty() || name.contains(|c: char| c == ',' || c == '=' || c.is_whitespace()) {
            errors.push(problem(format!(
                "workload name {name:?} must be non-empty, without ',', '=' or spaces"
            )));
        }
        let measured = match (raw.step, raw.steps.is_empty()) {
            (Some(step), true) => vec![step],
            (None, false) => raw.steps,
            (Some(_), false) => {
                errors.push(problem(format!("workload {name}: give `step` or `steps`, not both")));
                continue;
            }
            (None, true) => {
                errors.push(problem(format!("workload {name}: no `step` to measure")));
                continue;
            }
        };
        if raw.weight == 0 {
            errors.push(problem(format!("workload {name}: weight must be at least 1")));
        }
        // Local steps compute with the harness's own cryptography; a load run measures
        // the endpoint (setup may prepare data with them, and checks are local only).
        for step in &measured {
            if let Action::Local(op) = step.action {
                errors.push(problem(format!(
                    "workload {name}: {} is a local step; only RPCs run here (checks go in `check`)",
                    op.name()
                )));
            }
        }
        for step in &raw.check {
            if let Action::Call(rpc) = step.action {
                errors.push(problem(format!(
                    "workload {name}: check: {} is an RPC; a check computes locally (local.*)",
                    rpc.name()
                )));
            }
        }
        let case = Case {
            id: Some(name.clone()),
            name: name.clone(),
            requires: Vec::new(),
            tags: Vec::new(),
            matrix: None,
            vectors: None,
            items: Vec::new(),
            steps: raw.setup.iter().chain(&measured).chain(&raw.check).cloned().collect(),
            location: Location::default(),
        };
        let (setup_len, measured_len) = (raw.setup.len(), measured.len());
        crate::suite::load::check_case(&case, &mut |_, message: String| {
            errors.push(problem(format!("workload {name}: {}", relabel(&message, setup_len, measured_len))));
        });
        out.push(Workload {
            name,
            title: raw.title,
            weight: raw.weight,
            data: raw.data,
            default: raw.default,
            setup: raw.setup,
            measured,
            check: raw.check,
        });
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// The suite checker numbers steps across setup, measured and check steps; say which part.
fn relabel(message: &str, setup_len: usize, measured_len: usize) -> String {
    let Some(rest) = message.strip_prefix("step ") else { return message.to_owned() };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let tail = &rest[digits.len()..];
    match digits.parse::<usize>() {
        Ok(n) if n <= setup_len => format!("setup step {n}{tail}"),
        Ok(n) if n <= setup_len + measured_len => format!("measured step {}{tail}", n - setup_len),
        Ok(n) => format!("check step {}{tail}", n - setup_len - measured_len),
        Err(_) => message.to_owned(),
    }
}

/// Reads a workload file.
pub fn load_file(path: &Path) -> Result<Vec<Workload>, Vec<WorkloadError>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![WorkloadError { source_name: name.clone(), message: e.to_string() }])?;
    parse(&name, &text)
}

/// The built-in catalogue, embedded so the binary needs no files beside it.
pub const CATALOGUE: &str = include_str!("../../workloads/catalogue.yaml");

/// The built-in workloads, parsed; an error here is a bug in [`CATALOGUE`].
pub fn catalogue() -> Result<Vec<Workload>, Vec<WorkloadError>> {
    parse("built-in catalogue", CATALOGUE)
}

/// Why one measured iteration did not succeed: the key errors are counted under.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Failure {
    /// A PKCS #11 result other than the expected one.
    Rv(CkRv),
    /// A gRPC status without a PKCS #11 result (deadline, unavailable, ...), by its number
    /// (`tonic::Code` is not ordered).
    Grpc(i32),
    /// The step expected an error and got CKR_OK.
    UnexpectedOk,
    /// The response broke the interface.
    Malformed,
    /// An argument could not be evaluated (a harness or workload problem).
    Harness,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Rv(rv) => match rv.name() {
                Some(n) => f.write_str(n),
                None => write!(f, "CK_RV {:#X}", rv.0),
            },
            Failure::Grpc(code) => {
                write!(f, "gRPC {}", crate::suite::grpc_code_name(tonic::Code::from_i32(*code)))
            }
            Failure::UnexpectedOk => f.write_str("CKR_OK (an error was expected)"),
            Failure::Malformed => f.write_str("malformed response"),
            Failure::Harness => f.write_str("harness: argument evaluation"),
        }
    }
}

/// How one measured iteration ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every step did what it expects.
    Ok {
        /// The iteration was sampled: its answers were checked too.
        checked: bool,
    },
    /// A step did not answer as expected (an error, counted by cause).
    Failed(Failure),
    /// The calls succeeded but a sampled answer is wrong: why.
    Wrong(String),
}

/// A measured step ready to run: its arguments evaluated once when the data is fixed and
/// the step reads only setup variables.
#[derive(Clone, Debug)]
struct Prepared {
    rpc: Rpc,
    fixed: Option<Args>,
    /// The fixed arguments' request, encoded once, for calls whose fields no one reads
    /// (`Client::send_encoded`); `None` where the client cannot send one.
    encoded: Option<Encoded>,
    step: Step,
}

/// A workload after its setup ran: what each iteration needs.
#[derive(Clone, Debug)]
pub struct Ready {
    /// The workload's name, which its `Recorder` entry and summaries carry.
    pub name: String,
    /// The workload's share of the iterations when it runs with others (`--mix`).
    pub weight: u32,
    vars: Vec<(String, Value)>,
    steps: Vec<Prepared>,
    check: Vec<Step>,
}

/// Setup failed: the run cannot measure this workload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("workload {workload}: setup step {index} {rpc}: {why}")]
pub struct SetupError {
    /// The workload's name.
    pub workload: String,
    /// The step, counted from 1 (a measured step when `why` is `a local step`).
    pub index: usize,
    /// The step's RPC or `local.*` operation.
    pub rpc: &'static str,
    /// What came back instead of what the step expects, or why its arguments did not
    /// evaluate.
    pub why: String,
}

fn rpc_of(step: &Step) -> Option<Rpc> {
    match step.action {
        Action::Call(rpc) => Some(rpc),
        Action::Local(_) => None,
    }
}

impl Failure {
    /// The key a call that did not do what its step expects is counted under.
    fn of(observed: &Observed) -> Failure {
        match observed {
            Observed::Ok(_) => Failure::UnexpectedOk,
            Observed::Rv(failure) => Failure::Rv(failure.rv),
            Observed::Grpc(code, _) => Failure::Grpc(*code as i32),
            // Counted by the code tonic gave it, as before it had a cause.
            Observed::NoAnswer(n) => Failure::Grpc(n.code as i32),
            Observed::Malformed(_) | Observed::RetryMisused(_) => Failure::Malformed,
            Observed::Auth(failure) => Failure::Grpc(failure.code() as i32),
        }
    }
}

/// Judges one call with the runner's judge: `Ok` when it did what the step expects.
/// Field checks are left to sampled iterations: load mode measures, conformance runs judge
/// the bytes. No profile: every refusal but the expected one counts as a failure.
fn judge(step: &Step, observed: &Observed) -> Result<(), Failure> {
    match rule(&step.expect, observed, None) {
        Ruling::Expected | Ruling::Accepted(_) => Ok(()),
        Ruling::Unimplemented | Ruling::Unexpected(_) => Err(Failure::of(observed)),
    }
}

fn save(step: &Step, fields: &crate::client::Fields, env: &mut Env, vars: Option<&mut Vec<(String, Value)>>) {
    let mut saved = Vec::new();
    for (var, field) in &step.save {
        // The loader checked that the RPC returns this field; an endpoint that omits it
        // leaves the variable unset and the next step fails as a harness error.
        if let Some(value) = fields.get(field) {
            env.set(var, value.clone());
            saved.push((var.clone(), value.clone()));
        }
    }
    if let Some(vars) = vars {
        vars.extend(saved);
    }
}

impl Workload {
    /// Runs the setup steps once and prepares the measured ones.
    pub async fn setup(&self, client: &Client) -> Result<Ready, SetupError> {
        let mut env = Env::default();
        let mut vars = Vec::new();
        for (i, step) in self.setup.iter().enumerate() {
            let fail = |why: String| SetupError {
                workload: self.name.clone(),
                index: i + 1,
                rpc: step.action.name(),
                why,
            };
            let args = env.args(step).map_err(|e| fail(e.explained()))?;
            let Some(rpc) = rpc_of(step) else {
                let Action::Local(op) = step.action else { continue };
                let fields = crate::runner::local(op, &args).map_err(|e| fail(e.explained()))?;
                save(step, &fields, &mut env, Some(&mut vars));
                continue;
            };
            let result = client.call(rpc, &args).await;
            let observed = observe(&result);
            judge(step, &observed).map_err(|_| fail(observed.describe()))?;
            if let Ok(fields) = &result {
                save(step, fields, &mut env, Some(&mut vars));
            }
        }
        let mut steps = Vec::new();
        for (i, step) in self.measured.iter().enumerate() {
            let rpc = rpc_of(step).ok_or_else(|| SetupError {
                workload: self.name.clone(),
                index: i + 1,
                rpc: step.action.name(),
                why: "a local step".into(),
            })?;
            // A step that reads a variable saved within the iteration does not evaluate
            // against the setup variables alone: it stays fresh.
            let fixed = match self.data {
                Data::Fixed => env.args(step).ok(),
                Data::Fresh => None,
            };
            let encoded =
                fixed.as_ref().and_then(|args| client.encoded(rpc, &client.encode_request(rpc, args)));
            steps.push(Prepared { rpc, fixed, encoded, step: step.clone() });
        }
        Ok(Ready { name: self.name.clone(), weight: self.weight, vars, steps, check: self.check.clone() })
    }
}

impl Ready {
    /// The variables an iteration starts from: setup's saves.
    pub fn env(&self) -> Env {
        let mut env = Env::default();
        for (name, value) in &self.vars {
            env.set(name, value.clone());
        }
        env
    }

    /// True when some step evaluates its arguments per call, so iterations need an `Env`.
    pub fn needs_env(&self) -> bool {
        self.steps.iter().any(|s| s.fixed.is_none())
    }

    /// One measured iteration: every step in order, stopping at the first that does not
    /// do what it expects. A `sampled` iteration also checks its answers: each step's
    /// `expect` field checks, and keeps every save for `check` (`env` must then start
    /// from `env()`). An unsampled one keeps only the saves a later step reads, so the
    /// last answer is not copied.
    pub async fn iterate(&self, client: &Client, env: &mut Env, sampled: bool) -> Outcome {
        let last = self.steps.len().saturating_sub(1);
        for (i, p) in self.steps.iter().enumerate() {
            // Nothing reads this answer's fields: its status is all there is to judge.
            let status_only = !sampled && (p.step.save.is_empty() || i == last);
            if let (Some(encoded), true) = (&p.encoded, status_only) {
                let result = client.send_encoded(encoded).await.map(|()| Fields::new());
                if let Err(f) = judge(&p.step, &observe(&result)) {
                    return Outcome::Failed(f);
                }
                continue;
            }
            let evaluated;
            let args = match &p.fixed {
                Some(args) => args,
                None => match env.args(&p.step) {
                    Ok(a) => {
                        evaluated = a;
                        &evaluated
                    }
                    Err(_) => return Outcome::Failed(Failure::Harness),
                },
            };
            let result = client.call(p.rpc, args).await;
            let observed = observe(&result);
            if let Err(f) = judge(&p.step, &observed) {
                return Outcome::Failed(f);
            }
            let Ok(fields) = &result else { continue };
            if sampled
                && let Expect::Ok(checks) = &p.step.expect
                && let Err(e) = crate::runner::check_fields(checks, fields, env)
            {
                return Outcome::Wrong(format!("{} {}", p.rpc.name(), e.explained()));
            }
            if !p.step.save.is_empty() && (sampled || i < last) {
                save(&p.step, fields, env, None);
            }
        }
        Outcome::Ok { checked: sampled }
    }

    /// After a sampled iteration that succeeded: the `check` steps, with its saves in
    /// `env`. Kept apart from `iterate` so that the local computation is not timed as the
    /// endpoint's latency.
    pub fn check(&self, env: &mut Env) -> Outcome {
        for step in &self.check {
            let Action::Local(op) = step.action else { continue };
            let checked =
                env.args(step).and_then(|args| crate::runner::local(op, &args)).and_then(|fields| {
                    if let Expect::Ok(checks) = &step.expect {
                        crate::runner::check_fields(checks, &fields, env)?;
                    }
                    Ok(fields)
                });
            match checked {
                Ok(fields) => save(step, &fields, env, None),
                Err(e) => return Outcome::Wrong(format!("{}: {}", op.name(), e.explained())),
            }
        }
        Outcome::Ok { checked: true }
    }

    /// True when a sampled iteration has something to check.
    pub fn checks(&self) -> bool {
        !self.check.is_empty()
            || self.steps.iter().any(|p| matches!(&p.step.expect, Expect::Ok(c) if !c.is_empty()))
    }
}

#[cfg(test)]
impl Ready {
    pub(crate) fn for_test(name: &str, weight: u32) -> Ready {
        Ready { name: name.to_owned(), weight, vars: Vec::new(), steps: Vec::new(), check: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_loads() {
        let all = catalogue().unwrap();
        assert!(all.len() >= 14, "{}", all.len());
        let multi = all.iter().find(|w| w.name == "encrypt-multipart-aes256-cbc-pad-4k").unwrap();
        assert_eq!(multi.measured.len(), 3);
    }

    #[test]
    fn a_call_is_judged_by_the_runners_judge_and_counted_by_what_came_back() {
        let step = |text: &str| parse("w.yaml", text).unwrap().remove(0).measured.remove(0);
        let random = step("workloads:\n  - name: a\n    step: {GenerateRandom: {len: 8}}\n");
        let fields = crate::client::Fields::new();
        assert_eq!(judge(&random, &Observed::Ok(&fields)), Ok(()));
        let busy = crate::status::Grep11Failure {
            rv: crate::pkcs11::CKR_DEVICE_ERROR,
            detail: String::new(),
            retry: false,
        };
        assert_eq!(judge(&random, &Observed::Rv(&busy)), Err(Failure::Rv(crate::pkcs11::CKR_DEVICE_ERROR)));
        let unimplemented = Observed::Grpc(tonic::Code::Unimplemented, "");
        assert_eq!(judge(&random, &unimplemented), Err(Failure::Grpc(tonic::Code::Unimplemented as i32)));
        assert_eq!(judge(&random, &Observed::Malformed("short".into())), Err(Failure::Malformed));
        // A refusal of the credentials is what a step expecting UNAUTHENTICATED wants.
        let refused = step(
            "workloads:\n  - name: a\n    step: {GenerateRandom: {len: 8}, expect: {grpc: UNAUTHENTICATED}}\n",
        );
        let auth = crate::client::AuthFailure::Refused {
            code: tonic::Code::Unauthenticated,
            message: "no token".into(),
        };
        assert_eq!(judge(&refused, &Observed::Auth(&auth)), Ok(()));
        assert_eq!(judge(&refused, &Observed::Ok(&fields)), Err(Failure::UnexpectedOk));
    }

    #[test]
    fn problems_are_named() {
        let e = parse(
            "w.yaml",
            "workloads:\n  - name: a\n    step: {DigestSingle: {mech: CKM_SHA257, data: hex:00}}\n",
        )
        .unwrap_err();
        assert!(e[0].to_string().contains("unknown mechanism \"CKM_SHA257\""), "{}", e[0]);
        let e = parse(
            "w.yaml",
            "workloads:\n  - name: a\n    step: {SignSingle: {mech: CKM_ECDSA, key: $k, data: hex:00}}\n",
        )
        .unwrap_err();
        assert!(e[0].to_string().contains("measured step 1 SignSingle: undefined variable $k"), "{}", e[0]);
        let e = parse("w.yaml", "workloads:\n  - name: a\n").unwrap_err();
        assert!(e[0].to_string().contains("no `step` to measure"), "{}", e[0]);
    }

    /// Fixed arguments are encoded once for a direct connection, which sends them as
    /// bytes; a `Channel` client, and arguments evaluated per call, take the full path.
    #[tokio::test]
    async fn fixed_requests_are_encoded_once_for_a_direct_connection() {
        let timeout = std::time::Duration::from_secs(5);
        let workload = |data: &str| {
            let text = format!(
                "workloads:\n  - name: a\n    data: {data}\n    step: {{GenerateRandom: {{len: 8}}}}\n"
            );
            parse("w.yaml", &text).unwrap().remove(0)
        };
        let direct = crate::embedded::direct_clients(1, crate::client::Wire::Keyblob, timeout)
            .await
            .unwrap()
            .remove(0);
        let ready = workload("fixed").setup(&direct).await.unwrap();
        let encoded = ready.steps[0].encoded.as_ref().expect("a fixed request is encoded");
        assert_eq!(encoded.rpc(), Rpc::GenerateRandom);
        assert_eq!(ready.iterate(&direct, &mut ready.env(), false).await, Outcome::Ok { checked: false });
        assert!(workload("fresh").setup(&direct).await.unwrap().steps[0].encoded.is_none());
        let channel = crate::embedded::client(crate::client::Wire::Keyblob, timeout);
        assert!(workload("fixed").setup(&channel).await.unwrap().steps[0].encoded.is_none());
    }
}
