//! `report.html`: one self-contained page (inline style, no script, nothing fetched),
//! laid out to read at 1,400 px: the verdict and the run's facts; the cases that need
//! attention first (failures and errors, then known deviations, each with expected and got
//! side by side); the function × mechanism matrix in a scrolling box whose mechanism row
//! and function column stay in view; then the rest of the cases, passes folded away.
//! Written with maud: the markup is checked when the crate compiles and every value is
//! escaped unless marked otherwise (the style sheet only).

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::matrix::{Cell, Matrix, mechanism_label};
use super::{RunReport, started_rfc3339};
use crate::pkcs11::CkMechanismType;
use crate::rpc::Rpc;
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
    page(report, &Matrix::build(report)).into_string()
}

fn legend() -> Markup {
    html! {
        p.legend {
            span.pass { "✓ pass" }
            span class="non-strict" { "≈ non-strict pass (an accepted alternative answer)" }
            span.fail { "✗ fail" }
            span.error { "! error (no usable answer)" }
            span.deviation { "✗ known deviation (fails, does not fail the run)" }
            span.unsupported { "– unsupported (not offered)" }
            span.skip { "· skip (not selected)" }
            span { "blank: no case calls the function with the mechanism" }
        }
    }
}

fn fact(name: &str, value: &str) -> Markup {
    html! { tr { th { (name) } td { (value) } } }
}

fn page(report: &RunReport, matrix: &Matrix) -> Markup {
    let counts: Vec<String> =
        Outcome::ALL.iter().map(|o| format!("{} {}", report.count(*o), o.name())).collect();
    let deviations = report.cases.iter().filter(|c| is_deviation(c)).count();
    let advertised = match &report.advertised {
        Ok(list) => format!("{} — {}", list.len(), list.join(", ")),
        Err(why) => format!("unknown: {why}"),
    };
    let indexed: Vec<(usize, &CaseResult)> = report.cases.iter().enumerate().collect();
    let select = |keep: &dyn Fn(&CaseResult) -> bool| -> Vec<(usize, &CaseResult)> {
        indexed.iter().filter(|(_, c)| keep(c)).copied().collect()
    };
    let failing = select(&|c| c.outcome.is_failure() && !is_deviation(c));
    let deviating = select(&is_deviation);
    let others = select(&|c| matches!(c.outcome, Outcome::NonStrict | Outcome::Unsupported));
    let passes = select(&|c| c.outcome == Outcome::Pass);
    let skipped = select(&|c| c.outcome == Outcome::Skip);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "GREP11 conformance: " (report.endpoint) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "GREP11 conformance report" }
                p.verdict.ok[report.passed()].bad[!report.passed()] #verdict { (report.verdict()) }
                table.facts {
                    (fact("endpoint", &report.endpoint))
                    (fact("wire generation", &report.wire_names()))
                    (fact("harness", &format!("grep11-harness {}", report.harness_version)))
                    (fact("started", &started_rfc3339(report)))
                    (fact("duration", &format!("{:.2} s", report.duration.as_secs_f64())))
                    @if report.interrupted {
                        (fact("interrupted", "yes: the run was stopped; cases not started are skip"))
                    }
                    (fact("cases", &format!("{} ({deviations} of them known deviations)", counts.join(", "))))
                    (fact("advertised mechanisms", &advertised))
                }
                @if let Some(comparison) = &report.comparison {
                    (comparison_section(comparison))
                }
                p {
                    a href="#failures" { "failures and errors (" (failing.len()) ")" } " · "
                    a href="#deviations" { "known deviations (" (deviating.len()) ")" } " · "
                    a href="#matrix" { "function × mechanism" } " · "
                    a href="#others" { "other cases" }
                }
                h2 #failures { "Failures and errors (" (failing.len()) ")" }
                @if failing.is_empty() { p { "None." } }
                @for (index, case) in &failing { (case_block(*index, case)) }
                h2 #deviations { "Known deviations (" (deviating.len()) ")" }
                @if deviating.is_empty() { p { "None." } }
                @for (index, case) in &deviating { (case_block(*index, case)) }

                h2 { "Function × mechanism" }
                p {
                    "Each cell combines the cases that call the function under the mechanism (the worst \
                     outcome shows). A cell links to its first case of that outcome; hover for its cases."
                }
                (legend())
                div.scroll {
                    table.matrix #matrix {
                        thead {
                            tr {
                                th.corner {}
                                @for m in &matrix.mechanisms { th.mech { (mechanism_label(*m)) } }
                            }
                        }
                        tbody {
                            @for f in &matrix.functions {
                                tr {
                                    th class="fn" { (f) }
                                    @for m in &matrix.mechanisms {
                                        @match matrix.cell(*f, *m) {
                                            Some(cell) => (matrix_cell(report, *f, *m, cell)),
                                            None => td.none {},
                                        }
                                    }
                                }
                            }
                        }
                    }
                }

                h2 #others { "Other cases" }
                (folded("Non-strict and unsupported", &others))
                (folded("Passed", &passes))
                (folded("Not selected: skip", &skipped))
            }
        }
    }
}

/// A `<details>` holding `cases`, closed until opened.
fn folded(summary: &str, cases: &[(usize, &CaseResult)]) -> Markup {
    html! {
        details {
            summary { (summary) " (" (cases.len()) ")" }
            @for (index, case) in cases { (case_block(*index, case)) }
        }
    }
}

/// One cell of the matrix: the worst outcome's symbol, linking to the first case with that
/// outcome, its cases in the tooltip.
fn matrix_cell(report: &RunReport, f: Rpc, m: Option<CkMechanismType>, cell: &Cell) -> Markup {
    let cases: Vec<&CaseResult> = cell.cases.iter().map(|&i| &report.cases[i]).collect();
    let first = cell.cases.iter().copied().find(|&i| report.cases[i].outcome == cell.outcome);
    let deviation =
        cell.outcome.is_failure() && cases.iter().filter(|c| c.outcome.is_failure()).all(|c| is_deviation(c));
    let mut tooltip: Vec<String> =
        cases.iter().take(TOOLTIP_IDS).map(|c| format!("{} {}", c.outcome.name(), c.id)).collect();
    if cases.len() > TOOLTIP_IDS {
        tooltip.push(format!("… and {} more", cases.len() - TOOLTIP_IDS));
    }
    let title = format!(
        "{}{f} × {} ({} cases):\n{}",
        if cell.known_deviation { "known deviation: " } else { "" },
        mechanism_label(m),
        cases.len(),
        tooltip.join("\n")
    );
    html! {
        td.cell.(cell.outcome.name()).deviation[deviation || cell.known_deviation] title=(title) {
            a href={ "#" (anchor(first.unwrap_or(cell.cases[0]))) } { (symbol(cell.outcome)) }
        }
    }
}

/// The `run --compare` section: both endpoints' own verdicts, then every divergence with
/// both answers side by side.
fn comparison_section(c: &Comparison) -> Markup {
    let side = |s: &SideAnswer| {
        html! {
            (super::table::side_cell(s))
            @if let Some(message) = &s.message { br; small { (message) } }
        }
    };
    html! {
        h2 #comparison { "Comparison with a second endpoint" }
        p.verdict.ok[c.agrees()].bad[!c.agrees()] { (c.summary) }
        table.facts {
            tr { th {} th { "endpoint" } th { "its own verdict" } }
            @for (label, s) in [("A", &c.a), ("B", &c.b)] {
                tr { th { (label) } td { (s.endpoint) } td { (s.verdict) } }
            }
        }
        @if c.divergences.is_empty() {
            p { "No divergence: every case compared answered alike on both." }
        } @else {
            table.trace {
                tr {
                    th { "case" } th { "step" } th { "kind" } th { "difference" }
                    th { "A" } th { "B" } th { "allowed" }
                }
                @for d in &c.divergences {
                    @let step = match (d.step, &d.action) {
                        (Some(n), Some(action)) => format!("{n} {action}"),
                        (None, Some(action)) => action.clone(),
                        _ => "-".to_owned(),
                    };
                    tr {
                        td { code { (d.case) } }
                        td { (step) }
                        td { (d.kind.name()) }
                        td { (d.what) }
                        td { (side(&d.a)) }
                        td { (side(&d.b)) }
                        td { (d.allowed.as_deref().unwrap_or("no")) }
                    }
                }
            }
            @for entry in &c.allowed_not_occurred {
                p.deviation {
                    b { "Allowed divergence did not occur" } " (remove the entry): "
                    code { (entry.case) } ", listed as: " (entry.reason)
                }
            }
        }
    }
}

/// `expected X, got Y` split in two, when a message has that shape.
fn expected_got(message: &str) -> Option<(&str, &str, &str)> {
    let start = message.find("expected ")?;
    let rest = &message[start + "expected ".len()..];
    let split = rest.find(", got ")?;
    Some((&message[..start], &rest[..split], &rest[split + ", got ".len()..]))
}

/// `text`, with everything from the first character that differs from `other` marked.
fn marked(text: &str, other: &str) -> Markup {
    let same = text.char_indices().zip(other.chars()).find(|((_, a), b)| a != b).map(|((i, _), _)| i);
    let split = same.unwrap_or_else(|| text.len().min(other.len()));
    html! {
        (&text[..split])
        @if split < text.len() { mark { (&text[split..]) } }
    }
}

fn case_block(index: usize, case: &CaseResult) -> Markup {
    let details = case.outcome != Outcome::Pass;
    html! {
        div.case.(case.outcome.name()).deviation[is_deviation(case)] id=(anchor(index)) {
            b { (symbol(case.outcome)) " " (case.outcome.name()) }
            " " code { (case.id) } " — " (case.name) " "
            small { "(" (case.file) ":" (case.line) ", " (format!("{:.1}", case.duration.as_secs_f64() * 1000.0)) " ms)" }
            @if let Some(reason) = &case.deviation {
                div.deviation {
                    b {
                        @if case.deviation_did_not_occur() {
                            "known deviation did not occur (remove the entry); listed as:"
                        } @else {
                            "known deviation:"
                        }
                    }
                    " " (reason)
                }
            }
            @if details {
                @if let Some(reason) = case.deviation.as_deref().filter(|_| is_deviation(case)) {
                    div { i { "known deviation:" } " " (reason) }
                }
                @if let Some(m) = &case.message {
                    @match expected_got(m).filter(|_| case.outcome == Outcome::Fail) {
                        Some((context, want, got)) => {
                            div.msg { (context.trim_end_matches([' ', ':'])) }
                            table.diff {
                                tr.want { th { "expected" } td { (want) } }
                                tr.got { th { "got" } td { (marked(got, want)) } }
                            }
                        }
                        None => div.msg { (m) },
                    }
                }
                @if !case.trace.is_empty() && case.outcome != Outcome::Skip {
                    table.trace {
                        tr { th { "step" } th { "call" } th { "request" } th { "result" } }
                        @for t in &case.trace {
                            tr {
                                td { (t.index) }
                                td { (t.action) " (line " (t.line) ")" }
                                td { (t.request) }
                                td { (t.result) }
                            }
                        }
                    }
                }
            }
        }
    }
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
        assert_eq!(marked(got, want).into_string(), "hex:abc<mark>e</mark>");
        assert_eq!(marked("same", "same").into_string(), "same");
        assert_eq!(marked("a<b", "a>b").into_string(), "a<mark>&lt;b</mark>");
        assert!(expected_got("connection closed").is_none());
    }
}
