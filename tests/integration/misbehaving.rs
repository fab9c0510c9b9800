//! The harness against endpoints that misbehave on purpose, each a small loopback server
//! of this file's own: nothing listening, a socket that never answers, an HTTP/2 server
//! that drops the connection mid-response, one that answers 200 / grpc-status 0 with bytes
//! that are not the expected protobuf, one that announces a message over the client's
//! limit, and the real emulator stopped in the middle of a run. Each drives the binary
//! (`run --endpoint`) and checks that the affected cases are `error` with a message naming
//! the cause, the run completes with exit code 1, every report file is written, and the
//! process ends well within a bound (no hang).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::results;

use bytes::Bytes;
use grep11_harness::rpc::{Rpc, frame, frame_prefix};
use prost::Message;
use tokio::net::TcpListener;

/// Far above deadline × calls for every scenario here (2 s deadlines, a handful of
/// sequential calls); only there to turn a hang into a failure instead of a stuck test.
const HANG_BOUND: Duration = Duration::from_secs(20);

struct RunOutput {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    dir: PathBuf,
}

impl RunOutput {
    fn results(&self) -> serde_json::Value {
        results::read(&self.dir)
    }

    /// (id, outcome, message) of every case that was not skipped.
    fn cases(&self) -> Vec<(String, String, String)> {
        self.results()["cases"]
            .as_array()
            .expect("cases is a list")
            .iter()
            .filter(|c| c["outcome"] != "skip")
            .map(|c| {
                (
                    c["id"].as_str().unwrap_or_default().to_owned(),
                    c["outcome"].as_str().unwrap_or_default().to_owned(),
                    c["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// What every scenario must show: a completed run, exit 1, the four reports.
    fn assert_completed_with_errors(&self) {
        let context = format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        assert!(self.elapsed < HANG_BOUND, "took {:?}\n{context}", self.elapsed);
        assert_eq!(self.code, Some(1), "{context}");
        for file in ["results.json", "junit.xml", "report.md", "report.html"] {
            let path = self.dir.join(file);
            assert!(
                std::fs::metadata(&path).is_ok_and(|m| m.len() > 0),
                "{} missing\n{context}",
                path.display()
            );
        }
        assert!(std::fs::read_to_string(self.dir.join("junit.xml")).unwrap().contains("<error"), "{context}");
    }
}

fn report_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("grep11-misbehaving-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `grep11-harness run SUITE --endpoint URL --timeout 2s ...`, killing it past
/// [`HANG_BOUND`] (the test then fails on `elapsed`).
async fn run_harness(name: &str, url: String, suite: &str, extra: &[&str]) -> RunOutput {
    let dir = report_dir(name);
    let mut command = Command::new(env!("CARGO_BIN_EXE_grep11-harness"));
    command
        .args([
            "run",
            suite,
            "--endpoint",
            &url,
            "--timeout",
            "2s",
            "--connect-timeout",
            "2s",
            "--report-dir",
        ])
        .arg(&dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().expect("the harness starts");
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let out_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let code = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status.code();
            }
            if started.elapsed() > HANG_BOUND {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (code, out_reader.join().unwrap(), err_reader.join().unwrap())
    })
    .await
    .unwrap();
    RunOutput { code, stdout, stderr, elapsed: started.elapsed(), dir }
}

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

fn grpc_frame(payload: &[u8]) -> Bytes {
    frame(payload).unwrap().into()
}

/// How the fake HTTP/2 server answers every RPC but GetMechanismList (which it answers
/// correctly with an empty list, so that the cases themselves run and meet the fault).
#[derive(Clone, Copy)]
enum Misbehaviour {
    /// Response headers, then the connection is dropped.
    DropMidResponse,
    /// 200, one gRPC message that is not protobuf, grpc-status 0.
    Garbage,
    /// 200 and a gRPC message header announcing more than the client accepts.
    Huge,
    /// The request is accepted and never answered.
    Silent,
}

fn ok_headers() -> http::Response<()> {
    http::Response::builder().status(200).header("content-type", "application/grpc").body(()).unwrap()
}

fn ok_trailers() -> http::HeaderMap {
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
    trailers
}

/// Serves HTTP/2 on `listener` with `how`, until the test's runtime ends.
fn serve_h2(listener: TcpListener, how: Misbehaviour) {
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut connection) = h2::server::handshake(socket).await else { return };
                // Requests never answered stay here until the connection ends.
                let mut held = Vec::new();
                while let Some(Ok((request, mut respond))) = connection.accept().await {
                    if request.uri().path() == Rpc::GetMechanismList.path() {
                        let list = grep11_harness::proto::GetMechanismListResponse { mechs: vec![] };
                        if let Ok(mut body) = respond.send_response(ok_headers(), false) {
                            let _ = body.send_data(grpc_frame(&list.encode_to_vec()), false);
                            let _ = body.send_trailers(ok_trailers());
                        }
                        continue;
                    }
                    match how {
                        Misbehaviour::DropMidResponse => {
                            let _ = respond.send_response(ok_headers(), false);
                            // Let the headers out, then drop connection and socket.
                            let _ =
                                tokio::time::timeout(Duration::from_millis(50), connection.accept()).await;
                            return;
                        }
                        Misbehaviour::Garbage => {
                            if let Ok(mut body) = respond.send_response(ok_headers(), false) {
                                // Field 1 with wire type 7, which does not exist.
                                let _ = body.send_data(grpc_frame(&[0x0f, 0xff, 0xff]), false);
                                let _ = body.send_trailers(ok_trailers());
                            }
                        }
                        Misbehaviour::Huge => {
                            if let Ok(mut body) = respond.send_response(ok_headers(), false) {
                                let announced = grep11_harness::rpc::MAX_MESSAGE_BYTES as u32 + 1;
                                let start = [&frame_prefix(announced)[..], &[0u8; 16 * 1024]].concat();
                                let _ = body.send_data(start.into(), false);
                                let _ = body.send_trailers(ok_trailers());
                            }
                        }
                        Misbehaviour::Silent => held.push(respond),
                    }
                }
            });
        }
    });
}

/// Every selected case is `error` and its message names `cause`.
fn assert_every_case_errors_with(out: &RunOutput, cause: &str) {
    let cases = out.cases();
    assert!(!cases.is_empty(), "no case ran\n{}", out.stdout);
    for (id, outcome, message) in &cases {
        assert_eq!(outcome, "error", "{id}: {message}");
        assert!(message.contains(cause), "{id}: the message does not name {cause:?}: {message}");
    }
}

/// The GenerateRandom cases: single calls, so each meets the fault on its first step.
const SUITE: &str = "suites/random.yaml";
const FILTER: [&str; 2] = ["--filter", "generate-"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_unavailable() {
    // A port nothing listens on: bound, noted, closed.
    let (listener, url) = listener().await;
    drop(listener);
    let out = run_harness("nothing", url, SUITE, &FILTER).await;
    out.assert_completed_with_errors();
    assert_every_case_errors_with(&out, "cannot connect");
    for (_, _, message) in out.cases() {
        assert!(message.to_lowercase().contains("refused"), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_never_answers_meets_the_connect_timeout() {
    let (listener, url) = listener().await;
    // Accepts, reads and discards whatever comes, never writes a byte.
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sink = tokio::io::sink();
                let _ = tokio::io::copy(&mut socket, &mut sink).await;
            });
        }
    });
    let out = run_harness("silent-tcp", url, SUITE, &FILTER).await;
    out.assert_completed_with_errors();
    // TCP is accepted but HTTP/2 never starts: the connect timeout decides every case.
    assert_every_case_errors_with(&out, "within 2s");
    assert!(
        out.elapsed < Duration::from_secs(8),
        "one 2 s connect timeout, not one per case: {:?}",
        out.elapsed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_never_answered_meets_the_deadline() {
    let (listener, url) = listener().await;
    serve_h2(listener, Misbehaviour::Silent);
    let out = run_harness("silent-h2", url, SUITE, &FILTER).await;
    out.assert_completed_with_errors();
    assert_every_case_errors_with(&out, "deadline exceeded: no answer within 2s");
    // Five cases, eight at once: the deadlines run together.
    assert!(out.elapsed < Duration::from_secs(8), "{:?}", out.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_response_is_connection_closed() {
    let (listener, url) = listener().await;
    serve_h2(listener, Misbehaviour::DropMidResponse);
    let out = run_harness("drop", url, SUITE, &FILTER).await;
    out.assert_completed_with_errors();
    assert_every_case_errors_with(&out, "connection closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_are_not_protobuf_are_a_malformed_response() {
    let (listener, url) = listener().await;
    serve_h2(listener, Misbehaviour::Garbage);
    let out = run_harness("garbage", url, SUITE, &FILTER).await;
    out.assert_completed_with_errors();
    // tonic's and prost's wording, which `client/failure.rs` relies on: pinned here.
    assert_every_case_errors_with(&out, "malformed response: failed to decode Protobuf message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_limit_is_refused_unread() {
    let (listener, url) = listener().await;
    serve_h2(listener, Misbehaviour::Huge);
    let out = run_harness("huge", url, SUITE, &FILTER).await;
    out.assert_completed_with_errors();
    assert_every_case_errors_with(&out, "message too large: Error, decoded message length too large");
}

/// The real emulator behind a proxy that dies, listener and connections, once the emulator
/// has seen `calls` requests.
async fn emulator_dying_after(calls: usize) -> String {
    use grep11_harness::emulator::{Config, Emulator};
    let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_addr = backend.local_addr().unwrap();
    let (dead_tx, mut dead_rx) = tokio::sync::watch::channel(false);
    let seen = Arc::new(AtomicUsize::new(0));
    let count = move |request: tonic::Request<()>| {
        if seen.fetch_add(1, Ordering::SeqCst) + 1 >= calls {
            let _ = dead_tx.send(true);
        }
        Ok(request)
    };
    let service = tonic::service::interceptor::InterceptedService::new(
        Emulator::new(Config::default()).service(),
        count,
    );
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(backend)),
    );
    let (front, url) = listener().await;
    tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                _ = dead_rx.wait_for(|dead| *dead) => break,
                accepted = front.accept() => {
                    let Ok((mut client, _)) = accepted else { break };
                    connections.spawn(async move {
                        if let Ok(mut upstream) = tokio::net::TcpStream::connect(backend_addr).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        }
                    });
                }
            }
        }
        // Dead: open connections are cut and the port refuses new ones.
        connections.abort_all();
        drop(front);
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_dies_mid_run_leaves_the_rest_in_error() {
    // Call 1 is discovery, 2 and 3 the first two cases; the 4th kills the endpoint.
    let url = emulator_dying_after(4).await;
    let out = run_harness("dies", url, SUITE, &["--concurrency", "1"]).await;
    out.assert_completed_with_errors();
    let cases = out.cases();
    let outcome = |id: &str| cases.iter().find(|c| c.0 == id).map(|c| c.1.as_str());
    assert_eq!(outcome("random/generate-0"), Some("pass"), "{cases:#?}");
    assert_eq!(outcome("random/generate-1"), Some("pass"), "{cases:#?}");
    // Everything after (the random cases and the discovery cases generated from the
    // mechanism list, which it got before dying) could not be completed: error, not fail.
    let after: Vec<_> = cases
        .iter()
        .filter(|c| !c.0.starts_with("random/generate-0") && c.0 != "random/generate-1")
        .collect();
    assert!(after.len() > 10, "{cases:#?}");
    for (id, outcome, message) in after {
        if id == "discovery/mechanism-list-unique" {
            // Judged on the list received before the endpoint died.
            assert_eq!(outcome, "pass");
            continue;
        }
        assert_eq!(outcome, "error", "{id}: {message}");
        assert!(message.contains("connection closed") || message.contains("unavailable"), "{id}: {message}");
    }
}
