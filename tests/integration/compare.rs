//! `run --compare`: the same cases against two endpoints, divergences named by case, step
//! and kind, `compare.json` (checked against `docs/compare.schema.json`), the allow file,
//! and the exit code. Loopback only: the embedded emulator, and `serve` on an ephemeral
//! port, with and without faults.

use std::path::{Path, PathBuf};
use std::process::Output;

/// Small suites that the faults below reach: a run takes seconds.
const SUITES: &[&str] = &["suites/digest.yaml", "suites/random.yaml", "suites/cmac.yaml"];
const FAULTS: &[&str] =
    &["wrong-digest", "random-truncated", "mechanism-list-drops", "key-type-as-mechanism-invalid"];

use crate::support::{Served, harness, show};

fn temp_dir(name: &str) -> PathBuf {
    crate::support::temp_dir("compare", name)
}

fn serve(faults: &[&str]) -> Served {
    let flags: Vec<&str> = faults.iter().flat_map(|f| ["--fault", f]).collect();
    crate::support::serve(&flags)
}

fn compare(other: &str, dir: &Path, extra: &[&str]) -> Output {
    harness()
        .arg("run")
        .args(SUITES)
        .args(["--compare", other, "--report-dir"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap()
}

/// `compare.json` in `dir`, after checking it against the kept schema.
fn read(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("compare.json")).expect("compare.json is written");
    let report: serde_json::Value = serde_json::from_str(&text).expect("compare.json parses");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/compare.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    let problems: Vec<String> = validator.iter_errors(&report).map(|e| e.to_string()).collect();
    assert!(problems.is_empty(), "compare.json does not match its schema: {problems:?}");
    report
}

fn divergences(report: &serde_json::Value) -> &Vec<serde_json::Value> {
    report["divergences"].as_array().unwrap()
}

fn agree(out: &Output, dir: &Path) {
    assert_eq!(out.status.code(), Some(0), "{}", show(out));
    let report = read(dir);
    assert_eq!(report["verdict"], "AGREE");
    assert!(divergences(&report).is_empty(), "{report}");
    assert!(report["compared"].as_u64().unwrap() > 100, "{report}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("AGREE: 0 divergences"), "{}", show(out));
    // Both sides' own reports are there too.
    assert!(dir.join("results.json").is_file() && dir.join("compared/results.json").is_file());
}

#[test]
fn the_emulator_agrees_with_itself_embedded_and_served() {
    let dir = temp_dir("self");
    agree(&compare("embedded", &dir, &[]), &dir);
    let served = serve(&[]);
    let dir = temp_dir("served");
    // Across wire generations too: key fields are compared whatever they are called.
    agree(&compare(&served.url, &dir, &["--compare-wire", "legacy"]), &dir);
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("## Comparison with a second endpoint") && md.contains("No divergence"), "{md}");
}

/// The divergence for `case`, which must be the only one for it.
fn find<'a>(report: &'a serde_json::Value, case: &str) -> &'a serde_json::Value {
    let found: Vec<_> = divergences(report).iter().filter(|d| d["case"] == case).collect();
    assert_eq!(found.len(), 1, "{case}: {found:?}");
    found[0]
}

#[test]
fn faults_are_named_by_case_step_and_kind_and_an_allow_file_accepts_them() {
    let served = serve(FAULTS);
    let dir = temp_dir("faults");
    let out = compare(&served.url, &dir, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let report = read(&dir);
    assert_eq!(report["verdict"], "DIVERGE");
    assert_eq!(report["a"]["endpoint"], "embedded emulator");
    assert_eq!(report["b"]["endpoint"], served.url.as_str());

    // random-truncated: the length of GenerateRandom's output.
    let d = find(&report, "random/generate-32");
    assert_eq!(
        (d["step"].as_u64(), d["action"].as_str(), d["kind"].as_str()),
        (Some(1), Some("GenerateRandom"), Some("length"))
    );
    assert_eq!(d["what"], "Rnd: 32 bytes vs 31 bytes");
    assert_eq!((d["a"]["outcome"].as_str(), d["b"]["outcome"].as_str()), (Some("pass"), Some("fail")));

    // wrong-digest: same code and length, a wrong value that B's own check fails.
    let d = find(&report, "digest/kat-abc-single[md=hex:a9993e364706816a..(20 bytes),mech=CKM_SHA_1]");
    assert_eq!((d["step"].as_u64(), d["kind"].as_str()), (Some(1), Some("outcome")));
    assert!(d["b"]["message"].as_str().unwrap().contains("Digest: expected"), "{d}");
    assert_eq!(d["a"]["message"], serde_json::Value::Null);

    // key-type-as-mechanism-invalid: the code of the step that refuses.
    let d = find(&report, "cmac/cmac-wrong-key-type");
    assert_eq!(
        (d["step"].as_u64(), d["action"].as_str(), d["kind"].as_str()),
        (Some(2), Some("SignInit"), Some("code"))
    );
    assert_eq!(d["what"], "CKR_KEY_TYPE_INCONSISTENT (0x63) vs CKR_MECHANISM_INVALID (0x70)");

    // mechanism-list-drops: the list, and the cases B then leaves out as unsupported.
    let d = find(&report, "discovery/mechanism-list");
    assert_eq!(
        (d["kind"].as_str(), d["what"].as_str()),
        (Some("support"), Some("listed by A only: CKM_SHA256"))
    );
    let d = find(&report, "digest/kat-abc-single[md=hex:ba7816bf8f01cfea..(32 bytes),mech=CKM_SHA256]");
    assert_eq!((d["kind"].as_str(), d["b"]["outcome"].as_str()), (Some("support"), Some("unsupported")));

    // Nothing else: each divergence comes from one of the faults.
    for d in divergences(&report) {
        let case = d["case"].as_str().unwrap();
        let kind = d["kind"].as_str().unwrap();
        let explained = match kind {
            "length" => case.starts_with("random/"),
            "outcome" => case.starts_with("digest/") || case.starts_with("random/"),
            "code" => d["what"].as_str().unwrap().contains("CKR_KEY_TYPE_INCONSISTENT"),
            "support" => case.contains("CKM_SHA256") || d["what"].as_str().unwrap().contains("CKM_SHA256"),
            _ => false,
        };
        assert!(explained, "a divergence no fault explains: {d}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("random/generate-32") && stdout.contains("DIVERGE:"), "{stdout}");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let row =
        md.lines().find(|l| l.starts_with('|') && l.contains("`cmac/cmac-wrong-key-type`")).unwrap_or("");
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(cells.get(1..4), Some(&["`cmac/cmac-wrong-key-type`", "2 SignInit", "code"][..]), "{md}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("id=\"comparison\"") && html.contains("CKR_MECHANISM_INVALID (0x70)"));

    // The allow file lists them: exit 0, each divergence marked with its reason.
    let allow = dir.join("allow.yaml");
    std::fs::write(
        &allow,
        "deviations:\n  - {case: 'digest/*', reason: wrong-digest}\n  - {case: 'random/*', reason: random-truncated}\n  \
         - {case: 'cmac/cmac-wrong-key-type', reason: key-type-as-mechanism-invalid}\n  - {case: 'discovery/*', reason: mechanism-list-drops}\n",
    )
    .unwrap();
    let allow_dir = temp_dir("allowed");
    let out = compare(&served.url, &allow_dir, &["--compare-allow", allow.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let report = read(&allow_dir);
    assert!(!divergences(&report).is_empty());
    assert!(divergences(&report).iter().all(|d| d["allowed"].is_string()), "{report}");

    // An entry that matches no divergence is reported and fails the comparison.
    std::fs::write(
        &allow,
        format!("{}  - {{case: 'hmac/*', reason: stale}}\n", std::fs::read_to_string(&allow).unwrap()),
    )
    .unwrap();
    let out = compare(&served.url, &allow_dir, &["--compare-allow", allow.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("allowed divergence did not occur: hmac/*"),
        "{}",
        show(&out)
    );
    assert_eq!(read(&allow_dir)["allowed_not_occurred"][0]["case"], "hmac/*");
}

#[test]
fn compare_flags_are_checked_before_anything_runs() {
    let out = harness().args(["run", "suites/random.yaml", "--compare-wire", "legacy"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let out = harness().args(["run", "suites/random.yaml", "--compare", "not-a-url"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--compare:"), "{}", show(&out));
    let out = harness()
        .args([
            "run",
            "suites/random.yaml",
            "--compare",
            "embedded",
            "--compare-allow",
            "/nonexistent/allow.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--compare-allow"), "{}", show(&out));
}
