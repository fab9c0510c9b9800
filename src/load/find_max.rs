//! Capacity search: the highest open-loop rate at which a workload meets the SLO, confirmed.
//!
//! A short closed-loop probe gives the ballpark (the search starts at half of it, or at
//! `--rate`). Single trials then bracket the boundary (doubling while they pass, halving
//! while they fail) and bisect it to `resolution`. The candidate is then confirmed: it
//! stands when a majority of `confirmations` trials there pass and a majority one step
//! above (`resolution` higher) fail. A candidate that fails its confirmations becomes the
//! new upper bound and the bisection resumes below it; a step above that passes becomes
//! the answer and the next step up is tried. The trial budget bounds the whole search.
//!
//! Each trial lasts long enough for the percentile it judges: `TAIL_SAMPLES` calls beyond
//! the SLO's highest percentile at the offered rate (2,000 calls for a p99), never less than
//! the floor, at most the ceiling. A trial also fails when the endpoint completes under
//! `KEEP_UP` of the rate offered: an endpoint that cannot keep up does not "meet" a latency
//! SLO by answering fewer calls.
//!
//! The search itself (`Searcher`) is a state machine fed with judged trials, so that it is
//! tested against simulated endpoints; `find_max` drives it with real trials.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use super::cond::{Condition, Metric};
use super::record::{Recorder, Summary, summarize};
use super::report::Latency;
use super::sched::{Mode, Plan, run};
use super::workload::Ready;
use crate::client::Client;

/// Calls expected beyond the judged percentile in each trial: with 20, the measured p99
/// rests on 20 slow calls rather than on one or two.
pub const TAIL_SAMPLES: f64 = 20.0;
/// Share of the offered rate a trial must complete (successfully) to pass.
pub const KEEP_UP: f64 = 0.9;
/// Below this rate (calls per second) the search gives up going down.
const MIN_RATE: f64 = 1.0;

/// How a search runs.
#[derive(Clone, Debug)]
pub struct Search {
    /// First rate tried; `None`: half of what the closed-loop probe sustained.
    pub start_rate: Option<f64>,
    /// Shortest trial (`--step-duration`, else `--duration`).
    pub floor: Duration,
    /// Longest trial, whatever the percentile would want.
    pub ceiling: Duration,
    /// Unrecorded time at the trial's rate before each trial.
    pub warmup: Duration,
    /// Open-loop trials: calls outstanding at most; further sends wait, and the wait
    /// counts in their latency.
    pub max_in_flight: usize,
    /// Open-loop trials: how long before each send the event loop wakes, as in
    /// [`Mode::Open`].
    pub lead: Duration,
    /// Closed-loop probe: calls in flight.
    pub probe_concurrency: usize,
    /// Trials at most, the probe not counted.
    pub max_trials: usize,
    /// Trials at the answer, and as many one step above it.
    pub confirmations: usize,
    /// Relative width the boundary is narrowed to, and the step above the answer.
    pub resolution: f64,
    /// How long the calls still in flight at a trial's end may take to finish; their
    /// latency counts, and the wait is part of the trial's seconds.
    pub drain: Duration,
    /// Every how many iterations one is checked locally, as [`Plan::check_every`].
    pub check_every: u64,
}

/// Why a trial was run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Closed loop, for the ballpark; not judged against the SLO.
    Probe,
    /// Looking for the boundary: the rate doubles after a pass and halves after a failure.
    Bracket,
    /// Between the highest pass and the lowest failure (their geometric mean).
    Bisect,
    /// At the candidate answer.
    Confirm,
    /// One step above the candidate answer.
    Above,
}

impl Kind {
    /// Its name in the trials table and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Probe => "probe",
            Kind::Bracket => "bracket",
            Kind::Bisect => "bisect",
            Kind::Confirm => "confirm",
            Kind::Above => "above",
        }
    }
}

/// One SLO term as measured in one trial.
#[derive(Clone, Debug, Serialize)]
pub struct Term {
    /// As written in `--slo`, or `achieved>=90% of offered` for the keep-up rule.
    pub term: String,
    /// The measured value, shown in the term's unit.
    pub measured: String,
    /// The measured value as a number (nanoseconds, percent, count or calls per second).
    pub value: f64,
    /// Whether the value meets the term.
    pub met: bool,
}

/// One trial: what was offered, what came back, and how each SLO term fared.
#[derive(Clone, Debug, Serialize)]
pub struct Trial {
    /// Which step of the search it was.
    pub kind: Kind,
    /// Calls per second asked for (open loop); the probe's achieved rate for the probe.
    pub offered: f64,
    /// Successful calls per second.
    pub achieved: f64,
    /// Measured time, including the wait for calls in flight at the end (`Search::drain`).
    pub seconds: f64,
    /// Iterations whose every step did what it expects.
    pub calls: u64,
    /// Iterations that failed, counted by cause in `error_kinds`.
    pub errors: u64,
    /// By `CKR_*` name or gRPC code.
    pub error_kinds: std::collections::BTreeMap<String, u64>,
    /// Calls still in flight when the trial ended.
    pub unfinished: u64,
    /// Successful calls, from their intended send time (the probe: from the send).
    pub latency_ms: Latency,
    /// Open loop: from the actual send, as a tool that ignores coordinated omission sees
    /// it; `None` for the probe and when nothing succeeded.
    pub uncorrected_ms: Option<Latency>,
    /// Each SLO term that applies to the workload, then the keep-up rule; empty for the
    /// probe.
    pub terms: Vec<Term>,
    /// Every term was met (the probe, not judged, counts as passed).
    pub passed: bool,
}

impl Trial {
    /// The terms that failed, by their text.
    pub fn failed_terms(&self) -> Vec<&str> {
        self.terms.iter().filter(|t| !t.met).map(|t| t.term.as_str()).collect()
    }
}

/// How far to trust an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Not confirmed: no rate met the SLO, or the search ended (trial budget,
    /// interruption, a lost connection) before confirming its answer.
    Low,
    /// Confirmed, but the boundary is not sharp, a trial far from it disagrees, or the
    /// achieved rates at the answer spread more than 10%.
    Medium,
    /// Confirmed at the answer and refuted one step above (one of the two unanimously),
    /// no trial further away disagreeing, and the achieved rates at the answer spread 10%
    /// at most.
    High,
}

impl Level {
    /// Its name in the report and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }
}

/// The evidence for an answer.
#[derive(Clone, Debug, Serialize)]
pub struct Confidence {
    /// The verdict that the other fields support.
    pub level: Level,
    /// Confirmation trials at the answer: passed, run.
    pub confirmed: (usize, usize),
    /// One step above the answer: the rate, trials failed, trials run.
    pub above: Option<(f64, usize, usize)>,
    /// Achieved rates over the confirmation trials at the answer: lowest, highest, and
    /// their spread (highest - lowest) / mean, in percent. Calls per second; 0 without
    /// such trials.
    pub achieved_min: f64,
    /// See `achieved_min`.
    pub achieved_max: f64,
    /// See `achieved_min`.
    pub spread_percent: f64,
    /// Share of judged trials whose outcome agrees with the answer (passed at or below
    /// it, failed above it).
    pub consistent: f64,
    /// Trials more than one step from the answer whose outcome disagrees with it.
    pub stray: usize,
    /// One sentence saying why.
    pub why: String,
}

/// A workload's capacity search, for the report.
#[derive(Clone, Debug, Serialize)]
pub struct Capacity {
    /// The workload searched.
    pub workload: String,
    /// The SLO terms that apply to this workload, as written in `--slo`.
    pub slo: Vec<String>,
    /// The highest rate confirmed (or, with low confidence, merely passed) to meet the
    /// SLO; `None` when no rate tried met it.
    pub max_rate: Option<f64>,
    /// How far to trust `max_rate`, and why.
    pub confidence: Confidence,
    /// Every trial in the order run, the probe first.
    pub trials: Vec<Trial>,
    /// Why the search stopped early, when it did (the answer is then not trusted).
    pub stopped: Option<String>,
}

/// The trial length for `rate`: enough calls for the SLO's highest percentile to rest on
/// `TAIL_SAMPLES` calls beyond it, within `floor..=ceiling`.
pub fn trial_length(slo: &[Condition], rate: f64, floor: Duration, ceiling: Duration) -> Duration {
    let tail = slo
        .iter()
        .filter_map(|c| match c.metric {
            Metric::Percentile(p) if p < 100.0 => Some(1.0 - p / 100.0),
            _ => None,
        })
        .fold(1.0, f64::min);
    let calls = TAIL_SAMPLES / tail;
    let seconds = if rate > 0.0 { calls / rate } else { ceiling.as_secs_f64() };
    Duration::from_secs_f64(seconds.min(ceiling.as_secs_f64())).max(floor)
}

/// Judges a trial's summary against the SLO terms that apply to it and the keep-up rule.
pub fn judge(kind: Kind, offered: f64, summary: &Summary, slo: &[Condition]) -> Trial {
    let mut terms: Vec<Term> = slo
        .iter()
        .filter(|c| c.applies_to(&summary.workload))
        .filter_map(|c| {
            let value = c.measure(summary)?;
            Some(Term { term: c.text.clone(), measured: c.show(value), value, met: c.holds(value) })
        })
        .collect();
    terms.push(Term {
        term: format!("achieved>={:.0}% of offered", KEEP_UP * 100.0),
        measured: format!("{:.1}/s ({:.0}%)", summary.rate, 100.0 * summary.rate / offered.max(1e-9)),
        value: summary.rate,
        met: summary.rate >= KEEP_UP * offered,
    });
    Trial {
        kind,
        offered,
        achieved: summary.rate,
        seconds: summary.seconds,
        calls: summary.count,
        errors: summary.errors,
        error_kinds: summary.error_kinds.clone(),
        unfinished: summary.unfinished,
        latency_ms: Latency::of(&summary.histogram),
        uncorrected_ms: summary.uncorrected.as_ref().map(Latency::of),
        passed: terms.iter().all(|t| t.met),
        terms,
    }
}

#[derive(Clone, Debug)]
enum Stage {
    Bracket(f64),
    Bisect,
    Confirm(f64),
    Above(f64),
    Done,
}

/// The search as a state machine: `next` says which trial to run, `record` takes its
/// judged result.
struct Searcher {
    resolution: f64,
    confirmations: usize,
    max_trials: usize,
    /// Highest single pass not refuted, lowest failure.
    lo: Option<f64>,
    hi: Option<f64>,
    stage: Stage,
    /// The answer confirmed so far.
    answer: Option<f64>,
    trials: Vec<Trial>,
}

impl Searcher {
    /// A search whose first bracketing trial is at `start` calls per second.
    fn new(start: f64, resolution: f64, confirmations: usize, max_trials: usize) -> Searcher {
        Searcher {
            resolution: resolution.max(0.001),
            confirmations: confirmations.max(1),
            max_trials,
            lo: None,
            hi: None,
            stage: Stage::Bracket(start.max(MIN_RATE)),
            answer: None,
            trials: Vec::new(),
        }
    }

    fn majority(&self) -> usize {
        self.confirmations / 2 + 1
    }

    /// The judged trials (the probe excluded).
    fn judged(&self) -> impl Iterator<Item = &Trial> {
        self.trials.iter().filter(|t| t.kind != Kind::Probe)
    }

    /// The next trial to run, or `None` when the search is over.
    fn next(&self) -> Option<(Kind, f64)> {
        if self.judged().count() >= self.max_trials {
            return None;
        }
        match self.stage {
            Stage::Bracket(rate) => Some((Kind::Bracket, rate)),
            Stage::Bisect => {
                let (lo, hi) = (self.lo?, self.hi?);
                Some((Kind::Bisect, (lo * hi).sqrt()))
            }
            Stage::Confirm(rate) => Some((Kind::Confirm, rate)),
            Stage::Above(rate) => Some((Kind::Above, rate)),
            Stage::Done => None,
        }
    }

    /// Outcomes of the latest trials of `kind` at `rate` in a row: (passed, run).
    fn tally(&self, kind: Kind, rate: f64) -> (usize, usize) {
        let run: Vec<&Trial> =
            self.trials.iter().rev().take_while(|t| t.kind == kind && t.offered == rate).collect();
        (run.iter().filter(|t| t.passed).count(), run.len())
    }

    /// Bisect while the bracket is wider than the resolution; then confirm its low end.
    fn narrow(&mut self) {
        self.stage = match (self.lo, self.hi) {
            (Some(lo), Some(hi)) if hi > lo * (1.0 + self.resolution) => Stage::Bisect,
            (Some(lo), _) => Stage::Confirm(lo),
            (None, _) => Stage::Done,
        };
    }

    /// Takes a judged trial (the probe's too, which only joins the record) and moves the
    /// search on.
    fn record(&mut self, trial: Trial) {
        let (kind, rate, passed) = (trial.kind, trial.offered, trial.passed);
        self.trials.push(trial);
        match (self.stage.clone(), kind) {
            (_, Kind::Probe) => {}
            (Stage::Bracket(_), _) => {
                if passed {
                    self.lo = Some(rate);
                    self.stage = if self.hi.is_some() { Stage::Bisect } else { Stage::Bracket(rate * 2.0) };
                } else {
                    self.hi = Some(rate);
                    self.stage = if self.lo.is_some() {
                        Stage::Bisect
                    } else if rate / 2.0 >= MIN_RATE {
                        Stage::Bracket(rate / 2.0)
                    } else {
                        Stage::Done
                    };
                }
                if matches!(self.stage, Stage::Bisect) {
                    self.narrow();
                }
            }
            (Stage::Bisect, _) => {
                if passed {
                    self.lo = Some(rate);
                } else {
                    self.hi = Some(rate);
                }
                self.narrow();
            }
            (Stage::Confirm(c), _) => {
                let (ok, run) = self.tally(Kind::Confirm, c);
                if run < self.confirmations {
                    return;
                }
                if ok >= self.majority() {
                    self.answer = Some(c);
                    self.stage = Stage::Above(c * (1.0 + self.resolution));
                } else {
                    // Refuted: it becomes the upper bound; the best pass below it the
                    // lower, or, with none, bracketing goes down again.
                    self.hi = Some(c);
                    self.lo = self
                        .judged()
                        .filter(|t| t.passed && t.offered < c)
                        .map(|t| t.offered)
                        .max_by(f64::total_cmp);
                    if self.lo.is_some() {
                        self.narrow();
                    } else if c / 2.0 >= MIN_RATE {
                        self.stage = Stage::Bracket(c / 2.0);
                    } else {
                        self.stage = Stage::Done;
                    }
                }
            }
            (Stage::Above(a), _) => {
                let (ok, run) = self.tally(Kind::Above, a);
                if run < self.confirmations {
                    return;
                }
                if run - ok >= self.majority() {
                    self.stage = Stage::Done;
                } else {
                    // The boundary is higher: the step above held, so it is the answer,
                    // and the next step up is tried.
                    self.answer = Some(a);
                    self.lo = Some(a);
                    if self.hi.is_some_and(|h| h <= a) {
                        self.hi = None;
                    }
                    self.stage = Stage::Above(a * (1.0 + self.resolution));
                }
            }
            (Stage::Done, _) => {}
        }
    }

    /// The answer and the evidence for it, once `next` says the search is over (or
    /// earlier, when it was stopped).
    fn finish(self, workload: &str, slo: &[Condition]) -> Capacity {
        let confirmed = self.answer;
        let max_rate = confirmed.or(self.lo);
        let confidence = self.confidence(max_rate, confirmed.is_some());
        Capacity {
            workload: workload.to_owned(),
            slo: slo.iter().filter(|c| c.applies_to(workload)).map(|c| c.text.clone()).collect(),
            max_rate,
            confidence,
            trials: self.trials,
            stopped: None,
        }
    }

    fn confidence(&self, max_rate: Option<f64>, confirmed: bool) -> Confidence {
        let n = self.confirmations;
        let Some(answer) = max_rate else {
            let tried = self.judged().count();
            return Confidence {
                level: Level::Low,
                confirmed: (0, 0),
                above: None,
                achieved_min: 0.0,
                achieved_max: 0.0,
                spread_percent: 0.0,
                consistent: 0.0,
                stray: 0,
                why: format!("no rate met the SLO in {tried} trial(s)"),
            };
        };
        let at: Vec<&Trial> =
            self.judged().filter(|t| t.kind == Kind::Confirm && t.offered == answer).collect();
        let at: Vec<&Trial> = if at.is_empty() {
            // An answer reached by walking up was confirmed as the step above.
            self.judged().filter(|t| t.offered == answer).collect()
        } else {
            at
        };
        let passed = at.iter().filter(|t| t.passed).count();
        let above_rate = answer * (1.0 + self.resolution);
        let above: Vec<&Trial> =
            self.judged().filter(|t| t.kind == Kind::Above && t.offered == above_rate).collect();
        let above_failed = above.iter().filter(|t| !t.passed).count();
        let achieved: Vec<f64> = at.iter().map(|t| t.achieved).collect();
        let (min, max) = achieved.iter().fold((f64::MAX, 0.0f64), |(lo, hi), a| (lo.min(*a), hi.max(*a)));
        let mean = achieved.iter().sum::<f64>() / achieved.len().max(1) as f64;
        let spread = if mean > 0.0 { 100.0 * (max - min) / mean } else { 0.0 };
        let judged: Vec<&Trial> = self.judged().collect();
        let agrees = |t: &Trial| t.passed == (t.offered <= answer);
        let consistent = judged.iter().filter(|t| agrees(t)).count() as f64 / judged.len().max(1) as f64;
        // Within one step of the answer a majority decides (a sharp boundary still flips
        // a coin right at it); further away every trial should agree with the answer.
        let near = |r: f64| r >= answer / (1.0 + self.resolution) - 1e-9 && r <= above_rate + 1e-9;
        let stray = judged.iter().filter(|t| !near(t.offered) && !agrees(t)).count();
        // A sharp boundary lies within one step: at most one side of it flips coins.
        let boundary = passed >= self.majority()
            && above.len() >= n
            && above_failed >= self.majority()
            && (passed == at.len() || above_failed == above.len());
        let level = if !confirmed {
            Level::Low
        } else if boundary && stray == 0 && spread <= 10.0 {
            Level::High
        } else {
            Level::Medium
        };
        let why = if !confirmed {
            format!(
                "not confirmed: the search ended (trial budget or interruption) before {n} trials at {answer:.0}/s"
            )
        } else {
            format!(
                "{passed} of {} trials at {answer:.0}/s passed, {above_failed} of {} at {above_rate:.0}/s failed; \
                 achieved {min:.0}..{max:.0}/s (spread {spread:.1}%); {stray} trial(s) more than a step away disagree",
                at.len(),
                above.len(),
            )
        };
        Confidence {
            level,
            confirmed: (passed, at.len()),
            above: (!above.is_empty()).then_some((above_rate, above_failed, above.len())),
            achieved_min: if achieved.is_empty() { 0.0 } else { min },
            achieved_max: max,
            spread_percent: spread,
            consistent,
            stray,
            why,
        }
    }
}

/// One open-loop trial at `rate` (or, for the probe, a closed-loop run), summarised.
///
/// An open-loop trial is bounded by its number of calls (one fewer than its schedule
/// holds, so that the budget, not the clock, ends it), which makes the run wait up to
/// `drain` for the calls still in flight: their latency counts (the queue an overloaded
/// trial built is measured, not left out), and they are not cancelled: once an
/// overloaded trial had cancelled its queued calls (as many HTTP/2 stream resets), every
/// later call on the connection failed with `UNKNOWN`, and so every later trial. The
/// trial's seconds include that wait.
async fn measure(
    ready: &Ready,
    clients: &[Client],
    search: &Search,
    mode: Mode,
    duration: Duration,
    stop: watch::Receiver<bool>,
) -> Option<Summary> {
    let requests = match &mode {
        Mode::Open { rates, .. } => {
            rates.first().map(|r| ((r * duration.as_secs_f64()).floor() as u64).saturating_sub(1).max(1))
        }
        Mode::Closed { .. } => None,
    };
    let recorder = Arc::new(Recorder::new(vec![ready.name.clone()], matches!(mode, Mode::Open { .. })));
    let plan = Plan {
        workloads: Arc::new(vec![ready.clone()]),
        clients: clients.to_vec(),
        mode,
        warmup: search.warmup,
        duration,
        requests,
        drain: search.drain,
        check_every: search.check_every,
    };
    run(&plan, recorder.clone(), stop).await;
    let (_, overall) = summarize(&recorder);
    overall.into_iter().next()
}

/// Searches one workload's capacity; `each` sees every trial as it finishes.
pub async fn find_max(
    ready: &Ready,
    clients: &[Client],
    slo: &[Condition],
    search: &Search,
    stop: watch::Receiver<bool>,
    mut each: impl FnMut(&Trial),
) -> Capacity {
    let probe = measure(
        ready,
        clients,
        search,
        Mode::Closed { concurrency: search.probe_concurrency },
        search.floor,
        stop.clone(),
    )
    .await;
    let probe_rate = probe.as_ref().map_or(0.0, |s| s.rate);
    let start = search.start_rate.unwrap_or(probe_rate / 2.0).max(MIN_RATE);
    let mut searcher = Searcher::new(start, search.resolution, search.confirmations, search.max_trials);
    if let Some(summary) = probe {
        let mut trial = judge(Kind::Probe, probe_rate, &summary, &[]);
        // The probe is closed loop: it offers what it achieves, and is not judged.
        trial.terms.clear();
        trial.passed = true;
        each(&trial);
        searcher.record(trial);
    }
    while let Some((kind, rate)) = searcher.next() {
        if *stop.borrow() {
            break;
        }
        let duration = trial_length(slo, rate, search.floor, search.ceiling);
        let mode = Mode::Open { rates: vec![rate], max_in_flight: search.max_in_flight, lead: search.lead };
        let Some(summary) = measure(ready, clients, search, mode, duration, stop.clone()).await else {
            break;
        };
        if *stop.borrow() {
            break;
        }
        let trial = judge(kind, rate, &summary, slo);
        // A trial in which every call failed, after calls had succeeded, is a lost
        // connection rather than a capacity: going on would only walk the rate down.
        let lost = trial.calls == 0 && trial.errors > 0 && searcher.trials.iter().any(|t| t.calls > 0);
        let kinds: Vec<String> = trial.error_kinds.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        each(&trial);
        searcher.record(trial);
        if lost {
            let mut cap = searcher.finish(&ready.name, slo);
            cap.confidence.level = Level::Low;
            let why = format!(
                "every call of the last trial failed ({}) after earlier trials succeeded: the connection \
                 was lost, and the search stopped",
                kinds.join(", ")
            );
            cap.confidence.why = format!("{why}; {}", cap.confidence.why);
            cap.stopped = Some(why);
            return cap;
        }
    }
    searcher.finish(&ready.name, slo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::record::Stats;
    use rand::rngs::SmallRng;
    use rand::{RngExt, SeedableRng};

    /// A simulated endpoint: a single queue with service rate `capacity` (calls per
    /// second). Latency is exponential with mean 1/(capacity - offered) (M/M/1); past
    /// capacity the queue grows for the whole trial and the endpoint completes only
    /// `capacity` calls per second. `noise` scales each trial's capacity by a random
    /// factor in 1 ± noise, as a shared machine does.
    struct Simulated {
        capacity: f64,
        noise: f64,
        rng: SmallRng,
    }

    impl Simulated {
        fn summary(&mut self, offered: f64, seconds: f64) -> Summary {
            let capacity = self.capacity * (1.0 + self.noise * (2.0 * self.rng.random::<f64>() - 1.0));
            let mut stats = Stats::default();
            let calls = (offered * seconds).min(20_000.0) as u64;
            let done = if offered < capacity { calls } else { (calls as f64 * capacity / offered) as u64 };
            for i in 0..done {
                let seconds_taken = if offered < capacity {
                    let u: f64 = self.rng.random::<f64>().max(1e-12);
                    -u.ln() / (capacity - offered)
                } else {
                    // Past capacity, the i-th call waits for the backlog ahead of it.
                    1.0 / capacity + (i as f64 / done as f64) * seconds * (1.0 - capacity / offered)
                };
                let _ = stats.latency.record((seconds_taken * 1e9).max(1.0) as u64);
            }
            let scale = calls as f64 / (offered * seconds);
            Summary::new("sim", "all", Some(offered), seconds * scale, &stats)
        }
    }

    fn search(sim: &mut Simulated, slo: &[Condition], start: f64) -> Capacity {
        let mut s = Searcher::new(start, 0.05, 3, 40);
        while let Some((kind, rate)) = s.next() {
            let seconds = trial_length(slo, rate, Duration::from_secs(2), Duration::from_secs(30));
            let summary = sim.summary(rate, seconds.as_secs_f64());
            s.record(judge(kind, rate, &summary, slo));
        }
        s.finish("sim", slo)
    }

    fn slo() -> Vec<Condition> {
        Condition::parse_list("p99<=20ms,errors<=0.1%").unwrap()
    }

    /// The rate at which the M/M/1 p99 equals 20 ms: ln(100)/(c - r) = 0.02.
    fn true_max(capacity: f64) -> f64 {
        capacity - 100f64.ln() / 0.02
    }

    #[test]
    fn a_trial_is_long_enough_for_its_percentile() {
        let slo = slo();
        let floor = Duration::from_secs(2);
        let ceiling = Duration::from_secs(30);
        // p99 wants 2,000 calls: 20 s at 100/s, the floor at 5,000/s, the ceiling at 10/s.
        assert_eq!(trial_length(&slo, 100.0, floor, ceiling), Duration::from_secs(20));
        assert_eq!(trial_length(&slo, 5_000.0, floor, ceiling), floor);
        assert_eq!(trial_length(&slo, 10.0, floor, ceiling), ceiling);
        // p99.9 wants ten times as many.
        let tight = Condition::parse_list("p99.9<=20ms").unwrap();
        assert_eq!(trial_length(&tight, 5_000.0, floor, ceiling), Duration::from_secs(4));
    }

    #[test]
    fn each_term_is_measured_and_the_failing_one_named() {
        let mut sim = Simulated { capacity: 1_000.0, noise: 0.0, rng: SmallRng::seed_from_u64(1) };
        let slo = slo();
        let t = judge(Kind::Bisect, 900.0, &sim.summary(900.0, 3.0), &slo);
        // At 900/s of 1,000 the p99 is ln(100)/100 s = 46 ms: p99 fails, errors do not.
        assert!(!t.passed);
        assert_eq!(t.failed_terms(), vec!["p99<=20ms"]);
        assert_eq!(t.terms.len(), 3, "two SLO terms and the keep-up rule: {:?}", t.terms);
        assert!((t.terms[0].value / 1e6 - 46.0).abs() < 8.0, "{:?}", t.terms[0]);
        let t = judge(Kind::Bisect, 2_000.0, &sim.summary(2_000.0, 3.0), &slo);
        assert!(t.failed_terms().contains(&"achieved>=90% of offered"), "{:?}", t.terms);
    }

    #[test]
    fn the_search_converges_and_confirms_on_a_steady_endpoint() {
        for (seed, capacity, start) in [(1, 1_000.0, 100.0), (2, 5_000.0, 2_400.0), (3, 400.0, 3_000.0)] {
            let mut sim = Simulated { capacity, noise: 0.0, rng: SmallRng::seed_from_u64(seed) };
            let cap = search(&mut sim, &slo(), start);
            let got = cap.max_rate.expect("an answer");
            let want = true_max(capacity);
            // Within the resolution plus the sampling error of a 2,000-call p99.
            assert!((got - want).abs() <= 0.1 * want, "capacity {capacity}: found {got}, want {want}");
            assert_eq!(cap.confidence.level, Level::High, "{capacity}: {}", cap.confidence.why);
            let (passed, run) = cap.confidence.confirmed;
            assert!(run == 3 && passed >= 2, "{}", cap.confidence.why);
            let above = cap.confidence.above.unwrap();
            assert!(above.2 == 3 && above.1 >= 2, "{}", cap.confidence.why);
            assert!(cap.trials.iter().filter(|t| t.kind == Kind::Confirm).count() >= 3);
            assert!(cap.trials.len() <= 40);
        }
    }

    #[test]
    fn a_noisy_boundary_gives_lower_confidence() {
        let (mut high, mut stray, mut noisy_agree, mut steady_agree) = (0, 0, 0.0, 0.0);
        for seed in 0..20 {
            let mut noisy = Simulated { capacity: 1_000.0, noise: 0.3, rng: SmallRng::seed_from_u64(seed) };
            let cap = search(&mut noisy, &slo(), 100.0);
            high += usize::from(cap.confidence.level == Level::High);
            noisy_agree += cap.confidence.consistent / 20.0;
            stray += cap.confidence.stray;
            let mut steady = Simulated { capacity: 1_000.0, noise: 0.0, rng: SmallRng::seed_from_u64(seed) };
            let cap = search(&mut steady, &slo(), 100.0);
            assert_eq!(cap.confidence.level, Level::High, "{}", cap.confidence.why);
            steady_agree += cap.confidence.consistent / 20.0;
        }
        // Steady, every search is highly confident; noisy, at most a third are.
        assert!(high <= 6, "{high} of 20 noisy searches claimed high confidence");
        // Away from the answer, noisy trials disagree with it; steady ones never do (High).
        assert!(stray >= 10, "{stray} stray trials over 20 noisy searches");
        assert!(noisy_agree < steady_agree, "trials agreed {noisy_agree:.2} noisy, {steady_agree:.2} steady");
    }

    #[test]
    fn no_rate_meeting_the_slo_says_so() {
        let slo = Condition::parse_list("p99<=1ns").unwrap();
        let mut sim = Simulated { capacity: 1_000.0, noise: 0.0, rng: SmallRng::seed_from_u64(4) };
        let cap = search(&mut sim, &slo, 100.0);
        assert_eq!(cap.max_rate, None);
        assert_eq!(cap.confidence.level, Level::Low);
        assert!(cap.confidence.why.starts_with("no rate met the SLO"), "{}", cap.confidence.why);
        assert!(cap.trials.iter().all(|t| !t.passed && t.failed_terms() == vec!["p99<=1ns"]));
    }

    #[test]
    fn a_budget_too_small_to_confirm_is_low_confidence() {
        let mut s = Searcher::new(100.0, 0.05, 3, 4);
        let mut sim = Simulated { capacity: 1_000.0, noise: 0.0, rng: SmallRng::seed_from_u64(5) };
        while let Some((kind, rate)) = s.next() {
            s.record(judge(kind, rate, &sim.summary(rate, 2.0), &slo()));
        }
        let cap = s.finish("sim", &slo());
        assert!(cap.max_rate.is_some());
        assert_eq!(cap.confidence.level, Level::Low);
        assert!(cap.confidence.why.starts_with("not confirmed"), "{}", cap.confidence.why);
    }
}
