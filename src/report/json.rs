//! `results.json`: the run as one JSON object. Schema (all keys always present):
//! `harness_version`, `endpoint`, `wire` ("keyblob"|"legacy"), `started_unix`, `duration`
//! (seconds), `advertised` ({"Ok": [mechanism names]} or {"Err": reason}), `profile` (null
//! or {`name`, `description`}), `interrupted` (true when Ctrl-C or SIGTERM stopped the
//! run: the cases not started are `skip`), and `cases`: one object per case with `id`, `suite`,
//! `name`, `file`, `line`, `outcome` (pass|non-strict|fail|error|skip|unsupported),
//! `message` (null on pass), `deviation` (null, or the reason a known deviation is
//! expected), `duration` (ms), `functions` (RPC names called), `mechanisms` (names sent),
//! `calls` (planned: `function`, `mechanism` or null, `expects_ok`: the matrix's input),
//! `retries` (calls the client repeated because the endpoint's `Grep11Error` said Retry),
//! and `trace` (per step run: `index`, `action`, `line`, `request` summary, `result`,
//! `micros`).

use super::RunReport;

pub fn render(report: &RunReport) -> std::io::Result<String> {
    serde_json::to_string_pretty(report).map_err(std::io::Error::other)
}
