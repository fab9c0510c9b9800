//! HdrHistogram interval logs (`.hlog`): the V2 log format with compressed histograms,
//! written through hdrhistogram's own serialisation so HdrHistogram's tools
//! (HistogramLogProcessor, HdrHistogramVisualizer) read them. One tag per workload; open
//! loop adds `NAME.uncorrected`. Values are nanoseconds. `merge` sums the logs of several
//! agents by tag: the basis for distributed runs.

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
        for (index, e) in intervals.iter().enumerate() {
            let h = decode(&e.bytes).map_err(|why| HlogError::Histogram {
                path: path.display().to_string(),
                index,
                why,
            })?;
            log.write_histogram(&h, e.start, e.duration, Tag::new(&e.tag)).map_err(|why| {
                HlogError::Histogram { path: path.display().to_string(), index, why: why.to_string() }
            })?;
        }
    }
    let mut file = std::fs::File::create(path).map_err(io)?;
    file.write_all(&out).map_err(io)
}

/// Every interval of one log, summed per tag (an untagged interval counts as `untagged`),
/// with the time span it covers (absolute when the log has a StartTime).
#[derive(Clone)]
pub struct Merged {
    pub histogram: Histogram<u64>,
    pub first: Duration,
    pub last: Duration,
    pub intervals: usize,
}

/// Reads logs and sums them per tag.
pub fn merge(paths: &[impl AsRef<Path>]) -> Result<BTreeMap<String, Merged>, HlogError> {
    let mut out: BTreeMap<String, Merged> = BTreeMap::new();
    for path in paths {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read(path).map_err(|source| HlogError::Io { path: name.clone(), source })?;
        let mut base = Duration::ZERO;
        let mut count = 0;
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
            let h = decode(&bytes).map_err(bad)?;
            let tag = interval.tag().map(|t| t.as_str().to_owned()).unwrap_or_else(|| "untagged".into());
            let start = base + interval.start_timestamp();
            let end = start + interval.duration();
            count += 1;
            match out.get_mut(&tag) {
                Some(m) => {
                    m.histogram.add(&h).map_err(|e| bad(format!("{e:?}")))?;
                    m.first = m.first.min(start);
                    m.last = m.last.max(end);
                    m.intervals += 1;
                }
                None => {
                    let mut histogram = Histogram::new(3).map_err(|e| bad(format!("{e:?}")))?;
                    histogram.add(&h).map_err(|e| bad(format!("{e:?}")))?;
                    out.insert(tag, Merged { histogram, first: start, last: end, intervals: 1 });
                }
            }
        }
        if count == 0 {
            return Err(HlogError::Empty { path: name });
        }
    }
    Ok(out)
}
