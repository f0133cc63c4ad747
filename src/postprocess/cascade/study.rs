//! Monte-Carlo study of a Cascade variant on a binary symmetric channel: the efficiency,
//! channel uses and frame error rate over many independent frames, in the shape of the
//! published Cascade studies (e.g. Martinez-Mateo et al. 2015).

use rayon::prelude::*;

use super::{CascadeConfig, CascadeVariant, binary_symmetric_pair, reconcile_pair};
use crate::postprocess::PostprocessError;
use crate::rng::derive_rng;
use rand::Rng;

/// One row of a study: a variant at one QBER.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StudyRow {
    /// Variant name.
    pub variant: &'static str,
    /// Channel QBER (also the estimate Cascade is tuned with).
    pub qber: f64,
    /// Frame length n (bits).
    pub block_size: usize,
    /// Frames simulated.
    pub runs: usize,
    /// Mean of `f = leak_EC / (n·h(QBER))` over the frames.
    pub efficiency_mean: f64,
    /// Sample standard deviation of `f`.
    pub efficiency_std: f64,
    /// Mean round trips per frame.
    pub channel_uses_mean: f64,
    /// Fraction of frames where Bob's key differs from Alice's after Cascade.
    pub frame_error_rate: f64,
}

/// One simulated frame.
#[derive(Debug, Clone, Copy)]
pub struct FrameResult {
    /// Efficiency of this frame.
    pub efficiency: f64,
    /// Round trips.
    pub channel_uses: u64,
    /// Whether the keys still differ.
    pub frame_error: bool,
}

/// Simulates frame `run` of `variant` at `qber` (QBER list index `qber_index`): Alice's key
/// uniform, Bob's through a binary symmetric channel, both seeded from
/// `(seed, variant, qber_index, run)`. `biconf` overrides the variant's BICONF rounds.
pub fn simulate_frame(
    variant: CascadeVariant,
    qber: f64,
    n: usize,
    seed: u64,
    qber_index: usize,
    run: usize,
    biconf: Option<u32>,
) -> Result<FrameResult, PostprocessError> {
    let mut config = CascadeConfig::new(variant, qber, n)?;
    if let Some(rounds) = biconf {
        config.biconf_clean_rounds = rounds;
    }
    let mut rng = derive_rng(seed, &[variant as u64, qber_index as u64, run as u64]);
    let (alice, mut bob) = binary_symmetric_pair(n, qber, &mut rng);
    let public_seed = rng.next_u64();
    let outcome = reconcile_pair(&alice, &mut bob, &config, public_seed)?;
    Ok(FrameResult {
        efficiency: outcome.efficiency(n, qber),
        channel_uses: outcome.channel_uses,
        frame_error: alice != bob,
    })
}

/// `runs` frames of `variant` at `qber`, in parallel (the result does not depend on the
/// number of threads), summarised as one [`StudyRow`].
pub fn study(
    variant: CascadeVariant,
    qber: f64,
    qber_index: usize,
    n: usize,
    runs: usize,
    seed: u64,
    biconf: Option<u32>,
) -> Result<StudyRow, PostprocessError> {
    if runs == 0 {
        return Err(PostprocessError::Size { name: "runs", value: 0, allowed: "must be >= 1".into() });
    }
    CascadeConfig::new(variant, qber, n)?;
    let frames: Vec<FrameResult> = (0..runs)
        .into_par_iter()
        .map(|run| simulate_frame(variant, qber, n, seed, qber_index, run, biconf))
        .collect::<Result<_, _>>()?;
    let count = frames.len() as f64;
    let mean = frames.iter().map(|f| f.efficiency).sum::<f64>() / count;
    let var = if frames.len() > 1 {
        frames.iter().map(|f| (f.efficiency - mean).powi(2)).sum::<f64>() / (count - 1.0)
    } else {
        0.0
    };
    Ok(StudyRow {
        variant: variant.name(),
        qber,
        block_size: n,
        runs,
        efficiency_mean: mean,
        efficiency_std: var.sqrt(),
        channel_uses_mean: frames.iter().map(|f| f.channel_uses as f64).sum::<f64>() / count,
        frame_error_rate: frames.iter().filter(|f| f.frame_error).count() as f64 / count,
    })
}
