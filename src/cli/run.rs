//! `grep11-harness run`: suites against the embedded emulator or an endpoint, with the
//! results listed as they come (in case order), the summary table, and the verdict as the
//! last line; reports written on request, also after Ctrl-C or SIGTERM.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use tokio::sync::watch;

use crate::client::{Client, Endpoint, Wire};
use crate::report::{HashedFile, ProfileSummary, RunReport, table};
use crate::runner::compare::{Comparison, Side};
use crate::runner::{self, CaseResult, Outcome};
use crate::suite::{CaseInstance, Profile, Reasoned};

use super::output::{self, ColorWhen, Progress};

/// How long cases in flight may finish after Ctrl-C or SIGTERM before they are abandoned.
const GRACE: Duration = Duration::from_secs(2);

#[derive(clap::Args)]
pub struct RunArgs {
    /// Suite files or directories (default: the built-in suites, with ./suites over them).
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
    #[arg(long, value_name = "DURATION", value_parser = super::args::positive_duration, default_value = "30s")]
    timeout: Duration,
    /// Cases run at once.
    #[arg(long, value_parser = super::args::positive_count, default_value = "8")]
    concurrency: usize,
    /// Only cases whose id contains this text, in any case (the others are reported as
    /// skipped). Not with --profile.
    #[arg(long)]
    filter: Option<String>,
    /// Judge the run by a certification profile (`list --profiles` names them) or a profile
    /// file. Runs the profile's whole selection (one suites directory, no --filter) and
    /// ends with CERTIFIED (exit 0) or NOT CERTIFIED (exit 1).
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
    #[command(flatten)]
    compare: super::endpoint::CompareArgs,
    /// Key fields to send to and read from the --compare endpoint (default: as --wire).
    #[arg(long, value_enum, value_name = "WIRE", requires = "compare_endpoint")]
    compare_wire: Option<Wire>,
    /// Per-call deadline for the --compare endpoint (default: as --timeout).
    #[arg(long, value_name = "DURATION", value_parser = super::args::positive_duration, requires = "compare_endpoint")]
    compare_timeout: Option<Duration>,
    /// A YAML file of known divergences, in the --deviations format (`deviations: [{case:
    /// GLOB, reason: ..}]`): listed divergences do not fail the comparison; an entry that
    /// matches no divergence does, until it goes.
    #[arg(long, value_name = "FILE", requires = "compare_endpoint")]
    compare_allow: Option<PathBuf>,
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
    let wire_flag = match (args.wire, args.compare_wire) {
        (Some(wire), _) => Some(("--wire", wire)),
        (None, Some(wire)) => Some(("--compare-wire", wire)),
        (None, None) => None,
    };
    if let Some((flag, wire)) = wire_flag
        && !profile.wires.is_empty()
    {
        let names: Vec<&str> = profile.wires.iter().map(|w| w.name()).collect();
        return Some(format!(
            "--profile {name} runs under the wire generations it names ({}); {flag} {wire} would narrow it",
            names.join(", ")
        ));
    }
    let known: BTreeSet<&str> = cases.iter().map(|c| c.suite.suite.as_str()).collect();
    let unknown = profile.unknown_suites(&known);
    if !unknown.is_empty() {
        return Some(format!(
            "profile {name} names suites that no file in {} defines: {}",
            paths_label(&args.paths),
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
    let paths = paths_label(&args.paths);
    Some(match (&args.filter, &args.profile) {
        _ if cases.is_empty() => format!("no suite case in {paths}"),
        (Some(filter), _) => format!(
            "--filter {filter:?} matches none of the {} case ids in {} (ids read like `digest/kat[mech=CKM_SHA256]`; \
             `grep11-harness list` shows them)",
            cases.len(),
            paths
        ),
        (None, Some(name)) => format!("profile {name} selects none of the {} cases", cases.len()),
        (None, None) => "no case is selected".to_owned(),
    })
}

/// The suites a run reads, as a user named them.
fn paths_label(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "the built-in suites".to_owned();
    }
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// The suite files behind `cases`, each with the hash of its content.
fn suite_files(cases: &[CaseInstance]) -> std::io::Result<Vec<HashedFile>> {
    let files: BTreeSet<&std::path::Path> = cases.iter().map(|c| c.suite.file.as_path()).collect();
    files.into_iter().map(HashedFile::read).collect()
}

/// One endpoint's run: its results and what the report says of it.
struct SideRun {
    endpoint: String,
    advertised: Result<Vec<String>, String>,
    results: Vec<CaseResult>,
    interrupted: bool,
}

/// Runs `cases` against `target` (`None`: a new embedded emulator) under each of `wires`;
/// when no connection can be had, every case is reported as an error so the report exists.
#[allow(clippy::too_many_arguments)]
async fn run_side(
    target: Option<&Endpoint>,
    wire: Wire,
    wires: &[Wire],
    timeout: Duration,
    cases: &[CaseInstance],
    args: &RunArgs,
    profile: &Arc<Profile>,
    on_result: impl Fn(&CaseResult),
    stop: watch::Receiver<bool>,
) -> SideRun {
    let (endpoint, client) = match target {
        None => ("embedded emulator".to_owned(), Ok(crate::embedded::client(wire, timeout))),
        Some(target) => (target.url().to_owned(), Client::connect(target, wire).await),
    };
    let suffixed = wires.len() > 1;
    match client {
        Ok(client) => {
            let run =
                runner::run_until(&client, cases, args.concurrency, profile, on_result, stop, GRACE).await;
            let advertised = run.capabilities.map(|c| c.listed.iter().map(|m| m.to_string()).collect());
            SideRun { endpoint, advertised, results: run.results, interrupted: run.interrupted }
        }
        Err(e) => {
            super::complain(format!("{endpoint}: {e}"));
            let why = e.to_string();
            let mut results: Vec<CaseResult> = wires
                .iter()
                .flat_map(|&w| {
                    cases.iter().map(move |c| (w, c)).map(|(w, c)| {
                        let mut r = match profile.selects(c) {
                            Ok(()) => CaseResult::not_run(c, w, Outcome::Error, why.clone()),
                            Err(skip) => CaseResult::not_run(c, w, Outcome::Skip, skip),
                        };
                        if suffixed {
                            r.id = format!("{}@{w}", r.id);
                        }
                        r
                    })
                })
                .collect();
            runner::mark_deviations(profile, &mut results);
            SideRun { endpoint, advertised: Err(why), results, interrupted: false }
        }
    }
}

/// The allow file's entries (`--compare-allow`, the `--deviations` format).
fn allow_entries(args: &RunArgs) -> Result<Vec<Reasoned>, String> {
    let Some(file) = &args.compare_allow else { return Ok(Vec::new()) };
    let mut loaded = Profile::default();
    loaded.add_deviations(file).map_err(|e| format!("--compare-allow: {e}"))?;
    Ok(loaded.deviations)
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
    let compare_timeout = args.compare_timeout.unwrap_or(args.timeout);
    let compare_target = match args.compare.endpoint(compare_timeout) {
        Ok(target) => target,
        Err(e) => return usage(e),
    };
    let comparing = args.compare.endpoint.is_some();
    let allow = match allow_entries(&args) {
        Ok(allow) => allow,
        Err(e) => return usage(e),
    };
    let profile = match profile(&args) {
        Ok(p) => Arc::new(p),
        Err(e) => return usage(e),
    };
    let Some(cases) = super::load(&args.paths) else { return Ok(ExitCode::from(super::EXIT_USAGE)) };
    if args.profile.is_some()
        && let Some(why) = refuse_narrowed(&args, &profile, &cases)
    {
        return usage(format!("{why}; nothing was run"));
    }
    if let Some(why) = empty_selection(&args, &profile, &cases) {
        return usage(format!("{why}; nothing was run"));
    }
    let suites = suite_files(&cases).context("reading the suite files again to hash them")?;
    let profile_file = match &profile.file {
        Some(file) => Some(HashedFile::read(file).with_context(|| format!("reading {}", file.display()))?),
        None => None,
    };
    let wire = args.wire.unwrap_or_default();
    let compare_wire = args.compare_wire.unwrap_or(wire);
    if let Some(dir) = &args.report_dir
        && let Err(e) = crate::report::prepare_dir(dir)
    {
        return usage(format!("--report-dir {}: {e}", dir.display()));
    }
    let stop = stop_on_signal();
    let started = Instant::now();
    let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let wires = if profile.wires.is_empty() { vec![wire] } else { profile.wires.clone() };
    let compare_wires = if profile.wires.is_empty() { vec![compare_wire] } else { profile.wires.clone() };
    let suffixed = wires.len() > 1;
    let ids: Vec<String> = wires
        .iter()
        .flat_map(|w| {
            cases.iter().map(move |c| if suffixed { format!("{}@{w}", c.id) } else { c.id.clone() })
        })
        .collect();
    // Comparing, the case lines of two runs would interleave: the divergence table says
    // what matters, and each side's report has the rest.
    let progress = Progress::new(ids.iter().map(String::as_str), args.quiet || comparing);
    let side_a = run_side(
        target.as_ref(),
        wire,
        &wires,
        args.timeout,
        &cases,
        &args,
        &profile,
        |r| {
            if !comparing {
                progress.finished(r)
            }
        },
        stop.clone(),
    );
    let (side_a, side_b) = if comparing {
        let side_b = run_side(
            compare_target.as_ref(),
            compare_wire,
            &compare_wires,
            compare_timeout,
            &cases,
            &args,
            &profile,
            |_| {},
            stop,
        );
        let (a, b) = tokio::join!(side_a, side_b);
        (a, Some(b))
    } else {
        (side_a.await, None)
    };
    progress.finish();
    let report_of = |side: SideRun, wires: Vec<Wire>| RunReport {
        harness_version: env!("CARGO_PKG_VERSION"),
        endpoint: side.endpoint,
        wires,
        started_unix,
        duration: started.elapsed(),
        advertised: side.advertised,
        profile: args.profile.is_some().then(|| ProfileSummary {
            name: profile.name.clone(),
            description: profile.description.clone(),
            file: profile_file.clone(),
        }),
        filter: args.filter.clone(),
        suites: suites.clone(),
        interrupted: side.interrupted,
        cases: side.results,
        comparison: None,
    };
    let mut report = report_of(side_a, wires);
    let compared = side_b.map(|b| report_of(b, compare_wires));
    if let Some(b) = &compared {
        report.comparison = Some(comparison(&report, b, &allow));
    }
    let interrupted = report.interrupted || compared.as_ref().is_some_and(|b| b.interrupted);
    let mut wrote = true;
    if let Some(dir) = &args.report_dir {
        let written = report.write(dir).and_then(|()| match &compared {
            // The second endpoint's own reports, beside the first's.
            Some(b) => b.write(&dir.join(COMPARED_DIR)),
            None => Ok(()),
        });
        match written {
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
    if let (Some(comparison), Some(b)) = (&report.comparison, &compared) {
        let _ = writeln!(stdout, "{}", table::comparison(comparison));
        for (label, side) in [("A", &report), ("B", b)] {
            let _ = writeln!(stdout, "{label} {}: {}", side.endpoint, side.verdict());
        }
        for entry in &comparison.allowed_not_occurred {
            let _ = writeln!(
                stdout,
                "  allowed divergence did not occur: {} (listed as: {})",
                entry.case, entry.reason
            );
        }
        let _ = writeln!(stdout, "{}", output::verdict_line(&comparison.summary, comparison.agrees()));
        return Ok(if interrupted {
            ExitCode::from(super::EXIT_INTERRUPTED)
        } else if comparison.agrees() && wrote {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(super::EXIT_FAILED)
        });
    }
    if !args.quiet {
        let _ = writeln!(stdout, "\n{}\n", table::render(&report));
    }
    // Known deviations, listed with their reasons above the verdict: the ones that occurred
    // and the stale ones, whose cases passed.
    for case in report.cases.iter().filter(|c| c.deviation.is_some() && c.outcome != Outcome::Skip) {
        let reason = case.deviation.as_deref().unwrap_or_default();
        let line = if case.deviation_did_not_occur() {
            format!("  known deviation did not occur: {} (listed as: {reason})", case.id)
        } else {
            format!("  {} {} (known deviation: {reason})", case.outcome.name(), case.id)
        };
        let _ = writeln!(stdout, "{line}");
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

/// Where `--report-dir` holds the `--compare` endpoint's own reports.
const COMPARED_DIR: &str = "compared";

/// The two reports compared (`a` is the --endpoint side).
fn comparison(a: &RunReport, b: &RunReport, allow: &[Reasoned]) -> Comparison {
    let side = |r: &RunReport| {
        Side::new(r.endpoint.clone(), r.wires.clone(), r.verdict(), r.advertised.clone().ok(), &r.cases)
    };
    Comparison::new(side(a), &a.cases, side(b), &b.cases, a.interrupted || b.interrupted, allow)
}
