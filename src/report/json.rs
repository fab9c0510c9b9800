//! `results.json`: the run as one JSON object. Schema (all keys always present):
//! `harness_version`, `endpoint`, `wire` ("keyblob"|"legacy"), `started_unix`, `duration`
//! (seconds), `advertised` ({"Ok": [mechanism names]} or {"Err": reason}), and `cases`: one
//! object per case with `id`, `suite`, `name`, `file`, `line`, `outcome`
//! (pass|fail|error|skip|unsupported), `message` (null on pass), `duration` (ms),
//! `functions` (RPC names called), `mechanisms` (names sent), `trace` (per step: `index`,
//! `action`, `line`, `request` summary, `result`, `micros`).

use super::RunReport;

pub fn render(report: &RunReport) -> std::io::Result<String> {
    serde_json::to_string_pretty(report).map_err(std::io::Error::other)
}
