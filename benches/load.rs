//! Per-call overhead of load mode: one GenerateRandom(32) iteration through the harness
//! client against the embedded emulator (the client, HTTP/2 in memory and the emulator
//! together), and recording one latency (the lock and histogram increment every call pays).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use grep11_harness::client::Wire;
use grep11_harness::embedded::direct_clients;
use grep11_harness::load::record::Recorder;
use grep11_harness::load::workload::{Outcome, catalogue};

fn iteration(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (client, ready) = runtime.block_on(async {
        let client = direct_clients(1, Wire::Keyblob, Duration::from_secs(5)).await.unwrap().remove(0);
        let w = catalogue().unwrap().into_iter().find(|w| w.name == "random-32").unwrap();
        let ready = w.setup(&client).await.unwrap();
        (client, ready)
    });
    let mut env = ready.env();
    c.bench_function("load/iteration random-32 (client + in-memory emulator)", |b| {
        b.iter(|| {
            assert_eq!(
                runtime.block_on(ready.iterate(&client, &mut env, false)),
                Outcome::Ok { checked: false }
            )
        })
    });
}

fn recording(c: &mut Criterion) {
    let recorder = Arc::new(Recorder::new(vec!["w".into()], true));
    let phase = recorder.begin("run", None, false);
    let t = Instant::now();
    let mut n = 0u64;
    c.bench_function("load/record one latency (open loop: corrected and uncorrected)", |b| {
        b.iter(|| {
            n = (n + 7919) % 10_000_000;
            let done = t + Duration::from_nanos(10_000 + n);
            recorder.record(phase, 0, t, t, done, &Outcome::Ok { checked: false });
        })
    });
}

criterion_group!(benches, iteration, recording);
criterion_main!(benches);
