//! Belief-propagation decoding of a syndrome: layered normalised min-sum (Chen, Fossorier,
//! "Near optimum universal belief propagation based decoding of LDPC codes", IEEE Trans. Commun.
//! 50, 406 (2002); layered schedule: Hocevar, SiPS 2004).
//!
//! Messages are log-likelihood ratios (`L > 0`: bit 0 more likely). A check `c` with syndrome
//! bit `s_c` constrains `⊕ x_v = s_c`, so its outgoing message to `v` is
//! `α·(−1)^(s_c)·Π_(w≠v) sign(t_w)·min_(w≠v) |t_w|` with `t_w = L_w − R_(c,w)` the variable's
//! posterior minus the check's previous message; each check updates the posteriors at once
//! (layered), which converges in about half the iterations of a flooding schedule.

use super::code::LdpcCode;
use crate::postprocess::BitString;
use fixed::FixedBuffers;

mod fixed;

/// The min-sum normalisation α used by default: 1, plain min-sum. On the BSC every channel
/// LLR has the same magnitude L, so the first check messages are about α·L, and a degree-2
/// variable whose bit is wrong flips only if 2α·L > L: scaling down (the α ≈ 0.8 that suits
/// the AWGN channel, Chen–Fossorier 2002) stalls such variables. Measured on a rate-½ code
/// (RSU 2001, n = 10⁵, 20 frames each): α = 1 fails 1/20 at Q = 6.5 % and 7 %, α = 0.9 3/20
/// and 5/20, α = 0.8 and α = 1.1 all 20; sum-product 1/20 at 7 %.
pub const MIN_SUM_NORMALISATION: f32 = 1.0;

/// Channel log-likelihood ratios of Bob's frame over a BSC of crossover `qber`:
/// `L_i = (1 − 2y_i)·ln((1 − Q)/Q)`.
pub fn channel_llr(bob: &BitString, qber: f64) -> Vec<f32> {
    let magnitude = ((1.0 - qber) / qber).ln() as f32;
    (0..bob.len()).map(|i| if bob.get(i) { -magnitude } else { magnitude }).collect()
}

/// The result of decoding one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The hard decisions after the last iteration.
    pub word: BitString,
    /// Iterations run.
    pub iterations: u32,
    /// Whether the word satisfies the syndrome (it may still differ from Alice's: the
    /// verification hash decides).
    pub converged: bool,
}

/// The check-node rule.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum CheckRule {
    /// Sum-product in the log domain: `R = sign·φ(Σ_(w≠v) φ(|t_w|))`, `φ(x) = −ln tanh(x/2)`.
    #[default]
    SumProduct,
    /// Min-sum with the check messages scaled by `normalisation` (1 = plain min-sum).
    MinSum {
        /// The scale α of the check messages.
        normalisation: f32,
    },
}

/// A reusable belief-propagation decoder: its buffers grow to the largest code seen and are
/// reused.
#[derive(Debug, Default)]
pub struct Decoder {
    /// The check-node rule.
    pub rule: CheckRule,
    posterior: Vec<f32>,
    messages: Vec<f32>,
    scratch: Vec<f32>,
    fixed: FixedBuffers,
}

impl Decoder {
    /// A sum-product decoder with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder with the check rule `rule`.
    pub fn with_rule(rule: CheckRule) -> Self {
        Decoder { rule, ..Self::default() }
    }

    /// Decodes the word with syndrome `syndrome` nearest to the channel LLRs `llr`, in at most
    /// `max_iterations` layered iterations, stopping as soon as the syndrome is satisfied.
    ///
    /// # Panics
    /// If `llr` or `syndrome` do not match the code's length and checks.
    pub fn decode(&mut self, code: &LdpcCode, llr: &[f32], syndrome: &BitString, max_iterations: u32) -> Decoded {
        assert_eq!(llr.len(), code.len(), "channel LLRs");
        assert_eq!(syndrome.len(), code.checks(), "syndrome");
        if let CheckRule::MinSum { normalisation } = self.rule
            && normalisation == 1.0
            && let Some(unit) = fixed::llr_unit(llr)
        {
            return self.fixed.decode(code, llr, unit, syndrome, max_iterations);
        }
        self.posterior.clear();
        self.posterior.extend_from_slice(llr);
        self.messages.clear();
        self.messages.resize(code.edges(), 0.0);
        self.scratch.resize(code.max_check_degree(), 0.0);
        let mut iterations = 0;
        let mut converged = self.satisfies(code, syndrome);
        while !converged && iterations < max_iterations {
            for c in 0..code.checks() {
                match self.rule {
                    CheckRule::MinSum { normalisation } => {
                        self.update_check_min_sum(code, c, syndrome.get(c), normalisation)
                    }
                    CheckRule::SumProduct => self.update_check_sum_product(code, c, syndrome.get(c)),
                }
            }
            iterations += 1;
            converged = self.satisfies(code, syndrome);
        }
        let mut word = BitString::zeros(code.len());
        for (i, &l) in self.posterior.iter().enumerate() {
            if l < 0.0 {
                word.set(i, true);
            }
        }
        Decoded { word, iterations, converged }
    }

    /// One layered min-sum update of check `c` (syndrome bit `flip`), messages scaled by `alpha`.
    #[inline]
    fn update_check_min_sum(&mut self, code: &LdpcCode, c: usize, flip: bool, alpha: f32) {
        let edges = code.check_edges(c);
        let vars = code.check(c);
        let t = &mut self.scratch[..vars.len()];
        let (mut min1, mut min2, mut at) = (f32::INFINITY, f32::INFINITY, 0);
        let mut negative = flip;
        for (i, (&v, &r)) in vars.iter().zip(&self.messages[edges.clone()]).enumerate() {
            let x = self.posterior[v as usize] - r;
            t[i] = x;
            negative ^= x < 0.0;
            let a = x.abs();
            if a < min1 {
                (min2, min1, at) = (min1, a, i);
            } else if a < min2 {
                min2 = a;
            }
        }
        let (m1, m2) = (alpha * min1, alpha * min2);
        for (i, (&v, r)) in vars.iter().zip(&mut self.messages[edges]).enumerate() {
            let magnitude = if i == at { m2 } else { m1 };
            let x = t[i];
            let out = if negative ^ (x < 0.0) { -magnitude } else { magnitude };
            *r = out;
            self.posterior[v as usize] = x + out;
        }
    }

    /// One layered sum-product update of check `c` (syndrome bit `flip`), φ from [`phi`]'s table.
    fn update_check_sum_product(&mut self, code: &LdpcCode, c: usize, flip: bool) {
        let edges = code.check_edges(c);
        let vars = code.check(c);
        let t = &mut self.scratch[..vars.len()];
        let mut total = 0.0f32;
        let mut negative = flip;
        for (i, (&v, &r)) in vars.iter().zip(&self.messages[edges.clone()]).enumerate() {
            let x = self.posterior[v as usize] - r;
            t[i] = x;
            negative ^= x < 0.0;
            total += phi(x.abs());
        }
        for (i, (&v, r)) in vars.iter().zip(&mut self.messages[edges]).enumerate() {
            let x = t[i];
            let magnitude = phi((total - phi(x.abs())).max(0.0));
            let out = if negative ^ (x < 0.0) { -magnitude } else { magnitude };
            *r = out;
            self.posterior[v as usize] = x + out;
        }
    }

    /// Whether the hard decisions of the posteriors satisfy every check.
    fn satisfies(&self, code: &LdpcCode, syndrome: &BitString) -> bool {
        (0..code.checks()).all(|c| {
            code.check(c).iter().fold(false, |p, &v| p ^ (self.posterior[v as usize] < 0.0)) == syndrome.get(c)
        })
    }
}

/// `φ(x) = −ln tanh(x/2) = ln((e^x + 1)/(e^x − 1))`, its own inverse, clamped to stay finite.
#[inline]
fn phi_exact(x: f64) -> f64 {
    let x = x.clamp(PHI_MIN as f64, 30.0);
    -((0.5 * x).tanh()).ln()
}

/// Smallest argument of [`phi`]: 2⁻¹², where φ ≈ 9.0.
const PHI_MIN: f32 = 1.0 / 4096.0;
/// Mantissa bits of the table index: buckets of relative width 2⁻⁶.
const PHI_MANTISSA_BITS: u32 = 6;
/// Exponents covered: 2⁻¹² ≤ x < 2⁵ (φ(32) ≈ 2.5·10⁻¹⁴, zero in f32 sums).
const PHI_OCTAVES: usize = 17;

/// φ by table lookup on the float's exponent and top mantissa bits (buckets of relative width
/// at most 1/64, each holding φ at its geometric centre): no `tanh`/`ln` per edge. Since
/// |φ'(x)|·x ≤ 1, the absolute error is at most ln(1 + 1/64)/2 < 0.008, and vanishes with φ.
#[inline]
fn phi(x: f32) -> f32 {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let buckets = PHI_OCTAVES << PHI_MANTISSA_BITS;
        (0..buckets)
            .map(|i| {
                // Bucket i: 2^e·[1 + j/64, 1 + (j + 1)/64) with e = i / 64, j = i mod 64.
                let (octave, j) = (i >> PHI_MANTISSA_BITS, (i & ((1 << PHI_MANTISSA_BITS) - 1)) as f64);
                let scale = PHI_MIN as f64 * 2f64.powi(octave as i32);
                let width = (1u32 << PHI_MANTISSA_BITS) as f64;
                let (low, high) = (scale * (1.0 + j / width), scale * (1.0 + (j + 1.0) / width));
                phi_exact((low * high).sqrt()) as f32
            })
            .collect()
    });
    let x = x.max(PHI_MIN);
    let index = ((x.to_bits() - PHI_MIN.to_bits()) >> (23 - PHI_MANTISSA_BITS)) as usize;
    table.get(index).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postprocess::cascade::binary_symmetric_pair;
    use crate::postprocess::ldpc::DegreeDistribution;
    use crate::rng::derive_rng;

    #[test]
    fn a_frame_well_below_the_code_s_threshold_decodes_to_alice_s_word() {
        // Rate ½ (RSU 2001, threshold near Q = 8.4 % for BP on the BSC): at Q = 5 % a
        // 10⁴-bit frame decodes to Alice's word.
        let code = LdpcCode::random(10_000, 5_000, &DegreeDistribution::rsu_half_rate(), 11).unwrap();
        for rule in [CheckRule::SumProduct, CheckRule::MinSum { normalisation: MIN_SUM_NORMALISATION }] {
            let mut decoder = Decoder::with_rule(rule);
            for run in 0..5 {
                let mut rng = derive_rng(21, &[run]);
                let (alice, bob) = binary_symmetric_pair(10_000, 0.05, &mut rng);
                let out = decoder.decode(&code, &channel_llr(&bob, 0.05), &code.syndrome(&alice), 100);
                assert!(out.converged, "{rule:?}, run {run}: not converged after {} iterations", out.iterations);
                assert_eq!(out.word, alice, "{rule:?}, run {run}");
            }
        }
    }

    #[test]
    fn the_phi_table_is_close_to_phi() {
        // Buckets of relative width ≤ 2⁻⁶: |Δφ| ≤ |φ'(x)|·x·ln(1 + 2⁻⁶)/2 < 0.008 (|φ'(x)|·x ≤ 1).
        for i in 0..20_000 {
            let x = 1e-3 * 1.0005f64.powi(i);
            let (table, exact) = (phi(x as f32) as f64, phi_exact(x));
            assert!((table - exact).abs() <= 0.008 + 1e-6, "φ({x}) = {exact}, table {table}");
        }
    }

    #[test]
    fn a_frame_far_above_the_threshold_does_not_converge() {
        // At Q = 20 % a rate-½ code cannot decode (1 − h(0.2) = 0.28 < ½): the decoder says so.
        let code = LdpcCode::random(4_000, 2_000, &DegreeDistribution::rsu_half_rate(), 11).unwrap();
        let mut rng = derive_rng(22, &[]);
        let (alice, bob) = binary_symmetric_pair(4_000, 0.2, &mut rng);
        let out = Decoder::new().decode(&code, &channel_llr(&bob, 0.2), &code.syndrome(&alice), 50);
        assert!(!out.converged);
        assert_eq!(out.iterations, 50);
    }
}
