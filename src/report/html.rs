//! `report.html`: one self-contained page (inline style, no script, nothing fetched) with the
//! verdict, the run's facts, the function × mechanism matrix colour-coded with a link from
//! each cell to its cases, and every case with its steps.

use std::fmt::Write;

use html_escape::encode_text as esc;

use super::matrix::{Matrix, mechanism_label};
use super::{RunReport, started_rfc3339};
use crate::runner::{CaseResult, Outcome};

const STYLE: &str = "
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { margin-bottom: 0.2em; }
.verdict { font-size: 1.4em; font-weight: bold; padding: 0.3em 0.6em; display: inline-block; border-radius: 4px; }
.verdict.ok { background: #d6f5d6; } .verdict.bad { background: #f8d0d0; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 2px 6px; vertical-align: top; }
table.facts th { text-align: left; background: #f4f4f4; }
.matrix th.mech { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; font-weight: normal; }
.matrix th.fn { text-align: left; white-space: nowrap; }
.matrix td { width: 1.4em; height: 1.4em; text-align: center; padding: 0; }
.matrix td a { display: block; text-decoration: none; color: inherit; }
.pass { background: #7bd17b; } .fail { background: #e85c5c; } .error { background: #f0a35c; }
.non-strict { background: #c9e27a; } .unsupported { background: #c8c8c8; } .skip { background: #eee; }
td.none { background: #fff; }
.case { margin: 0.5em 0; padding: 0.4em 0.8em; border-left: 6px solid #ccc; }
.case.pass { border-color: #7bd17b; background: none; } .case.non-strict { border-color: #c9e27a; background: none; } .case.fail { border-color: #e85c5c; background: none; }
.case.error { border-color: #f0a35c; background: none; } .case.unsupported, .case.skip { border-color: #c8c8c8; background: none; }
code { font-size: 0.95em; } .msg { font-family: monospace; white-space: pre-wrap; }
";

fn symbol(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "✓",
        Outcome::NonStrict => "≈",
        Outcome::Fail => "✗",
        Outcome::Error => "!",
        Outcome::Unsupported => "–",
        Outcome::Skip => "·",
    }
}

/// The anchor of a case: ids hold `/`, `[`, `=`, which fragments tolerate but selectors
/// do not; an index keeps anchors unique and simple.
fn anchor(index: usize) -> String {
    format!("case-{index}")
}

pub fn render(report: &RunReport) -> String {
    let matrix = Matrix::build(report);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_page(&mut out, report, &matrix);
    out
}

fn write_page(out: &mut String, report: &RunReport, matrix: &Matrix) -> std::fmt::Result {
    let verdict = report.verdict();
    let class = if report.passed() { "ok" } else { "bad" };
    writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")?;
    writeln!(
        out,
        "<title>GREP11 conformance: {}</title><style>{STYLE}</style></head><body>",
        esc(&report.endpoint)
    )?;
    writeln!(out, "<h1>GREP11 conformance report</h1>")?;
    writeln!(out, "<p class=\"verdict {class}\" id=\"verdict\">{}</p>", esc(&verdict))?;
    writeln!(out, "<table class=\"facts\">")?;
    let mut fact = |k: &str, v: &str| writeln!(out, "<tr><th>{k}</th><td>{}</td></tr>", esc(v));
    fact("endpoint", &report.endpoint)?;
    fact("wire generation", &report.wire_names())?;
    fact("harness", &format!("grep11-harness {}", report.harness_version))?;
    fact("started", &started_rfc3339(report))?;
    fact("duration", &format!("{:.2} s", report.duration.as_secs_f64()))?;
    let counts: Vec<String> =
        Outcome::ALL.iter().map(|o| format!("{} {}", report.count(*o), o.name())).collect();
    fact("cases", &counts.join(", "))?;
    match &report.advertised {
        Ok(list) => fact("advertised mechanisms", &format!("{} — {}", list.len(), list.join(", ")))?,
        Err(why) => fact("advertised mechanisms", &format!("unknown: {why}"))?,
    }
    writeln!(out, "</table>")?;

    writeln!(out, "<h2>Function × mechanism</h2>")?;
    writeln!(
        out,
        "<p>Each cell combines the cases that call the function under the mechanism: \
         <span class=\"pass\">&nbsp;✓ pass&nbsp;</span> <span class=\"non-strict\">&nbsp;≈ non-strict&nbsp;</span> <span class=\"fail\">&nbsp;✗ fail&nbsp;</span> \
         <span class=\"error\">&nbsp;! error&nbsp;</span> <span class=\"unsupported\">&nbsp;– unsupported&nbsp;</span>. \
         A cell links to its first case; its title lists them all.</p>"
    )?;
    writeln!(out, "<table class=\"matrix\" id=\"matrix\"><tr><th></th>")?;
    for m in &matrix.mechanisms {
        writeln!(out, "<th class=\"mech\">{}</th>", esc(&mechanism_label(*m)))?;
    }
    writeln!(out, "</tr>")?;
    for f in &matrix.functions {
        write!(out, "<tr><th class=\"fn\">{f}</th>")?;
        for m in &matrix.mechanisms {
            match matrix.cell(*f, *m) {
                Some(cell) => {
                    let ids: Vec<&str> = cell.cases.iter().map(|&i| report.cases[i].id.as_str()).collect();
                    let first = cell.cases.iter().copied().find(|&i| report.cases[i].outcome == cell.outcome);
                    write!(
                        out,
                        "<td class=\"cell {}\" title=\"{}{} × {}: {}\"><a href=\"#{}\">{}</a></td>",
                        cell.outcome.name(),
                        if cell.known_deviation { "known deviation: " } else { "" },
                        f,
                        esc(&mechanism_label(*m)),
                        esc(&ids.join("\n")),
                        anchor(first.unwrap_or(cell.cases[0])),
                        symbol(cell.outcome)
                    )?;
                }
                None => write!(out, "<td class=\"none\"></td>")?,
            }
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</table>")?;

    writeln!(out, "<h2>Cases</h2>")?;
    for (index, case) in report.cases.iter().enumerate() {
        write_case(out, index, case)?;
    }
    writeln!(out, "</body></html>")
}

fn write_case(out: &mut String, index: usize, case: &CaseResult) -> std::fmt::Result {
    writeln!(out, "<div class=\"case {}\" id=\"{}\">", case.outcome.name(), anchor(index))?;
    writeln!(
        out,
        "<b>{} {}</b> <code>{}</code> — {} <small>({}:{}, {:.1} ms)</small>",
        symbol(case.outcome),
        case.outcome.name(),
        esc(&case.id),
        esc(&case.name),
        esc(&case.file),
        case.line,
        case.duration.as_secs_f64() * 1000.0
    )?;
    if let Some(reason) = &case.deviation {
        let label = if case.deviation_did_not_occur() {
            "known deviation did not occur (remove the entry); listed as"
        } else {
            "known deviation"
        };
        writeln!(out, "<div class=\"deviation\"><b>{label}:</b> {}</div>", esc(reason))?;
    }
    if case.outcome == Outcome::Pass {
        return writeln!(out, "</div>");
    }
    if let Some(m) = &case.message {
        writeln!(out, "<div class=\"msg\">{}</div>", esc(m))?;
    }
    if !case.trace.is_empty() {
        writeln!(out, "<table><tr><th>step</th><th>call</th><th>request</th><th>result</th></tr>")?;
        for t in &case.trace {
            writeln!(
                out,
                "<tr><td>{}</td><td>{} (line {})</td><td>{}</td><td>{}</td></tr>",
                t.index,
                esc(&t.action),
                t.line,
                esc(&t.request),
                esc(&t.result)
            )?;
        }
        writeln!(out, "</table>")?;
    }
    writeln!(out, "</div>")
}
