//! Times one Toeplitz privacy-amplification block and prints a digest of the output, for the
//! throughput and peak-memory figures in BENCHMARKS.md (run under `/usr/bin/time -v`).
//!
//! `cargo run --release --example toeplitz_timing -- N M METHOD THREADS` with METHOD one of
//! `auto` (what the pipeline uses), `fft` or `karatsuba`; e.g. `-- 1000000000 500000000 auto 2`.

use qecnet::postprocess::{BitString, ToeplitzHash};
use qecnet::rng::derive_rng;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: toeplitz_timing N M auto|fft|karatsuba THREADS";
    let [n, m, method, threads] = args.as_slice() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let (n, m, threads): (usize, usize, usize) = match (n.parse(), m.parse(), threads.parse()) {
        (Ok(n), Ok(m), Ok(t)) => (n, m, t),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let mut rng = derive_rng(1, &[n as u64, m as u64]);
    let key = BitString::random(n, &mut rng);
    let hash = match ToeplitzHash::random(n, m, &mut rng) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
    let started = std::time::Instant::now();
    let out = pool.install(|| match method.as_str() {
        "auto" => hash.hash(&key).expect("lengths checked"),
        "fft" => hash.hash_fft(&key),
        "karatsuba" => hash.hash_karatsuba(&key),
        other => {
            eprintln!("unknown method {other:?}; {usage}");
            std::process::exit(2);
        }
    });
    let secs = started.elapsed().as_secs_f64();
    // A digest of the output (FNV-1a over the words) to compare methods and thread counts.
    let digest = out.words().iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &w| (h ^ w).wrapping_mul(0x0100_0000_01b3));
    println!(
        "n {n} m {m} {method} {threads} threads: {secs:.3} s, {:.3e} input bits/s, digest {digest:016x}",
        n as f64 / secs
    );
}
