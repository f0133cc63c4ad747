//! How a key block is cut into frames of one mother code, and each frame's puncturing and
//! shortening: the fixed-`d` rate adaptation of Elkouss, Martinez-Mateo, Lancho, Martin,
//! "Rate compatible protocol for information reconciliation: an application to QKD", ITW 2010
//! (arXiv:1006.2660), §III.
//!
//! A frame of the mother code (length `n`, `m` checks, rate `R₀ = 1 − m/n`) carries `k` key
//! bits; the other `d = n − k` positions are split into `p` punctured ones (Alice's private
//! random bits, unknown to Bob) and `s = d − p` shortened ones (fixed to 0, known to both). The
//! syndrome then reveals `m − p` bits about the `k` key bits, so the frame works at rate
//! `R = 1 − (m − p)/k = (R₀ − σ)/(1 − π − σ)` (π = p/n, σ = s/n: eq. 2 of the paper). For a target
//! leak `L = ⌈f·h(Q)·k⌉` the frame punctures `p = m − L` and shortens the rest of `d`. The block
//! is cut into equal frames of at most `(1 − δ)·n` key bits (δ = [`DELTA`], the paper's
//! `d/n = 0.1`), so no frame is a short, heavily shortened remainder that costs a whole
//! syndrome. Where the paper moves along one mother code, we have nine: the frames use the
//! highest-rate one whose checks still cover the target leak, so `p < 0.05·n` (the rate step)
//! and the rest of `d` is shortened.

use std::sync::Arc;

use super::{ELKOUSS_2009, MotherCode};
use crate::postprocess::PostprocessError;

/// The share δ = d/n of a full frame that is punctured or shortened (Elkouss et al. 2010 use
/// δ = 0.1 around each mother code: with Table I's rate step of 0.05 the ranges
/// `[(R₀ − δ)/(1 − δ), R₀/(1 − δ)]` overlap).
pub const DELTA: f64 = 0.1;

/// One frame of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramePlan {
    /// Index of the frame's first key bit in the block.
    pub offset: usize,
    /// Key bits k of the frame.
    pub key_bits: usize,
    /// Punctured positions p (the first `p` of the mother code's puncturing order).
    pub punctured: usize,
    /// Shortened positions s = n − k − p.
    pub shortened: usize,
}

/// How a block is cut into frames.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The mother code.
    pub mother: Arc<MotherCode>,
    /// The frames, in block order.
    pub frames: Vec<FramePlan>,
    /// Key bits of the block.
    pub block_bits: usize,
    /// The crossover probability the decoder assumes.
    pub qber: f64,
}

impl Plan {
    /// The plan for `block_bits` key bits in frames of `n` positions, each leaking about
    /// `leak_per_bit` (`f·h(Q)`) per key bit at first and able to reveal punctured positions for
    /// `reserve_per_bit` more, or with as many positions punctured as the mother code allows
    /// when `leak_per_bit` is `None` (blind reconciliation's first try). `qber` is the crossover
    /// the decoder assumes.
    pub fn new(
        n: usize,
        block_bits: usize,
        leak_per_bit: Option<f64>,
        reserve_per_bit: f64,
        qber: f64,
        code_seed: u64,
    ) -> Result<Plan, PostprocessError> {
        if !(qber > 0.0 && qber < 0.5) || block_bits == 0 || n < 100 {
            return Err(PostprocessError::Size {
                name: "ldpc block bits",
                value: block_bits,
                allowed: format!("must be ≥ 1, with frames of ≥ 100 bits (got {n}) and the QBER {qber} in (0, 0.5)"),
            });
        }
        let full = ((1.0 - DELTA) * n as f64).floor() as usize;
        let count = block_bits.div_ceil(full);
        let (base, extra) = (block_bits / count, block_bits % count);
        let k = base + usize::from(extra > 0);
        // The mother code: the highest Table I rate whose m checks cover the largest frame's
        // target leak and reserve, so that the frames puncture least (puncturing costs more efficiency than
        // shortening, Elkouss et al. 2010, Fig. 2); blind: the highest rate.
        let checks = |rate: f64| ((1.0 - rate) * n as f64).round() as usize;
        let leak = leak_per_bit.map_or(0, |l| ((l + reserve_per_bit) * k as f64).ceil() as usize);
        let row = ELKOUSS_2009.iter().filter(|row| checks(row.rate) >= leak).max_by(|a, b| a.rate.total_cmp(&b.rate));
        let rate = row.map_or(ELKOUSS_2009[ELKOUSS_2009.len() - 1].rate, |row| row.rate);
        let mother = MotherCode::get(n, rate, code_seed)?;
        let (m, most) = (mother.code.checks(), mother.puncture_order.len());
        let mut frames = Vec::with_capacity(count);
        let mut offset = 0;
        for f in 0..count {
            let key_bits = base + usize::from(f < extra);
            let d = n - key_bits;
            let wanted = match leak_per_bit {
                Some(l) => m.saturating_sub((l * key_bits as f64).ceil() as usize),
                None => d,
            };
            let punctured = wanted.min(d).min(most);
            frames.push(FramePlan { offset, key_bits, punctured, shortened: d - punctured });
            offset += key_bits;
        }
        Ok(Plan { mother, frames, block_bits, qber })
    }

    /// The code positions of frame `f`'s key bits, in order: the free positions (the unused
    /// puncture candidates, then the shortening order) after the frame's shortened ones.
    pub fn key_positions(&self, f: usize) -> impl Iterator<Item = usize> + '_ {
        let frame = &self.frames[f];
        self.free(frame).skip(frame.shortened).map(|&v| v as usize)
    }

    /// The code positions of frame `f` that are shortened (fixed to 0).
    pub fn shortened_positions(&self, f: usize) -> impl Iterator<Item = usize> + '_ {
        let frame = &self.frames[f];
        self.free(frame).take(frame.shortened).map(|&v| v as usize)
    }

    /// The code positions of frame `f` that are punctured.
    pub fn punctured_positions(&self, f: usize) -> &[u32] {
        &self.mother.puncture_order[..self.frames[f].punctured]
    }

    /// The order in which Alice reveals positions of frame `f` when Bob cannot decode it: the
    /// punctured positions, last punctured first. (Not key positions: Bob already knows a key
    /// bit up to h(Q) bits, so revealing one would cost 1 bit of leak for h(Q) of help.)
    pub fn reveal_order(&self, f: usize) -> Vec<u32> {
        self.punctured_positions(f).iter().rev().copied().collect()
    }

    /// The positions that are not punctured, in order.
    fn free(&self, frame: &FramePlan) -> impl Iterator<Item = &u32> + '_ {
        self.mother.puncture_order[frame.punctured..].iter().chain(&self.mother.shorten_order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postprocess::binary_entropy;

    #[test]
    fn a_block_is_cut_into_equal_frames_that_cover_it_once() {
        let plan = Plan::new(10_000, 25_001, Some(1.15 * binary_entropy(0.03)), 0.0, 0.03, 1).unwrap();
        assert_eq!(plan.frames.len(), 3, "frames of at most 9000 key bits");
        assert_eq!(plan.frames.iter().map(|f| f.key_bits).collect::<Vec<_>>(), [8334, 8334, 8333]);
        assert_eq!(plan.frames.iter().map(|f| f.offset).collect::<Vec<_>>(), [0, 8334, 16668]);
        for (f, frame) in plan.frames.iter().enumerate() {
            let mut all: Vec<usize> = plan.key_positions(f).collect();
            assert_eq!(all.len(), frame.key_bits);
            all.extend(plan.shortened_positions(f));
            all.extend(plan.punctured_positions(f).iter().map(|&v| v as usize));
            all.sort_unstable();
            assert_eq!(all, (0..10_000).collect::<Vec<_>>(), "frame {f}: each position in one role");
        }
    }

    #[test]
    fn each_frame_leaks_the_target_share_of_its_key_bits() {
        // m − p = ⌈f·h(Q)·k⌉ whenever the mother code can puncture that many.
        for q in [0.01, 0.02, 0.035, 0.05, 0.08] {
            let per_bit = 1.1 * binary_entropy(q);
            let plan = Plan::new(10_000, 40_000, Some(per_bit), 0.3 * binary_entropy(q), q, 1).unwrap();
            let m = plan.mother.code.checks();
            for frame in &plan.frames {
                let target = (per_bit * frame.key_bits as f64).ceil() as usize;
                assert!(frame.punctured < plan.mother.puncture_order.len(), "Q {q}: puncture candidates exhausted");
                assert_eq!(m - frame.punctured, target, "Q {q}: {frame:?}, mother rate {}", plan.mother.rate);
            }
        }
    }
}
