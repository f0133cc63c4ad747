//! Time per post-processing block on one core: 10⁶ key-basis bits at 1 % QBER (with the
//! test-basis detections of a 50/50 basis choice), fed to the pipeline as detection records
//! and processed end to end (QBER sample, Lim 2014 bound, Cascade option 7, verification,
//! Toeplitz hashing); throughput in key-basis bits. Generating the records is excluded.

#[path = "support/synthetic_block.rs"]
mod synthetic_block;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use qecnet::photonics::{Basis, Detection, LinkObserver};
use qecnet::postprocess::PostprocessSettings;
use qecnet::postprocess::{Pipeline, PipelineConfig};

/// A block's detections ([`synthetic_block::detections`] at 1 % QBER): `n` key-basis and
/// about as many test-basis ones.
fn detections(n: usize, seed: u64) -> Vec<Detection> {
    let mut out = Vec::with_capacity(2 * n + n / 10);
    let mut key = 0;
    synthetic_block::detections(0.01, seed, |d| {
        out.push(*d);
        key += usize::from(d.alice_basis == Basis::Z);
        key < n
    });
    out
}

fn pipeline_block(c: &mut Criterion) {
    rayon::ThreadPoolBuilder::new().num_threads(1).build_global().ok();
    let n = 1_000_000;
    let link = synthetic_block::link();
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
