//! Fixtures: named step sequences written once and inserted into cases with `use:`.
//!
//! ```yaml
//! include: [fixtures/import.yaml]           # shared fixtures, relative to the suite file
//! cases:
//!   - name: ...
//!     steps:
//!       - use: import-key
//!         with: {value: "hex:2b7e...", type: CKK_AES, encrypt: true}
//!         save: {key: key}                   # case variable <- fixture variable
//! ```
//!
//! A use becomes the fixture's steps. The fixture's parameters are bound from `with:` (in
//! the case's variables) before its first step runs; every variable the fixture saves is
//! private to that use (renamed, so two uses in one case do not collide) unless `save:`
//! names it in the case. Each inserted step keeps its own file and line (the fixture's)
//! and the place of the `use:`, so errors and reports point at both.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::load::{LoadError, check_steps};
use super::model::{
    ArgValue, Case, Check, Expect, Fixture, FixtureFile, Location, Operand, Step, StepItem, Sym,
    TemplateValue, Use, UseOrigin,
};
use super::yaml;

/// Gives each fixture the file it was written in.
pub fn place_fixtures(fixtures: &mut [Fixture], file: &Path) {
    for fixture in fixtures {
        fixture.file = file.to_owned();
    }
}

/// Reads one fixture file.
pub fn load_fixture_file(file: &Path) -> Result<Vec<Fixture>, Vec<LoadError>> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        vec![LoadError {
            file: file.to_owned(),
            location: None,
            message: format!("cannot read fixtures: {e}"),
        }]
    })?;
    let mut parsed: FixtureFile = yaml::from_str(&text).map_err(|e| vec![e.in_file(file)])?;
    place_fixtures(&mut parsed.fixtures, file);
    Ok(parsed.fixtures)
}

/// The fixtures a suite may use: its own and those of its `include:` files. Problems in
/// either are added to `errors`; a fixture with problems is left out, so its uses are not
/// reported a second time.
pub fn available(
    suite_file: &Path,
    include: &[PathBuf],
    own: &[Fixture],
    errors: &mut Vec<LoadError>,
) -> BTreeMap<String, Arc<Fixture>> {
    let mut out: BTreeMap<String, Arc<Fixture>> = BTreeMap::new();
    let dir = suite_file.parent().unwrap_or(Path::new(""));
    let mut add = |fixture: Fixture, errors: &mut Vec<LoadError>| {
        let before = errors.len();
        check_fixture(&fixture, &mut |location, message| {
            errors.push(LoadError { file: fixture.file.clone(), location: Some(location), message })
        });
        if let Some(other) = out.get(&fixture.name) {
            errors.push(LoadError {
                file: fixture.file.clone(),
                location: Some(fixture.location),
                message: format!(
                    "fixture {:?} is also defined at {}:{}",
                    fixture.name,
                    other.file.display(),
                    other.location.line
                ),
            });
        } else if errors.len() == before {
            out.insert(fixture.name.clone(), Arc::new(fixture));
        }
    };
    for fixture in own {
        add(clone_fixture(fixture), errors);
    }
    for path in include {
        match load_fixture_file(&dir.join(path)) {
            Ok(fixtures) => fixtures.into_iter().for_each(|f| add(f, errors)),
            Err(mut e) => errors.append(&mut e),
        }
    }
    out
}

fn clone_fixture(f: &Fixture) -> Fixture {
    Fixture {
        name: f.name.clone(),
        title: f.title.clone(),
        params: f.params.clone(),
        optional: f.optional.clone(),
        steps: f.steps.clone(),
        location: f.location,
        file: f.file.clone(),
    }
}

/// A fixture on its own: its parameters are its only variables to begin with.
fn check_fixture(fixture: &Fixture, problem: &mut impl FnMut(Location, String)) {
    let mut defined = BTreeSet::new();
    for p in fixture.params.iter().chain(&fixture.optional) {
        if !defined.insert(p.clone()) {
            problem(fixture.location, format!("fixture {}: parameter {p:?} is declared twice", fixture.name));
        }
    }
    let mut steps = Vec::new();
    for item in &fixture.steps {
        match item {
            StepItem::Step(step) => steps.push(step.clone()),
            StepItem::Use(u) => problem(
                u.location,
                format!("fixture {}: a fixture cannot use another ({})", fixture.name, u.fixture),
            ),
        }
    }
    if steps.is_empty() {
        problem(fixture.location, format!("fixture {} has no steps", fixture.name));
    }
    check_steps(&steps, defined, &mut |location, message| {
        problem(location, format!("fixture {}: {message}", fixture.name))
    });
}

/// Every variable a fixture's steps save.
fn saved(fixture: &Fixture) -> BTreeSet<&str> {
    fixture
        .steps
        .iter()
        .filter_map(|i| match i {
            StepItem::Step(s) => Some(s),
            StepItem::Use(_) => None,
        })
        .flat_map(|s| s.save.iter().map(|(var, _)| var.as_str()))
        .collect()
}

/// Replaces each `use:` of a case by its fixture's steps, filling `case.steps`. Problems
/// with a use (an unknown fixture or parameter, a missing one, a save of a variable the
/// fixture does not have) are reported at the use.
pub fn expand_case(
    case: &mut Case,
    fixtures: &BTreeMap<String, Arc<Fixture>>,
    fixtures_broken: bool,
    problem: &mut impl FnMut(Location, String),
) {
    let mut steps = Vec::new();
    for (n, item) in case.items.iter().enumerate() {
        match item {
            StepItem::Step(step) => steps.push(step.clone()),
            StepItem::Use(u) => match fixtures.get(&u.fixture) {
                Some(fixture) => match check_use(u, fixture) {
                    Ok(()) => steps.extend(inserted(u, fixture, n)),
                    Err(why) => problem(u.location, why),
                },
                // A fixture that did not load is reported where it stands.
                None if fixtures_broken => {}
                None => {
                    let known: Vec<&str> = fixtures.keys().map(String::as_str).collect();
                    problem(
                        u.location,
                        format!(
                            "unknown fixture {:?}; {}",
                            u.fixture,
                            if known.is_empty() {
                                "this suite defines and includes none".to_owned()
                            } else {
                                format!("known: {}", known.join(", "))
                            }
                        ),
                    )
                }
            },
        }
    }
    case.steps = steps;
}

fn check_use(u: &Use, fixture: &Fixture) -> Result<(), String> {
    let declared: BTreeSet<&str> =
        fixture.params.iter().chain(&fixture.optional).map(String::as_str).collect();
    let given: BTreeSet<&str> = u.with.iter().map(|(n, _)| n.as_str()).collect();
    let unknown: Vec<&str> = given.difference(&declared).copied().collect();
    if !unknown.is_empty() {
        return Err(format!(
            "use: {}: unknown parameter {}; it takes {}",
            fixture.name,
            unknown.join(", "),
            declared.iter().copied().collect::<Vec<_>>().join(", ")
        ));
    }
    let missing: Vec<&str> =
        fixture.params.iter().map(String::as_str).filter(|p| !given.contains(p)).collect();
    if !missing.is_empty() {
        return Err(format!("use: {} needs {} in `with`", fixture.name, missing.join(", ")));
    }
    let has = saved(fixture);
    for (_, from) in &u.save {
        if !has.contains(from.as_str()) {
            return Err(format!(
                "use: {} saves no variable {from:?}; it saves {}",
                fixture.name,
                has.iter().copied().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(())
}

/// The fixture's steps for one use (the `n`th step item of its case).
fn inserted(u: &Use, fixture: &Fixture, n: usize) -> Vec<Step> {
    let exported: BTreeMap<&str, &str> =
        u.save.iter().map(|(to, from)| (from.as_str(), to.as_str())).collect();
    // `.` cannot appear in a variable the suite writes, so private names never collide.
    let rename = |var: &str| match exported.get(var) {
        Some(to) => (*to).to_owned(),
        None => format!("{}.{n}.{var}", fixture.name),
    };
    let origin = Arc::new(UseOrigin {
        fixture: fixture.name.clone(),
        file: fixture.file.clone(),
        used_at: u.location,
    });
    let mut out: Vec<Step> = fixture
        .steps
        .iter()
        .filter_map(|i| match i {
            StepItem::Step(s) => Some(s.clone()),
            StepItem::Use(_) => None,
        })
        .map(|mut step| {
            rename_step(&mut step, &rename);
            step.origin = Some(Arc::clone(&origin));
            step
        })
        .collect();
    if let Some(first) = out.first_mut() {
        let mut binds: Vec<(String, super::Param)> =
            u.with.iter().map(|(name, value)| (rename(name), value.clone())).collect();
        for p in &fixture.optional {
            if !u.with.iter().any(|(n, _)| n == p) {
                binds.push((rename(p), super::Param::Null));
            }
        }
        first.binds = binds;
    }
    out
}

fn rename_sym<T>(sym: &mut Sym<T>, f: &impl Fn(&str) -> String) {
    if let Sym::Var(v) = sym {
        *v = f(v);
    }
}

/// Renames every variable a step reads or saves.
fn rename_step(step: &mut Step, f: &impl Fn(&str) -> String) {
    for arg in step.args.values_mut() {
        match arg {
            ArgValue::Bytes(e) => e.rename_vars(f),
            ArgValue::Uint(sym) => rename_sym(sym, f),
            ArgValue::AttributeList(_) => {}
            ArgValue::Mechanism(spec) => {
                rename_sym(&mut spec.mech, f);
                if let Some(p) = &mut spec.param {
                    p.rename_vars(f);
                }
                if let Some(e) = &mut spec.ecdh {
                    e.public.rename_vars(f);
                    if let Some(s) = &mut e.shared {
                        s.rename_vars(f);
                    }
                }
                if let Some(super::RsaParamSpec::Oaep { label: Some(l), .. }) = &mut spec.rsa {
                    l.rename_vars(f);
                }
            }
            ArgValue::Template(t) => {
                for (_, v) in &mut t.0 {
                    match v {
                        TemplateValue::Var(name) => *name = f(name),
                        TemplateValue::Bytes(e) => e.rename_vars(f),
                        TemplateValue::Bool(_) | TemplateValue::Uint(_) => {}
                    }
                }
            }
        }
    }
    if let Expect::Ok(checks) = &mut step.expect {
        for fc in checks {
            match &mut fc.check {
                Check::Eq(Operand::Bytes(e)) | Check::Ne(Operand::Bytes(e)) | Check::Prefix(e) => {
                    e.rename_vars(f)
                }
                Check::Len(sym) => rename_sym(sym, f),
                _ => {}
            }
        }
    }
    for (var, _) in &mut step.save {
        *var = f(var);
    }
}

#[cfg(test)]
mod tests {
    use super::super::load::load_file;
    use super::*;

    /// A suite directory of its own under the system's temporary directory.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir = std::env::temp_dir().join(format!("grep11-fixture-{name}-{}", std::process::id()));
            std::fs::create_dir_all(dir.join("fixtures")).unwrap();
            Dir(dir)
        }

        fn write(&self, path: &str, text: &str) -> PathBuf {
            let p = self.0.join(path);
            std::fs::write(&p, text).unwrap();
            p
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const FIXTURES: &str = "fixtures:\n  - name: digest-of\n    params: [msg]\n    optional: [mech]\n    steps:\n      - DigestInit: {mech: CKM_SHA256}\n        save: {st: State}\n      - Digest: {state: $st, data: $msg}\n        save: {d: Digest}\n        expect: {Digest: {len: 32}}\n";

    fn errors(dir: &Dir, suite: &str) -> Vec<String> {
        let file = dir.write("s.yaml", suite);
        load_file(&file).unwrap_err().into_iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn a_use_becomes_the_fixture_steps_with_private_names_and_both_positions() {
        let dir = Dir::new("expand");
        dir.write("fixtures/f.yaml", FIXTURES);
        let file = dir.write(
            "s.yaml",
            "suite: s\ninclude: [fixtures/f.yaml]\ncases:\n  - name: c\n    steps:\n      - use: digest-of\n        with: {msg: \"utf8:a\"}\n        save: {one: d}\n      - use: digest-of\n        with: {msg: $one}\n      - DigestSingle: {mech: CKM_SHA256, data: $one}\n",
        );
        let suite = load_file(&file).unwrap();
        let steps = &suite.cases[0].steps;
        assert_eq!(steps.len(), 5);
        // The first use exports `d` as `one`; its state and the second use's stay private.
        assert_eq!(steps[0].save, [("digest-of.0.st".to_owned(), "State".to_owned())]);
        assert_eq!(steps[1].save, [("one".to_owned(), "Digest".to_owned())]);
        assert_eq!(steps[3].save, [("digest-of.1.d".to_owned(), "Digest".to_owned())]);
        // Parameters are bound on the use's first step, in the case's variables.
        assert_eq!(steps[2].binds[0].0, "digest-of.1.msg");
        assert_eq!(steps[2].binds[1], ("digest-of.1.mech".to_owned(), super::super::Param::Null));
        let origin = steps[1].origin.as_ref().unwrap();
        assert_eq!((origin.file.ends_with("fixtures/f.yaml"), steps[1].location.line), (true, 8));
        assert_eq!(origin.used_at.line, 6);
        assert!(steps[4].origin.is_none());
        assert_eq!(steps[4].location.line, 11);
    }

    #[test]
    fn bad_uses_are_reported_at_the_use() {
        let dir = Dir::new("bad-use");
        dir.write("fixtures/f.yaml", FIXTURES);
        let head = "suite: s\ninclude: [fixtures/f.yaml]\ncases:\n  - name: c\n    steps:\n";
        let e = errors(&dir, &format!("{head}      - use: digest-off\n"));
        assert!(e[0].contains("s.yaml:6:9: unknown fixture \"digest-off\"; known: digest-of"), "{e:?}");
        let e = errors(&dir, &format!("{head}      - use: digest-of\n        with: {{mesg: hex:00}}\n"));
        assert!(
            e[0].contains("s.yaml:6:9: use: digest-of: unknown parameter mesg; it takes mech, msg"),
            "{e:?}"
        );
        let e = errors(&dir, &format!("{head}      - use: digest-of\n"));
        assert!(e[0].contains("use: digest-of needs msg in `with`"), "{e:?}");
        let e = errors(&dir, &format!("{head}      - use: digest-of\n        with: {{msg: $nope}}\n"));
        assert!(e[0].contains("s.yaml:6:9: step 1 DigestInit (use: digest-of,"), "{e:?}");
        assert!(e[0].contains("undefined variable $nope"), "{e:?}");
        let e = errors(
            &dir,
            &format!(
                "{head}      - use: digest-of\n        with: {{msg: hex:00}}\n        save: {{x: dd}}\n"
            ),
        );
        assert!(e[0].contains("saves no variable \"dd\"; it saves d, st"), "{e:?}");
    }

    #[test]
    fn a_broken_fixture_is_reported_in_its_own_file() {
        let dir = Dir::new("bad-fixture");
        dir.write("fixtures/f.yaml", "fixtures:\n  - name: f\n    params: [a]\n    steps:\n      - DigestSingle: {mech: CKM_SHA256, data: $b}\n");
        let e = errors(
            &dir,
            "suite: s\ninclude: [fixtures/f.yaml]\ncases:\n  - name: c\n    steps:\n      - use: f\n        with: {a: hex:00}\n",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains(
                "f.yaml:5:9: fixture f: step 1 DigestSingle: undefined variable $b (defined so far: $a)"
            ),
            "{e:?}"
        );
    }

    /// The shared import fixtures load, and the suites use them: the key-import block is
    /// written once, and each use keeps the check-value check.
    #[test]
    fn the_project_suites_import_keys_through_the_fixture() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
        let fixtures = load_fixture_file(&root.join("fixtures/import.yaml")).unwrap();
        assert!(fixtures.iter().any(|f| f.name == "import-key"));
        for name in ["aes.yaml", "cmac.yaml"] {
            let suite = load_file(&root.join(name)).unwrap();
            let uses: Vec<&Step> = suite
                .cases
                .iter()
                .flat_map(|c| &c.steps)
                .filter(|s| s.origin.as_ref().is_some_and(|o| o.fixture == "import-key"))
                .filter(|s| s.action.name() == "UnwrapKey")
                .collect();
            assert!(!uses.is_empty(), "{name}");
            for step in uses {
                assert!(
                    matches!(&step.expect, Expect::Ok(checks) if checks.iter().any(|c| c.field == "CheckSum")),
                    "{name}: an import without its check-value check"
                );
            }
        }
    }
}
