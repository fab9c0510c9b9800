//! `report.html`: one self-contained page (inline style, no script, nothing fetched),
//! laid out to read at 1,400 px: the verdict and the run's facts; the cases that need
//! attention first (failures and errors, then known deviations, each with expected and got
//! side by side); the function × mechanism matrix in a scrolling box whose mechanism row
//! and function column stay in view; then the rest of the cases, passes folded away.

use std::fmt::Write;

use html_escape::encode_text as esc;

use super::matrix::{Matrix, mechanism_label};
use super::{RunReport, started_rfc3339};
use crate::runner::compare::{Comparison, SideAnswer};
use crate::runner::{CaseResult, Outcome};

/// How many case ids a matrix cell's tooltip lists before "and N more".
const TOOLTIP_IDS: usize = 8;

const STYLE: &str = "
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1360px; }
h1 { margin-bottom: 0.2em; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.verdict { font-size: 1.4em; font-weight: bold; padding: 0.3em 0.6em; display: inline-block; border-radius: 4px; }
.verdict.ok { background: #d6f5d6; } .verdict.bad { background: #f8d0d0; }
table { border-collapse: collapse; margin: 0.6em 0; }
td, th { border: 1px solid #ccc; padding: 2px 6px; vertical-align: top; }
table.facts th { text-align: left; background: #f4f4f4; }
table.facts td { max-width: 1100px; overflow-wrap: anywhere; }
.legend span { display: inline-block; padding: 0 6px; margin: 2px 4px 2px 0; border: 1px solid #bbb; border-radius: 3px; }
.scroll { overflow: auto; max-height: 75vh; max-width: 100%; border: 1px solid #ccc; }
.matrix { margin: 0; border-collapse: separate; border-spacing: 0; }
.matrix th, .matrix td { border: 0; border-right: 1px solid #ddd; border-bottom: 1px solid #ddd; }
.matrix thead th { position: sticky; top: 0; background: #fafafa; z-index: 2; }
.matrix th.mech { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; font-weight: normal; font-size: 12px; padding: 4px 1px; }
.matrix th.fn { position: sticky; left: 0; background: #fafafa; text-align: left; white-space: nowrap; z-index: 1; }
.matrix thead th.corner { left: 0; z-index: 3; }
.matrix td { min-width: 1.3em; height: 1.3em; text-align: center; padding: 0; }
.matrix td a { display: block; text-decoration: none; color: inherit; }
.pass { background: #7bd17b; } .fail { background: #e85c5c; } .error { background: #f0a35c; }
.non-strict { background: #c9e27a; } .unsupported { background: #c8c8c8; } .skip { background: #eee; }
.deviation { background: repeating-linear-gradient(45deg, #e85c5c, #e85c5c 3px, #f6c0c0 3px, #f6c0c0 6px); }
td.none { background: #fff; }
.case { margin: 0.5em 0; padding: 0.4em 0.8em; border-left: 6px solid #ccc; background: none; }
.case.pass { border-color: #7bd17b; } .case.non-strict { border-color: #c9e27a; } .case.fail { border-color: #e85c5c; }
.case.error { border-color: #f0a35c; } .case.unsupported, .case.skip { border-color: #c8c8c8; }
.case.deviation { border-left-style: dashed; }
code { font-size: 0.95em; } .msg { font-family: monospace; white-space: pre-wrap; overflow-wrap: anywhere; }
table.diff td { font-family: monospace; white-space: pre-wrap; overflow-wrap: anywhere; max-width: 1150px; }
table.diff th { text-align: left; background: #f4f4f4; }
table.diff tr.want td { background: #eef8ee; } table.diff tr.got td { background: #fbeaea; }
table.diff mark { background: #ffd24d; }
table.trace td { font-family: monospace; font-size: 12px; max-width: 560px; overflow-wrap: anywhere; }
details > summary { cursor: pointer; font-weight: bold; margin: 0.6em 0; }
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

fn is_deviation(case: &CaseResult) -> bool {
    case.deviation.is_some() && case.outcome.is_failure()
}

pub fn render(report: &RunReport) -> String {
    let matrix = Matrix::build(report);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_page(&mut out, report, &matrix);
    out
}

fn legend(out: &mut String) -> std::fmt::Result {
    writeln!(
        out,
        "<p class=\"legend\"><span class=\"pass\">✓ pass</span><span class=\"non-strict\">≈ non-strict pass (an accepted alternative answer)</span>\
         <span class=\"fail\">✗ fail</span><span class=\"error\">! error (no usable answer)</span>\
         <span class=\"deviation\">✗ known deviation (fails, does not fail the run)</span>\
         <span class=\"unsupported\">– unsupported (not offered)</span><span class=\"skip\">· skip (not selected)</span>\
         <span>blank: no case calls the function with the mechanism</span></p>"
    )
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
    if report.interrupted {
        fact("interrupted", "yes: the run was stopped; cases not started are skip")?;
    }
    let counts: Vec<String> =
        Outcome::ALL.iter().map(|o| format!("{} {}", report.count(*o), o.name())).collect();
    let deviations = report.cases.iter().filter(|c| is_deviation(c)).count();
    fact("cases", &format!("{} ({deviations} of them known deviations)", counts.join(", ")))?;
    match &report.advertised {
        Ok(list) => fact("advertised mechanisms", &format!("{} — {}", list.len(), list.join(", ")))?,
        Err(why) => fact("advertised mechanisms", &format!("unknown: {why}"))?,
    }
    writeln!(out, "</table>")?;
    if let Some(comparison) = &report.comparison {
        write_comparison(out, comparison)?;
    }

    let indexed: Vec<(usize, &CaseResult)> = report.cases.iter().enumerate().collect();
    let failing: Vec<_> =
        indexed.iter().filter(|(_, c)| c.outcome.is_failure() && !is_deviation(c)).copied().collect();
    let deviating: Vec<_> = indexed.iter().filter(|(_, c)| is_deviation(c)).copied().collect();
    writeln!(
        out,
        "<p><a href=\"#failures\">failures and errors ({})</a> · <a href=\"#deviations\">known deviations ({})</a> · \
         <a href=\"#matrix\">function × mechanism</a> · <a href=\"#others\">other cases</a></p>",
        failing.len(),
        deviating.len()
    )?;
    writeln!(out, "<h2 id=\"failures\">Failures and errors ({})</h2>", failing.len())?;
    if failing.is_empty() {
        writeln!(out, "<p>None.</p>")?;
    }
    for (index, case) in &failing {
        write_case(out, *index, case)?;
    }
    writeln!(out, "<h2 id=\"deviations\">Known deviations ({})</h2>", deviating.len())?;
    if deviating.is_empty() {
        writeln!(out, "<p>None.</p>")?;
    }
    for (index, case) in &deviating {
        write_case(out, *index, case)?;
    }

    writeln!(out, "<h2>Function × mechanism</h2>")?;
    writeln!(
        out,
        "<p>Each cell combines the cases that call the function under the mechanism (the worst \
         outcome shows). A cell links to its first case of that outcome; hover for its cases.</p>"
    )?;
    legend(out)?;
    writeln!(
        out,
        "<div class=\"scroll\"><table class=\"matrix\" id=\"matrix\"><thead><tr><th class=\"corner\"></th>"
    )?;
    for m in &matrix.mechanisms {
        writeln!(out, "<th class=\"mech\">{}</th>", esc(&mechanism_label(*m)))?;
    }
    writeln!(out, "</tr></thead><tbody>")?;
    for f in &matrix.functions {
        write!(out, "<tr><th class=\"fn\">{f}</th>")?;
        for m in &matrix.mechanisms {
            match matrix.cell(*f, *m) {
                Some(cell) => {
                    let cases: Vec<&CaseResult> = cell.cases.iter().map(|&i| &report.cases[i]).collect();
                    let first = cell.cases.iter().copied().find(|&i| report.cases[i].outcome == cell.outcome);
                    let deviation = cell.outcome.is_failure()
                        && cases.iter().filter(|c| c.outcome.is_failure()).all(|c| is_deviation(c));
                    let mut tooltip: Vec<String> = cases
                        .iter()
                        .take(TOOLTIP_IDS)
                        .map(|c| format!("{} {}", c.outcome.name(), c.id))
                        .collect();
                    if cases.len() > TOOLTIP_IDS {
                        tooltip.push(format!("… and {} more", cases.len() - TOOLTIP_IDS));
                    }
                    write!(
                        out,
                        "<td class=\"cell {}{}\" title=\"{}{} × {} ({} cases):\n{}\"><a href=\"#{}\">{}</a></td>",
                        cell.outcome.name(),
                        if deviation || cell.known_deviation { " deviation" } else { "" },
                        if cell.known_deviation { "known deviation: " } else { "" },
                        f,
                        esc(&mechanism_label(*m)),
                        cases.len(),
                        esc(&tooltip.join("\n")),
                        anchor(first.unwrap_or(cell.cases[0])),
                        symbol(cell.outcome)
                    )?;
                }
                None => write!(out, "<td class=\"none\"></td>")?,
            }
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody></table></div>")?;

    let others: Vec<_> = indexed
        .iter()
        .filter(|(_, c)| matches!(c.outcome, Outcome::NonStrict | Outcome::Unsupported))
        .copied()
        .collect();
    writeln!(out, "<h2 id=\"others\">Other cases</h2>")?;
    writeln!(out, "<details><summary>Non-strict and unsupported ({})</summary>", others.len())?;
    for (index, case) in &others {
        write_case(out, *index, case)?;
    }
    writeln!(out, "</details>")?;
    let passes: Vec<_> = indexed.iter().filter(|(_, c)| c.outcome == Outcome::Pass).copied().collect();
    writeln!(out, "<details><summary>Passed ({})</summary>", passes.len())?;
    for (index, case) in &passes {
        write_case(out, *index, case)?;
    }
    writeln!(out, "</details>")?;
    let skipped: Vec<_> = indexed.iter().filter(|(_, c)| c.outcome == Outcome::Skip).copied().collect();
    writeln!(out, "<details><summary>Not selected: skip ({})</summary>", skipped.len())?;
    for (index, case) in &skipped {
        write_case(out, *index, case)?;
    }
    writeln!(out, "</details>")?;
    writeln!(out, "</body></html>")
}

/// The `run --compare` section: both endpoints' own verdicts, then every divergence with
/// both answers side by side.
fn write_comparison(out: &mut String, c: &Comparison) -> std::fmt::Result {
    let class = if c.agrees() { "ok" } else { "bad" };
    writeln!(out, "<h2 id=\"comparison\">Comparison with a second endpoint</h2>")?;
    writeln!(out, "<p class=\"verdict {class}\">{}</p>", esc(&c.summary))?;
    writeln!(out, "<table class=\"facts\"><tr><th></th><th>endpoint</th><th>its own verdict</th></tr>")?;
    for (label, side) in [("A", &c.a), ("B", &c.b)] {
        writeln!(
            out,
            "<tr><th>{label}</th><td>{}</td><td>{}</td></tr>",
            esc(&side.endpoint),
            esc(&side.verdict)
        )?;
    }
    writeln!(out, "</table>")?;
    if c.divergences.is_empty() {
        return writeln!(out, "<p>No divergence: every case compared answered alike on both.</p>");
    }
    writeln!(
        out,
        "<table class=\"trace\"><tr><th>case</th><th>step</th><th>kind</th><th>difference</th>\
         <th>A</th><th>B</th><th>allowed</th></tr>"
    )?;
    for d in &c.divergences {
        let step = match (d.step, &d.action) {
            (Some(n), Some(action)) => format!("{n} {action}"),
            (None, Some(action)) => action.clone(),
            _ => "-".to_owned(),
        };
        let side = |s: &SideAnswer| {
            let message =
                s.message.as_deref().map(|m| format!("<br><small>{}</small>", esc(m))).unwrap_or_default();
            format!("{}{message}", esc(&super::table::side_cell(s)))
        };
        writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&d.case),
            esc(&step),
            d.kind.name(),
            esc(&d.what),
            side(&d.a),
            side(&d.b),
            esc(d.allowed.as_deref().unwrap_or("no"))
        )?;
    }
    writeln!(out, "</table>")?;
    for entry in &c.allowed_not_occurred {
        writeln!(
            out,
            "<p class=\"deviation\"><b>Allowed divergence did not occur</b> (remove the entry): <code>{}</code>, listed as: {}</p>",
            esc(&entry.case),
            esc(&entry.reason)
        )?;
    }
    Ok(())
}

/// `expected X, got Y` split in two, when a message has that shape.
fn expected_got(message: &str) -> Option<(&str, &str, &str)> {
    let start = message.find("expected ")?;
    let rest = &message[start + "expected ".len()..];
    let split = rest.find(", got ")?;
    Some((&message[..start], &rest[..split], &rest[split + ", got ".len()..]))
}

/// `text` escaped, with everything from the first character that differs from `other`
/// marked.
fn marked(text: &str, other: &str) -> String {
    let same = text.char_indices().zip(other.chars()).find(|((_, a), b)| a != b).map(|((i, _), _)| i);
    let split = same.unwrap_or_else(|| text.len().min(other.len()));
    if split >= text.len() {
        return esc(text).into_owned();
    }
    format!("{}<mark>{}</mark>", esc(&text[..split]), esc(&text[split..]))
}

fn write_case(out: &mut String, index: usize, case: &CaseResult) -> std::fmt::Result {
    let deviation = if is_deviation(case) { " deviation" } else { "" };
    writeln!(out, "<div class=\"case {}{deviation}\" id=\"{}\">", case.outcome.name(), anchor(index))?;
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
    if let Some(reason) = case.deviation.as_deref().filter(|_| is_deviation(case)) {
        writeln!(out, "<div><i>known deviation:</i> {}</div>", esc(reason))?;
    }
    if let Some(m) = &case.message {
        match expected_got(m).filter(|_| case.outcome == Outcome::Fail) {
            Some((context, want, got)) => {
                writeln!(out, "<div class=\"msg\">{}</div>", esc(context.trim_end_matches([' ', ':'])))?;
                writeln!(
                    out,
                    "<table class=\"diff\"><tr class=\"want\"><th>expected</th><td>{}</td></tr>\
                     <tr class=\"got\"><th>got</th><td>{}</td></tr></table>",
                    esc(want),
                    marked(got, want)
                )?;
            }
            None => writeln!(out, "<div class=\"msg\">{}</div>", esc(m))?,
        }
    }
    if !case.trace.is_empty() && case.outcome != Outcome::Skip {
        writeln!(
            out,
            "<table class=\"trace\"><tr><th>step</th><th>call</th><th>request</th><th>result</th></tr>"
        )?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mismatch_is_split_and_marked_where_it_differs() {
        let (context, want, got) =
            expected_got("step 2 Digest: Digest: expected hex:abcd, got hex:abce").unwrap();
        assert_eq!(context, "step 2 Digest: Digest: ");
        assert_eq!((want, got), ("hex:abcd", "hex:abce"));
        assert_eq!(marked(got, want), "hex:abc<mark>e</mark>");
        assert_eq!(marked("same", "same"), "same");
        assert!(expected_got("connection closed").is_none());
    }
}
