//! The streaming pipeline: [`Pipeline`], the [`LinkObserver`] that cuts the sifted key into
//! blocks as the link simulation runs, hands each closed block to the [`BlockProcessor`] and
//! sums the per-block reports into the run's.

use std::time::{Duration, Instant};

use super::block::{OpenBlock, SiftedBlock, push_wiping};
use super::config::PipelineConfig;
use super::processor::{BlockProcessor, KeySink, blank_report};
use super::report::{AbortReason, BlockReport, PipelineReport, PipelineSummary};
use crate::photonics::LinkConfig;
use crate::photonics::link::{Detection, LinkObserver, LinkRun};
use crate::photonics::source::Basis;
use crate::postprocess::bits::BitString;
use crate::postprocess::{PostprocessError, Security};
use crate::units::InvalidParameter;

/// The streaming pipeline: a [`LinkObserver`] that cuts the sifted key into blocks and
/// processes each as it closes.
pub struct Pipeline<'s> {
    processor: BlockProcessor,
    block_size: usize,
    key_classes: [bool; 3],
    open: OpenBlock,
    blocks: Vec<BlockReport>,
    error: Option<PostprocessError>,
    sink: Option<KeySink<'s>>,
    elapsed: Duration,
}

impl std::fmt::Debug for Pipeline<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("processor", &self.processor)
            .field("open_bits", &self.open.packed.len())
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

impl<'s> Pipeline<'s> {
    /// A pipeline for the detections of `link` (validated with `config`).
    pub fn new(config: PipelineConfig, link: &LinkConfig) -> Result<Self, InvalidParameter> {
        let block_size = usize::try_from(config.settings.block_size)
            .map_err(|_| InvalidParameter::new("postprocess.block_size", config.settings.block_size, "too large"))?;
        let key_classes = match config.settings.security {
            Security::Finite => [true; 3],
            Security::Asymptotic => [true, false, false],
        };
        Ok(Pipeline {
            processor: BlockProcessor::new(config, link)?,
            block_size,
            key_classes,
            open: OpenBlock::default(),
            blocks: Vec::new(),
            error: None,
            sink: None,
            elapsed: Duration::ZERO,
        })
    }

    /// Hands every block's final keys (Alice's, Bob's) to `sink` as they are produced.
    pub fn with_key_sink(mut self, sink: impl FnMut(&BlockReport, &BitString, &BitString) + 's) -> Self {
        self.sink = Some(Box::new(sink));
        self
    }

    /// The reports of the blocks processed so far.
    pub fn blocks(&self) -> &[BlockReport] {
        &self.blocks
    }

    fn close(&mut self, end_pulse: u64, partial: bool) {
        let open = &mut self.open;
        let block = SiftedBlock {
            pulses: end_pulse - open.first_pulse,
            packed: std::mem::take(&mut open.packed),
            errors: std::mem::take(&mut open.errors),
            first_pulse: open.first_pulse,
            totals: std::mem::take(&mut open.totals),
        };
        open.first_pulse = end_pulse;
        let index = self.blocks.len() as u64;
        if self.error.is_some() {
            return;
        }
        let n = block.len();
        if partial && (2 * n < self.block_size || n <= self.processor.config().sample.size(n)) {
            self.blocks.push(blank_report(index, &block, &self.processor.config().settings, 0, AbortReason::Dropped));
            return;
        }
        let started = Instant::now();
        match self.processor.process(index, block, self.sink.as_mut()) {
            Ok(report) => self.blocks.push(report),
            Err(e) => self.error = Some(e),
        }
        self.elapsed += started.elapsed();
    }

    /// Processes the last partial block (or drops it) and returns the report of the run.
    pub fn finish(mut self, run: &LinkRun) -> Result<PipelineReport, PostprocessError> {
        let pulses = run.totals.pulses();
        if !self.open.packed.is_empty() {
            self.close(pulses.max(self.open.first_pulse), true);
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let config = self.processor.config();
        let seconds = pulses as f64 / run.model.config.source.repetition_rate_hz;
        let processed: Vec<&BlockReport> =
            self.blocks.iter().filter(|b| b.abort_reason != AbortReason::Dropped).collect();
        let secret_bits: u64 = processed.iter().map(|b| b.final_bits).sum();
        let leak: u64 = processed.iter().map(|b| b.leak_ec_bits).sum();
        let shannon: f64 = processed
            .iter()
            .filter(|b| b.reconciliation_efficiency.is_some())
            .map(|b| b.leak_ec_bits as f64 / b.reconciliation_efficiency.unwrap_or(1.0))
            .sum();
        let count = |reason: AbortReason| processed.iter().filter(|b| b.abort_reason == reason).count() as u64;
        let summary = PipelineSummary {
            secret_bits,
            secret_key_rate_bps: if seconds > 0.0 { secret_bits as f64 / seconds } else { 0.0 },
            secret_key_rate_per_pulse: if pulses > 0 { secret_bits as f64 / pulses as f64 } else { 0.0 },
            leak_ec_bits: leak,
            reconciliation_efficiency: (shannon > 0.0).then(|| {
                let reconciled_leak: u64 =
                    processed.iter().filter(|b| b.reconciliation_efficiency.is_some()).map(|b| b.leak_ec_bits).sum();
                reconciled_leak as f64 / shannon
            }),
            blocks: processed.len() as u64,
            blocks_aborted: processed.iter().filter(|b| !b.produced_key()).count() as u64,
            reconciler: config.reconciler.name(),
            security: config.settings.security,
            block_size: config.settings.block_size,
            sample_bits: processed.iter().map(|b| b.sample_bits).sum(),
            verification_bits: processed.iter().map(|b| b.verification_bits).sum(),
            dropped_bits: self
                .blocks
                .iter()
                .filter(|b| b.abort_reason == AbortReason::Dropped)
                .map(|b| b.n_sifted)
                .sum(),
            final_key_mismatches: count(AbortReason::FinalMismatch),
            verification_failures: count(AbortReason::Verification),
        };
        Ok(PipelineReport { blocks: std::mem::take(&mut self.blocks), summary, elapsed: self.elapsed })
    }
}

impl LinkObserver for Pipeline<'_> {
    fn detection(&mut self, d: &Detection) {
        self.open.totals.add_detection(d);
        if d.is_sifted() && d.alice_basis == Basis::Z && self.key_classes[d.class.index()] {
            push_wiping(&mut self.open.packed, (d.alice_bit & 1) | ((d.bob_bit & 1) << 1), self.block_size);
            self.open.errors += u64::from(d.alice_bit != d.bob_bit);
            if self.open.packed.len() == self.block_size {
                self.close(d.pulse + 1, false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::photonics::simulate_link;
    use crate::postprocess::pipeline::test_support::{link, settings};

    #[test]
    fn short_tail_is_dropped_and_reported() {
        // About 3·10⁴ key bits against blocks of 10⁵: one partial block, under half a block.
        let link = link(10.0, 1_000_000);
        let mut pipeline = Pipeline::new(PipelineConfig::new(settings(100_000, Security::Finite), 1), &link).unwrap();
        let run = simulate_link(&link, &mut pipeline).unwrap();
        let report = pipeline.finish(&run).unwrap();
        assert_eq!(report.blocks.len(), 1);
        let b = &report.blocks[0];
        assert_eq!(b.abort_reason, AbortReason::Dropped);
        assert!(b.n_sifted > 10_000 && b.n_sifted < 50_000, "{b:?}");
        assert_eq!(b.pulses, run.totals.pulses());
        assert_eq!((report.summary.blocks, report.summary.blocks_aborted), (0, 0));
        assert_eq!(report.summary.dropped_bits, b.n_sifted);
        assert_eq!(report.summary.secret_bits, 0);
    }

    #[test]
    fn error_free_link_reconciles_with_a_qber_floor() {
        // No misalignment, no dark counts: the sample shows no error, Cascade is tuned with
        // 1/k, and the keys still agree.
        let mut link = link(10.0, 60_000_000);
        link.detector.misalignment = 0.0;
        link.detector.dark_count_probability = 0.0;
        let mut equal = Vec::new();
        let mut pipeline = Pipeline::new(PipelineConfig::new(settings(100_000, Security::Asymptotic), 2), &link)
            .unwrap()
            .with_key_sink(|_, a, b| equal.push(a == b));
        let run = simulate_link(&link, &mut pipeline).unwrap();
        let report = pipeline.finish(&run).unwrap();
        assert!(report.summary.blocks >= 2, "{:?}", report.summary);
        for b in report.blocks.iter().filter(|b| b.abort_reason != AbortReason::Dropped) {
            assert_eq!((b.qber_true, b.qber_estimated), (0.0, 0.0));
            assert_eq!(b.reconciliation_efficiency, None);
            assert!(b.produced_key(), "{b:?}");
        }
        assert!(!equal.is_empty() && equal.iter().all(|&e| e));
        assert_eq!(report.summary.reconciliation_efficiency, None);
    }
}
