//! Mutation testing of the suites: the `full` certification profile (both wire
//! generations, the runner `grep11-harness run --profile full` uses) against the embedded
//! emulator committing one fault at a time (`emulator::fault`). Every correctness fault
//! must make at least one case `fail` (a wrong answer noticed, not an `error`) and the
//! profile's verdict NOT CERTIFIED, which is exit code 1; the benign faults (a transient
//! refusal with Retry, latency) must make none fail or error, and the profile certifies.
//! One libtest-mimic trial per fault; the table fault -> cases that caught it is printed
//! at the end.
//!
//! A debug build runs the whole suite directory in about 40 s per wire generation, too
//! slow twenty times over, so by default each fault runs the profile's cases from the
//! suites listed for it in [`SUITES`] (the ones whose functions it touches, plus a broad
//! set for the benign faults): a representative selection, not the whole profile. With
//! `GREP11_MUTATION_FULL=1` every fault runs the profile's whole selection; the README's
//! table comes from that mode in a release build (`GREP11_MUTATION_FULL=1 cargo test
//! --release --test mutation`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use grep11_harness::client::Wire;
use grep11_harness::emulator::fault::{Fault, Kind};
use grep11_harness::report::{ProfileSummary, RunReport, Verdict};
use grep11_harness::runner::{self, Outcome};
use grep11_harness::suite::{CaseInstance, Profile};
use libtest_mimic::{Arguments, Failed, Trial};

/// The suites each fault runs by default: enough to prove the point in a debug build.
const SUITES: &[(&str, &[&str])] = &[
    ("ciphertext-flip", &["aes"]),
    ("wrong-digest", &["digest"]),
    ("bad-signature", &["ecdsa"]),
    ("verify-accepts-corrupt", &["ecdsa"]),
    ("key-type-as-mechanism-invalid", &["aes", "cmac", "des3"]),
    ("data-len-codes-swapped", &["aes", "des3"]),
    ("ignores-encrypt-false", &["attributes", "aes"]),
    ("leaks-sensitive-value", &["attributes"]),
    ("state-does-not-advance", &["digest", "aes"]),
    ("cbc-pad-zero-padding", &["aes", "des3"]),
    ("random-truncated", &["random"]),
    ("mechanism-info-swapped", &["mechanisms"]),
    ("mechanism-list-drops", &["mechanisms", "digest"]),
    ("unwrap-ignores-template", &["keys", "keywrap", "attributes"]),
    ("wrong-checksum", &["aes", "des3"]),
    ("set-attribute-ignored", &["attributes"]),
    ("wrap-returns-clear", &["wrap-matrix"]),
    ("ecdh-kdf-ignores-shared-data", &["ec-curves"]),
    ("ec-point-disagrees-with-spki", &["ec-curves"]),
    ("random-degenerate", &["random"]),
    ("keys-in-bytes-only", &["keys"]),
    ("keys-in-keyblob-only", &["keys"]),
    ("retry-every-refusal", &["digest"]),
    ("transient-unavailable", BROAD),
    ("latency", BROAD),
];

/// Faults that one particular check exists to catch: some failed case's id must start with
/// the prefix, so the fault is shown caught by that check and not by accident elsewhere.
const CAUGHT_BY: &[(&str, &str)] = &[
    ("wrap-returns-clear", "wrap-matrix/secret-"),
    ("ecdh-kdf-ignores-shared-data", "ec-curves/ecdh-kdf["),
    ("ec-point-disagrees-with-spki", "ec-curves/ecdsa-curves["),
    ("random-degenerate", "random/generate-1mib"),
];

/// Every RPC of the seed table through its cheaper suites: where a benign fault would show
/// if it broke anything. RSA key generation, the AES matrices and the 1 MiB inputs are
/// left to the full mode, to keep each trial under 10 s in a debug build.
const BROAD: &[&str] =
    &["random", "mechanisms", "digest", "des3", "cmac", "ecdsa", "keys", "keywrap", "attributes"];

/// What one fault's run showed.
struct Caught {
    /// The profile's verdict on the run: what `run --profile full` would print and exit by.
    verdict: Verdict,
    cases: usize,
    failed: Vec<String>,
    errored: Vec<String>,
    retries: u64,
    elapsed: Duration,
}

fn suites_for(fault: Fault, full: bool) -> Option<&'static [&'static str]> {
    if full {
        return None;
    }
    let (_, suites) = SUITES.iter().find(|(name, _)| *name == fault.name())?;
    Some(suites)
}

fn run_fault(
    runtime: &tokio::runtime::Runtime,
    cases: &[CaseInstance],
    profile: &Arc<Profile>,
    fault: Fault,
    full: bool,
) -> Result<Caught, String> {
    let selected: Vec<CaseInstance> = match suites_for(fault, full) {
        None if !full => return Err(format!("{fault} has no entry in SUITES")),
        None => cases.to_vec(),
        Some(suites) => cases.iter().filter(|c| suites.contains(&c.suite.suite.as_str())).cloned().collect(),
    };
    let started = Instant::now();
    let (_, results) = runtime.block_on(async {
        let client = grep11_harness::embedded::faulty_client(
            [fault].into_iter().collect(),
            Wire::Keyblob,
            Duration::from_secs(5),
        );
        // The benign faults make calls wait (backoff, latency) rather than work: more in
        // flight keeps their trials short without changing what is checked.
        let concurrency = if fault.kind() == Kind::Benign { 32 } else { 8 };
        runner::run(&client, &selected, concurrency, profile, |_| {}).await
    });
    let report = RunReport {
        harness_version: env!("CARGO_PKG_VERSION"),
        endpoint: format!("embedded emulator with fault {fault}"),
        wires: profile.wires.clone(),
        started_unix: 0,
        duration: started.elapsed(),
        advertised: Ok(Vec::new()),
        interrupted: false,
        profile: Some(ProfileSummary {
            name: profile.name.clone(),
            description: profile.description.clone(),
            file: None,
        }),
        filter: None,
        suites: Vec::new(),
        cases: results.clone(),
        comparison: None,
    };
    let ids = |outcome: Outcome| {
        results.iter().filter(|r| r.outcome == outcome).map(|r| r.id.clone()).collect::<Vec<_>>()
    };
    Ok(Caught {
        verdict: report.judgement(),
        cases: results.len(),
        failed: ids(Outcome::Fail),
        errored: ids(Outcome::Error),
        retries: results.iter().map(|r| u64::from(r.retries)).sum(),
        elapsed: started.elapsed(),
    })
}

fn judge(fault: Fault, caught: &Caught) -> Result<(), Failed> {
    match fault.kind() {
        Kind::Correctness if caught.failed.is_empty() => Err(format!(
            "{fault} was caught by none of {} cases ({} errored: {:?}); a suite gap",
            caught.cases,
            caught.errored.len(),
            caught.errored.iter().take(3).collect::<Vec<_>>()
        )
        .into()),
        Kind::Correctness if caught.verdict != Verdict::NotCertified => {
            Err(format!("{fault}: the profile's verdict is {:?}, not NOT CERTIFIED", caught.verdict).into())
        }
        Kind::Correctness => match CAUGHT_BY.iter().find(|(name, _)| *name == fault.name()) {
            Some((_, prefix)) if !caught.failed.iter().any(|id| id.starts_with(prefix)) => Err(format!(
                "{fault} should be caught by {prefix}* but only {:?} failed",
                caught.failed.iter().take(5).collect::<Vec<_>>()
            )
            .into()),
            _ => Ok(()),
        },
        Kind::Benign if !caught.failed.is_empty() || !caught.errored.is_empty() => Err(format!(
            "benign fault {fault} failed {:?} and errored {:?}",
            caught.failed.iter().take(5).collect::<Vec<_>>(),
            caught.errored.iter().take(5).collect::<Vec<_>>()
        )
        .into()),
        Kind::Benign if fault == Fault::TransientUnavailable && caught.retries == 0 => {
            Err("transient-unavailable ran but no call was retried".into())
        }
        Kind::Benign if caught.verdict != Verdict::Certified => {
            Err(format!("benign fault {fault}: the profile's verdict is {:?}", caught.verdict).into())
        }
        Kind::Benign => Ok(()),
    }
}

fn main() {
    let args = Arguments::from_args();
    let full = std::env::var_os("GREP11_MUTATION_FULL").is_some_and(|v| v == "1");
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime"),
    );
    let suites = grep11_harness::suite::load_paths(&["suites".into()]).unwrap_or_else(|errors| {
        for e in &errors {
            eprintln!("{e}");
        }
        panic!("{} problem(s) in suites/", errors.len());
    });
    let cases = Arc::new(grep11_harness::suite::expand(suites));
    let profile =
        Arc::new(Profile::load("full", Path::new("suites")).expect("suites/profiles/full.yaml loads"));
    assert_eq!(profile.wires, [Wire::Keyblob, Wire::Legacy], "the full profile covers both wire generations");
    let table: Arc<Mutex<BTreeMap<usize, String>>> = Arc::default();
    let trials = Fault::all()
        .enumerate()
        .map(|(index, fault)| {
            let (runtime, cases, table) = (Arc::clone(&runtime), Arc::clone(&cases), Arc::clone(&table));
            let profile = Arc::clone(&profile);
            Trial::test(fault.name(), move || {
                let caught = run_fault(&runtime, &cases, &profile, fault, full)?;
                let examples: Vec<&str> = caught.failed.iter().take(3).map(String::as_str).collect();
                let row = format!(
                    "| {fault} | {} | {} | {} of {} | {} | {} | {:.1} s |",
                    if fault.kind() == Kind::Benign { "benign" } else { "correctness" },
                    caught.verdict.label(),
                    caught.failed.len(),
                    caught.cases,
                    if examples.is_empty() { "-".to_owned() } else { examples.join(", ") },
                    caught.retries,
                    caught.elapsed.as_secs_f64(),
                );
                table.lock().unwrap_or_else(|e| e.into_inner()).insert(index, row);
                judge(fault, &caught)
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    let table = table.lock().unwrap_or_else(|e| e.into_inner());
    if !table.is_empty() {
        println!("\nmutation table ({} mode):\n", if full { "full" } else { "per-fault suites" });
        println!("| fault | kind | full profile | cases failed | examples | retries | time |");
        println!("|---|---|---|---|---|---|---|");
        for row in table.values() {
            println!("{row}");
        }
    }
    conclusion.exit();
}
