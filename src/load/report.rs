//! The load report as data (`--json`), and the terminal table. Latencies are shown in the
//! unit that keeps three significant digits readable; JSON carries milliseconds.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;
use tabled::builder::Builder;
use tabled::settings::Style;

use super::record::{Sample, Summary};

/// `850ns`, `12.3µs`, `4.56ms`, `1.23s`.
pub fn fmt_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0}ns")
    } else if ns < 1e6 {
        let n = format!("{:.3}", ns / 1e3);
        format!("{}µs", n.trim_end_matches('0').trim_end_matches('.'))
    } else if ns < 1e9 {
        format!("{:.3}ms", ns / 1e6)
    } else {
        format!("{:.3}s", ns / 1e9)
    }
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// The largest recorded.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Standard deviation.
    pub stddev: f64,
}

impl Latency {
    /// From a histogram of nanoseconds; all zeros when it is empty.
    pub fn of(h: &Histogram<u64>) -> Latency {
        let ms = |ns: f64| ns / 1e6;
        let q = |q: f64| ms(h.value_at_quantile(q) as f64);
        let (mean, stddev) = if h.is_empty() { (0.0, 0.0) } else { (ms(h.mean()), ms(h.stdev())) };
        Latency {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p99_9: q(0.999),
            max: ms(h.max() as f64),
            mean,
            stddev,
        }
    }
}

/// One workload over one phase (or over the whole run: phase `all`).
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The workload's name.
    pub workload: String,
    /// `run` (closed loop), `RATE/s` (an open-loop phase) or `all` (the whole run).
    pub phase: String,
    /// Open loop: the calls per second asked for; `None` in closed loop and for `all`.
    pub target_rate: Option<f64>,
    /// Measured time: the phase's, or the measured phases' together for `all`.
    pub seconds: f64,
    /// When the measured time began, in seconds from the report's `started_at`.
    pub start_s: f64,
    /// Iterations that did what the step expects.
    pub count: u64,
    /// Iterations that failed; by cause in `error_kinds`.
    pub errors: u64,
    /// By `CKR_*` name or `gRPC CODE`.
    pub error_kinds: BTreeMap<String, u64>,
    /// Answers checked locally, those found wrong (not in `count`), the first reason.
    pub checked: u64,
    /// See `checked`.
    pub wrong: u64,
    /// See `checked`.
    pub first_wrong: Option<String>,
    /// Successful iterations per second (errors and wrong answers are not throughput).
    pub rate: f64,
    /// From the intended send time in open loop; from the send in closed loop.
    pub latency_ms: Latency,
    /// Open loop: from the actual send, as a tool that ignores coordinated omission sees it.
    pub uncorrected_ms: Option<Latency>,
    /// Open loop: how late calls were sent after their intended time (the generator
    /// falling behind its schedule).
    pub sent_late_ms: Option<Latency>,
    /// Calls still in flight when the run ended on time.
    pub unfinished: u64,
}

impl Row {
    /// The row of a summary, latencies in milliseconds.
    pub fn of(s: &Summary) -> Row {
        Row {
            workload: s.workload.clone(),
            phase: s.phase.clone(),
            target_rate: s.target_rate,
            seconds: s.seconds,
            start_s: s.start.as_secs_f64(),
            count: s.count,
            errors: s.errors,
            error_kinds: s.error_kinds.clone(),
            checked: s.checked,
            wrong: s.wrong,
            first_wrong: s.first_wrong.clone(),
            rate: s.rate,
            latency_ms: Latency::of(&s.histogram),
            uncorrected_ms: s.uncorrected.as_ref().map(Latency::of),
            sent_late_ms: s.lag.as_ref().map(Latency::of),
            unfinished: s.unfinished,
        }
    }
}

pub use super::find_max::Capacity;
pub use super::merge::{MergeInfo, SourceInfo};

/// A whole load run.
#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    /// The version of grep11-harness that made the run.
    pub harness_version: String,
    /// The endpoint's URL, or `embedded emulator`; a merged report lists every agent's.
    pub endpoint: String,
    /// `closed`, `open`, `find-max`, or `merged` (`report merge`).
    pub mode: String,
    /// HTTP/2 connections the calls were spread over (a merged report: every agent's).
    pub connections: usize,
    /// Closed loop: calls in flight; `None` in open loop.
    pub concurrency: Option<usize>,
    /// When the run started, in seconds since the Unix epoch.
    pub started_unix: u64,
    /// The same instant in RFC 3339 with milliseconds: the interval log's StartTime, from
    /// which `start_s` and the timeline count.
    pub started_at: String,
    /// `I/N` when this run was agent I of N (`--segment`).
    pub segment: Option<String>,
    /// The interval log written with this report, relative to the report's folder when
    /// beside it: `report merge` takes the latency histograms from there.
    pub hlog: Option<String>,
    /// True when Ctrl-C ended the run early.
    pub interrupted: bool,
    /// One row per workload and measured phase (the warm-up left out).
    pub phases: Vec<Row>,
    /// One row per workload over every measured phase (phase `all`).
    pub overall: Vec<Row>,
    /// One sample per workload and second of the run, `t` counted from `started_at`; the
    /// warm-up's calls are left out.
    pub timeline: Vec<Sample>,
    /// `--find-max`: one search per workload; empty otherwise.
    pub capacity: Vec<Capacity>,
    /// What failed the run, one sentence each: thresholds not met, failed calls no
    /// threshold allows, wrong answers. Empty when it passed.
    pub violations: Vec<String>,
    /// What a merged report was made of (`report merge`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeInfo>,
}

fn errors_cell(row: &Row) -> String {
    if row.errors == 0 {
        return "0".into();
    }
    let kinds: Vec<String> = row.error_kinds.iter().map(|(k, v)| format!("{k}×{v}")).collect();
    format!("{} ({})", row.errors, kinds.join(", "))
}

/// One line for a workload that finished (when stderr is not a terminal).
pub fn finished_line(r: &Row) -> String {
    format!(
        "{}: {} ok in {:.1}s ({:.1}/s), p50 {} p99 {}, errors {}, wrong {} of {} checked",
        r.workload,
        r.count,
        r.seconds,
        r.rate,
        fmt_ns(r.latency_ms.p50 * 1e6),
        fmt_ns(r.latency_ms.p99 * 1e6),
        errors_cell(r),
        r.wrong,
        r.checked
    )
}

/// The terminal table: one row per workload and phase. The phase column appears only when
/// there is more than one phase (a ramp).
pub fn table(rows: &[Row]) -> String {
    let phased = rows.iter().any(|r| r.phase != rows[0].phase);
    let corrected = rows.iter().any(|r| r.uncorrected_ms.is_some());
    let mut b = Builder::default();
    let mut header = vec!["workload"];
    if phased {
        header.push("phase");
    }
    let open = rows.iter().any(|r| r.target_rate.is_some());
    if open {
        header.push("target/s");
    }
    header.extend(["ok calls", "ok/s", "p50", "p90", "p99", "p99.9", "max", "mean", "stddev"]);
    if corrected {
        header.push("p99 uncorrected");
    }
    if open {
        header.extend(["sent late p99/max", "in flight at end"]);
    }
    header.extend(["errors (by cause)", "wrong/checked"]);
    b.push_record(header);
    let ms = |v: f64| fmt_ns(v * 1e6);
    for r in rows {
        let l = &r.latency_ms;
        let mut cells = vec![r.workload.clone()];
        if phased {
            cells.push(r.phase.clone());
        }
        if open {
            cells.push(r.target_rate.map(|t| format!("{t:.0}")).unwrap_or_default());
        }
        cells.extend([
            r.count.to_string(),
            format!("{:.1}", r.rate),
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.p99_9),
            ms(l.max),
            ms(l.mean),
            ms(l.stddev),
        ]);
        if corrected {
            cells.push(r.uncorrected_ms.as_ref().map(|u| ms(u.p99)).unwrap_or_default());
        }
        if open {
            cells.push(
                r.sent_late_ms.as_ref().map(|l| format!("{}/{}", ms(l.p99), ms(l.max))).unwrap_or_default(),
            );
            cells.push(r.unfinished.to_string());
        }
        cells.push(errors_cell(r));
        cells.push(format!("{}/{}", r.wrong, r.checked));
        b.push_record(cells);
    }
    b.build().with(Style::psql()).to_string()
}

/// The trials of one `--find-max` search, one row each, in the order run: offered and
/// achieved rate, each SLO term's measured value, and which terms failed.
pub fn trials_table(cap: &Capacity) -> String {
    let mut b = Builder::default();
    let mut header: Vec<String> =
        ["#", "trial", "offered/s", "achieved/s", "seconds", "ok calls", "p50", "p99"]
            .map(String::from)
            .into();
    header.extend(cap.slo.iter().cloned());
    header.push("result".into());
    b.push_record(header);
    for (i, t) in cap.trials.iter().enumerate() {
        let mut cells = vec![
            i.to_string(),
            t.kind.name().to_owned(),
            format!("{:.0}", t.offered),
            format!("{:.1}", t.achieved),
            format!("{:.1}", t.seconds),
            t.calls.to_string(),
            fmt_ns(t.latency_ms.p50 * 1e6),
            fmt_ns(t.latency_ms.p99 * 1e6),
        ];
        for term in &cap.slo {
            let m = t.terms.iter().find(|x| &x.term == term);
            cells.push(
                m.map(|m| format!("{}{}", m.measured, if m.met { "" } else { " ✗" })).unwrap_or_default(),
            );
        }
        cells.push(if t.kind == crate::load::find_max::Kind::Probe {
            "closed loop, not judged".into()
        } else if t.passed {
            "pass".into()
        } else {
            format!("FAIL: {}", t.failed_terms().join(", "))
        });
        b.push_record(cells);
    }
    b.build().with(Style::psql()).to_string()
}

/// The answer of one `--find-max` search and how far to trust it.
pub fn capacity_line(cap: &Capacity) -> String {
    let c = &cap.confidence;
    match cap.max_rate {
        Some(r) => format!(
            "{}: {r:.0}/s meets the SLO ({}) · confidence {}: {}",
            cap.workload,
            cap.slo.join(", "),
            c.level.name(),
            c.why
        ),
        None => format!("{}: no rate tried met the SLO ({}): {}", cap.workload, cap.slo.join(", "), c.why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_read_well() {
        assert_eq!(fmt_ns(850.0), "850ns");
        assert_eq!(fmt_ns(12_300.0), "12.3µs");
        assert_eq!(fmt_ns(4_560_000.0), "4.560ms");
        assert_eq!(fmt_ns(1.5e9), "1.500s");
    }
}
