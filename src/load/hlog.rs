//! HdrHistogram interval logs (`.hlog`): the V2 log format with compressed histograms,
//! written through hdrhistogram's own serialisation so HdrHistogram's tools
//! (HistogramLogProcessor, HdrHistogramVisualizer) read them. One tag per workload; open
//! loop adds `NAME.uncorrected`. Values are nanoseconds. `read` and `sum_by_tag` are what
//! `report merge` builds on.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

use super::record::Encoded;

#[derive(Debug, thiserror::Error)]
pub enum HlogError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not an interval log: parse error at byte {offset}")]
    Parse { path: String, offset: usize },
    #[error("{path}: interval {index}: {why}")]
    Histogram { path: String, index: usize, why: String },
    #[error("{path}: no interval histograms")]
    Empty { path: String },
}

fn decode(bytes: &[u8]) -> Result<Histogram<u64>, String> {
    Deserializer::new().deserialize(&mut &bytes[..]).map_err(|e| format!("{e:?}"))
}

/// Writes the intervals recorded by a run.
pub fn write(path: &Path, started: SystemTime, intervals: &[Encoded]) -> Result<(), HlogError> {
    let mut decoded = Vec::new();
    for (index, e) in intervals.iter().enumerate() {
        let histogram = decode(&e.bytes).map_err(|why| HlogError::Histogram {
            path: path.display().to_string(),
            index,
            why,
        })?;
        decoded.push(Interval { tag: e.tag.clone(), start: e.start, duration: e.duration, histogram });
    }
    write_intervals(path, started, &decoded)
}

/// Writes intervals whose `start` counts from `started` (the log's StartTime).
pub fn write_intervals(path: &Path, started: SystemTime, intervals: &[Interval]) -> Result<(), HlogError> {
    let io = |source: std::io::Error| HlogError::Io { path: path.display().to_string(), source };
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    {
        let mut log = IntervalLogWriterBuilder::new()
            .add_comment("grep11-harness load: latency in nanoseconds")
            .with_start_time(started)
            .with_base_time(started)
            .with_max_value_divisor(1_000_000.0)
            .begin_log_with(&mut out, &mut serializer)
            .map_err(io)?;
        for (index, i) in intervals.iter().enumerate() {
            log.write_histogram(&i.histogram, i.start, i.duration, Tag::new(&i.tag)).map_err(|why| {
                HlogError::Histogram { path: path.display().to_string(), index, why: why.to_string() }
            })?;
        }
    }
    let mut file = std::fs::File::create(path).map_err(io)?;
    file.write_all(&out).map_err(io)
}

/// One interval histogram of a log. Read from a file, `start` is absolute (from the Unix
/// epoch) when the log has a StartTime or BaseTime, as this harness's logs do.
#[derive(Clone)]
pub struct Interval {
    /// The workload; an untagged interval reads as `untagged`.
    pub tag: String,
    pub start: Duration,
    pub duration: Duration,
    pub histogram: Histogram<u64>,
}

/// Every interval of one log, in the order written.
pub fn read(path: &Path) -> Result<Vec<Interval>, HlogError> {
    let name = path.display().to_string();
    let text = std::fs::read(path).map_err(|source| HlogError::Io { path: name.clone(), source })?;
    let mut base = Duration::ZERO;
    let mut out = Vec::new();
    for (index, entry) in IntervalLogIterator::new(&text).enumerate() {
        let entry = entry.map_err(|e| match e {
            hdrhistogram::serialization::interval_log::LogIteratorError::ParseError { offset } => {
                HlogError::Parse { path: name.clone(), offset }
            }
        })?;
        let interval = match entry {
            LogEntry::StartTime(t) | LogEntry::BaseTime(t) => {
                base = t;
                continue;
            }
            LogEntry::Interval(i) => i,
        };
        let bad = |why: String| HlogError::Histogram { path: name.clone(), index, why };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .map_err(|e| bad(e.to_string()))?;
        out.push(Interval {
            tag: interval.tag().map(|t| t.as_str().to_owned()).unwrap_or_else(|| "untagged".into()),
            start: base + interval.start_timestamp(),
            duration: interval.duration(),
            histogram: decode(&bytes).map_err(bad)?,
        });
    }
    if out.is_empty() {
        return Err(HlogError::Empty { path: name });
    }
    Ok(out)
}

/// Intervals summed per tag, with the span they cover.
#[derive(Clone)]
pub struct Merged {
    pub histogram: Histogram<u64>,
    pub first: Duration,
    pub last: Duration,
    pub intervals: usize,
}

/// Sums intervals per tag.
pub fn sum_by_tag<'a>(intervals: impl IntoIterator<Item = &'a Interval>) -> BTreeMap<String, Merged> {
    let mut out: BTreeMap<String, Merged> = BTreeMap::new();
    for i in intervals {
        let end = i.start + i.duration;
        let m = out.entry(i.tag.clone()).or_insert_with(|| Merged {
            histogram: crate::load::record::new_histogram(),
            first: i.start,
            last: end,
            intervals: 0,
        });
        // An auto-resizing histogram takes any other.
        let _ = m.histogram.add(&i.histogram);
        m.first = m.first.min(i.start);
        m.last = m.last.max(end);
        m.intervals += 1;
    }
    out
}
