//! What the test modules share: the binary, scratch directories, `serve` and `proxy` on an
//! ephemeral loopback port, and the emulator's service with something done around each call.

use std::convert::Infallible;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::codegen::http;
use tonic::server::NamedService;

/// The binary, without credentials from the environment (they would change what a run
/// sends).
pub fn harness() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_grep11-harness"));
    command.env_remove("GREP11_APIKEY").env_remove("GREP11_BEARER_TOKEN");
    command
}

/// A finished child's stdout and stderr, for an assertion's message.
pub fn show(out: &std::process::Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
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

/// `proxy` on an ephemeral loopback port in front of `upstream`, with `extra` flags. Its
/// `--duration` is only a backstop for a proxy a test fails to stop: dropping it kills it.
pub fn proxy(upstream: &str, extra: &[&str]) -> Served {
    start(
        harness()
            .args(["proxy", "--listen", "127.0.0.1:0", "--upstream", upstream, "--duration", "300s"])
            .args(extra),
    )
}

/// What [`Around`] awaits before each call; what it yields is held until the call is
/// answered (a lock guard that lets one call in at a time, say).
pub type Before = dyn Fn(&http::Request<tonic::body::Body>) -> Pin<Box<dyn Future<Output = Box<dyn Send>> + Send>>
    + Send
    + Sync;

/// The emulator's service with `before` run ahead of each call.
#[derive(Clone)]
pub struct Around {
    pub inner: grep11_harness::emulator::Service,
    pub before: Arc<Before>,
}

impl NamedService for Around {
    const NAME: &'static str = <grep11_harness::emulator::Service as NamedService>::NAME;
}

impl tower::Service<http::Request<tonic::body::Body>> for Around {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let mut inner = self.inner.clone();
        let before = (self.before)(&req);
        Box::pin(async move {
            let _held = before.await;
            tower::Service::call(&mut inner, req).await
        })
    }
}
