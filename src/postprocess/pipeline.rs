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
//!
//! The parts, one file each: `config` (the configuration and its validation), `report` (the
//! per-block report, its CSV and the run's totals), `block` (the open block and the
//! closed one), `processor` (the [`BlockProcessor`], steps 1–6) and `observer` (the streaming
//! [`Pipeline`]).
//!
//! [`LinkObserver`]: crate::photonics::link::LinkObserver
//! [`Lim2014::key_length`]: super::estimation::Lim2014::key_length
//! [`vacuum_weak_bounds`]: super::estimation::vacuum_weak_bounds
//! [`reconcile`]: super::cascade::reconcile
//! [`VerificationHash`]: super::verify::VerificationHash
//! [`ToeplitzHash`]: super::privacy::ToeplitzHash
//! [`derive_rng`]: crate::rng::derive_rng
//! [`BitString`]: super::bits::BitString

mod block;
mod cascade_frames;
mod config;
mod observer;
mod processor;
mod report;

pub use cascade_frames::{FramedOutcome, frame_ranges, reconcile_in_frames};
pub use config::{DEFAULT_RECONCILER, PipelineConfig, QberSample, Reconciliation};
pub use observer::Pipeline;
pub use processor::{BlockProcessor, KeySink};
pub use report::{AbortReason, BlockCounts, BlockReport, PipelineReport, PipelineSummary, write_blocks_csv};

/// The link and settings the unit tests of the pipeline's parts share.
#[cfg(test)]
mod test_support {
    use crate::photonics::LinkConfig;
    use crate::postprocess::{PostprocessSettings, Security};

    pub(super) fn link(km: f64, pulses: u64) -> LinkConfig {
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

    pub(super) fn settings(block_size: u64, security: Security) -> PostprocessSettings {
        PostprocessSettings { block_size, security, ..PostprocessSettings::default() }
    }
}
