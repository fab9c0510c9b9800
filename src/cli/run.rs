use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use grep11_harness::client::{Client, Wire};
use grep11_harness::report::{ProfileSummary, RunReport, table};
use grep11_harness::runner::{self, CaseResult, Outcome};
use grep11_harness::suite::Profile;

#[derive(clap::Args)]
pub struct RunArgs {
    /// Suite files or directories.
    #[arg(default_value = "suites")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    endpoint: super::endpoint::EndpointArgs,
    /// Key fields to send: current KeyBlob messages or the earlier raw bytes.
    #[arg(long, value_enum, default_value_t = Wire::Keyblob)]
    wire: Wire,
    /// Per-call deadline. Generous by default: an HSM may take seconds for RSA-4096 key
    /// generation, and a deadline that cuts a slow right answer reports an error.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    timeout: Duration,
    /// Cases run at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Only cases whose id contains this text (the others are reported as skipped).
    #[arg(long)]
    filter: Option<String>,
    /// Judge the run by a certification profile: a name under `<suites>/profiles/` or a
    /// file; prints CERTIFIED or NOT CERTIFIED.
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

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let target = match args.endpoint.endpoint(args.timeout) {
        Ok(target) => target,
        Err(e) => {
            eprintln!("grep11-harness: error: {e}");
            return Ok(ExitCode::from(super::EXIT_USAGE));
        }
    };
    let Some(cases) = super::load(&args.paths) else { return Ok(ExitCode::from(super::EXIT_USAGE)) };
    let mut profile = match profile(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("grep11-harness: error: the profile does not load; nothing was run");
            return Ok(ExitCode::from(super::EXIT_USAGE));
        }
    };
    if let Some(filter) = &args.filter {
        profile.only_ids_containing(filter);
    }
    let profile = Arc::new(profile);
    let started = Instant::now();
    let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (endpoint, client) = match &target {
        None => {
            ("embedded emulator".to_owned(), Ok(grep11_harness::embedded::client(args.wire, args.timeout)))
        }
        Some(target) => (target.url().to_owned(), Client::connect(target, args.wire).await),
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
    let (advertised, results) = match client {
        Ok(client) => {
            let (caps, results) = runner::run(&client, &cases, args.concurrency, &profile, print).await;
            (caps.map(|c| c.listed.iter().map(|m| m.to_string()).collect()), results)
        }
        Err(e) => {
            // Nothing can run, but every case is reported as an error so the report exists.
            eprintln!("grep11-harness: error: {e}");
            let why = e.to_string();
            let mut results: Vec<CaseResult> = cases
                .iter()
                .map(|c| match profile.selects(c) {
                    Ok(()) => CaseResult::not_run(c, Outcome::Error, why.clone()),
                    Err(skip) => CaseResult::not_run(c, Outcome::Skip, skip),
                })
                .collect();
            runner::mark_deviations(&profile, &mut results);
            (Err(why), results)
        }
    };
    let report = RunReport {
        harness_version: env!("CARGO_PKG_VERSION"),
        endpoint,
        wire: args.wire,
        started_unix,
        duration: started.elapsed(),
        advertised,
        profile: args
            .profile
            .is_some()
            .then(|| ProfileSummary { name: profile.name.clone(), description: profile.description.clone() }),
        cases: results,
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "\n{}\n\n{}", table::render(&report), report.verdict());
    if report.profile.is_some() {
        for case in report.uncertified() {
            let _ = writeln!(stdout, "  {} {}", case.outcome.name(), case.id);
        }
    }
    if let Some(dir) = &args.report_dir {
        report.write(dir).with_context(|| format!("writing reports to {}", dir.display()))?;
        eprintln!("grep11-harness: reports written to {}", dir.display());
    }
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(super::EXIT_FAILED) })
}
