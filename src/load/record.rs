//! Recording: one HdrHistogram of latency per workload and phase (warmup, a ramp step,
//! the run), and per one-second interval for the interval log, the live progress and the
//! throughput-over-time plot. Latency is in nanoseconds, the unit HdrHistogram's own
//! tools assume for interval logs. Only calls that did what the step expects are in the
//! latency histograms; the others are counted by `CKR_*` name or gRPC code.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};

use super::workload::{Failure, Outcome};

/// Longer latencies are recorded as this (an hour): a histogram has to end somewhere, and
/// a call that long has failed whatever it says.
const MAX_NS: u64 = 3_600_000_000_000;

/// Three significant digits: 0.1% resolution, HdrHistogram's usual choice. Auto-resizing.
pub fn new_histogram() -> Histogram<u64> {
    // Invariant: 3 significant figures is within hdrhistogram's accepted 0..=5.
    #[allow(clippy::expect_used)]
    Histogram::new(3).expect("3 significant figures are valid")
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    let ns = u64::try_from(d.as_nanos()).unwrap_or(MAX_NS).clamp(1, MAX_NS);
    // An auto-resizing histogram accepts every value up to MAX_NS.
    let _ = h.record(ns);
}

/// Everything recorded for one workload in one phase.
#[derive(Clone)]
pub(crate) struct Stats {
    /// From the intended send time (open loop) or the send (closed loop).
    pub latency: Histogram<u64>,
    /// Open loop only: from the moment the call was actually sent.
    pub uncorrected: Histogram<u64>,
    /// Open loop only: how late each call was sent after its intended time (every call
    /// sent, whatever its outcome): how far the generator fell behind its schedule.
    pub lag: Histogram<u64>,
    /// Calls still in flight when the run ended on time (not waited for).
    pub unfinished: u64,
    pub errors: BTreeMap<Failure, u64>,
    /// Answers checked locally (sampled), and those that were wrong, with the first reason.
    pub checked: u64,
    pub wrong: u64,
    pub first_wrong: Option<String>,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats::new()
    }
}

impl Stats {
    fn new() -> Stats {
        Stats {
            latency: new_histogram(),
            uncorrected: new_histogram(),
            lag: new_histogram(),
            unfinished: 0,
            errors: BTreeMap::new(),
            checked: 0,
            wrong: 0,
            first_wrong: None,
        }
    }

    fn add(&mut self, other: &Stats) {
        // Both auto-resize, so adding cannot run out of range.
        let _ = self.latency.add(&other.latency);
        let _ = self.uncorrected.add(&other.uncorrected);
        let _ = self.lag.add(&other.lag);
        self.unfinished += other.unfinished;
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        self.checked += other.checked;
        self.wrong += other.wrong;
        if self.first_wrong.is_none() {
            self.first_wrong.clone_from(&other.first_wrong);
        }
    }
}

/// A stretch of the run measured on its own.
#[derive(Clone)]
pub(crate) struct Phase {
    pub name: String,
    /// Open loop: the calls per second asked for.
    pub target_rate: Option<f64>,
    pub warmup: bool,
    pub start: Instant,
    pub end: Option<Instant>,
    pub stats: Vec<Stats>,
}

/// One second (or the last part of one) of the run.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Sample {
    /// Seconds from the start of the run to the end of this interval.
    pub t: f64,
    /// Length of the interval in seconds (about one).
    pub seconds: f64,
    /// Successful calls (right answers) in the interval.
    pub calls: u64,
    /// Failed iterations in the interval.
    pub errors: u64,
    /// Sampled answers found wrong in the interval.
    pub wrong: u64,
    /// Median latency of the interval's successful calls, in nanoseconds (0 without any).
    pub p50_ns: u64,
    /// 99th percentile latency of the interval's successful calls, in nanoseconds.
    pub p99_ns: u64,
    /// The workload it covers (one sample per workload and interval).
    pub workload: String,
}

impl Sample {
    fn of(workload: &str, t: f64, seconds: f64, stats: &Stats) -> Sample {
        Sample {
            t,
            seconds,
            calls: stats.latency.len(),
            errors: stats.errors.values().sum(),
            wrong: stats.wrong,
            p50_ns: stats.latency.value_at_quantile(0.5),
            p99_ns: stats.latency.value_at_quantile(0.99),
            workload: workload.to_owned(),
        }
    }
}

/// One interval histogram, already in the V2 compressed form, with its tag.
pub(crate) struct Encoded {
    pub start: Duration,
    pub duration: Duration,
    pub tag: String,
    pub bytes: Vec<u8>,
}

struct State {
    phases: Vec<Phase>,
    interval: Vec<Stats>,
    interval_start: Instant,
    timeline: Vec<Sample>,
    encoded: Vec<Encoded>,
}

/// Shared by every worker; each record holds the lock for a histogram increment.
pub struct Recorder {
    /// The workloads' names; `record`'s `workload` is an index into this list, and
    /// summaries come in its order.
    pub workloads: Vec<String>,
    /// When the recorder was made: the origin of `Sample::t` and `Summary::start`.
    pub started: Instant,
    /// Open loop records uncorrected latency too, and names it in the interval log.
    pub open_loop: bool,
    state: Mutex<State>,
}

impl Recorder {
    /// A recorder for `workloads` (names, in the order of `Plan::workloads`);
    /// `open_loop` for a `Mode::Open` run.
    pub fn new(workloads: Vec<String>, open_loop: bool) -> Recorder {
        let now = Instant::now();
        let interval = workloads.iter().map(|_| Stats::new()).collect();
        Recorder {
            workloads,
            started: now,
            open_loop,
            state: Mutex::new(State {
                phases: Vec::new(),
                interval,
                interval_start: now,
                timeline: Vec::new(),
                encoded: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A worker that panicked mid-record leaves counts that are still counts.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a phase and returns its index for `record`.
    pub fn begin(&self, name: &str, target_rate: Option<f64>, warmup: bool) -> usize {
        let mut s = self.lock();
        let now = Instant::now();
        if let Some(last) = s.phases.last_mut()
            && last.end.is_none()
        {
            last.end = Some(now);
        }
        // The measured intervals start with the measured time, not with the warm-up (whose
        // calls the intervals leave out): an interval log's span is then the measured time.
        if !warmup && s.phases.last().is_some_and(|p| p.warmup) {
            s.interval = self.workloads.iter().map(|_| Stats::new()).collect();
            s.interval_start = now;
        }
        let stats = self.workloads.iter().map(|_| Stats::new()).collect();
        s.phases.push(Phase { name: name.to_owned(), target_rate, warmup, start: now, end: None, stats });
        s.phases.len() - 1
    }

    /// Ends the current phase now, if it has not ended (`run` does it at its end).
    pub fn end(&self) {
        let mut s = self.lock();
        if let Some(last) = s.phases.last_mut()
            && last.end.is_none()
        {
            last.end = Some(Instant::now());
        }
    }

    /// Records one iteration: intended send time, actual send time, completion.
    pub fn record(
        &self,
        phase: usize,
        workload: usize,
        intended: Instant,
        sent: Instant,
        done: Instant,
        result: &Outcome,
    ) {
        let mut s = self.lock();
        let open = self.open_loop;
        let warmup = s.phases.get(phase).is_none_or(|p| p.warmup);
        let State { phases, interval, .. } = &mut *s;
        let in_phase = phases.get_mut(phase).and_then(|p| p.stats.get_mut(workload));
        let in_interval = if warmup { None } else { interval.get_mut(workload) };
        for stats in [in_phase, in_interval].into_iter().flatten() {
            if open {
                // Lateness is recorded from zero: an on-time send is 0 ns late.
                let _ = stats.lag.record(
                    u64::try_from(sent.saturating_duration_since(intended).as_nanos())
                        .unwrap_or(MAX_NS)
                        .min(MAX_NS),
                );
            }
            match result {
                Outcome::Ok { checked } => {
                    record(&mut stats.latency, done.saturating_duration_since(intended));
                    if open {
                        record(&mut stats.uncorrected, done.saturating_duration_since(sent));
                    }
                    stats.checked += u64::from(*checked);
                }
                Outcome::Failed(f) => *stats.errors.entry(f.clone()).or_default() += 1,
                Outcome::Wrong(why) => {
                    stats.checked += 1;
                    stats.wrong += 1;
                    if stats.first_wrong.is_none() {
                        stats.first_wrong = Some(why.clone());
                    }
                }
            }
        }
    }

    /// Closes the current interval: a timeline sample per workload, and for the interval
    /// log each workload's histogram serialised. Called about once a second, and at the
    /// end. Returns the interval over every workload (for the live progress).
    pub fn tick(&self) -> Sample {
        let mut s = self.lock();
        let now = Instant::now();
        let start = s.interval_start.saturating_duration_since(self.started);
        let duration = now.saturating_duration_since(s.interval_start);
        let fresh: Vec<Stats> = self.workloads.iter().map(|_| Stats::new()).collect();
        let closed = std::mem::replace(&mut s.interval, fresh);
        s.interval_start = now;
        let mut all = Stats::new();
        let t = (start + duration).as_secs_f64();
        let seconds = duration.as_secs_f64();
        for (name, stats) in self.workloads.iter().zip(&closed) {
            all.add(stats);
            s.timeline.push(Sample::of(name, t, seconds, stats));
            if stats.latency.is_empty() {
                continue;
            }
            let mut tagged = vec![(name.clone(), &stats.latency)];
            if self.open_loop {
                tagged.push((format!("{name}.uncorrected"), &stats.uncorrected));
            }
            for (tag, h) in tagged {
                let mut bytes = Vec::new();
                if V2DeflateSerializer::new().serialize(h, &mut bytes).is_ok() {
                    s.encoded.push(Encoded { start, duration, tag, bytes });
                }
            }
        }
        Sample::of("", t, seconds, &all)
    }

    /// Counts `n` calls of workload `w` still in flight at the end, on the last phase.
    pub fn unfinished(&self, w: usize, n: u64) {
        if n == 0 {
            return;
        }
        let mut s = self.lock();
        if let Some(stats) = s.phases.last_mut().and_then(|p| p.stats.get_mut(w)) {
            stats.unfinished += n;
        }
    }

    pub(crate) fn phases(&self) -> Vec<Phase> {
        self.lock().phases.clone()
    }

    /// Every sample `tick` took so far, one per workload and interval, oldest first.
    pub fn timeline(&self) -> Vec<Sample> {
        self.lock().timeline.clone()
    }

    /// The interval histograms encoded since the last call, for the interval log.
    pub(crate) fn take_encoded(&self) -> Vec<Encoded> {
        std::mem::take(&mut self.lock().encoded)
    }
}

/// The numbers of one workload over one stretch of time.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The workload's name.
    pub workload: String,
    /// The phase's name: `run` (closed loop) or `RATE/s` (an open-loop phase); `all` over
    /// every measured phase. The warm-up has no summary.
    pub phase: String,
    /// Open loop: the calls per second asked for in this phase; `None` in closed loop and
    /// for `all`.
    pub target_rate: Option<f64>,
    /// Measured time (for `all`, the measured phases' together).
    pub seconds: f64,
    /// When the measured time began, from the recorder's start.
    pub start: Duration,
    /// Iterations whose every step did what it expects: the calls in `histogram`.
    pub count: u64,
    /// Iterations that failed; by cause in `error_kinds`.
    pub errors: u64,
    /// `errors` by cause, named as [`Failure`] displays it (`CKR_*`, `gRPC CODE`, ...).
    pub error_kinds: BTreeMap<String, u64>,
    /// Answers checked locally, and how many of them were wrong (not in `count`).
    pub checked: u64,
    /// See `checked`.
    pub wrong: u64,
    /// Why the first wrong answer was wrong.
    pub first_wrong: Option<String>,
    /// Successful calls per second: failed and wrong ones are not throughput.
    pub rate: f64,
    /// Latency of the `count` successful iterations in nanoseconds: from the intended send
    /// time in open loop (coordinated omission corrected), from the send in closed loop.
    pub histogram: Histogram<u64>,
    /// Open loop: latency from the actual send, as a tool that ignores coordinated
    /// omission sees it; `None` in closed loop or when nothing succeeded.
    pub uncorrected: Option<Histogram<u64>>,
    /// Open loop: how late each call was sent after its intended time, in nanoseconds:
    /// how far the generator fell behind its schedule.
    pub lag: Option<Histogram<u64>>,
    /// Calls still in flight when the run ended on time (not waited for, not counted).
    pub unfinished: u64,
}

impl Summary {
    pub(crate) fn new(
        workload: &str,
        phase: &str,
        target_rate: Option<f64>,
        seconds: f64,
        stats: &Stats,
    ) -> Summary {
        let h = &stats.latency;
        let count = h.len();
        let errors: u64 = stats.errors.values().sum();
        Summary {
            workload: workload.to_owned(),
            phase: phase.to_owned(),
            target_rate,
            seconds,
            start: Duration::ZERO,
            count,
            errors,
            error_kinds: stats.errors.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            checked: stats.checked,
            wrong: stats.wrong,
            first_wrong: stats.first_wrong.clone(),
            rate: if seconds > 0.0 { count as f64 / seconds } else { 0.0 },
            histogram: h.clone(),
            uncorrected: (!stats.uncorrected.is_empty()).then(|| stats.uncorrected.clone()),
            lag: (!stats.lag.is_empty()).then(|| stats.lag.clone()),
            unfinished: stats.unfinished,
        }
    }

    /// The largest latency recorded (0 with nothing recorded).
    pub fn max_ns(&self) -> u64 {
        self.histogram.max()
    }

    /// The mean latency (0 with nothing recorded).
    pub fn mean_ns(&self) -> f64 {
        if self.histogram.is_empty() { 0.0 } else { self.histogram.mean() }
    }

    /// The latency's standard deviation (0 with nothing recorded).
    pub fn stddev_ns(&self) -> f64 {
        if self.histogram.is_empty() { 0.0 } else { self.histogram.stdev() }
    }

    /// The latency at percentile `p` (0..=100; `99.9` for p99.9), 0 with nothing recorded.
    pub fn percentile_ns(&self, p: f64) -> f64 {
        self.histogram.value_at_quantile(p / 100.0) as f64
    }

    /// The failed share of the iterations that ended (successful, failed or wrong),
    /// 0..=1; 0 when none ended.
    pub fn error_ratio(&self) -> f64 {
        let total = self.count + self.errors + self.wrong;
        if total == 0 { 0.0 } else { self.errors as f64 / total as f64 }
    }
}

/// Per phase and workload (warmup left out), then per workload over every measured phase.
pub fn summarize(recorder: &Recorder) -> (Vec<Summary>, Vec<Summary>) {
    let phases = recorder.phases();
    let mut per_phase = Vec::new();
    let mut totals: Vec<(Stats, f64)> = recorder.workloads.iter().map(|_| (Stats::new(), 0.0)).collect();
    let measured = phases.iter().filter(|p| !p.warmup);
    let first = measured.clone().next().map(|p| p.start.saturating_duration_since(recorder.started));
    for phase in measured {
        let seconds =
            phase.end.unwrap_or_else(Instant::now).saturating_duration_since(phase.start).as_secs_f64();
        let start = phase.start.saturating_duration_since(recorder.started);
        for ((name, stats), total) in recorder.workloads.iter().zip(&phase.stats).zip(&mut totals) {
            let mut summary = Summary::new(name, &phase.name, phase.target_rate, seconds, stats);
            summary.start = start;
            per_phase.push(summary);
            total.0.add(stats);
            total.1 += seconds;
        }
    }
    let overall = recorder
        .workloads
        .iter()
        .zip(&totals)
        .map(|(name, (stats, seconds))| Summary {
            start: first.unwrap_or_default(),
            ..Summary::new(name, "all", None, *seconds, stats)
        })
        .collect();
    (per_phase, overall)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_known_inputs() {
        let r = Recorder::new(vec!["w".into()], true);
        let p = r.begin("run", None, false);
        let t0 = Instant::now();
        // 1..=1000 microseconds, once each; sent 1 ms after the intended time.
        for us in 1..=1000u64 {
            let done = t0 + Duration::from_micros(1000 + us);
            r.record(p, 0, t0, t0 + Duration::from_millis(1), done, &Outcome::Ok { checked: us == 1 });
        }
        r.record(p, 0, t0, t0, t0, &Outcome::Failed(Failure::Rv(crate::pkcs11::CKR_SIGNATURE_INVALID)));
        r.record(p, 0, t0, t0, t0, &Outcome::Wrong("Digest: expected hex:00".into()));
        r.end();
        let (phases, overall) = summarize(&r);
        assert_eq!(phases.len(), 1);
        let s = &overall[0];
        assert_eq!((s.count, s.errors, s.wrong, s.checked), (1000, 1, 1, 2));
        assert_eq!(s.first_wrong.as_deref(), Some("Digest: expected hex:00"));
        assert_eq!(s.error_kinds.get("CKR_SIGNATURE_INVALID"), Some(&1));
        // Corrected latency is 1001..=2000 us; 3 significant digits.
        let near = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 1.0;
        assert!(near(s.percentile_ns(50.0), 1_500_000.0), "{}", s.percentile_ns(50.0));
        assert!(near(s.percentile_ns(99.0), 1_990_000.0), "{}", s.percentile_ns(99.0));
        assert!(near(s.max_ns() as f64, 2_000_000.0), "{}", s.max_ns());
        assert!(near(s.mean_ns(), 1_500_500.0), "{}", s.mean_ns());
        let unc = s.uncorrected.as_ref().unwrap();
        assert!(near(unc.value_at_quantile(0.5) as f64, 500_000.0));
        let sample = r.tick();
        assert_eq!((sample.calls, sample.errors, sample.wrong), (1000, 1, 1));
        assert_eq!(r.take_encoded().len(), 2, "corrected and uncorrected intervals");
    }

    #[test]
    fn warmup_is_left_out() {
        let r = Recorder::new(vec!["w".into()], false);
        let w = r.begin("warmup", None, true);
        let t = Instant::now();
        r.record(w, 0, t, t, t + Duration::from_secs(1), &Outcome::Ok { checked: false });
        std::thread::sleep(Duration::from_millis(20));
        let p = r.begin("run", None, false);
        r.record(p, 0, t, t, t + Duration::from_millis(1), &Outcome::Ok { checked: false });
        r.end();
        let (phases, overall) = summarize(&r);
        assert_eq!(phases.len(), 1);
        assert_eq!(overall[0].count, 1);
        assert!(overall[0].max_ns() < 2_000_000);
        assert_eq!(r.tick().calls, 1);
        // The interval log's first interval starts with the measured time, as the summary
        // does: a log's span is the measured time, not the warm-up too.
        let first = &r.take_encoded()[0];
        assert!(first.start >= Duration::from_millis(20), "{:?}", first.start);
        assert_eq!(first.start, overall[0].start);
    }
}
