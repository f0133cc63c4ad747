//! Throughput of Toeplitz privacy amplification on one core: 10⁶-bit blocks at compression
//! 0.5 (the target is ≥ 2·10⁸ input bits/s) and 10⁵-bit blocks; throughput is in input bits.
//! Set `QECNET_BENCH_1E8=1` to also time one 10⁸-bit block (on one core and on all cores).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qecnet::postprocess::BitString;
use qecnet::postprocess::ToeplitzHash;
use qecnet::rng::derive_rng;

fn one_core() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap()
}

fn toeplitz(c: &mut Criterion) {
    let pool = one_core();
    let mut group = c.benchmark_group("toeplitz_one_core");
    group.sample_size(10);
    for n in [100_000usize, 1_000_000] {
        let mut rng = derive_rng(1, &[n as u64]);
        let key = BitString::random(n, &mut rng);
        let hash = ToeplitzHash::random(n, n / 2, &mut rng).unwrap();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("n{n}_m{}", n / 2), |b| b.iter(|| pool.install(|| hash.hash(&key).unwrap())));
    }
    group.finish();
    if std::env::var_os("QECNET_BENCH_1E8").is_some() {
        let n = 100_000_000;
        let mut rng = derive_rng(1, &[n as u64]);
        let key = BitString::random(n, &mut rng);
        let hash = ToeplitzHash::random(n, n / 2, &mut rng).unwrap();
        for (label, threads) in [("one core", 1), ("all cores", rayon::current_num_threads())] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let started = std::time::Instant::now();
            let out = pool.install(|| hash.hash(&key).unwrap());
            let secs = started.elapsed().as_secs_f64();
            println!(
                "toeplitz 1e8 -> 5e7 bits, {label} ({threads} threads): {secs:.2} s ({:.1} Mbit/s), output weight {}",
                n as f64 / secs / 1e6,
                out.count_ones()
            );
        }
    }
}

criterion_group!(benches, toeplitz);
criterion_main!(benches);
