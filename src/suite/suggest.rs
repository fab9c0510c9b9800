//! "Did you mean": a suite problem that names something unknown gets the closest known
//! spelling appended, when one is close. A name that stands for a constant (a PKCS #11
//! name, an MGF, a gRPC code) gets it where it is looked up (`by_name`); the problems
//! worded elsewhere (an unknown step, argument or variable, in `model` and `load`) are read
//! here by their common shapes, so each gains a suggestion without its site knowing how.

use super::by_name::Named;
use super::model::LocalOp;
use crate::rpc::Rpc;

/// The closest candidate to `name`, if close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let name_upper = name.to_ascii_uppercase();
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (strsim::jaro_winkler(&name_upper, &c.to_ascii_uppercase()), c))
        .filter(|(score, _)| *score >= 0.88)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

/// The text between the first pair of double quotes after `marker`.
fn quoted_after<'a>(message: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let rest = rest.strip_prefix('"')?;
    Some(&rest[..rest.find('"')?])
}

/// `message` with "; did you mean X?" appended when it names an unknown thing that is
/// close to a known one.
pub fn annotate(message: &str) -> String {
    let suggestion = suggestion(message);
    match suggestion {
        Some(s) if !message.contains("did you mean") => format!("{message}; did you mean {s}?"),
        _ => message.to_owned(),
    }
}

fn suggestion(message: &str) -> Option<String> {
    if let Some(name) = quoted_after(message, "unknown step ") {
        let local = <LocalOp as Named>::names();
        return closest(name, Rpc::ALL.iter().map(|r| r.name()).chain(local)).map(str::to_owned);
    }
    // `unknown argument "length" for GenerateRandom; expected len` (a list, comma separated)
    if let Some(name) = quoted_after(message, "unknown argument ") {
        let expected = &message[message.find("; expected ")? + "; expected ".len()..];
        let list = expected.split(['(', ';']).next().unwrap_or("");
        return closest(name, list.split(',').map(|w| w.trim().trim_start_matches("or ").trim()))
            .map(str::to_owned);
    }
    // `undefined variable $sta (defined so far: $st, $x)`
    if let Some(at) = message.find("undefined variable $") {
        let rest = &message[at + "undefined variable $".len()..];
        let name = rest.split(|c: char| c.is_whitespace() || c == ')').next()?;
        let defined = &rest[rest.find("defined so far: ")? + "defined so far: ".len()..];
        let defined = defined.split(')').next()?;
        return closest(name, defined.split(',').map(|v| v.trim().trim_start_matches('$')))
            .map(|v| format!("${v}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_closest_known_spelling() {
        assert!(annotate(r#"unknown step "SignSingel": expected"#).ends_with("did you mean SignSingle?"));
        assert!(
            annotate(r#"unknown step "local.digestt": expected"#).ends_with("did you mean local.digest?")
        );
        assert!(
            annotate(r#"unknown argument "lenght" for GenerateRandom; expected len"#)
                .ends_with("did you mean len?")
        );
        assert!(
            annotate("step 2 Digest: undefined variable $sta (defined so far: $st, $key)")
                .ends_with("did you mean $st?")
        );
        // Nothing close: no guess.
        assert_eq!(annotate(r#"unknown step "FOO""#), r#"unknown step "FOO""#);
        // A name already suggested where it was looked up is left as it is.
        let once = r#"unknown step "SignSingel"; did you mean SignSingle?"#;
        assert_eq!(annotate(once), once);
    }
}
