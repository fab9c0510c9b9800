//! `report merge`: the reports and interval logs of several agents (or of one run) as one
//! report. Successful calls, errors by cause, wrong answers and each agent's measured time
//! come from the agents' JSON reports; latency from their interval logs, summed per
//! workload (the union of the agents' histograms). The merged rate is the sum of the
//! agents' rates, each over its own measured time: merging one run's files gives back its
//! rate exactly, and agents that ran together (`--start-at`) give the rate they offered
//! together. The span of wall-clock time the measurements cover is reported beside it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::hlog::{self, HlogError, Interval};
use super::record::{Sample, Summary, new_histogram};
use super::report::{LoadReport, Row};

/// The tag suffix of open loop's uncorrected latency in interval logs.
const UNCORRECTED: &str = ".uncorrected";

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a load report ({why})")]
    NotAReport { path: String, why: String },
    #[error("{path} was written without an interval log (--hlog or --out): merging needs its latency")]
    NoLog { path: String },
    #[error(transparent)]
    Hlog(#[from] HlogError),
    #[error(
        "{hlog} holds {in_log} successful call(s) of {workload} where {report} counts {in_report}: \
         not the interval log of that run"
    )]
    Inconsistent { report: String, hlog: String, workload: String, in_log: u64, in_report: u64 },
    #[error("{path}: started_at {text:?} is not an RFC 3339 time")]
    Time { path: String, text: String },
    #[error("no load report or interval log in {0}")]
    Nothing(String),
}

/// The parts of a load report (`--json`) a merge reads; other fields are ignored.
#[derive(Deserialize)]
struct AgentReport {
    harness_version: String,
    endpoint: String,
    mode: String,
    #[serde(default)]
    connections: usize,
    #[serde(default)]
    concurrency: Option<usize>,
    started_unix: u64,
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    segment: Option<String>,
    #[serde(default)]
    hlog: Option<String>,
    #[serde(default)]
    interrupted: bool,
    overall: Vec<AgentRow>,
    #[serde(default)]
    timeline: Vec<Sample>,
}

#[derive(Deserialize)]
struct AgentRow {
    workload: String,
    seconds: f64,
    #[serde(default)]
    start_s: f64,
    count: u64,
    errors: u64,
    #[serde(default)]
    error_kinds: BTreeMap<String, u64>,
    #[serde(default)]
    checked: u64,
    #[serde(default)]
    wrong: u64,
    #[serde(default)]
    first_wrong: Option<String>,
    rate: f64,
    #[serde(default)]
    unfinished: u64,
}

/// One agent's files: its report (absent for an interval log alone) and its interval log.
pub struct Source {
    report: Option<(PathBuf, AgentReport)>,
    hlog: PathBuf,
}

/// What a merged report was made of.
#[derive(Clone, Debug, Serialize)]
pub struct MergeInfo {
    /// Agents (runs) merged.
    pub agents: usize,
    /// Start of the wall-clock span the measured times cover: the first agent's start
    /// (RFC 3339).
    pub from: String,
    /// End of that span: the last agent's end (RFC 3339).
    pub to: String,
    /// Length of that span, in seconds.
    pub seconds: f64,
    /// The agents' `--segment`s, in the order read.
    pub segments: Vec<String>,
    /// Each agent's files and totals, in the order read.
    pub sources: Vec<SourceInfo>,
    /// Anything that limits what the merged numbers mean (missing segments, agents that
    /// did not run together, logs without a report).
    pub notes: Vec<String>,
}

/// One merged agent.
#[derive(Clone, Debug, Serialize)]
pub struct SourceInfo {
    /// Its `report.json`; `None` when only its interval log was given.
    pub report: Option<String>,
    /// Its interval log.
    pub hlog: String,
    /// Its `--segment`, when it ran one.
    pub segment: Option<String>,
    /// When it started measuring (RFC 3339).
    pub started_at: String,
    /// Successful calls, over the agent's workloads.
    pub calls: u64,
    /// Their rate, in calls per second.
    pub rate: f64,
}

/// The merge: the report, the summaries the HTML writer takes, and every interval of every
/// agent with `start` counted from the merged report's `started_at`.
pub struct Merged {
    pub report: LoadReport,
    pub summaries: Vec<Summary>,
    pub started: SystemTime,
    pub intervals: Vec<Interval>,
}

fn read_report(path: &Path) -> Result<AgentReport, MergeError> {
    let text = std::fs::read(path).map_err(|source| MergeError::Io { path: show(path), source })?;
    serde_json::from_slice(&text).map_err(|e| MergeError::NotAReport { path: show(path), why: e.to_string() })
}

fn show(path: &Path) -> String {
    path.display().to_string()
}

fn key(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

/// The interval log a report names, found from the report's folder.
fn log_of(path: &Path, report: &AgentReport) -> Result<PathBuf, MergeError> {
    let name = report.hlog.as_deref().ok_or_else(|| MergeError::NoLog { path: show(path) })?;
    Ok(path.parent().unwrap_or(Path::new(".")).join(name))
}

/// Finds the agents' files: each path is a report (`.json`), an interval log (`.hlog`), or
/// a folder holding them. A report brings the log it names; a log named alone brings the
/// report beside it (same name, `.json`) when that report names it. Merged reports and,
/// inside folders, JSON files that are not load reports are passed over with a note.
pub fn gather(paths: &[PathBuf]) -> Result<(Vec<Source>, Vec<String>), MergeError> {
    let mut notes = Vec::new();
    let mut jsons: Vec<(PathBuf, bool)> = Vec::new();
    let mut logs: Vec<PathBuf> = Vec::new();
    for path in paths {
        if path.is_dir() {
            let io = |source| MergeError::Io { path: show(path), source };
            let mut entries: Vec<PathBuf> =
                std::fs::read_dir(path).map_err(io)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            let before = jsons.len() + logs.len();
            for e in entries {
                match e.extension().and_then(|x| x.to_str()) {
                    Some("json") => jsons.push((e, false)),
                    Some("hlog") => logs.push(e),
                    _ => {}
                }
            }
            if jsons.len() + logs.len() == before {
                return Err(MergeError::Nothing(show(path)));
            }
        } else if path.extension().is_some_and(|x| x == "hlog") {
            logs.push(path.clone());
        } else {
            jsons.push((path.clone(), true));
        }
    }
    let mut sources = Vec::new();
    let mut claimed = BTreeSet::new();
    let mut reports = BTreeSet::new();
    for (path, named) in jsons {
        if !reports.insert(key(&path)) {
            continue;
        }
        let report = match read_report(&path) {
            Ok(r) => r,
            Err(e) if named => return Err(e),
            Err(_) => {
                notes.push(format!("{} passed over: not a load report", show(&path)));
                continue;
            }
        };
        if report.mode == "merged" {
            // Its log (all the agents' intervals again) is passed over with it.
            if let Ok(log) = log_of(&path, &report) {
                claimed.insert(key(&log));
            }
            notes.push(format!("{} passed over: a merged report", show(&path)));
            continue;
        }
        let log = log_of(&path, &report)?;
        claimed.insert(key(&log));
        sources.push(Source { report: Some((path, report)), hlog: log });
    }
    for log in logs {
        if !claimed.insert(key(&log)) {
            continue;
        }
        let beside = log.with_extension("json");
        let report = read_report(&beside)
            .ok()
            .filter(|r| r.mode != "merged")
            .filter(|r| log_of(&beside, r).is_ok_and(|l| key(&l) == key(&log)));
        match report {
            Some(r) if reports.insert(key(&beside)) => {
                sources.push(Source { report: Some((beside, r)), hlog: log })
            }
            Some(_) => {}
            None => {
                notes.push(format!(
                    "{}: no load report beside it; its rate is its calls over its intervals' span, and \
                     its errors and wrong answers are unknown",
                    show(&log)
                ));
                sources.push(Source { report: None, hlog: log });
            }
        }
    }
    if sources.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| show(p)).collect();
        return Err(MergeError::Nothing(names.join(", ")));
    }
    Ok((sources, notes))
}

/// One workload of one agent, with its measured time on the wall clock.
struct Part {
    workload: String,
    start: Duration,
    seconds: f64,
    count: u64,
    errors: u64,
    error_kinds: BTreeMap<String, u64>,
    checked: u64,
    wrong: u64,
    first_wrong: Option<String>,
    rate: f64,
    unfinished: u64,
}

struct Agent {
    info: SourceInfo,
    endpoint: Option<String>,
    version: Option<String>,
    connections: usize,
    concurrency: Option<usize>,
    interrupted: bool,
    parts: Vec<Part>,
    /// (workload, end from the epoch, seconds, calls, errors, wrong), from the report.
    timeline: Vec<(String, Duration, f64, u64, u64, u64)>,
    intervals: Vec<Interval>,
    bare: bool,
}

fn epoch(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap_or_default()
}

fn time(d: Duration) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + d).to_string()
}

fn agent(source: Source) -> Result<Agent, MergeError> {
    let intervals = hlog::read(&source.hlog)?;
    let by_tag = hlog::sum_by_tag(&intervals);
    let hlog = show(&source.hlog);
    let Some((path, report)) = source.report else {
        let parts: Vec<Part> = by_tag
            .iter()
            .filter(|(tag, _)| !tag.ends_with(UNCORRECTED))
            .map(|(tag, m)| {
                let seconds = m.last.saturating_sub(m.first).as_secs_f64();
                let count = m.histogram.len();
                Part {
                    workload: tag.clone(),
                    start: m.first,
                    seconds,
                    count,
                    errors: 0,
                    error_kinds: BTreeMap::new(),
                    checked: 0,
                    wrong: 0,
                    first_wrong: None,
                    rate: if seconds > 0.0 { count as f64 / seconds } else { 0.0 },
                    unfinished: 0,
                }
            })
            .collect();
        let start = parts.iter().map(|p| p.start).min().unwrap_or_default();
        return Ok(Agent {
            info: SourceInfo {
                report: None,
                hlog,
                segment: None,
                started_at: time(start),
                calls: parts.iter().map(|p| p.count).sum(),
                rate: parts.iter().map(|p| p.rate).sum(),
            },
            endpoint: None,
            version: None,
            connections: 0,
            concurrency: None,
            interrupted: false,
            parts,
            timeline: Vec::new(),
            intervals,
            bare: true,
        });
    };
    let started = match &report.started_at {
        Some(text) => epoch(
            humantime::parse_rfc3339(text)
                .map_err(|_| MergeError::Time { path: show(&path), text: text.clone() })?,
        ),
        None => Duration::from_secs(report.started_unix),
    };
    let mut parts = Vec::new();
    for row in report.overall {
        let in_log = by_tag.get(&row.workload).map_or(0, |m| m.histogram.len());
        if in_log != row.count {
            return Err(MergeError::Inconsistent {
                report: show(&path),
                hlog,
                workload: row.workload,
                in_log,
                in_report: row.count,
            });
        }
        parts.push(Part {
            start: started + Duration::try_from_secs_f64(row.start_s).unwrap_or_default(),
            workload: row.workload,
            seconds: row.seconds,
            count: row.count,
            errors: row.errors,
            error_kinds: row.error_kinds,
            checked: row.checked,
            wrong: row.wrong,
            first_wrong: row.first_wrong,
            rate: row.rate,
            unfinished: row.unfinished,
        });
    }
    let timeline = report
        .timeline
        .into_iter()
        .filter(|s| !s.workload.is_empty())
        .map(|s| {
            let end = started + Duration::try_from_secs_f64(s.t).unwrap_or_default();
            (s.workload, end, s.seconds, s.calls, s.errors, s.wrong)
        })
        .collect();
    Ok(Agent {
        info: SourceInfo {
            report: Some(show(&path)),
            hlog,
            segment: report.segment.clone(),
            started_at: time(started),
            calls: parts.iter().map(|p| p.count).sum(),
            rate: parts.iter().map(|p| p.rate).sum(),
        },
        endpoint: Some(report.endpoint),
        version: Some(report.harness_version),
        connections: report.connections,
        concurrency: report.concurrency,
        interrupted: report.interrupted,
        parts,
        timeline,
        intervals,
        bare: false,
    })
}

/// Notes on the agents' segments: from different splits, repeated, or missing.
fn segment_notes(agents: &[Agent]) -> Vec<String> {
    let mut notes = Vec::new();
    let segments: Vec<(u32, u32)> = agents
        .iter()
        .filter_map(|a| a.info.segment.as_deref())
        .filter_map(|s| super::segment::Segment::parse(s, None).ok())
        .map(|s| (s.index, s.count))
        .collect();
    let counts: BTreeSet<u32> = segments.iter().map(|s| s.1).collect();
    if counts.len() > 1 {
        notes.push(format!("segments of different splits ({counts:?} agents): not one planned load"));
        return notes;
    }
    let Some(&n) = counts.first() else { return notes };
    let mut seen = BTreeSet::new();
    for (i, _) in &segments {
        if !seen.insert(*i) {
            notes.push(format!("segment {i}/{n} appears more than once: its load is counted twice"));
        }
    }
    let missing: Vec<String> = (1..=n).filter(|i| !seen.contains(i)).map(|i| format!("{i}/{n}")).collect();
    if !missing.is_empty() {
        notes.push(format!(
            "segment(s) {} missing: the merged load is {} of the {n} agents' shares",
            missing.join(", "),
            seen.len()
        ));
    }
    notes
}

#[derive(Default)]
struct Bucket {
    end: f64,
    seconds: f64,
    calls: u64,
    errors: u64,
    wrong: u64,
    latency: Option<Histogram<u64>>,
}

/// Merges what `gather` found.
pub fn merge(sources: Vec<Source>, mut notes: Vec<String>) -> Result<Merged, MergeError> {
    let agents: Vec<Agent> = sources.into_iter().map(agent).collect::<Result<_, _>>()?;
    notes.extend(segment_notes(&agents));
    let starts = agents
        .iter()
        .flat_map(|a| a.parts.iter().map(|p| p.start).chain(a.intervals.iter().map(|i| i.start)));
    let origin = starts.min().unwrap_or_default();
    let ends = agents.iter().flat_map(|a| {
        a.parts
            .iter()
            .map(|p| p.start + Duration::try_from_secs_f64(p.seconds).unwrap_or_default())
            .chain(a.intervals.iter().map(|i| i.start + i.duration))
    });
    let end = ends.max().unwrap_or(origin);
    let since = |d: Duration| d.saturating_sub(origin).as_secs_f64();

    let mut order: Vec<String> = Vec::new();
    for p in agents.iter().flat_map(|a| &a.parts) {
        if !order.contains(&p.workload) {
            order.push(p.workload.clone());
        }
    }
    let mut summaries = Vec::new();
    for w in &order {
        let parts: Vec<&Part> = agents.iter().flat_map(|a| &a.parts).filter(|p| &p.workload == w).collect();
        let first = parts.iter().map(|p| p.start).min().unwrap_or(origin);
        let part_end = |p: &&Part| p.start + Duration::try_from_secs_f64(p.seconds).unwrap_or_default();
        let last = parts.iter().map(part_end).max().unwrap_or(first);
        let seconds = last.saturating_sub(first).as_secs_f64();
        if parts.len() > 1 {
            let together = parts
                .iter()
                .map(part_end)
                .min()
                .unwrap_or(first)
                .saturating_sub(parts.iter().map(|p| p.start).max().unwrap_or(first))
                .as_secs_f64();
            if together < 0.9 * seconds {
                notes.push(format!(
                    "{w}: the agents ran together for {together:.3}s of the {seconds:.3}s they cover: \
                     the sum of their rates is a rate they reached together only while all ran"
                ));
            }
        }
        let mut histogram = new_histogram();
        let mut uncorrected: Option<Histogram<u64>> = None;
        let unc_tag = format!("{w}{UNCORRECTED}");
        for i in agents.iter().flat_map(|a| &a.intervals) {
            // Auto-resizing histograms take any other.
            if &i.tag == w {
                let _ = histogram.add(&i.histogram);
            } else if i.tag == unc_tag {
                let _ = uncorrected.get_or_insert_with(new_histogram).add(&i.histogram);
            }
        }
        let mut error_kinds: BTreeMap<String, u64> = BTreeMap::new();
        for (k, v) in parts.iter().flat_map(|p| &p.error_kinds) {
            *error_kinds.entry(k.clone()).or_default() += v;
        }
        summaries.push(Summary {
            workload: w.clone(),
            phase: "all".into(),
            target_rate: None,
            seconds,
            start: first.saturating_sub(origin),
            count: parts.iter().map(|p| p.count).sum(),
            errors: parts.iter().map(|p| p.errors).sum(),
            error_kinds,
            checked: parts.iter().map(|p| p.checked).sum(),
            wrong: parts.iter().map(|p| p.wrong).sum(),
            first_wrong: parts.iter().find_map(|p| p.first_wrong.clone()),
            rate: parts.iter().map(|p| p.rate).sum(),
            histogram,
            uncorrected,
            lag: None,
            unfinished: parts.iter().map(|p| p.unfinished).sum(),
        });
    }

    // The timeline: each agent's one-second samples on the common clock, summed per
    // workload and second; percentiles from the summed interval histograms.
    let mut buckets: BTreeMap<(i64, String), Bucket> = BTreeMap::new();
    for a in &agents {
        for (w, at, seconds, calls, errors, wrong) in &a.timeline {
            let t = since(*at);
            let b = buckets.entry((t.round() as i64, w.clone())).or_default();
            b.end = b.end.max(t);
            b.seconds = b.seconds.max(*seconds);
            b.calls += calls;
            b.errors += errors;
            b.wrong += wrong;
        }
        for i in a.intervals.iter().filter(|i| !i.tag.ends_with(UNCORRECTED)) {
            let t = since(i.start + i.duration);
            let b = buckets.entry((t.round() as i64, i.tag.clone())).or_default();
            b.end = b.end.max(t);
            if a.bare {
                b.seconds = b.seconds.max(i.duration.as_secs_f64());
                b.calls += i.histogram.len();
            }
            let _ = b.latency.get_or_insert_with(new_histogram).add(&i.histogram);
        }
    }
    let timeline = buckets
        .into_iter()
        .map(|((_, workload), b)| {
            let q = |q: f64| b.latency.as_ref().map_or(0, |h| h.value_at_quantile(q));
            Sample {
                t: b.end,
                seconds: b.seconds,
                calls: b.calls,
                errors: b.errors,
                wrong: b.wrong,
                p50_ns: q(0.5),
                p99_ns: q(0.99),
                workload,
            }
        })
        .collect();

    let endpoints: BTreeSet<&str> = agents.iter().filter_map(|a| a.endpoint.as_deref()).collect();
    if endpoints.len() > 1 {
        notes.push(format!("the agents measured different endpoints: {endpoints:?}"));
    }
    let mut intervals: Vec<Interval> = agents
        .iter()
        .flat_map(|a| &a.intervals)
        .map(|i| Interval { start: i.start.saturating_sub(origin), ..i.clone() })
        .collect();
    intervals.sort_by_key(|i| i.start);
    let overall: Vec<Row> = summaries.iter().map(Row::of).collect();
    let concurrencies: Vec<usize> = agents.iter().filter_map(|a| a.concurrency).collect();
    let report = LoadReport {
        harness_version: agents
            .iter()
            .find_map(|a| a.version.clone())
            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned()),
        endpoint: endpoints.into_iter().collect::<Vec<_>>().join(", "),
        mode: "merged".into(),
        connections: agents.iter().map(|a| a.connections).sum(),
        concurrency: (!concurrencies.is_empty()).then(|| concurrencies.iter().sum()),
        started_unix: origin.as_secs(),
        started_at: time(origin),
        segment: None,
        hlog: None,
        interrupted: agents.iter().any(|a| a.interrupted),
        phases: overall.clone(),
        overall,
        timeline,
        capacity: Vec::new(),
        violations: Vec::new(),
        merge: Some(MergeInfo {
            agents: agents.len(),
            from: time(origin),
            to: time(end),
            seconds: end.saturating_sub(origin).as_secs_f64(),
            segments: agents.iter().filter_map(|a| a.info.segment.clone()).collect(),
            sources: agents.into_iter().map(|a| a.info).collect(),
            notes,
        }),
    };
    Ok(Merged { report, summaries, started: UNIX_EPOCH + origin, intervals })
}
