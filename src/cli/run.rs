//! `grep11-harness run`: suites against the embedded emulator or an endpoint, with the
//! results listed as they come (in case order), the summary table, and the verdict as the
//! last line; reports written on request, also after Ctrl-C or SIGTERM.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use grep11_harness::client::{Client, Wire};
use grep11_harness::report::{ProfileSummary, RunReport, table};
use grep11_harness::runner::{self, CaseResult, Outcome};
use grep11_harness::suite::Profile;
use tokio::sync::watch;

use super::output::{self, ColorWhen, Progress};

/// How long cases in flight may finish after Ctrl-C or SIGTERM before they are abandoned.
const GRACE: Duration = Duration::from_secs(2);

#[derive(clap::Args)]
pub struct RunArgs {
    /// Suite files or directories (default: the built-in suites, with ./suites over them).
    paths: Vec<PathBuf>,
    #[command(flatten)]
    endpoint: super::endpoint::EndpointArgs,
    /// Key fields to send: current KeyBlob messages or the earlier raw bytes.
    #[arg(long, value_enum, default_value_t = Wire::Keyblob)]
    wire: Wire,
    /// Per-call deadline. Generous by default: an HSM may take seconds for RSA-4096 key
    /// generation, and a deadline that cuts a slow right answer reports an error.
    #[arg(long, value_name = "DURATION", value_parser = super::args::positive_duration, default_value = "30s")]
    timeout: Duration,
    /// Cases run at once.
    #[arg(long, value_parser = super::args::positive_count, default_value = "8")]
    concurrency: usize,
    /// Only cases whose id contains this text (the others are reported as skipped).
    #[arg(long)]
    filter: Option<String>,
    /// Judge the run by a certification profile (`list --profiles` names them) or a profile
    /// file; prints CERTIFIED or NOT CERTIFIED.
    #[arg(long)]
    profile: Option<String>,
    /// A YAML file of known deviations (`deviations: [{case: GLOB, reason: ..}]`): cases
    /// that fail on this endpoint for a known reason, reported as such and not failing the
    /// run.
    #[arg(long, value_name = "FILE")]
    deviations: Option<PathBuf>,
    /// Write results.json, junit.xml, report.md and report.html here (created, and checked
    /// for writing before the first call).
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// Print only the cases that did not pass, and the verdict.
    #[arg(long, short)]
    quiet: bool,
    /// Colour the case lines and the verdict.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    color: ColorWhen,
}

/// The profile to judge by (the named one, or an empty one that selects everything), or
/// one line naming the flag at fault.
fn profile(args: &RunArgs) -> Result<Profile, String> {
    let mut profile = match &args.profile {
        Some(name) => super::list::profile(name, &args.paths)?,
        None => Profile::default(),
    };
    if let Some(file) = &args.deviations {
        profile.add_deviations(file).map_err(|e| format!("--deviations: {e}"))?;
    }
    if let Some(filter) = &args.filter {
        profile.only_ids_containing(filter);
    }
    Ok(profile)
}

/// Turns true on the first Ctrl-C or SIGTERM; a second one ends the process at once.
fn stop_on_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        if signal().await.is_err() {
            // No signal handling: the run simply cannot be interrupted gracefully.
            std::future::pending::<()>().await;
        }
        let _ = writeln!(
            std::io::stderr(),
            "\ngrep11-harness: interrupted; letting the cases in flight finish (at most {}s), then writing reports (again to quit now)",
            GRACE.as_secs()
        );
        let _ = tx.send(true);
        if signal().await.is_ok() {
            std::process::exit(super::EXIT_INTERRUPTED.into());
        }
    });
    rx
}

async fn signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    args.color.apply();
    let usage = |message: String| {
        super::complain(message);
        Ok(ExitCode::from(super::EXIT_USAGE))
    };
    let target = match args.endpoint.endpoint(args.timeout) {
        Ok(target) => target,
        Err(e) => return usage(e),
    };
    let profile = match profile(&args) {
        Ok(p) => Arc::new(p),
        Err(e) => return usage(e),
    };
    let Some(cases) = super::load(&args.paths) else { return Ok(ExitCode::from(super::EXIT_USAGE)) };
    if let Some(dir) = &args.report_dir
        && let Err(e) = grep11_harness::report::prepare_dir(dir)
    {
        return usage(format!("--report-dir {}: {e}", dir.display()));
    }
    let stop = stop_on_signal();
    let started = Instant::now();
    let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (endpoint, client) = match &target {
        None => {
            ("embedded emulator".to_owned(), Ok(grep11_harness::embedded::client(args.wire, args.timeout)))
        }
        Some(target) => (target.url().to_owned(), Client::connect(target, args.wire).await),
    };
    let progress = Progress::new(cases.iter().map(|c| c.id.as_str()), args.quiet);
    let (advertised, results, interrupted) = match client {
        Ok(client) => {
            let run = runner::run_until(
                &client,
                &cases,
                args.concurrency,
                &profile,
                |r| progress.finished(r),
                stop,
                GRACE,
            )
            .await;
            let advertised = run.capabilities.map(|c| c.listed.iter().map(|m| m.to_string()).collect());
            (advertised, run.results, run.interrupted)
        }
        Err(e) => {
            // Nothing can run, but every case is reported as an error so the report exists.
            super::complain(&e);
            let why = e.to_string();
            let mut results: Vec<CaseResult> = cases
                .iter()
                .map(|c| match profile.selects(c) {
                    Ok(()) => CaseResult::not_run(c, Outcome::Error, why.clone()),
                    Err(skip) => CaseResult::not_run(c, Outcome::Skip, skip),
                })
                .collect();
            runner::mark_deviations(&profile, &mut results);
            (Err(why), results, false)
        }
    };
    progress.finish();
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
        interrupted,
        cases: results,
    };
    let mut wrote = true;
    if let Some(dir) = &args.report_dir {
        match report.write(dir) {
            Ok(()) => {
                let _ = writeln!(std::io::stderr(), "grep11-harness: reports written to {}", dir.display());
            }
            Err(e) => {
                super::complain(format!("writing reports to {}: {e}", dir.display()));
                wrote = false;
            }
        }
    }
    let mut stdout = output::stdout();
    if !args.quiet {
        let _ = writeln!(stdout, "\n{}\n", table::render(&report));
    }
    let _ = writeln!(stdout, "{}", output::verdict_line(&report.verdict(), report.passed()));
    Ok(if interrupted {
        ExitCode::from(super::EXIT_INTERRUPTED)
    } else if report.passed() && wrote {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FAILED)
    })
}
