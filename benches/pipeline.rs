//! Time per post-processing block on one core: 10⁶ key-basis bits at 1 % QBER (with the
//! test-basis detections of a 50/50 basis choice), fed to the pipeline as detection records
//! and processed end to end (QBER sample, Lim 2014 bound, Cascade option 7, verification,
//! Toeplitz hashing); throughput in key-basis bits. Generating the records is excluded.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use qecnet::photonics::{Basis, IntensityClass};
use qecnet::photonics::{Detection, LinkObserver};
use qecnet::photonics::{LinkConfig, LinkEngine};
use qecnet::postprocess::PostprocessSettings;
use qecnet::postprocess::{Pipeline, PipelineConfig};
use qecnet::rng::derive_rng;
use rand::Rng;

/// A block's detections as the 1 GHz link of the integration tests at 50 km would produce them
/// (signal and decoy detections in the ratio of their gains, 1 % errors, vacuum detections at
/// the dark-count rate with 50 % errors): `n` key-basis and about as many test-basis ones.
fn detections(n: usize, seed: u64) -> Vec<Detection> {
    let mut rng = derive_rng(seed, &[0]);
    let uniform = |rng: &mut qecnet::rng::SimRng| rng.next_u64() as f64 / u64::MAX as f64;
    let mut out = Vec::with_capacity(2 * n + n / 10);
    let mut key = 0;
    let mut pulse = 0u64;
    while key < n {
        // About one detection in 52 pulses.
        pulse += 1 + rng.next_u64() % 103;
        let u = uniform(&mut rng);
        let (class, qber) = if u < 0.922 {
            (IntensityClass::Signal, 0.01)
        } else if u < 1.0 - 1.5e-7 {
            (IntensityClass::Decoy, 0.01)
        } else {
            (IntensityClass::Vacuum, 0.5)
        };
        let basis = if rng.next_u64() & 1 == 0 { Basis::Z } else { Basis::X };
        let alice_bit = (rng.next_u64() & 1) as u8;
        let error = uniform(&mut rng) < qber;
        key += usize::from(basis == Basis::Z);
        out.push(Detection {
            pulse,
            class,
            alice_basis: basis,
            alice_bit,
            bob_basis: basis,
            bob_bit: alice_bit ^ u8::from(error),
            double_click: false,
            source_photons: 1,
        });
    }
    out
}

fn pipeline_block(c: &mut Criterion) {
    rayon::ThreadPoolBuilder::new().num_threads(1).build_global().ok();
    let n = 1_000_000;
    let mut link = LinkConfig::default();
    link.source.repetition_rate_hz = 1e9;
    link.source.signal_intensity = 0.5;
    link.source.decoy_intensity = 0.1;
    link.source.signal_probability = 0.6;
    link.source.decoy_probability = 0.25;
    link.source.vacuum_probability = 0.15;
    link.simulation.engine = LinkEngine::Event;
    let settings = PostprocessSettings { block_size: n as u64, ..PostprocessSettings::default() };
    let records = detections(n, 5);
    let mut group = c.benchmark_group("pipeline_block_1e6_qber1pct_one_core");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("finite_option7", |b| {
        b.iter_batched(
            || Pipeline::new(PipelineConfig::new(settings.clone(), 3), &link).unwrap(),
            |mut pipeline| {
                for d in &records {
                    pipeline.detection(d);
                }
                assert!(pipeline.blocks().len() == 1 && pipeline.blocks()[0].final_bits > 0);
                pipeline
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, pipeline_block);
criterion_main!(benches);
