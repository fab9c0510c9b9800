//! What `run` prints while it runs: one line per finished case on stdout, in case order
//! (a result waits for the cases before it, so two runs diff line by line), coloured by
//! outcome on a terminal; and on a terminal's stderr a progress line (cases done of all,
//! failures so far). `--quiet` keeps only the cases that did not pass.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use anstyle::{AnsiColor, Style};

use crate::runner::{CaseResult, Outcome};

/// `--color`: whether lines carry ANSI colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    Always,
    Never,
}

impl ColorWhen {
    /// Applies the choice to everything written through [`stdout`] from now on.
    pub fn apply(self) {
        let choice = match self {
            ColorWhen::Auto => anstream::ColorChoice::Auto,
            ColorWhen::Always => anstream::ColorChoice::Always,
            ColorWhen::Never => anstream::ColorChoice::Never,
        };
        choice.write_global();
    }
}

/// Standard output with colours stripped where they do not belong (not a terminal,
/// NO_COLOR, `--color never`). Write errors are the caller's to ignore: a closed pipe
/// (`run | head`) ends the reading, not the run.
pub fn stdout() -> anstream::AutoStream<std::io::Stdout> {
    anstream::AutoStream::auto(std::io::stdout())
}

fn style(outcome: Outcome) -> Style {
    match outcome {
        Outcome::Pass => AnsiColor::Green.on_default(),
        Outcome::NonStrict => AnsiColor::Cyan.on_default(),
        Outcome::Fail => AnsiColor::Red.on_default().bold(),
        Outcome::Error => AnsiColor::Magenta.on_default().bold(),
        Outcome::Unsupported | Outcome::Skip => AnsiColor::BrightBlack.on_default(),
    }
}

/// A verdict line in the colour of its meaning.
pub fn verdict_line(verdict: &str, passed: bool) -> String {
    let s = if passed { AnsiColor::Green.on_default().bold() } else { AnsiColor::Red.on_default().bold() };
    format!("{s}{verdict}{s:#}")
}

/// The line a finished case prints, or `None` for one not printed.
pub fn case_line(r: &CaseResult, quiet: bool) -> Option<String> {
    let shown = match r.outcome {
        Outcome::Skip => false,
        Outcome::Pass | Outcome::NonStrict => !quiet,
        Outcome::Fail | Outcome::Error | Outcome::Unsupported => true,
    };
    if !shown {
        return None;
    }
    let s = style(r.outcome);
    let name = format!("{s}{:<11}{s:#}", r.outcome.name());
    let deviation = if r.deviation.is_some() && r.outcome.is_failure() { " (known deviation)" } else { "" };
    Some(match &r.message {
        None => format!("{name} {}{deviation}", r.id),
        Some(m) => format!("{name} {}{deviation}: {m}", r.id),
    })
}

struct State {
    /// Where each planned case stands in the listing.
    order: HashMap<String, usize>,
    /// Results that finished before an earlier case.
    waiting: BTreeMap<usize, CaseResult>,
    next: usize,
    done: u64,
    failed: u64,
}

/// Prints results in case order as they become printable.
pub struct Progress {
    quiet: bool,
    bar: Option<indicatif::ProgressBar>,
    state: Mutex<State>,
}

impl Progress {
    /// For a run of `ids` in this order (generated cases, not known in advance, print as
    /// they come after them).
    pub fn new<'a>(ids: impl Iterator<Item = &'a str>, quiet: bool) -> Progress {
        let order: HashMap<String, usize> = ids.enumerate().map(|(i, id)| (id.to_owned(), i)).collect();
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(order.len() as u64);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{pos}/{len} cases, {msg} [{bar:30}] {elapsed}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message("0 failed");
            bar
        });
        Progress {
            quiet,
            bar,
            state: Mutex::new(State { order, waiting: BTreeMap::new(), next: 0, done: 0, failed: 0 }),
        }
    }

    fn print(&self, r: &CaseResult) {
        let Some(line) = case_line(r, self.quiet) else { return };
        let write = || {
            let _ = writeln!(stdout(), "{line}");
        };
        match &self.bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }

    /// One finished case.
    pub fn finished(&self, r: &CaseResult) {
        // A poisoned lock means a print panicked; the listing is then best effort.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.done += 1;
        if r.outcome.is_failure() && r.deviation.is_none() {
            state.failed += 1;
        }
        if let Some(bar) = &self.bar {
            if bar.length().is_some_and(|len| state.done > len) {
                bar.inc_length(1);
            }
            bar.set_position(state.done);
            bar.set_message(format!("{} failed", state.failed));
        }
        match state.order.get(&r.id).copied() {
            Some(index) => {
                state.waiting.insert(index, r.clone());
                let state = &mut *state;
                while let Some(next) = state.waiting.remove(&state.next) {
                    self.print(&next);
                    state.next += 1;
                }
            }
            None => self.print(r),
        }
    }

    /// Prints whatever still waits (cases after one that never finished) and removes the
    /// progress line.
    pub fn finish(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for (_, r) in std::mem::take(&mut state.waiting) {
            self.print(&r);
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, outcome: Outcome) -> CaseResult {
        CaseResult {
            id: id.into(),
            suite: "s".into(),
            name: "n".into(),
            file: "f".into(),
            line: 1,
            outcome,
            message: None,
            deviation: None,
            duration: std::time::Duration::ZERO,
            functions: Default::default(),
            mechanisms: Default::default(),
            calls: Vec::new(),
            failed_call: None,
            wire: crate::client::Wire::Keyblob,
            retries: 0,
            resent: 0,
            trace: Vec::new(),
        }
    }

    #[test]
    fn quiet_keeps_what_did_not_pass_and_skips_are_never_listed() {
        assert!(case_line(&result("a", Outcome::Pass), true).is_none());
        assert!(case_line(&result("a", Outcome::Skip), false).is_none());
        assert!(case_line(&result("a", Outcome::Fail), true).unwrap().contains("fail"));
        anstream::ColorChoice::Never.write_global();
        let line = case_line(&result("a/b", Outcome::Pass), false).unwrap();
        // Stripped when written, the line reads as before colours existed.
        let plain = anstream::adapter::strip_str(&line).to_string();
        assert_eq!(plain, "pass        a/b");
    }
}
