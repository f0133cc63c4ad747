//! What the pipeline reports: per block ([`BlockReport`], its CSV line and the counts its
//! bound was computed from) and per run ([`PipelineSummary`], [`PipelineReport`]).

use std::time::Duration;

use serde::Serialize;

use crate::postprocess::Security;
use crate::postprocess::estimation::BasisCounts;

/// Why a block gave no key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AbortReason {
    /// The block was not aborted.
    None,
    /// The estimated QBER is 0.5 or more: Cascade cannot be tuned, no key can exist.
    QberTooHigh,
    /// The security bound leaves no secret bit (before or after reconciliation).
    NoKey,
    /// The verification tags differ: reconciliation left errors.
    Verification,
    /// Alice's and Bob's final keys differ although verification passed (a failure).
    FinalMismatch,
    /// The last, partial block was too short to process.
    Dropped,
}

impl AbortReason {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            AbortReason::None => "none",
            AbortReason::QberTooHigh => "qber_too_high",
            AbortReason::NoKey => "no_key",
            AbortReason::Verification => "verification",
            AbortReason::FinalMismatch => "final_mismatch",
            AbortReason::Dropped => "dropped",
        }
    }
}

/// What happened to one block.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockReport {
    /// Block number, from 0.
    pub index: u64,
    /// First pulse of the block's range.
    pub first_pulse: u64,
    /// Pulses in the block's range (uses of the quantum channel).
    pub pulses: u64,
    /// Key-basis sifted bits in the block, n.
    pub n_sifted: u64,
    /// Bits disclosed and discarded to estimate the QBER, k.
    pub sample_bits: u64,
    /// QBER of the sample.
    pub qber_estimated: f64,
    /// QBER of the whole block (simulation ground truth).
    pub qber_true: f64,
    /// Bits Alice disclosed during reconciliation (Cascade's parities; LDPC's syndrome and
    /// revealed bits), counted at her side of the channel.
    pub leak_ec_bits: u64,
    /// What the reconciler itself reported as disclosed (equal to `leak_ec_bits`).
    pub reconciler_reported_bits: u64,
    /// Bits of verification tags disclosed (64 per tag).
    pub verification_bits: u64,
    /// `leak_EC / (m·h(e))` for the m reconciled bits and their true error rate e (None when
    /// not reconciled or error-free).
    pub reconciliation_efficiency: Option<f64>,
    /// Reconciliation round trips on the classical channel (LDPC: the syndrome message, then
    /// one per reveal round).
    pub channel_uses: u64,
    /// Errors left in Bob's key after Cascade (simulation ground truth).
    pub residual_errors: u64,
    /// ε_sec of the bound.
    pub eps_sec: f64,
    /// ε_cor of the bound (the verification hashes collide with at most this probability).
    pub eps_cor: f64,
    /// Final secret bits.
    pub final_bits: u64,
    /// Why the block gave no key (`None` when it did).
    pub abort_reason: AbortReason,
    /// The counts the security bound was computed from.
    pub counts: BlockCounts,
    /// Wall-clock time spent processing the block.
    pub elapsed: Duration,
}

impl BlockReport {
    /// CSV header of [`BlockReport::write_csv`].
    pub const CSV_HEADER: &'static str = "block,first_pulse,pulses,n_sifted,sample_bits,qber_estimated,qber_true,\
leak_ec_bits,verification_bits,reconciliation_efficiency,channel_uses,residual_errors,eps_sec,eps_cor,final_bits,\
abort_reason";

    /// One CSV line (no key material; no wall-clock time, so the file depends only on the seed).
    pub fn write_csv(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let efficiency = self.reconciliation_efficiency.map(|f| format!("{f:.6}")).unwrap_or_default();
        writeln!(
            out,
            "{},{},{},{},{},{:.6e},{:.6e},{},{},{},{},{},{:e},{:e},{},{}",
            self.index,
            self.first_pulse,
            self.pulses,
            self.n_sifted,
            self.sample_bits,
            self.qber_estimated,
            self.qber_true,
            self.leak_ec_bits,
            self.verification_bits,
            efficiency,
            self.channel_uses,
            self.residual_errors,
            self.eps_sec,
            self.eps_cor,
            self.final_bits,
            self.abort_reason.name()
        )
    }

    /// Whether the block gave key.
    pub fn produced_key(&self) -> bool {
        self.abort_reason == AbortReason::None
    }
}

/// Writes the per-block report as CSV.
pub fn write_blocks_csv(blocks: &[BlockReport], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    writeln!(out, "{}", BlockReport::CSV_HEADER)?;
    for b in blocks {
        b.write_csv(out)?;
    }
    Ok(())
}

/// The totals of a run's post-processing (serialised into `qecnet link --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineSummary {
    /// Final secret bits, all blocks.
    pub secret_bits: u64,
    /// Secret bits per second of simulated transmission (all pulses sent).
    pub secret_key_rate_bps: f64,
    /// Secret bits per pulse sent.
    pub secret_key_rate_per_pulse: f64,
    /// Cascade parity bits disclosed, all blocks.
    pub leak_ec_bits: u64,
    /// `Σ leak_EC / Σ m·h(e)` over the reconciled blocks (null if none).
    pub reconciliation_efficiency: Option<f64>,
    /// Blocks processed (the dropped tail not included).
    pub blocks: u64,
    /// Processed blocks that gave no key.
    pub blocks_aborted: u64,
    /// Cascade variant.
    pub reconciler: &'static str,
    /// Security analysis.
    pub security: Security,
    /// Key-basis bits per block.
    pub block_size: u64,
    /// QBER sample bits disclosed, all blocks.
    pub sample_bits: u64,
    /// Verification tag bits disclosed, all blocks.
    pub verification_bits: u64,
    /// Key-basis bits of a dropped partial block.
    pub dropped_bits: u64,
    /// Blocks whose final keys differed after passing verification (failures; should be 0).
    pub final_key_mismatches: u64,
    /// Blocks aborted by verification.
    pub verification_failures: u64,
}

/// The pipeline's result: the per-block reports and their totals.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineReport {
    /// One report per block, in order (the dropped tail last, if any).
    pub blocks: Vec<BlockReport>,
    /// Totals.
    pub summary: PipelineSummary,
    /// Wall-clock time spent in post-processing.
    pub elapsed: Duration,
}

/// The counts of a block that its security bound is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BlockCounts {
    /// Key-basis (Z) sifted detections and errors per intensity class in the block's range.
    pub key: BasisCounts,
    /// Test-basis (X) sifted detections and errors per intensity class in the block's range.
    pub test: BasisCounts,
    /// Detections per intensity class in the block's range (any basis).
    pub detections: [u64; 3],
    /// Pulses in the block's range.
    pub pulses: u64,
    /// Key bits of the block, n (all key-basis detections for `finite`, those of the signal
    /// class for `asymptotic`).
    pub key_bits: u64,
}
