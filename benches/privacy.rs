//! Throughput of Toeplitz privacy amplification on one core at compression 0.5 (throughput in
//! input bits): the automatic choice (`hash`) at 10⁶, 10⁷ and 10⁸ bits, and both exact methods
//! (`karatsuba`, `fft`) at 10⁶ and 10⁷ bits, around their crossover. The 10⁸-bit block takes
//! seconds, so every group keeps criterion's minimum of 10 samples.

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
    for n in [1_000_000usize, 10_000_000, 100_000_000] {
        let mut rng = derive_rng(1, &[n as u64]);
        let key = BitString::random(n, &mut rng);
        let hash = ToeplitzHash::random(n, n / 2, &mut rng).unwrap();
        group.throughput(Throughput::Elements(n as u64));
        if n >= 100_000_000 {
            group.measurement_time(std::time::Duration::from_secs(20));
        }
        group.bench_function(format!("hash_n{n}_m{}", n / 2), |b| b.iter(|| pool.install(|| hash.hash(&key).unwrap())));
        if n <= 10_000_000 {
            group.bench_function(format!("karatsuba_n{n}_m{}", n / 2), |b| {
                b.iter(|| pool.install(|| hash.hash_karatsuba(&key)))
            });
            group.bench_function(format!("fft_n{n}_m{}", n / 2), |b| b.iter(|| pool.install(|| hash.hash_fft(&key))));
        }
    }
    group.finish();
}

criterion_group!(benches, toeplitz);
criterion_main!(benches);
