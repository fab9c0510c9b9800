//! `grep11-harness list`: case ids, the profiles there are, or what one profile selects
//! and why each other case is out.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::suite::Profile;

#[derive(clap::Args)]
pub struct ListArgs {
    /// Suite files or directories (default: the built-in suites, with ./suites over them).
    paths: Vec<PathBuf>,
    /// List the profiles with their descriptions instead.
    #[arg(long, conflicts_with = "profile")]
    profiles: bool,
    /// Show what this profile selects: every case, `selected` or `out` with the reason.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
}

/// A profile by name or file, or why not (one line).
pub fn profile(name: &str, paths: &[PathBuf]) -> Result<Profile, String> {
    let file = super::builtin::find_profile(name, paths).map_err(|e| format!("--profile: {e}"))?;
    Profile::load(&file.to_string_lossy(), &PathBuf::new()).map_err(|e| format!("--profile: {e}"))
}

pub fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout();
    if args.profiles {
        for (name, file) in super::builtin::profiles(&args.paths) {
            let description = match Profile::load(&file.to_string_lossy(), &PathBuf::new()) {
                Ok(p) => p.description,
                Err(e) => format!("(does not load: {e})"),
            };
            let _ = writeln!(out, "{name:<12} {description}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let profile = match args.profile.as_deref().map(|name| profile(name, &args.paths)).transpose() {
        Ok(p) => p,
        Err(e) => {
            super::complain(e);
            return Ok(ExitCode::from(super::EXIT_USAGE));
        }
    };
    let Some(cases) = super::load(&args.paths) else { return Ok(ExitCode::from(super::EXIT_USAGE)) };
    match profile {
        None => {
            for case in &cases {
                // A closed stdout (`list | head -1`) ends the listing quietly.
                if writeln!(out, "{}", case.id).is_err() {
                    break;
                }
            }
        }
        Some(profile) => {
            let mut selected = 0;
            for case in &cases {
                let line = match profile.selects(case) {
                    Ok(()) => {
                        selected += 1;
                        format!("selected  {}", case.id)
                    }
                    Err(why) => format!("out       {}: {why}", case.id),
                };
                if writeln!(out, "{line}").is_err() {
                    return Ok(ExitCode::SUCCESS);
                }
            }
            let _ = writeln!(
                out,
                "profile {}: {selected} of {} cases selected (and the generated discovery/* cases)",
                profile.name,
                cases.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
