//! What the test modules share: the binary, scratch directories, and `serve` on an
//! ephemeral loopback port.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, Stdio};

/// The binary, without credentials from the environment (they would change what a run
/// sends).
pub fn harness() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_grep11-harness"));
    command.env_remove("GREP11_APIKEY").env_remove("GREP11_BEARER_TOKEN");
    command
}

/// An empty scratch directory for one test: `area` keeps the modules' names apart, since
/// they share one process (and so one process id).
pub fn temp_dir(area: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("grep11-harness-{area}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A child process that printed its URL on its first stderr line (`serve`, `proxy`);
/// killed on drop. The rest of its stderr stays readable.
pub struct Served {
    pub child: Child,
    pub url: String,
    /// The first stderr line, the one with the URL.
    pub banner: String,
    pub stderr: BufReader<ChildStderr>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command` and waits for the stderr line that gives its URL.
pub fn start(command: &mut Command) -> Served {
    let mut child = command.stderr(Stdio::piped()).spawn().expect("the binary starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut banner = String::new();
    stderr.read_line(&mut banner).unwrap();
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        .unwrap_or_else(|| panic!("no URL in its first line: {banner}"))
        .to_owned();
    Served { child, url, banner, stderr }
}

/// `serve` on an ephemeral loopback port with `extra` flags.
pub fn serve(extra: &[&str]) -> Served {
    start(harness().args(["serve", "--listen", "127.0.0.1:0"]).args(extra))
}
