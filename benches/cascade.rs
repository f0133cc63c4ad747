//! Throughput of Cascade on one core: 10⁵-bit frames at 2 % QBER on a binary symmetric
//! channel, every variant (the target is ≥ 2·10⁷ sifted bits/s for the fastest); throughput
//! is in sifted key bits reconciled (both parties simulated, input generation excluded).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use qecnet::postprocess::BitString;
use qecnet::postprocess::cascade::{CascadeConfig, CascadeVariant, PassLayout, binary_symmetric_pair, reconcile_pair};
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

/// One later pass's layout of a large block: the full random permutation, the key rearranged
/// in its order, and the inverse permutation (the three costs of a pass that does not fit in
/// cache), in bits of key per second.
fn layout(c: &mut Criterion) {
    let mut group = c.benchmark_group("cascade_pass_layout_one_core");
    group.sample_size(10);
    for n in [1_000_000usize, 10_000_000] {
        let key = BitString::random(n, &mut derive_rng(3, &[n as u64]));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("{n}"), |b| {
            b.iter(|| {
                let layout = PassLayout::new(n, 2, 64, 17);
                let permuted = layout.permute(&key);
                (layout.position(n / 2), permuted.parity())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, cascade, layout);
criterion_main!(benches);
