//! Capacity search: the highest open-loop rate at which a workload meets the SLO. Rates
//! double from the start until the SLO fails, then the gap is bisected. A trial also fails
//! when the endpoint completes under 90% of the rate asked for: an endpoint that cannot
//! keep up does not "meet" a latency SLO by answering fewer calls. Every trial lasts one
//! step duration, and the number of trials is bounded.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::cond::Condition;
use super::record::{Recorder, summarize};
use super::report::{Capacity, Row};
use super::sched::{Mode, Plan, run};
use super::workload::Ready;
use crate::client::Client;

#[derive(Clone, Debug)]
pub struct Search {
    pub start_rate: f64,
    pub trial: Duration,
    pub max_in_flight: usize,
    pub max_trials: usize,
    pub drain: Duration,
    pub check_every: u64,
}

/// One trial at `rate`: whether it met the SLO, and its numbers.
async fn trial(
    ready: &Ready,
    clients: &[Client],
    slo: &[Condition],
    search: &Search,
    rate: f64,
    stop: watch::Receiver<bool>,
) -> (bool, Row) {
    let recorder = Arc::new(Recorder::new(vec![ready.name.clone()], true));
    let plan = Plan {
        workloads: Arc::new(vec![ready.clone()]),
        clients: clients.to_vec(),
        mode: Mode::Open { rates: vec![rate], max_in_flight: search.max_in_flight },
        warmup: Duration::ZERO,
        duration: search.trial,
        requests: None,
        drain: search.drain,
        check_every: search.check_every,
    };
    run(&plan, recorder.clone(), stop).await;
    let (_, overall) = summarize(&recorder);
    let Some(summary) = overall.first() else {
        return (false, Row::of(&super::record::Summary::new(&ready.name, "-", Some(rate), 0.0, &empty())));
    };
    let mut row = Row::of(summary);
    row.phase = format!("{rate:.0}/s");
    row.target_rate = Some(rate);
    let kept_up = summary.rate >= 0.9 * rate;
    let met = kept_up && slo.iter().filter(|c| c.applies_to(&ready.name)).all(|c| c.check(summary).is_none());
    (met, row)
}

fn empty() -> super::record::Stats {
    let recorder = Recorder::new(vec![String::new()], false);
    recorder.begin("-", None, false);
    recorder.phases().remove(0).stats.remove(0)
}

/// Searches one workload's capacity.
pub async fn find_max(
    ready: &Ready,
    clients: &[Client],
    slo: &[Condition],
    search: &Search,
    stop: watch::Receiver<bool>,
) -> Capacity {
    let mut tried = Vec::new();
    let mut best: Option<(f64, Row)> = None;
    let mut failed_at: Option<f64> = None;
    let mut rate = search.start_rate.max(1.0);
    // Up: double until a failure (or, when the start fails, halve until a success).
    while tried.len() < search.max_trials && !*stop.borrow() {
        let (met, row) = trial(ready, clients, slo, search, rate, stop.clone()).await;
        tried.push((rate, met));
        if met {
            best = Some((rate, row));
            if failed_at.is_some() {
                break;
            }
            rate *= 2.0;
        } else {
            failed_at = Some(rate);
            if best.is_some() {
                break;
            }
            rate /= 4.0;
            if rate < 1.0 {
                break;
            }
        }
    }
    // Then bisect between the best success and the first failure above it.
    while let (Some((lo, _)), Some(hi)) = (&best, failed_at) {
        let lo = *lo;
        if tried.len() >= search.max_trials || *stop.borrow() || hi - lo <= lo * 0.1 || hi <= lo {
            break;
        }
        let mid = (lo + hi) / 2.0;
        let (met, row) = trial(ready, clients, slo, search, mid, stop.clone()).await;
        tried.push((mid, met));
        if met {
            best = Some((mid, row));
        } else {
            failed_at = Some(mid);
        }
    }
    Capacity {
        workload: ready.name.clone(),
        max_rate: best.as_ref().map(|b| b.0),
        tried,
        at_max: best.map(|b| b.1),
    }
}
