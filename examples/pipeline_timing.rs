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

#[path = "../benches/support/synthetic_block.rs"]
mod synthetic_block;

use qecnet::api::reconciliation_named;
use qecnet::photonics::LinkObserver;
use qecnet::postprocess::study::thread_cpu_seconds;
use qecnet::postprocess::{Pipeline, PipelineConfig, PostprocessSettings, Security};
use synthetic_block::detections;

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

    let link = synthetic_block::link();
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
