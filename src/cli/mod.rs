//! Subcommands: `run` (suites against an endpoint), `serve` (the emulator on a socket),
//! `list` (suite and case ids). Exit codes: 0 every case passed (or was unsupported or
//! skipped), 1 a case failed or errored, 2 bad usage or a bad suite (nothing ran).

mod endpoint;
mod list;
mod load;
mod run;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(name = "grep11-harness", version, about = "Certify, regression-test and emulate GREP11 endpoints")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// One value, parsed once per process: boxing the larger variants would save nothing.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run suites against the embedded emulator or an endpoint.
    Run(run::RunArgs),
    /// Serve the emulator (h2c, or TLS) until Ctrl-C or SIGTERM.
    Serve(serve::ServeArgs),
    /// List suite and case ids.
    List(list::ListArgs),
    /// Measure latency and throughput per mechanism (closed or open loop).
    Load(load::LoadArgs),
    /// Work with recorded load results (`report merge A.hlog B.hlog`).
    Report(load::ReportArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = || tokio::runtime::Builder::new_multi_thread().enable_all().build();
    match cli.command {
        Command::Run(args) => runtime()?.block_on(run::run(args)),
        Command::Serve(args) => runtime()?.block_on(serve::serve(args)),
        Command::List(args) => list::list(args),
        Command::Load(args) => load::runtime(&args)?.block_on(load::load(args)),
        Command::Report(args) => load::report(args),
    }
}

/// Loads suites, printing every problem; `None` when any file is bad.
fn load(paths: &[std::path::PathBuf]) -> Option<Vec<grep11_harness::suite::CaseInstance>> {
    match grep11_harness::suite::load_paths(paths) {
        Ok(suites) => Some(grep11_harness::suite::expand(suites)),
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!("grep11-harness: error: {} problem(s) in suite files; nothing was run", errors.len());
            None
        }
    }
}
