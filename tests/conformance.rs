//! Every suite case against the embedded emulator, one libtest-mimic trial per expanded
//! case, named by its id (`cargo test --test conformance -- aes/`). The same runner as
//! `grep11-harness run`, so CI and certification cannot disagree. A case whose mechanism
//! the emulator does not list fails (nothing is ignored), as does any outcome but pass.

use std::sync::Arc;

use std::time::Duration;

use grep11_harness::client::Wire;
use grep11_harness::emulator::{Fault, FaultSet};
use grep11_harness::runner::{self, Outcome};
use grep11_harness::suite::Profile;
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let runtime = Arc::new(tokio::runtime::Runtime::new().expect("a tokio runtime"));
    let suites = grep11_harness::suite::load_paths(&["suites".into()]).unwrap_or_else(|errors| {
        for e in &errors {
            eprintln!("{e}");
        }
        panic!("{} problem(s) in suites/", errors.len());
    });
    let cases = grep11_harness::suite::expand(suites);
    // `GREP11_CONFORMANCE_FAULTS=mechanism-list-drops,...` runs the trials against a faulty
    // emulator: the way to see that a missing mechanism fails its cases.
    let faults: FaultSet = std::env::var("GREP11_CONFORMANCE_FAULTS")
        .unwrap_or_default()
        .split(',')
        .filter(|name| !name.is_empty())
        .map(|name| name.parse::<Fault>().unwrap_or_else(|e| panic!("GREP11_CONFORMANCE_FAULTS: {e}")))
        .collect();
    let client = runtime.block_on(async {
        grep11_harness::embedded::faulty_client(faults, Wire::Keyblob, Duration::from_secs(30))
    });
    let caps = runtime.block_on(runner::discover(&client)).expect("the emulator lists its mechanisms");
    let trials = cases
        .into_iter()
        .map(|case| {
            // The emulator must serve every mechanism the suites use: a mechanism it stops
            // listing fails its cases here rather than turning them into ignored tests.
            let missing: Vec<String> = case
                .requires
                .iter()
                .filter(|m| !caps.mechanisms.contains(m))
                .map(|m| m.to_string())
                .collect();
            let (runtime, client) = (Arc::clone(&runtime), client.clone());
            let id = case.id.clone();
            // The emulator is lenient where IBM's service is (docs/service-behaviour.md), so
            // each textbook-PKCS #11 case must fail against it, on the refusal it expects.
            let strict = Profile::default().selects(&case).is_err();
            Trial::test(id, move || {
                if !missing.is_empty() {
                    return Err(Failed::from(format!(
                        "the emulator does not list {}, which this case needs",
                        missing.join(", ")
                    )));
                }
                let result = runtime.block_on(runner::run_case(&client, &case, &Profile::default()));
                match result.outcome {
                    Outcome::Pass if !strict => Ok(()),
                    Outcome::Fail
                        if strict && result.message.as_deref().is_some_and(|m| m.contains("got CKR_OK")) =>
                    {
                        Ok(())
                    }
                    other if strict => Err(Failed::from(format!(
                        "a strict case must fail on a refusal the lenient emulator does not make, got {}: {}",
                        other.name(),
                        result.message.unwrap_or_default()
                    ))),
                    other => {
                        Err(Failed::from(format!("{}: {}", other.name(), result.message.unwrap_or_default())))
                    }
                }
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
