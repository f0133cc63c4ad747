//! The pipeline's configuration: the Cascade variant used by default, the QBER sample size
//! rule and [`PipelineConfig`] with its validation against the link it will process.

use serde::Serialize;

use crate::photonics::{LinkConfig, LinkEngine};
use crate::postprocess::cascade::CascadeVariant;
use crate::postprocess::ldpc::{BlindReconciler, LdpcReconciler};
use crate::postprocess::{PostprocessSettings, Security};
use crate::units::InvalidParameter;

/// The Cascade variant used when none is chosen: option 7 of Martinez-Mateo et al. (QIC 15,
/// 2015). Measured with `qecnet cascade-study` on 10⁶-bit frames (6 frames each), it is the
/// most efficient variant at the QBERs of working links — f = 1.022, 1.028, 1.036 at 1, 2,
/// 4 % against 1.033, 1.032, 1.038 for option 8 and ≥ 1.05 for the others — with 4–20× fewer
/// round trips than option 8.
pub const DEFAULT_RECONCILER: CascadeVariant = CascadeVariant::Option7;

/// The reconciler of step 3: a Cascade variant, or rate-adaptive LDPC syndrome coding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reconciliation {
    /// Interactive Cascade.
    Cascade(CascadeVariant),
    /// One-message LDPC syndrome coding with puncturing and shortening
    /// ([`crate::postprocess::ldpc::LdpcReconciler`]).
    Ldpc(LdpcReconciler),
    /// Blind LDPC: fully punctured frames, punctured values revealed in rounds
    /// ([`crate::postprocess::ldpc::BlindReconciler`]).
    LdpcBlind(BlindReconciler),
}

impl Reconciliation {
    /// The name in reports: the Cascade variant's (`option7`, …) or `ldpc`.
    pub fn name(&self) -> &'static str {
        match self {
            Reconciliation::Cascade(variant) => variant.name(),
            Reconciliation::Ldpc(_) => "ldpc",
            Reconciliation::LdpcBlind(_) => "ldpc-blind",
        }
    }

    /// The name as `--reconciler` spells it: `cascade-option7`, …, `ldpc`.
    pub fn label(&self) -> String {
        match self {
            Reconciliation::Cascade(variant) => format!("cascade-{}", variant.name()),
            Reconciliation::Ldpc(_) => "ldpc".into(),
            Reconciliation::LdpcBlind(_) => "ldpc-blind".into(),
        }
    }
}

impl From<CascadeVariant> for Reconciliation {
    fn from(variant: CascadeVariant) -> Self {
        Reconciliation::Cascade(variant)
    }
}

/// How many bits of a block are disclosed to estimate its QBER.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QberSample {
    /// Fraction of the block sampled.
    pub fraction: f64,
    /// Smallest sample.
    pub minimum: usize,
    /// Largest sample.
    pub maximum: usize,
}

impl Default for QberSample {
    /// 0.5 % of the block, at least 1000 and at most 100 000 bits (see the module docs).
    fn default() -> Self {
        QberSample { fraction: 0.005, minimum: 1000, maximum: 100_000 }
    }
}

impl QberSample {
    /// Sample size for a block of `n` bits: `clamp(⌈fraction·n⌉, minimum, maximum)`.
    pub fn size(&self, n: usize) -> usize {
        ((self.fraction * n as f64).ceil() as usize).clamp(self.minimum, self.maximum.max(self.minimum))
    }
}

/// Everything the pipeline needs besides the link.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// The `[postprocess]` section: ε_sec, ε_cor, block size, security analysis (f_EC is not
    /// used: the pipeline subtracts the leak it measures).
    pub settings: PostprocessSettings,
    /// Reconciler (a Cascade variant by default).
    pub reconciler: Reconciliation,
    /// QBER sample size.
    pub sample: QberSample,
    /// Seed of the pipeline's random streams.
    pub seed: u64,
}

impl PipelineConfig {
    /// The default reconciler and sample with `settings` and `seed`.
    pub fn new(settings: PostprocessSettings, seed: u64) -> Self {
        PipelineConfig {
            settings,
            reconciler: Reconciliation::Cascade(DEFAULT_RECONCILER),
            sample: QberSample::default(),
            seed,
        }
    }

    /// Checks the settings and that they fit `link`; the error names the parameter.
    pub fn validate(&self, link: &LinkConfig) -> Result<(), InvalidParameter> {
        self.settings.validate()?;
        let s = &self.sample;
        if !(s.fraction > 0.0 && s.fraction < 1.0) {
            return Err(InvalidParameter::new("QBER sample fraction", s.fraction, "must be in (0, 1)"));
        }
        if s.minimum == 0 {
            return Err(InvalidParameter::new("QBER sample minimum", 0, "must be at least 1 bit"));
        }
        let block = self.settings.block_size;
        let sample = self.sample.size(usize::try_from(block).unwrap_or(usize::MAX));
        if block <= sample as u64 {
            return Err(InvalidParameter::new(
                "postprocess.block_size",
                block,
                format!(
                    "must exceed the QBER sample of {sample} bits (max(⌈{} %·block⌉, {}) bits, disclosed and \
                     discarded)",
                    100.0 * s.fraction,
                    s.minimum
                ),
            ));
        }
        if link.simulation.engine == LinkEngine::Block {
            return Err(InvalidParameter::new(
                "simulation.engine",
                "block",
                "post-processing needs individual detections: use the event or pulse engine",
            ));
        }
        let src = &link.source;
        if self.settings.security == Security::Finite
            && src.signal_intensity <= src.decoy_intensity + src.vacuum_intensity
        {
            return Err(InvalidParameter::new(
                "source.signal_intensity",
                src.signal_intensity,
                format!(
                    "must exceed decoy + vacuum intensities ({} + {}) for the Lim et al. 2014 bounds",
                    src.decoy_intensity, src.vacuum_intensity
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postprocess::pipeline::test_support::{link, settings};

    #[test]
    fn sample_size_rule() {
        let s = QberSample::default();
        assert_eq!(s.size(10_000), 1000);
        assert_eq!(s.size(1_000_000), 5000);
        assert_eq!(s.size(100_000_000), 100_000);
    }

    #[test]
    fn configuration_errors_name_the_parameter() {
        let l = link(10.0, 1000);
        let e = PipelineConfig::new(settings(1000, Security::Finite), 0).validate(&l).unwrap_err();
        assert_eq!(e.field, "postprocess.block_size");
        assert!(e.allowed.contains("QBER sample of 1000 bits"), "{e}");
        let mut bad = settings(10_000, Security::Finite);
        bad.epsilon_sec = 0.0;
        let e = PipelineConfig::new(bad, 0).validate(&l).unwrap_err();
        assert_eq!(e.to_string(), "postprocess.epsilon_sec = 0: must be in (0, 1)");
        let mut block_engine = l.clone();
        block_engine.simulation.engine = LinkEngine::Block;
        let e = PipelineConfig::new(settings(10_000, Security::Finite), 0).validate(&block_engine).unwrap_err();
        assert_eq!(e.field, "simulation.engine");
    }
}
