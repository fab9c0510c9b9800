//! Matrix expansion: one case in a suite becomes one `CaseInstance` per parameter
//! combination, each with a stable, filterable id `suite/case[name=value,...]`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::expr::Expr;
use super::model::{Action, ArgValue, Case, Expect, Matrix, Param, Suite, Sym};
use crate::pkcs11::CkMechanismType;
use crate::rpc::Rpc;

/// One runnable case: a case of a suite with its matrix parameters bound.
#[derive(Clone, Debug)]
pub struct CaseInstance {
    /// `suite/case[name=value,...]` (`[tc=N]` for a published vector), unique in a run;
    /// what profile patterns, `--filter` and reports use.
    pub id: String,
    /// The suite the case belongs to, shared by all its instances.
    pub suite: Arc<Suite>,
    /// The case's index in the suite's `cases` (see [`CaseInstance::case`]).
    pub case: usize,
    /// The matrix (or vector) parameters of this instance, in matrix order.
    pub params: Vec<(String, Param)>,
    /// Mechanisms the endpoint must offer for this case to be meaningful.
    pub requires: BTreeSet<CkMechanismType>,
    /// Every RPC the case calls, with the mechanism it works under, in step order.
    pub calls: Vec<PlannedCall>,
}

/// One RPC a case calls and the mechanism it works under: its own `mech` argument, or for
/// calls that continue an operation (`Sign`, `EncryptUpdate`, ...) the mechanism of the
/// `*Init` whose state they are given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct PlannedCall {
    /// The RPC called (`function` when serialised).
    #[serde(rename = "function")]
    pub rpc: Rpc,
    /// `None` when the call takes no mechanism, or its mechanism is a variable the matrix
    /// does not set.
    pub mechanism: Option<CkMechanismType>,
    /// The step expects success (a refusal probe does not exercise the mechanism).
    pub expects_ok: bool,
}

impl CaseInstance {
    /// The case this is an instance of.
    pub fn case(&self) -> &Case {
        &self.suite.cases[self.case]
    }

    /// The value of a matrix parameter, if this instance sets it.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }
}

fn combinations(case: &Case) -> Vec<Vec<(String, Param)>> {
    if let Some(vectors) = &case.vectors {
        return vectors.rows().to_vec();
    }
    match &case.matrix {
        None => vec![Vec::new()],
        Some(Matrix::Rows(rows)) => rows.clone(),
        Some(Matrix::Product(axes)) => {
            let mut out: Vec<Vec<(String, Param)>> = vec![Vec::new()];
            for (name, values) in axes {
                out = out
                    .into_iter()
                    .flat_map(|prefix| {
                        values.iter().map(move |v| {
                            let mut row = prefix.clone();
                            row.push((name.clone(), v.clone()));
                            row
                        })
                    })
                    .collect();
            }
            out
        }
    }
}

/// Expands every case of the suites, in file and case order.
pub fn expand(suites: Vec<Suite>) -> Vec<CaseInstance> {
    let mut out = Vec::new();
    for suite in suites {
        let suite = Arc::new(suite);
        for (index, case) in suite.cases.iter().enumerate() {
            for params in combinations(case) {
                let mut id = format!("{}/{}", suite.suite, case.id());
                if case.vectors.is_some() {
                    // A vector is named by its test id; its bytes would make an unreadable id.
                    if let Some((_, tc)) = params.first() {
                        id = format!("{id}[tc={tc}]");
                    }
                } else if !params.is_empty() {
                    let parts: Vec<String> = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
                    id = format!("{id}[{}]", parts.join(","));
                }
                let calls = planned_calls(case, &params);
                let requires = suite
                    .requires
                    .iter()
                    .chain(&case.requires)
                    .map(|m| m.0)
                    .chain(calls.iter().filter(|c| c.expects_ok).filter_map(|c| c.mechanism))
                    .collect();
                out.push(CaseInstance {
                    id,
                    suite: Arc::clone(&suite),
                    case: index,
                    params,
                    requires,
                    calls,
                });
            }
        }
    }
    out
}

/// The calls a case makes. Requirements follow from them: the mechanisms of calls that
/// must succeed, so that a case whose endpoint lacks one is `unsupported`, not failed.
fn planned_calls(case: &Case, params: &[(String, Param)]) -> Vec<PlannedCall> {
    let resolve = |sym: &Sym<CkMechanismType>| match sym {
        Sym::Value(m) => Some(*m),
        Sym::Var(v) => match params.iter().find(|(n, _)| n == v) {
            Some((_, Param::Name(_, value) | Param::Int(value))) => Some(CkMechanismType(*value)),
            _ => None,
        },
    };
    // Which mechanism each saved State variable belongs to.
    let mut state_mechanism: HashMap<&str, CkMechanismType> = HashMap::new();
    // Mechanisms bound to a fixture's parameters by `use: .. with:`.
    let mut bound: HashMap<String, CkMechanismType> = HashMap::new();
    let mut out = Vec::new();
    for step in &case.steps {
        for (name, value) in &step.binds {
            let m = match value {
                Param::Name(_, v) | Param::Int(v) => Some(CkMechanismType(*v)),
                Param::Expr(Expr::Var(v)) => bound.get(v).copied().or_else(|| resolve(&Sym::Var(v.clone()))),
                _ => None,
            };
            match m {
                Some(m) => bound.insert(name.clone(), m),
                None => bound.remove(name),
            };
        }
        let Action::Call(rpc) = step.action else { continue };
        let own = step.args.values().find_map(|arg| match arg {
            ArgValue::Mechanism(spec) => match &spec.mech {
                Sym::Var(v) if bound.contains_key(v) => bound.get(v).copied(),
                sym => resolve(sym),
            },
            _ => None,
        });
        let continued = match step.args.get("state") {
            Some(ArgValue::Bytes(Expr::Var(v))) => state_mechanism.get(v.as_str()).copied(),
            _ => None,
        };
        let mechanism = own.or(continued);
        if let Some(m) = mechanism {
            for (var, field) in &step.save {
                if field == "State" {
                    state_mechanism.insert(var, m);
                }
            }
        }
        out.push(PlannedCall { rpc, mechanism, expects_ok: matches!(step.expect, Expect::Ok(_)) });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs11::{CKM_AES_CBC, CKM_AES_ECB, CKM_AES_KEY_GEN, CKM_SHA256};
    use std::path::Path;

    #[test]
    fn product_matrix_expands_with_readable_ids_and_requirements() {
        let text = "suite: aes\ncases:\n  - name: Round trip\n    matrix: {mech: [CKM_AES_ECB, CKM_AES_CBC], len: [16, 32]}\n    steps:\n      - GenerateKey: {mech: CKM_AES_KEY_GEN, template: {CKA_VALUE_LEN: $len}}\n      - GetMechanismInfo: {mech: $mech}\n      - GetMechanismInfo: {mech: CKM_SHA256}\n        expect: {error: CKR_MECHANISM_INVALID}\n";
        let suite = super::super::load::load_str(Path::new("aes.yaml"), text).unwrap();
        let cases = expand(vec![suite]);
        let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "aes/round-trip[mech=CKM_AES_ECB,len=16]",
                "aes/round-trip[mech=CKM_AES_ECB,len=32]",
                "aes/round-trip[mech=CKM_AES_CBC,len=16]",
                "aes/round-trip[mech=CKM_AES_CBC,len=32]"
            ]
        );
        assert_eq!(cases[0].requires, BTreeSet::from([CKM_AES_KEY_GEN, CKM_AES_ECB]));
        assert_eq!(cases[2].requires, BTreeSet::from([CKM_AES_KEY_GEN, CKM_AES_CBC]));
    }

    #[test]
    fn continuing_calls_inherit_the_mechanism_of_their_state() {
        let text = "suite: d\ncases:\n  - name: c\n    steps:\n      - DigestInit: {mech: CKM_SHA256}\n        save: {st: State}\n      - DigestUpdate: {state: $st, data: \"hex:00\"}\n        save: {st2: State}\n      - DigestFinal: {state: $st2}\n      - GenerateRandom: {len: 1}\n";
        let suite = super::super::load::load_str(Path::new("d.yaml"), text).unwrap();
        let calls: Vec<(Rpc, Option<CkMechanismType>)> =
            expand(vec![suite])[0].calls.iter().map(|c| (c.rpc, c.mechanism)).collect();
        assert_eq!(
            calls,
            [
                (Rpc::DigestInit, Some(CKM_SHA256)),
                (Rpc::DigestUpdate, Some(CKM_SHA256)),
                (Rpc::DigestFinal, Some(CKM_SHA256)),
                (Rpc::GenerateRandom, None)
            ]
        );
    }
}
