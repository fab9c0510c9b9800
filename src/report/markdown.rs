//! `report.md`: the run for a pull request or a ticket: verdict, counts, the matrix row by
//! row, every selected case that did not pass with its steps, and the cases not selected,
//! by reason.

use std::fmt::Write;

use super::matrix::{Matrix, mechanism_label};
use super::{RunReport, started_rfc3339};
use crate::runner::Outcome;
use crate::runner::compare::{Comparison, SideAnswer};

fn symbol(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "✅",
        Outcome::NonStrict => "🟡",
        Outcome::Fail => "❌",
        Outcome::Error => "⚠️",
        Outcome::Unsupported => "➖",
        Outcome::Skip => "⏭️",
    }
}

/// A table cell may not hold `|` or a line break.
fn cell_text(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(report: &RunReport) -> String {
    let matrix = Matrix::build(report);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_report(&mut out, report, &matrix);
    out
}

fn write_report(out: &mut String, report: &RunReport, matrix: &Matrix) -> std::fmt::Result {
    writeln!(out, "# GREP11 conformance report\n")?;
    writeln!(out, "**Verdict: {}**\n", report.verdict())?;
    writeln!(out, "| | |\n|---|---|")?;
    writeln!(out, "| endpoint | {} |", cell_text(&report.endpoint))?;
    writeln!(out, "| wire generation | {} |", report.wire_names())?;
    writeln!(out, "| harness | grep11-harness {} |", report.harness_version)?;
    writeln!(out, "| started | {} |", started_rfc3339(report))?;
    writeln!(out, "| duration | {:.2} s |", report.duration.as_secs_f64())?;
    match &report.advertised {
        Ok(list) => writeln!(out, "| advertised mechanisms | {} |", list.len())?,
        Err(why) => writeln!(out, "| advertised mechanisms | unknown: {} |", cell_text(why))?,
    }
    writeln!(out, "\n| outcome | cases |\n|---|---|")?;
    for o in Outcome::ALL {
        writeln!(out, "| {} {} | {} |", symbol(o), o.name(), report.count(o))?;
    }

    if let Some(comparison) = &report.comparison {
        write_comparison(out, comparison)?;
    }

    writeln!(out, "\n## Function × mechanism\n")?;
    writeln!(out, "Each cell combines the cases that call the function under the mechanism.\n")?;
    writeln!(out, "| function | mechanisms |\n|---|---|")?;
    for f in &matrix.functions {
        let cells: Vec<String> = matrix
            .mechanisms
            .iter()
            .filter_map(|m| {
                matrix.cell(*f, *m).map(|c| {
                    let deviation = if c.known_deviation { " (known deviation)" } else { "" };
                    format!("{} {}{deviation}", symbol(c.outcome), mechanism_label(*m))
                })
            })
            .collect();
        writeln!(out, "| {f} | {} |", cells.join("<br>"))?;
    }

    // Selected cases only: a case the profile (or --filter) leaves out did not fail to pass;
    // a known deviation is listed whatever its outcome, with its reason.
    let problems: Vec<_> = report
        .cases
        .iter()
        .filter(|c| !matches!(c.outcome, Outcome::Pass | Outcome::Skip) || c.deviation.is_some())
        .collect();
    writeln!(out, "\n## Selected cases that did not pass ({})\n", problems.len())?;
    for case in problems {
        writeln!(out, "### {} `{}`\n", symbol(case.outcome), case.id)?;
        writeln!(out, "{} ({}:{})\n", case.name, case.file, case.line)?;
        if let Some(reason) = &case.deviation {
            match case.deviation_did_not_occur() {
                true => writeln!(
                    out,
                    "**Known deviation did not occur** (listed as: {reason}): remove the entry.\n"
                )?,
                false => writeln!(out, "**Known deviation**: {reason}\n")?,
            }
        }
        if let Some(m) = &case.message {
            writeln!(out, "> {}\n", m.replace('\n', " "))?;
        }
        if !case.trace.is_empty() {
            writeln!(out, "| step | call | request | result |\n|---|---|---|---|")?;
            for t in &case.trace {
                writeln!(
                    out,
                    "| {} | {} (line {}) | {} | {} |",
                    t.index,
                    t.action,
                    t.line,
                    cell_text(&t.request),
                    cell_text(&t.result)
                )?;
            }
            writeln!(out)?;
        }
    }
    let skipped: Vec<_> = report.cases.iter().filter(|c| c.outcome == Outcome::Skip).collect();
    writeln!(out, "\n## Cases not selected ({})\n", skipped.len())?;
    if !skipped.is_empty() {
        // One line per reason, not per case: a profile leaves out hundreds for a handful.
        let mut reasons: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for case in &skipped {
            reasons.entry(case.message.as_deref().unwrap_or("not selected")).or_default().push(&case.id);
        }
        writeln!(out, "| reason | cases | for example |\n|---|---|---|")?;
        for (reason, ids) in reasons {
            writeln!(out, "| {} | {} | `{}` |", cell_text(reason), ids.len(), cell_text(ids[0]))?;
        }
    }
    Ok(())
}

/// The `run --compare` section: both endpoints' own verdicts, then every divergence with
/// both answers side by side.
fn write_comparison(out: &mut String, c: &Comparison) -> std::fmt::Result {
    writeln!(out, "\n## Comparison with a second endpoint\n")?;
    writeln!(out, "**{}**\n", cell_text(&c.summary))?;
    writeln!(out, "| | endpoint | its own verdict |\n|---|---|---|")?;
    writeln!(out, "| A | {} | {} |", cell_text(&c.a.endpoint), cell_text(&c.a.verdict))?;
    writeln!(out, "| B | {} | {} |", cell_text(&c.b.endpoint), cell_text(&c.b.verdict))?;
    if c.divergences.is_empty() {
        return writeln!(out, "\nNo divergence: every case compared answered alike on both.");
    }
    writeln!(out, "\n| case | step | kind | difference | A | B | allowed |\n|---|---|---|---|---|---|---|")?;
    for d in &c.divergences {
        let step = match (d.step, &d.action) {
            (Some(n), Some(action)) => format!("{n} {action}"),
            (None, Some(action)) => action.clone(),
            _ => "-".to_owned(),
        };
        writeln!(
            out,
            "| `{}` | {step} | {} | {} | {} | {} | {} |",
            cell_text(&d.case),
            d.kind.name(),
            cell_text(&d.what),
            cell_text(&side_text(&d.a)),
            cell_text(&side_text(&d.b)),
            cell_text(d.allowed.as_deref().unwrap_or("no"))
        )?;
    }
    for entry in &c.allowed_not_occurred {
        writeln!(
            out,
            "\n**Allowed divergence did not occur**: `{}` (listed as: {}): remove the entry.",
            cell_text(&entry.case),
            cell_text(&entry.reason)
        )?;
    }
    Ok(())
}

/// A side's outcome, answer at the step, and own message, for a table cell.
fn side_text(side: &SideAnswer) -> String {
    let mut text = super::table::side_cell(side);
    if let Some(m) = &side.message {
        text += &format!(" — {m}");
    }
    text
}
