//! Rate-adaptive syndrome reconciliation of a key block (Elkouss, Martinez-Mateo, Lancho,
//! Martin, "Rate compatible protocol for information reconciliation: an application to QKD",
//! ITW 2010, arXiv:1006.2660, §III).
//!
//! A block of key bits is cut into frames of one mother code of length `n` (Table I of
//! Elkouss et al. 2009, rates 0.50–0.90). In each frame `p` positions are punctured (filled by
//! Alice with private random bits, unknown to Bob: LLR 0) and `s` shortened (fixed to 0, known to
//! both: a very large LLR), so the code works at rate `R = (R₀ − σ)/(1 − π − σ)` (π = p/n,
//! σ = s/n; eq. 2 of the paper) on its `n − p − s` key bits. From the QBER estimate `Q` the
//! target is `R = 1 − f·h(Q)`; we take the nearest mother rate R₀ and either puncture
//! (`π = 1 − R₀/R`, R > R₀) or shorten (`σ = (R₀ − R)/(1 − R)`, R < R₀); the paper keeps
//! `p + s` constant instead, which fixes the key bits per frame but uses both at once.
//!
//! Leak, exactly: Alice's one message holds the `m` syndrome bits of every frame; the
//! punctured bits are uniform and independent of the key, and the punctured positions are
//! chosen so that no two share a check (each has a check of its own among them), so their
//! columns of `H` are independent and the syndrome reveals `m − p` bits about the key bits
//! (`H(S | key) = p`). Positions are public and deterministic from the code's seed. Shortened
//! bits are constants and reveal nothing. A frame the decoder does not settle is counted in
//! [`LdpcOutcome::frames_unconverged`]; its errors reach the verification hash.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rand::RngExt;
use rayon::prelude::*;

use super::{CheckRule, Decoder, DegreeDistribution, ELKOUSS_2009, LdpcCode};
use crate::postprocess::{BitString, PostprocessError, binary_entropy};
use crate::rng::derive_rng;

/// LLR of a shortened position, in units of the channel LLR (the fixed-point decoder counts
/// in those units exactly up to 8192).
const SHORTENED_UNITS: f32 = 1000.0;

/// Settings of the rate-adaptive LDPC reconciler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LdpcReconciler {
    /// Mother-code length n (bits per frame, key and punctured and shortened).
    pub frame_length: usize,
    /// Target efficiency f of the rate choice `R = 1 − f·h(Q)`.
    pub efficiency: f64,
    /// Decoder iterations per frame.
    pub max_iterations: u32,
    /// Check-node rule of the decoder.
    pub rule: CheckRule,
    /// Seed of the mother codes and of the puncturing and shortening orders (public).
    pub code_seed: u64,
}

impl Default for LdpcReconciler {
    /// 10⁵-bit frames, f = 1.15, 60 layered sum-product iterations, code seed 1.
    fn default() -> Self {
        LdpcReconciler {
            frame_length: 100_000,
            efficiency: 1.15,
            max_iterations: 60,
            rule: CheckRule::SumProduct,
            code_seed: 1,
        }
    }
}

/// A mother code with its public puncturing and shortening orders.
#[derive(Debug)]
pub struct MotherCode {
    /// Design rate R₀ = 1 − m/n.
    pub rate: f64,
    /// The parity-check matrix.
    pub code: LdpcCode,
    /// Positions that may be punctured, in order: no two share a check.
    pub puncture_order: Vec<u32>,
    /// The other positions in a seeded random order: the first `s` are shortened.
    pub shorten_order: Vec<u32>,
}

/// Mother codes by (n, rate in hundredths, seed).
type CodeCache = Mutex<HashMap<(usize, u32, u64), Arc<MotherCode>>>;

/// The process-wide cache of mother codes.
fn cache() -> &'static CodeCache {
    static CACHE: OnceLock<CodeCache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

impl MotherCode {
    /// The mother code of Table I rate `rate` and length `n` built from `seed`, constructed on
    /// first use and cached for the process.
    pub fn get(n: usize, rate: f64, seed: u64) -> Result<Arc<MotherCode>, PostprocessError> {
        let key = (n, (rate * 100.0).round() as u32, seed);
        let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(code) = cache.get(&key) {
            return Ok(code.clone());
        }
        let dist = DegreeDistribution::elkouss_2009(rate).ok_or_else(|| PostprocessError::Size {
            name: "ldpc mother-code rate (hundredths)",
            value: key.1 as usize,
            allowed: "must be one of 50, 55, …, 90 (Elkouss et al. 2009, Table I)".into(),
        })?;
        let checks = ((1.0 - rate) * n as f64).round() as usize;
        let code = LdpcCode::random(n, checks, &dist, seed)?;
        let built = Arc::new(Self::orders(rate, code, seed));
        cache.insert(key, built.clone());
        Ok(built)
    }

    /// The puncturing order (variables by increasing degree, ties in seeded random order,
    /// taken greedily when none of their checks already has a punctured neighbour) and the
    /// shortening order of the rest.
    fn orders(rate: f64, code: LdpcCode, seed: u64) -> MotherCode {
        let n = code.len();
        let mut degree = vec![0u32; n];
        let mut checks_of: Vec<Vec<u32>> = vec![Vec::new(); n];
        for c in 0..code.checks() {
            for &v in code.check(c) {
                degree[v as usize] += 1;
                checks_of[v as usize].push(c as u32);
            }
        }
        let mut rng = derive_rng(seed, &[0x9e7c]);
        let mut order: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        order.sort_by_key(|&v| degree[v as usize]);
        let mut tainted = vec![false; code.checks()];
        let (mut puncture_order, mut rest) = (Vec::new(), Vec::new());
        for v in order {
            let checks = &checks_of[v as usize];
            if checks.iter().all(|&c| !tainted[c as usize]) {
                checks.iter().for_each(|&c| tainted[c as usize] = true);
                puncture_order.push(v);
            } else {
                rest.push(v);
            }
        }
        for i in (1..rest.len()).rev() {
            rest.swap(i, rng.random_range(0..=i));
        }
        MotherCode { rate, code, puncture_order, shorten_order: rest }
    }
}

/// How a block is cut into frames.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The mother code.
    pub mother: Arc<MotherCode>,
    /// Punctured positions per frame.
    pub punctured: usize,
    /// Key bits per frame (the last frame may hold fewer, the rest shortened).
    pub key_per_frame: usize,
    /// Key bits of the block.
    pub block_bits: usize,
    /// The crossover probability the decoder assumes.
    pub qber: f64,
}

/// Alice's one message: the syndrome of every frame.
#[derive(Debug, Clone)]
pub struct SyndromeMessage {
    /// One syndrome (m bits) per frame.
    pub syndromes: Vec<BitString>,
}

/// What reconciling a block disclosed and how it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LdpcOutcome {
    /// Bits about the key the message reveals: Σ over frames of (m − p).
    pub leaked_bits: u64,
    /// Syndrome bits sent.
    pub syndrome_bits: u64,
    /// Punctured positions, over all frames.
    pub punctured_bits: u64,
    /// Shortened positions, over all frames.
    pub shortened_bits: u64,
    /// Frames.
    pub frames: u64,
    /// Frames whose decoder did not satisfy the syndrome.
    pub frames_unconverged: u64,
}

impl LdpcReconciler {
    /// The frame plan for a block of `block_bits` key bits at estimated crossover `qber`.
    pub fn plan(&self, block_bits: usize, qber: f64) -> Result<Plan, PostprocessError> {
        if !(qber > 0.0 && qber < 0.5) || block_bits == 0 {
            return Err(PostprocessError::Size {
                name: "ldpc block bits",
                value: block_bits,
                allowed: format!("must be ≥ 1, with the QBER estimate {qber} in (0, 0.5)"),
            });
        }
        let target = (1.0 - self.efficiency * binary_entropy(qber)).clamp(0.3, 0.99);
        let row = ELKOUSS_2009.iter().min_by(|a, b| (a.rate - target).abs().total_cmp(&(b.rate - target).abs()));
        let mother = MotherCode::get(self.frame_length, row.expect("nine rows").rate, self.code_seed)?;
        let n = self.frame_length as f64;
        let (punctured, shortened) = if target > mother.rate {
            (((1.0 - mother.rate / target) * n).round() as usize, 0)
        } else {
            (0, ((mother.rate - target) / (1.0 - target) * n).round() as usize)
        };
        let punctured = punctured.min(mother.puncture_order.len());
        let key_per_frame = self.frame_length - punctured - shortened;
        Ok(Plan { mother, punctured, key_per_frame, block_bits, qber })
    }

    /// Alice's side: the syndromes of her frames (punctured positions filled from `alice_seed`,
    /// her private randomness).
    pub fn alice_message(&self, plan: &Plan, alice: &BitString, alice_seed: u64) -> SyndromeMessage {
        let syndromes = (0..plan.frames())
            .into_par_iter()
            .map(|f| {
                let mut word = BitString::zeros(plan.mother.code.len());
                let mut rng = derive_rng(alice_seed, &[f as u64]);
                for &v in &plan.mother.puncture_order[..plan.punctured] {
                    word.set(v as usize, rng.random::<bool>());
                }
                for (i, v) in plan.key_positions(f).enumerate() {
                    word.set(v, alice.get(plan.key_per_frame * f + i));
                }
                plan.mother.code.syndrome(&word)
            })
            .collect();
        SyndromeMessage { syndromes }
    }

    /// Bob's side: decodes every frame of `bob` from the message and writes his corrected key
    /// bits back.
    pub fn bob_decode(&self, plan: &Plan, message: &SyndromeMessage, bob: &mut BitString) -> LdpcOutcome {
        let magnitude = ((1.0 - plan.qber) / plan.qber).ln() as f32;
        let code = &plan.mother.code;
        let decoded: Vec<(Vec<bool>, bool)> = (0..plan.frames())
            .into_par_iter()
            .map(|f| {
                let mut llr = vec![SHORTENED_UNITS * magnitude; code.len()];
                for &v in &plan.mother.puncture_order[..plan.punctured] {
                    llr[v as usize] = 0.0;
                }
                for (i, v) in plan.key_positions(f).enumerate() {
                    llr[v] = if bob.get(plan.key_per_frame * f + i) { -magnitude } else { magnitude };
                }
                let out = Decoder::with_rule(self.rule).decode(code, &llr, &message.syndromes[f], self.max_iterations);
                (plan.key_positions(f).map(|v| out.word.get(v)).collect(), out.converged)
            })
            .collect();
        let mut outcome = LdpcOutcome::default();
        for (f, (bits, converged)) in decoded.into_iter().enumerate() {
            for (i, bit) in bits.iter().enumerate() {
                bob.set(plan.key_per_frame * f + i, *bit);
            }
            outcome.frames += 1;
            outcome.frames_unconverged += u64::from(!converged);
            outcome.syndrome_bits += message.syndromes[f].len() as u64;
            outcome.punctured_bits += plan.punctured as u64;
            outcome.shortened_bits += (code.len() - plan.punctured - bits.len()) as u64;
        }
        outcome.leaked_bits = outcome.syndrome_bits - outcome.punctured_bits;
        outcome
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
        let message = self.alice_message(&plan, alice, alice_seed);
        Ok(self.bob_decode(&plan, &message, bob))
    }
}

impl Plan {
    /// Frames of the block.
    pub fn frames(&self) -> usize {
        self.block_bits.div_ceil(self.key_per_frame)
    }

    /// The code positions holding frame `f`'s key bits, in order: the positions after the
    /// punctured ones and the frame's shortened ones in the shortening order (the last frame
    /// shortens what its key bits do not fill).
    pub fn key_positions(&self, f: usize) -> impl Iterator<Item = usize> + '_ {
        let bits = self.key_per_frame.min(self.block_bits - self.key_per_frame * f);
        let rest = &self.mother.shorten_order;
        let skip = self.mother.puncture_order.len() - self.punctured;
        // Unused puncture candidates come first in the free list, then the shortening order.
        let free = self.mother.puncture_order[self.punctured..].iter().chain(rest);
        let shortened = skip + rest.len() - bits;
        free.skip(shortened).map(|&v| v as usize)
    }
}
