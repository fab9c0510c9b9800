//! The suites' reach, checked without running them: every seed-table function has a case
//! that expects it to succeed and one that expects it to fail, and every mechanism the
//! emulator advertises is needed by some case (used in a step that must succeed). Prints
//! the function table.

use std::collections::{BTreeMap, BTreeSet};

use grep11_harness::client::{Args, Value, Wire};
use grep11_harness::pkcs11::CkMechanismType;
use grep11_harness::rpc::Rpc;
use grep11_harness::suite::{Action, Expect, expand, load_paths};

#[test]
fn every_seed_function_and_advertised_mechanism_has_cases() {
    let cases = expand(load_paths(&["suites".into()]).expect("suites load"));
    let mut positive: BTreeMap<Rpc, usize> = BTreeMap::new();
    let mut negative: BTreeMap<Rpc, usize> = BTreeMap::new();
    let mut used: BTreeSet<CkMechanismType> = BTreeSet::new();
    for instance in &cases {
        used.extend(instance.requires.iter().copied());
        for step in &instance.case().steps {
            let Action::Call(rpc) = step.action else { continue };
            let counter = if matches!(step.expect, Expect::Ok(_)) { &mut positive } else { &mut negative };
            *counter.entry(rpc).or_default() += 1;
        }
    }

    println!("{:<18} {:>9} {:>9}", "function", "positive", "negative");
    let mut missing = Vec::new();
    for rpc in Rpc::seed_table() {
        let (p, n) = (positive.get(&rpc).copied().unwrap_or(0), negative.get(&rpc).copied().unwrap_or(0));
        println!("{:<18} {p:>9} {n:>9}", rpc.name());
        if p == 0 {
            missing.push(format!("{rpc}: no step expected to succeed"));
        }
        // GetMechanismList takes no input, so nothing can be wrong with a request to it.
        if n == 0 && rpc != Rpc::GetMechanismList {
            missing.push(format!("{rpc}: no step expected to fail"));
        }
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let advertised = runtime.block_on(async {
        let client = grep11_harness::embedded::client(Wire::Keyblob, std::time::Duration::from_secs(10));
        match client.call(Rpc::GetMechanismList, &Args::default()).await.unwrap().remove("Mechs") {
            Some(Value::Mechanisms(m)) => m,
            other => panic!("no mechanism list: {other:?}"),
        }
    });
    for m in advertised.into_iter().map(CkMechanismType) {
        if !used.contains(&m) {
            missing.push(format!("{m} is advertised by the emulator but no case uses it"));
        }
    }
    assert!(missing.is_empty(), "coverage gaps:\n{}", missing.join("\n"));
}
