//! `grep11-harness`: argument parsing and the exit code; the work is in the library.

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("grep11-harness: error: {e:#}");
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}
