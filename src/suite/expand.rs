//! Matrix expansion: one case in a suite becomes one `CaseInstance` per parameter
//! combination, each with a stable, filterable id `suite/case[name=value,...]`.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::model::{ArgValue, Case, Expect, Matrix, Param, Suite, Sym};
use crate::pkcs11::CkMechanismType;

/// One runnable case: a case of a suite with its matrix parameters bound.
#[derive(Clone, Debug)]
pub struct CaseInstance {
    pub id: String,
    pub suite: Arc<Suite>,
    pub case: usize,
    pub params: Vec<(String, Param)>,
    /// Mechanisms the endpoint must offer for this case to be meaningful.
    pub requires: BTreeSet<CkMechanismType>,
}

impl CaseInstance {
    pub fn case(&self) -> &Case {
        &self.suite.cases[self.case]
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }
}

fn combinations(matrix: &Option<Matrix>) -> Vec<Vec<(String, Param)>> {
    match matrix {
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
            for params in combinations(&case.matrix) {
                let mut id = format!("{}/{}", suite.suite, case.id());
                if !params.is_empty() {
                    let parts: Vec<String> = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
                    id = format!("{id}[{}]", parts.join(","));
                }
                let requires = requirements(&suite, case, &params);
                out.push(CaseInstance { id, suite: Arc::clone(&suite), case: index, params, requires });
            }
        }
    }
    out
}

/// What the suite and case declare, plus every mechanism a step that must succeed sends:
/// a case whose endpoint lacks one is `unsupported`, not failed. Mechanisms in steps that
/// expect an error are probes of refusal, so they are not requirements.
fn requirements(suite: &Suite, case: &Case, params: &[(String, Param)]) -> BTreeSet<CkMechanismType> {
    let mut out: BTreeSet<CkMechanismType> =
        suite.requires.iter().chain(&case.requires).map(|m| m.0).collect();
    for step in &case.steps {
        if !matches!(step.expect, Expect::Ok(_)) || matches!(step.action, super::model::Action::Local(_)) {
            continue;
        }
        for arg in step.args.values() {
            if let ArgValue::Mechanism(spec) = arg {
                match &spec.mech {
                    Sym::Value(m) => {
                        out.insert(*m);
                    }
                    Sym::Var(v) => {
                        if let Some((_, Param::Name(_, value) | Param::Int(value))) =
                            params.iter().find(|(n, _)| n == v)
                        {
                            out.insert(CkMechanismType(*value));
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs11::{CKM_AES_CBC, CKM_AES_ECB, CKM_AES_KEY_GEN};
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
}
