//! Executing cases against an endpoint: discover what it offers, run each case's steps in
//! parallel across cases, and classify every case as pass, fail, error, skip or
//! unsupported, with a reason for anything but pass.

mod answer;
mod blame;
pub mod compare;
mod discovery;
mod error;
mod eval;
mod exec;
mod expect;
mod outcome;
pub mod reference;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

pub use answer::{Shape, StepAnswer};
pub(crate) use blame::Blame;
pub(crate) use eval::Env;
pub(crate) use exec::local;
pub use exec::run_case;
pub(crate) use expect::{Observed, Ruling, check_fields, observe, rule};
pub use outcome::{CaseResult, Outcome, StepTrace};

use crate::client::{Args, Client, Value, Wire};
use crate::pkcs11::CkMechanismType;
use crate::rpc::Rpc;
use crate::suite::{CaseInstance, Profile};

/// What the endpoint says it offers.
#[derive(Clone, Debug, Default)]
pub struct Capabilities {
    /// The distinct mechanisms of `GetMechanismList`.
    pub mechanisms: BTreeSet<CkMechanismType>,
    /// The list as it came, repetitions included.
    pub listed: Vec<CkMechanismType>,
}

/// Asks the endpoint for its mechanism list.
pub async fn discover(client: &Client) -> Result<Capabilities, String> {
    match client.call(Rpc::GetMechanismList, &Args::default()).await {
        Ok(fields) => match fields.get("Mechs") {
            Some(Value::Mechanisms(m)) => {
                let listed: Vec<CkMechanismType> = m.iter().map(|&v| CkMechanismType(v)).collect();
                Ok(Capabilities { mechanisms: listed.iter().copied().collect(), listed })
            }
            _ => Err("GetMechanismList returned no mechanism list".into()),
        },
        Err(e) => Err(format!("GetMechanismList failed: {}", expect::observe(&Err(e)).describe())),
    }
}

impl CaseResult {
    /// The result of a case that did not run, with the reason.
    pub fn not_run(instance: &CaseInstance, wire: Wire, outcome: Outcome, message: String) -> CaseResult {
        CaseResult {
            id: instance.id.clone(),
            wire,
            suite: instance.suite.suite.clone(),
            name: instance.case().name.clone(),
            file: instance.suite.file.display().to_string(),
            line: instance.case().location.line,
            outcome,
            message: Some(message),
            duration: Duration::ZERO,
            functions: BTreeSet::new(),
            mechanisms: instance.requires.clone(),
            calls: instance.calls.clone(),
            failed_call: None,
            deviation: None,
            retries: 0,
            resent: 0,
            trace: Vec::new(),
        }
    }
}

/// Marks the results the profile lists as known deviations, with its reason.
pub fn mark_deviations(profile: &Profile, results: &mut [CaseResult]) {
    for result in results {
        result.deviation = profile.deviation(&result.id, result.base_id()).map(str::to_owned);
    }
}

/// The wire generations a run covers: the profile's, or else the client's own.
pub fn wires(profile: &Profile, client: &Client) -> Vec<Wire> {
    if profile.wires.is_empty() { vec![client.wire()] } else { profile.wires.clone() }
}

/// Marks `result` as run under `wire`, suffixing its id when the run covers more than one.
fn under_wire(mut result: CaseResult, wire: Wire, suffixed: bool) -> CaseResult {
    result.wire = wire;
    if suffixed {
        result.id = format!("{}@{wire}", result.id);
    }
    result
}

/// Runs every case the profile selects (at most `concurrency` at once; the others are
/// `skip` with the reason), then the `discovery/*` cases the endpoint's mechanism list
/// generates, under each wire generation the profile names (or the client's, if it names
/// none); `on_result` sees each result as it completes. Results come back in case order,
/// one wire generation after the other. When discovery fails, every case is an `error`
/// with that reason: the run still completes and can be reported.
pub async fn run(
    client: &Client,
    cases: &[CaseInstance],
    concurrency: usize,
    profile: &Arc<Profile>,
    on_result: impl Fn(&CaseResult),
) -> (Result<Capabilities, String>, Vec<CaseResult>) {
    let (_keep, never) = tokio::sync::watch::channel(false);
    let run = run_until(client, cases, concurrency, profile, on_result, never, Duration::ZERO).await;
    (run.capabilities, run.results)
}

/// What [`run_until`] produced.
pub struct Run {
    /// The endpoint's mechanism list, or why it could not be read (every case is then an
    /// `error` with that reason).
    pub capabilities: Result<Capabilities, String>,
    /// In case order, one per case (and the generated ones after them), one wire
    /// generation after the other.
    pub results: Vec<CaseResult>,
    /// The stop signal came before every case had finished.
    pub interrupted: bool,
}

/// Why a case has no result of its own after an interruption.
pub const NOT_STARTED: &str = "not run: the run was interrupted before this case started";
const CUT_SHORT: &str = "interrupted while running: no answer within the grace period after the stop signal";

/// Keeps a finished case's result, completed by `finish` (which also shows it).
fn record(
    results: &mut [Option<CaseResult>],
    joined: Result<(usize, CaseResult), tokio::task::JoinError>,
    finish: &impl Fn(CaseResult) -> CaseResult,
) {
    match joined {
        Ok((index, result)) => results[index] = Some(finish(result)),
        Err(e) if e.is_cancelled() => {}
        Err(e) => eprintln!("grep11-harness: a case task failed: {e}"),
    }
}

/// Resolves when `stop` turns true; never, once its sender is gone without saying so.
async fn stop_signal(stop: &mut tokio::sync::watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// [`run`], stopping early when `stop` turns true: no case starts after that, the cases in
/// flight get `grace` to finish and are then abandoned (`error`), the ones never started
/// (under this wire generation and the ones after it) are `skip` with [`NOT_STARTED`], and
/// no further discovery cases are generated.
pub async fn run_until(
    client: &Client,
    cases: &[CaseInstance],
    concurrency: usize,
    profile: &Arc<Profile>,
    on_result: impl Fn(&CaseResult),
    mut stop: tokio::sync::watch::Receiver<bool>,
    grace: Duration,
) -> Run {
    let wires = wires(profile, client);
    let suffixed = wires.len() > 1;
    let mut capabilities = None;
    let mut results = Vec::new();
    let mut interrupted = false;
    for wire in wires {
        let finish = |r: CaseResult| {
            let r = under_wire(r, wire, suffixed);
            on_result(&r);
            r
        };
        if interrupted {
            for instance in cases {
                results.push(finish(CaseResult::not_run(instance, wire, Outcome::Skip, NOT_STARTED.into())));
            }
            continue;
        }
        let client = client.clone().with_wire(wire);
        let part = run_wire(&client, cases, concurrency, profile, finish, &mut stop, grace).await;
        capabilities.get_or_insert(part.capabilities);
        results.extend(part.results);
        interrupted = part.interrupted;
    }
    mark_deviations(profile, &mut results);
    Run {
        capabilities: capabilities.unwrap_or_else(|| Err("no wire generation to run under".into())),
        results,
        interrupted,
    }
}

/// [`run_until`] under the client's wire generation; `finish` completes each result.
async fn run_wire(
    client: &Client,
    cases: &[CaseInstance],
    concurrency: usize,
    profile: &Arc<Profile>,
    finish: impl Fn(CaseResult) -> CaseResult,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    grace: Duration,
) -> Run {
    let wire = client.wire();
    let stopped = |stop: &tokio::sync::watch::Receiver<bool>| *stop.borrow();
    let capabilities = tokio::select! {
        caps = discover(client) => caps,
        _ = stop_signal(stop) => Err("the run was interrupted during discovery".to_owned()),
    };
    let mut results: Vec<Option<CaseResult>> = vec![None; cases.len()];
    let mut started = vec![false; cases.len()];
    let mut pending = tokio::task::JoinSet::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    for (index, instance) in cases.iter().enumerate() {
        if stopped(stop) {
            break;
        }
        let immediate = match (&capabilities, profile.selects(instance)) {
            (_, Err(why)) => Some(CaseResult::not_run(instance, wire, Outcome::Skip, why)),
            (Err(why), _) => Some(CaseResult::not_run(instance, wire, Outcome::Error, why.clone())),
            (Ok(caps), Ok(())) => {
                let missing: Vec<String> = instance
                    .requires
                    .iter()
                    .filter(|m| !caps.mechanisms.contains(m))
                    .map(|m| m.to_string())
                    .collect();
                (!missing.is_empty()).then(|| {
                    CaseResult::not_run(
                        instance,
                        wire,
                        Outcome::Unsupported,
                        format!("the endpoint does not offer {}", missing.join(", ")),
                    )
                })
            }
        };
        if let Some(result) = immediate {
            results[index] = Some(finish(result));
            continue;
        }
        // Cases start in case order (the permit is taken before the task exists), so a run
        // with --concurrency 1 is one reproducible sequence of calls. The semaphore is never
        // closed, so acquiring cannot fail.
        // While waiting for a permit, results of the cases in flight are reported as they
        // come, not after the last case has started.
        let permit = loop {
            tokio::select! {
                biased;
                Some(joined) = pending.join_next() => record(&mut results, joined, &finish),
                permit = Arc::clone(&limit).acquire_owned() => {
                    break Some(permit.expect("semaphore is never closed"))
                }
                _ = stop_signal(stop) => break None,
            }
        };
        let Some(permit) = permit else { break };
        started[index] = true;
        let (client, instance, profile) = (client.clone(), instance.clone(), Arc::clone(profile));
        pending.spawn(async move {
            let _permit = permit;
            (index, run_case(&client, &instance, &profile).await)
        });
    }
    loop {
        tokio::select! {
            joined = pending.join_next() => match joined {
                Some(joined) => record(&mut results, joined, &finish),
                None => break,
            },
            _ = stop_signal(stop), if !stopped(stop) => {}
        }
        if stopped(stop) {
            // Let the cases in flight finish within the grace period, then abandon them.
            let deadline = tokio::time::Instant::now() + grace;
            while let Ok(Some(joined)) = tokio::time::timeout_at(deadline, pending.join_next()).await {
                record(&mut results, joined, &finish);
            }
            pending.abort_all();
            while let Some(joined) = pending.join_next().await {
                record(&mut results, joined, &finish);
            }
            break;
        }
    }
    let interrupted = stopped(stop) && results.iter().any(Option::is_none);
    let mut results: Vec<CaseResult> = results
        .into_iter()
        .zip(cases)
        .zip(started)
        .map(|((r, instance), started)| {
            r.unwrap_or_else(|| {
                finish(match (interrupted, started) {
                    (true, false) => CaseResult::not_run(instance, wire, Outcome::Skip, NOT_STARTED.into()),
                    (true, true) => CaseResult::not_run(instance, wire, Outcome::Error, CUT_SHORT.into()),
                    (false, _) => CaseResult::not_run(
                        instance,
                        wire,
                        Outcome::Error,
                        "the case did not complete (harness panic)".into(),
                    ),
                })
            })
        })
        .collect();
    if let (Ok(caps), false) = (&capabilities, interrupted) {
        let mut generated = vec![discovery::list_is_unique(&caps.listed)];
        for mech in &caps.mechanisms {
            generated.push(discovery::mechanism_info(client, *mech).await);
        }
        for mech in &caps.mechanisms {
            generated.extend(discovery::key_size_range(client, *mech).await);
        }
        // Mechanisms the selected cases need that the list leaves out: their cases were
        // `unsupported`, which is right only if the endpoint really lacks them.
        let unlisted: BTreeSet<CkMechanismType> = cases
            .iter()
            .filter(|instance| profile.selects(instance).is_ok())
            .flat_map(|instance| instance.requires.iter().copied())
            .filter(|m| !caps.mechanisms.contains(m))
            .collect();
        for mech in unlisted {
            generated.push(discovery::unlisted_mechanism(client, mech).await);
        }
        for case in generated.into_iter().filter(|c| profile.selects_id(&c.id)) {
            results.push(finish(case));
        }
    }
    Run { capabilities, results, interrupted }
}
