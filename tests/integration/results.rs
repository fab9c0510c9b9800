//! Reading a run's `results.json` in tests: every report read is first validated against
//! the JSON Schema kept in `docs/results.schema.json`.

use std::path::Path;

/// The report in `dir`, after checking it against the schema.
pub fn read(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json is written");
    let report: serde_json::Value = serde_json::from_str(&text).expect("results.json parses");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/results.schema.json"))
            .expect("docs/results.schema.json exists"),
    )
    .expect("the schema parses");
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    let problems: Vec<String> =
        validator.iter_errors(&report).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(problems.is_empty(), "{} does not match its schema:\n{}", dir.display(), problems.join("\n"));
    report
}
