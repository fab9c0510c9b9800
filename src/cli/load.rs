//! `grep11-harness load`: workloads against the embedded emulator or an endpoint, in closed
//! or open loop, with thresholds, capacity search and reports; and `report merge`.
//! Exit codes: 0 done (thresholds met), 1 a threshold was violated or a setup failed,
//! 2 bad usage (nothing ran; for `report merge`, files it cannot read or that disagree),
//! 130 interrupted by Ctrl-C (the partial report is printed).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use tokio::sync::watch;

use crate::client::{Client, Wire};
use crate::load::cond::{Condition, Ramp, parse_mix, show_duration, unknown_scopes, violations};
use crate::load::find_max::{Search, Trial, find_max};
use crate::load::record::{Encoded, Recorder, Summary, summarize};
use crate::load::report::{self, Capacity, LoadReport, Row};
use crate::load::sched::{Mode, Plan, run};
use crate::load::segment::{self, Segment, SegmentError};
use crate::load::workload::{self, Ready, Workload};
use crate::load::{endpoint_clients, hlog, html, merge};

#[derive(clap::Args)]
pub struct LoadArgs {
    /// Workloads to run one after another (default: the catalogue's default set).
    #[arg(long, num_args = 1..)]
    workload: Vec<String>,
    /// One mixed run with weights, e.g. `sign-ecdsa-p256=70,verify-ecdsa-p256=30`.
    #[arg(long, conflicts_with = "workload")]
    mix: Option<String>,
    /// More workloads (same shape as workloads/catalogue.yaml); same names replace built-ins.
    #[arg(long)]
    workload_file: Option<PathBuf>,
    /// List the workloads and exit.
    #[arg(long)]
    list: bool,
    #[command(flatten)]
    endpoint: super::endpoint::EndpointArgs,
    #[arg(long, value_enum, default_value_t = Wire::Keyblob)]
    wire: Wire,
    /// Per-call deadline.
    #[arg(long, value_name = "DURATION", value_parser = super::args::positive_duration, default_value = "10s")]
    timeout: Duration,
    /// Closed loop: calls in flight.
    #[arg(long, value_parser = super::args::positive_count, default_value = "16")]
    concurrency: usize,
    /// HTTP/2 connections the calls are spread over.
    #[arg(long, value_parser = super::args::positive_count, default_value = "1")]
    connections: usize,
    /// Threads driving the calls. Default: one against an --endpoint (one event loop
    /// batches HTTP/2 writes across calls, as h2load does, and leaves the other cores to
    /// the endpoint); every core with the embedded emulator, which runs in this process.
    /// 0: one per core.
    #[arg(long, value_parser = super::args::threads)]
    threads: Option<usize>,
    /// Open loop: calls per second, or a ramp `FROM..TO` with --step.
    #[arg(long, allow_hyphen_values = true)]
    rate: Option<String>,
    /// Ramp increment in calls per second.
    #[arg(long, allow_negative_numbers = true)]
    step: Option<f64>,
    /// How long each ramp step (or find-max trial) lasts.
    #[arg(long, value_name = "DURATION", value_parser = super::args::positive_duration)]
    step_duration: Option<Duration>,
    /// Measured time per workload (per phase).
    #[arg(long, value_name = "DURATION", value_parser = super::args::duration, default_value = "2s")]
    duration: Duration,
    /// Unrecorded time before measuring.
    #[arg(long, value_name = "DURATION", value_parser = super::args::duration, default_value = "300ms")]
    warmup: Duration,
    /// Measured iterations at most (per workload run).
    #[arg(long, value_parser = super::args::positive_u64)]
    requests: Option<u64>,
    /// Open loop: calls outstanding at most; later sends wait, and the wait is counted.
    #[arg(long, value_parser = super::args::positive_count, default_value = "4096")]
    max_in_flight: usize,
    /// Open loop: how long before each send the event loop is woken to wait, awake, for
    /// the send time, so that sends leave on time (up to 10ms; 0: woken at the send time,
    /// which saves up to this much CPU per send and, on a VM, can make sends ~100 µs
    /// late).
    #[arg(long, value_name = "DURATION", value_parser = pacing_lead, default_value = "200us")]
    pacing_lead: Duration,
    /// Fail (exit 1) when a condition does not hold, e.g. `p99<10ms`, `errors<=0.1%`,
    /// `sign-ecdsa-p256:p99.9<50ms`. Repeatable.
    #[arg(long)]
    threshold: Vec<String>,
    /// Share of answers checked locally with the harness's reference cryptography
    /// (signatures verify, ciphertexts decrypt, digests match, lengths are right), as a
    /// percentage; each workload's first answer is always checked. A wrong answer fails
    /// the run.
    #[arg(long, default_value = "1%", value_parser = parse_share)]
    check_sample: f64,
    /// Search each workload's highest open-loop rate meeting --slo.
    #[arg(long, requires = "slo")]
    find_max: bool,
    /// The SLO for --find-max, e.g. `p99<=20ms,errors<=0.1%`.
    #[arg(long)]
    slo: Option<String>,
    /// --find-max: trials per workload at most (the closed-loop probe not counted).
    #[arg(long, value_parser = super::args::positive_count, default_value = "30")]
    max_trials: usize,
    /// Write the report as JSON (`-`: standard output, instead of the table).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write HdrHistogram interval logs (V2).
    #[arg(long)]
    hlog: Option<PathBuf>,
    /// Write a self-contained HTML report.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Run agent I of N's share of the load (I from 1): of the rate in open loop, of the
    /// calls in flight in closed loop, and of the connections and --requests; `job/N`
    /// takes I from a Kubernetes Indexed Job's JOB_COMPLETION_INDEX (plus one).
    #[arg(long, value_name = "I/N", conflicts_with = "find_max")]
    segment: Option<String>,
    /// Start measuring at this time, so that agents on several machines start together:
    /// RFC 3339 in UTC (2026-01-31T12:00:00Z) or +DURATION from now.
    #[arg(long, value_name = "TIME")]
    start_at: Option<String>,
    /// Write the JSON report and the interval log into this folder, named by segment
    /// (load-I-of-N.json and .hlog; load.json and .hlog without --segment), for
    /// `report merge`.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["json", "hlog"])]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    command: ReportCommand,
}

#[derive(clap::Subcommand)]
enum ReportCommand {
    /// Merge the reports and interval logs of several agents (or one run) into one report:
    /// their folders, `.json` reports (each with the log it names) or `.hlog` logs.
    Merge {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write the merged report as JSON (`-`: standard output, instead of the table).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write the merged report as HTML.
        #[arg(long)]
        html: Option<PathBuf>,
        /// Write every agent's intervals into one interval log, on one clock.
        #[arg(long)]
        hlog: Option<PathBuf>,
        /// As for `load`, judged on the merged numbers. Repeatable.
        #[arg(long)]
        threshold: Vec<String>,
    },
}

/// `1%`, `0.5%` or `100%`: the share as a fraction.
fn parse_share(text: &str) -> Result<f64, String> {
    let number =
        text.trim().strip_suffix('%').ok_or_else(|| format!("{text:?}: give a percentage like 1%"))?;
    match number.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p / 100.0),
        _ => Err(format!("{text:?} is not a percentage between 0% and 100%")),
    }
}

/// A `--pacing-lead`: from 0 to 10 ms. Longer would only spin for longer.
fn pacing_lead(text: &str) -> Result<Duration, String> {
    let d = super::args::duration(text)?;
    if d > Duration::from_millis(10) {
        return Err(format!("{text} is longer than the limit of 10ms"));
    }
    Ok(d)
}

/// Every how many iterations one is checked, for a share (the first always is).
fn check_every(share: f64) -> u64 {
    if share <= 0.0 { 0 } else { (1.0 / share).round().max(1.0) as u64 }
}

fn usage(message: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    super::complain(message);
    Ok(ExitCode::from(super::EXIT_USAGE))
}

/// The catalogue plus `--workload-file`, or every problem.
fn workloads(args: &LoadArgs) -> Result<Vec<Workload>, Vec<workload::WorkloadError>> {
    let mut all = workload::catalogue()?;
    if let Some(file) = &args.workload_file {
        for w in workload::load_file(file)? {
            all.retain(|x| x.name != w.name);
            all.push(w);
        }
    }
    Ok(all)
}

/// Which workloads run together: one group per workload, or one weighted mix.
fn groups(args: &LoadArgs, all: &[Workload]) -> Result<Vec<Vec<Workload>>, String> {
    let find = |name: &str| {
        all.iter().find(|w| w.name == name).cloned().ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|w| w.name.as_str()).collect();
            format!("unknown workload {name:?}; known: {}", names.join(", "))
        })
    };
    if let Some(mix) = &args.mix {
        let parts = parse_mix(mix).map_err(|e| format!("--mix: {e}"))?;
        let mut group = Vec::new();
        for (name, weight) in parts {
            let mut w = find(&name)?;
            w.weight = weight;
            group.push(w);
        }
        return Ok(vec![group]);
    }
    if args.workload.is_empty() {
        return Ok(all.iter().filter(|w| w.default).map(|w| vec![w.clone()]).collect());
    }
    args.workload.iter().flat_map(|n| n.split(',')).map(|n| find(n.trim()).map(|w| vec![w])).collect()
}

struct Parsed {
    thresholds: Vec<Condition>,
    slo: Vec<Condition>,
    ramp: Option<Ramp>,
    segment: Option<Segment>,
    start_at: Option<SystemTime>,
}

/// Takes this agent's share (`--segment`) of the load in `args` and `ramp`.
fn take_share(segment: Segment, args: &mut LoadArgs, ramp: Option<&mut Ramp>) -> Result<(), SegmentError> {
    match ramp {
        Some(r) => {
            for rate in &mut r.rates {
                *rate = segment.rate(*rate)?;
            }
        }
        None => args.concurrency = segment.share_of("--concurrency", args.concurrency as u64)? as usize,
    }
    // An agent needs one connection even when there are fewer than agents.
    args.connections = (segment.share(args.connections as u64) as usize).max(1);
    if let Some(n) = args.requests {
        args.requests = Some(segment.share_of("--requests", n)?);
    }
    Ok(())
}

fn parse_flags(args: &mut LoadArgs) -> Result<Parsed, String> {
    let thresholds = args
        .threshold
        .iter()
        .map(|t| Condition::parse(t).map_err(|e| format!("--threshold: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let slo = match &args.slo {
        Some(s) => Condition::parse_list(s).map_err(|e| format!("--slo: {e}"))?,
        None => Vec::new(),
    };
    let mut ramp = match &args.rate {
        Some(r) => Some(Ramp::parse(r, args.step).map_err(|e| format!("--rate: {e}"))?),
        None if args.step.is_some() => return Err("--step needs --rate FROM..TO".into()),
        None => None,
    };
    if args.duration.is_zero() && args.requests.is_none() {
        return Err("--duration must be above zero".into());
    }
    let job_index = std::env::var(segment::JOB_INDEX_VAR).ok();
    let segment = match &args.segment {
        Some(s) => Some(Segment::parse(s, job_index.as_deref()).map_err(|e| format!("--segment: {e}"))?),
        None => None,
    };
    if let Some(seg) = segment {
        take_share(seg, args, ramp.as_mut()).map_err(|e| format!("--segment {seg}: {e}"))?;
    }
    let start_at = match &args.start_at {
        Some(t) => Some(segment::start_at(t, SystemTime::now()).map_err(|e| format!("--start-at: {e}"))?),
        None => None,
    };
    Ok(Parsed { thresholds, slo, ramp, segment, start_at })
}

/// Live progress when stderr is a terminal: current rate and p99, once a second.
fn progress(total: Duration) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total.as_millis() as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {elapsed} {msg}") {
        bar.set_style(style);
    }
    Some(bar)
}

/// The settings line printed at start (stderr).
fn settings(args: &LoadArgs, parsed: &Parsed, endpoint: Option<&str>, names: &[&str]) -> String {
    let shape = if args.find_max {
        format!("find-max against --slo {}", args.slo.as_deref().unwrap_or_default())
    } else {
        match &parsed.ramp {
            Some(r) if r.rates.len() > 1 => format!(
                "open loop, ramp {}..{}/s in {} steps of {}",
                r.rates[0],
                r.rates[r.rates.len() - 1],
                r.rates.len(),
                show_duration(args.step_duration.unwrap_or(args.duration))
            ),
            Some(r) => format!("open loop at {}/s for {}", r.rates[0], show_duration(args.duration)),
            None => {
                format!("closed loop, {} in flight for {}", args.concurrency, show_duration(args.duration))
            }
        }
    };
    let threads = match args.threads.unwrap_or(if endpoint.is_some() { 1 } else { 0 }) {
        0 => "one thread per core".to_owned(),
        n => format!("{n} thread(s)"),
    };
    let checks = match check_every(args.check_sample) {
        0 => "the first answer of each workload checked".to_owned(),
        1 => "every answer checked".to_owned(),
        n => format!("the first and every {n}th answer checked"),
    };
    let agent = match (parsed.segment, parsed.start_at) {
        (None, None) => String::new(),
        (segment, at) => format!(
            "{}{} · ",
            segment.map(|s| format!("agent {s}'s share")).unwrap_or_default(),
            at.map(|t| format!(" starting at {}", humantime::format_rfc3339_millis(t))).unwrap_or_default()
        ),
    };
    format!(
        "grep11-harness load: {} · {agent}{shape} after {} warm-up · {} connection(s), {threads} · timeout {} \
         · {checks} · {} workload(s): {}{}",
        endpoint.unwrap_or("embedded emulator"),
        show_duration(args.warmup),
        args.connections,
        show_duration(args.timeout),
        names.len(),
        names.join(", "),
        args.requests.map(|r| format!(" · at most {r} requests each")).unwrap_or_default(),
    )
}

/// One group's run: setup, the scheduler, and a ticker for intervals and progress.
async fn run_group(
    group: &[Workload],
    clients: &[Client],
    args: &LoadArgs,
    mode: &Mode,
    stop: &watch::Receiver<bool>,
    start_at: Option<SystemTime>,
) -> Result<(Arc<Recorder>, Vec<Summary>, Vec<Summary>), String> {
    let mut ready: Vec<Ready> = Vec::new();
    for w in group {
        ready.push(w.setup(&clients[0]).await.map_err(|e| e.to_string())?);
    }
    // After the setup, whose time differs from agent to agent.
    match start_at.map(|t| t.duration_since(SystemTime::now())) {
        Some(Ok(wait)) => {
            let mut stop = stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        }
        Some(Err(late)) if late.duration() > segment::START_TOLERANCE => eprintln!(
            "grep11-harness: warning: the setup ended {} after --start-at; this agent starts late",
            show_duration(late.duration())
        ),
        _ => {}
    }
    let names: Vec<String> = ready.iter().map(|r| r.name.clone()).collect();
    let recorder = Arc::new(Recorder::new(names.clone(), matches!(mode, Mode::Open { .. })));
    let phase_len = args.step_duration.unwrap_or(args.duration);
    let phases = match mode {
        Mode::Open { rates, .. } => rates.len() as u32,
        Mode::Closed { .. } => 1,
    };
    let plan = Plan {
        workloads: Arc::new(ready),
        clients: clients.to_vec(),
        mode: mode.clone(),
        warmup: args.warmup,
        duration: phase_len,
        requests: args.requests,
        drain: args.timeout,
        check_every: check_every(args.check_sample),
    };
    let bar = progress(args.warmup + phase_len * phases);
    if let Some(b) = &bar {
        b.set_prefix(names.join("+"));
    }
    let ticker = {
        let recorder = recorder.clone();
        let bar = bar.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_secs(1));
            interval.tick().await;
            loop {
                interval.tick().await;
                let s = recorder.tick();
                if let Some(b) = &bar {
                    let rate = if s.seconds > 0.0 { s.calls as f64 / s.seconds } else { 0.0 };
                    b.set_position(recorder.started.elapsed().as_millis() as u64);
                    b.set_message(format!(
                        "{rate:.0} ok/s p99 {} errors {} wrong {}",
                        report::fmt_ns(s.p99_ns as f64),
                        s.errors,
                        s.wrong
                    ));
                }
            }
        })
    };
    run(&plan, recorder.clone(), stop.clone()).await;
    ticker.abort();
    recorder.tick();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let (phases, overall) = summarize(&recorder);
    Ok((recorder, phases, overall))
}

/// One finished find-max trial, on stderr as the search goes.
fn trial_line(workload: &str, t: &Trial) -> String {
    let verdict = match t.kind {
        crate::load::find_max::Kind::Probe => "closed loop".to_owned(),
        _ if t.passed => "pass".to_owned(),
        _ => format!("FAIL {}", t.failed_terms().join(", ")),
    };
    let errors: Vec<String> = t.error_kinds.iter().map(|(k, v)| format!(", {k}×{v}")).collect();
    format!(
        "{workload}: {} {:.0}/s offered, {:.1}/s achieved in {:.1}s, p99 {}{}: {verdict}",
        t.kind.name(),
        t.offered,
        t.achieved,
        t.seconds,
        report::fmt_ns(t.latency_ms.p99 * 1e6),
        errors.concat()
    )
}

/// The runtime a load run uses: see `--threads`.
pub fn runtime(args: &LoadArgs) -> std::io::Result<tokio::runtime::Runtime> {
    match args.threads.unwrap_or(if args.endpoint.endpoint.is_some() { 1 } else { 0 }) {
        1 => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        0 => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
        n => tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build(),
    }
}

pub async fn load(mut args: LoadArgs) -> anyhow::Result<ExitCode> {
    let parsed = match parse_flags(&mut args) {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    let target = match args.endpoint.endpoint(args.timeout) {
        Ok(target) => target,
        Err(e) => return usage(e),
    };
    let all = match workloads(&args) {
        Ok(all) => all,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            return usage(format!("{} problem(s) in workload files; nothing was run", errors.len()));
        }
    };
    if args.list {
        let mut out = std::io::stdout();
        for w in &all {
            let _ = writeln!(
                out,
                "{:<40} {}{}",
                w.name,
                w.title,
                if w.default { "" } else { " (not in the default run)" }
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let groups = match groups(&args, &all) {
        Ok(g) => g,
        Err(e) => return usage(e),
    };
    let names: Vec<&str> = groups.iter().flatten().map(|w| w.name.as_str()).collect();
    let conditions: Vec<Condition> = parsed.thresholds.iter().chain(&parsed.slo).cloned().collect();
    if let Some(e) = unknown_scopes(&conditions, &names) {
        return usage(e);
    }
    eprintln!("{}", settings(&args, &parsed, target.as_ref().map(|t| t.url()), &names));
    let started_at = SystemTime::now();
    let started = Instant::now();
    let (endpoint, clients) = match &target {
        None => (
            "embedded emulator".to_owned(),
            crate::embedded::direct_clients(args.connections, args.wire, args.timeout)
                .await
                .context("starting the embedded emulator")?,
        ),
        Some(target) => match endpoint_clients(target, args.connections, args.wire).await {
            Ok(clients) => (target.url().to_owned(), clients),
            Err(e) => {
                // As `run`: an unreachable endpoint is a failed run (exit 1), not bad usage.
                super::complain(e);
                return Ok(ExitCode::from(super::EXIT_FAILED));
            }
        },
    };
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\ngrep11-harness: interrupted; stopping and reporting what was measured");
            let _ = stop_tx.send(true);
        }
    });

    let mode = match &parsed.ramp {
        Some(r) => {
            Mode::Open { rates: r.rates.clone(), max_in_flight: args.max_in_flight, lead: args.pacing_lead }
        }
        None => Mode::Closed { concurrency: args.concurrency },
    };
    let mut report = LoadReport {
        harness_version: env!("CARGO_PKG_VERSION").to_owned(),
        endpoint,
        mode: if args.find_max {
            "find-max"
        } else if parsed.ramp.is_some() {
            "open"
        } else {
            "closed"
        }
        .into(),
        connections: args.connections,
        concurrency: matches!(mode, Mode::Closed { .. }).then_some(args.concurrency),
        started_unix: started_at.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        started_at: humantime::format_rfc3339_millis(started_at).to_string(),
        segment: parsed.segment.map(|s| s.to_string()),
        hlog: None,
        interrupted: false,
        phases: Vec::new(),
        overall: Vec::new(),
        timeline: Vec::new(),
        capacity: Vec::new(),
        violations: Vec::new(),
        merge: None,
    };
    let (json_path, hlog_path) = match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let stem = parsed.segment.map(|s| s.file_stem()).unwrap_or_else(|| "load".into());
            (Some(dir.join(format!("{stem}.json"))), Some(dir.join(format!("{stem}.hlog"))))
        }
        None => (args.json.clone(), args.hlog.clone()),
    };
    report.hlog = hlog_path.as_deref().map(|h| log_name(json_path.as_deref(), h));
    let mut overall_summaries: Vec<Summary> = Vec::new();
    let mut intervals: Vec<Encoded> = Vec::new();
    let mut setup_failed = false;
    // With the JSON on stdout, the table goes to stderr.
    let json_to_stdout = json_path.as_deref() == Some(std::path::Path::new("-"));
    let mut out: Box<dyn Write> =
        if json_to_stdout { Box::new(std::io::stderr()) } else { Box::new(std::io::stdout()) };
    let lines = !std::io::stderr().is_terminal();

    if args.find_max {
        let search = Search {
            start_rate: parsed.ramp.as_ref().and_then(|r| r.rates.first().copied()),
            floor: args.step_duration.unwrap_or(args.duration),
            ceiling: args.step_duration.unwrap_or(args.duration).max(Duration::from_secs(30)),
            warmup: args.warmup,
            max_in_flight: args.max_in_flight,
            lead: args.pacing_lead,
            probe_concurrency: args.concurrency,
            max_trials: args.max_trials,
            confirmations: 3,
            resolution: 0.05,
            drain: args.timeout,
            check_every: check_every(args.check_sample),
        };
        for w in groups.iter().flatten() {
            if *stop.borrow() {
                break;
            }
            let ready = match w.setup(&clients[0]).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("grep11-harness: error: {e}");
                    setup_failed = true;
                    continue;
                }
            };
            let each = |t: &Trial| eprintln!("{}", trial_line(&ready.name, t));
            let cap: Capacity = find_max(&ready, &clients, &parsed.slo, &search, stop.clone(), each).await;
            let _ = writeln!(out, "{}\n{}\n", report::trials_table(&cap), report::capacity_line(&cap));
            report.capacity.push(cap);
        }
    } else {
        for (n, group) in groups.iter().enumerate() {
            if *stop.borrow() {
                break;
            }
            let start_at = parsed.start_at.filter(|_| n == 0);
            match run_group(group, &clients, &args, &mode, &stop, start_at).await {
                Ok((recorder, mut phases, mut overall)) => {
                    let offset = recorder.started.saturating_duration_since(started);
                    for s in phases.iter_mut().chain(overall.iter_mut()) {
                        s.start += offset;
                    }
                    if lines {
                        for s in &overall {
                            eprintln!("{}", report::finished_line(&Row::of(s)));
                        }
                    }
                    for t in recorder.timeline() {
                        report
                            .timeline
                            .push(crate::load::record::Sample { t: t.t + offset.as_secs_f64(), ..t });
                    }
                    for mut e in recorder.take_encoded() {
                        e.start += offset;
                        intervals.push(e);
                    }
                    report.phases.extend(phases.iter().map(Row::of));
                    report.overall.extend(overall.iter().map(Row::of));
                    overall_summaries.extend(overall);
                }
                Err(e) => {
                    eprintln!("grep11-harness: error: {e}");
                    setup_failed = true;
                }
            }
        }
        if !report.phases.is_empty() {
            let _ = writeln!(out, "{}", report::table(&report.phases));
        }
    }
    report.interrupted = *stop.borrow();
    report.violations = violations(&overall_summaries, &parsed.thresholds);
    for v in &report.violations {
        let _ = writeln!(out, "failed: {v}");
    }
    if let Some(path) = &json_path {
        write_json(path, &report)?;
    }
    if let Some(path) = &hlog_path {
        hlog::write(path, started_at, &intervals).context("writing the interval log")?;
    }
    if let Some(path) = &args.html {
        std::fs::write(
            path,
            html::render(
                &report,
                &overall_summaries,
                if args.find_max { &parsed.slo } else { &parsed.thresholds },
            ),
        )
        .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if report.interrupted {
        ExitCode::from(130)
    } else if !report.violations.is_empty() || setup_failed {
        ExitCode::from(super::EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// How a report names its interval log: by file name when beside it, else by full path.
fn log_name(json: Option<&Path>, hlog: &Path) -> String {
    let folder = |p: &Path| std::path::absolute(p).ok().and_then(|a| a.parent().map(Path::to_owned));
    match json {
        Some(j) if j != Path::new("-") && folder(j).is_some() && folder(j) == folder(hlog) => {
            hlog.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        }
        _ => std::path::absolute(hlog).unwrap_or_else(|_| hlog.to_owned()).display().to_string(),
    }
}

/// Writes a report as JSON to a file, or to standard output for `-`.
fn write_json(path: &Path, report: &LoadReport) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(report)?;
    if path == Path::new("-") {
        let _ = writeln!(std::io::stdout(), "{text}");
        Ok(())
    } else {
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }
}

pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let ReportCommand::Merge { files, json, html: html_path, hlog: hlog_path, threshold } = args.command;
    let thresholds = match threshold.iter().map(|t| Condition::parse(t)).collect::<Result<Vec<_>, _>>() {
        Ok(t) => t,
        Err(e) => return usage(format!("--threshold: {e}")),
    };
    // Files that cannot be read or do not agree: nothing is merged, as with bad usage.
    let merged = match merge::gather(&files).and_then(|(sources, notes)| merge::merge(sources, notes)) {
        Ok(m) => m,
        Err(e) => return usage(e),
    };
    let mut report = merged.report;
    let names: Vec<&str> = report.overall.iter().map(|r| r.workload.as_str()).collect();
    if let Some(e) = unknown_scopes(&thresholds, &names) {
        return usage(e);
    }
    report.violations = violations(&merged.summaries, &thresholds);
    let to_stdout = json.as_deref() == Some(Path::new("-"));
    let mut out: Box<dyn Write> =
        if to_stdout { Box::new(std::io::stderr()) } else { Box::new(std::io::stdout()) };
    if let Some(info) = &report.merge {
        let _ = writeln!(
            out,
            "merged {} agent(s){} covering {} to {} ({:.3}s); each rate is the sum of the agents' rates",
            info.agents,
            if info.segments.is_empty() {
                String::new()
            } else {
                format!(" (segments {})", info.segments.join(", "))
            },
            info.from,
            info.to,
            info.seconds
        );
        for note in &info.notes {
            let _ = writeln!(out, "note: {note}");
        }
    }
    let _ = writeln!(out, "{}", report::table(&report.overall));
    for v in &report.violations {
        let _ = writeln!(out, "failed: {v}");
    }
    if let Some(path) = &hlog_path {
        hlog::write_intervals(path, merged.started, &merged.intervals).context("writing the interval log")?;
        report.hlog = Some(log_name(json.as_deref(), path));
    }
    if let Some(path) = &json {
        write_json(path, &report)?;
    }
    if let Some(path) = &html_path {
        std::fs::write(path, html::render(&report, &merged.summaries, &thresholds))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if report.violations.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(super::EXIT_FAILED) })
}
