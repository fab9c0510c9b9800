//! The binary as a user meets it: exit codes, error messages, reports, and `serve` with
//! `run --endpoint` over a real loopback socket.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::results;

use crate::support::{Served, harness};

fn temp_dir(name: &str) -> PathBuf {
    crate::support::temp_dir("cli", name)
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
    let results = results::read(&dir);
    let cases = results["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    assert!(cases.iter().all(|c| c["outcome"] == "error"));
    assert_eq!(results["verdict"], "FAILED");
    assert!(results["advertised"]["error"].as_str().unwrap().contains("cannot connect"), "{results}");
    assert!(std::fs::read_to_string(dir.join("junit.xml")).unwrap().contains("<error"));
}

fn serve() -> Served {
    crate::support::serve(&[])
}

#[test]
fn serve_and_run_endpoint_certify_core_under_both_wire_generations() {
    let served = serve();
    let dir = temp_dir("served");
    // The core profile reaches all 36 functions; the full one would only add time.
    let out = harness()
        .args(["run", "suites", "--profile", "core", "--endpoint", &served.url, "--report-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let problems: Vec<&str> =
        stdout.lines().filter(|l| l.starts_with("fail") || l.starts_with("error")).collect();
    assert_eq!(out.status.code(), Some(0), "{problems:#?}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("seed-table functions exercised: 36/36"), "{stdout}");
    assert!(stdout.contains("CERTIFIED: core"), "{stdout}");
    let results = results::read(&dir);
    assert_eq!(results["verdict"], "CERTIFIED");
    assert_eq!(results["wires"], serde_json::json!(["keyblob", "legacy"]));
    let cases = results["cases"].as_array().unwrap();
    for wire in ["keyblob", "legacy"] {
        let suffix = format!("@{wire}");
        let ran: Vec<_> = cases.iter().filter(|c| c["id"].as_str().unwrap().ends_with(&suffix)).collect();
        assert!(ran.len() > 100, "{} cases under {wire}", ran.len());
        assert!(ran.iter().all(|c| c["wire"] == wire));
    }
    assert!(Path::new(&dir.join("junit.xml")).exists());
}

#[test]
fn the_client_reads_keys_from_its_wire_generation_only() {
    // An endpoint that fills only the KeyBlob fields serves the keyblob generation and
    // fails the legacy one; one that fills only the byte fields, the reverse.
    for (fault, good, bad) in
        [("keys-in-keyblob-only", "keyblob", "legacy"), ("keys-in-bytes-only", "legacy", "keyblob")]
    {
        let served = crate::support::serve(&["--fault", fault]);
        let run = |wire: &str| {
            let out = harness()
                .args(["run", "suites/keys.yaml", "--filter", "generate-aes", "--endpoint", &served.url])
                .args(["--wire", wire])
                .output()
                .unwrap();
            (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let (code, stdout) = run(good);
        assert_eq!(code, Some(0), "{fault} under {good}: {stdout}");
        let (code, stdout) = run(bad);
        assert_eq!(code, Some(1), "{fault} under {bad}: {stdout}");
        assert!(stdout.contains(&format!("({bad} wire generation)")), "{stdout}");
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

#[test]
fn profiles_certify_accept_non_strict_answers_and_track_deviations() {
    let dir = temp_dir("profiles");
    let suites = dir.join("suites");
    std::fs::create_dir_all(suites.join("profiles")).unwrap();
    // The emulator refuses a cipher as a digest with CKR_MECHANISM_INVALID. The first case
    // prefers another code, which the profile accepts; the second is simply wrong.
    std::fs::write(
        suites.join("probe.yaml"),
        "suite: probe\ncases:\n  - name: accepted\n    steps:\n      - DigestSingle: {mech: CKM_AES_CBC, data: \"hex:00\"}\n        expect: {error: CKR_FUNCTION_FAILED}\n  - name: wrong\n    steps:\n      - DigestSingle: {mech: CKM_AES_CBC, data: \"hex:00\"}\n        expect: {error: CKR_SIGNATURE_INVALID}\n",
    )
    .unwrap();
    let accept =
        "accept:\n  - {expected: CKR_FUNCTION_FAILED, also: [CKR_MECHANISM_INVALID], reason: test}\n";
    std::fs::write(suites.join("profiles/t.yaml"), format!("profile: t\n{accept}")).unwrap();
    std::fs::write(
        suites.join("profiles/t-right.yaml"),
        format!(
            "profile: t-right\n{accept}exclude:\n  - {{case: probe/wrong, reason: the suite is wrong}}\n"
        ),
    )
    .unwrap();
    let deviations = dir.join("deviations.yaml");
    std::fs::write(&deviations, "deviations:\n  - {case: \"probe/wr*\", reason: tracked as TICKET-1}\n")
        .unwrap();
    let run = |extra: &[&str]| {
        let out = harness()
            .arg("run")
            .arg(&suites)
            .args(extra)
            .arg("--report-dir")
            .arg(dir.join("r"))
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };

    let (code, stdout) = run(&["--profile", "t"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("non-strict  probe/accepted: step 1 DigestSingle"), "{stdout}");
    assert!(stdout.contains("(accepted: test)"), "{stdout}");
    assert!(stdout.contains("NOT CERTIFIED: t (1 of "), "{stdout}");
    // The case that kept it from certifying is listed above the verdict, which ends the output.
    assert!(stdout.contains("probe/wrong"), "{stdout}");
    assert!(stdout.trim_end().lines().last().unwrap().starts_with("NOT CERTIFIED: t"), "{stdout}");

    // A known deviation never certifies (exit 1 under a profile), but it does not fail a
    // plain run; every report shows it for what it is, with its reason.
    let dev = ["--deviations", deviations.to_str().unwrap()];
    let (code, stdout) = run(&[&dev[..], &["--profile", "t"]].concat());
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("NOT CERTIFIED: t"), "{stdout}");
    assert!(stdout.contains("  fail probe/wrong (known deviation: tracked as TICKET-1)"), "{stdout}");
    let results = results::read(&dir.join("r"));
    assert_eq!(results["cases"][0]["outcome"], "non-strict");
    assert_eq!(results["cases"][1]["deviation"]["reason"], "tracked as TICKET-1");
    assert_eq!(results["cases"][1]["deviation"]["occurred"], true);
    assert_eq!(results["counts"]["deviations_occurred"], 1);
    let (code, stdout) = run(&[&dev[..], &["--filter", "PROBE/WRONG"]].concat());
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("PASSED: ") && stdout.contains("1 known deviations"), "{stdout}");
    let junit = std::fs::read_to_string(dir.join("r/junit.xml")).unwrap();
    assert!(junit.contains("known deviation (tracked as TICKET-1)"), "{junit}");
    let md = std::fs::read_to_string(dir.join("r/report.md")).unwrap();
    assert!(md.contains("**Known deviation**: tracked as TICKET-1"), "{md}");
    let html = std::fs::read_to_string(dir.join("r/report.html")).unwrap();
    assert!(html.contains("<b>known deviation:</b> tracked as TICKET-1"), "{html}");

    // Without the wrong case, the profile certifies.
    let (code, stdout) = run(&["--profile", "t-right"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("CERTIFIED: t-right ("), "{stdout}");
    assert!(stdout.contains(" 1 non-strict)"), "{stdout}");
}

#[test]
fn a_deviation_that_does_not_occur_fails_the_run_in_every_report() {
    let dir = temp_dir("stale-deviation");
    let file = dir.join("ok.yaml");
    std::fs::write(
        &file,
        "suite: ok\ncases:\n  - name: digest\n    steps:\n      - DigestSingle: {mech: CKM_SHA256, data: \"utf8:abc\"}\n        expect: {Digest: \"sha256(utf8:'abc')\"}\n",
    )
    .unwrap();
    let deviations = dir.join("deviations.yaml");
    std::fs::write(&deviations, "deviations:\n  - {case: ok/digest, reason: fixed upstream?}\n").unwrap();
    let out = harness()
        .arg("run")
        .arg(&file)
        .arg("--deviations")
        .arg(&deviations)
        .arg("--report-dir")
        .arg(dir.join("r"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("known deviation did not occur: ok/digest (listed as: fixed upstream?)"),
        "{stdout}"
    );
    assert!(stdout.contains("FAILED: ") && stdout.contains("1 known deviations did not occur"), "{stdout}");
    let results = results::read(&dir.join("r"));
    assert_eq!(results["cases"][0]["outcome"], "pass");
    assert_eq!(results["cases"][0]["deviation"]["occurred"], false);
    assert_eq!(results["counts"]["deviations_not_occurred"], 1);
    let junit = std::fs::read_to_string(dir.join("r/junit.xml")).unwrap();
    assert!(junit.contains("known deviation did not occur (fixed upstream?)"), "{junit}");
    let md = std::fs::read_to_string(dir.join("r/report.md")).unwrap();
    assert!(md.contains("**Known deviation did not occur** (listed as: fixed upstream?)"), "{md}");
    let html = std::fs::read_to_string(dir.join("r/report.html")).unwrap();
    assert!(html.contains("known deviation did not occur (remove the entry)"), "{html}");
}

#[test]
fn a_profile_run_covers_its_whole_selection_or_is_refused() {
    let usage = |args: &[&str]| {
        let out = harness().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stderr = usage(&["run", "suites/random.yaml", "--profile", "core"]);
    assert!(stderr.contains("would narrow it to one file"), "{stderr}");
    let stderr = usage(&["run", "--profile", "core", "--filter", "random/"]);
    assert!(stderr.contains("--filter \"random/\" would narrow it"), "{stderr}");
    let stderr = usage(&["run", "--profile", "full", "--wire", "legacy"]);
    assert!(stderr.contains("--wire legacy would narrow it"), "{stderr}");

    let dir = temp_dir("unknown-suite");
    let suites = dir.join("suites");
    std::fs::create_dir_all(suites.join("profiles")).unwrap();
    std::fs::copy("suites/random.yaml", suites.join("random.yaml")).unwrap();
    std::fs::write(suites.join("profiles/p.yaml"), "profile: p\nsuites: [random, no-such-suite]\n").unwrap();
    let out = harness().arg("run").arg(&suites).args(["--profile", "p"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("profile p names suites that no file in") && stderr.contains("no-such-suite"),
        "{stderr}"
    );
}

#[test]
fn not_certified_exits_1_even_when_only_unsupported_cases_block() {
    let dir = temp_dir("unsupported");
    let suites = dir.join("suites");
    std::fs::create_dir_all(suites.join("profiles")).unwrap();
    // The emulator does not offer MD5, so the case is unsupported: nothing failed, but the
    // profile requires the case and cannot certify.
    std::fs::write(
        suites.join("md5.yaml"),
        "suite: md5\ncases:\n  - name: digest\n    steps:\n      - DigestSingle: {mech: CKM_MD5, data: \"utf8:abc\"}\n",
    )
    .unwrap();
    std::fs::write(suites.join("profiles/p.yaml"), "profile: p\n").unwrap();
    let out = harness().arg("run").arg(&suites).args(["--profile", "p"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("NOT CERTIFIED: p") && stdout.contains("unsupported md5/digest"), "{stdout}");
    // The same suite without a profile: nothing failed.
    let out = harness().arg("run").arg(&suites).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn a_run_that_selects_nothing_is_a_usage_error_and_the_filter_ignores_case() {
    let out = harness().args(["run", "suites/digest.yaml", "--filter", "no-such-case"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--filter \"no-such-case\" matches none of the"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).is_empty(), "nothing may run");

    // An empty directory selects nothing: the generated discovery cases alone never pass.
    let dir = temp_dir("empty");
    let out = harness().arg("run").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no suite case in"));

    // The README's example: ids say CKM_SHA256, the filter says sha256.
    let report = temp_dir("filter-case");
    let out = harness()
        .args(["run", "suites/digest.yaml", "--filter", "kat-abc-single", "--report-dir"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let out = harness().args(["run", "suites/digest.yaml", "--filter", "sha256"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("pass") && l.contains("CKM_SHA256")), "{stdout}");
    let results = results::read(&report);
    assert_eq!(results["filter"], "kat-abc-single");
    assert_eq!(results["suites"][0]["path"], "suites/digest.yaml");
    assert_eq!(results["suites"][0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(results["verdict"], "PASSED");
    assert!(results["counts"]["outcomes"]["pass"].as_u64().unwrap() > 0);
}

#[test]
fn a_bad_profile_is_refused_before_anything_runs() {
    let dir = temp_dir("bad-profile");
    let file = dir.join("p.yaml");
    std::fs::write(&file, "profile: p\naccept:\n  - {expected: CKR_NOPE, also: [], reason: r}\n").unwrap();
    let out = harness().args(["run", "suites/random.yaml", "--profile"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("p.yaml:3:") && stderr.contains("unknown return value \"CKR_NOPE\""), "{stderr}");
}

#[test]
fn the_reports_hold_the_matrix_and_the_certification() {
    let dir = temp_dir("reports");
    let out = harness().args(["run", "--profile", "full", "--report-dir"]).arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let problems: Vec<&str> =
        stdout.lines().filter(|l| l.starts_with("fail") || l.starts_with("error")).collect();
    assert_eq!(out.status.code(), Some(0), "{problems:#?}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("CERTIFIED: full"));
    assert!(!html.contains("http://") && !html.contains("https://"), "the page must not fetch anything");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("**Verdict: CERTIFIED: full"));
    let results = results::read(&dir);
    assert_eq!(results["verdict"], "CERTIFIED");
    assert_eq!(results["profile"]["name"], "full");
    assert_eq!(results["profile"]["file"]["path"], "suites/profiles/full.yaml");
    assert_eq!(
        results["suites"].as_array().unwrap().len(),
        std::fs::read_dir("suites")
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "yaml"))
            .count()
    );
    // Every seed-table function has a row in the matrix.
    for rpc in grep11_harness::rpc::Rpc::seed_table() {
        assert!(html.contains(&format!("<th class=\"fn\">{rpc}</th>")), "{rpc} has no matrix row");
    }
}

#[test]
fn serve_lists_its_faults_and_refuses_an_unknown_one() {
    let out = harness().args(["serve", "--list-faults"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.lines().count() >= 14, "{listing}");
    assert!(listing.contains("verify-accepts-corrupt") && listing.contains("transient-unavailable"));
    let out = harness().args(["serve", "--fault", "no-such-fault"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown fault"));
}

#[test]
fn a_served_fault_fails_the_run_and_retries_are_reported() {
    let served = crate::support::serve(&["--fault", "wrong-digest", "--fault", "transient-unavailable"]);
    let dir = temp_dir("faulty");
    let out = harness()
        .args(["run", "suites/digest.yaml", "--endpoint", &served.url, "--report-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("fail") && l.contains("digest/kat-abc-single")), "{stdout}");
    assert!(stdout.contains("calls retried at the endpoint's request"), "{stdout}");
    let results = results::read(&dir);
    let cases = results["cases"].as_array().unwrap();
    let retries: u64 = cases.iter().map(|c| c["retries"].as_u64().unwrap()).sum();
    assert!(retries > 0, "no retries recorded");
    // A refusal with Retry is retried, never reported: no case errors because of it.
    assert!(cases.iter().all(|c| c["outcome"] != "error"), "{stdout}");
}
