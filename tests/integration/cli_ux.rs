//! The command line as a user meets it: closed pipes, absurd values, one-line refusals,
//! interruption, progress order, built-in suites and profiles, TLS mistakes, a silent
//! server, generated completions and man page.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn harness() -> Command {
    let mut command = crate::support::harness();
    command.current_dir(env!("CARGO_MANIFEST_DIR")).env_remove("NO_COLOR");
    command
}

fn temp_dir(name: &str) -> PathBuf {
    crate::support::temp_dir("ux", name)
}

fn run(args: &[&str]) -> Output {
    harness().args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_closed_stdout_ends_every_subcommand_without_a_panic() {
    let commands: &[&[&str]] = &[
        &["list"],
        &["list", "--profiles"],
        &["list", "--profile", "core"],
        &["serve", "--list-faults"],
        &["load", "--list"],
        &["completions", "bash"],
        &["man"],
        &["--help"],
        &["run", "suites/digest.yaml"],
    ];
    for args in commands {
        let mut child = harness().args(*args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        let status = child.wait().unwrap();
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(status.code(), Some(101), "{args:?}: {stderr}");
        assert!(status.code().is_some_and(|c| c <= 1), "{args:?}: {status:?} {stderr}");
    }
}

#[test]
fn absurd_values_are_refused_in_one_line_naming_the_flag() {
    let file = temp_dir("refusals").join("a-file");
    std::fs::write(&file, "").unwrap();
    let not_a_dir = file.join("reports").display().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["run", "--timeout", "999999999999s"], "--timeout"),
        (&["run", "--timeout", "0"], "--timeout"),
        (&["run", "--concurrency", "0"], "--concurrency"),
        (&["run", "--concurrency", "99999999999"], "--concurrency"),
        (&["run", "--connect-timeout", "0s"], "--connect-timeout"),
        (&["run", "--endpoint", "http://127.0.0.1:99999"], "--endpoint"),
        (&["run", "--endpoint", "http://"], "--endpoint"),
        (&["run", "--endpoint", "garbage"], "--endpoint"),
        (&["run", "--deviations", "/nonexistent/deviations.yaml"], "--deviations"),
        (&["run", "--profile", "nosuch"], "--profile"),
        (&["run", "suites/digest.yaml", "--report-dir", &not_a_dir], "--report-dir"),
        (&["load", "--rate", "-100"], "--rate"),
        (&["load", "--duration", "999999999999s"], "--duration"),
        (&["load", "--threads", "100000"], "--threads"),
        (&["load", "--concurrency", "0"], "--concurrency"),
        (&["load", "--requests", "0"], "--requests"),
        (&["serve", "--listen", "no-port-here"], "--listen"),
    ];
    for (args, flag) in cases {
        let out = run(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?} does not name {flag}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let out = run(&["run", "--profile", "nosuch"]);
    assert!(text(&out.stderr).contains("available: core"), "{}", text(&out.stderr));
    // A bad value from the environment is named by its variable.
    let out = harness()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("GREP11_WRAPPING_KEY", "xyz")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("GREP11_WRAPPING_KEY:") && !stderr.contains("--wrapping-key"), "{stderr}");
}

/// A listener that accepts TCP connections and never sends a byte.
fn silent_server() -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if let Ok((socket, _)) = listener.accept() {
                held.push(socket);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    (address, holder)
}

#[test]
fn the_connect_timeout_bounds_a_server_that_never_speaks_http2_for_run_and_load() {
    let (address, _holder) = silent_server();
    let url = format!("http://{address}");
    for args in [
        vec!["run", "suites/random.yaml", "--endpoint", &url, "--connect-timeout", "1s", "--timeout", "30s"],
        vec!["load", "--endpoint", &url, "--connect-timeout", "1s", "--timeout", "30s", "--duration", "1s"],
    ] {
        let started = Instant::now();
        let out = run(&args);
        let stderr = text(&out.stderr);
        assert!(started.elapsed() < Duration::from_secs(8), "{args:?} took {:?}", started.elapsed());
        // One convention for an unreachable endpoint: one line saying why, exit 1.
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(&format!("no connection to {url} within 1s")), "{args:?}: {stderr}");
    }
}

#[test]
fn sigint_stops_the_run_writes_interrupted_reports_and_exits_130() {
    let dir = temp_dir("interrupt");
    let mut child = harness()
        .args(["run", "--concurrency", "1", "--color", "never", "--report-dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..3 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        lines.push(line);
    }
    let started = Instant::now();
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert_eq!(status.code(), Some(130), "{rest}");
    let last = rest.trim_end().lines().last().unwrap_or_default();
    assert!(last.starts_with("INTERRUPTED after "), "{last}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["interrupted"], true);
    let cases = results["cases"].as_array().unwrap();
    let not_started = cases
        .iter()
        .filter(|c| c["outcome"] == "skip" && c["message"].as_str().unwrap_or("").contains("interrupted"))
        .count();
    assert!(not_started > 100, "{not_started} cases marked as not started");
    for name in ["report.md", "report.html"] {
        let report = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(report.contains("INTERRUPTED"), "{name} does not say it was interrupted");
    }
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("name=\"grep11-harness (interrupted)\""),
        "junit.xml does not say it was interrupted"
    );
}

fn case_lines(out: &Output) -> Vec<String> {
    text(&out.stdout).lines().take_while(|l| !l.is_empty()).map(str::to_owned).collect()
}

#[test]
fn case_lines_come_in_case_order_with_the_verdict_last_and_colour_on_request() {
    let args = ["run", "suites/digest.yaml", "suites/random.yaml", "--concurrency", "16"];
    let first = harness().args(args).args(["--color", "never"]).output().unwrap();
    let second = harness().args(args).env("NO_COLOR", "1").args(["--color", "auto"]).output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let lines = case_lines(&first);
    assert!(lines.len() > 20);
    assert_eq!(lines, case_lines(&second));
    let listed = text(&run(&["list", "suites/digest.yaml", "suites/random.yaml"]).stdout);
    // `pass        ID`: the outcome is padded to 11 columns (ids may hold spaces).
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l.strip_prefix("pass        ").unwrap())
        .filter(|id| !id.starts_with("discovery/"))
        .collect();
    let expected: Vec<&str> = listed.lines().filter(|id| ids.contains(id)).collect();
    assert_eq!(ids, expected, "case lines are not in case order");
    let stdout = text(&first.stdout);
    assert!(stdout.trim_end().lines().last().unwrap().starts_with("PASSED: "), "{stdout}");
    assert!(!stdout.contains('\u{1b}'));
    let coloured = harness().args(args).args(["--color", "always"]).output().unwrap();
    assert!(text(&coloured.stdout).contains("\u{1b}[32m"), "no green pass");
    // --quiet: nothing but the verdict when everything passes.
    let quiet = harness().args(args).arg("--quiet").output().unwrap();
    assert_eq!(text(&quiet.stdout).trim_end().lines().count(), 1, "{}", text(&quiet.stdout));
}

#[test]
fn the_installed_binary_runs_its_built_in_suites_and_profiles_from_anywhere() {
    let elsewhere = temp_dir("elsewhere");
    let in_dir = |args: &[&str]| harness().current_dir(&elsewhere).args(args).output().unwrap();
    let profiles = text(&in_dir(&["list", "--profiles"]).stdout);
    for name in ["core", "full", "ibm-hpcs"] {
        assert!(profiles.lines().any(|l| l.starts_with(name)), "{profiles}");
    }
    let core = text(&in_dir(&["list", "--profile", "core"]).stdout);
    assert!(core.lines().any(|l| l.starts_with("selected  ")), "{core}");
    assert!(core.lines().any(|l| l.starts_with("out       ") && l.contains(": ")), "{core}");
    // A profile run covers its whole selection, so the built-in suites run narrowed
    // without one.
    let out = in_dir(&["run", "--filter", "random/", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).trim_end().starts_with("PASSED: "), "{}", text(&out.stdout));
    // A suite directory on disk extends the built-in ones.
    std::fs::create_dir_all(elsewhere.join("suites")).unwrap();
    std::fs::write(
        elsewhere.join("suites/mine.yaml"),
        "suite: mine\ncases:\n  - name: random\n    steps:\n      - GenerateRandom: {len: 8}\n",
    )
    .unwrap();
    let listed = text(&in_dir(&["list"]).stdout);
    assert!(listed.lines().any(|l| l.starts_with("mine/")), "no disk suite");
    assert!(listed.lines().any(|l| l.starts_with("digest/")), "no built-in suite");
}

#[test]
fn every_problem_of_every_file_is_reported_with_suggestions() {
    let dir = temp_dir("problems");
    std::fs::write(
        dir.join("a.yaml"),
        "suite: a\ncases:\n  - name: one\n    steps:\n      - GenerateKey: {mech: CKM_AES_KEY_GEN, template: {CKA_VALUE_LENGTH: 32}}\n  - name: two\n    steps:\n      - DigestSingle: {mech: CKM_SHA257, data: \"hex:00\"}\n      - GenerateRandom: {lenght: 4}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("b.yaml"),
        "suite: b\ncases:\n  - name: c\n    steps:\n      - DigestInit: {mech: CKM_SHA256}\n        save: {state: State}\n      - Digest: {state: $stat, data: \"hex:00\"}\n",
    )
    .unwrap();
    let out = harness().arg("list").arg(&dir).arg(dir.join("a.yaml")).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // Each problem at the value that has it: the attribute, the mechanism, the arguments.
    for want in [
        "a.yaml:5:57: ",
        "did you mean CKA_VALUE_LEN?",
        "a.yaml:8:30: ",
        "did you mean CKM_SHA256?",
        "a.yaml:9:25: ",
        "did you mean len?",
        "b.yaml:7:9: ",
        "did you mean $state?",
        "4 problem(s)",
    ] {
        assert!(stderr.contains(want), "missing {want:?} in:\n{stderr}");
    }
    // a.yaml was named twice (once in the directory): loaded once, not a duplicate suite.
    assert!(!stderr.contains("used by another file"), "{stderr}");
}

#[test]
fn completions_and_man_page_come_from_the_flag_definitions() {
    let bash = text(&run(&["completions", "bash"]).stdout);
    assert!(bash.contains("--connect-timeout") && bash.contains("completions"), "bash completion incomplete");
    let zsh = run(&["completions", "zsh"]);
    assert_eq!(zsh.status.code(), Some(0));
    let man = text(&run(&["man"]).stdout);
    assert!(man.contains(".TH grep11-harness"), "{}", &man[..man.len().min(200)]);
    let dir = temp_dir("man");
    let out = harness().args(["man", "--out-dir"]).arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(Path::new(&dir.join("grep11-harness-run.1")).exists());
}

/// `serve` on an ephemeral port; the URL it prints, and the child to stop.
fn serve(listen: &str, extra: &[&str]) -> (String, std::process::Child) {
    let mut child = harness()
        .args(["serve", "--listen", listen])
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.split_whitespace().find(|w| w.starts_with("http")).unwrap_or_default().to_owned();
    assert!(!url.is_empty(), "{line}");
    (url, child)
}

#[test]
fn tls_mistakes_are_explained_with_the_fix() {
    let dir = temp_dir("tls-words");
    // A self-signed CA certificate served as the server's own, as `openssl req -x509` makes.
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    let cert_file = dir.join("cert.pem").display().to_string();
    let key_file = dir.join("key.pem").display().to_string();

    let (tls_url, mut tls) = serve("127.0.0.1:0", &["--tls-cert", &cert_file, "--tls-key", &key_file]);
    let port = tls_url.rsplit(':').next().unwrap().to_owned();
    let attempt = |url: &str, extra: &[&str]| {
        let out = harness()
            .args(["run", "suites/random.yaml", "--connect-timeout", "3s", "--endpoint", url])
            .args(extra)
            .output()
            .unwrap();
        text(&out.stderr)
    };
    let self_signed = attempt(&format!("https://127.0.0.1:{port}"), &["--ca-cert", &cert_file]);
    assert!(self_signed.contains("self-signed"), "{self_signed}");
    let plain_to_tls = attempt(&format!("http://127.0.0.1:{port}"), &[]);
    assert!(plain_to_tls.contains("use https://"), "{plain_to_tls}");
    tls.kill().unwrap();
    let _ = tls.wait();

    // A host name is a valid --listen address.
    let (h2c_url, mut h2c) = serve("localhost:0", &[]);
    let port = h2c_url.rsplit(':').next().unwrap().to_owned();
    let host = h2c_url.trim_start_matches("http://").rsplit_once(':').unwrap().0.to_owned();
    let tls_to_plain = attempt(&format!("https://{host}:{port}"), &["--ca-cert", &cert_file]);
    assert!(tls_to_plain.contains("use http://"), "{tls_to_plain}");
    h2c.kill().unwrap();
    let _ = h2c.wait();
}
