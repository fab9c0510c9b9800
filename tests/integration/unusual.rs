//! Endpoints that behave correctly in ways the emulator by default does not. A
//! certification run against each must pass: the harness may not mistake an unusual
//! endpoint for a wrong one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};

use crate::results;
use crate::support::{harness, serve, show, temp_dir};

/// A TCP relay in front of `upstream` (HOST:PORT) that counts the connections it accepts.
async fn counting_relay(upstream: String) -> (String, Arc<AtomicUsize>) {
    let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", front.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = front.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = TcpStream::connect(upstream).await {
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (url, accepted)
}

/// `run` of `suite` at 8 in flight against `url`: its output, and the report directory.
async fn run_against(
    name: &str,
    url: String,
    suite: &'static str,
) -> (std::process::Output, std::path::PathBuf) {
    let dir = temp_dir("unusual", name);
    let report_dir = dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        harness()
            .args(["run", suite, "--endpoint", &url, "--concurrency", "8", "--report-dir"])
            .arg(&report_dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (out, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_takes_one_stream_at_a_time_passes() {
    // SETTINGS_MAX_CONCURRENT_STREAMS 1: the client queues seven of its eight calls.
    let served = serve(&["--max-concurrent-streams", "1"]);
    assert!(served.banner.contains("1 stream(s) at once"), "{}", served.banner);
    let (out, _) = run_against("one-stream", served.url.clone(), "suites/digest.yaml").await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_recycles_its_connections_passes() {
    // GOAWAY to each connection 20 ms after it opened, as a load balancer's maximum
    // connection age does: calls are caught in flight and written just as the endpoint
    // closes, hundreds of times in a run.
    let served = serve(&["--max-connection-age", "20ms"]);
    assert!(served.banner.contains("connections ended after 20ms"), "{}", served.banner);
    let (url, accepted) = counting_relay(served.url.trim_start_matches("http://").to_owned()).await;
    let (out, dir) = run_against("recycled", url, "suites/digest.yaml").await;
    let shown = show(&out);
    let connections = accepted.load(Ordering::SeqCst);
    assert!(connections > 5, "only {connections} connections: the endpoint did not recycle them\n{shown}");
    assert_eq!(out.status.code(), Some(0), "{connections} connections\n{shown}");
    // The calls caught by a close were sent again, and counted apart from retries.
    let counts = &results::read(&dir)["counts"];
    assert!(counts["resent"].is_u64(), "{counts}");
    assert_eq!(counts["retries"], 0, "{counts}");
}
