//! The crate is three parts that must not leak into each other: the emulator (the thing
//! under test), the reference cryptography (what checks it), and the harness (suites,
//! runner, reports, load, client, proxy, command line), plus the vocabulary all three share.
//! They live in one crate for build time, so the compiler does not keep them apart: this
//! test does. It parses every file under `src/` with `syn`, resolves each path it names
//! (`use` trees, paths in expressions, types and patterns, and paths inside macro calls)
//! against the file's module, and fails naming file, line and rule for any path a rule
//! forbids. `super::super::..` is resolved like any other path, so climbing out of a part
//! is caught like naming it.
//!
//! `lib.rs` is under no rule: it declares the parts and holds `bench_support`, the hidden
//! re-export of the engine that `benches/emulator.rs` alone may use (checked below).
//!
//! Which crate computes which primitive on each side is `crypto_separation.rs`'s table;
//! the rules here are about the code the parts may reach.

use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// The modules both sides use: the PKCS #11 and wire vocabulary, and the HTTP/2 server
/// settings. They must depend on nothing but each other.
const VOCABULARY: &[&str] = &["pkcs11", "proto", "status", "rpc", "serving"];

/// The harness's top-level modules.
const HARNESS: &[&str] = &["runner", "suite", "report", "load", "client", "proxy", "cli"];

/// Where the harness may reach the emulator: the embedded endpoint and `serve`.
const EMBEDDING_POINTS: &[&str] = &["embedded.rs", "cli/serve.rs"];

struct Rule {
    /// Files under `src/` the rule applies to: a directory ending in `/`, or a file.
    files: &'static [&'static str],
    /// Files among those the rule exempts.
    except: &'static [&'static str],
    /// Paths the files may not name: `crate::module` or an external crate.
    forbidden: &'static [&'static str],
    /// Paths under a forbidden one that stay allowed.
    allowed: &'static [&'static str],
    why: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        files: &["emulator/"],
        except: &[],
        forbidden: &[
            "crate::runner",
            "crate::suite",
            "crate::report",
            "crate::load",
            "crate::client",
            "crate::proxy",
            "crate::cli",
            "crate::embedded",
        ],
        allowed: &[],
        why: "the emulator is the endpoint under test: code it shared with the harness would \
              be judged by itself, and it must stay a server that could ship on its own",
    },
    Rule {
        files: &["runner/reference/"],
        except: &[],
        forbidden: &["crate::emulator"],
        allowed: &[],
        why: "the reference checks the emulator's answers; computed with the emulator's code, \
              it would confirm the emulator's bugs",
    },
    Rule {
        files: &["runner/reference/"],
        except: &[],
        forbidden: &["aws_lc_rs", "crypto_bigint"],
        // The emulator hashes with RustCrypto (a multi-part state must serialize), so
        // AWS-LC is the independent digest (README, "Cryptography").
        allowed: &["aws_lc_rs::digest"],
        why: "AWS-LC computes the emulator's HMAC, AES, CMAC, RSA, ECDSA, Ed25519 and ECDH, \
              and crypto-bigint its DH: the reference checks those with other libraries \
              (README, \"Cryptography\"; the DH reference uses num-bigint on purpose)",
    },
    Rule {
        files: &["runner/", "suite/", "report/", "load/", "client/", "proxy/", "cli/", "main.rs"],
        except: &["cli/serve.rs"],
        forbidden: &["crate::emulator"],
        allowed: &[],
        why: "the harness tests GREP11 endpoints through the wire; what it took from the \
              emulator's internals would not hold against a real endpoint, so it reaches \
              the emulator only where it embeds or serves it (embedded.rs, cli/serve.rs)",
    },
    Rule {
        files: &["pkcs11/", "proto.rs", "status.rs", "rpc.rs", "serving.rs"],
        except: &[],
        forbidden: &[
            "crate::emulator",
            "crate::embedded",
            "crate::runner",
            "crate::suite",
            "crate::report",
            "crate::load",
            "crate::client",
            "crate::proxy",
            "crate::cli",
        ],
        allowed: &[],
        why: "the vocabulary is what both sides share; a dependency from it on either side \
              would tie the emulator to the harness through it",
    },
];

#[derive(Debug, PartialEq)]
struct Violation {
    file: String,
    line: usize,
    path: String,
    why: &'static str,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "src/{}:{}: `{}`: {}", self.file, self.line, self.path, self.why)
    }
}

fn applies(rule: &Rule, file: &str) -> bool {
    let matches = |pattern: &&str| match pattern.strip_suffix('/') {
        Some(dir) => file.starts_with(&format!("{dir}/")),
        None => file == *pattern,
    };
    rule.files.iter().any(matches) && !rule.except.iter().any(matches)
}

fn under(path: &str, prefix: &str) -> bool {
    path == prefix || path.starts_with(&format!("{prefix}::"))
}

/// The module a file under `src/` defines: `emulator/mech/rsa.rs` is `emulator::mech::rsa`,
/// `emulator/mod.rs` is `emulator`; `lib.rs` and `main.rs` are crate roots.
fn module_of(file: &str) -> Vec<String> {
    let stem = file.strip_suffix(".rs").unwrap_or(file);
    let mut parts: Vec<String> = stem.split('/').map(str::to_owned).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// A path resolved against the module it is written in: `crate::…` for this crate's items,
/// the path as written for anything else (an external crate, or an item of the module).
fn resolve(module: &[String], segments: &[String], is_main: bool) -> Result<String, String> {
    let written = segments.join("::");
    let (mut at, mut rest) = match segments.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &segments[1..]),
        // The binary names the library by its crate name.
        Some("grep11_harness") if is_main => (Vec::new(), &segments[1..]),
        Some("self") => (module.to_vec(), &segments[1..]),
        Some("super") => (module.to_vec(), segments),
        _ => return Ok(written),
    };
    while rest.first().is_some_and(|s| s == "super") {
        if at.pop().is_none() {
            return Err(written);
        }
        rest = &rest[1..];
    }
    let mut out = vec!["crate".to_owned()];
    out.extend(at);
    out.extend(rest.iter().cloned());
    Ok(out.join("::"))
}

/// Every path a file names, with its line, resolved against the file's module and the
/// inline modules around it.
struct Paths {
    module: Vec<String>,
    is_main: bool,
    found: Vec<(usize, Result<String, String>)>,
}

impl Paths {
    fn add(&mut self, line: usize, segments: Vec<String>) {
        let resolved = resolve(&self.module, &segments, self.is_main);
        self.found.push((line, resolved));
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.use_leaf(prefix, &n.ident),
            syn::UseTree::Rename(r) => self.use_leaf(prefix, &r.ident),
            syn::UseTree::Glob(g) => {
                let line = g.star_token.span.start().line;
                self.add(line, prefix.clone());
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    fn use_leaf(&mut self, prefix: &[String], ident: &syn::Ident) {
        let mut segments = prefix.to_vec();
        segments.push(ident.to_string());
        self.add(ident.span().start().line, segments);
    }

    /// Paths inside a macro's tokens (`format!`, `assert!`, `matches!`, ...), which `syn`
    /// leaves unparsed: each run of identifiers joined by `::`.
    fn tokens(&mut self, tokens: TokenStream) {
        let mut run: Vec<String> = Vec::new();
        let mut line = 0;
        let mut after_colons = false;
        let mut pending_colon = false;
        let flush = |paths: &mut Paths, run: &mut Vec<String>, line: usize| {
            if run.len() > 1 {
                paths.add(line, std::mem::take(run));
            }
            run.clear();
        };
        for tree in tokens {
            match tree {
                TokenTree::Ident(ident) => {
                    if !after_colons {
                        flush(self, &mut run, line);
                        line = ident.span().start().line;
                    }
                    run.push(ident.to_string());
                    after_colons = false;
                    pending_colon = false;
                }
                TokenTree::Punct(p) if p.as_char() == ':' && !run.is_empty() => {
                    if pending_colon {
                        after_colons = true;
                        pending_colon = false;
                    } else {
                        pending_colon = true;
                    }
                }
                TokenTree::Group(g) => {
                    flush(self, &mut run, line);
                    after_colons = false;
                    pending_colon = false;
                    self.tokens(g.stream());
                }
                _ => {
                    flush(self, &mut run, line);
                    after_colons = false;
                    pending_colon = false;
                }
            }
        }
        flush(self, &mut run, line);
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let line = path.segments.first().map_or(0, |s| s.ident.span().start().line);
        self.add(line, segments);
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.module.push(item.ident.to_string());
        syn::visit::visit_item_mod(self, item);
        self.module.pop();
    }
}

/// The violations in one file; `file` is its path under `src/`, `/`-separated.
fn check(file: &str, source: &str) -> Result<Vec<Violation>, syn::Error> {
    let syntax = syn::parse_file(source)?;
    let mut paths = Paths { module: module_of(file), is_main: file == "main.rs", found: Vec::new() };
    paths.visit_file(&syntax);
    let mut out = Vec::new();
    for (line, resolved) in paths.found {
        let path = match resolved {
            Ok(path) => path,
            Err(path) => {
                out.push(Violation { file: file.into(), line, path, why: "climbs above the crate root" });
                continue;
            }
        };
        // The first rule that refuses the path says why; rules may overlap.
        let refusing = RULES.iter().filter(|r| applies(r, file)).find(|rule| {
            rule.forbidden.iter().any(|f| under(&path, f)) && !rule.allowed.iter().any(|a| under(&path, a))
        });
        if let Some(rule) = refusing {
            out.push(Violation { file: file.into(), line, path, why: rule.why });
        }
    }
    Ok(out)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `.rs` files under `dir` (of the package), named relative to it.
fn source_files_in(dir: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files = Vec::new();
    sources(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name, text)
        })
        .collect()
}

fn source_files() -> Vec<(String, String)> {
    source_files_in("src")
}

#[test]
fn no_source_file_reaches_across_a_boundary() {
    let files = source_files();
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut all = Vec::new();
    for (name, text) in &files {
        all.extend(check(name, text).unwrap_or_else(|e| panic!("src/{name}: {e}")));
    }
    let listed: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert!(all.is_empty(), "{} paths cross a boundary:\n{}", all.len(), listed.join("\n"));
}

/// Where the crate's hidden re-export of the emulator's engine may be used.
const BENCH_SUPPORT_USERS: &[&str] = &["benches/emulator.rs"];

/// Paths to `bench_support` in a file of `tests/` or `benches/` that may not use it.
fn bench_support_uses(file: &str, text: &str) -> Vec<String> {
    let syntax = syn::parse_file(text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut paths = Paths { module: Vec::new(), is_main: false, found: Vec::new() };
    paths.visit_file(&syntax);
    if BENCH_SUPPORT_USERS.contains(&file) {
        return Vec::new();
    }
    let path_of = |found: Result<String, String>| found.unwrap_or_else(|written| written);
    paths
        .found
        .into_iter()
        .map(|(line, found)| (line, path_of(found)))
        .filter(|(_, path)| under(path, "grep11_harness::bench_support"))
        .map(|(line, path)| format!("{file}:{line}: `{path}`"))
        .collect()
}

#[test]
fn tests_and_benches_reach_internals_only_where_allowed() {
    // `bench_support` exists for an in-process timing of the engine; tests of the engine
    // are unit tests in the crate, and everything else goes through the public API (which
    // the compiler enforces, since the rest is `pub(crate)`).
    let mut found = Vec::new();
    for dir in ["tests", "benches"] {
        for (name, text) in source_files_in(dir) {
            found.extend(bench_support_uses(&format!("{dir}/{name}"), &text));
        }
    }
    assert!(found.is_empty(), "bench_support used outside {BENCH_SUPPORT_USERS:?}:\n{}", found.join("\n"));
}

#[test]
fn every_source_file_belongs_to_a_part() {
    // A new top-level module must be placed in one of the parts, so the rules cover it.
    for (name, _) in source_files() {
        let top = name.split(['/', '.']).next().unwrap();
        let placed = ["lib", "main", "emulator"].contains(&top)
            || VOCABULARY.contains(&top)
            || HARNESS.contains(&top)
            || EMBEDDING_POINTS.contains(&name.as_str());
        assert!(placed, "src/{name} is in no part: add it to VOCABULARY, HARNESS or the emulator");
    }
}

#[test]
fn the_check_can_fail() {
    let paths = |file, text| -> Vec<String> {
        check(file, text).unwrap().into_iter().map(|v| format!("{}:{}", v.line, v.path)).collect()
    };
    // The reference naming the emulator, directly, by climbing out, in an expression, a
    // type and inside a macro.
    let reference = "use crate::pkcs11::CKM_SHA256;\n\
                     use crate::emulator::engine::Engine;\n\
                     use super::super::super::emulator::mech;\n\
                     fn f() -> usize { crate::emulator::mech::rsa::MAX_BITS }\n\
                     fn g(_: &super::super::super::emulator::Emulator) {}\n\
                     fn h() { assert!(crate::emulator::mech::random::RANDOM_MAX > 0); }\n";
    assert_eq!(
        paths("runner/reference/rsa.rs", reference),
        [
            "2:crate::emulator::engine::Engine",
            "3:crate::emulator::mech",
            "4:crate::emulator::mech::rsa::MAX_BITS",
            "5:crate::emulator::Emulator",
            "6:crate::emulator::mech::random::RANDOM_MAX",
        ]
    );
    // Two `super`s from runner/reference/rsa.rs reach only the runner; the harness rule
    // does not apply to the emulator's embedding points.
    assert!(paths("runner/reference/rsa.rs", "use super::super::Env;").is_empty());
    assert!(paths("cli/serve.rs", "use crate::emulator::Emulator;").is_empty());
    assert_eq!(paths("cli/run.rs", "use crate::emulator::Emulator;"), ["1:crate::emulator::Emulator"]);
    // AWS-LC in the reference: its digests only.
    assert!(paths("runner/reference/digest.rs", "use aws_lc_rs::digest as lc;").is_empty());
    assert_eq!(
        paths("runner/reference/ec.rs", "use aws_lc_rs::{digest, signature::EcdsaKeyPair};"),
        ["1:aws_lc_rs::signature::EcdsaKeyPair"]
    );
    // The emulator reaching the harness, from an inline test module too.
    assert_eq!(
        paths("emulator/engine.rs", "mod tests {\n    use super::super::super::client::Args;\n}"),
        ["2:crate::client::Args"]
    );
    assert_eq!(
        paths("emulator/mod.rs", "fn f() { crate::embedded::client(); }"),
        ["1:crate::embedded::client"]
    );
    // Vocabulary depending on a side.
    assert_eq!(paths("rpc.rs", "use crate::runner::Env;"), ["1:crate::runner::Env"]);
    // Climbing above the crate root is refused outright.
    assert_eq!(paths("status.rs", "use super::super::x;"), ["1:super::super::x"]);
    // The binary names the library by its crate name.
    assert_eq!(paths("main.rs", "use grep11_harness::emulator::Config;"), ["1:crate::emulator::Config"]);
    // The engine's hidden re-export, from a test and from the one bench allowed it.
    let engine = "fn f() {\n    let e = grep11_harness::bench_support::Engine::new(&[0; 32]);\n}";
    assert_eq!(
        bench_support_uses("tests/integration/x.rs", engine),
        ["tests/integration/x.rs:2: `grep11_harness::bench_support::Engine::new`"]
    );
    assert!(bench_support_uses("benches/emulator.rs", engine).is_empty());
}
