//! Efficiency of rate-adaptive LDPC reconciliation (the pipeline's operating point: the plan,
//! reveal rounds, the QBER estimate equal to the true QBER) for each decoder check rule, on
//! blocks of `frames` full 10⁵-bit frames (90,000 key bits each) per QBER.
//!
//! `f = leak / (h(Q)·k)` over the block (k its key bits); "wrong" counts frames whose key bits
//! differ from Alice's after reconciliation (unconverged, or satisfied by a wrong word), which
//! the verification hash would catch; throughput is sifted key bits per second of wall clock
//! on the threads rayon is given (`RAYON_NUM_THREADS=1` for one core).
//!
//! `cargo run --release --example ldpc_rules -- [frames] [qbers] [rules] [f]` (`f` the target
//! efficiency of the first message, default the reconciler's), `qbers` e.g.
//! `0.01,0.02,0.05,0.08`, `rules` a comma-separated list of `sp`, `ms`, `nms0.75` (normalised,
//! α = 0.75), `oms0.5` (offset, β = 0.5 channel LLRs), `cms` (corrected min-sum).
use qecnet::postprocess::binary_entropy;
use qecnet::postprocess::cascade::binary_symmetric_pair;
use qecnet::postprocess::ldpc::{CheckRule, LdpcReconciler};
use qecnet::rng::derive_rng;

fn parse_rule(name: &str) -> CheckRule {
    if name == "sp" {
        CheckRule::SumProduct
    } else if name == "cms" {
        CheckRule::CorrectedMinSum
    } else if name == "ms" {
        CheckRule::MinSum { normalisation: 1.0 }
    } else if let Some(a) = name.strip_prefix("nms") {
        CheckRule::MinSum { normalisation: a.parse().expect("nmsα") }
    } else if let Some(b) = name.strip_prefix("oms") {
        CheckRule::OffsetMinSum { offset: b.parse().expect("omsβ") }
    } else {
        panic!("rule sp, ms, nmsα or omsβ, got {name}")
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let frames: usize = args.first().map_or(100, |a| a.parse().expect("frames"));
    let qbers: Vec<f64> = args
        .get(1)
        .map_or("0.01,0.02,0.05,0.08", String::as_str)
        .split(',')
        .map(|q| q.parse().expect("qber"))
        .collect();
    let rules: Vec<&str> = args.get(2).map_or("sp,nms0.75", String::as_str).split(',').collect();
    let efficiency: f64 = args.get(3).map_or(LdpcReconciler::default().efficiency, |a| a.parse().expect("f"));
    let key_bits = frames * 90_000;
    println!("| rule | Q | f | rounds | frames wrong | frames unconverged | Mbit/s |");
    println!("|---|---|---|---|---|---|---|");
    for &q in &qbers {
        let (alice, bob) = binary_symmetric_pair(key_bits, q, &mut derive_rng(41, &[(q * 1e4) as u64]));
        for name in &rules {
            let reconciler = LdpcReconciler { rule: parse_rule(name), efficiency, ..LdpcReconciler::default() };
            let mut corrected = bob.clone();
            let start = std::time::Instant::now();
            let out = reconciler.reconcile(&alice, &mut corrected, q, 7).unwrap();
            let seconds = start.elapsed().as_secs_f64();
            let plan = reconciler.plan(key_bits, q).unwrap();
            let wrong = plan
                .frames
                .iter()
                .filter(|fr| (fr.offset..fr.offset + fr.key_bits).any(|i| alice.get(i) != corrected.get(i)))
                .count();
            let f = out.leaked_bits as f64 / (binary_entropy(q) * key_bits as f64);
            println!(
                "| {name} | {q} | {f:.4} | {} | {wrong}/{} | {} | {:.2} |",
                out.rounds,
                out.frames,
                out.frames_unconverged,
                key_bits as f64 / seconds / 1e6
            );
        }
    }
}
