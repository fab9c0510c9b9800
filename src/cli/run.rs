use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use grep11_harness::client::{Client, Wire};
use grep11_harness::report::{HashedFile, ProfileSummary, RunReport, table};
use grep11_harness::runner::{self, CaseResult, Outcome};
use grep11_harness::suite::{CaseInstance, Profile};

#[derive(clap::Args)]
pub struct RunArgs {
    /// Suite files or directories.
    #[arg(default_value = "suites")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    endpoint: super::endpoint::EndpointArgs,
    /// Key fields to send and read: current KeyBlob messages or the earlier raw bytes
    /// (default keyblob). A profile that names its wire generations runs under each, and
    /// refuses this.
    #[arg(long, value_enum)]
    wire: Option<Wire>,
    /// Per-call deadline. Generous by default: an HSM may take seconds for RSA-4096 key
    /// generation, and a deadline that cuts a slow right answer reports an error.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    timeout: Duration,
    /// Cases run at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Only cases whose id contains this text, in any case (the others are reported as
    /// skipped). Not with --profile.
    #[arg(long)]
    filter: Option<String>,
    /// Judge the run by a certification profile: a name under `<suites>/profiles/` or a
    /// file. Runs the profile's whole selection (one suites directory, no --filter) and
    /// ends with CERTIFIED (exit 0) or NOT CERTIFIED (exit 1).
    #[arg(long)]
    profile: Option<String>,
    /// A YAML file of known deviations (`deviations: [{case: GLOB, reason: ..}]`): cases
    /// that fail on this endpoint for a known reason, reported as such and not failing the
    /// run.
    #[arg(long)]
    deviations: Option<PathBuf>,
    /// Write results.json, junit.xml, report.md and report.html here.
    #[arg(long)]
    report_dir: Option<PathBuf>,
}

/// The profile to judge by: the named one, or an empty one that selects everything.
fn profile(args: &RunArgs) -> Result<Profile, grep11_harness::suite::LoadError> {
    let root = args.paths.iter().find(|p| p.is_dir()).cloned().unwrap_or_else(|| PathBuf::from("suites"));
    let mut profile = match &args.profile {
        Some(name) => Profile::load(name, &root)?,
        None => Profile::default(),
    };
    if let Some(file) = &args.deviations {
        profile.add_deviations(file)?;
    }
    Ok(profile)
}

/// Why a profile run cannot go ahead as asked: a certification covers the profile's whole
/// selection, so nothing may narrow it, and every suite it names must exist.
fn refuse_narrowed(args: &RunArgs, profile: &Profile, cases: &[CaseInstance]) -> Option<String> {
    let name = &profile.name;
    if let Some(filter) = &args.filter {
        return Some(format!(
            "--profile {name} runs the profile's whole selection; --filter {filter:?} would narrow it \
             (run without --profile to run part of the suites)"
        ));
    }
    if let [one] = args.paths.as_slice()
        && !one.is_dir()
    {
        return Some(format!(
            "--profile {name} runs the profile's whole selection; {} would narrow it to one file \
             (give the suites directory, or run without --profile)",
            one.display()
        ));
    }
    if args.paths.len() > 1 {
        return Some(format!("--profile {name} takes one suites directory, not {} paths", args.paths.len()));
    }
    if let Some(wire) = args.wire
        && !profile.wires.is_empty()
    {
        let names: Vec<&str> = profile.wires.iter().map(|w| w.name()).collect();
        return Some(format!(
            "--profile {name} runs under the wire generations it names ({}); --wire {wire} would narrow it",
            names.join(", ")
        ));
    }
    let known: BTreeSet<&str> = cases.iter().map(|c| c.suite.suite.as_str()).collect();
    let unknown = profile.unknown_suites(&known);
    if !unknown.is_empty() {
        return Some(format!(
            "profile {name} names suites that no file under {} defines: {}",
            args.paths[0].display(),
            unknown.join(", ")
        ));
    }
    None
}

/// Why a run would select no case, naming what left every case out.
fn empty_selection(args: &RunArgs, profile: &Profile, cases: &[CaseInstance]) -> Option<String> {
    if cases.iter().any(|c| profile.selects(c).is_ok()) {
        return None;
    }
    let paths: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
    Some(match (&args.filter, &args.profile) {
        _ if cases.is_empty() => format!("no suite case in {}", paths.join(", ")),
        (Some(filter), _) => format!(
            "--filter {filter:?} matches none of the {} case ids in {} (ids read like `digest/kat[mech=CKM_SHA256]`; \
             `grep11-harness list` shows them)",
            cases.len(),
            paths.join(", ")
        ),
        (None, Some(name)) => format!("profile {name} selects none of the {} cases", cases.len()),
        (None, None) => "no case is selected".to_owned(),
    })
}

/// The suite files behind `cases`, each with the hash of its content.
fn suite_files(cases: &[CaseInstance]) -> std::io::Result<Vec<HashedFile>> {
    let files: BTreeSet<&std::path::Path> = cases.iter().map(|c| c.suite.file.as_path()).collect();
    files.into_iter().map(HashedFile::read).collect()
}

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let usage = |why: &str| {
        eprintln!("grep11-harness: error: {why}");
        Ok(ExitCode::from(super::EXIT_USAGE))
    };
    let target = match args.endpoint.endpoint(args.timeout) {
        Ok(target) => target,
        Err(e) => return usage(&e.to_string()),
    };
    let Some(cases) = super::load(&args.paths) else { return Ok(ExitCode::from(super::EXIT_USAGE)) };
    let mut profile = match profile(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return usage("the profile does not load; nothing was run");
        }
    };
    if args.profile.is_some()
        && let Some(why) = refuse_narrowed(&args, &profile, &cases)
    {
        return usage(&format!("{why}; nothing was run"));
    }
    if let Some(filter) = &args.filter {
        profile.only_ids_containing(filter);
    }
    if let Some(why) = empty_selection(&args, &profile, &cases) {
        return usage(&format!("{why}; nothing was run"));
    }
    let suites = suite_files(&cases).context("reading the suite files again to hash them")?;
    let profile_file = match &profile.file {
        Some(file) => Some(HashedFile::read(file).with_context(|| format!("reading {}", file.display()))?),
        None => None,
    };
    let wire = args.wire.unwrap_or_default();
    let profile = Arc::new(profile);
    let started = Instant::now();
    let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (endpoint, client) = match &target {
        None => ("embedded emulator".to_owned(), Ok(grep11_harness::embedded::client(wire, args.timeout))),
        Some(target) => (target.url().to_owned(), Client::connect(target, wire).await),
    };
    let print = |r: &CaseResult| {
        if r.outcome == Outcome::Skip {
            return;
        }
        let line = match &r.message {
            None => format!("{:<11} {}", r.outcome.name(), r.id),
            Some(m) => format!("{:<11} {}: {m}", r.outcome.name(), r.id),
        };
        // A closed stdout (`run | head`) is a normal end, not a failure.
        let _ = writeln!(std::io::stdout(), "{line}");
    };
    let wires = if profile.wires.is_empty() { vec![wire] } else { profile.wires.clone() };
    let (advertised, results) = match client {
        Ok(client) => {
            let (caps, results) = runner::run(&client, &cases, args.concurrency, &profile, print).await;
            (caps.map(|c| c.listed.iter().map(|m| m.to_string()).collect()), results)
        }
        Err(e) => {
            // Nothing can run, but every case is reported as an error so the report exists.
            eprintln!("grep11-harness: error: {e}");
            let why = e.to_string();
            let mut results: Vec<CaseResult> = wires
                .iter()
                .flat_map(|&w| {
                    cases.iter().map(move |c| (w, c)).map(|(w, c)| {
                        let mut r = match profile.selects(c) {
                            Ok(()) => CaseResult::not_run(c, w, Outcome::Error, why.clone()),
                            Err(skip) => CaseResult::not_run(c, w, Outcome::Skip, skip),
                        };
                        if wires.len() > 1 {
                            r.id = format!("{}@{w}", r.id);
                        }
                        r
                    })
                })
                .collect();
            runner::mark_deviations(&profile, &mut results);
            (Err(why), results)
        }
    };
    let report = RunReport {
        harness_version: env!("CARGO_PKG_VERSION"),
        endpoint,
        wires,
        started_unix,
        duration: started.elapsed(),
        advertised,
        profile: args.profile.is_some().then(|| ProfileSummary {
            name: profile.name.clone(),
            description: profile.description.clone(),
            file: profile_file,
        }),
        filter: args.filter.clone(),
        suites,
        cases: results,
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "\n{}\n\n{}", table::render(&report), report.verdict());
    // Under a profile, what kept it from certifying; without one, the stale deviations
    // (every other failure has its line above).
    let listed: Vec<&CaseResult> = if report.profile.is_some() {
        report.uncertified().collect()
    } else {
        report.cases.iter().filter(|c| c.deviation_did_not_occur()).collect()
    };
    for case in listed {
        let line = match &case.deviation {
            Some(reason) if case.deviation_did_not_occur() => {
                format!("  known deviation did not occur: {} (listed as: {reason})", case.id)
            }
            Some(reason) => format!("  {} {} (known deviation: {reason})", case.outcome.name(), case.id),
            None => format!("  {} {}", case.outcome.name(), case.id),
        };
        let _ = writeln!(stdout, "{line}");
    }
    if let Some(dir) = &args.report_dir {
        report.write(dir).with_context(|| format!("writing reports to {}", dir.display()))?;
        eprintln!("grep11-harness: reports written to {}", dir.display());
    }
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(super::EXIT_FAILED) })
}
