//! Reproducible random streams.
//!
//! Every random draw in qecnet comes from a [`ChaCha8Rng`] derived from a user seed and a path
//! of indices (chunk, point, replicate, link ...). The derivation is fixed and portable, so the
//! same seed gives the same bytes on any machine and any number of threads.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

/// The generator used everywhere in qecnet.
pub type SimRng = ChaCha8Rng;

/// SplitMix64 finaliser: a bijective 64-bit mixer (Steele, Lea, Flood 2014).
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The generator for `seed` and the index path `path` (e.g. `&[chunk]` or `&[point, replicate]`).
///
/// Distinct paths give independent-looking streams: the 256-bit ChaCha key is filled by
/// absorbing the seed and every index through SplitMix64 with distinct domain constants.
pub fn derive_rng(seed: u64, path: &[u64]) -> SimRng {
    let mut state = mix64(seed ^ 0x5145_434e_4554_0001); // "QECNET" domain tag
    for (depth, &index) in path.iter().enumerate() {
        state = mix64(state ^ mix64(index.wrapping_add(0x9e37_79b9_7f4a_7c15 * (depth as u64 + 1))));
    }
    let mut key = [0u8; 32];
    for (i, word) in key.chunks_exact_mut(8).enumerate() {
        word.copy_from_slice(&mix64(state.wrapping_add(i as u64 + 1)).to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn value_stability() {
        // Pins the derivation: changing it silently would change every published dataset.
        let mut rng = derive_rng(1, &[0]);
        let first = rng.next_u64();
        assert_eq!(first, 0x87fe_4006_2076_74ac, "derive_rng(1, [0]) changed: every dataset would change");
        let mut again = derive_rng(1, &[0]);
        assert_eq!(first, again.next_u64());
        assert_ne!(first, derive_rng(1, &[1]).next_u64());
        assert_ne!(first, derive_rng(2, &[0]).next_u64());
        assert_ne!(derive_rng(1, &[0, 1]).next_u64(), derive_rng(1, &[1, 0]).next_u64());
    }

    // Value stability (rand's practice): the exact first outputs of the samplers for a fixed
    // seed. The literals were copied from one run of the code as it stood; that is the point
    // here (unlike the distribution tests, which never copy a run's numbers): a dependency
    // update or a refactor that changes a random stream fails these tests, and every dataset
    // would change with it. Each literal is also checked against its distribution's mean.

    #[test]
    fn geometric_gap_values_are_stable() {
        let mut rng = SimRng::seed_from_u64(13);
        let gaps: Vec<u64> = (0..8).map(|_| geometric_gap(0.9f64.ln(), &mut rng)).collect();
        assert_eq!(gaps, [10, 24, 11, 12, 2, 3, 14, 2], "geometric_gap's stream changed");
        // p = 0.1: mean (1 − p)/p = 9, standard deviation √(1 − p)/p ≈ 9.5.
        let mean = gaps.iter().sum::<u64>() as f64 / 8.0;
        assert!((mean - 9.0).abs() < 3.0 * 9.5 / 8f64.sqrt(), "{mean}");
    }

    #[test]
    fn binomial_values_are_stable() {
        // n·p ≥ 10: rand_distr's BTPE rejection sampler.
        let mut rng = SimRng::seed_from_u64(13);
        let large: Vec<u64> = (0..8).map(|_| binomial(1000, 0.3, &mut rng)).collect();
        assert_eq!(large, [312, 305, 287, 326, 287, 289, 316, 300], "binomial's BTPE stream changed");
        // Mean 300, standard deviation √(1000·0.3·0.7) ≈ 14.5.
        assert!(large.iter().all(|&x| x.abs_diff(300) < 4 * 15), "{large:?}");
        // n·p < 10: inversion.
        let mut rng = SimRng::seed_from_u64(13);
        let small: Vec<u64> = (0..8).map(|_| binomial(20, 0.1, &mut rng)).collect();
        assert_eq!(small, [1, 0, 1, 1, 3, 3, 1, 3], "binomial's inversion stream changed");
        // Mean 2, standard deviation √(20·0.1·0.9) ≈ 1.34.
        let mean = small.iter().sum::<u64>() as f64 / 8.0;
        assert!((mean - 2.0).abs() < 3.0 * 1.34 / 8f64.sqrt(), "{mean}");
    }
}

/// A Bernoulli trial decided by one 64-bit word: `hit(u)` is true with probability `p`
/// (exact to 2⁻⁶⁴), so a hot loop draws one `u64` per trial and compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chance {
    threshold: u64,
    certain: bool,
}

impl Chance {
    /// A trial with success probability `p` (clamped to `[0, 1]`).
    pub fn new(p: f64) -> Self {
        let p = p.clamp(0.0, 1.0);
        if p >= 1.0 {
            Chance { threshold: u64::MAX, certain: true }
        } else {
            // 2^64 · p, exact for p representable in 53 bits up to rounding of the last ulp.
            Chance { threshold: (p * 18_446_744_073_709_551_616.0) as u64, certain: false }
        }
    }

    /// Whether the uniform word `u` is a success.
    #[inline]
    pub fn hit(self, u: u64) -> bool {
        u < self.threshold || self.certain
    }

    /// Whether this trial can never succeed.
    pub fn is_impossible(self) -> bool {
        self.threshold == 0 && !self.certain
    }
}

/// A uniform double in `(0, 1]` from one 64-bit word (53 significant bits).
#[inline]
pub fn unit_open0(u: u64) -> f64 {
    ((u >> 11) + 1) as f64 * (1.0 / 9_007_199_254_740_992.0)
}

/// Failures before the first success of Bernoulli trials with `log_failure = ln(1 − p)`:
/// `⌊ln U / ln(1 − p)⌋` with U uniform on (0, 1]; `u64::MAX` when `p = 0`.
#[inline]
pub fn geometric_gap<R: rand::Rng + ?Sized>(log_failure: f64, rng: &mut R) -> u64 {
    let g = unit_open0(rng.next_u64()).ln() / log_failure;
    if g.is_finite() && g < 1.8e19 { g as u64 } else { u64::MAX }
}

/// A Binomial(n, p) draw (exact: `rand_distr`'s BTPE/inversion), with the degenerate cases
/// handled without constructing the distribution.
pub fn binomial<R: rand::Rng + ?Sized>(n: u64, p: f64, rng: &mut R) -> u64 {
    use rand_distr::{Binomial, Distribution};
    if n == 0 || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    Binomial::new(n, p).expect("valid binomial parameters").sample(rng)
}

/// Index drawn from a cumulative distribution given as `u64` thresholds: the first `i` with
/// `u < cumulative[i]`; the last entry absorbs rounding (it should be `u64::MAX`).
#[inline]
pub fn pick_cumulative(cumulative: &[u64], u: u64) -> usize {
    cumulative.iter().position(|&c| u < c).unwrap_or(cumulative.len() - 1)
}

/// Cumulative `u64` thresholds for the probabilities `weights` (normalised here).
pub fn cumulative_thresholds(weights: &[f64]) -> Vec<u64> {
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    let mut out: Vec<u64> = weights
        .iter()
        .map(|w| {
            acc += w / total;
            if acc >= 1.0 { u64::MAX } else { (acc * 18_446_744_073_709_551_616.0) as u64 }
        })
        .collect();
    if let Some(last) = out.last_mut() {
        *last = u64::MAX;
    }
    out
}
