//! Reading suite files: YAML into the typed model (names checked where they stand), then one
//! pass over every case for what only the whole case shows (variables used before they are
//! saved, fields an RPC does not return, checks that do not fit a field). Every problem of
//! every file is collected, each with its file, line and column.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use super::fixture;
use super::model::{
    Action, ArgValue, Case, Check, Expect, Location, MechSpec, Operand, Step, Suite, Sym, TemplateValue,
};
use super::yaml::{self, Tree};
use crate::rpc::FieldKind;

/// One problem in one suite file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    /// The file the problem is in (or that could not be read).
    pub file: PathBuf,
    /// Where in the file; `None` for a problem of the whole file (unreadable, a duplicate
    /// suite id).
    pub location: Option<Location>,
    /// What is wrong, for people; from `load_paths`, with the closest known spelling when
    /// a name looks misspelt.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some(l) => write!(f, "{}:{}:{}: {}", self.file.display(), l.line, l.col, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Directories under a suite root that hold other YAML (published vectors, endpoint
/// profiles, fixtures that suites include), not suites.
const NOT_SUITES: &[&str] = &["vectors", "profiles", "fixtures"];

/// Every `*.yaml`/`*.yml` file at or below `path`, sorted so runs are reproducible.
pub fn suite_files(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let io_error =
        |e: std::io::Error| LoadError { file: path.to_owned(), location: None, message: e.to_string() };
    let meta = std::fs::metadata(path).map_err(io_error)?;
    if meta.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let p = entry.path();
        let name = entry.file_name();
        if p.is_dir() {
            if !NOT_SUITES.iter().any(|n| name == *n) {
                out.extend(suite_files(&p)?);
            }
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Loads every suite under `paths`; on any problem, returns all problems found.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<Suite>, Vec<LoadError>> {
    let mut suites = Vec::new();
    let mut errors = Vec::new();
    // A file named twice (`run suites suites/aes.yaml`) is one suite, loaded once.
    let mut files_seen = BTreeSet::new();
    for path in paths {
        match suite_files(path) {
            Ok(files) => {
                for file in files {
                    if !files_seen.insert(std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone())) {
                        continue;
                    }
                    match load_file(&file) {
                        Ok(suite) => suites.push(suite),
                        Err(mut e) => errors.append(&mut e),
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    let mut seen = BTreeSet::new();
    for suite in &suites {
        if !seen.insert(suite.suite.clone()) {
            errors.push(LoadError {
                file: suite.file.clone(),
                location: None,
                message: format!("suite id {:?} is used by another file too", suite.suite),
            });
        }
    }
    if errors.is_empty() {
        Ok(suites)
    } else {
        for e in &mut errors {
            e.message = super::suggest::annotate(&e.message);
        }
        Err(errors)
    }
}

pub fn load_file(file: &Path) -> Result<Suite, Vec<LoadError>> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| vec![LoadError { file: file.to_owned(), location: None, message: e.to_string() }])?;
    load_str(file, &text)
}

/// Parses and checks one suite from its text; `file` names it in errors.
pub fn load_str(file: &Path, text: &str) -> Result<Suite, Vec<LoadError>> {
    let root = Tree::parse(text).map_err(|e| vec![e.in_file(file)])?;
    let mut suite: Suite = root.deserialize().map_err(|e| every_problem(file, &root, e))?;
    suite.file = file.to_owned();
    let mut errors = Vec::new();
    fixture::place_fixtures(&mut suite.fixtures, file);
    let fixtures = fixture::available(file, &suite.include, &suite.fixtures, &mut errors);
    let fixtures_broken = !errors.is_empty();
    for case in &mut suite.cases {
        fixture::expand_case(case, &fixtures, fixtures_broken, &mut |location, message| {
            errors.push(LoadError { file: file.to_owned(), location: Some(location), message })
        });
    }
    let mut ids = BTreeSet::new();
    for case in &suite.cases {
        let mut problem = |location: Location, message: String| {
            errors.push(LoadError { file: file.to_owned(), location: Some(location), message })
        };
        let id = case.id();
        if id.is_empty() {
            problem(case.location, format!("case {:?} needs an id", case.name));
        } else if !ids.insert(id.clone()) {
            problem(case.location, format!("case id {id:?} is used twice in this suite"));
        }
        check_case(case, &mut problem);
    }
    if errors.is_empty() { Ok(suite) } else { Err(errors) }
}

/// Every problem serde finds in a suite that does not deserialize, not just the first:
/// each case of the [`Tree`] is deserialized again one step at a time, each problem placed
/// at the innermost value that raised it. Falls back to the first problem when the pieces
/// alone show nothing.
fn every_problem(file: &Path, root: &Tree, first: yaml::YamlError) -> Vec<LoadError> {
    let whole = vec![first.in_file(file)];
    if !root.is_map() {
        return whole;
    }
    let mut errors = Vec::new();
    let mut bare = root.clone();
    bare.replace_items("cases", Vec::new());
    if let Err(e) = bare.deserialize::<Suite>() {
        errors.push(e.in_file(file));
    }
    for case in root.get("cases").map(Tree::items).unwrap_or_default() {
        if !case.is_map() {
            if let Err(e) = case.deserialize::<Case>() {
                errors.push(e.in_file(file));
            }
            continue;
        }
        let with_steps = |steps: Vec<Tree>| {
            let mut case = case.clone();
            case.replace_items("steps", steps);
            case.deserialize::<Case>()
        };
        let steps = case.get("steps").map(Tree::items).unwrap_or_default();
        let mut good_step = None;
        for step in steps {
            match with_steps(vec![step.clone()]) {
                Ok(_) => {
                    good_step.get_or_insert_with(|| step.clone());
                }
                Err(e) => errors.push(e.in_file(file)),
            }
        }
        // The case's own fields, checked with one step that is fine on its own (a case's
        // rules may refuse an empty list of steps).
        if (steps.is_empty() || good_step.is_some())
            && let Err(e) = with_steps(good_step.into_iter().collect())
        {
            errors.push(e.in_file(file));
        }
    }
    if errors.is_empty() { whole } else { errors }
}

/// Checks variables, saved fields and field checks across a case's steps.
pub fn check_case(case: &Case, problem: &mut impl FnMut(Location, String)) {
    let mut defined: BTreeSet<String> = BTreeSet::new();
    if let Some(vectors) = &case.vectors {
        if case.matrix.is_some() {
            problem(
                case.location,
                "a case takes its parameters from `matrix` or from `vectors`, not both".into(),
            );
        }
        defined.extend(vectors.names());
    }
    if let Some(matrix) = &case.matrix {
        if let super::model::Matrix::Rows(rows) = matrix {
            let names: Vec<&str> = matrix.names();
            for row in rows {
                let given: BTreeSet<&str> = row.iter().map(|(n, _)| n.as_str()).collect();
                if given.len() != names.len() {
                    problem(case.location, format!("every matrix row must set {}", names.join(", ")));
                    break;
                }
            }
        }
        defined.extend(matrix.names().into_iter().map(str::to_owned));
    }
    check_steps(&case.steps, defined, problem);
}

/// Checks a sequence of steps, given the variables defined before the first. A problem in a
/// step inserted by `use:` is reported at the use.
pub fn check_steps(
    steps: &[Step],
    mut defined: BTreeSet<String>,
    problem: &mut impl FnMut(Location, String),
) {
    for (index, step) in steps.iter().enumerate() {
        let (label, at) = match &step.origin {
            None => (format!("step {} {}", index + 1, step.action.name()), step.location),
            Some(o) => (
                format!(
                    "step {} {} (use: {}, {}:{})",
                    index + 1,
                    step.action.name(),
                    o.fixture,
                    o.file.display(),
                    step.location.line
                ),
                o.used_at,
            ),
        };
        let mut problem = |_: Location, message: String| problem(at, message);
        let mut reads: Vec<&str> = step.binds.iter().flat_map(|(_, p)| param_vars(p)).collect();
        for (name, _) in &step.binds {
            defined.insert(name.clone());
        }
        reads.extend(step_vars(step));
        for var in reads {
            if !defined.contains(var) {
                let known = if defined.is_empty() {
                    "no variables are defined yet".to_owned()
                } else {
                    format!(
                        "defined so far: {}",
                        defined.iter().map(|v| format!("${v}")).collect::<Vec<_>>().join(", ")
                    )
                };
                problem(step.location, format!("{label}: undefined variable ${var} ({known})"));
            }
        }
        match &step.expect {
            Expect::Ok(checks) => {
                for fc in checks {
                    match step.action.field(&fc.field) {
                        None => problem(
                            step.location,
                            format!(
                                "{label}: no response field {:?} to check; {} returns {}",
                                fc.field,
                                step.action.name(),
                                step.action.field_names().join(", ")
                            ),
                        ),
                        Some(kind) => {
                            if let Err(why) = check_fits(&fc.check, kind) {
                                problem(step.location, format!("{label}: check on {}: {why}", fc.field));
                            }
                        }
                    }
                }
            }
            Expect::Error(_) | Expect::Grpc(_) => {
                if matches!(step.action, Action::Local(_)) {
                    problem(step.location, format!("{label}: a local step cannot expect an error"));
                }
                if !step.save.is_empty() {
                    problem(step.location, format!("{label}: a step expected to fail has nothing to save"));
                }
            }
        }
        for (var, field) in &step.save {
            if step.action.field(field).is_none() {
                problem(
                    step.location,
                    format!(
                        "{label}: cannot save {field:?}; {} returns {}",
                        step.action.name(),
                        step.action.field_names().join(", ")
                    ),
                );
            }
            defined.insert(var.clone());
        }
    }
}

fn check_fits(check: &Check, kind: FieldKind) -> Result<(), String> {
    let ok = matches!(
        (check, kind),
        (Check::Eq(Operand::Bytes(_)) | Check::Ne(Operand::Bytes(_)), FieldKind::Bytes)
            | (Check::Eq(_) | Check::Ne(_), FieldKind::Uint)
            | (Check::Len(_) | Check::Prefix(_), FieldKind::Bytes)
            | (Check::Len(_) | Check::Contains(_) | Check::First(_), FieldKind::Mechanisms)
            | (Check::Has(_) | Check::Min(_) | Check::Max(_), FieldKind::Uint)
    );
    if ok { Ok(()) } else { Err(format!("{check:?} does not apply to a {kind:?} field")) }
}

fn param_vars(p: &super::model::Param) -> Vec<&str> {
    match p {
        super::model::Param::Expr(e) => e.vars(),
        _ => Vec::new(),
    }
}

/// Every variable a step reads, in its arguments and its checks.
fn step_vars(step: &Step) -> Vec<&str> {
    let mut out = Vec::new();
    for arg in step.args.values() {
        match arg {
            ArgValue::Bytes(e) => out.extend(e.vars()),
            ArgValue::Uint(Sym::Var(v)) => out.push(v.as_str()),
            ArgValue::Uint(Sym::Value(_)) | ArgValue::AttributeList(_) => {}
            ArgValue::Mechanism(MechSpec { mech, param, ecdh, rsa, btc }) => {
                if let Some(b) = btc {
                    out.extend(b.chain.iter().flat_map(|c| c.vars()));
                    if let Sym::Var(v) = &b.index {
                        out.push(v.as_str());
                    }
                }
                if let Some(crate::suite::model::RsaParamSpec::Oaep { label: Some(l), .. }) = rsa {
                    out.extend(l.vars());
                }
                if let Sym::Var(v) = mech {
                    out.push(v.as_str());
                }
                if let Some(p) = param {
                    out.extend(p.vars());
                }
                if let Some(e) = ecdh {
                    out.extend(e.public.vars());
                    if let Some(s) = &e.shared {
                        out.extend(s.vars());
                    }
                }
            }
            ArgValue::Template(t) => {
                for (_, v) in &t.0 {
                    match v {
                        TemplateValue::Var(name) => out.push(name.as_str()),
                        TemplateValue::Bytes(e) => out.extend(e.vars()),
                        TemplateValue::Bool(_) | TemplateValue::Uint(_) => {}
                    }
                }
            }
        }
    }
    if let Expect::Ok(checks) = &step.expect {
        for fc in checks {
            match &fc.check {
                Check::Eq(Operand::Bytes(e)) | Check::Ne(Operand::Bytes(e)) | Check::Prefix(e) => {
                    out.extend(e.vars())
                }
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        load_str(Path::new("t.yaml"), text).unwrap_err().into_iter().map(|e| e.to_string()).collect()
    }

    const HEADER: &str = "suite: t\ncases:\n  - name: c\n    steps:\n";

    #[test]
    fn unknown_mechanism_is_reported_at_its_line() {
        let e = errors(&format!("{HEADER}      - DigestSingle: {{mech: CKM_SHA257, data: hex:00}}\n"));
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("t.yaml:5:"), "{}", e[0]);
        assert!(e[0].contains("unknown mechanism \"CKM_SHA257\""), "{}", e[0]);
    }

    #[test]
    fn unknown_step_and_argument_are_named() {
        let e = errors(&format!("{HEADER}      - SignSingel: {{}}\n"));
        assert!(e[0].contains("unknown step \"SignSingel\""), "{}", e[0]);
        let e = errors(&format!("{HEADER}      - GenerateRandom: {{length: 4}}\n"));
        assert!(e[0].contains("unknown argument \"length\" for GenerateRandom; expected len"), "{}", e[0]);
        let e = errors(&format!("{HEADER}      - Digest: {{data: hex:00}}\n"));
        assert!(e[0].contains("Digest is missing argument state"), "{}", e[0]);
    }

    #[test]
    fn undefined_variables_and_fields_are_reported_at_the_step() {
        let text = format!(
            "{HEADER}      - DigestInit: {{mech: CKM_SHA256}}\n        save: {{st: State}}\n      - Digest: {{state: $sta, data: hex:00}}\n        expect: {{Digst: {{len: 32}}}}\n"
        );
        let e = errors(&text);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].starts_with("t.yaml:7:9: step 2 Digest: undefined variable $sta (defined so far: $st)"),
            "{}",
            e[0]
        );
        assert!(e[1].contains("no response field \"Digst\""), "{}", e[1]);
    }

    #[test]
    fn bad_yaml_reports_position() {
        let e = errors("suite: t\ncases: [\n");
        assert!(e[0].starts_with("t.yaml:"), "{}", e[0]);
    }

    #[test]
    fn a_good_suite_loads_with_positions() {
        let text = format!(
            "{HEADER}      - GenerateRandom: {{len: 16}}\n        save: {{r: Rnd}}\n        expect: {{Rnd: {{len: 16}}}}\n      - SeedRandom: {{mixin: $r}}\n"
        );
        let suite = load_str(Path::new("t.yaml"), &text).unwrap();
        assert_eq!(suite.cases[0].steps[1].location.line, 8);
        assert_eq!(suite.cases[0].location.line, 3);
    }

    #[test]
    fn template_values_are_typed_by_attribute() {
        let e = errors(&format!(
            "{HEADER}      - GenerateKey: {{mech: CKM_AES_KEY_GEN, template: {{CKA_VALUE_LEN: 32, CKA_ENCRYPT: 1}}}}\n"
        ));
        assert!(e[0].contains("CKA_ENCRYPT takes true or false, got 1"), "{}", e[0]);
    }
}
