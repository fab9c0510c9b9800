//! Execution segments: agent I of N runs its share of the load, as k6's execution segments
//! do, so that N agents on N machines (an Indexed Job's pods) together offer exactly the
//! load one would. Whole quantities (calls in flight, connections, requests) are split so
//! that the shares sum to the total, the remainder going one apiece to the first agents;
//! rates are split in thousandths of a call per second the same way.

use std::time::{Duration, SystemTime};

/// The environment variable Kubernetes sets in each pod of an Indexed Job: the pod's
/// completion index, counted from 0.
pub const JOB_INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

/// Agents at most: far beyond any cluster this drives, far below overflow in the shares.
pub const MAX_AGENTS: u32 = 10_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SegmentError {
    #[error("{0:?} is not a segment: write I/N, agent I of N counted from 1 (e.g. 2/3), or job/N")]
    Shape(String),
    #[error("{0:?}: the agent I must be from 1 to N")]
    Index(String),
    #[error("{0:?}: N must be from 1 to {MAX_AGENTS}")]
    Count(String),
    #[error("job/N takes the agent from {JOB_INDEX_VAR}, which is {0}")]
    JobIndex(String),
    #[error("{what} {total} split over {agents} agents leaves agent {index} none; give at least {agents}")]
    Empty { what: &'static str, total: String, agents: u32, index: u32 },
}

/// Agent `index` (from 1) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub index: u32,
    pub count: u32,
}

impl Segment {
    /// `I/N`, or `job/N`: I is the Indexed Job's completion index plus one, read from
    /// `job_index` (the value of [`JOB_INDEX_VAR`], if set).
    pub fn parse(text: &str, job_index: Option<&str>) -> Result<Segment, SegmentError> {
        let (i, n) = text.trim().split_once('/').ok_or_else(|| SegmentError::Shape(text.into()))?;
        let count: u32 = n.trim().parse().map_err(|_| SegmentError::Shape(text.into()))?;
        if count == 0 || count > MAX_AGENTS {
            return Err(SegmentError::Count(text.into()));
        }
        let index: u32 = if i.trim() == "job" {
            let raw = job_index.ok_or_else(|| SegmentError::JobIndex("not set".into()))?;
            let zero_based: u32 =
                raw.trim().parse().map_err(|_| SegmentError::JobIndex(format!("{raw:?}, not a number")))?;
            zero_based.checked_add(1).ok_or_else(|| SegmentError::JobIndex(raw.into()))?
        } else {
            i.trim().parse().map_err(|_| SegmentError::Shape(text.into()))?
        };
        if index == 0 || index > count {
            return Err(SegmentError::Index(format!("{index}/{count}")));
        }
        Ok(Segment { index, count })
    }

    /// This agent's part of a whole quantity: `total / N`, plus one for the first
    /// `total % N` agents. Zero when the total is smaller than the agent's place.
    pub fn share(&self, total: u64) -> u64 {
        let n = u64::from(self.count);
        total / n + u64::from(u64::from(self.index) <= total % n)
    }

    /// [`Segment::share`], refusing a share of nothing (an agent with nothing to do would
    /// wait out the run and report zero).
    pub fn share_of(&self, what: &'static str, total: u64) -> Result<u64, SegmentError> {
        match self.share(total) {
            0 => Err(self.empty(what, total.to_string())),
            n => Ok(n),
        }
    }

    /// This agent's part of a rate, split in thousandths of a call per second.
    pub fn rate(&self, total: f64) -> Result<f64, SegmentError> {
        let milli = (total * 1000.0).round();
        match self.share(if milli.is_finite() && milli > 0.0 { milli as u64 } else { 0 }) {
            0 => Err(self.empty("rate", format!("{total}/s"))),
            m => Ok(m as f64 / 1000.0),
        }
    }

    fn empty(&self, what: &'static str, total: String) -> SegmentError {
        SegmentError::Empty { what, total, agents: self.count, index: self.index }
    }

    /// The name files of this agent carry, so that agents can share one directory.
    pub fn file_stem(&self) -> String {
        format!("load-{}-of-{}", self.index, self.count)
    }
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// How far in the past `--start-at` may be: agents started by a scheduler within a moment
/// of each other still start together; a time long gone is a mistake.
pub const START_TOLERANCE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StartError {
    #[error("{0:?} is neither an RFC 3339 time in UTC (2026-01-31T12:00:00Z) nor +DURATION (+30s)")]
    Shape(String),
    #[error("{text} is {late:.1}s in the past (more than {tolerance}s): the agents would not start together")]
    Past { text: String, late: f64, tolerance: u64 },
}

/// `--start-at`: an RFC 3339 time in UTC, or `+DURATION` from `now`. A time more than
/// [`START_TOLERANCE`] before `now` is refused.
pub fn start_at(text: &str, now: SystemTime) -> Result<SystemTime, StartError> {
    let t = text.trim();
    let at = match t.strip_prefix('+') {
        Some(d) => now + humantime::parse_duration(d).map_err(|_| StartError::Shape(text.into()))?,
        None => humantime::parse_rfc3339(t).map_err(|_| StartError::Shape(text.into()))?,
    };
    match now.duration_since(at) {
        Ok(late) if late > START_TOLERANCE => Err(StartError::Past {
            text: t.into(),
            late: late.as_secs_f64(),
            tolerance: START_TOLERANCE.as_secs(),
        }),
        _ => Ok(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_sum_to_the_total_and_differ_by_at_most_one() {
        for n in 1..=7u32 {
            for total in [0u64, 1, 2, 3, 16, 17, 100, 1_000_001] {
                let shares: Vec<u64> =
                    (1..=n).map(|index| Segment { index, count: n }.share(total)).collect();
                assert_eq!(shares.iter().sum::<u64>(), total, "{total} over {n}: {shares:?}");
                let (lo, hi) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
                assert!(hi - lo <= 1, "{shares:?}");
                // The remainder goes to the first agents.
                assert!(shares.windows(2).all(|w| w[0] >= w[1]), "{shares:?}");
            }
        }
        let s = |index| Segment { index, count: 3 };
        assert_eq!([s(1).share(16), s(2).share(16), s(3).share(16)], [6, 5, 5]);
    }

    #[test]
    fn rates_split_in_thousandths_sum_to_the_rate() {
        let milli: u64 = (1..=3)
            .map(|index| (Segment { index, count: 3 }.rate(100.0).unwrap() * 1000.0).round() as u64)
            .sum();
        assert_eq!(milli, 100_000);
        assert_eq!(Segment { index: 1, count: 3 }.rate(100.0), Ok(33.334));
        assert_eq!(Segment { index: 3, count: 3 }.rate(100.0), Ok(33.333));
        assert_eq!(Segment { index: 1, count: 4 }.rate(0.5), Ok(0.125));
        let err = Segment { index: 3, count: 3 }.rate(0.002).unwrap_err();
        assert!(err.to_string().contains("leaves agent 3 none"), "{err}");
        let err = Segment { index: 3, count: 3 }.share_of("--concurrency", 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--concurrency 2 split over 3 agents leaves agent 3 none; give at least 3"
        );
    }

    #[test]
    fn segments_parse_or_say_why_not() {
        assert_eq!(Segment::parse("2/3", None), Ok(Segment { index: 2, count: 3 }));
        assert_eq!(Segment::parse(" 1/1 ", None), Ok(Segment { index: 1, count: 1 }));
        assert_eq!(Segment::parse("job/3", Some("2")), Ok(Segment { index: 3, count: 3 }));
        assert!(matches!(Segment::parse("job/3", Some("3")), Err(SegmentError::Index(_))));
        assert!(matches!(Segment::parse("job/3", None), Err(SegmentError::JobIndex(_))));
        assert!(matches!(Segment::parse("job/3", Some("x")), Err(SegmentError::JobIndex(_))));
        assert!(matches!(Segment::parse("0/3", None), Err(SegmentError::Index(_))));
        assert!(matches!(Segment::parse("4/3", None), Err(SegmentError::Index(_))));
        assert!(matches!(Segment::parse("1/0", None), Err(SegmentError::Count(_))));
        assert!(matches!(Segment::parse("1/99999", None), Err(SegmentError::Count(_))));
        for bad in ["3", "a/b", "1/3/5", "-1/3", "", "1.5/3"] {
            assert!(matches!(Segment::parse(bad, None), Err(SegmentError::Shape(_))), "{bad}");
        }
        assert_eq!(Segment { index: 2, count: 3 }.to_string(), "2/3");
        assert_eq!(Segment { index: 2, count: 3 }.file_stem(), "load-2-of-3");
    }

    #[test]
    fn start_times_in_the_past_are_refused() {
        let now = humantime::parse_rfc3339("2026-01-31T12:00:00Z").unwrap();
        assert_eq!(start_at("+30s", now), Ok(now + Duration::from_secs(30)));
        assert_eq!(start_at("2026-01-31T12:01:00Z", now), Ok(now + Duration::from_secs(60)));
        assert_eq!(start_at("2026-01-31T11:59:59.5Z", now), Ok(now - Duration::from_millis(500)));
        let err = start_at("2026-01-31T11:59:00Z", now).unwrap_err();
        assert!(matches!(err, StartError::Past { .. }), "{err}");
        assert!(err.to_string().contains("60.0s in the past"), "{err}");
        for bad in ["soon", "+", "+x", "2026-01-31 12:00", "12:00"] {
            assert!(matches!(start_at(bad, now), Err(StartError::Shape(_))), "{bad}");
        }
    }
}
