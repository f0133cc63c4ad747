//! qecnet's LDPC decoder against an independent one, the `ldpc-toolbox` crate's layered
//! belief propagation (Sharon, Litsyn, Goldberg schedule; `HLPhif32`/`HLPhif64`: the φ rule in
//! `f32`/`f64`), on the same code and the same frames: the reconciler's plan for one full
//! 10⁵-bit frame at 2 % QBER (rate-0.80 mother code, 90,000 key bits, the plan's puncturing and
//! shortening), one core, at most 60 iterations. Throughput is in sifted key bits.
//!
//! `ldpc-toolbox` decodes codewords (`H·c = 0`), not syndromes, so it gets the code `[H | I]`:
//! one extra degree-1 variable per check holding that check's syndrome bit, with an LLR of
//! ±1000 channel LLRs (as the reconciler gives its shortened positions), so that
//! `[H | I]·[x; s] = 0` exactly when `H·x = s`. Before timing, the bench prints each decoder's
//! iterations and whether it found Alice's key bits, frame by frame, to stderr.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ldpc_toolbox::decoder::LdpcDecoder;
use ldpc_toolbox::decoder::factory::{DecoderFactory, DecoderImplementation};
use ldpc_toolbox::sparse::SparseMatrix;
use qecnet::postprocess::BitString;
use qecnet::postprocess::cascade::binary_symmetric_pair;
use qecnet::postprocess::ldpc::{AliceFrames, CheckRule, Decoder, LdpcChannel, LdpcCode, LdpcReconciler, Plan};
use qecnet::rng::derive_rng;

/// Sifted key bits per frame: one full frame of the 10⁵-bit mother code.
const KEY_BITS: usize = 90_000;
const QBER: f64 = 0.02;
/// Frames decoded per bench iteration (the same frames for every decoder).
const FRAMES: u64 = 2;
/// LLR of a syndrome variable, in channel LLRs.
const KNOWN_UNITS: f64 = 1000.0;

/// `[H | I]` in `ldpc-toolbox`'s sparse format: check `c` holds its variables and variable
/// `n + c`.
fn extended_matrix(code: &LdpcCode) -> SparseMatrix {
    let (n, m) = (code.len(), code.checks());
    let mut h = SparseMatrix::new(m, n + m);
    for c in 0..m {
        for &v in code.check(c) {
            h.insert(c, v as usize);
        }
        h.insert(c, n + c);
    }
    h
}

/// One frame: Alice's key bits, Bob's LLRs and the syndrome, and the toolbox's LLRs of `[x; s]`.
struct Frame {
    alice: BitString,
    llr: Vec<f32>,
    syndrome: BitString,
    extended_llr: Vec<f64>,
}

fn frames(reconciler: &LdpcReconciler, plan: &Plan) -> Vec<Frame> {
    let known = KNOWN_UNITS * ((1.0 - QBER) / QBER).ln();
    (0..FRAMES)
        .map(|i| {
            let (alice, bob) = binary_symmetric_pair(KEY_BITS, QBER, &mut derive_rng(12, &[i]));
            let syndrome = AliceFrames::new(plan, &alice, i).syndromes().remove(0);
            let mut llr = Vec::new();
            reconciler.frame_llr(plan, 0, &[], &bob, &mut llr);
            let extended_llr = llr
                .iter()
                .map(|&l| f64::from(l))
                .chain((0..syndrome.len()).map(|c| if syndrome.get(c) { -known } else { known }))
                .collect();
            Frame { alice, llr, syndrome, extended_llr }
        })
        .collect()
}

/// Whether `bit(v)` equals Alice's key bit at every key position of the plan's frame 0.
fn key_matches(plan: &Plan, alice: &BitString, bit: impl Fn(usize) -> bool) -> bool {
    plan.key_positions(0).enumerate().all(|(i, v)| bit(v) == alice.get(i))
}

fn compare(c: &mut Criterion) {
    let reconciler = LdpcReconciler::default();
    let plan = reconciler.plan(KEY_BITS, QBER).unwrap();
    let code = &plan.mother.code;
    let frames = frames(&reconciler, &plan);
    let max_iterations = reconciler.max_iterations;
    let ours: Vec<(&str, CheckRule)> = vec![("qecnet_sum_product", CheckRule::SumProduct)];
    let theirs = [
        ("ldpc_toolbox_HLPhif32", DecoderImplementation::HLPhif32),
        ("ldpc_toolbox_HLPhif64", DecoderImplementation::HLPhif64),
    ];
    let matrix = extended_matrix(code);
    let mut toolbox: Vec<(&str, Box<dyn LdpcDecoder>)> =
        theirs.iter().map(|&(name, imp)| (name, imp.build_decoder(matrix.clone()))).collect();
    for (f, frame) in frames.iter().enumerate() {
        for &(name, rule) in &ours {
            let out = Decoder::with_rule(rule).decode(code, &frame.llr, &frame.syndrome, max_iterations);
            let right = key_matches(&plan, &frame.alice, |v| out.word.get(v));
            eprintln!(
                "frame {f}: {name}: {} iterations, converged {}, Alice's key {right}",
                out.iterations, out.converged
            );
        }
        for (name, decoder) in &mut toolbox {
            let (out, converged) = match decoder.decode(&frame.extended_llr, max_iterations as usize) {
                Ok(out) => (out, true),
                Err(out) => (out, false),
            };
            let right = key_matches(&plan, &frame.alice, |v| out.codeword[v] == 1);
            eprintln!("frame {f}: {name}: {} iterations, converged {converged}, Alice's key {right}", out.iterations);
        }
    }
    let mut group = c.benchmark_group("ldpc_vs_toolbox_1e5_qber2pct_one_core");
    group.sample_size(10);
    group.throughput(Throughput::Elements(FRAMES * KEY_BITS as u64));
    for &(name, rule) in &ours {
        let mut decoder = Decoder::with_rule(rule);
        group.bench_function(name, |b| {
            b.iter(|| {
                frames
                    .iter()
                    .map(|fr| decoder.decode(code, &fr.llr, &fr.syndrome, max_iterations).iterations)
                    .sum::<u32>()
            })
        });
    }
    for (name, decoder) in &mut toolbox {
        group.bench_function(*name, |b| {
            b.iter(|| {
                frames
                    .iter()
                    .map(|fr| match decoder.decode(&fr.extended_llr, max_iterations as usize) {
                        Ok(out) | Err(out) => out.iterations,
                    })
                    .sum::<usize>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, compare);
criterion_main!(benches);
