//! Profiles: which cases a certification requires, which refusal codes an endpoint may give
//! instead of the preferred one (`non-strict`), and known deviations with their reasons.
//! A profile lives in `suites/profiles/<name>.yaml`:
//!
//! ```yaml
//! profile: core
//! description: The seed-table functions on mechanisms every GREP11 service offers.
//! suites: [random, digest]        # empty or absent: every suite; a name no file defines is refused
//! wires: [keyblob, legacy]        # wire generations the selection runs under (absent: --wire)
//! tags: []                        # when given, only cases (or suites) with one of these tags
//! exclude:                        # case id globs, each with a reason
//!   - {case: "keys/*p384*", reason: "..."}
//! accept:                         # allowed but not preferred answers
//!   - {expected: CKR_SAVED_STATE_INVALID, also: [CKR_OPERATION_NOT_INITIALIZED], reason: "..."}
//! deviations:                     # cases known to fail on the endpoint this profile describes
//!   - {case: "attributes/set-read-only", reason: "..."}
//! strict: false                    # true: also the cases tagged `pkcs11-strict`
//! ```
//!
//! Cases tagged [`STRICT_TAG`] assert textbook PKCS #11 where IBM's service is lenient
//! (docs/service-behaviour.md); only a profile with `strict: true` selects them, so no
//! run without one (the default run included) expects a refusal the service does not make.
//!
//! A deviations file given with `--deviations` has the same `deviations:` list alone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::Deserializer;
use wildmatch::WildMatch;

use super::by_name::ByName;
use super::expand::CaseInstance;
use super::load::LoadError;
use super::yaml;
use crate::client::Wire;
use crate::pkcs11::CkRv;

/// A case-id pattern: `*` any run of characters, `?` one; everything else literal.
#[derive(Clone, Debug)]
pub struct IdPattern {
    /// The pattern as written.
    pub text: String,
    matcher: WildMatch,
}

impl IdPattern {
    /// Whether the whole of `id` matches (case-sensitive).
    pub fn matches(&self, id: &str) -> bool {
        self.matcher.matches(id)
    }
}

impl<'de> Deserialize<'de> for IdPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        // Only `*` and `?` are wildcards, as wildmatch reads a pattern: case ids hold `[`,
        // `]` and `,` literally (`aes/x[mech=CKM_AES_CBC,len=16]`), and `*` crosses `/`.
        Ok(IdPattern { matcher: WildMatch::new(&text), text })
    }
}

/// An excluded or deviating case pattern, with why.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reasoned {
    /// `case:`, the ids it covers.
    pub case: IdPattern,
    /// `reason:`, shown with every case it covers.
    pub reason: String,
}

/// Answers an endpoint may give instead of the one a case prefers.
#[derive(Clone, Debug)]
pub struct Accept {
    /// The code a case expects.
    pub expected: CkRv,
    /// The codes accepted in its place.
    pub also: Vec<CkRv>,
    /// Why the endpoint may answer so; reported with each case that relied on it.
    pub reason: String,
}

impl<'de> Deserialize<'de> for Accept {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            expected: ByName<CkRv>,
            also: Vec<ByName<CkRv>>,
            reason: String,
        }
        let raw = Raw::deserialize(d)?;
        Ok(Accept {
            expected: raw.expected.0,
            also: raw.also.into_iter().map(|c| c.0).collect(),
            reason: raw.reason,
        })
    }
}

/// The tag of cases that only a `strict: true` profile selects.
pub const STRICT_TAG: &str = "pkcs11-strict";

/// A profile (see the module docs for its YAML). [`Profile::default`] is the selection
/// without one: every suite, no exclusions, no strict cases.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// `profile:`; empty for the default profile.
    #[serde(rename = "profile")]
    pub name: String,
    /// `description:`, for reports.
    #[serde(default)]
    pub description: String,
    /// `suites:`, the suite ids selected; empty: every suite.
    #[serde(default)]
    pub suites: Vec<String>,
    /// `tags:`; when not empty, only cases with one of these tags (their own or their
    /// suite's) are selected.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The wire generations a certification requires: the whole selection runs under each
    /// (ids then end in `@keyblob`, `@legacy`). Empty: the one `--wire` names.
    #[serde(default)]
    pub wires: Vec<Wire>,
    /// `exclude:`, cases not selected, each with why.
    #[serde(default)]
    pub exclude: Vec<Reasoned>,
    /// `accept:`, refusal codes allowed in place of the preferred one.
    #[serde(default)]
    pub accept: Vec<Accept>,
    /// `deviations:` (and those of `--deviations` files): cases known to fail on the
    /// endpoint; they still run, and a failure is reported as a known deviation.
    #[serde(default)]
    pub deviations: Vec<Reasoned>,
    /// Whether the cases tagged [`STRICT_TAG`] are selected.
    #[serde(default)]
    pub strict: bool,
    /// `--filter`: only ids containing this text, compared in lower case.
    #[serde(skip)]
    pub id_filter: Option<String>,
    /// The file the profile was read from (none for the default profile).
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviationsFile {
    deviations: Vec<Reasoned>,
}

impl Profile {
    /// A profile by file path, or by name under `<root>/profiles/`.
    pub fn load(name_or_path: &str, root: &Path) -> Result<Profile, LoadError> {
        let path = if name_or_path.ends_with(".yaml") || name_or_path.contains('/') {
            PathBuf::from(name_or_path)
        } else {
            root.join("profiles").join(format!("{name_or_path}.yaml"))
        };
        let mut profile: Profile = yaml::read_file(&path)?;
        profile.file = Some(path);
        Ok(profile)
    }

    /// The suites the profile names that none of `known` (the loaded suite ids) is: a
    /// profile that names a missing suite would certify without its cases.
    pub fn unknown_suites<'a>(&'a self, known: &BTreeSet<&str>) -> Vec<&'a str> {
        self.suites.iter().map(String::as_str).filter(|s| !known.contains(s)).collect()
    }

    /// Adds the deviations of a `--deviations` file.
    pub fn add_deviations(&mut self, file: &Path) -> Result<(), LoadError> {
        let extra: DeviationsFile = yaml::read_file(file)?;
        self.deviations.extend(extra.deviations);
        Ok(())
    }

    /// Narrows the selection to ids containing `text` in any case (the command line's
    /// `--filter`: `sha256` finds `CKM_SHA256`).
    pub fn only_ids_containing(&mut self, text: &str) {
        self.id_filter = Some(text.to_owned());
    }

    /// Whether `--filter` (if any) keeps a case id. Generated cases (`discovery/*`) are
    /// selected by this alone: they belong to every profile.
    pub fn selects_id(&self, id: &str) -> bool {
        self.id_filter.as_ref().is_none_or(|text| id.to_lowercase().contains(&text.to_lowercase()))
    }

    /// Whether the profile selects a case, and if it excludes it, why.
    pub fn selects(&self, case: &CaseInstance) -> Result<(), String> {
        if let Some(text) = &self.id_filter
            && !self.selects_id(&case.id)
        {
            return Err(format!("not matched by --filter {text:?}"));
        }
        if !self.suites.is_empty() && !self.suites.contains(&case.suite.suite) {
            return Err(format!("profile {} does not include suite {}", self.name, case.suite.suite));
        }
        let strict_case = case.suite.tags.iter().chain(&case.case().tags).any(|t| t == STRICT_TAG);
        if strict_case && !self.strict {
            return Err(format!(
                "a strict PKCS #11 case: only a profile with `strict: true` selects it, not {}",
                if self.name.is_empty() { "the default selection" } else { self.name.as_str() }
            ));
        }
        if !self.tags.is_empty() {
            let tags = case.suite.tags.iter().chain(&case.case().tags);
            if !tags.into_iter().any(|t| self.tags.contains(t)) {
                return Err(format!("profile {} selects tags {}", self.name, self.tags.join(", ")));
            }
        }
        match self.exclude.iter().find(|e| e.case.matches(&case.id)) {
            Some(e) => Err(format!("excluded by profile {}: {}", self.name, e.reason)),
            None => Ok(()),
        }
    }

    /// The reason a case is a known deviation, if it is one. `base` is the id without its
    /// wire-generation suffix: a pattern may name either.
    pub fn deviation(&self, id: &str, base: &str) -> Option<&str> {
        self.deviations.iter().find(|d| d.case.matches(id) || d.case.matches(base)).map(|d| d.reason.as_str())
    }

    /// The accepted alternative that covers `got` when one of `expected` was preferred.
    pub fn accepts(&self, expected: &[CkRv], got: CkRv) -> Option<&Accept> {
        self.accept.iter().find(|a| expected.contains(&a.expected) && a.also.contains(&got))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_cases_need_a_strict_profile() {
        let text = "suite: s\ncases:\n  - name: lenient\n    id: lenient\n    steps: [{GenerateRandom: {len: 1}}]\n  - name: strict\n    id: strict\n    tags: [pkcs11-strict]\n    steps: [{GenerateRandom: {len: 1}}]\n";
        let suite = super::super::load::load_str(Path::new("s.yaml"), text).unwrap();
        let cases = super::super::expand::expand(vec![suite]);
        let picked = |p: &Profile| {
            cases.iter().filter(|c| p.selects(c).is_ok()).map(|c| c.id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(picked(&Profile::default()), ["s/lenient"]);
        let strict: Profile = yaml::from_str("profile: p\nstrict: true\n").unwrap();
        assert_eq!(picked(&strict), ["s/lenient", "s/strict"]);
    }

    #[test]
    fn patterns_cross_slashes_and_codes_are_checked() {
        let p: Profile = yaml::from_str(
            "profile: t\naccept:\n  - {expected: CKR_SAVED_STATE_INVALID, also: [CKR_OPERATION_NOT_INITIALIZED], reason: r}\ndeviations:\n  - {case: \"keys/*[curve=P-384]\", reason: no P-384}\n",
        )
        .unwrap();
        assert_eq!(p.deviation("keys/sign[curve=P-384]", "keys/sign[curve=P-384]"), Some("no P-384"));
        assert_eq!(p.deviation("keys/sign[curve=P-384]@legacy", "keys/sign[curve=P-384]"), Some("no P-384"));
        assert_eq!(p.deviation("keys/sign[curve=P-256]", "keys/sign[curve=P-256]"), None);
        // `?` is one character; brackets and backslashes are the case id's own.
        let one: IdPattern = yaml::from_str("'k?ys/sign[curve=P-38?]\\'").unwrap();
        assert!(one.matches("keys/sign[curve=P-384]\\"));
        assert!(!one.matches("keys/sign[curve=P-384]"));
        assert!(!one.matches("kys/sign[curve=P-384]\\"));
        assert!(!one.matches("keys/signc"));
        let accepted = p
            .accepts(&[crate::pkcs11::CKR_SAVED_STATE_INVALID], crate::pkcs11::CKR_OPERATION_NOT_INITIALIZED);
        assert!(accepted.is_some());
        assert!(
            p.accepts(&[crate::pkcs11::CKR_SAVED_STATE_INVALID], crate::pkcs11::CKR_GENERAL_ERROR).is_none()
        );
        let bad =
            yaml::from_str::<Profile>("profile: t\naccept:\n  - {expected: CKR_NOPE, also: [], reason: r}\n");
        assert!(bad.unwrap_err().to_string().contains("unknown return value \"CKR_NOPE\""));
    }

    #[test]
    fn the_filter_ignores_case_and_profiles_name_their_wires_and_suites() {
        let mut p: Profile =
            yaml::from_str("profile: t\nsuites: [digest, nope]\nwires: [keyblob, legacy]\n").unwrap();
        assert_eq!(p.wires, [Wire::Keyblob, Wire::Legacy]);
        assert_eq!(p.unknown_suites(&BTreeSet::from(["digest", "aes"])), ["nope"]);
        p.only_ids_containing("sha256");
        assert!(p.selects_id("digest/kat[mech=CKM_SHA256]"));
        assert!(!p.selects_id("digest/kat[mech=CKM_SHA384]"));
        assert!(yaml::from_str::<Profile>("profile: t\nwires: [pkcs]\n").is_err());
    }
}
