//! Who is to blame when a step does not do what the suite expects, and the one place that
//! turns blame into a case's outcome: only the endpoint's own wrong answer is a `fail`;
//! everything else means the case could not be judged, an `error`.

use super::outcome::Outcome;

/// Who is to blame for a step that did not do what the suite expects. The code that knows
/// decides: the judge of a call (what came back), the evaluation of an expression (the
/// suite's variables), a local step (which of its inputs are the endpoint's answers).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Blame {
    /// The endpoint answered wrongly: another code, wrong bytes, a malformed response, a
    /// signature or ciphertext the reference cryptography refutes.
    Endpoint,
    /// The suite asks for what cannot be done: a variable it never set, a value of the wrong
    /// kind, a local computation the harness does not make or with a parameter missing.
    Suite,
    /// The harness failed at its own part (its cryptography library refused valid input).
    Harness,
    /// There is no PKCS #11 answer to judge: no answer at all, a status without a
    /// `Grep11Error`, or the credentials refused.
    Transport,
}

impl Blame {
    /// The case's outcome when a step fails with this blame.
    pub fn outcome(self) -> Outcome {
        match self {
            Blame::Endpoint => Outcome::Fail,
            Blame::Suite | Blame::Harness | Blame::Transport => Outcome::Error,
        }
    }

    /// `why` as a reader of the report needs it: a suite's or the harness's mistake says so,
    /// since an `error` otherwise reads as trouble reaching the endpoint.
    pub fn explain(self, why: impl std::fmt::Display) -> String {
        match self {
            Blame::Endpoint | Blame::Transport => why.to_string(),
            Blame::Suite => format!("suite error: {why}"),
            Blame::Harness => format!("harness error: {why}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_endpoint_fails_a_case() {
        assert_eq!(Blame::Endpoint.outcome(), Outcome::Fail);
        for blame in [Blame::Suite, Blame::Harness, Blame::Transport] {
            assert_eq!(blame.outcome(), Outcome::Error, "{blame:?}");
        }
        assert_eq!(Blame::Suite.explain("variable $k is not set"), "suite error: variable $k is not set");
        assert_eq!(Blame::Endpoint.explain("Digest: expected x"), "Digest: expected x");
    }
}
