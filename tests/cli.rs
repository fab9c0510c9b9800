//! The binary as a user meets it: exit codes, error messages, reports, and `serve` with
//! `run --endpoint` over a real loopback socket.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn harness() -> Command {
    Command::new(env!("CARGO_BIN_EXE_grep11-harness"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("grep11-harness-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_bad_suite_is_refused_with_file_line_and_exit_2() {
    let dir = temp_dir("bad-suite");
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "suite: bad\ncases:\n  - name: c\n    steps:\n      - DigestSingle: {mech: CKM_SHA257, data: \"hex:00\"}\n      - Sign: {state: $nowhere, data: \"hex:00\"}\n",
    )
    .unwrap();
    let out = harness().arg("run").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{}:5:", file.display())), "{stderr}");
    assert!(stderr.contains("unknown mechanism \"CKM_SHA257\""), "{stderr}");
    assert!(stderr.contains("nothing was run"), "{stderr}");

    std::fs::write(
        &file,
        "suite: bad\ncases:\n  - name: c\n    steps:\n      - Sign: {state: $nowhere, data: \"hex:00\"}\n",
    )
    .unwrap();
    let out = harness().arg("run").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(":5:9: step 1 Sign: undefined variable $nowhere"), "{stderr}");
}

#[test]
fn an_unreachable_endpoint_fails_fast_and_still_writes_reports() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = temp_dir("unreachable");
    let started = Instant::now();
    let out = harness()
        .args([
            "run",
            "suites/random.yaml",
            "--endpoint",
            &format!("http://127.0.0.1:{port}"),
            "--report-dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let cases = results["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    assert!(cases.iter().all(|c| c["outcome"] == "error"));
    assert!(std::fs::read_to_string(dir.join("junit.xml")).unwrap().contains("<error"));
}

/// `serve` on an ephemeral loopback port; killed on drop.
struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Served {
    let mut child = harness()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
    let url =
        line.split_whitespace().find(|w| w.starts_with("http://")).expect("serve prints its URL").to_owned();
    Served { child, url }
}

#[test]
fn serve_and_run_endpoint_pass_the_suites_with_both_wire_generations() {
    let served = serve();
    for wire in ["keyblob", "legacy"] {
        let dir = temp_dir(&format!("served-{wire}"));
        let out = harness()
            .args(["run", "suites", "--endpoint", &served.url, "--wire", wire, "--report-dir"])
            .arg(&dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("seed-table functions exercised: 36/36"), "{stdout}");
        assert!(Path::new(&dir.join("junit.xml")).exists());
    }
}

#[test]
fn a_wrong_expectation_is_a_failure_naming_step_expected_and_got() {
    let dir = temp_dir("wrong");
    let file = dir.join("wrong.yaml");
    // The endpoint is right; the suite expects a wrong digest and a wrong error, so the
    // runner must report both as failures with expected and got.
    std::fs::write(
        &file,
        "suite: wrong\ncases:\n  - name: digest\n    steps:\n      - DigestSingle: {mech: CKM_SHA256, data: \"utf8:abc\"}\n        expect: {Digest: \"sha256(utf8:'abd')\"}\n  - name: code\n    steps:\n      - DigestSingle: {mech: CKM_AES_CBC, data: \"hex:00\"}\n        expect: {error: CKR_SIGNATURE_INVALID}\n",
    )
    .unwrap();
    let out = harness().arg("run").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "fail        wrong/digest: step 1 DigestSingle ({}:5): Digest: expected hex:",
            file.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("expected CKR_SIGNATURE_INVALID (0xC0), got CKR_MECHANISM_INVALID (0x70)"),
        "{stdout}"
    );
}
