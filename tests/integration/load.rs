//! Load mode: the schedulers against an artificially slow server, the threshold exit code
//! and the interval-log merge, through the binary where the CLI is the contract. Every run
//! is bounded (a request count or under a second of schedule) and in-process or loopback.

use std::sync::Arc;
use std::time::Duration;

use grep11_harness::client::{Client, Wire, in_memory_channel};
use grep11_harness::emulator::{Config, Emulator};
use grep11_harness::load::record::{Recorder, summarize};
use grep11_harness::load::sched::{Mode, Plan, run};
use grep11_harness::load::workload::{Outcome, catalogue};

use crate::support::{Around, Before};

/// The emulator serving one call at a time, each taking at least `delay`: a server with a
/// capacity of 1/delay calls per second.
fn slow_client(delay: Duration) -> Client {
    let gate = Arc::new(tokio::sync::Mutex::new(()));
    let before: Arc<Before> = Arc::new(move |_| {
        let gate = gate.clone();
        Box::pin(async move {
            let one_at_a_time = gate.lock_owned().await;
            tokio::time::sleep(delay).await;
            Box::new(one_at_a_time) as Box<dyn Send>
        })
    });
    let slow = Around { inner: Emulator::new(Config::default()).service(), before };
    Client::new(in_memory_channel(tonic::service::Routes::new(slow)), Wire::Keyblob, Duration::from_secs(5))
}

/// p99 in milliseconds of one run of random-32 against `client`.
async fn p99_ms(client: Client, mode: Mode, duration: Duration) -> (f64, f64, u64) {
    let workload = catalogue().unwrap().into_iter().find(|w| w.name == "random-32").unwrap();
    let ready = workload.setup(&client).await.unwrap();
    let recorder = Arc::new(Recorder::new(vec![ready.name.clone()], matches!(mode, Mode::Open { .. })));
    let plan = Plan {
        workloads: Arc::new(vec![ready]),
        clients: vec![client],
        mode,
        warmup: Duration::ZERO,
        duration,
        requests: None,
        drain: Duration::from_secs(2),
        check_every: 100,
    };
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    run(&plan, recorder.clone(), stop).await;
    let (_, overall) = summarize(&recorder);
    let s = &overall[0];
    let unc = s.uncorrected.as_ref().map(|h| h.value_at_quantile(0.99) as f64 / 1e6).unwrap_or(0.0);
    (s.percentile_ns(99.0) / 1e6, unc, s.count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_records_the_queueing_that_closed_loop_hides() {
    // 10 ms per call, one at a time: 100 calls/s at most.
    let delay = Duration::from_millis(10);
    let (closed_p99, _, closed_n) =
        p99_ms(slow_client(delay), Mode::Closed { concurrency: 1 }, Duration::from_millis(400)).await;
    // Closed loop waits for each answer, so it never sees a queue: about the service time.
    // (No upper bound in milliseconds: on a loaded machine a 10 ms sleep can take several
    // times that; the comparisons below are between runs on the same machine.)
    assert!(closed_n >= 10, "closed loop made {closed_n} calls");
    // Open loop at 200/s for 0.6 s: 120 calls for a server that clears 60 in that time.
    // The run ends on time, so the k-th call to complete was due at 5k ms and done at
    // 10k ms: the last ones completed waited about 0.3 s (the others are in flight).
    let open = Mode::Open { rates: vec![200.0], max_in_flight: 1000, lead: Duration::from_micros(200) };
    let (open_p99, unc_p99, open_n) = p99_ms(slow_client(delay), open, Duration::from_millis(600)).await;
    assert!(open_n >= 40, "open loop completed {open_n} calls");
    assert!(open_p99 > 200.0, "open-loop p99 {open_p99} ms should show the queue");
    assert!(open_p99 > 5.0 * closed_p99, "open {open_p99} ms vs closed {closed_p99} ms");
    assert!(unc_p99 <= open_p99, "uncorrected {unc_p99} ms above corrected {open_p99} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_counts_the_wait_for_a_slot_that_uncorrected_latency_misses() {
    // One call in flight at most: the client, not the server, holds the queue, so only
    // latency from the intended send time sees it.
    let open = Mode::Open { rates: vec![200.0], max_in_flight: 1, lead: Duration::ZERO };
    let (open_p99, unc_p99, _) =
        p99_ms(slow_client(Duration::from_millis(10)), open, Duration::from_millis(500)).await;
    assert!(open_p99 > 200.0, "corrected p99 {open_p99} ms");
    assert!(unc_p99 < open_p99 / 3.0, "uncorrected p99 {unc_p99} ms against corrected {open_p99} ms");
}

pub(crate) use crate::support::{harness, serve, show};

fn load(args: &[&str]) -> std::process::Output {
    harness()
        .args(["load", "--workload", "random-32", "--warmup", "0s", "--concurrency", "2"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_violated_threshold_exits_1_and_is_named() {
    let out = load(&["--requests", "50", "--threshold", "p99<1ns", "--threshold", "errors<=0.1%"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("failed: random-32: p99 is"), "{stdout}");
    assert!(stdout.contains("(p99<1ns)"), "{stdout}");
    assert!(!stdout.contains("errors<=0.1%"), "a met threshold is not reported: {stdout}");

    let out = load(&["--requests", "50", "--threshold", "p99<5s"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));

    let out = load(&["--threshold", "p99<>10"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("\"<>\" is not a comparison; use <, <=, > or >="), "{stderr}");
}

fn merged(dir: &std::path::Path, files: &[&std::path::Path]) -> (u64, f64) {
    let json = dir.join(format!("merged-{}.json", files.len()));
    let out = harness().args(["report", "merge"]).args(files).arg("--json").arg(&json).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let row = v["overall"].as_array().unwrap().iter().find(|r| r["workload"] == "random-32").unwrap().clone();
    (row["count"].as_u64().unwrap(), row["latency_ms"]["max"].as_f64().unwrap())
}

#[test]
fn merging_two_logs_adds_counts_and_keeps_the_max() {
    let dir = std::env::temp_dir().join(format!("grep11-load-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.hlog"), dir.join("b.hlog"));
    assert!(load(&["--requests", "120", "--hlog", a.to_str().unwrap()]).status.success());
    assert!(load(&["--requests", "80", "--hlog", b.to_str().unwrap()]).status.success());
    let (count_a, max_a) = merged(&dir, &[&a]);
    let (count_b, max_b) = merged(&dir, &[&b]);
    assert_eq!((count_a, count_b), (120, 80));
    let (count, max) = merged(&dir, &[&a, &b]);
    assert_eq!(count, 200);
    assert_eq!(max, max_a.max(max_b));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_catalogue_workload_runs_against_the_emulator() {
    let client = grep11_harness::embedded::direct_clients(1, Wire::Keyblob, Duration::from_secs(5))
        .await
        .unwrap()
        .remove(0);
    let mut unchecked = Vec::new();
    for w in catalogue().unwrap() {
        let ready = w.setup(&client).await.unwrap_or_else(|e| panic!("{e}"));
        for sampled in [true, false] {
            let mut env = ready.env();
            let mut outcome = ready.iterate(&client, &mut env, sampled).await;
            assert_eq!(outcome, Outcome::Ok { checked: sampled }, "{}", w.name);
            if sampled {
                outcome = ready.check(&mut env);
                assert_eq!(outcome, Outcome::Ok { checked: true }, "{}", w.name);
                if !ready.checks() {
                    unchecked.push(w.name.clone());
                }
            }
        }
    }
    // Every workload whose answer the harness can judge has a check: all but key
    // generation, wrapping and derivation (blobs only the endpoint opens).
    let want = [
        "generate-aes256",
        "generate-ec-p256",
        "wrap-aes256-cbc-pad",
        "derive-ecdh-p256",
        "generate-rsa2048",
    ];
    assert_eq!(unchecked, want);
}

#[test]
fn failed_calls_are_not_throughput_and_fail_the_run_unless_allowed() {
    let served = serve(&["--bearer-token", "t0ken"]);
    let out = load(&["--endpoint", &served.url, "--requests", "40", "--json", "-"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json - writes JSON to stdout");
    let row = &v["overall"][0];
    assert_eq!((row["count"].as_u64(), row["errors"].as_u64()), (Some(0), Some(40)), "{row}");
    assert_eq!(row["rate"].as_f64(), Some(0.0), "failed calls are not throughput: {row}");
    assert_eq!(row["error_kinds"]["gRPC UNAUTHENTICATED"].as_u64(), Some(40), "{row}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("40 call(s) failed (gRPC UNAUTHENTICATED×40)"), "{stderr}");
    // A threshold on errors says how many are acceptable.
    let out = load(&["--endpoint", &served.url, "--requests", "40", "--threshold", "errors<=100%"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    // The credentials go with every call, the requests encoded once included.
    let out =
        load(&["--endpoint", &served.url, "--requests", "40", "--header", "authorization: Bearer t0ken"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[test]
fn wrong_answers_are_counted_apart_and_fail_the_run() {
    // GenerateRandom answers one byte short: every call succeeds, every checked one is wrong.
    let served = serve(&["--fault", "random-truncated"]);
    let out = load(&[
        "--endpoint",
        &served.url,
        "--requests",
        "200",
        "--check-sample",
        "10%",
        "--threshold",
        "errors<=100%",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The first and every 10th: 20 of 200 checked, all wrong, none an error.
    assert!(
        stdout.contains("20 of 20 checked answer(s) wrong; first: GenerateRandom Rnd: expected length 32"),
        "{stdout}"
    );
    // Each kind of check catches its fault: a signature that does not verify with the
    // public key, a digest that differs from the harness's, a ciphertext that does not
    // decrypt to the plaintext sent.
    for (fault, workload, caught) in [
        ("bad-signature", "sign-ecdsa-p256", "first: local.verify"),
        ("wrong-digest", "digest-sha256-1k", "first: local.digest: Digest: expected"),
        ("ciphertext-flip", "encrypt-aes256-cbc-pad-1k", "first: local.decrypt"),
    ] {
        let served = serve(&["--fault", fault]);
        let out = harness()
            .args(["load", "--endpoint", &served.url, "--workload", workload, "--requests", "5"])
            .args(["--warmup", "0s", "--concurrency", "1"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{fault}: {}", show(&out));
        assert!(show(&out).contains(caught), "{fault}: {}", show(&out));
    }
}

#[test]
fn usage_errors_and_plain_output() {
    let out = load(&["--requests", "10", "--threshold", "random-23:p99<1us"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(show(&out).contains("\"random-23\", which is not in this run"), "{}", show(&out));
    let out = load(&["--rate", "10", "--pacing-lead", "20ms"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(show(&out).contains("20ms is longer than the limit of 10ms"), "{}", show(&out));
    let out = harness().args(["load", "--list"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("RSA-2048 PKCS #1 v1.5 with SHA-256"),
        "{}",
        show(&out)
    );
    // Not a terminal: the settings first, then a line per finished workload, on stderr.
    let out = load(&["--requests", "30"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with("grep11-harness load: embedded emulator · closed loop, 2 in flight"),
        "{stderr}"
    );
    assert!(lines[1].starts_with("random-32: 30 ok in "), "{stderr}");
}

/// One open-loop run of random-32: its overall summary and how long `run` took.
async fn open_run(
    client: Client,
    rate: f64,
    duration: Duration,
    lead: Duration,
) -> (grep11_harness::load::record::Summary, Duration) {
    let workload = catalogue().unwrap().into_iter().find(|w| w.name == "random-32").unwrap();
    let ready = workload.setup(&client).await.unwrap();
    let recorder = Arc::new(Recorder::new(vec![ready.name.clone()], true));
    let plan = Plan {
        workloads: Arc::new(vec![ready]),
        clients: vec![client],
        mode: Mode::Open { rates: vec![rate], max_in_flight: 4096, lead },
        warmup: Duration::ZERO,
        duration,
        requests: None,
        drain: Duration::from_secs(10),
        check_every: 100,
    };
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let started = std::time::Instant::now();
    run(&plan, recorder.clone(), stop).await;
    let took = started.elapsed();
    let (_, mut overall) = summarize(&recorder);
    (overall.remove(0), took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_stops_at_the_duration_and_counts_calls_in_flight() {
    // 100 calls/s of capacity, asked for 300/s over 0.5 s: about 100 calls are still
    // queued at the end. The run ends on time instead of waiting for them (drain is 10 s).
    let (s, took) =
        open_run(slow_client(Duration::from_millis(10)), 300.0, Duration::from_millis(500), Duration::ZERO)
            .await;
    // Waiting for the queue would take another second (100 calls at 10 ms), and leave
    // nothing in flight. The bounds allow for a loaded machine, where each 10 ms sleep can
    // take longer (which lowers the capacity, never raises it).
    assert!(s.unfinished >= 50, "{} calls in flight at the end", s.unfinished);
    assert!(took < Duration::from_millis(1500), "the run took {took:?}");
    assert!(s.count + s.unfinished >= 140, "{} done + {} in flight of 150 sent", s.count, s.unfinished);
    assert!(s.rate <= 105.0 && s.rate >= 30.0, "achieved {} calls/s against a capacity of 100", s.rate);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_sends_rate_times_duration_whatever_the_lead() {
    // 400/s over 0.5 s is sends 0 to 199, whether the loop is woken at each send time or
    // 10 ms (four periods) before it; a run that ends on time counts its calls in flight.
    for lead in [Duration::ZERO, Duration::from_millis(10)] {
        let (s, _) = open_run(slow_client(Duration::ZERO), 400.0, Duration::from_millis(500), lead).await;
        let sent = s.count + s.errors + s.unfinished;
        assert_eq!(
            sent, 200,
            "lead {lead:?}: {} ok, {} failed, {} in flight",
            s.count, s.errors, s.unfinished
        );
        assert_eq!(s.errors, 0, "lead {lead:?}: {:?}", s.error_kinds);
    }
}

#[test]
fn find_max_confirms_its_answer_and_reports_every_trial() {
    let out = load(&[
        "--find-max",
        "--slo",
        "p90<=200ms,errors<=1%",
        "--step-duration",
        "200ms",
        "--max-trials",
        "10",
        "--json",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json - writes JSON to stdout");
    let cap = &v["capacity"][0];
    let trials = cap["trials"].as_array().unwrap();
    assert_eq!(trials[0]["kind"], "probe", "{cap}");
    assert!(trials.len() >= 2 && trials.len() <= 11, "the probe and at most 10 trials: {}", trials.len());
    for t in &trials[1..] {
        let terms: Vec<&str> =
            t["terms"].as_array().unwrap().iter().map(|m| m["term"].as_str().unwrap()).collect();
        assert_eq!(terms, ["p90<=200ms", "errors<=1%", "achieved>=90% of offered"], "{t}");
        assert!(t["offered"].as_f64().unwrap() >= 1.0 && t["achieved"].as_f64().is_some(), "{t}");
        // p90 wants 200 calls: never shorter than the 200 ms floor.
        assert!(t["seconds"].as_f64().unwrap() >= 0.19, "{t}");
        let failed = t["terms"].as_array().unwrap().iter().any(|m| m["met"] == false);
        assert_eq!(t["passed"].as_bool(), Some(!failed), "{t}");
    }
    let max = cap["max_rate"].as_f64().expect("a rate met a 200 ms p90");
    assert!(trials.iter().any(|t| t["passed"] == true && t["offered"].as_f64() == Some(max)), "{cap}");
    assert!(["low", "medium", "high"].contains(&cap["confidence"]["level"].as_str().unwrap()), "{cap}");
    // The table of trials and the answer with its confidence (on stderr with --json -).
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("offered/s") && stderr.contains("achieved/s"), "{stderr}");
    assert!(stderr.contains("random-32: probe "), "each trial as it ends: {stderr}");
    assert!(stderr.contains(&format!("random-32: {max:.0}/s meets the SLO")), "{stderr}");
}

/// Regression: a run far above capacity cancels calls at their deadline by the thousand.
/// HTTP/2 stacks' defences against reset floods used to read that as an attack and close
/// the connection (hyper's `too_many_resets` in the server; in the client, h2's
/// `too_many_internal_resets` and `too_many_data_frames`, and now nghttp2's glitch limit),
/// after which every call failed.
#[test]
fn an_overloaded_run_keeps_its_connection() {
    let served = serve(&[]);
    let dir = crate::support::temp_dir("load", "overload");
    let json = dir.join("load.json");
    let out = harness()
        .args(["load", "--endpoint", &served.url, "--workload", "random-32", "--warmup", "0s"])
        .args(["--rate", "60000", "--duration", "1s", "--timeout", "20ms", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let row = &report["overall"][0];
    let kinds = row["error_kinds"].as_object().cloned().unwrap_or_default();
    assert!(row["count"].as_u64().unwrap() > 0, "{}", show(&out));
    for kind in kinds.keys() {
        assert!(
            ["gRPC CANCELLED", "gRPC DEADLINE_EXCEEDED", "gRPC RESOURCE_EXHAUSTED"].contains(&kind.as_str()),
            "{kind}: the connection was lost\n{kinds:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `load` of random-32 for `duration` against `url`, as a child; its output once it has
/// ended, failing the test if it runs past 30 s. `meanwhile` runs once the child started.
fn bounded_load(url: &str, duration: &str, meanwhile: impl FnOnce()) -> std::process::Output {
    let mut child = harness()
        .args([
            "load",
            "--endpoint",
            url,
            "--workload",
            "random-32",
            "--warmup",
            "0s",
            "--duration",
            duration,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    meanwhile();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("load --duration {duration} still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn load_reconnects_to_an_endpoint_that_recycles_its_connections() {
    // GOAWAY 200 ms into each connection: the run goes on over new ones, and the calls
    // caught by a close are sent again.
    let served = serve(&["--max-connection-age", "200ms"]);
    let out = bounded_load(&served.url, "1s", || {});
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[test]
fn a_run_whose_endpoint_goes_away_ends_on_time_and_counts_the_failures() {
    // Once the endpoint is gone, every call fails at once (the new connection refused).
    // Calls that never wait once kept the single-threaded event loop, its timers
    // included, from ever ending the run.
    let mut served = serve(&[]);
    let url = served.url.clone();
    let out = bounded_load(&url, "1500ms", || {
        std::thread::sleep(Duration::from_millis(500));
        let _ = served.child.kill();
        let _ = served.child.wait();
    });
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("gRPC UNAVAILABLE×"), "{}", show(&out));
}
