//! The suites and profiles built into the binary, so that an installed `grep11-harness`
//! runs from any directory. They are written out once per version and content to a
//! cache directory and loaded from there like any other suite files (includes, fixtures
//! and profiles resolve as they do on disk, and a report's file:line can be opened).
//! Files on disk take precedence: a `./suites` directory replaces built-in suites with the
//! same suite id and adds its others; a profile under `./suites/profiles` (or under a
//! suite directory given on the command line) replaces the built-in one of that name.

use std::io;
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};

static SUITES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/suites");

/// Where suites are looked for on disk when no path is given.
pub const DISK_ROOT: &str = "suites";

fn hash_dir(dir: &Dir<'_>, hasher: &mut Sha256) {
    for file in dir.files() {
        hasher.update(file.path().to_string_lossy().as_bytes());
        hasher.update((file.contents().len() as u64).to_le_bytes());
        hasher.update(file.contents());
    }
    for sub in dir.dirs() {
        hash_dir(sub, hasher);
    }
}

fn cache_base() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("grep11-harness")
}

/// The built-in suite root (holding `profiles/`), written out on first use.
pub fn root() -> io::Result<PathBuf> {
    let mut hasher = Sha256::new();
    hash_dir(&SUITES, &mut hasher);
    let digest = hasher.finalize();
    let name = format!("{}-{}", env!("CARGO_PKG_VERSION"), hex::encode(&digest[..8]));
    let dir = cache_base().join(name);
    let root = dir.join("suites");
    if dir.join(".complete").exists() {
        return Ok(root);
    }
    // Written beside and renamed into place, so a concurrent run never sees half a tree.
    let staging = cache_base().join(format!(".staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(staging.join("suites"))?;
    SUITES.extract(staging.join("suites"))?;
    std::fs::write(staging.join(".complete"), b"")?;
    match std::fs::rename(&staging, &dir) {
        Ok(()) => Ok(root),
        // Another process got there first with the same content.
        Err(_) if dir.join(".complete").exists() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(root)
        }
        Err(e) => Err(e),
    }
}

/// Suite roots to search for profiles, most specific first: directories given on the
/// command line, `./suites`, then the built-in one.
pub fn profile_roots(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = paths.iter().filter(|p| p.is_dir()).cloned().collect();
    if Path::new(DISK_ROOT).is_dir() {
        roots.push(PathBuf::from(DISK_ROOT));
    }
    match root() {
        Ok(root) => roots.push(root),
        Err(e) => eprintln!("grep11-harness: warning: the built-in profiles are unavailable: {e}"),
    }
    roots
}

/// A profile by name, searched in [`profile_roots`], or by file path; `Err` lists the
/// names that exist.
pub fn find_profile(name: &str, paths: &[PathBuf]) -> Result<PathBuf, String> {
    if name.ends_with(".yaml") || name.ends_with(".yml") || name.contains('/') {
        let path = PathBuf::from(name);
        return if path.is_file() { Ok(path) } else { Err(format!("no profile file {name}")) };
    }
    for root in profile_roots(paths) {
        let file = root.join("profiles").join(format!("{name}.yaml"));
        if file.is_file() {
            return Ok(file);
        }
    }
    let known: Vec<String> = profiles(paths).into_iter().map(|(n, _)| n).collect();
    Err(format!("no profile named {name:?}; available: {}", known.join(", ")))
}

/// Every profile name with the file that defines it (the most specific root wins).
pub fn profiles(paths: &[PathBuf]) -> Vec<(String, PathBuf)> {
    let mut found: std::collections::BTreeMap<String, PathBuf> = Default::default();
    for root in profile_roots(paths).into_iter().rev() {
        let Ok(entries) = std::fs::read_dir(root.join("profiles")) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "yaml")
                && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            {
                found.insert(stem.to_owned(), path);
            }
        }
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_binary_carries_the_suites_and_profiles() {
        assert!(super::SUITES.get_file("digest.yaml").is_some());
        assert!(super::SUITES.get_file("profiles/core.yaml").is_some());
    }
}
