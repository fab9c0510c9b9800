//! The terminal summary: for each seed-table function the cases that reached it and its
//! row of the function × mechanism matrix in compact form (cells by outcome), then the
//! outcome counts.

use std::collections::BTreeMap;

use tabled::settings::Style;
use tabled::{Table, Tabled};

use super::RunReport;
use super::matrix::Matrix;
use crate::rpc::Rpc;
use crate::runner::Outcome;

#[derive(Tabled)]
struct FunctionRow {
    function: &'static str,
    cases: usize,
    pass: usize,
    fail: usize,
    other: usize,
    #[tabled(rename = "mechanisms (cells)")]
    mechanisms: String,
}

fn compact(counts: &BTreeMap<Outcome, usize>) -> String {
    let parts: Vec<String> = counts.iter().map(|(o, n)| format!("{n} {}", o.name())).collect();
    if parts.is_empty() { "-".to_owned() } else { parts.join(", ") }
}

pub fn render(report: &RunReport) -> String {
    let matrix = Matrix::build(report);
    let mut per: BTreeMap<Rpc, [usize; 3]> = BTreeMap::new();
    for case in &report.cases {
        for f in &case.functions {
            let slot = per.entry(*f).or_default();
            match case.outcome {
                Outcome::Pass | Outcome::NonStrict => slot[0] += 1,
                Outcome::Fail | Outcome::Error => slot[1] += 1,
                Outcome::Skip | Outcome::Unsupported => slot[2] += 1,
            }
        }
    }
    let rows: Vec<FunctionRow> = Rpc::seed_table()
        .map(|rpc| {
            let [pass, fail, other] = per.get(&rpc).copied().unwrap_or_default();
            let mechanisms = compact(&matrix.row_counts(rpc));
            FunctionRow { function: rpc.name(), cases: pass + fail + other, pass, fail, other, mechanisms }
        })
        .collect();
    let exercised = rows.iter().filter(|r| r.cases > 0).count();
    let total = rows.len();
    let mut functions = Table::new(rows);
    functions.with(Style::sharp());

    let mut builder = tabled::builder::Builder::new();
    builder.push_record(["outcome", "cases"]);
    for o in Outcome::ALL {
        builder.push_record([o.name().to_owned(), report.count(o).to_string()]);
    }
    let mut outcomes = builder.build();
    outcomes.with(Style::sharp());
    let repeated = [
        (report.retries(), "retried at the endpoint's request"),
        (report.resent(), "sent again after their connection closed"),
    ];
    let repeated: Vec<String> =
        repeated.iter().filter(|(n, _)| *n > 0).map(|(n, why)| format!("{n} calls {why}")).collect();
    let retried = if repeated.is_empty() { String::new() } else { format!(" ({})", repeated.join(", ")) };
    format!(
        "{functions}\nseed-table functions exercised: {exercised}/{total}\n\n{outcomes}\n{} cases in {:.2}s against {}{retried}",
        report.cases.len(),
        report.duration.as_secs_f64(),
        report.endpoint
    )
}

/// Cuts `text` to `max` characters, marking the cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// One side of a divergence in a table cell: its outcome, and its answer at the step.
pub fn side_cell(side: &crate::runner::compare::SideAnswer) -> String {
    match &side.answer {
        Some(answer) => format!("{}: {answer}", side.outcome),
        None => side.outcome.clone(),
    }
}

/// The divergence table `run --compare` prints: one row per divergence, what differs, and
/// each side's own outcome of the case (report.md and compare.json have both answers
/// whole).
pub fn comparison(comparison: &crate::runner::compare::Comparison) -> String {
    if comparison.divergences.is_empty() {
        return format!("no divergence in {} cases compared", comparison.compared);
    }
    let mut builder = tabled::builder::Builder::new();
    builder.push_record(["case", "step", "kind", "difference", "A", "B", "allowed"]);
    for d in &comparison.divergences {
        let step = match (d.step, &d.action) {
            (Some(n), Some(action)) => format!("{n} {action}"),
            (None, Some(action)) => action.clone(),
            _ => "-".to_owned(),
        };
        builder.push_record([
            d.case.clone(),
            step,
            d.kind.name().to_owned(),
            cut(&d.what, 72),
            d.a.outcome.clone(),
            d.b.outcome.clone(),
            d.allowed.as_deref().map_or_else(|| "no".to_owned(), |r| cut(r, 30)),
        ]);
    }
    let mut table = builder.build();
    table.with(Style::sharp());
    format!("A = {}\nB = {}\n{table}", comparison.a.endpoint, comparison.b.endpoint)
}
