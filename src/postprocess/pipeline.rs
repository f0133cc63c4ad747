//! The per-block post-processing pipeline: from a simulated link's sifted key to a final
//! secret key shared by Alice and Bob, block by block, with every disclosed bit accounted for.
//!
//! [`Pipeline`] is a [`LinkObserver`]: it streams the detections of
//! [`simulate_link`](crate::photonics::simulate_link) into blocks of
//! `postprocess.block_size` key-basis (Z) sifted bits and processes each block as soon as it
//! is complete, so memory holds one block, never the whole sifted key: about one byte per key
//! bit of the open block (Alice's bit, Bob's bit and the intensity class packed in a byte,
//! wiped when the block closes) plus, while a block is processed, its two packed keys (n/4
//! bytes) and Cascade's permuted copies of them (n/8 bytes per pass and party, wiped). A block
//! spans the pulses from the one after the previous block's last key bit
//! to its own last key bit; every detection in that range (test basis, other classes) is
//! counted in the block, which is how the finite-key bound gets per-block counts of both bases
//! per intensity class.
//!
//! Each block goes through, in order ([`BlockProcessor`]):
//! 1. **parameter estimation** — a uniformly random sample of `k` positions (Knuth's selection
//!    sampling, *TAOCP* vol. 2, Algorithm 3.4.2 S, O(1) extra memory) is disclosed, its QBER
//!    estimated and the sample discarded; `k = clamp(⌈0.5 % · n⌉, 1000, 100 000)`
//!    ([`QberSample::default`]): 1000 bits put the estimate within ±15 % (one standard
//!    deviation) of a 4 % QBER, enough to tune Cascade, whose first block size is a rounded
//!    `0.73/Q` or a power of two; past 10⁵ bits a better estimate saves nothing. The
//!    simulator's full-block QBER is reported beside it (ground truth Alice and Bob never see).
//! 2. **security bound** with zero error-correction leak: `finite` — the key length of Lim,
//!    Curty, Walenta, Xu, Zbinden, PRA 89, 022307 (2014), Sec. III ([`Lim2014::key_length`])
//!    from the block's key- and test-basis counts per intensity; `asymptotic` — the vacuum +
//!    weak decoy bounds of Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005) ([`vacuum_weak_bounds`])
//!    from the block's gains, `ℓ = n·(Q₁/Q_μ)·(1 − h(e₁)) − disclosed` with
//!    `Q₁ = Y₁ μ e^(−μ)` (the GLLP length of the block's signal key bits). A block whose bound
//!    is already ≤ 0 aborts with `no_key` before anything else is disclosed.
//! 3. **reconciliation** by Cascade ([`reconcile`]) tuned with the estimated QBER; `leak_EC` is
//!    the number of parity bits Alice actually sent, counted at her side of the channel.
//! 4. **verification** ([`VerificationHash`], collision probability ≤ ε_cor): a mismatch
//!    aborts the block.
//! 5. **privacy amplification** ([`ToeplitzHash`], fresh public seed per block) to
//!    `ℓ = bound(disclosed)`, where everything disclosed about the block is subtracted: the
//!    `k` sample bits (chain rule, `H_min(X_rest | E, X_sample) ≥ H_min(X | E) − k`), `leak_EC`
//!    and the `64·t` verification tag bits. For `finite` that is
//!    `ℓ = ⌊s_X0 + s_X1(1 − h(φ_X)) − k − leak_EC − 64t − 6 log₂(21/ε_sec) − log₂(2/ε_cor)⌋`
//!    (Lim et al. 2014, Sec. III). `ℓ ≤ 0` aborts the block with `no_key`.
//! 6. Alice's and Bob's final keys are compared (simulation check); a difference is counted
//!    as a failure (`final_mismatch`) and the block gives no key.
//!
//! The key is the Z-basis sifted bits of every intensity class for `finite` (Lim et al.'s
//! protocol) and of the signal class only for `asymptotic` (GLLP). The last, partial block is
//! processed when it holds at least half a block and more than its sample, and is otherwise
//! reported as `dropped`.
//!
//! Every random choice (sample, Cascade permutations, verification points, Toeplitz seed)
//! comes from [`derive_rng`] on (seed, pipeline domain, block, step): the output depends only
//! on the seed. Key bits are never printed or logged; [`BitString`] wipes itself.

use std::rc::Rc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Serialize;
use zeroize::Zeroize;

use super::bits::BitString;
use super::cascade::{AliceParities, CascadeConfig, CascadeVariant, ParityOracle, PassLayout, RangeRequest, reconcile};
use super::estimation::{BasisCounts, Lim2014, vacuum_weak_bounds};
use super::keyrate::binary_entropy;
use super::privacy::ToeplitzHash;
use super::verify::VerificationHash;
use super::{PostprocessError, PostprocessSettings, Security};
use crate::photonics::link::{Detection, LinkObserver, LinkRun, Totals};
use crate::photonics::source::Basis;
use crate::photonics::{LinkConfig, LinkEngine};
use crate::rng::derive_rng;
use crate::units::InvalidParameter;

/// The Cascade variant used when none is chosen: option 7 of Martinez-Mateo et al. (QIC 15,
/// 2015). Measured with `qecnet cascade-study` on 10⁶-bit frames (6 frames each), it is the
/// most efficient variant at the QBERs of working links — f = 1.022, 1.028, 1.036 at 1, 2,
/// 4 % against 1.033, 1.032, 1.038 for option 8 and ≥ 1.05 for the others — with 4–20× fewer
/// round trips than option 8.
pub const DEFAULT_RECONCILER: CascadeVariant = CascadeVariant::Option7;

/// First element of every random-stream path of the pipeline ("PIPE"), apart from the
/// simulation's chunk streams.
const RNG_DOMAIN: u64 = 0x5049_5045;

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
    /// Cascade variant.
    pub reconciler: CascadeVariant,
    /// QBER sample size.
    pub sample: QberSample,
    /// Seed of the pipeline's random streams.
    pub seed: u64,
}

impl PipelineConfig {
    /// The default reconciler and sample with `settings` and `seed`.
    pub fn new(settings: PostprocessSettings, seed: u64) -> Self {
        PipelineConfig { settings, reconciler: DEFAULT_RECONCILER, sample: QberSample::default(), seed }
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
    /// Parity bits Alice disclosed during Cascade, counted at her side of the channel.
    pub leak_ec_bits: u64,
    /// What Cascade itself reported as disclosed (equal to `leak_ec_bits`).
    pub cascade_reported_bits: u64,
    /// Bits of verification tags disclosed (64 per tag).
    pub verification_bits: u64,
    /// `leak_EC / (m·h(e))` for the m reconciled bits and their true error rate e (None when
    /// not reconciled or error-free).
    pub reconciliation_efficiency: Option<f64>,
    /// Cascade round trips on the classical channel.
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

/// A closed block: its key bits and its counts.
#[derive(Debug)]
struct SiftedBlock {
    /// One byte per key bit: bit 0 Alice's bit, bit 1 Bob's.
    packed: Vec<u8>,
    /// Errors among the key bits.
    errors: u64,
    /// First pulse of the range.
    first_pulse: u64,
    /// Pulses in the range.
    pulses: u64,
    /// Counts of every detection in the range.
    totals: Totals,
}

impl Drop for SiftedBlock {
    fn drop(&mut self) {
        self.packed.zeroize();
    }
}

impl SiftedBlock {
    fn len(&self) -> usize {
        self.packed.len()
    }

    fn counts(&self) -> BlockCounts {
        let basis = |b: Basis| {
            let b = b.index();
            let mut c = BasisCounts::default();
            for k in 0..3 {
                c.detections[k] = self.totals.sifted[k][b] as f64;
                c.errors[k] = self.totals.errors[k][b] as f64;
            }
            c
        };
        BlockCounts {
            key: basis(Basis::Z),
            test: basis(Basis::X),
            detections: std::array::from_fn(|k| self.totals.detections[k].iter().sum()),
            pulses: self.pulses,
            key_bits: self.packed.len() as u64,
        }
    }
}

/// Alice's side of Cascade with the parity bits she sends counted as they cross the channel.
struct CountingAlice<'a> {
    inner: AliceParities<'a>,
    parity_bits: u64,
}

impl ParityOracle for CountingAlice<'_> {
    fn begin_pass(&mut self, layout: &Rc<PassLayout>) {
        self.inner.begin_pass(layout);
    }

    fn parities(&mut self, requests: &[RangeRequest], answers: &mut Vec<bool>) {
        let before = answers.len();
        self.inner.parities(requests, answers);
        self.parity_bits += (answers.len() - before) as u64;
    }
}

/// Final keys of a block, handed to a key sink: Alice's and Bob's (equal).
pub type KeySink<'s> = Box<dyn FnMut(&BlockReport, &BitString, &BitString) + 's>;

/// Processes closed blocks (steps 1–6 of the module docs).
#[derive(Debug, Clone)]
pub struct BlockProcessor {
    config: PipelineConfig,
    link: LinkConfig,
}

impl BlockProcessor {
    /// A processor for blocks of `link` with `config` (validated).
    pub fn new(config: PipelineConfig, link: &LinkConfig) -> Result<Self, InvalidParameter> {
        config.validate(link)?;
        Ok(BlockProcessor { config, link: link.clone() })
    }

    /// The configuration.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Secret length (bits, floored, at least 0) of a block with `counts` when `disclosed`
    /// bits about its key are public (step 2 and 5 of the module docs).
    pub fn bound(&self, counts: &BlockCounts, disclosed: f64) -> f64 {
        let s = &self.config.settings;
        let src = &self.link.source;
        match s.security {
            Security::Finite => {
                let lim = Lim2014 {
                    intensities: [src.signal_intensity, src.decoy_intensity, src.vacuum_intensity],
                    probabilities: [src.signal_probability, src.decoy_probability, src.vacuum_probability],
                    epsilon_sec: s.epsilon_sec,
                };
                lim.key_length(&counts.key, &counts.test, disclosed, s.epsilon_cor)
            }
            Security::Asymptotic => {
                // Pulses per class in the range: N·p_k. The event engine never materialises
                // the class of a silent pulse; the relative error ~1/sqrt(N p_k) of this is far
                // below that of the detection counts.
                let p = [src.signal_probability, src.decoy_probability, src.vacuum_probability];
                let gain =
                    |k: usize| counts.detections[k] as f64 / (counts.pulses as f64 * p[k]).max(f64::MIN_POSITIVE);
                let decoy_sifted = counts.key.detections[1] + counts.test.detections[1];
                let decoy_errors = counts.key.errors[1] + counts.test.errors[1];
                let e_nu = if decoy_sifted > 0.0 { decoy_errors / decoy_sifted } else { 0.5 };
                let (mu, q_mu) = (src.signal_intensity, gain(0));
                if q_mu <= 0.0 {
                    return 0.0;
                }
                let b = vacuum_weak_bounds(mu, src.decoy_intensity, q_mu, gain(1), e_nu, gain(2));
                let single_fraction = (b.yield_lower * mu * (-mu).exp() / q_mu).min(1.0);
                let n = counts.key_bits as f64;
                (n * single_fraction * (1.0 - binary_entropy(b.error_upper)) - disclosed).floor().max(0.0)
            }
        }
    }

    /// Runs the steps of the module docs on block `index`; `sink` receives the final keys.
    fn process(
        &self,
        index: u64,
        block: SiftedBlock,
        sink: Option<&mut KeySink<'_>>,
    ) -> Result<BlockReport, PostprocessError> {
        let started = Instant::now();
        let s = &self.config.settings;
        let n = block.len();
        let k = self.config.sample.size(n).min(n);
        let mut report = blank_report(index, &block, s, k as u64, AbortReason::None);
        let finish = |mut report: BlockReport, reason: AbortReason| {
            report.abort_reason = reason;
            report.elapsed = started.elapsed();
            Ok(report)
        };

        // 1. Sample k positions uniformly (selection sampling), disclose and discard them.
        let m = n - k;
        let mut alice = BitString::zeros(m);
        let mut bob = BitString::zeros(m);
        let mut rng = derive_rng(self.config.seed, &[RNG_DOMAIN, index, 0]);
        let (mut sample_errors, mut chosen, mut kept) = (0u64, 0usize, 0usize);
        for (i, &byte) in block.packed.iter().enumerate() {
            let (a, b) = (byte & 1 == 1, byte & 2 == 2);
            if ((rng.next_u64() % (n - i) as u64) as usize) < k - chosen {
                chosen += 1;
                sample_errors += u64::from(a != b);
            } else {
                alice.set(kept, a);
                bob.set(kept, b);
                kept += 1;
            }
        }
        debug_assert_eq!((chosen, kept), (k, m));
        drop(block);
        report.qber_estimated = if k == 0 { 0.0 } else { sample_errors as f64 / k as f64 };
        if report.qber_estimated >= 0.5 {
            return finish(report, AbortReason::QberTooHigh);
        }

        // 2. The bound with only the sample disclosed.
        if m == 0 || self.bound(&report.counts, k as f64) < 1.0 {
            return finish(report, AbortReason::NoKey);
        }

        // 3. Cascade, tuned with the estimate (at least 1/k when the sample shows no error).
        let frame_errors = alice.hamming_distance(&bob);
        let tune = report.qber_estimated.max(1.0 / k.max(1) as f64);
        let cascade = CascadeConfig::new(self.config.reconciler, tune, m)?;
        let mut channel = CountingAlice { inner: AliceParities::new(&alice), parity_bits: 0 };
        let outcome = reconcile(&mut bob, &mut channel, &cascade, rng.next_u64())?;
        report.leak_ec_bits = channel.parity_bits;
        report.cascade_reported_bits = outcome.leaked_bits;
        report.channel_uses = outcome.channel_uses;
        report.residual_errors = alice.hamming_distance(&bob) as u64;
        if frame_errors > 0 {
            report.reconciliation_efficiency = Some(outcome.efficiency(m, frame_errors as f64 / m as f64));
        }

        self.finalise(report, &alice, &bob, sink, started)
    }

    /// Steps 4–6 on the reconciled keys of a block whose report holds the sample and the leak.
    fn finalise(
        &self,
        mut report: BlockReport,
        alice: &BitString,
        bob: &BitString,
        sink: Option<&mut KeySink<'_>>,
        started: Instant,
    ) -> Result<BlockReport, PostprocessError> {
        let finish = |mut report: BlockReport, reason: AbortReason| {
            report.abort_reason = reason;
            report.elapsed = started.elapsed();
            Ok(report)
        };
        let (index, m) = (report.index, alice.len());

        // 4. Verification.
        let mut rng = derive_rng(self.config.seed, &[RNG_DOMAIN, index, 1]);
        let hash = VerificationHash::new(m, self.config.settings.epsilon_cor, &mut rng)?;
        let tags = hash.tags(alice)?;
        let verdict = hash.check(&tags, bob)?;
        report.verification_bits = verdict.disclosed_bits;
        if !verdict.matched {
            return finish(report, AbortReason::Verification);
        }

        // 5. Privacy amplification to the bound with everything disclosed subtracted.
        let disclosed = (report.sample_bits + report.leak_ec_bits + report.verification_bits) as f64;
        let length = self.bound(&report.counts, disclosed).min(m as f64);
        if length < 1.0 {
            return finish(report, AbortReason::NoKey);
        }
        let length = length as usize;
        let mut rng = derive_rng(self.config.seed, &[RNG_DOMAIN, index, 2]);
        let toeplitz = ToeplitzHash::random(m, length, &mut rng)?;
        let final_alice = toeplitz.hash(alice)?;
        let final_bob = toeplitz.hash(bob)?;

        // 6. The final keys must agree.
        if final_alice != final_bob {
            return finish(report, AbortReason::FinalMismatch);
        }
        report.final_bits = length as u64;
        let mut report = finish(report, AbortReason::None)?;
        if let Some(sink) = sink {
            sink(&report, &final_alice, &final_bob);
            report.elapsed = started.elapsed();
        }
        Ok(report)
    }
}

/// The block being filled.
#[derive(Debug, Default)]
struct OpenBlock {
    packed: Vec<u8>,
    errors: u64,
    first_pulse: u64,
    totals: Totals,
}

impl Drop for OpenBlock {
    fn drop(&mut self) {
        self.packed.zeroize();
    }
}

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
        if partial && (2 * n < self.block_size || n <= self.processor.config.sample.size(n)) {
            self.blocks.push(blank_report(index, &block, &self.processor.config.settings, 0, AbortReason::Dropped));
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
        let config = &self.processor.config;
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

/// The report of block `index` before any step ran: counts and true QBER filled in, every
/// disclosure and the final length still zero, `sample_bits` and `reason` as given.
fn blank_report(
    index: u64,
    block: &SiftedBlock,
    s: &PostprocessSettings,
    sample_bits: u64,
    reason: AbortReason,
) -> BlockReport {
    let n = block.len();
    BlockReport {
        index,
        first_pulse: block.first_pulse,
        pulses: block.pulses,
        n_sifted: n as u64,
        sample_bits,
        qber_estimated: 0.0,
        qber_true: if n == 0 { 0.0 } else { block.errors as f64 / n as f64 },
        leak_ec_bits: 0,
        cascade_reported_bits: 0,
        verification_bits: 0,
        reconciliation_efficiency: None,
        channel_uses: 0,
        residual_errors: 0,
        eps_sec: s.epsilon_sec,
        eps_cor: s.epsilon_cor,
        final_bits: 0,
        abort_reason: reason,
        counts: block.counts(),
        elapsed: Duration::ZERO,
    }
}

/// Appends `byte` to the key bytes `packed`; when the buffer must grow, copies it into one
/// twice as large (at most `limit`) and wipes the old one, so no key bit is left behind in
/// freed memory by a reallocation.
fn push_wiping(packed: &mut Vec<u8>, byte: u8, limit: usize) {
    if packed.len() == packed.capacity() {
        let mut grown = Vec::with_capacity((2 * packed.capacity()).max(4096).min(limit).max(packed.len() + 1));
        grown.extend_from_slice(packed);
        packed.zeroize();
        *packed = grown;
    }
    packed.push(byte);
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

    fn link(km: f64, pulses: u64) -> LinkConfig {
        let mut c = LinkConfig::default();
        c.source.repetition_rate_hz = 1e9;
        c.source.signal_intensity = 0.5;
        c.source.decoy_intensity = 0.1;
        c.detector.efficiency = 0.6;
        c.detector.dark_count_probability = 1e-8;
        c.detector.misalignment = 0.01;
        c.channel.attenuation_db_per_km = 0.2;
        c.channel.length_km = km;
        c.simulation.pulses = pulses;
        c
    }

    fn settings(block_size: u64, security: Security) -> PostprocessSettings {
        PostprocessSettings { block_size, security, ..PostprocessSettings::default() }
    }

    #[test]
    fn sample_size_rule() {
        let s = QberSample::default();
        assert_eq!(s.size(10_000), 1000);
        assert_eq!(s.size(1_000_000), 5000);
        assert_eq!(s.size(100_000_000), 100_000);
    }

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

    #[test]
    fn keys_that_still_differ_abort_at_verification() {
        // Steps 4–6 on keys that differ in one bit (as Cascade may leave them): the block
        // aborts at verification, gives no key, and nothing reaches the sink; equal keys give
        // the bound's length.
        let l = link(10.0, 1);
        let m = 100_000;
        let processor = BlockProcessor::new(PipelineConfig::new(settings(m as u64, Security::Finite), 4), &l).unwrap();
        // Counts of a block with a large bound (every detection single-photon-like).
        let mut counts = BlockCounts { pulses: 10 * m as u64, key_bits: m as u64, ..BlockCounts::default() };
        for (k, share) in [0.7, 0.2, 0.1].into_iter().enumerate() {
            counts.key.detections[k] = share * 10.0 * m as f64;
            counts.test.detections[k] = share * 10.0 * m as f64;
            counts.test.errors[k] = 0.01 * counts.test.detections[k];
        }
        let report = BlockReport {
            index: 0,
            first_pulse: 0,
            pulses: counts.pulses,
            n_sifted: m as u64,
            sample_bits: 0,
            qber_estimated: 0.0,
            qber_true: 0.0,
            leak_ec_bits: 0,
            cascade_reported_bits: 0,
            verification_bits: 0,
            reconciliation_efficiency: None,
            channel_uses: 0,
            residual_errors: 1,
            eps_sec: 1e-10,
            eps_cor: 1e-15,
            final_bits: 0,
            abort_reason: AbortReason::None,
            counts,
            elapsed: Duration::ZERO,
        };
        let alice = BitString::random(m, &mut derive_rng(4, &[1]));
        let mut bob = alice.clone();
        bob.flip(12_345);
        let mut reached = 0;
        let mut sink: KeySink<'_> = Box::new(|_, _, _| reached += 1);
        let out = processor.finalise(report.clone(), &alice, &bob, Some(&mut sink), Instant::now()).unwrap();
        assert_eq!((out.abort_reason, out.final_bits, out.verification_bits), (AbortReason::Verification, 0, 64));
        let out = processor.finalise(report, &alice, &alice, Some(&mut sink), Instant::now()).unwrap();
        drop(sink);
        assert_eq!(out.abort_reason, AbortReason::None);
        assert_eq!(out.final_bits as f64, processor.bound(&counts, 64.0).min(m as f64));
        assert_eq!(reached, 1);
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
