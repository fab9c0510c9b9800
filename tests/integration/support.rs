//! What the test modules share: the binary, scratch directories, and `serve` on an
//! ephemeral loopback port.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

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

/// `serve` on an ephemeral loopback port; killed on drop.
pub struct Served {
    child: Child,
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` with `extra` flags and waits for the line that gives its URL.
pub fn serve(extra: &[&str]) -> Served {
    let mut child = harness()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("serve prints its URL: {line}"))
        .to_owned();
    Served { child, url }
}
