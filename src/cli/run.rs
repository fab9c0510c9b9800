use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use grep11_harness::client::{Client, Wire};
use grep11_harness::report::{RunReport, table};
use grep11_harness::runner::{self, CaseResult, Outcome};

#[derive(clap::Args)]
pub struct RunArgs {
    /// Suite files or directories.
    #[arg(default_value = "suites")]
    paths: Vec<PathBuf>,
    /// A GREP11 endpoint (http://HOST:PORT); default: the embedded emulator.
    #[arg(long)]
    endpoint: Option<String>,
    /// Key fields to send: current KeyBlob messages or the earlier raw bytes.
    #[arg(long, value_enum, default_value_t = Wire::Keyblob)]
    wire: Wire,
    /// Per-call deadline.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    timeout: Duration,
    /// How long to wait for a connection.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5s")]
    connect_timeout: Duration,
    /// Cases run at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Only cases whose id contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// Write results.json and junit.xml here.
    #[arg(long)]
    report_dir: Option<PathBuf>,
}

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let Some(mut cases) = super::load(&args.paths) else { return Ok(ExitCode::from(super::EXIT_USAGE)) };
    if let Some(filter) = &args.filter {
        cases.retain(|c| c.id.contains(filter.as_str()));
    }
    let started = Instant::now();
    let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (endpoint, client) = match &args.endpoint {
        None => {
            ("embedded emulator".to_owned(), Ok(grep11_harness::embedded::client(args.wire, args.timeout)))
        }
        Some(url) => (url.clone(), Client::connect(url, args.wire, args.timeout, args.connect_timeout).await),
    };
    let print = |r: &CaseResult| {
        let line = match &r.message {
            None => format!("{:<11} {}", r.outcome.name(), r.id),
            Some(m) => format!("{:<11} {}: {m}", r.outcome.name(), r.id),
        };
        // A closed stdout (`run | head`) is a normal end, not a failure.
        let _ = writeln!(std::io::stdout(), "{line}");
    };
    let (advertised, results) = match client {
        Ok(client) => {
            let (caps, results) = runner::run(&client, &cases, args.concurrency, print).await;
            (caps.map(|c| c.mechanisms.iter().map(|m| m.to_string()).collect()), results)
        }
        Err(e) => {
            // Nothing can run, but every case is reported as an error so the report exists.
            eprintln!("grep11-harness: error: {e}");
            let why = e.to_string();
            let results = cases.iter().map(|c| CaseResult::not_run(c, Outcome::Error, why.clone())).collect();
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
        cases: results,
    };
    let _ = writeln!(std::io::stdout(), "\n{}", table::render(&report));
    if let Some(dir) = &args.report_dir {
        report.write(dir).with_context(|| format!("writing reports to {}", dir.display()))?;
        eprintln!("grep11-harness: reports written to {}", dir.display());
    }
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(super::EXIT_FAILED) })
}
