use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ListArgs {
    /// Suite files or directories.
    #[arg(default_value = "suites")]
    paths: Vec<PathBuf>,
}

pub fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let Some(cases) = super::load(&args.paths) else { return Ok(ExitCode::from(super::EXIT_USAGE)) };
    for case in &cases {
        println!("{}", case.id);
    }
    Ok(ExitCode::SUCCESS)
}
