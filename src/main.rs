//! `grep11-harness`: argument parsing and the exit code; the work is in the library.

use std::process::ExitCode;

use clap::Parser;

use grep11_harness::cli;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    // Help on a closed pipe (`--help | head -1`) is not a failure.
                    let _ = e.print();
                    ExitCode::SUCCESS
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    ExitCode::from(cli::EXIT_USAGE)
                }
                _ => {
                    let _ = std::io::Write::write_all(
                        &mut std::io::stderr(),
                        format!("grep11-harness: {}\n", cli::one_line(&e)).as_bytes(),
                    );
                    ExitCode::from(cli::EXIT_USAGE)
                }
            };
        }
    };
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            cli::complain(format!("{e:#}"));
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}
