//! Throughput of LDPC reconciliation on one core: 10⁵-bit frames at 2 % QBER on a binary
//! symmetric channel, with the mother code and puncturing the reconciler's plan picks for a
//! 90,000-bit block (one full frame: k = 0.9·n). Throughput is in sifted key bits.
//!
//! - `ldpc_decode_*`: the decoder alone, one frame, each check rule;
//! - `ldpc_decode_batch16_*`: the decoder on 16 frames at once (`Decoder::decode_many`; the
//!   min-sum rules run one frame per SIMD lane);
//! - `ldpc_reconcile_16frames_*`: the whole protocol for a 16-frame block (Alice's frame words
//!   and syndromes, Bob's decoding, reveal rounds), each check rule.
//!
//! Input generation is excluded; a new frame (seeded) per iteration.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use qecnet::postprocess::BitString;
use qecnet::postprocess::cascade::binary_symmetric_pair;
use qecnet::postprocess::ldpc::{AliceFrames, CheckRule, Decoder, LdpcChannel, LdpcReconciler};
use qecnet::rng::derive_rng;

/// Sifted key bits per frame: one full frame of the 10⁵-bit mother code.
const KEY_BITS: usize = 90_000;
const QBER: f64 = 0.02;

fn rules() -> [(&'static str, CheckRule); 3] {
    [
        ("sum_product", CheckRule::SumProduct),
        ("min_sum", CheckRule::MinSum { normalisation: 1.0 }),
        ("offset_min_sum_0.25", CheckRule::OffsetMinSum { offset: 0.25 }),
    ]
}

fn one_core<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(f)
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("ldpc_decode_1e5_qber2pct_one_core");
    group.sample_size(10);
    group.throughput(Throughput::Elements(KEY_BITS as u64));
    for (name, rule) in rules() {
        let reconciler = LdpcReconciler { rule, ..LdpcReconciler::default() };
        let plan = reconciler.plan(KEY_BITS, QBER).unwrap();
        let code = &plan.mother.code;
        let mut decoder = Decoder::with_rule(rule);
        let mut frame = 0u64;
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    frame += 1;
                    let (alice, bob) = binary_symmetric_pair(KEY_BITS, QBER, &mut derive_rng(9, &[frame]));
                    let syndrome = AliceFrames::new(&plan, &alice, frame).syndromes().remove(0);
                    let mut llr = Vec::new();
                    reconciler.frame_llr(&plan, 0, &[], &bob, &mut llr);
                    (llr, syndrome)
                },
                |(llr, syndrome): (Vec<f32>, BitString)| {
                    decoder.decode(code, &llr, &syndrome, reconciler.max_iterations).iterations
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn decode_batch(c: &mut Criterion) {
    let mut group = c.benchmark_group("ldpc_decode_batch16_1e5_qber2pct_one_core");
    group.sample_size(10);
    group.throughput(Throughput::Elements(16 * KEY_BITS as u64));
    for (name, rule) in rules() {
        let reconciler = LdpcReconciler { rule, ..LdpcReconciler::default() };
        let plan = reconciler.plan(16 * KEY_BITS, QBER).unwrap();
        let code = &plan.mother.code;
        let mut decoder = Decoder::with_rule(rule);
        let mut batch = 0u64;
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    batch += 1;
                    let (alice, bob) = binary_symmetric_pair(16 * KEY_BITS, QBER, &mut derive_rng(10, &[batch]));
                    let syndromes = AliceFrames::new(&plan, &alice, batch).syndromes();
                    let llrs: Vec<Vec<f32>> = (0..plan.frames.len())
                        .map(|f| {
                            let mut llr = Vec::new();
                            reconciler.frame_llr(&plan, f, &[], &bob, &mut llr);
                            llr
                        })
                        .collect();
                    (llrs, syndromes)
                },
                |(llrs, syndromes): (Vec<Vec<f32>>, Vec<BitString>)| {
                    let frames: Vec<(&[f32], &BitString)> =
                        llrs.iter().zip(&syndromes).map(|(l, s)| (l.as_slice(), s)).collect();
                    decoder.decode_many(code, &frames, reconciler.max_iterations).len()
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn reconcile(c: &mut Criterion) {
    let mut group = c.benchmark_group("ldpc_reconcile_16frames_1e5_qber2pct_one_core");
    group.sample_size(10);
    group.throughput(Throughput::Elements(16 * KEY_BITS as u64));
    for (name, rule) in rules() {
        let reconciler = LdpcReconciler { rule, ..LdpcReconciler::default() };
        let mut frame = 0u64;
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    frame += 1;
                    let (alice, bob) = binary_symmetric_pair(16 * KEY_BITS, QBER, &mut derive_rng(11, &[frame]));
                    (alice, bob, frame)
                },
                |(alice, mut bob, seed)| one_core(|| reconciler.reconcile(&alice, &mut bob, QBER, seed).unwrap()),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, decode, decode_batch, reconcile);
criterion_main!(benches);
