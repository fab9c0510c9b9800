//! Wall time of a whole run of `suites/` against the embedded emulator, the same path as
//! `grep11-harness run` with no endpoint: load, expand, discover, run every case.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use grep11_harness::client::Wire;
use grep11_harness::runner::{self, Outcome};

fn whole_run(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let client =
        runtime.block_on(async { grep11_harness::embedded::client(Wire::Keyblob, Duration::from_secs(30)) });
    let profile = std::sync::Arc::new(grep11_harness::suite::Profile::default());
    let mut group = c.benchmark_group("suites");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("run all against embedded emulator", |b| {
        b.iter(|| {
            let cases = grep11_harness::suite::expand(
                grep11_harness::suite::load_paths(&["suites".into()]).expect("suites load"),
            );
            let (_, results) = runtime.block_on(runner::run(&client, &cases, 8, &profile, |_| {}));
            // A benchmark of a broken run would measure the wrong thing. (Cases the default
            // profile leaves out or the emulator does not offer are skipped, not failures.)
            let broken: Vec<_> = results.iter().filter(|r| r.fails_run()).map(|r| &r.id).collect();
            assert!(broken.is_empty(), "cases that fail the run: {broken:?}");
            assert!(results.iter().any(|r| r.outcome == Outcome::Pass));
            results.len()
        })
    });
    group.finish();
}

criterion_group!(benches, whole_run);
criterion_main!(benches);
