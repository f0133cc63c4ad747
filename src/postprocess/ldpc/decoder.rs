//! Belief-propagation decoding of a syndrome, layered (check by check; Hocevar, SiPS 2004,
//! which converges in about half the iterations of a flooding schedule):
//!
//! - min-sum, plain, normalised or offset (Chen, Fossorier, "Near optimum universal belief
//!   propagation based decoding of LDPC codes", IEEE Trans. Commun. 50, 406 (2002)), or
//!   corrected by a two-minimum sum-product magnitude ([`CheckRule::CorrectedMinSum`]), in
//!   16-bit fixed point on up to 16 frames at once ([`Decoder::decode_many`], one frame per
//!   SIMD lane);
//! - sum-product in the log domain with a table φ, in `f32`, one frame at a time (the
//!   reference for efficiency comparisons, and the reconciler's rule), its early stop kept
//!   exact and free by counting unsatisfied checks as hard decisions change.
//!
//! Messages are log-likelihood ratios (`L > 0`: bit 0 more likely). A check `c` with syndrome
//! bit `s_c` constrains `⊕ x_v = s_c`, so its outgoing message to `v` is
//! `(−1)^(s_c)·Π_(w≠v) sign(t_w)·g(|t_w|)` with `t_w = L_w − R_(c,w)` the variable's posterior
//! minus the check's previous message, `g` the rule; each check updates the posteriors at once.
//! Every decoder stops as soon as the syndrome is satisfied.

use super::code::LdpcCode;
use crate::postprocess::BitString;
use fixed::{LANES, LANES_ONE, Lanes, Scaling};

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
    /// Min-sum with the check messages scaled by `normalisation` α (1 = plain min-sum):
    /// `|R| = α·min_(w≠v) |t_w|` (Chen–Fossorier 2002, normalised BP-based), α rounded to 1/256.
    MinSum {
        /// The scale α of the check messages.
        normalisation: f32,
    },
    /// Offset min-sum: `|R| = max(min_(w≠v) |t_w| − β, 0)` (Chen–Fossorier 2002, offset
    /// BP-based), β in units of the frame's smallest nonzero |LLR| (on the BSC: the channel
    /// LLR), rounded to 1/16 of it.
    OffsetMinSum {
        /// The offset β, in channel LLRs.
        offset: f32,
    },
    /// Corrected min-sum: min-sum's two minima and compressed messages, with the two outgoing
    /// magnitudes those of sum-product on a check whose other inputs all equal the second
    /// minimum, `|R| = φ(φ(m₁) + (d − 2)·φ(m₂))` (`|R| = φ((d − 1)·φ(m₂))` to the first
    /// minimum's edge), φ tabulated in 1/256 nat: a two-value correction in the spirit of the
    /// λ-min rule (Guilloud, Boutillon, Danger, "λ-min decoding algorithm of regular and
    /// irregular LDPC codes", Turbo Codes 2003), which ignores the other inputs. Unlike the
    /// scale-invariant plain and normalised rules it sees the check degree and the LLRs'
    /// size: on the BSC at first every input is the channel LLR and this is sum-product.
    /// Measured (BENCHMARKS.md, session 12): it fails every frame at the reconciler's 2 %
    /// operating point even at f = 1.6, being far too timid once a check's second minimum is
    /// weak and its other inputs confident; kept as that measured negative result.
    CorrectedMinSum,
}

impl CheckRule {
    /// The fixed-point scaling of a min-sum rule; `None` for sum-product.
    fn scaling(self) -> Option<Scaling> {
        match self {
            CheckRule::SumProduct => None,
            CheckRule::MinSum { normalisation } => Some(Scaling::normalised(normalisation)),
            CheckRule::OffsetMinSum { offset } => Some(Scaling::offset(offset)),
            CheckRule::CorrectedMinSum => Some(Scaling::Corrected(fixed::phi_fixed())),
        }
    }
}

/// A reusable belief-propagation decoder: its buffers grow to the largest code seen and are
/// reused.
#[derive(Debug, Default)]
pub struct Decoder {
    /// The check-node rule.
    pub rule: CheckRule,
    posterior: Vec<f32>,
    messages: Vec<f32>,
    scratch: Vec<(f32, f32)>,
    one: Lanes<LANES_ONE>,
    many: Lanes<LANES>,
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
        if let Some(scaling) = self.rule.scaling() {
            return self.one.decode_many(code, &[(llr, syndrome)], scaling, max_iterations).remove(0);
        }
        self.posterior.clear();
        self.posterior.extend_from_slice(llr);
        self.messages.clear();
        self.messages.resize(code.edges(), 0.0);
        self.scratch.resize(code.max_check_degree(), (0.0, 0.0));
        let mut syndrome_state = Syndrome::new(code, &self.posterior, syndrome);
        let table = phi_table();
        let mut iterations = 0;
        while syndrome_state.unsatisfied > 0 && iterations < max_iterations {
            for c in 0..code.checks() {
                update_check_sum_product(
                    code,
                    c,
                    syndrome.get(c),
                    table,
                    &mut self.posterior,
                    &mut self.messages,
                    &mut self.scratch,
                    &mut syndrome_state,
                );
            }
            iterations += 1;
        }
        let converged = syndrome_state.unsatisfied == 0;
        let mut word = BitString::zeros(code.len());
        for (i, &l) in self.posterior.iter().enumerate() {
            if l < 0.0 {
                word.set(i, true);
            }
        }
        Decoded { word, iterations, converged }
    }

    /// Decodes several frames of one code, each as [`decode`](Self::decode) would (the same
    /// result, bit for bit): `frames` are (channel LLRs, syndrome) pairs, the results are in
    /// their order. Min-sum rules decode up to 16 frames at once, one per SIMD lane, a lane
    /// taking the next frame as soon as its frame stops.
    ///
    /// # Panics
    /// If a frame's LLRs or syndrome do not match the code's length and checks.
    pub fn decode_many(
        &mut self,
        code: &LdpcCode,
        frames: &[(&[f32], &BitString)],
        max_iterations: u32,
    ) -> Vec<Decoded> {
        match self.rule.scaling() {
            Some(scaling) if frames.len() > 1 => self.many.decode_many(code, frames, scaling, max_iterations),
            _ => frames.iter().map(|&(llr, syndrome)| self.decode(code, llr, syndrome, max_iterations)).collect(),
        }
    }
}

/// The hard decisions of a sum-product decode and the checks they leave unsatisfied, kept up
/// to date as posteriors change sign (each sign change toggles its variable's checks), so the
/// early-stop test costs nothing per iteration and is exactly the full syndrome test.
struct Syndrome {
    /// Per variable: whether its posterior is negative (hard decision 1).
    hard: Vec<bool>,
    /// Per check: whether its parity differs from its syndrome bit.
    wrong: Vec<bool>,
    /// Checks whose parity differs from the syndrome.
    unsatisfied: usize,
}

impl Syndrome {
    fn new(code: &LdpcCode, posterior: &[f32], syndrome: &BitString) -> Self {
        let hard: Vec<bool> = posterior.iter().map(|&l| l < 0.0).collect();
        let wrong: Vec<bool> = (0..code.checks())
            .map(|c| code.check(c).iter().fold(false, |p, &v| p ^ hard[v as usize]) != syndrome.get(c))
            .collect();
        let unsatisfied = wrong.iter().filter(|&&w| w).count();
        Syndrome { hard, wrong, unsatisfied }
    }

    /// Records variable `v`'s new posterior `l`.
    #[inline(always)]
    fn set(&mut self, code: &LdpcCode, v: usize, l: f32) {
        let negative = l < 0.0;
        if negative != self.hard[v] {
            self.hard[v] = negative;
            for &c in code.variable(v) {
                let w = &mut self.wrong[c as usize];
                *w = !*w;
                if *w {
                    self.unsatisfied += 1;
                } else {
                    self.unsatisfied -= 1;
                }
            }
        }
    }
}

/// One layered sum-product update of check `c` (syndrome bit `flip`), φ from `table` (see
/// [`phi_in`]): `t_w = L_w − R_(c,w)` and φ(|t_w|) once per edge into `scratch`, then the new
/// messages and posteriors (the same floating-point operations, in the same order, as
/// computing φ(|t_w|) again).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update_check_sum_product(
    code: &LdpcCode,
    c: usize,
    flip: bool,
    table: &[f32],
    posterior: &mut [f32],
    messages: &mut [f32],
    scratch: &mut [(f32, f32)],
    syndrome: &mut Syndrome,
) {
    let vars = code.check(c);
    let messages = &mut messages[code.check_edges(c)];
    let scratch = &mut scratch[..vars.len()];
    let mut total = 0.0f32;
    let mut negative = flip;
    for ((&v, &r), t) in vars.iter().zip(messages.iter()).zip(scratch.iter_mut()) {
        let x = posterior[v as usize] - r;
        let p = phi_in(table, x.abs());
        *t = (x, p);
        negative ^= x < 0.0;
        total += p;
    }
    for ((&v, r), &(x, p)) in vars.iter().zip(messages.iter_mut()).zip(scratch.iter()) {
        let magnitude = phi_in(table, (total - p).max(0.0));
        let out = if negative ^ (x < 0.0) { -magnitude } else { magnitude };
        *r = out;
        let l = x + out;
        posterior[v as usize] = l;
        syndrome.set(code, v as usize, l);
    }
}

/// `φ(x) = −ln tanh(x/2) = ln((e^x + 1)/(e^x − 1))`, its own inverse, clamped to stay finite.
#[inline]
fn phi_exact(x: f64) -> f64 {
    let x = x.clamp(PHI_MIN as f64, 30.0);
    -((0.5 * x).tanh()).ln()
}

/// Smallest argument of the φ table: 2⁻¹², where φ ≈ 9.0.
const PHI_MIN: f32 = 1.0 / 4096.0;
/// Mantissa bits of the table index: buckets of relative width 2⁻⁶.
const PHI_MANTISSA_BITS: u32 = 6;
/// Exponents covered: 2⁻¹² ≤ x < 2⁵ (φ(32) ≈ 2.5·10⁻¹⁴, zero in f32 sums).
const PHI_OCTAVES: usize = 17;

/// φ by table lookup on the float's exponent and top mantissa bits (buckets of relative width
/// at most 1/64, each holding φ at its geometric centre): no `tanh`/`ln` per edge. Since
/// |φ'(x)|·x ≤ 1, the absolute error is at most ln(1 + 1/64)/2 < 0.008, and vanishes with φ.
#[cfg(test)]
fn phi(x: f32) -> f32 {
    phi_in(phi_table(), x)
}

/// The table of φ (see `phi`): bucket `i` covers `2^e·[1 + j/64, 1 + (j + 1)/64)·PHI_MIN` with
/// `e = i / 64`, `j = i mod 64`, and holds φ at the bucket's geometric centre.
fn phi_table() -> &'static [f32] {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let buckets = PHI_OCTAVES << PHI_MANTISSA_BITS;
        (0..buckets)
            .map(|i| {
                let (octave, j) = (i >> PHI_MANTISSA_BITS, (i & ((1 << PHI_MANTISSA_BITS) - 1)) as f64);
                let scale = PHI_MIN as f64 * 2f64.powi(octave as i32);
                let width = (1u32 << PHI_MANTISSA_BITS) as f64;
                let (low, high) = (scale * (1.0 + j / width), scale * (1.0 + (j + 1.0) / width));
                phi_exact((low * high).sqrt()) as f32
            })
            .collect()
    })
}

/// φ(x) from `table` ([`phi_table`]): the bucket of x on its exponent and top mantissa bits.
#[inline(always)]
fn phi_in(table: &[f32], x: f32) -> f32 {
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

    /// The rules under test: sum-product, plain and normalised min-sum, offset min-sum.
    const RULES: [CheckRule; 5] = [
        CheckRule::SumProduct,
        CheckRule::MinSum { normalisation: 1.0 },
        CheckRule::MinSum { normalisation: 0.75 },
        CheckRule::OffsetMinSum { offset: 0.5 },
        CheckRule::CorrectedMinSum,
    ];

    #[test]
    fn a_frame_with_no_errors_decodes_in_zero_iterations() {
        let code = LdpcCode::random(2_000, 1_000, &DegreeDistribution::rsu_half_rate(), 3).unwrap();
        let alice = BitString::random(2_000, &mut derive_rng(23, &[]));
        let (llr, syndrome) = (channel_llr(&alice, 0.02), code.syndrome(&alice));
        for rule in RULES {
            let out = Decoder::with_rule(rule).decode(&code, &llr, &syndrome, 50);
            assert_eq!((out.iterations, out.converged), (0, true), "{rule:?}");
            assert_eq!(out.word, alice, "{rule:?}");
            let many = Decoder::with_rule(rule).decode_many(&code, &[(&llr, &syndrome), (&llr, &syndrome)], 50);
            assert!(many.iter().all(|o| o.iterations == 0 && o.word == alice), "{rule:?} (batch)");
        }
    }

    #[test]
    fn min_sum_and_sum_product_both_decode_a_two_percent_frame_at_the_plan_s_rate() {
        // The reconciler's plan for one 9,000-bit frame at 2 % on a 10⁴-bit code, at the f = 1.3
        // that such short frames need (its tests' setting), for sum-product; offset min-sum
        // (β = 0.25) needs 8–16 % more leak at 10⁵ bits (docs/model.md) and fails this frame at
        // f = 1.5, so f = 2. Plain and normalised min-sum are left out: they fail these
        // high-check-degree codes on the BSC.
        use crate::postprocess::ldpc::{AliceFrames, LdpcChannel, LdpcReconciler};
        for (rule, efficiency) in [(CheckRule::SumProduct, 1.3), (CheckRule::OffsetMinSum { offset: 0.25 }, 2.0)] {
            let reconciler = LdpcReconciler { frame_length: 10_000, efficiency, rule, ..LdpcReconciler::default() };
            let plan = reconciler.plan(9_000, 0.02).unwrap();
            let (alice, bob) = binary_symmetric_pair(9_000, 0.02, &mut derive_rng(24, &[]));
            let syndrome = AliceFrames::new(&plan, &alice, 1).syndromes().remove(0);
            let mut llr = Vec::new();
            reconciler.frame_llr(&plan, 0, &[], &bob, &mut llr);
            let out = Decoder::with_rule(rule).decode(&plan.mother.code, &llr, &syndrome, 100);
            assert!(out.converged, "{rule:?}: {} iterations", out.iterations);
            let key: Vec<bool> = plan.key_positions(0).map(|v| out.word.get(v)).collect();
            assert!(key.iter().enumerate().all(|(i, &b)| b == alice.get(i)), "{rule:?}: wrong word");
        }
    }

    #[test]
    fn a_batch_decodes_each_frame_bit_for_bit_as_alone() {
        // 21 frames (more than the 16 lanes, so lanes are refilled) at QBERs from 0 to 12 %: some
        // decode at once, some take many iterations, some fail; each result equals the
        // single-frame decoder's.
        let code = LdpcCode::random(3_000, 1_500, &DegreeDistribution::rsu_half_rate(), 5).unwrap();
        let frames: Vec<(Vec<f32>, BitString)> = (0..21u64)
            .map(|i| {
                let q = 0.006 * i as f64;
                let (alice, bob) = binary_symmetric_pair(3_000, q, &mut derive_rng(25, &[i]));
                (channel_llr(&bob, q.max(0.01)), code.syndrome(&alice))
            })
            .collect();
        let refs: Vec<(&[f32], &BitString)> = frames.iter().map(|(l, s)| (l.as_slice(), s)).collect();
        for rule in RULES {
            let many = Decoder::with_rule(rule).decode_many(&code, &refs, 40);
            let mut alone = Decoder::with_rule(rule);
            for (i, &(llr, syndrome)) in refs.iter().enumerate() {
                assert_eq!(many[i], alone.decode(&code, llr, syndrome, 40), "{rule:?}, frame {i}");
            }
            let iterations: Vec<u32> = many.iter().map(|o| o.iterations).collect();
            assert!(iterations.contains(&0) && iterations.contains(&40), "{rule:?}: {iterations:?}");
        }
    }
}
