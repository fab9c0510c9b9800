//! Subcommands: `run` (suites against an endpoint), `serve` (the emulator on a socket),
//! `proxy` (forward and record an application's calls),
//! `list` (suite and case ids, profiles), `load`, `report`, and `completions`/`man`
//! generated from these definitions. Exit codes: 0 every case passed (or was unsupported
//! or skipped), 1 a case failed or errored (or the endpoint could not be reached), 2 bad
//! usage or a bad suite (nothing ran), 130 interrupted.

mod args;
mod builtin;
mod endpoint;
mod list;
mod load;
mod output;
mod proxy;
mod run;
mod serve;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::suite::{CaseInstance, Suite};

pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_INTERRUPTED: u8 = 130;

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
    /// Forward an application's calls to an endpoint, recording them as a suite and a workload.
    Proxy(proxy::ProxyArgs),
    /// List case ids, the profiles, or what a profile selects.
    List(list::ListArgs),
    /// Measure latency and throughput per mechanism (closed or open loop).
    Load(load::LoadArgs),
    /// Work with recorded load results (`report merge A.hlog B.hlog`).
    Report(load::ReportArgs),
    /// Print a shell completion script (e.g. `completions bash > /etc/bash_completion.d/grep11-harness`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page, or write one page per subcommand into a directory.
    Man {
        /// Write grep11-harness.1 and grep11-harness-SUBCOMMAND.1 here instead.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = || tokio::runtime::Builder::new_multi_thread().enable_all().build();
    match cli.command {
        Command::Run(args) => runtime()?.block_on(run::run(args)),
        Command::Serve(args) => runtime()?.block_on(serve::serve(args)),
        Command::Proxy(args) => runtime()?.block_on(proxy::proxy(args)),
        Command::List(args) => list::list(args),
        Command::Load(args) => load::runtime(&args)?.block_on(load::load(args)),
        Command::Report(args) => load::report(args),
        Command::Completions { shell } => {
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "grep11-harness", &mut text);
            let _ = std::io::stdout().write_all(&text);
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { out_dir: Some(dir) } => {
            std::fs::create_dir_all(&dir)?;
            clap_mangen::generate_to(Cli::command(), &dir)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { out_dir: None } => {
            let mut text = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut text)?;
            let _ = std::io::stdout().write_all(&text);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A clap error as one line (`error: invalid value '0' for '--timeout <DURATION>': must be
/// above zero`), without the usage block: what was wrong and with which flag.
pub fn one_line(error: &clap::Error) -> String {
    let text = error.render().to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    format!("{} (see --help)", lines.join(" "))
}

/// Prints one line on stderr; a closed stderr is not worth a panic.
pub fn complain(message: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr(), "grep11-harness: error: {message}");
}

fn load_suites(paths: &[PathBuf]) -> Result<Vec<Suite>, Vec<crate::suite::LoadError>> {
    crate::suite::load_paths(paths)
}

/// The suites a command works on: the paths given, or else the built-in suites with any
/// in `./suites` replacing (by suite id) and extending them.
fn suites(paths: &[PathBuf]) -> Result<Vec<Suite>, Vec<crate::suite::LoadError>> {
    if !paths.is_empty() {
        return load_suites(paths);
    }
    let builtin = match builtin::root() {
        Ok(root) => root,
        Err(e) => {
            complain(format!("cannot write out the built-in suites: {e}"));
            return load_suites(&[PathBuf::from(builtin::DISK_ROOT)]);
        }
    };
    if !Path::new(builtin::DISK_ROOT).is_dir() {
        return load_suites(&[builtin]);
    }
    let mut disk = load_suites(&[PathBuf::from(builtin::DISK_ROOT)])?;
    let ids: std::collections::BTreeSet<String> = disk.iter().map(|s| s.suite.clone()).collect();
    disk.extend(load_suites(&[builtin])?.into_iter().filter(|s| !ids.contains(&s.suite)));
    Ok(disk)
}

/// Loads suites, printing every problem; `None` when any file is bad.
fn load(paths: &[PathBuf]) -> Option<Vec<CaseInstance>> {
    match suites(paths) {
        Ok(suites) => Some(crate::suite::expand(suites)),
        Err(errors) => {
            for e in &errors {
                let _ = writeln!(std::io::stderr(), "{e}");
            }
            complain(format!("{} problem(s) in suite files; nothing was run", errors.len()));
            None
        }
    }
}
