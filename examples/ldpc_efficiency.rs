//! Efficiency and frame error rate of the BSC-optimised mother codes (Elkouss et al. 2009,
//! Table I) at a given frame length, decoded by plain min-sum.
//!
//! For each mother-code rate R the crossover probability is lowered from the code's printed
//! threshold in steps of 4 % of it until a point where every frame decodes; that point's
//! efficiency `f = (1 − R)/h(Q)` is the code's working efficiency at this length.
//!
//! `cargo run --release --example ldpc_efficiency -- [n] [frames] [max_iterations] [rule] [rates] [first_step]`
//! with `rule` = `ms` (plain min-sum, default), `sp` (sum-product) or `nms0.9` (normalised
//! min-sum, α = 0.9), and `rates` a comma-separated subset of 0.5,0.55,…,0.9.
use qecnet::postprocess::binary_entropy;
use qecnet::postprocess::cascade::binary_symmetric_pair;
use qecnet::postprocess::ldpc::{CheckRule, Decoder, DegreeDistribution, ELKOUSS_2009, LdpcCode, channel_llr};
use qecnet::rng::derive_rng;

fn main() {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<usize> = all.iter().take(3).map(|a| a.parse().expect("integer argument")).collect();
    let rule = match all.get(3).map(String::as_str).unwrap_or("ms") {
        "sp" => CheckRule::SumProduct,
        "ms" => CheckRule::MinSum { normalisation: 1.0 },
        other => match other.strip_prefix("oms") {
            Some(b) => CheckRule::OffsetMinSum { offset: b.parse().expect("omsβ") },
            None => CheckRule::MinSum {
                normalisation: other
                    .strip_prefix("nms")
                    .and_then(|a| a.parse().ok())
                    .expect("rule ms, sp, nmsα or omsβ"),
            },
        },
    };
    let rates: Option<Vec<f64>> = all.get(4).map(|r| r.split(',').map(|x| x.parse().expect("rate")).collect());
    let first_step: usize = all.get(5).map_or(0, |s| s.parse().expect("first step"));
    let n = args.first().copied().unwrap_or(100_000);
    let frames = args.get(1).copied().unwrap_or(20);
    let max_iterations = args.get(2).copied().unwrap_or(100) as u32;
    println!("| rate | Q | f | frames failed | mean iterations | decode Mbit/s |");
    println!("|---|---|---|---|---|---|");
    for row in
        ELKOUSS_2009.iter().filter(|row| rates.as_ref().is_none_or(|r| r.iter().any(|&x| (x - row.rate).abs() < 1e-9)))
    {
        let m = ((1.0 - row.rate) * n as f64).round() as usize;
        let dist = DegreeDistribution::elkouss_2009(row.rate).unwrap();
        let code = LdpcCode::random(n, m, &dist, 1).unwrap();
        let mut decoder = Decoder::with_rule(rule);
        for step in first_step..12 {
            let q = row.threshold * (1.0 - 0.04 * step as f64);
            let (mut failed, mut iterations, mut seconds) = (0, 0u64, 0.0);
            for frame in 0..frames {
                let mut rng = derive_rng(7, &[step as u64, frame as u64, (row.rate * 100.0) as u64]);
                let (alice, bob) = binary_symmetric_pair(n, q, &mut rng);
                let (llr, syndrome) = (channel_llr(&bob, q), code.syndrome(&alice));
                let start = std::time::Instant::now();
                let out = decoder.decode(&code, &llr, &syndrome, max_iterations);
                seconds += start.elapsed().as_secs_f64();
                iterations += u64::from(out.iterations);
                failed += usize::from(out.word != alice);
            }
            let f = (m as f64 / n as f64) / binary_entropy(q);
            println!(
                "| {:.2} | {:.4} | {f:.3} | {failed}/{frames} | {:.1} | {:.2} |",
                row.rate,
                q,
                iterations as f64 / frames as f64,
                (frames * n) as f64 / seconds / 1e6
            );
            if failed == 0 {
                break;
            }
        }
    }
}
