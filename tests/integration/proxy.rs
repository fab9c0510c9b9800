//! `proxy`: the project's own suites pass through it unchanged (answers, errors and their
//! details, metadata), and what it records replays: the suite passes against a fresh
//! emulator and fails against a faulty one, the workload runs under `load`, and redacted
//! recordings hold none of the data that went through.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grep11_harness::client::{Arg, Args, CallError, Client, Endpoint, Metadata, TlsOptions, Wire};
use grep11_harness::emulator::{Config, Emulator};
use grep11_harness::proxy::{Proxy, Recording};
use grep11_harness::rpc::Rpc;
use grep11_harness::status::CallFailure;

/// A fresh directory for one test's recording (the proxy creates it).
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("grep11-harness-proxy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

use crate::support::{Around, Before, Served, harness, proxy, serve, show};

/// Stops the proxy as Ctrl-C would and returns the rest of what it printed.
fn stop(mut proxy: Served) -> String {
    let pid = proxy.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = proxy.child.wait().unwrap();
    let mut rest = String::new();
    proxy.stderr.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{rest}");
    rest
}

fn run(url: &str, args: &[&str]) -> Output {
    harness().args(["run", "--endpoint", url, "--quiet"]).args(args).output().unwrap()
}

fn passes(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", show(out));
}

#[test]
fn suites_pass_through_the_proxy_and_the_recording_replays() {
    let rec = temp_dir("replay");
    let upstream = serve(&[]);
    let front = proxy(&upstream.url, &["--record", rec.to_str().unwrap()]);
    // Expected refusals among them (wrong signatures, mechanisms, key types) need the
    // status details through the proxy intact; both wire generations run.
    for suite in ["suites/digest.yaml", "suites/aes.yaml", "suites/ecdsa.yaml"] {
        passes(&run(&front.url, &[suite]));
        passes(&run(&front.url, &["--wire", "legacy", suite]));
    }
    let said = stop(front);
    assert!(said.contains("call(s) recorded"), "{said}");
    let suite = std::fs::read_to_string(rec.join("suite.yaml")).unwrap();
    // Outputs flow as saved variables; checks by the harness's own cryptography.
    for wanted in ["save: {", "local.digest:", "local.verify:", "{error: CKR_SIGNATURE_INVALID}", "{len: 64}"]
    {
        assert!(suite.contains(wanted), "{wanted} missing");
    }
    let suite_file = rec.join("suite.yaml");
    let suite_path = suite_file.to_str().unwrap();
    let fresh = serve(&[]);
    passes(&run(&fresh.url, &[suite_path]));
    for fault in ["wrong-digest", "bad-signature", "ciphertext-flip"] {
        let faulty = serve(&["--fault", fault]);
        let out = run(&faulty.url, &[suite_path]);
        assert_eq!(out.status.code(), Some(1), "{fault}: {}", show(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("fail        recorded/recorded"), "{fault}");
    }
    // The workload: every group of the recorded mix, weighted as seen, without errors.
    let workload = std::fs::read_to_string(rec.join("workload.yaml")).unwrap();
    let mix =
        workload.lines().find_map(|l| l.strip_prefix("# --mix ")).expect("the mix is written").to_owned();
    assert!(mix.contains("signsingle-ckm-ecdsa="), "{mix}");
    let out = harness()
        .args([
            "load",
            "--endpoint",
            &fresh.url,
            "--workload-file",
            rec.join("workload.yaml").to_str().unwrap(),
        ])
        .args(["--mix", &mix, "--requests", "300", "--warmup", "0s", "--concurrency", "2"])
        .output()
        .unwrap();
    passes(&out);
}

#[test]
fn metadata_passes_through_and_the_upstream_flags_add_their_own() {
    let upstream = serve(&["--bearer-token", "t0ken"]);
    let bare = proxy(&upstream.url, &[]);
    // The refusal comes back as the endpoint gave it.
    let out = run(&bare.url, &["suites/digest.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(show(&out).contains("UNAUTHENTICATED"), "{}", show(&out));
    // The application's own authorization header goes through.
    passes(&run(&bare.url, &["--header", "authorization: Bearer t0ken", "suites/digest.yaml"]));
    // The proxy's upstream flags replace what the application sent under the same name.
    let credentialed = proxy(&upstream.url, &["--header", "authorization: Bearer t0ken"]);
    passes(&run(&credentialed.url, &["--header", "authorization: Bearer wrong", "suites/digest.yaml"]));
}

#[test]
fn a_redacted_recording_keeps_lengths_and_no_data() {
    let rec = temp_dir("redacted");
    let upstream = serve(&[]);
    let front = proxy(&upstream.url, &["--record", rec.to_str().unwrap(), "--redact", "data"]);
    passes(&run(&front.url, &["suites/digest.yaml"]));
    stop(front);
    let suite = std::fs::read_to_string(rec.join("suite.yaml")).unwrap();
    // "abc" and the 1000-byte messages went through; none of their bytes are written.
    assert!(!suite.contains("616263"), "the FIPS message is in the redacted suite");
    let literals: Vec<&str> = suite
        .match_indices("hex:")
        .map(|(i, _)| &suite[i + 4..])
        .filter(|rest| !rest.starts_with('"'))
        .collect();
    assert!(literals.is_empty(), "literal data left: {:?}", &literals[..literals.len().min(3)]);
    assert!(suite.contains("local.random: {len: 1000}"), "lengths are kept");
    let fresh = serve(&[]);
    passes(&run(&fresh.url, &[rec.join("suite.yaml").to_str().unwrap()]));
    let faulty = serve(&["--fault", "wrong-digest"]);
    assert_eq!(run(&faulty.url, &[rec.join("suite.yaml").to_str().unwrap()]).status.code(), Some(1));
}

#[test]
fn bad_flags_are_usage_errors() {
    let out = harness().args(["proxy", "--upstream", "127.0.0.1:1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--upstream"), "{}", show(&out));
    let out = harness().args(["proxy", "--listen", "127.0.0.1:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "--upstream is required");
    let out =
        harness().args(["proxy", "--upstream", "http://127.0.0.1:9", "--redact", "data"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "--redact needs --record");
}

fn endpoint(url: &str, headers: &[&str]) -> Endpoint {
    let headers = headers.iter().map(|h| h.parse().unwrap()).collect();
    Endpoint::new(
        url,
        &TlsOptions::default(),
        Metadata::new(headers, None),
        Duration::from_secs(3),
        Duration::from_secs(3),
    )
    .unwrap()
}

#[tokio::test]
async fn headers_deadlines_details_and_both_wire_generations_reach_each_side() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    // The emulator, keeping the headers of every request it is sent.
    let keep = seen.clone();
    let before: Arc<Before> = Arc::new(move |req| {
        keep.lock().unwrap().push(req.headers().clone());
        Box::pin(async { Box::new(()) as Box<dyn Send> })
    });
    let watched = Around { inner: Emulator::new(Config::default()).service(), before };
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_url = format!("http://{}", upstream.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_routes(tonic::service::Routes::new(watched))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(upstream)),
    );
    let upstream = endpoint(&upstream_url, &["x-upstream-flag: from-the-proxy"]);
    let recording = Recording::new(None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let proxy = Proxy::new(upstream.channel().await.unwrap(), upstream, Some(recording.clone()));
    let serving = tokio::spawn(proxy.serve(listener, async move {
        let _ = stopped.await;
    }));

    let app = endpoint(&proxy_url, &["x-app: hello", "bluemix-instance: instance-1"]);
    let client = Client::connect(&app, Wire::Keyblob).await.unwrap();
    let args = |pairs: Vec<(&'static str, Arg)>| Args(pairs.into_iter().collect());
    let random = client.call(Rpc::GenerateRandom, &args(vec![("len", Arg::Uint(24))])).await.unwrap();
    assert!(matches!(random.get("Rnd"), Some(grep11_harness::client::Value::Bytes(b)) if b.len() == 24));
    // A refusal keeps its Grep11Error detail: the client decodes the CKR_* from it alone.
    let unknown = grep11_harness::proto::Mechanism { mechanism: 0x8000_7777, parameter: None };
    let refused = client
        .call(
            Rpc::DigestSingle,
            &args(vec![("mech", Arg::Mechanism(unknown)), ("data", Arg::Bytes(b"x".to_vec()))]),
        )
        .await;
    match refused {
        Err(CallError::Failed(CallFailure::Pkcs11(f))) => {
            assert_eq!(f.rv, grep11_harness::pkcs11::CKR_MECHANISM_INVALID)
        }
        other => panic!("{other:?}"),
    }
    // The earlier wire generation's key fields go through as well.
    let legacy = client.clone().with_wire(Wire::Legacy);
    let template = [(
        grep11_harness::pkcs11::CKA_VALUE_LEN.0,
        grep11_harness::proto::AttributeValue {
            one_attr: Some(grep11_harness::proto::attribute_value::OneAttr::AttributeI(32)),
        },
    )];
    let generated = legacy
        .call(
            Rpc::GenerateKey,
            &args(vec![
                (
                    "mech",
                    Arg::Mechanism(grep11_harness::proto::Mechanism {
                        mechanism: grep11_harness::pkcs11::CKM_AES_KEY_GEN.0,
                        parameter: None,
                    }),
                ),
                ("template", Arg::Template(template.into_iter().collect())),
            ]),
        )
        .await;
    assert!(generated.is_ok(), "{generated:?}");

    let headers = seen.lock().unwrap().clone();
    assert_eq!(headers.len(), 3);
    for h in &headers {
        assert_eq!(h.get("x-app").unwrap(), "hello");
        assert_eq!(h.get("bluemix-instance").unwrap(), "instance-1");
        assert_eq!(h.get("x-upstream-flag").unwrap(), "from-the-proxy");
        // The client's deadline, as it sent it (at most its 3 s).
        let timeout = h.get("grpc-timeout").expect("the deadline is forwarded").to_str().unwrap();
        assert!(timeout.ends_with('u') || timeout.ends_with('m') || timeout.ends_with('n'), "{timeout}");
    }
    let _ = stop.send(());
    serving.await.unwrap();
    let calls = recording.take();
    assert_eq!(calls.len(), 3);
    let t = grep11_harness::proxy::transcript(&calls, false);
    let actions: Vec<&str> = t.steps.iter().map(|s| s.action.as_str()).collect();
    assert_eq!(actions, ["GenerateRandom", "DigestSingle", "GenerateKey"]);
    assert_eq!(t.steps[1].expect.as_deref(), Some("{error: CKR_MECHANISM_INVALID}"));
}

#[test]
fn max_calls_stops_the_proxy_and_writes_what_it_saw() {
    let rec = temp_dir("bounded");
    let upstream = serve(&[]);
    let mut front = proxy(&upstream.url, &["--record", rec.to_str().unwrap(), "--max-calls", "5"]);
    // The run outlives the proxy: its later calls find no one listening.
    let _ = run(&front.url, &["suites/digest.yaml"]);
    let status = front.child.wait().unwrap();
    let mut said = String::new();
    front.stderr.read_to_string(&mut said).unwrap();
    assert!(status.success(), "{said}");
    let recorded: usize = said
        .split("proxy stopped: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    // Calls already in flight when the fifth ended finish and are kept.
    assert!(recorded >= 5, "{said}");
    passes(&run(&upstream.url, &[rec.join("suite.yaml").to_str().unwrap()]));
}
