//! Value parsers shared by the subcommands' flags: durations and counts are checked where
//! they are parsed, so an absurd value is one usage error naming the flag (exit 2), never
//! a timer or thread pool that overflows later.

use std::time::Duration;

/// The longest duration any flag takes: a week. Far beyond any useful deadline or load
/// phase, and far below what would overflow a clock.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The most calls in flight, connections' worth of concurrency or queued sends a flag takes.
pub const MAX_COUNT: u64 = 1_000_000;

/// A duration (`500ms`, `30s`, `2m`) up to [`MAX_DURATION`]; zero allowed.
pub fn duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| format!("{e} (write e.g. 500ms, 30s or 2m)"))?;
    if d > MAX_DURATION {
        return Err(format!(
            "{text} is longer than the limit of {}",
            humantime::format_duration(MAX_DURATION)
        ));
    }
    Ok(d)
}

/// A [`duration`] above zero.
pub fn positive_duration(text: &str) -> Result<Duration, String> {
    let d = duration(text)?;
    if d.is_zero() {
        return Err("must be above zero".into());
    }
    Ok(d)
}

fn number(text: &str) -> Result<u64, String> {
    text.trim().parse::<u64>().map_err(|_| format!("{text:?} is not a whole number"))
}

/// A count from 1 to [`MAX_COUNT`].
pub fn positive_count(text: &str) -> Result<usize, String> {
    match number(text)? {
        0 => Err("must be at least 1".into()),
        n if n > MAX_COUNT => Err(format!("{n} is above the limit of {MAX_COUNT}")),
        n => Ok(n as usize),
    }
}

/// A thread count: 0 (one per core) to 1024.
pub fn threads(text: &str) -> Result<usize, String> {
    match number(text)? {
        n if n > 1024 => Err(format!("{n} is above the limit of 1024")),
        n => Ok(n as usize),
    }
}

/// A number of iterations, at least 1.
pub fn positive_u64(text: &str) -> Result<u64, String> {
    match number(text)? {
        0 => Err("must be at least 1".into()),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_values_are_refused_with_a_reason() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert!(duration("999999999999s").unwrap_err().contains("longer than the limit"));
        assert_eq!(positive_duration("0s").unwrap_err(), "must be above zero");
        assert!(duration("soon").is_err());
        assert_eq!(positive_count("0").unwrap_err(), "must be at least 1");
        assert!(positive_count("99999999999").unwrap_err().contains("above the limit"));
        assert!(positive_count("-3").unwrap_err().contains("not a whole number"));
        assert_eq!(threads("0"), Ok(0));
        assert!(threads("100000").is_err());
    }
}
