//! The transcript as the two files `proxy --record` writes: `suite.yaml` (one case, the
//! recorded sequence) and `workload.yaml` (one workload per RPC, mechanism and outcome,
//! weighted by how often it was seen). Both are read back by the loaders that `run` and
//! `load` use (the tests do), so a file written here is a file the harness accepts.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use super::transcript::{Step, Transcript};

/// What the files say about where they came from.
pub struct Origin<'a> {
    pub upstream: &'a str,
    pub calls: usize,
    pub redacted: bool,
}

fn header(origin: &Origin, what: &str, t: &Transcript) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {what}, recorded by `grep11-harness proxy` in front of {}:", origin.upstream);
    let _ = writeln!(
        out,
        "# {} call(s) seen, {} left out (each named below where it was).",
        origin.calls, t.left_out
    );
    if origin.redacted {
        let _ =
            writeln!(out, "# Data redacted: message values are fresh random bytes of the recorded lengths.");
    }
    out
}

/// One step at `indent` spaces, as a list item (`- `) or as a mapping's value.
fn step_text(step: &Step, indent: usize, item: bool) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    if let Some(comment) = &step.comment {
        let _ = writeln!(out, "{pad}# {comment}");
        return out;
    }
    let args: Vec<String> = step.args.iter().map(|(n, v)| format!("{n}: {v}")).collect();
    let lead = if item { format!("{pad}- ") } else { pad.clone() };
    let more = if item { format!("{pad}  ") } else { pad.clone() };
    let _ = writeln!(out, "{lead}{}: {{{}}}", step.action, args.join(", "));
    if !step.save.is_empty() {
        let saves: Vec<String> = step.save.iter().map(|(v, f)| format!("{v}: {f}")).collect();
        let _ = writeln!(out, "{more}save: {{{}}}", saves.join(", "));
    }
    if let Some(expect) = &step.expect {
        let _ = writeln!(out, "{more}expect: {expect}");
    }
    out
}

/// `suite.yaml`: the whole recording as one case.
pub fn suite(t: &Transcript, origin: &Origin) -> String {
    let mut out = header(origin, "A suite", t);
    out.push_str("# Replay: grep11-harness run --endpoint URL suite.yaml\n");
    out.push_str("suite: recorded\ntitle: Recorded application traffic\ncases:\n");
    out.push_str("  - name: Recorded sequence\n    id: recorded\n    steps:\n");
    let mut any = false;
    for step in &t.steps {
        any |= step.comment.is_none();
        out.push_str(&step_text(step, 6, true));
    }
    if !any {
        // A case needs a step; with nothing replayable, the file still loads and says so.
        out.push_str("      - GetMechanismList: {}\n");
    }
    out
}

/// The steps `index` needs, in order: the producers of every variable it reads, and theirs.
fn needs(t: &Transcript, index: usize) -> BTreeSet<usize> {
    let producer: HashMap<&str, usize> =
        t.steps.iter().enumerate().flat_map(|(i, s)| s.save.keys().map(move |v| (v.as_str(), i))).collect();
    let mut out = BTreeSet::new();
    let mut todo: Vec<usize> = vec![index];
    while let Some(i) = todo.pop() {
        for var in &t.steps[i].uses {
            if let Some(&p) = producer.get(var.as_str())
                && p != index
                && out.insert(p)
            {
                todo.push(p);
            }
        }
    }
    out
}

fn workload_name(group: &str) -> String {
    crate::suite::slug(group)
}

/// `workload.yaml`: a workload per group of calls, its weight the number of calls seen.
pub fn workload(t: &Transcript, origin: &Origin) -> String {
    let mut out = header(origin, "Load workloads", t);
    out.push_str(
        "# Measure the recorded mix: grep11-harness load --endpoint URL --workload-file workload.yaml \\\n",
    );
    out.push_str("#   --mix NAME=WEIGHT,.. (the names and weights below)\n");
    let mut groups: Vec<(String, usize, usize)> = Vec::new(); // group, first step, count
    for (i, step) in t.steps.iter().enumerate() {
        let Some(group) = &step.group else { continue };
        match groups.iter_mut().find(|(g, _, _)| g == group) {
            Some(entry) => entry.2 += 1,
            None => groups.push((group.clone(), i, 1)),
        }
    }
    if groups.is_empty() {
        out.push_str("workloads: []\n");
        return out;
    }
    let mix: Vec<String> = groups.iter().map(|(g, _, n)| format!("{}={n}", workload_name(g))).collect();
    let _ = writeln!(out, "# --mix {}", mix.join(","));
    out.push_str("workloads:\n");
    for (group, first, count) in &groups {
        let name = workload_name(group);
        let _ = writeln!(out, "  - name: {name}");
        let _ = writeln!(out, "    title: \"{group} ({count} of {} calls)\"", origin.calls);
        let _ = writeln!(out, "    weight: {count}");
        let setup = needs(t, *first);
        if !setup.is_empty() {
            out.push_str("    setup:\n");
            for i in &setup {
                out.push_str(&step_text(&t.steps[*i], 6, true));
            }
        }
        out.push_str("    step:\n");
        out.push_str(&step_text(&t.steps[*first], 6, false));
        // Checks of this call that read only what setup and the call provide.
        let mut known: BTreeSet<&str> =
            setup.iter().flat_map(|i| t.steps[*i].save.keys().map(String::as_str)).collect();
        known.extend(t.steps[*first].save.keys().map(String::as_str));
        let checks: Vec<&Step> = t
            .steps
            .iter()
            .filter(|s| s.checks == Some(*first) && s.uses.iter().all(|v| known.contains(v.as_str())))
            .collect();
        if !checks.is_empty() {
            out.push_str("    check:\n");
            for step in checks {
                out.push_str(&step_text(step, 6, true));
            }
        }
    }
    out
}
