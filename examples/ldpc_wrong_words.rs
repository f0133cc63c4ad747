//! Diagnosis of frames that the decoder "converges" on with a wrong word: for each such frame,
//! the error pattern e = x̂ ⊕ x (a codeword of the mother code, since both words have the same
//! syndrome), its Hamming weight split into key / punctured / shortened positions, and the
//! degrees of its variables; whether the degree-2 variables of e form a cycle.
//!
//! One decode per frame at the plan's first rate (no reveal rounds), sum-product.
//!
//! `cargo run --release --example ldpc_wrong_words -- [frames] [n] [qber] [efficiency]`
use qecnet::postprocess::BitString;
use qecnet::postprocess::cascade::binary_symmetric_pair;
use qecnet::postprocess::ldpc::{Decoder, LdpcReconciler};
use qecnet::rng::derive_rng;
use rand::RngExt;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let frames: usize = args.first().map_or(200, |a| a.parse().expect("frames"));
    let n: usize = args.get(1).map_or(10_000, |a| a.parse().expect("n"));
    let q: f64 = args.get(2).map_or(0.02, |a| a.parse().expect("qber"));
    let eff: f64 = args.get(3).map_or(1.3, |a| a.parse().expect("efficiency"));
    let rec = LdpcReconciler { frame_length: n, efficiency: eff, ..LdpcReconciler::default() };
    let key_bits = frames * (n * 9 / 10);
    let start = std::time::Instant::now();
    let plan = rec.plan(key_bits, q).unwrap();
    println!("mother rate {} built in {:.2} s", plan.mother.rate, start.elapsed().as_secs_f64());
    let code = &plan.mother.code;
    let mut degree = vec![0usize; n];
    let mut checks_of: Vec<Vec<u32>> = vec![Vec::new(); n];
    for c in 0..code.checks() {
        for &v in code.check(c) {
            degree[v as usize] += 1;
            checks_of[v as usize].push(c as u32);
        }
    }
    {
        // Cycles among all the code's degree-2 variables.
        let mut parent: Vec<usize> = (0..code.checks()).collect();
        fn root(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        let (mut two, mut closing) = (0, 0);
        for v in (0..n).filter(|&v| degree[v] == 2) {
            two += 1;
            let (a, b) = (root(&mut parent, checks_of[v][0] as usize), root(&mut parent, checks_of[v][1] as usize));
            if a == b {
                closing += 1;
            } else {
                parent[a] = b;
            }
        }
        println!("{two} degree-2 variables on {} checks, {closing} closing a cycle", code.checks());
    }
    let (alice, bob) = binary_symmetric_pair(key_bits, q, &mut derive_rng(35, &[]));
    let (mut ok, mut wrong, mut unconverged) = (0, 0, 0);
    let mut llr = Vec::new();
    for f in 0..plan.frames.len() {
        let frame = &plan.frames[f];
        let mut word = BitString::zeros(n);
        let mut rng = derive_rng(6, &[f as u64]);
        let mut role = vec![b's'; n];
        for &v in plan.punctured_positions(f) {
            word.set(v as usize, rng.random::<bool>());
            role[v as usize] = b'p';
        }
        for (i, v) in plan.key_positions(f).enumerate() {
            word.set(v, alice.get(frame.offset + i));
            role[v] = b'k';
        }
        let syndrome = code.syndrome(&word);
        rec.frame_llr(&plan, f, &[], &bob, &mut llr);
        let out = Decoder::with_rule(rec.rule).decode(code, &llr, &syndrome, rec.max_iterations);
        let e = out.word.xor(&word);
        let key_errors = (0..n).filter(|&v| role[v] == b'k' && e.get(v)).count();
        if !out.converged {
            unconverged += 1;
            continue;
        }
        if key_errors == 0 {
            ok += 1;
            continue;
        }
        wrong += 1;
        let support: Vec<usize> = (0..n).filter(|&v| e.get(v)).collect();
        let count = |r: u8| support.iter().filter(|&&v| role[v] == r).count();
        let mut degrees: Vec<usize> = support.iter().map(|&v| degree[v]).collect();
        degrees.sort_unstable();
        // Degree-2 variables of e and the checks they join: a cycle when edges ≥ nodes in a component.
        let two: Vec<usize> = support.iter().copied().filter(|&v| degree[v] == 2).collect();
        let mut parent: std::collections::HashMap<u32, u32> = Default::default();
        fn find(p: &mut std::collections::HashMap<u32, u32>, x: u32) -> u32 {
            let mut r = x;
            while let Some(&y) = p.get(&r) {
                if y == r {
                    break;
                }
                r = y;
            }
            p.insert(x, r);
            r
        }
        let mut cycles = 0;
        for &v in &two {
            let (a, b) = (checks_of[v][0], checks_of[v][1]);
            parent.entry(a).or_insert(a);
            parent.entry(b).or_insert(b);
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            if ra == rb {
                cycles += 1;
            } else {
                parent.insert(ra, rb);
            }
        }
        println!(
            "frame {f}: iters {}, |e| = {} (key {}, punctured {}, shortened {}), degree-2 {} closing {} cycles, degrees {:?}",
            out.iterations,
            support.len(),
            count(b'k'),
            count(b'p'),
            count(b's'),
            two.len(),
            cycles,
            &degrees[..degrees.len().min(24)]
        );
    }
    println!("ok {ok}, wrong {wrong}, unconverged {unconverged} of {}", plan.frames.len());
}
