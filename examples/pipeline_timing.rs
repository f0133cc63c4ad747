//! CPU time of one post-processing block, end to end, on one core: a block of N key-basis
//! bits at a given QBER, fed to the pipeline as detection records that are generated on the
//! fly (so a 10⁸-bit block needs no 10 GB of records), then the QBER sample, the bound,
//! reconciliation, verification and privacy amplification. The generation's own CPU time is
//! measured in a second pass over the same records and subtracted.
//!
//!   cargo run --release --example pipeline_timing -- N [QBER] [RECONCILER] [CASCADE_FRAME_BITS] [asymptotic|finite]
//!
//! RECONCILER as `--reconciler` names it (default cascade-option7). Prints the block's
//! reconciliation and final figures and the pipeline's CPU seconds and sifted bits per CPU
//! second; everything runs on one rayon thread.

use qecnet::api::reconciliation_named;
use qecnet::photonics::{Basis, Detection, IntensityClass, LinkConfig, LinkEngine, LinkObserver};
use qecnet::postprocess::study::thread_cpu_seconds;
use qecnet::postprocess::{Pipeline, PipelineConfig, PostprocessSettings, Security};
use qecnet::rng::{SimRng, derive_rng};
use rand::Rng;

/// Detections as the 1 GHz link of the pipeline bench would produce them (signal and decoy in
/// the ratio of their gains, errors at `qber`, vacuum detections at the dark-count rate with 50 %
/// errors, a 50/50 basis choice), each handed to `sink` until it returns false.
fn detections(qber: f64, seed: u64, mut sink: impl FnMut(&Detection) -> bool) {
    let mut rng = derive_rng(seed, &[0]);
    let uniform = |rng: &mut SimRng| rng.next_u64() as f64 / u64::MAX as f64;
    let mut pulse = 0u64;
    loop {
        pulse += 1 + rng.next_u64() % 103;
        let u = uniform(&mut rng);
        let (class, qber) = if u < 0.922 {
            (IntensityClass::Signal, qber)
        } else if u < 1.0 - 1.5e-7 {
            (IntensityClass::Decoy, qber)
        } else {
            (IntensityClass::Vacuum, 0.5)
        };
        let basis = if rng.next_u64() & 1 == 0 { Basis::Z } else { Basis::X };
        let alice_bit = (rng.next_u64() & 1) as u8;
        let error = uniform(&mut rng) < qber;
        let more = sink(&Detection {
            pulse,
            class,
            alice_basis: basis,
            alice_bit,
            bob_basis: basis,
            bob_bit: alice_bit ^ u8::from(error),
            double_click: false,
            source_photons: 1,
        });
        if !more {
            return;
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: pipeline_timing N [QBER] [RECONCILER] [CASCADE_FRAME_BITS] [asymptotic|finite]";
    let number = |i: usize, default: f64| args.get(i).map_or(default, |s| s.parse::<f64>().expect(usage));
    let n = number(0, 1e6) as usize;
    let qber = number(1, 0.01);
    let name = args.get(2).map_or("cascade-option7", String::as_str);
    let frame_bits = number(3, PostprocessSettings::default().cascade_frame_bits as f64) as u64;
    let security = match args.get(4).map(String::as_str) {
        None | Some("asymptotic") => Security::Asymptotic,
        Some("finite") => Security::Finite,
        Some(other) => panic!("{usage}: unknown security {other}"),
    };
    let reconciler = reconciliation_named(name).unwrap_or_else(|| panic!("{usage}: unknown reconciler {name}"));

    let mut link = LinkConfig::default();
    link.source.repetition_rate_hz = 1e9;
    link.source.signal_intensity = 0.5;
    link.source.decoy_intensity = 0.1;
    link.source.signal_probability = 0.6;
    link.source.decoy_probability = 0.25;
    link.source.vacuum_probability = 0.15;
    link.simulation.engine = LinkEngine::Event;
    let settings =
        PostprocessSettings { block_size: n as u64, cascade_frame_bits: frame_bits, security, ..Default::default() };
    let mut config = PipelineConfig::new(settings, 3);
    config.reconciler = reconciler;

    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a one-thread pool");
    pool.install(|| {
        // The pipeline until its block closes, then the same records alone.
        let mut pipeline = Pipeline::new(config, &link).expect("a valid pipeline");
        let mut records = 0u64;
        let start = thread_cpu_seconds();
        detections(qber, 5, |d| {
            pipeline.detection(d);
            records += 1;
            pipeline.blocks().is_empty()
        });
        let total = thread_cpu_seconds() - start;
        let (mut count, mut parity) = (0u64, 0u64);
        let start = thread_cpu_seconds();
        detections(qber, 5, |d| {
            count += 1;
            parity ^= d.pulse & 1;
            count < records
        });
        let generation = thread_cpu_seconds() - start;
        let blocks = pipeline.blocks();
        assert_eq!(blocks.len(), 1, "one block of {n} key bits");
        let b = &blocks[0];
        let cpu = total - generation;
        println!(
            "n {n} qber {qber} {name} frames<= {frame_bits} {security:?}: final {} bits, leak {} (f {}), {} round trips, \
             abort {:?}; pipeline {cpu:.2} s CPU ({:.3e} sifted bits/s; records {generation:.2} s, parity {})",
            b.final_bits,
            b.leak_ec_bits,
            b.reconciliation_efficiency.map_or("-".into(), |f| format!("{f:.3}")),
            b.channel_uses,
            b.abort_reason,
            n as f64 / cpu,
            parity,
        );
    });
}
