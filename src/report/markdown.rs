//! `report.md`: the run for a pull request or a ticket: verdict, counts, the matrix row by
//! row, every selected case that did not pass with its steps, and the cases not selected,
//! by reason.

use std::fmt::Write;

use tabled::settings::Style;
use tabled::tables::CompactTable;

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

/// A table cell may not hold `|` or a line break: tabled lays the table out but leaves
/// the cells as they are (a line break would make a second row, a `|` a new column).
fn cell_text(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A Markdown table of `header` and `rows`, every cell escaped. tabled's compact table
/// writes each cell as it is instead of padding every row to the widest (the matrix's
/// mechanism lists run to thousands of characters: padded, report.md grew fivefold for
/// the same rendering). A compact table draws one kind of horizontal line for all rows or
/// none, so the header is a table of its own whose bottom line is Markdown's delimiter row.
fn table<R, C>(header: &[&str], rows: R) -> String
where
    R: IntoIterator<Item = C>,
    C: IntoIterator<Item = String>,
{
    let header: Vec<String> = header.iter().map(|h| cell_text(h)).collect();
    let rows: Vec<Vec<String>> =
        rows.into_iter().map(|row| row.into_iter().map(|c| cell_text(&c)).collect()).collect();
    let columns = header.len();
    // `|---|` under each header cell, one space either side of every cell.
    let delimiter = Style::markdown()
        .bottom('-')
        .corner_bottom_left('|')
        .corner_bottom_right('|')
        .intersection_bottom('|');
    let head = CompactTable::new([&header]).columns(columns).width(3).with(delimiter).to_string();
    if rows.is_empty() {
        return head;
    }
    let body = CompactTable::new(&rows).columns(columns).width(3).with(Style::markdown()).to_string();
    format!("{head}\n{body}")
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
    let advertised = match &report.advertised {
        Ok(list) => list.len().to_string(),
        Err(why) => format!("unknown: {why}"),
    };
    let facts = [
        ["endpoint", &report.endpoint],
        ["wire generation", &report.wire_names()],
        ["harness", &format!("grep11-harness {}", report.harness_version)],
        ["started", &started_rfc3339(report)],
        ["duration", &format!("{:.2} s", report.duration.as_secs_f64())],
        ["advertised mechanisms", &advertised],
    ];
    writeln!(out, "{}", table(&["", ""], facts.map(|row| row.map(str::to_owned))))?;
    let counts = Outcome::ALL.map(|o| [format!("{} {}", symbol(o), o.name()), report.count(o).to_string()]);
    writeln!(out, "\n{}", table(&["outcome", "cases"], counts))?;

    if let Some(comparison) = &report.comparison {
        write_comparison(out, comparison)?;
    }

    writeln!(out, "\n## Function × mechanism\n")?;
    writeln!(out, "Each cell combines the cases that call the function under the mechanism.\n")?;
    let rows = matrix.functions.iter().map(|f| {
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
        [f.to_string(), cells.join("<br>")]
    });
    writeln!(out, "{}", table(&["function", "mechanisms"], rows))?;

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
            let steps = case.trace.iter().map(|t| {
                [
                    t.index.to_string(),
                    format!("{} (line {})", t.action, t.line),
                    t.request.clone(),
                    t.result.clone(),
                ]
            });
            writeln!(out, "{}", table(&["step", "call", "request", "result"], steps))?;
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
        let rows = reasons
            .into_iter()
            .map(|(reason, ids)| [reason.to_owned(), ids.len().to_string(), format!("`{}`", ids[0])]);
        writeln!(out, "{}", table(&["reason", "cases", "for example"], rows))?;
    }
    Ok(())
}

/// The `run --compare` section: both endpoints' own verdicts, then every divergence with
/// both answers side by side.
fn write_comparison(out: &mut String, c: &Comparison) -> std::fmt::Result {
    writeln!(out, "\n## Comparison with a second endpoint\n")?;
    writeln!(out, "**{}**\n", cell_text(&c.summary))?;
    let sides = [("A", &c.a), ("B", &c.b)]
        .map(|(label, side)| [label.to_owned(), side.endpoint.clone(), side.verdict.clone()]);
    writeln!(out, "{}", table(&["", "endpoint", "its own verdict"], sides))?;
    if c.divergences.is_empty() {
        return writeln!(out, "\nNo divergence: every case compared answered alike on both.");
    }
    let rows = c.divergences.iter().map(|d| {
        let step = match (d.step, &d.action) {
            (Some(n), Some(action)) => format!("{n} {action}"),
            (None, Some(action)) => action.clone(),
            _ => "-".to_owned(),
        };
        [
            format!("`{}`", d.case),
            step,
            d.kind.name().to_owned(),
            d.what.clone(),
            side_text(&d.a),
            side_text(&d.b),
            d.allowed.clone().unwrap_or_else(|| "no".to_owned()),
        ]
    });
    writeln!(out, "\n{}", table(&["case", "step", "kind", "difference", "A", "B", "allowed"], rows))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_with_a_bar_or_a_line_break_stays_one_cell() {
        let rows = [["a|b".to_owned(), "one\ntwo".to_owned()], ["`x|y`".to_owned(), String::new()]];
        let text = table(&["name", "value"], rows);
        assert_eq!(text, "| name | value |\n|---|---|\n| a\\|b | one two |\n| `x\\|y` |   |");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[1].trim_matches(['|', '-', ' ', ':']).is_empty(), "the delimiter row: {text}");
        // Three unescaped bars a row: two columns.
        for line in &lines {
            let bars = line.match_indices('|').filter(|(i, _)| !line[..*i].ends_with('\\')).count();
            assert_eq!(bars, 3, "{line}");
        }
        assert!(lines[2].contains("a\\|b") && lines[2].contains("one two"), "{text}");
        assert!(lines[3].contains("`x\\|y`"), "{text}");
    }
}
