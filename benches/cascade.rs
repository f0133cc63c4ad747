//! Throughput of Cascade on one core: 10⁵-bit frames at 2 % QBER on a binary symmetric
//! channel, every variant (the target is ≥ 2·10⁷ sifted bits/s for the fastest); throughput
//! is in sifted key bits reconciled (both parties simulated, input generation excluded).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use qecnet::postprocess::cascade::{CascadeConfig, CascadeVariant, binary_symmetric_pair, reconcile_pair};
use qecnet::rng::derive_rng;

fn cascade(c: &mut Criterion) {
    let n = 100_000;
    let qber = 0.02;
    let mut group = c.benchmark_group("cascade_1e5_qber2pct_one_core");
    group.sample_size(20);
    group.throughput(Throughput::Elements(n as u64));
    for variant in CascadeVariant::ALL {
        let config = CascadeConfig::new(variant, qber, n).unwrap();
        let mut frame = 0u64;
        group.bench_function(variant.name(), |b| {
            b.iter_batched(
                || {
                    frame += 1;
                    let (alice, bob) = binary_symmetric_pair(n, qber, &mut derive_rng(9, &[frame]));
                    (alice, bob, frame)
                },
                |(alice, mut bob, seed)| reconcile_pair(&alice, &mut bob, &config, seed).unwrap(),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, cascade);
criterion_main!(benches);
