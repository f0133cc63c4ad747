//! Blind against rate-adaptive LDPC reconciliation: efficiency f = leak/(k·h(Q)), frames left
//! wrong, reveal rounds, at the true QBER as the estimate.
//!
//! `cargo run --release --example ldpc_blind -- [block_bits] [qbers comma-separated]`
use qecnet::postprocess::binary_entropy;
use qecnet::postprocess::cascade::binary_symmetric_pair;
use qecnet::postprocess::ldpc::{BlindReconciler, LdpcReconciler};
use qecnet::rng::derive_rng;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bits: usize = args.first().map_or(1_000_000, |a| a.parse().expect("block bits"));
    let qbers: Vec<f64> = args
        .get(1)
        .map_or("0.01,0.02,0.03,0.05,0.08,0.1".into(), String::clone)
        .split(',')
        .map(|q| q.parse().expect("qber"))
        .collect();
    println!("| Q | reconciler | frames | f | wrong frames | unconverged | rounds | revealed bits |");
    println!("|---|---|---|---|---|---|---|---|");
    for &q in &qbers {
        let mut rng = derive_rng(11, &[(q * 1e4) as u64]);
        let (alice, bob) = binary_symmetric_pair(bits, q, &mut rng);
        let shannon = bits as f64 * binary_entropy(q);
        for blind in [false, true] {
            let mut b = bob.clone();
            let (out, plan) = if blind {
                let r = BlindReconciler::default();
                (r.reconcile(&alice, &mut b, q, 3).unwrap(), r.plan(bits, q).unwrap())
            } else {
                let r = LdpcReconciler::default();
                (r.reconcile(&alice, &mut b, q, 3).unwrap(), r.plan(bits, q).unwrap())
            };
            let wrong = plan
                .frames
                .iter()
                .filter(|f| (f.offset..f.offset + f.key_bits).any(|i| alice.get(i) != b.get(i)))
                .count();
            println!(
                "| {q} | {} | {} | {:.3} | {wrong} | {} | {} | {} |",
                if blind { "ldpc-blind" } else { "ldpc" },
                out.frames,
                out.leaked_bits as f64 / shannon,
                out.frames_unconverged,
                out.rounds,
                out.revealed_bits
            );
        }
    }
}
