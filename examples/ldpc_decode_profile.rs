//! The decoder alone at the rate-adaptive operating point: full 10⁵-bit frames (90,000 key
//! bits) with the plan's puncturing and shortening at QBER `q` and target efficiency `f`, the
//! first decode of each frame (no reveal round), per check rule: frames wrong (unconverged, or
//! satisfied by a wrong word), mean iterations, and decoder CPU seconds per frame (the
//! process's user + system time from `/proc/self/stat`, so run it on one thread; the mother
//! code is built before the clock starts).
//!
//! `cargo run --release --example ldpc_decode_profile -- [frames] [q] [rules] [f] [max_iterations] [batch]`
//! with `rules` as in `ldpc_rules` (`sp`, `ms`, `nmsα`, `omsβ`, `cms`); `batch` decodes all
//! frames in one `Decoder::decode_many` call (min-sum rules: 16 frames at once, one per SIMD
//! lane) instead of one `decode` per frame; `reconcile` times the whole protocol instead
//! (`LdpcReconciler::reconcile` on one block of all the frames: Alice's syndromes, Bob's
//! decoding and reveal rounds, leak and f as counted by the reconciler).
use qecnet::postprocess::BitString;
use qecnet::postprocess::cascade::binary_symmetric_pair;
use qecnet::postprocess::ldpc::{AliceFrames, CheckRule, Decoder, LdpcChannel, LdpcReconciler};
use qecnet::rng::derive_rng;

/// User + system CPU seconds of this process so far (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name in parentheses: utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<f64> = rest.split_whitespace().skip(11).take(2).filter_map(|x| x.parse().ok()).collect();
    fields.iter().sum::<f64>() / 100.0
}

fn parse_rule(name: &str) -> CheckRule {
    match name {
        "sp" => CheckRule::SumProduct,
        "ms" => CheckRule::MinSum { normalisation: 1.0 },
        "cms" => CheckRule::CorrectedMinSum,
        _ => {
            if let Some(a) = name.strip_prefix("nms") {
                CheckRule::MinSum { normalisation: a.parse().expect("nmsα") }
            } else if let Some(b) = name.strip_prefix("oms") {
                CheckRule::OffsetMinSum { offset: b.parse().expect("omsβ") }
            } else {
                panic!("rule sp, ms, cms, nmsα or omsβ, got {name}")
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let frames: u64 = args.first().map_or(8, |a| a.parse().expect("frames"));
    let q: f64 = args.get(1).map_or(0.02, |a| a.parse().expect("q"));
    let rules: Vec<&str> = args.get(2).map_or("sp", String::as_str).split(',').collect();
    let defaults = LdpcReconciler::default();
    let efficiency: f64 = args.get(3).map_or(defaults.efficiency, |a| a.parse().expect("f"));
    let max_iterations: u32 = args.get(4).map_or(defaults.max_iterations, |a| a.parse().expect("iterations"));
    let batch = args.get(5).is_some_and(|a| a == "batch");
    if args.get(5).is_some_and(|a| a == "reconcile") {
        reconcile(frames, q, &rules, efficiency, max_iterations);
        return;
    }
    let key_bits = 90_000;
    println!("| rule | Q | f | frames wrong | unconverged | mean iterations | CPU s/frame | Mbit/s per CPU s |");
    println!("|---|---|---|---|---|---|---|---|");
    for name in rules {
        let rule = parse_rule(name);
        let reconciler = LdpcReconciler { rule, efficiency, max_iterations, ..defaults };
        let plan = reconciler.plan(key_bits, q).unwrap();
        let code = &plan.mother.code;
        let inputs: Vec<(BitString, Vec<f32>, BitString)> = (0..frames)
            .map(|i| {
                let (alice, bob) = binary_symmetric_pair(key_bits, q, &mut derive_rng(9, &[i]));
                let syndrome = AliceFrames::new(&plan, &alice, i).syndromes().remove(0);
                let mut llr = Vec::new();
                reconciler.frame_llr(&plan, 0, &[], &bob, &mut llr);
                (alice, llr, syndrome)
            })
            .collect();
        let mut decoder = Decoder::with_rule(rule);
        let (mut wrong, mut unconverged, mut iterations) = (0, 0, 0u64);
        let start = cpu_seconds();
        let outs = if batch {
            let refs: Vec<(&[f32], &BitString)> = inputs.iter().map(|(_, l, s)| (l.as_slice(), s)).collect();
            decoder.decode_many(code, &refs, max_iterations)
        } else {
            inputs.iter().map(|(_, llr, syndrome)| decoder.decode(code, llr, syndrome, max_iterations)).collect()
        };
        for ((alice, _, _), out) in inputs.iter().zip(outs) {
            iterations += u64::from(out.iterations);
            unconverged += u64::from(!out.converged);
            wrong += u64::from(plan.key_positions(0).enumerate().any(|(i, v)| out.word.get(v) != alice.get(i)));
        }
        let seconds = cpu_seconds() - start;
        println!(
            "| {name} | {q} | {efficiency} | {wrong}/{frames} | {unconverged} | {:.1} | {:.3} | {:.2} |",
            iterations as f64 / frames as f64,
            seconds / frames as f64,
            (frames * key_bits as u64) as f64 / seconds / 1e6
        );
        eprintln!(
            "code: n = {}, m = {}, edges = {}, max check degree {}; {:.2} ns per edge update; frame: {:?}",
            code.len(),
            code.checks(),
            code.edges(),
            code.max_check_degree(),
            seconds * 1e9 / (iterations as f64 * code.edges() as f64),
            plan.frames[0]
        );
    }
}

/// The whole protocol on one block of `frames` full frames, per rule: f, rounds, frames
/// unconverged, Bob's key right or not, CPU seconds and Mbit/s of sifted key per CPU second.
fn reconcile(frames: u64, q: f64, rules: &[&str], efficiency: f64, max_iterations: u32) {
    let bits = frames as usize * 90_000;
    let (alice, bob) = binary_symmetric_pair(bits, q, &mut derive_rng(9, &[frames]));
    println!("| rule | Q | f target | f | rounds | frames unconverged | Bob = Alice | CPU s | Mbit/s per CPU s |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for name in rules {
        let rule = parse_rule(name);
        let reconciler = LdpcReconciler { rule, efficiency, max_iterations, ..LdpcReconciler::default() };
        reconciler.plan(bits, q).unwrap(); // builds the mother code before the clock starts
        let mut corrected = bob.clone();
        let start = cpu_seconds();
        let out = reconciler.reconcile(&alice, &mut corrected, q, 5).unwrap();
        let seconds = cpu_seconds() - start;
        let f = out.leaked_bits as f64 / (bits as f64 * qecnet::postprocess::binary_entropy(q));
        println!(
            "| {name} | {q} | {efficiency} | {f:.4} | {} | {}/{} | {} | {seconds:.2} | {:.2} |",
            out.rounds,
            out.frames_unconverged,
            out.frames,
            corrected == alice,
            bits as f64 / seconds / 1e6
        );
    }
}
