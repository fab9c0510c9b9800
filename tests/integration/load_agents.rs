//! Distributed load through the binary: agents (`load --segment I/N --start-at`) against
//! one `serve` on loopback, their reports merged by `report merge`, and the merged
//! histogram compared with one built here from the agents' interval logs by hdrhistogram
//! directly. Runs are bounded in time (about a second each) and in count.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use serde_json::Value;

use super::load::{harness, serve, show};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("grep11-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The union of every interval tagged `tag` in the logs, read without the harness's code.
fn union_of(logs: &[PathBuf], tag: &str) -> Histogram<u64> {
    let mut union = Histogram::<u64>::new(3).unwrap();
    for log in logs {
        let text = std::fs::read(log).unwrap();
        for entry in IntervalLogIterator::new(&text) {
            let LogEntry::Interval(i) = entry.unwrap() else { continue };
            if i.tag().map(|t| t.as_str()) != Some(tag) {
                continue;
            }
            let bytes = base64::engine::general_purpose::STANDARD.decode(i.encoded_histogram()).unwrap();
            let h: Histogram<u64> = Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
            union.add(&h).unwrap();
        }
    }
    union
}

fn merge(args: &[&Path], out: &Path) -> (std::process::Output, Value) {
    let o = harness().args(["report", "merge"]).args(args).arg("--json").arg(out).output().unwrap();
    assert!(o.status.success(), "{}", show(&o));
    (o.clone(), json(out))
}

#[test]
fn merging_one_run_gives_its_own_rate_back() {
    let dir = scratch("merge-one");
    let run = dir.join("run");
    let out = harness()
        .args(["load", "--workload", "random-32", "--concurrency", "2", "--warmup", "300ms"])
        .args(["--duration", "1s", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let report = json(&run.join("load.json"));
    let row = &report["overall"][0];
    assert_eq!(report["hlog"], "load.hlog");
    assert!(row["count"].as_u64().unwrap() > 0, "{row}");
    // The folder, the report alone and the log alone (which brings the report beside it).
    for (n, input) in [run.clone(), run.join("load.json"), run.join("load.hlog")].iter().enumerate() {
        let (_, merged) = merge(&[input], &dir.join(format!("m{n}.json")));
        let m = &merged["overall"][0];
        assert_eq!(m["rate"], row["rate"], "{input:?}: merged {m} from {row}");
        assert_eq!(m["count"], row["count"]);
        assert_eq!(m["seconds"], row["seconds"], "one run's span is its measured time");
        assert_eq!(merged["merge"]["agents"], 1);
        assert_eq!(merged["merge"]["notes"], serde_json::json!([]));
    }
    // An interval log without its report: the rate is its calls over its intervals' span,
    // which starts with the measured time (after the warm-up), so it is close but not exact
    // (the log keeps milliseconds, and the last interval closes a moment after the run).
    let bare = dir.join("bare.hlog");
    std::fs::copy(run.join("load.hlog"), &bare).unwrap();
    let (o, merged) = merge(&[&bare], &dir.join("bare.json"));
    let ratio = merged["overall"][0]["rate"].as_f64().unwrap() / row["rate"].as_f64().unwrap();
    assert!((0.95..=1.01).contains(&ratio), "a bare log's rate is {ratio} of the run's");
    assert!(show(&o).contains("no load report beside it"), "{}", show(&o));
    // A log that is not the report's: refused, naming both.
    let other = dir.join("other.hlog");
    let out = harness()
        .args(["load", "--workload", "random-32", "--requests", "7", "--warmup", "0s", "--hlog"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    std::fs::copy(&other, run.join("load.hlog")).unwrap();
    let out = harness().args(["report", "merge"]).arg(&run).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(show(&out).contains("holds 7 successful call(s) of random-32 where"), "{}", show(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn three_agents_merge_into_one_report_whose_histogram_is_the_union() {
    let served = serve(&[]);
    let dir = scratch("agents");
    let shared = dir.join("shared");
    // Far enough ahead for three debug-built processes to start and connect on a busy
    // machine; all three measure from then on.
    let start = humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(4)).to_string();
    let children: Vec<_> = (1..=3)
        .map(|i| {
            harness()
                .args(["load", "--endpoint", &served.url, "--workload", "random-32"])
                .args(["--concurrency", "7", "--warmup", "200ms", "--duration", "1s"])
                .args(["--segment", &format!("{i}/3"), "--start-at", &start, "--out"])
                .arg(&shared)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "agent {}: {}", i + 1, show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("agent {}/3's share starting at {start}", i + 1)), "{stderr}");
    }
    let reports: Vec<Value> = (1..=3).map(|i| json(&shared.join(format!("load-{i}-of-3.json")))).collect();
    // 7 in flight over 3 agents: 3, 2, 2.
    let shares: Vec<u64> = reports.iter().map(|r| r["concurrency"].as_u64().unwrap()).collect();
    assert_eq!(shares, [3, 2, 2]);
    let rows: Vec<&Value> = reports.iter().map(|r| &r["overall"][0]).collect();
    let count: u64 = rows.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    let rate: f64 = rows.iter().map(|r| r["rate"].as_f64().unwrap()).sum();
    assert!(rows.iter().all(|r| r["count"].as_u64().unwrap() > 0), "{rows:?}");

    let (merged_json, merged_log, html) =
        (dir.join("merged.json"), dir.join("merged.hlog"), dir.join("m.html"));
    let out = harness()
        .args(["report", "merge"])
        .arg(&shared)
        .arg("--json")
        .arg(&merged_json)
        .arg("--hlog")
        .arg(&merged_log)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let merged = json(&merged_json);
    let info = &merged["merge"];
    assert_eq!(info["agents"], 3);
    assert_eq!(info["segments"], serde_json::json!(["1/3", "2/3", "3/3"]));
    assert_eq!(info["notes"], serde_json::json!([]), "agents that started together: no caveat");
    let span = info["seconds"].as_f64().unwrap();
    assert!((1.0..1.5).contains(&span), "the agents' measured seconds span {span}s");
    let m = &merged["overall"][0];
    assert_eq!(m["count"].as_u64().unwrap(), count);
    assert!((m["rate"].as_f64().unwrap() - rate).abs() < 1e-9 * rate, "{} vs {rate}", m["rate"]);

    // The merged latency is the union of the agents' histograms, and so is the merged log.
    let logs: Vec<PathBuf> = (1..=3).map(|i| shared.join(format!("load-{i}-of-3.hlog"))).collect();
    let union = union_of(&logs, "random-32");
    assert_eq!(union.len(), count);
    let from_log = union_of(std::slice::from_ref(&merged_log), "random-32");
    assert_eq!(from_log.len(), count);
    for (key, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99_9", 0.999)] {
        let want = union.value_at_quantile(q) as f64 / 1e6;
        assert_eq!(m["latency_ms"][key].as_f64().unwrap(), want, "{key}");
        assert_eq!(from_log.value_at_quantile(q), union.value_at_quantile(q), "{key} of the merged log");
    }
    assert_eq!(m["latency_ms"]["max"].as_f64().unwrap(), union.max() as f64 / 1e6);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("random-32") && page.contains("<svg"), "{}", &page[..page.len().min(500)]);

    // A merged report and its log left beside the agents' files are passed over.
    std::fs::copy(&merged_json, shared.join("merged.json")).unwrap();
    std::fs::copy(&merged_log, shared.join("merged.hlog")).unwrap();
    let (o, again) = merge(&[&shared], &dir.join("again.json"));
    assert_eq!(again["overall"][0]["count"].as_u64().unwrap(), count, "{}", show(&o));
    assert!(show(&o).contains("merged.json passed over: a merged report"), "{}", show(&o));

    // Two of the three: merged, with the missing share named.
    std::fs::remove_file(shared.join("load-2-of-3.json")).unwrap();
    let (o, partial) = merge(&[&shared], &dir.join("partial.json"));
    assert!(show(&o).contains("segment(s) 2/3 missing"), "{}", show(&o));
    // Its log stays, without a report: merged as a bare log, and said so.
    assert_eq!(partial["merge"]["agents"], 3);
    assert!(show(&o).contains("load-2-of-3.hlog: no load report beside it"), "{}", show(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_segments_and_start_times_are_usage_errors() {
    for (args, says) in [
        (&["--segment", "4/3"][..], "--segment: \"4/3\": the agent I must be from 1 to N"),
        (&["--segment", "two/3"][..], "is not a segment"),
        (&["--segment", "3/3", "--concurrency", "2"][..], "leaves agent 3 none"),
        (&["--segment", "3/3", "--rate", "0.002"][..], "leaves agent 3 none"),
        (&["--start-at", "2001-01-01T00:00:00Z"][..], "in the past"),
        (&["--start-at", "tomorrow"][..], "neither an RFC 3339 time"),
    ] {
        let out = harness()
            .args(["load", "--workload", "random-32", "--requests", "5"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        assert!(show(&out).contains(says), "{args:?}: {}", show(&out));
    }
    // job/N reads the Indexed Job's completion index, counted from 0.
    let dir = scratch("job-index");
    let out = harness()
        .env("JOB_COMPLETION_INDEX", "1")
        .args(["load", "--workload", "random-32", "--requests", "5", "--concurrency", "2"])
        .args(["--segment", "job/2", "--warmup", "0s", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let report = json(&dir.join("load-2-of-2.json"));
    assert_eq!(report["segment"], "2/2");
    // 5 requests over 2 agents: the first takes 3, the second 2.
    assert_eq!(report["overall"][0]["count"], 2);
    std::fs::remove_dir_all(&dir).unwrap();
}
