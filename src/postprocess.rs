//! Post-processing: from sifted key to secret key.
//!
//! - [`estimation`]: decoy-state bounds (vacuum + weak, asymptotic; Lim et al. 2014 finite
//!   size);
//! - [`entropy`]: the binary entropy;
//! - [`keyrate`]: Shor–Preskill, GLLP, decoy-state and finite-key rates, the
//!   intensity optimiser and the maximum distance;
//! - [`settings`]: the `[postprocess]` section of a scenario;
//! - [`bits`]: the packed [`BitString`](bits::BitString) all steps work on;
//! - [`cascade`]: Cascade error correction (Brassard–Salvail 1993 and the improved variants
//!   studied by Martinez-Mateo et al. 2015), with exact accounting of the parities disclosed and
//!   of the channel round trips;
//! - [`verify`]: error verification of the reconciled keys by polynomial universal hashing over
//!   GF(2⁶⁴) with a stated collision probability ε_cor;
//! - [`privacy`]: privacy amplification by Toeplitz hashing, a reference O(n·m) implementation
//!   and two fast ones that equal it bit for bit, a carry-less Karatsuba product for short
//!   outputs and an additive FFT over GF(2⁶⁴) (O(N log N)) for long ones, chosen by cost;
//! - [`ldpc`]: LDPC syndrome reconciliation (codes, belief-propagation decoding; not yet
//!   wired into the pipeline);
//! - [`pipeline`]: all of the above per block of a simulated link's sifted key, streamed from
//!   the link simulation (`qecnet link --postprocess`).
//!
//! A block goes through them in that order: [`cascade::reconcile`] (Bob's key corrected,
//! `leak_EC` counted), [`verify::VerificationHash`] (abort the block on a mismatch; the tags
//! disclose 64 bits each), then [`privacy::ToeplitzHash::random`] with a fresh seed and
//! [`privacy::ToeplitzHash::hash`] on both keys.
//!
//! Measured on this project's 2-core machine, one core, shared with other jobs (criterion
//! benches `cascade` and `privacy`): Cascade on 10⁵-bit frames at 2 % QBER reconciles
//! 5–6·10⁷ bits/s (original) and 2–3·10⁷ bits/s (options 7 and 8); Toeplitz hashing of
//! 10⁶-bit blocks to 5·10⁵ bits (Karatsuba) runs at about 2.1·10⁸ input bits/s, and a 10⁸-bit
//! block takes 3.0 s of CPU with the additive FFT against 25.6 s with Karatsuba on the same
//! loaded machine (7.3 s idle; BENCHMARKS.md).

pub(crate) mod bits;
pub mod cascade;
pub(crate) mod entropy;
pub(crate) mod estimation;
pub(crate) mod keyrate;
pub mod ldpc;
pub(crate) mod pipeline;
pub(crate) mod privacy;
pub(crate) mod settings;
pub mod study;
pub(crate) mod verify;

pub use bits::{BitString, extract_bits, words_for};
pub use entropy::binary_entropy;
pub use estimation::{BasisCounts, Lim2014, SinglePhotonBounds, gamma, vacuum_weak_bounds};
pub use keyrate::{
    KeyRate, KeyRateModel, MaxDistance, key_rate, max_distance, optimise, shor_preskill, vacuum_weak_rate_from_counts,
};
pub use pipeline::{
    AbortReason, BlockCounts, BlockProcessor, BlockReport, DEFAULT_RECONCILER, FramedOutcome, KeySink, Pipeline,
    PipelineConfig, PipelineReport, PipelineSummary, QberSample, Reconciliation, frame_ranges, reconcile_in_frames,
    write_blocks_csv,
};
pub use privacy::{ToeplitzHash, toeplitz_hash_reference};
pub use settings::{PostprocessSettings, Security};
pub use verify::{VerificationHash, VerifyOutcome, gf64_mul, verify_keys};

/// A post-processing parameter or input outside what the algorithms accept.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PostprocessError {
    /// A QBER outside `(0, 0.5)`.
    #[error("qber = {0}: must be in (0, 0.5)")]
    Qber(f64),
    /// A probability such as ε_cor outside `(0, 1)`.
    #[error("{name} = {value}: must be in (0, 1)")]
    Epsilon {
        /// Which parameter.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// Two strings that must have the same length do not.
    #[error("{what}: lengths differ ({left} vs {right} bits)")]
    LengthMismatch {
        /// What was compared.
        what: &'static str,
        /// Length of the first.
        left: usize,
        /// Length of the second.
        right: usize,
    },
    /// A length or count outside its allowed range.
    #[error("{name} = {value}: {allowed}")]
    Size {
        /// Which parameter.
        name: &'static str,
        /// The value given.
        value: usize,
        /// What is allowed.
        allowed: String,
    },
    /// A worker thread of a study could not be started.
    #[error("study worker thread: {0}")]
    Thread(String),
}
