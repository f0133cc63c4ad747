//! Blind LDPC reconciliation (Martinez-Mateo, Elkouss, Martin, "Blind reconciliation",
//! Quantum Inf. Comput. 12, 791 (2012), §3; the symmetric variant of Kiktenko, Trushechkin,
//! Lim, Kurochkin, Fedorov, "Symmetric blind information reconciliation for quantum key
//! distribution", arXiv:1612.03673, Algorithm 1).
//!
//! Each frame starts at the highest rate its mother code reaches: all `d = n − k` non-key
//! positions that can be punctured are (syndrome leak `m − p`, no per-frame rate chosen from
//! the QBER estimate). Bob decodes; while a frame fails, Alice reveals the values of the next
//! `⌈p/t⌉` of its punctured positions (they become shortened ones: eq. 3 of Martinez-Mateo et
//! al., the rate falls by `Δ/k` per round) and Bob decodes again, for at most `t` rounds, each a
//! round trip. The QBER estimate only picks the mother code (its checks must cover
//! [`BlindReconciler::efficiency_ceiling`]`·h(Q)·k` once everything is revealed), as Kiktenko
//! et al. pick the code from the estimate; it is not needed to start the frame.
//!
//! Leak: as in [`super::LdpcReconciler`], `Σ (m − p) + revealed`, counted by [`AliceFrames`]
//! as bits cross the channel; an unconverged frame is counted and left to the verification hash.

use super::{AliceFrames, LdpcChannel, LdpcOutcome, LdpcReconciler, Plan};
use crate::postprocess::{BitString, PostprocessError, binary_entropy};

/// Settings of the blind reconciler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlindReconciler {
    /// Frame length, decoder and code seed as for rate-adaptive LDPC (its `efficiency` and
    /// reveal settings are not used).
    pub ldpc: LdpcReconciler,
    /// The efficiency the frame reaches once every punctured value is revealed (mother-code
    /// choice).
    pub efficiency_ceiling: f64,
    /// Reveal rounds t at most; each reveals `⌈p/t⌉` values of a failed frame.
    pub max_rounds: u32,
}

impl Default for BlindReconciler {
    /// The default LDPC frames and decoder, a ceiling of f = 1.3, 10 rounds.
    fn default() -> Self {
        BlindReconciler { ldpc: LdpcReconciler::default(), efficiency_ceiling: 1.3, max_rounds: 10 }
    }
}

impl BlindReconciler {
    /// The blind plan for `block_bits` key bits: the mother code for the ceiling at the
    /// estimate `qber`, every frame punctured as far as that code allows.
    pub fn plan(&self, block_bits: usize, qber: f64) -> Result<Plan, PostprocessError> {
        if !(qber > 0.0 && qber < 0.5) {
            return Err(PostprocessError::Size {
                name: "ldpc-blind block bits",
                value: block_bits,
                allowed: format!("the QBER estimate {qber} must be in (0, 0.5)"),
            });
        }
        let h = binary_entropy(qber);
        let l = &self.ldpc;
        let mut plan =
            Plan::new(l.frame_length, block_bits, Some(self.efficiency_ceiling * h), 0.0, qber, l.code_seed)?;
        let most = plan.mother.puncture_order.len();
        for frame in &mut plan.frames {
            let d = frame.punctured + frame.shortened;
            frame.punctured = d.min(most);
            frame.shortened = d - frame.punctured;
        }
        Ok(plan)
    }

    /// The rate-adaptive protocol's rounds with this reconciler's step: `⌈p/t⌉` values per
    /// round of the largest frame (`reveal_fraction` is its share of `h(Q)·k`).
    fn rounds(&self, plan: &Plan) -> LdpcReconciler {
        let frame = plan.frames[0];
        let shannon = binary_entropy(plan.qber) * frame.key_bits as f64;
        let step = frame.punctured.div_ceil(self.max_rounds.max(1) as usize) as f64;
        LdpcReconciler {
            efficiency: self.efficiency_ceiling,
            reveal_fraction: (step - 0.5).max(0.5) / shannon,
            max_rounds: self.max_rounds,
            ..self.ldpc
        }
    }

    /// Bob's side against Alice's channel.
    pub fn bob_reconcile(&self, plan: &Plan, alice: &mut impl LdpcChannel, bob: &mut BitString) -> LdpcOutcome {
        self.rounds(plan).bob_reconcile(plan, alice, bob)
    }

    /// Both sides at once, with the estimate `qber` for the mother code.
    pub fn reconcile(
        &self,
        alice: &BitString,
        bob: &mut BitString,
        qber: f64,
        alice_seed: u64,
    ) -> Result<LdpcOutcome, PostprocessError> {
        let plan = self.plan(alice.len(), qber)?;
        let mut channel = AliceFrames::new(&plan, alice, alice_seed);
        let outcome = self.bob_reconcile(&plan, &mut channel, bob);
        debug_assert_eq!(outcome.leaked_bits, channel.bits_sent() - outcome.punctured_bits);
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postprocess::VerificationHash;
    use crate::postprocess::cascade::binary_symmetric_pair;
    use crate::rng::derive_rng;

    fn blind() -> BlindReconciler {
        BlindReconciler {
            ldpc: LdpcReconciler { frame_length: 10_000, ..LdpcReconciler::default() },
            ..BlindReconciler::default()
        }
    }

    #[test]
    fn a_blind_frame_starts_with_every_puncturable_position_punctured() {
        let plan = blind().plan(30_000, 0.03).unwrap();
        let (m, most) = (plan.mother.code.checks(), plan.mother.puncture_order.len());
        for frame in &plan.frames {
            assert_eq!(frame.punctured, (10_000 - frame.key_bits).min(most), "{frame:?}");
            // The first message is below the Shannon limit: blind has to ask.
            assert!(((m - frame.punctured) as f64) < binary_entropy(0.03) * frame.key_bits as f64);
        }
    }

    #[test]
    fn a_blind_block_converges_over_several_rounds_and_leaks_what_crossed_the_channel() {
        // 3 %: the first message (m − p) is far below h(Q)·k, so frames need several rounds.
        let mut rng = derive_rng(41, &[]);
        let (alice, mut bob) = binary_symmetric_pair(36_000, 0.03, &mut rng);
        let rec = blind();
        let plan = rec.plan(alice.len(), 0.03).unwrap();
        let mut channel = AliceFrames::new(&plan, &alice, 7);
        let out = rec.bob_reconcile(&plan, &mut channel, &mut bob);
        assert_eq!(bob, alice, "{out:?}");
        assert_eq!(out.frames_unconverged, 0);
        assert!(out.rounds >= 2, "{out:?}");
        assert_eq!(out.messages, 1 + 2 * u64::from(out.rounds));
        assert_eq!(channel.messages, 1 + u64::from(out.rounds), "Alice's messages: syndromes, then one per round");
        assert_eq!(out.leaked_bits, channel.bits_sent() - out.punctured_bits);
        assert_eq!(out.leaked_bits, out.syndrome_bits - out.punctured_bits + out.revealed_bits);
        let shannon = alice.len() as f64 * binary_entropy(0.03);
        assert!((out.leaked_bits as f64) < rec.efficiency_ceiling * shannon + 4.0 * 10_000.0 / 10.0);
    }

    #[test]
    fn a_blind_block_beyond_every_reveal_fails_and_verification_catches_it() {
        let mut rng = derive_rng(42, &[]);
        let (alice, mut bob) = binary_symmetric_pair(18_000, 0.15, &mut rng);
        let out = blind().reconcile(&alice, &mut bob, 0.02, 5).unwrap();
        assert_eq!(out.frames_unconverged, out.frames, "{out:?}");
        let hash = VerificationHash::new(alice.len(), 1e-12, &mut derive_rng(43, &[])).unwrap();
        assert!(!hash.check(&hash.tags(&alice).unwrap(), &bob).unwrap().matched);
    }
}
