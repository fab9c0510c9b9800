//! Executing cases against an endpoint: discover what it offers, run each case's steps in
//! parallel across cases, and classify every case as pass, fail, error, skip or
//! unsupported, with a reason for anything but pass.

mod discovery;
mod eval;
mod exec;
mod expect;
mod outcome;
pub mod reference;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

pub use eval::Env;
pub use exec::run_case;
pub use expect::{Observed, observe};
pub use outcome::{CaseResult, Outcome, StepTrace};

use crate::client::{Args, Client, Value, Wire};
use crate::pkcs11::CkMechanismType;
use crate::rpc::Rpc;
use crate::suite::{CaseInstance, Profile};

/// What the endpoint says it offers.
#[derive(Clone, Debug, Default)]
pub struct Capabilities {
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
    let wires = wires(profile, client);
    let suffixed = wires.len() > 1;
    let mut capabilities = None;
    let mut results = Vec::new();
    for wire in wires {
        let client = client.clone().with_wire(wire);
        let on_result = |r: CaseResult| {
            let r = under_wire(r, wire, suffixed);
            on_result(&r);
            r
        };
        let (caps, mut part) = run_wire(&client, cases, concurrency, profile, on_result).await;
        capabilities.get_or_insert(caps);
        results.append(&mut part);
    }
    mark_deviations(profile, &mut results);
    (capabilities.unwrap_or_else(|| Err("no wire generation to run under".into())), results)
}

/// [`run`] under the client's wire generation; `finish` completes each result.
async fn run_wire(
    client: &Client,
    cases: &[CaseInstance],
    concurrency: usize,
    profile: &Arc<Profile>,
    finish: impl Fn(CaseResult) -> CaseResult,
) -> (Result<Capabilities, String>, Vec<CaseResult>) {
    let wire = client.wire();
    let capabilities = discover(client).await;
    let mut results: Vec<Option<CaseResult>> = vec![None; cases.len()];
    let mut pending = tokio::task::JoinSet::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    for (index, instance) in cases.iter().enumerate() {
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
        let permit = Arc::clone(&limit).acquire_owned().await.expect("semaphore is never closed");
        let (client, instance, profile) = (client.clone(), instance.clone(), Arc::clone(profile));
        pending.spawn(async move {
            let _permit = permit;
            (index, run_case(&client, &instance, &profile).await)
        });
    }
    while let Some(joined) = pending.join_next().await {
        match joined {
            Ok((index, result)) => results[index] = Some(finish(result)),
            Err(e) => eprintln!("grep11-harness: a case task failed: {e}"),
        }
    }
    let mut results: Vec<CaseResult> = results
        .into_iter()
        .zip(cases)
        .map(|(r, instance)| {
            r.unwrap_or_else(|| {
                finish(CaseResult::not_run(
                    instance,
                    wire,
                    Outcome::Error,
                    "the case did not complete (harness panic)".into(),
                ))
            })
        })
        .collect();
    if let Ok(caps) = &capabilities {
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
    (capabilities, results)
}
