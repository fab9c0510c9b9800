//! Conditions on a result: `--threshold 'p99<10ms'` for CI and `--slo 'p99<=20ms,errors<=0.1%'`
//! for capacity search. `METRIC OP VALUE`, optionally scoped to one workload as
//! `NAME:METRIC OP VALUE`. Metrics: `p50`, `p99.9` (any percentile), `max`, `mean`,
//! `stddev` (durations: `ns`, `us`, `µs`, `ms`, `s`), `errors` (`0.1%` of calls or a count),
//! `rate` (calls per second achieved).

use std::fmt;
use std::time::Duration;

use super::record::Summary;

/// What a condition measures in a [`Summary`]. Latencies are those of the calls that did
/// what their step expects.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Metric {
    /// A latency percentile, 0 < p <= 100 (`p99.9`).
    Percentile(f64),
    /// The largest latency recorded (`max`).
    Max,
    /// The mean latency (`mean`).
    Mean,
    /// The latency's standard deviation (`stddev`).
    Stddev,
    /// Failed calls (`errors`): a count, or a share of the iterations that ended (ok,
    /// failed or wrong; calls still in flight at the end are not counted).
    Errors,
    /// Successful calls per second achieved (`rate`).
    Rate,
}

/// The comparison between the measured value and the bound: the condition holds when
/// `measured OP bound` is true.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// The value a metric is compared with, in the unit parsing gave it; each metric takes its
/// own kind (a latency metric a `Latency`, `errors` a `Percent` or a `Count`, `rate` a
/// `Rate`).
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Bound {
    /// Nanoseconds.
    Latency(f64),
    /// Percent (`0.1%` is 0.1).
    Percent(f64),
    /// A number of calls.
    Count(f64),
    /// Calls per second (`1000` or `1000/s`).
    Rate(f64),
}

/// One parsed condition, with the text it came from.
#[derive(Clone, PartialEq, Debug)]
pub struct Condition {
    /// As given on the command line, for messages.
    pub text: String,
    /// The workload it is scoped to (`NAME:`); `None`: every workload of the run.
    pub workload: Option<String>,
    /// What is measured.
    pub metric: Metric,
    /// How the measured value must compare with `bound`.
    pub op: Op,
    /// The limit, in the unit of `metric`.
    pub bound: Bound,
}

/// A condition that does not parse; the text says what is wrong and what would do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("condition {text:?}: {why}")]
pub struct CondError {
    /// The condition, rate range or mix as given.
    pub text: String,
    /// What is wrong with it, and what is accepted instead.
    pub why: String,
}

const OPS: &str = "use <, <=, > or >=";
const METRICS: &str = "p50, p90, p99, p99.9 (any percentile), max, mean, stddev, errors or rate";

fn parse_number(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)
}

/// Nanoseconds in a duration like `10ms`, `1.5s`, `250us`.
pub fn parse_latency(s: &str) -> Result<f64, String> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value = parse_number(num).ok_or_else(|| format!("{s:?} is not a duration like 10ms"))?;
    let scale = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "" => return Err(format!("{s:?} needs a unit: ns, us, ms or s")),
        other => return Err(format!("{other:?} is not a unit; use ns, us, ms or s")),
    };
    Ok(value * scale)
}

impl Condition {
    /// Parses one condition (`p99<10ms`, `sign-ecdsa-p256:errors<=0.1%`); whitespace is
    /// ignored. A duration needs its unit; `errors` takes a percentage or a count.
    pub fn parse(text: &str) -> Result<Condition, CondError> {
        let err = |why: String| CondError { text: text.to_owned(), why };
        let trimmed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let (workload, body) = match trimmed.split_once(':') {
            Some((w, rest)) if !w.is_empty() => (Some(w.to_owned()), rest.to_owned()),
            Some(_) => return Err(err("nothing before ':'; give a workload name or leave ':' out".into())),
            None => (None, trimmed.clone()),
        };
        let is_op = |c: char| matches!(c, '<' | '>' | '=' | '!');
        let start = body.find(is_op).ok_or_else(|| err(format!("no comparison; {OPS}")))?;
        let len = body[start..].find(|c: char| !is_op(c)).unwrap_or(body.len() - start);
        let (metric_text, op_text, value_text) =
            (&body[..start], &body[start..start + len], &body[start + len..]);
        let op = match op_text {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            other => return Err(err(format!("{other:?} is not a comparison; {OPS}"))),
        };
        let metric = match metric_text {
            "" => return Err(err(format!("no metric before {op_text:?}; use {METRICS}"))),
            "max" => Metric::Max,
            "mean" => Metric::Mean,
            "stddev" => Metric::Stddev,
            "errors" => Metric::Errors,
            "rate" => Metric::Rate,
            m => match m.strip_prefix('p').and_then(parse_number) {
                Some(p) if p > 0.0 && p <= 100.0 => Metric::Percentile(p),
                Some(p) => return Err(err(format!("percentile {p} is outside 0..100"))),
                None => return Err(err(format!("unknown metric {m:?}; use {METRICS}"))),
            },
        };
        if value_text.is_empty() {
            return Err(err(format!("no value after {op_text:?}")));
        }
        let bound = match metric {
            Metric::Percentile(_) | Metric::Max | Metric::Mean | Metric::Stddev => {
                Bound::Latency(parse_latency(value_text).map_err(err)?)
            }
            Metric::Errors => match value_text.strip_suffix('%') {
                Some(p) => Bound::Percent(
                    parse_number(p).ok_or_else(|| err(format!("{value_text:?} is not a percentage")))?,
                ),
                None => Bound::Count(parse_number(value_text).ok_or_else(|| {
                    err(format!("{value_text:?} is not a count or a percentage like 0.1%"))
                })?),
            },
            Metric::Rate => Bound::Rate(
                parse_number(value_text.trim_end_matches("/s"))
                    .ok_or_else(|| err(format!("{value_text:?} is not a rate in calls per second")))?,
            ),
        };
        Ok(Condition { text: text.to_owned(), workload, metric, op, bound })
    }

    /// A comma-separated list (`--slo 'p99<=20ms,errors<=0.1%'`).
    pub fn parse_list(text: &str) -> Result<Vec<Condition>, CondError> {
        text.split(',').filter(|s| !s.trim().is_empty()).map(Condition::parse).collect()
    }

    /// True when the condition is unscoped or scoped to `workload`.
    pub fn applies_to(&self, workload: &str) -> bool {
        self.workload.as_deref().is_none_or(|w| w == workload)
    }

    /// The measured value of the metric in `summary`, in the bound's unit (nanoseconds,
    /// percent, count, calls per second); `None` if metric and bound do not match.
    pub fn measure(&self, summary: &Summary) -> Option<f64> {
        Some(match (self.metric, self.bound) {
            (Metric::Percentile(p), Bound::Latency(_)) => summary.percentile_ns(p),
            (Metric::Max, Bound::Latency(_)) => summary.max_ns() as f64,
            (Metric::Mean, Bound::Latency(_)) => summary.mean_ns(),
            (Metric::Stddev, Bound::Latency(_)) => summary.stddev_ns(),
            (Metric::Errors, Bound::Percent(_)) => summary.error_ratio() * 100.0,
            (Metric::Errors, Bound::Count(_)) => summary.errors as f64,
            (Metric::Rate, Bound::Rate(_)) => summary.rate,
            // Parsing pairs every metric with its own kind of bound.
            _ => return None,
        })
    }

    /// Whether a measured value meets the condition.
    pub fn holds(&self, got: f64) -> bool {
        let bound = match self.bound {
            Bound::Latency(b) | Bound::Percent(b) | Bound::Count(b) | Bound::Rate(b) => b,
        };
        match self.op {
            Op::Lt => got < bound,
            Op::Le => got <= bound,
            Op::Gt => got > bound,
            Op::Ge => got >= bound,
        }
    }

    /// A measured value in the bound's unit, for messages.
    pub fn show(&self, got: f64) -> String {
        match self.bound {
            Bound::Latency(_) => super::report::fmt_ns(got),
            Bound::Percent(_) => format!("{got:.3}%"),
            Bound::Count(_) => format!("{got}"),
            Bound::Rate(_) => format!("{got:.1}/s"),
        }
    }

    /// `None` when `summary` meets the condition; otherwise the violation, named.
    pub fn check(&self, summary: &Summary) -> Option<String> {
        let Some(got) = self.measure(summary) else {
            return Some(format!("{}: metric and bound do not match", self.text));
        };
        if self.holds(got) {
            return None;
        }
        Some(format!(
            "{}: {} is {}, not {}{}",
            summary.workload,
            self.metric,
            self.show(got),
            self.op,
            self.bound_text()
        ))
    }

    fn bound_text(&self) -> String {
        match self.bound {
            Bound::Latency(ns) => super::report::fmt_ns(ns),
            Bound::Percent(p) => format!("{p}%"),
            Bound::Count(c) => format!("{c}"),
            Bound::Rate(r) => format!("{r}/s"),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Percentile(p) => write!(f, "p{p}"),
            Metric::Max => f.write_str("max"),
            Metric::Mean => f.write_str("mean"),
            Metric::Stddev => f.write_str("stddev"),
            Metric::Errors => f.write_str("errors"),
            Metric::Rate => f.write_str("rate"),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        })
    }
}

/// What fails a run, per workload: every condition that does not hold; failed calls when
/// no condition on `errors` applies to the workload (one that does says how many are
/// acceptable); and any wrong answer.
pub fn violations(summaries: &[Summary], conditions: &[Condition]) -> Vec<String> {
    let mut out = Vec::new();
    for s in summaries {
        let applying: Vec<&Condition> = conditions.iter().filter(|c| c.applies_to(&s.workload)).collect();
        for c in &applying {
            if let Some(v) = c.check(s) {
                out.push(format!("{v} ({})", c.text));
            }
        }
        if s.errors > 0 && !applying.iter().any(|c| c.metric == Metric::Errors) {
            let causes: Vec<String> = s.error_kinds.iter().map(|(k, v)| format!("{k}×{v}")).collect();
            out.push(format!(
                "{}: {} call(s) failed ({}); a --threshold on errors says how many are acceptable",
                s.workload,
                s.errors,
                causes.join(", ")
            ));
        }
        if s.wrong > 0 {
            out.push(format!(
                "{}: {} of {} checked answer(s) wrong; first: {}",
                s.workload,
                s.wrong,
                s.checked,
                s.first_wrong.as_deref().unwrap_or("?")
            ));
        }
    }
    out
}

/// Conditions scoped to a workload the run does not have: a usage error, named.
pub fn unknown_scopes(conditions: &[Condition], names: &[&str]) -> Option<String> {
    let c = conditions.iter().find(|c| c.workload.as_deref().is_some_and(|w| !names.contains(&w)))?;
    Some(format!(
        "condition {:?} names workload {:?}, which is not in this run (the run has: {})",
        c.text,
        c.workload.as_deref().unwrap_or_default(),
        names.join(", ")
    ))
}

/// A rate or a ramp: `500`, or `100..5000` with a step.
#[derive(Clone, Debug, PartialEq)]
pub struct Ramp {
    /// Calls per second of each phase, in the order run; one for a single rate.
    pub rates: Vec<f64>,
}

impl Ramp {
    /// Parses `--rate` (`500`, `500/s` or `FROM..TO`) with `--step`, which a range needs
    /// and a single rate refuses. Rates must be above zero; a range goes up, `TO`
    /// included when a whole number of steps reaches it; 1000 rates at most.
    pub fn parse(text: &str, step: Option<f64>) -> Result<Ramp, CondError> {
        let err = |why: String| CondError { text: text.to_owned(), why };
        let positive = |s: &str| {
            parse_number(s.trim().trim_end_matches("/s"))
                .filter(|v| *v > 0.0)
                .ok_or_else(|| err(format!("{s:?} is not a rate above zero")))
        };
        match text.split_once("..") {
            None => {
                if step.is_some() {
                    return Err(err("--step needs a range like 100..5000".into()));
                }
                Ok(Ramp { rates: vec![positive(text)?] })
            }
            Some((a, b)) => {
                let (from, to) = (positive(a)?, positive(b)?);
                if to < from {
                    return Err(err(format!("the range goes down ({from} to {to})")));
                }
                let step = step.ok_or_else(|| err("a range needs --step".into()))?;
                if step <= 0.0 {
                    return Err(err("--step must be above zero".into()));
                }
                let count = ((to - from) / step).floor() as usize + 1;
                if count > 1000 {
                    return Err(err(format!("{count} steps; at most 1000")));
                }
                Ok(Ramp { rates: (0..count).map(|i| from + step * i as f64).collect() })
            }
        }
    }
}

/// Parses `sign=70,verify=30` into (workload, weight) pairs.
pub fn parse_mix(text: &str) -> Result<Vec<(String, u32)>, CondError> {
    let err = |why: String| CondError { text: text.to_owned(), why };
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = match part.split_once('=') {
            Some((n, w)) => {
                let w: u32 = w
                    .trim()
                    .parse()
                    .map_err(|_| err(format!("weight {w:?} of {n:?} is not a whole number")))?;
                (n.trim(), w)
            }
            None => (part, 1),
        };
        if weight == 0 {
            return Err(err(format!("weight of {name:?} is 0")));
        }
        out.push((name.to_owned(), weight));
    }
    if out.is_empty() {
        return Err(err("no workloads".into()));
    }
    Ok(out)
}

/// The duration in `humantime` form for messages.
pub fn show_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse() {
        let c = Condition::parse("p99<10ms").unwrap();
        assert_eq!((c.metric, c.op, c.bound), (Metric::Percentile(99.0), Op::Lt, Bound::Latency(1e7)));
        let c = Condition::parse("sign-ecdsa-p256: p99.9 <= 1.5s").unwrap();
        assert_eq!(c.workload.as_deref(), Some("sign-ecdsa-p256"));
        assert_eq!(c.bound, Bound::Latency(1.5e9));
        assert_eq!(Condition::parse("errors<=0.1%").unwrap().bound, Bound::Percent(0.1));
        assert_eq!(Condition::parse("rate>=1000").unwrap().bound, Bound::Rate(1000.0));
        assert_eq!(Condition::parse_list("p99<=20ms,errors<=0.1%").unwrap().len(), 2);
    }

    #[test]
    fn bad_conditions_say_what_is_wrong() {
        let e = Condition::parse("p99<>10").unwrap_err().to_string();
        assert_eq!(e, "condition \"p99<>10\": \"<>\" is not a comparison; use <, <=, > or >=");
        let e = Condition::parse("p99<10").unwrap_err().to_string();
        assert!(e.contains("\"10\" needs a unit"), "{e}");
        let e = Condition::parse("p99<10mn").unwrap_err().to_string();
        assert!(e.contains("\"mn\" is not a unit"), "{e}");
        let e = Condition::parse("latency<10ms").unwrap_err().to_string();
        assert!(e.contains("unknown metric \"latency\""), "{e}");
        let e = Condition::parse("p99 10ms").unwrap_err().to_string();
        assert!(e.contains("no comparison"), "{e}");
        let e = Condition::parse("p101<1s").unwrap_err().to_string();
        assert!(e.contains("outside 0..100"), "{e}");
    }

    fn summary(errors: u64, wrong: u64) -> Summary {
        let mut s = Summary::new("w", "all", None, 1.0, &crate::load::record::Stats::default());
        s.errors = errors;
        s.error_kinds.insert("gRPC UNAUTHENTICATED".into(), errors);
        s.wrong = wrong;
        s.checked = wrong;
        s
    }

    #[test]
    fn failed_calls_fail_unless_a_threshold_on_errors_allows_them() {
        let v = violations(&[summary(3, 0)], &[]);
        assert_eq!(v.len(), 1);
        assert!(v[0].contains("3 call(s) failed (gRPC UNAUTHENTICATED×3)"), "{v:?}");
        assert!(violations(&[summary(0, 0)], &[]).is_empty());
        let allow = Condition::parse("errors<=5").unwrap();
        assert!(violations(&[summary(3, 0)], std::slice::from_ref(&allow)).is_empty());
        // A threshold on another workload's errors does not cover this one.
        let other = Condition::parse("x:errors<=5").unwrap();
        assert_eq!(violations(&[summary(3, 0)], &[other]).len(), 1);
        // Wrong answers fail whatever the thresholds say.
        let v = violations(&[summary(0, 1)], &[allow]);
        assert!(v[0].contains("1 of 1 checked answer(s) wrong"), "{v:?}");
    }

    #[test]
    fn a_condition_on_a_workload_not_run_is_named() {
        let c = vec![Condition::parse("random-23:p99<1us").unwrap()];
        let e = unknown_scopes(&c, &["random-32"]).unwrap();
        assert!(e.contains("\"random-23\", which is not in this run (the run has: random-32)"), "{e}");
        assert!(unknown_scopes(&c, &["random-23"]).is_none());
    }

    #[test]
    fn ramps_and_mixes() {
        assert_eq!(Ramp::parse("100..500", Some(200.0)).unwrap().rates, vec![100.0, 300.0, 500.0]);
        assert!(Ramp::parse("100..500", None).unwrap_err().why.contains("needs --step"));
        assert!(Ramp::parse("0", None).is_err());
        assert_eq!(parse_mix("sign=70,verify=30").unwrap(), vec![("sign".into(), 70), ("verify".into(), 30)]);
        assert!(parse_mix("sign=x").unwrap_err().why.contains("not a whole number"));
    }
}
