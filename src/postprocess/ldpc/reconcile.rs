//! Rate-adaptive syndrome reconciliation of a key block (Elkouss, Martinez-Mateo, Lancho,
//! Martin, "Rate compatible protocol for information reconciliation: an application to QKD",
//! ITW 2010, arXiv:1006.2660, §III), with reveal rounds for the frames Bob cannot decode.
//!
//! 1. Alice sends the syndrome of every frame of the [`Plan`] (her punctured positions filled
//!    with private random bits, her shortened ones 0).
//! 2. Bob decodes each frame by belief propagation from his key bits (LLR `±ln((1 − Q)/Q)`),
//!    the punctured positions (LLR 0) and the shortened ones (a very large LLR).
//! 3. For each frame whose decoder does not satisfy the syndrome, Bob asks for more: Alice
//!    reveals the values of some of the frame's punctured positions, which turns them into
//!    shortened ones as in the blind protocol of Martinez-Mateo, Elkouss, Martin, "Blind
//!    reconciliation", QIC 12, 791 (2012), and Bob decodes again; at most
//!    [`LdpcReconciler::max_rounds`] rounds. The plan keeps enough punctured positions for
//!    them (a mother code of lower rate). This is what lets a frame survive a QBER estimate
//!    from a small sample that came out low.
//!
//! Leak, exactly: the punctured bits are uniform and independent of the key, and the punctured
//! positions share no check (each has a check of its own among them), so their columns of `H`
//! are independent and the syndrome reveals `m − p` bits about the key bits (`H(S | key) = p`).
//! Each revealed value adds at most one bit. So the leak that the key length subtracts is
//! `Σ (m − p) + revealed`, which [`AliceFrames`] counts as the bits cross the channel. Shortened
//! bits are constants and reveal nothing; positions are public and deterministic from the code
//! seed. A frame still unsatisfied after the last round is counted in
//! [`LdpcOutcome::frames_unconverged`]; its errors, like those of a frame that satisfied the
//! syndrome with a wrong word, reach the verification hash.

use rand::RngExt;
use rayon::prelude::*;

use super::{CheckRule, Decoder, Plan};
use crate::postprocess::{BitString, PostprocessError, binary_entropy};
use crate::rng::derive_rng;

/// LLR of a shortened or revealed position, in units of the channel LLR (the fixed-point
/// decoder saturates at 1023 of them).
const KNOWN_UNITS: f32 = 1000.0;

/// Frames a decoder batch is rounded to: the min-sum decoder's SIMD lanes.
const BATCH: usize = 16;

/// The target efficiency f of [`LdpcReconciler::throughput`]: the lowest of 1.5, 1.6, 1.7 and
/// 1.8 at which offset min-sum (β = 0.25) decoded 64 of 64 frames of 10⁵ bits at Q = 2 %
/// (4/64 and 1/64 failed at 1.5 and 1.6; BENCHMARKS.md, session 13).
pub const THROUGHPUT_EFFICIENCY: f64 = 1.7;

/// Settings of the rate-adaptive LDPC reconciler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LdpcReconciler {
    /// Mother-code length n (bits per frame, key and punctured and shortened).
    pub frame_length: usize,
    /// Target efficiency f of the first message: each frame leaks `⌈f·h(Q)·k⌉` syndrome bits.
    pub efficiency: f64,
    /// Decoder iterations per frame and round.
    pub max_iterations: u32,
    /// Check-node rule of the decoder.
    pub rule: CheckRule,
    /// Seed of the mother codes and of the puncturing and shortening orders (public).
    pub code_seed: u64,
    /// Values revealed per reveal round, as a share of the frame's Shannon leak `h(Q)·k`.
    pub reveal_fraction: f64,
    /// Reveal rounds at most (0: one-way reconciliation).
    pub max_rounds: u32,
}

impl Default for LdpcReconciler {
    /// 10⁵-bit frames, f = 1.15, 60 layered sum-product iterations, code seed 1, reveal
    /// rounds of 4 % of h(Q)·k, at most 8 of them.
    fn default() -> Self {
        LdpcReconciler {
            frame_length: 100_000,
            efficiency: 1.15,
            max_iterations: 60,
            rule: CheckRule::SumProduct,
            code_seed: 1,
            reveal_fraction: 0.04,
            max_rounds: 8,
        }
    }
}

/// Alice's side of the public channel, as Bob sees it.
pub trait LdpcChannel {
    /// The syndrome of every frame of the plan (Alice's first and main message).
    fn syndromes(&mut self) -> Vec<BitString>;
    /// The values of Alice's frame words at the requested (frame, code positions).
    fn reveal(&mut self, requests: &[(usize, Vec<u32>)]) -> Vec<Vec<bool>>;
}

/// Alice's frame words (key bits, her private punctured bits, zeros) and a count of every bit
/// she sends.
pub struct AliceFrames {
    words: Vec<BitString>,
    syndromes: Vec<BitString>,
    /// Syndrome bits sent.
    pub syndrome_bits_sent: u64,
    /// Revealed values sent.
    pub revealed_bits_sent: u64,
    /// Messages sent.
    pub messages: u64,
}

impl AliceFrames {
    /// Alice's frames of `alice` under `plan`, the punctured positions filled from
    /// `alice_seed` (her private randomness).
    pub fn new(plan: &Plan, alice: &BitString, alice_seed: u64) -> Self {
        let code = &plan.mother.code;
        let words: Vec<BitString> = (0..plan.frames.len())
            .into_par_iter()
            .map(|f| {
                let mut word = BitString::zeros(code.len());
                let mut rng = derive_rng(alice_seed, &[f as u64]);
                for &v in plan.punctured_positions(f) {
                    word.set(v as usize, rng.random::<bool>());
                }
                let offset = plan.frames[f].offset;
                for (i, v) in plan.key_positions(f).enumerate() {
                    word.set(v, alice.get(offset + i));
                }
                word
            })
            .collect();
        let syndromes = words.par_iter().map(|w| code.syndrome(w)).collect();
        AliceFrames { words, syndromes, syndrome_bits_sent: 0, revealed_bits_sent: 0, messages: 0 }
    }

    /// Every bit sent so far.
    pub fn bits_sent(&self) -> u64 {
        self.syndrome_bits_sent + self.revealed_bits_sent
    }
}

impl LdpcChannel for AliceFrames {
    fn syndromes(&mut self) -> Vec<BitString> {
        self.messages += 1;
        self.syndrome_bits_sent += self.syndromes.iter().map(|s| s.len() as u64).sum::<u64>();
        self.syndromes.clone()
    }

    fn reveal(&mut self, requests: &[(usize, Vec<u32>)]) -> Vec<Vec<bool>> {
        self.messages += 1;
        let answers: Vec<Vec<bool>> =
            requests.iter().map(|(f, at)| at.iter().map(|&v| self.words[*f].get(v as usize)).collect()).collect();
        self.revealed_bits_sent += answers.iter().map(|a| a.len() as u64).sum::<u64>();
        answers
    }
}

/// What reconciling a block disclosed and how it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LdpcOutcome {
    /// Bits about the key the messages reveal: syndrome bits − punctured + revealed.
    pub leaked_bits: u64,
    /// Syndrome bits received.
    pub syndrome_bits: u64,
    /// Punctured positions, over all frames.
    pub punctured_bits: u64,
    /// Shortened positions, over all frames.
    pub shortened_bits: u64,
    /// Values revealed in the reveal rounds.
    pub revealed_bits: u64,
    /// Frames.
    pub frames: u64,
    /// Frames whose decoder did not satisfy the syndrome after the last round.
    pub frames_unconverged: u64,
    /// Reveal rounds (each a round trip: Bob's request, Alice's values).
    pub rounds: u32,
    /// Messages on the public channel, both directions.
    pub messages: u64,
}

impl LdpcReconciler {
    /// The throughput mode: offset min-sum (β = 0.25 channel LLRs) at a target efficiency
    /// f = [`THROUGHPUT_EFFICIENCY`], the other settings as the default. It trades leak for
    /// speed: at 2 % QBER on 10⁵-bit frames the plan takes the rate-0.70 mother code (check
    /// degrees ≤ 21), where offset min-sum converges in about 13 layered iterations and the
    /// decoder runs 16 frames per AVX2 register; at the default f = 1.15 (rate 0.80, check
    /// degrees ≤ 30) no min-sum rule decodes (BENCHMARKS.md, sessions 12–13). Measured at
    /// Q = 2 %, 512 frames of 90,000 key bits: 0/512 frames wrong, 12.8 mean iterations.
    pub fn throughput() -> Self {
        LdpcReconciler {
            efficiency: THROUGHPUT_EFFICIENCY,
            rule: CheckRule::OffsetMinSum { offset: 0.25 },
            ..LdpcReconciler::default()
        }
    }

    /// The frame plan for a block of `block_bits` key bits at estimated crossover `qber`.
    pub fn plan(&self, block_bits: usize, qber: f64) -> Result<Plan, PostprocessError> {
        if !(qber > 0.0 && qber < 0.5) {
            return Err(PostprocessError::Size {
                name: "ldpc block bits",
                value: block_bits,
                allowed: format!("the QBER estimate {qber} must be in (0, 0.5)"),
            });
        }
        let h = binary_entropy(qber);
        let reserve = self.reveal_fraction * f64::from(self.max_rounds) * h;
        Plan::new(self.frame_length, block_bits, Some(self.efficiency * h), reserve, qber, self.code_seed)
    }

    /// Bob's side: receives the syndromes, decodes every frame of `bob`, asks for reveal rounds
    /// while frames fail, and writes his corrected key bits back.
    pub fn bob_reconcile(&self, plan: &Plan, alice: &mut impl LdpcChannel, bob: &mut BitString) -> LdpcOutcome {
        let syndromes = alice.syndromes();
        let count = plan.frames.len();
        let mut revealed: Vec<Vec<(u32, bool)>> = vec![Vec::new(); count];
        let mut orders: Vec<Option<Vec<u32>>> = vec![None; count];
        let mut pending: Vec<usize> = (0..count).collect();
        let mut outcome = LdpcOutcome { messages: 1, ..LdpcOutcome::default() };
        let step = |f: usize| {
            let shannon = binary_entropy(plan.qber) * plan.frames[f].key_bits as f64;
            ((self.reveal_fraction * shannon).ceil() as usize).max(1)
        };
        loop {
            let decoded = self.decode_frames(plan, &syndromes, &revealed, &pending, bob);
            // Converged frames are written back now; failed ones are decoded again from Bob's
            // own bits, and written back only when the rounds end.
            let (mut failed, mut unwritten) = (Vec::new(), Vec::new());
            for (f, bits, converged) in decoded {
                if converged {
                    write_back(bob, plan.frames[f].offset, &bits);
                } else {
                    failed.push(f);
                    unwritten.push((f, bits));
                }
            }
            // Frames with nothing left to reveal stay failed.
            let requests: Vec<(usize, Vec<u32>)> = failed
                .iter()
                .filter_map(|&f| {
                    let order = orders[f].get_or_insert_with(|| plan.reveal_order(f));
                    let done = revealed[f].len();
                    let next: Vec<u32> = order.iter().skip(done).take(step(f)).copied().collect();
                    (!next.is_empty()).then_some((f, next))
                })
                .collect();
            if requests.is_empty() || outcome.rounds == self.max_rounds {
                for (f, bits) in unwritten {
                    write_back(bob, plan.frames[f].offset, &bits);
                }
                outcome.frames_unconverged = failed.len() as u64;
                break;
            }
            let answers = alice.reveal(&requests);
            outcome.rounds += 1;
            outcome.messages += 2;
            pending.clear();
            for ((f, at), values) in requests.into_iter().zip(answers) {
                outcome.revealed_bits += values.len() as u64;
                revealed[f].extend(at.into_iter().zip(values));
                pending.push(f);
            }
        }
        outcome.frames = count as u64;
        outcome.syndrome_bits = syndromes.iter().map(|s| s.len() as u64).sum();
        outcome.punctured_bits = plan.frames.iter().map(|f| f.punctured as u64).sum();
        outcome.shortened_bits = plan.frames.iter().map(|f| f.shortened as u64).sum();
        outcome.leaked_bits = outcome.syndrome_bits - outcome.punctured_bits + outcome.revealed_bits;
        outcome
    }

    /// Bob's channel LLRs for frame `f` of `plan` into `llr`: `±ln((1 − q)/q)` at the key
    /// positions from his bits `bob`, 0 at the punctured ones, `±`[`KNOWN_UNITS`] times that at
    /// the shortened ones and at the `revealed` (position, value) pairs. The decoder assumes the
    /// crossover `q` that the frame's leak so far is designed for: the estimate at first, higher
    /// with each reveal round.
    pub fn frame_llr(&self, plan: &Plan, f: usize, revealed: &[(u32, bool)], bob: &BitString, llr: &mut Vec<f32>) {
        let code = &plan.mother.code;
        let frame = &plan.frames[f];
        let leak = (code.checks() - frame.punctured + revealed.len()) as f64;
        let qber = inverse_binary_entropy(leak / (self.efficiency * frame.key_bits as f64)).max(plan.qber);
        let magnitude = ((1.0 - qber) / qber).ln() as f32;
        llr.clear();
        llr.resize(code.len(), KNOWN_UNITS * magnitude);
        for &v in plan.punctured_positions(f) {
            llr[v as usize] = 0.0;
        }
        for (i, v) in plan.key_positions(f).enumerate() {
            llr[v] = if bob.get(frame.offset + i) { -magnitude } else { magnitude };
        }
        for &(v, value) in revealed {
            llr[v as usize] = if value { -KNOWN_UNITS * magnitude } else { KNOWN_UNITS * magnitude };
        }
    }

    /// Decodes frames `which` of `bob` (not changed) with the values revealed so far: for each,
    /// its key bits as decoded and whether the syndrome is satisfied.
    fn decode_frames(
        &self,
        plan: &Plan,
        syndromes: &[BitString],
        revealed: &[Vec<(u32, bool)>],
        which: &[usize],
        bob: &BitString,
    ) -> Vec<(usize, Vec<bool>, bool)> {
        let code = &plan.mother.code;
        // Chunks of whole lane batches, one per thread; a frame's result does not depend on
        // the chunk or lane it is decoded in (`Decoder::decode_many`), so neither does the
        // output on the thread count.
        let chunk = which.len().div_ceil(rayon::current_num_threads()).div_ceil(BATCH) * BATCH;
        which
            .par_chunks(chunk.max(1))
            .flat_map_iter(|chunk| {
                let llrs: Vec<Vec<f32>> = chunk
                    .iter()
                    .map(|&f| {
                        let mut llr = Vec::new();
                        self.frame_llr(plan, f, &revealed[f], bob, &mut llr);
                        llr
                    })
                    .collect();
                let frames: Vec<(&[f32], &BitString)> =
                    chunk.iter().zip(&llrs).map(|(&f, llr)| (llr.as_slice(), &syndromes[f])).collect();
                let decoded = Decoder::with_rule(self.rule).decode_many(code, &frames, self.max_iterations);
                chunk
                    .iter()
                    .zip(decoded)
                    .map(|(&f, out)| (f, plan.key_positions(f).map(|v| out.word.get(v)).collect(), out.converged))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Both sides at once: Bob's `bob` corrected towards `alice` with the plan for `qber`.
    pub fn reconcile(
        &self,
        alice: &BitString,
        bob: &mut BitString,
        qber: f64,
        alice_seed: u64,
    ) -> Result<LdpcOutcome, PostprocessError> {
        let plan = self.plan(alice.len(), qber)?;
        let mut channel = AliceFrames::new(&plan, alice, alice_seed);
        Ok(self.bob_reconcile(&plan, &mut channel, bob))
    }
}

/// Writes a frame's decoded key bits into `bob` from `offset` on.
fn write_back(bob: &mut BitString, offset: usize, bits: &[bool]) {
    for (i, &bit) in bits.iter().enumerate() {
        bob.set(offset + i, bit);
    }
}

/// The crossover `q ∈ (0, ½]` with `h(q) = h` (bisection; ½ for `h ≥ 1`).
fn inverse_binary_entropy(h: f64) -> f64 {
    let (mut low, mut high) = (1e-9, 0.5);
    for _ in 0..60 {
        let mid = 0.5 * (low + high);
        if binary_entropy(mid) < h {
            low = mid;
        } else {
            high = mid;
        }
    }
    high
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postprocess::VerificationHash;
    use crate::postprocess::cascade::binary_symmetric_pair;

    /// 10⁴-bit frames: quick, and short enough that a frame is a real test of the code.
    fn reconciler(max_rounds: u32) -> LdpcReconciler {
        LdpcReconciler { frame_length: 10_000, efficiency: 1.3, max_rounds, ..LdpcReconciler::default() }
    }

    #[test]
    fn a_block_well_inside_the_codes_threshold_reconciles_in_one_message() {
        // f = 1.3 at the true QBER of 3 %: every frame decodes at once, no reveal round.
        let mut rng = derive_rng(31, &[]);
        let (alice, mut bob) = binary_symmetric_pair(30_000, 0.03, &mut rng);
        let out = reconciler(8).reconcile(&alice, &mut bob, 0.03, 5).unwrap();
        assert_eq!(bob, alice);
        assert_eq!((out.frames, out.frames_unconverged, out.rounds, out.messages), (4, 0, 0, 1));
        assert_eq!(out.leaked_bits, out.syndrome_bits - out.punctured_bits);
    }

    #[test]
    fn the_throughput_mode_reconciles_a_two_percent_block_with_min_sum_at_its_stated_leak() {
        // 33 frames of 10⁵ bits (two 16-lane batches and one more) at the true QBER: every
        // frame decodes in the first message, and the leak is the syndromes minus the
        // punctured positions, ⌈f·h(Q)·k⌉ per frame.
        let reconciler = LdpcReconciler::throughput();
        let (alice, mut bob) = binary_symmetric_pair(33 * 90_000, 0.02, &mut derive_rng(35, &[]));
        let out = reconciler.reconcile(&alice, &mut bob, 0.02, 5).unwrap();
        assert_eq!((out.frames, out.frames_unconverged, out.rounds), (33, 0, 0), "{out:?}");
        assert_eq!(bob, alice);
        let per_frame = (THROUGHPUT_EFFICIENCY * binary_entropy(0.02) * 90_000.0).ceil() as u64;
        assert_eq!(out.leaked_bits, 33 * per_frame);
        assert_eq!(out.leaked_bits, out.syndrome_bits - out.punctured_bits);
    }

    #[test]
    fn a_low_qber_estimate_is_rescued_by_reveal_rounds() {
        // Estimate 2 %, true 3 %: f·h(0.02) = 1.3·0.141 < h(0.03) = 0.194, so the first message
        // cannot suffice; punctured values revealed in rounds make up the difference.
        let mut rng = derive_rng(32, &[]);
        let (alice, bob) = binary_symmetric_pair(30_000, 0.03, &mut rng);
        let (mut once, mut rounds) = (bob.clone(), bob);
        let one_way = reconciler(0).reconcile(&alice, &mut once, 0.02, 5).unwrap();
        assert!(one_way.frames_unconverged > 0 && once != alice, "{one_way:?}");
        let out = reconciler(10).reconcile(&alice, &mut rounds, 0.02, 5).unwrap();
        assert_eq!(rounds, alice, "{out:?}");
        assert!(out.rounds >= 1 && out.revealed_bits > 0, "{out:?}");
        assert_eq!(out.messages, 1 + 2 * u64::from(out.rounds));
        assert_eq!(out.leaked_bits, out.syndrome_bits - out.punctured_bits + out.revealed_bits);
        assert!(out.revealed_bits <= out.punctured_bits);
    }

    #[test]
    fn a_block_far_outside_the_codes_reach_fails_and_verification_catches_it() {
        // True QBER 15 %, estimate 2 %: the frames fail even after every punctured value is
        // revealed, Bob's key differs, and the verification hash says so.
        let mut rng = derive_rng(33, &[]);
        let (alice, mut bob) = binary_symmetric_pair(20_000, 0.15, &mut rng);
        let out = reconciler(10).reconcile(&alice, &mut bob, 0.02, 5).unwrap();
        assert_eq!(out.frames_unconverged, out.frames, "{out:?}");
        assert_ne!(bob, alice);
        let hash = VerificationHash::new(alice.len(), 1e-12, &mut derive_rng(34, &[])).unwrap();
        let verdict = hash.check(&hash.tags(&alice).unwrap(), &bob).unwrap();
        assert!(!verdict.matched, "a failed frame passed verification");
    }

    #[test]
    fn the_inverse_binary_entropy_inverts_h() {
        for q in [0.001, 0.01, 0.05, 0.11, 0.3] {
            assert!((inverse_binary_entropy(binary_entropy(q)) - q).abs() < 1e-9, "q = {q}");
        }
    }

    #[test]
    fn the_frame_error_rate_at_the_plan_s_rate_stays_within_one_percent() {
        // 200 frames of 9,000 key bits at 2 % (estimate = true QBER), reveal rounds allowed:
        // frames left different from Alice's (unconverged, or satisfied by a wrong word). Under
        // FER = 10⁻² the count is Binomial(200, 0.01): mean 2, σ = √(200·0.01·0.99) = 1.41, so
        // more than 2 + 3σ = 6.2 wrong frames rejects FER ≤ 10⁻².
        let frames = 200;
        let mut rng = derive_rng(35, &[]);
        let (alice, mut bob) = binary_symmetric_pair(frames * 9_000, 0.02, &mut rng);
        let rec = reconciler(8);
        let out = rec.reconcile(&alice, &mut bob, 0.02, 6).unwrap();
        let plan = rec.plan(alice.len(), 0.02).unwrap();
        assert_eq!(plan.frames.len(), frames);
        let wrong = plan
            .frames
            .iter()
            .filter(|f| (f.offset..f.offset + f.key_bits).any(|i| alice.get(i) != bob.get(i)))
            .count();
        let sigma = (frames as f64 * 0.01 * 0.99).sqrt();
        assert!(wrong as f64 <= frames as f64 * 0.01 + 3.0 * sigma, "{wrong} wrong frames of {frames}: {out:?}");
    }
}
