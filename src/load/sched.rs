//! The schedulers. Closed loop: `concurrency` workers, each issuing its next call when the
//! last returns, spread over the connections. Open loop: calls issued on a fixed schedule
//! whether or not earlier ones returned; each call's latency counts from its intended send
//! time, so a stalled endpoint shows the queueing it causes (coordinated omission
//! corrected), and from its actual send time too. Every run is bounded by its phases'
//! durations and `requests`, and stops early when `stop` turns true.

use rand::RngExt;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::SmallRng;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use super::record::Recorder;
use super::workload::{Outcome, Ready};
use crate::client::Client;
use crate::runner::Env;

/// How calls are issued.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Workers that each send their next call when the last one returns: the endpoint sets
    /// the pace, and latency counts from the send.
    Closed {
        /// Workers, so calls in flight (at least 1).
        concurrency: usize,
    },
    /// One phase per rate (a ramp has several); at most `max_in_flight` calls outstanding,
    /// beyond which sends wait (and the wait counts in the corrected latency).
    Open {
        /// Calls per second, one phase each, in order.
        rates: Vec<f64>,
        /// Calls outstanding at most (at least 1).
        max_in_flight: usize,
        /// How long before each send the event loop is woken to wait, awake, for the send
        /// time; zero: woken at the send time. Waking a thread parked on another CPU took
        /// over 100 µs at p99 on a 2-vCPU VM (a halted vCPU is slow to start again),
        /// which was the sends' p99 lateness with no lead.
        lead: Duration,
    },
}

/// A run to make.
pub struct Plan {
    /// The workloads, set up; each iteration picks one by weight. Their order is the
    /// `Recorder`'s.
    pub workloads: Arc<Vec<Ready>>,
    /// One per connection.
    pub clients: Vec<Client>,
    /// How calls are issued.
    pub mode: Mode,
    /// Unrecorded time before the measured phases (open loop: at the first rate); zero for
    /// none.
    pub warmup: Duration,
    /// Of each measured phase (each ramp step).
    pub duration: Duration,
    /// Measured iterations at most, over all phases.
    pub requests: Option<u64>,
    /// How long calls still in flight may take to finish when `requests` ends the run; a
    /// run that ends on time does not wait for them.
    pub drain: Duration,
    /// Every how many iterations of a workload one is checked locally; its first always is
    /// (0: only the first).
    pub check_every: u64,
}

/// Picks a workload by weight (`--mix`): rand's weighted index over the workloads' weights.
struct Picker(WeightedIndex<u64>);

impl Picker {
    fn new(workloads: &[Ready]) -> Picker {
        // Every weight is at least 1, so the index always builds; one workload of weight 1
        // stands in should the list ever be empty.
        let weights: Vec<u64> = workloads.iter().map(|w| u64::from(w.weight.max(1))).collect();
        let index = WeightedIndex::new(if weights.is_empty() { vec![1] } else { weights });
        Picker(index.expect("weights are all at least 1"))
    }

    fn pick(&self, rng: &mut SmallRng) -> usize {
        rng.sample(&self.0)
    }
}

/// What the workers share.
struct Shared {
    workloads: Arc<Vec<Ready>>,
    recorder: Arc<Recorder>,
    picker: Picker,
    /// The phase new iterations belong to; `DONE` when none should start.
    phase: AtomicUsize,
    /// Measured iterations still allowed.
    budget: AtomicU64,
    /// Woken when the budget runs out.
    exhausted: Notify,
    /// Iterations started per workload, for the check sample.
    started: Vec<AtomicU64>,
    /// Iterations started and not yet recorded, per workload.
    in_flight: Vec<AtomicU64>,
    check_every: u64,
}

const DONE: usize = usize::MAX;

impl Shared {
    /// Takes one iteration from the budget when `phase` is measured.
    fn take(&self, phase: usize, warmup_phase: Option<usize>) -> bool {
        if Some(phase) == warmup_phase {
            return true;
        }
        let took =
            self.budget.fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| b.checked_sub(1)).is_ok();
        if !took || self.budget.load(Ordering::Acquire) == 0 {
            self.exhausted.notify_one();
        }
        took
    }

    /// Counts an iteration of workload `w` in flight, from before its task first runs: an
    /// open-loop run that ends just after a send aborts the send's task, which then never
    /// runs, and the send must still be counted.
    fn start(&self, w: usize) {
        self.in_flight[w].fetch_add(1, Ordering::AcqRel);
    }

    /// Whether this iteration of workload `w` is checked: the first, then every Nth.
    fn sampled(&self, w: usize) -> bool {
        let n = self.started.get(w).map(|c| c.fetch_add(1, Ordering::Relaxed)).unwrap_or(1);
        n == 0 || (self.check_every > 0 && n.is_multiple_of(self.check_every))
    }
}

/// Why a wait ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ended {
    Time,
    Budget,
    Stopped,
}

/// Waits for `d`, the budget running out, or `stop`.
async fn hold(d: Duration, shared: &Shared, stop: &mut watch::Receiver<bool>) -> Ended {
    tokio::select! {
        _ = tokio::time::sleep(d) => Ended::Time,
        _ = shared.exhausted.notified() => Ended::Budget,
        _ = stop.wait_for(|s| *s) => Ended::Stopped,
    }
}

/// Ends the tasks. A run bounded by `--requests` lets its calls finish within `drain`, so
/// that it counts exactly that many; one bounded by time ends on time, and the calls
/// still in flight are counted as such (per workload, on the last phase), not waited for.
async fn finish(mut tasks: JoinSet<()>, shared: &Shared, drain: Duration, ended: Ended) {
    if ended == Ended::Budget {
        let _ = tokio::time::timeout(drain, async { while tasks.join_next().await.is_some() {} }).await;
    }
    shared.recorder.end();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    for (w, n) in shared.in_flight.iter().enumerate() {
        shared.recorder.unfinished(w, n.load(Ordering::Acquire));
    }
}

/// Runs `plan`, recording into `recorder`. Returns when the phases are over, the request
/// budget is spent, or `stop` turns true.
pub async fn run(plan: &Plan, recorder: Arc<Recorder>, mut stop: watch::Receiver<bool>) {
    let shared = Arc::new(Shared {
        workloads: plan.workloads.clone(),
        recorder: recorder.clone(),
        picker: Picker::new(&plan.workloads),
        phase: AtomicUsize::new(DONE),
        budget: AtomicU64::new(plan.requests.unwrap_or(u64::MAX)),
        exhausted: Notify::new(),
        started: plan.workloads.iter().map(|_| AtomicU64::new(0)).collect(),
        in_flight: plan.workloads.iter().map(|_| AtomicU64::new(0)).collect(),
        check_every: plan.check_every,
    });
    if plan.clients.is_empty() || plan.workloads.is_empty() {
        return;
    }
    match &plan.mode {
        Mode::Closed { concurrency } => closed(plan, *concurrency, shared, &mut stop).await,
        Mode::Open { rates, max_in_flight, lead } => {
            open(plan, rates, *max_in_flight, *lead, shared, &mut stop).await
        }
    }
    recorder.end();
}

/// One iteration of workload `w`, recorded: the call(s), then (sampled) the local check,
/// outside the timed part. The caller counts it in `in_flight` when it starts it
/// ([`Shared::start`]); this uncounts it once it is recorded.
async fn one(
    shared: &Shared,
    client: &Client,
    w: usize,
    phase: usize,
    intended: Instant,
    env: &mut Env,
    sampled: bool,
) {
    let counter = &shared.in_flight[w];
    let Some(workload) = shared.workloads.get(w) else {
        counter.fetch_sub(1, Ordering::AcqRel);
        return;
    };
    let sent = Instant::now();
    let mut result = workload.iterate(client, env, sampled).await;
    let done = Instant::now();
    if sampled && result == (Outcome::Ok { checked: true }) {
        result = workload.check(env);
    }
    shared.recorder.record(phase, w, intended, sent, done, &result);
    counter.fetch_sub(1, Ordering::AcqRel);
}

async fn closed(plan: &Plan, concurrency: usize, shared: Arc<Shared>, stop: &mut watch::Receiver<bool>) {
    let warmup_phase = (!plan.warmup.is_zero()).then(|| shared.recorder.begin("warmup", None, true));
    // The phase is set before the workers start: one that saw DONE would end at once.
    let first = match warmup_phase {
        Some(p) => p,
        None => shared.recorder.begin("run", None, false),
    };
    shared.phase.store(first, Ordering::Release);
    let mut tasks = JoinSet::new();
    for worker in 0..concurrency.max(1) {
        let shared = shared.clone();
        let client = plan.clients[worker % plan.clients.len()].clone();
        tasks.spawn(async move {
            let mut rng: SmallRng = rand::make_rng();
            let mut envs: Vec<_> = shared.workloads.iter().map(Ready::env).collect();
            loop {
                let phase = shared.phase.load(Ordering::Acquire);
                if phase == DONE || !shared.take(phase, warmup_phase) {
                    break;
                }
                let w = shared.picker.pick(&mut rng);
                let (Some(workload), Some(env)) = (shared.workloads.get(w), envs.get_mut(w)) else { break };
                let sampled = shared.sampled(w);
                if sampled {
                    *env = workload.env();
                }
                let now = Instant::now();
                shared.start(w);
                one(&shared, &client, w, phase, now, env, sampled).await;
                // A call that fails at once (its connection is gone) never waits, and a
                // worker that never waits would hold the event loop, timers included,
                // forever: this yields once the task has used tokio's budget.
                tokio::task::coop::consume_budget().await;
            }
        });
    }
    let mut ended = Ended::Time;
    if warmup_phase.is_some() {
        ended = hold(plan.warmup, &shared, stop).await;
        if ended == Ended::Time {
            let p = shared.recorder.begin("run", None, false);
            shared.phase.store(p, Ordering::Release);
        }
    }
    if ended == Ended::Time {
        ended = hold(plan.duration, &shared, stop).await;
    }
    shared.phase.store(DONE, Ordering::Release);
    finish(tasks, &shared, plan.drain, ended).await;
}

/// Below this period the pacer does not spin: at high rates it wakes for a batch of due
/// sends and relies on the sleep's precision (tens of microseconds on Linux), instead of
/// spending a core spinning.
const SPIN_ABOVE: Duration = Duration::from_micros(400);
/// How long before a wake-up time the pacer stops sleeping and spins.
const SPIN: Duration = Duration::from_micros(80);

/// The pacing thread of one open-loop phase: an OS thread, because tokio's timer wheel
/// has a 1 ms granularity, which would show as 1 ms of latency at low rates. It sends,
/// at each wake-up time (the lead before a send time: the caller passes the phase's clock
/// shifted by it), the index of the last send now due (several at once when a wake-up is
/// late or the period is short), and returns at `end` (or when the receiver is gone).
fn pacer(start: Instant, rate: f64, end: Instant, tx: tokio::sync::mpsc::UnboundedSender<u64>) {
    // Linux may end a sleep up to the thread's timer slack (50 µs by default) late, to
    // merge wake-ups; at periods too short to spin, that slack was the sends' lateness.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
    let period = Duration::from_secs_f64(1.0 / rate);
    let spin = if period >= SPIN_ABOVE { SPIN } else { Duration::ZERO };
    // From the rate, not the period rounded to nanoseconds: 300/s over 0.5 s is 150 sends,
    // and 150 rounded periods (3,333,333 ns each) end 50 ns before the end, which sent a
    // 151st.
    let due = |n: u64| start + Duration::from_secs_f64(n as f64 / rate);
    let mut next = 0u64;
    loop {
        let at = due(next);
        if at >= end {
            break;
        }
        let now = Instant::now();
        if at > now + spin {
            std::thread::sleep(at - now - spin);
        }
        while Instant::now() < at {
            std::hint::spin_loop();
        }
        // Everything due by now goes in one message.
        let elapsed = Instant::now().saturating_duration_since(start);
        let last = ((elapsed.as_secs_f64() * rate).floor() as u64).max(next);
        let last = (next..=last).take_while(|n| due(*n) < end).last().unwrap_or(next);
        if tx.send(last).is_err() {
            return;
        }
        next = last + 1;
    }
    let now = Instant::now();
    if end > now {
        std::thread::sleep(end - now);
    }
}

async fn open(
    plan: &Plan,
    rates: &[f64],
    max_in_flight: usize,
    lead: Duration,
    shared: Arc<Shared>,
    stop: &mut watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let mut tasks = JoinSet::new();
    let mut rng: SmallRng = rand::make_rng();
    let mut next_client = 0usize;
    let mut phases: Vec<(String, f64, Duration, bool)> = Vec::new();
    if !plan.warmup.is_zero()
        && let Some(first) = rates.first()
    {
        phases.push(("warmup".into(), *first, plan.warmup, true));
    }
    for rate in rates {
        phases.push((format!("{rate}/s"), *rate, plan.duration, false));
    }
    let mut ended = Ended::Time;
    'phases: for (name, rate, duration, warmup) in phases {
        let phase = shared.recorder.begin(&name, Some(rate), warmup);
        let warmup_phase = warmup.then_some(phase);
        // The pacer keeps the sends' schedule shifted `lead` earlier: the first send is
        // `lead` from now, and the pacer wakes the loop `lead` before each.
        let wakes = Instant::now();
        let start = wakes + lead;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let pacing = std::thread::Builder::new()
            .name("grep11-load-pacer".into())
            .spawn(move || pacer(wakes, rate, wakes + duration, tx));
        if pacing.is_err() {
            ended = Ended::Stopped;
            break;
        }
        let mut n = 0u64;
        loop {
            let last = tokio::select! {
                m = rx.recv() => match m { Some(last) => last, None => break },
                _ = stop.wait_for(|s| *s) => { ended = Ended::Stopped; break 'phases; }
            };
            while n <= last {
                let intended = start + Duration::from_secs_f64(n as f64 / rate);
                n += 1;
                // Awake before the send time: yielding keeps the loop's other tasks (the
                // calls, the connections) running until then.
                while Instant::now() < intended {
                    tokio::task::yield_now().await;
                }
                if !shared.take(phase, warmup_phase) {
                    ended = Ended::Budget;
                    break 'phases;
                }
                // A send that waits for a slot is late; its latency still counts from
                // its intended time.
                let permit = tokio::select! {
                    p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break 'phases },
                    _ = stop.wait_for(|s| *s) => { ended = Ended::Stopped; break 'phases; }
                };
                let w = shared.picker.pick(&mut rng);
                shared.start(w);
                let client = plan.clients[next_client % plan.clients.len()].clone();
                next_client = next_client.wrapping_add(1);
                let shared = shared.clone();
                tasks.spawn(async move {
                    let sampled = shared.sampled(w);
                    let mut env = match shared.workloads.get(w) {
                        Some(workload) if sampled || workload.needs_env() => workload.env(),
                        _ => Env::default(),
                    };
                    one(&shared, &client, w, phase, intended, &mut env, sampled).await;
                    drop(permit);
                });
            }
            while tasks.try_join_next().is_some() {}
        }
    }
    finish(tasks, &shared, plan.drain, ended).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Every send due before the end and none after: 300/s over 0.5 s is sends 0 to 149.
    #[test]
    fn the_pacer_sends_rate_times_duration() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let start = Instant::now();
        pacer(start, 300.0, start + Duration::from_millis(500), tx);
        let mut last = None;
        while let Ok(n) = rx.try_recv() {
            assert!(last.is_none_or(|l| n > l), "{n} after {last:?}");
            last = Some(n);
        }
        assert_eq!(last, Some(149));
    }

    #[test]
    fn weights_pick_in_proportion() {
        let w = |name: &str, weight| Ready::for_test(name, weight);
        let picker = Picker::new(&[w("a", 70), w("b", 30)]);
        let mut rng = SmallRng::seed_from_u64(7);
        let mut counts = [0u32; 2];
        for _ in 0..10_000 {
            counts[picker.pick(&mut rng)] += 1;
        }
        assert!((6_700..7_300).contains(&counts[0]), "{counts:?}");
    }
}
