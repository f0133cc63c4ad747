//! Cascade information reconciliation.
//!
//! Bob corrects his sifted key towards Alice's by asking her for the parities of blocks of
//! bits, binary-searching the blocks whose parities disagree, and, every time he flips a bit,
//! going back to the blocks of all earlier passes that contain it (the *cascade effect*).
//! Implemented after Brassard and Salvail, "Secret-key reconciliation by public discussion",
//! EUROCRYPT '93 (LNCS 765, pp. 410–423), with the block-size schedules, sub-block parity reuse
//! and BICONF passes studied by Martinez-Mateo, Pacher, Peev, Ciurana and Martin, "Demystifying
//! the information reconciliation protocol Cascade", Quantum Inf. Comput. 15, 453–477 (2015),
//! arXiv:1407.3257, who compare the variants of [`CascadeVariant`].
//!
//! The two parties are simulated honestly: Bob runs the protocol on his own string only; Alice
//! is a [`ParityOracle`] that answers parity requests from her own string (see
//! [`AliceParities`]); the only data crossing is Bob's requests and Alice's answers, and every
//! parity bit Alice sends is counted in [`CascadeOutcome::leaked_bits`]. Bob never sends a
//! parity: his messages are the ranges he asks about, which depend only on the error pattern
//! (independent of Alice's key on a binary symmetric channel with a uniform key), so
//! `leak_EC` is exactly the number of parities Alice disclosed. Requests sent together in one
//! message and answered together are one channel use (one round trip).

mod bob;
mod bsc;
mod channel;
mod layout;
mod params;

pub use bob::{CascadeOutcome, reconcile};
pub use bsc::binary_symmetric_pair;
pub use channel::{AliceParities, ParityOracle, RangeRequest};
pub use layout::PassLayout;
pub use params::{CascadeConfig, CascadeVariant};

use super::PostprocessError;
use super::bits::BitString;

/// Reconciles `bob` towards `alice` with `config`, simulating Alice as an [`AliceParities`]
/// oracle over her own string; `public_seed` is the shared public randomness of the pass
/// permutations. Returns the leak and channel-use accounting.
pub fn reconcile_pair(
    alice: &BitString,
    bob: &mut BitString,
    config: &CascadeConfig,
    public_seed: u64,
) -> Result<CascadeOutcome, PostprocessError> {
    if alice.len() != bob.len() {
        return Err(PostprocessError::LengthMismatch { what: "cascade keys", left: alice.len(), right: bob.len() });
    }
    let mut oracle = AliceParities::new(alice);
    reconcile(bob, &mut oracle, config, public_seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::derive_rng;

    #[test]
    fn tiny_frames_and_high_qber_terminate_with_consistent_accounting() {
        for n in [1usize, 2, 3, 7, 64, 65, 130] {
            for (v, variant) in CascadeVariant::ALL.into_iter().enumerate() {
                for qber in [0.001, 0.1, 0.45] {
                    let mut rng = derive_rng(17, &[n as u64, v as u64, (qber * 1000.0) as u64]);
                    let (alice, mut bob) = binary_symmetric_pair(n, qber, &mut rng);
                    let before = alice.hamming_distance(&bob);
                    let config = CascadeConfig::new(variant, qber, n).unwrap();
                    let out = reconcile_pair(&alice, &mut bob, &config, 3).unwrap();
                    // Every flip corrects a real error: the distance drops by exactly the flips.
                    assert_eq!(alice.hamming_distance(&bob), before - out.corrected_bits as usize);
                    assert!(out.leaked_bits >= out.channel_uses);
                }
            }
        }
    }

    #[test]
    fn a_biconf_round_of_the_paper_s_variant_corrects_at_most_one_error() {
        let n = 10_000;
        let (mut more_than_one_per_round, mut frames) = (false, 0);
        for run in 0..40u64 {
            let (alice, bob) = binary_symmetric_pair(n, 0.05, &mut derive_rng(29, &[run]));
            let outcome = |variant, rounds: Option<u32>| {
                let mut config = CascadeConfig::new(variant, 0.05, n).unwrap();
                config.biconf_clean_rounds = rounds.unwrap_or(config.biconf_clean_rounds);
                reconcile_pair(&alice, &mut bob.clone(), &config, run).unwrap()
            };
            for variant in [CascadeVariant::Biconf, CascadeVariant::BiconfCascading] {
                let passes = outcome(variant, Some(0));
                let full = outcome(variant, None);
                let found = full.corrected_bits - passes.corrected_bits;
                // Rounds that corrected something: all but the final clean streak, at most.
                let rounds = u64::from(full.passes - passes.passes).saturating_sub(10);
                if variant == CascadeVariant::Biconf {
                    assert!(found <= rounds, "run {run}: {found} errors in {rounds} correcting rounds");
                    frames += usize::from(found > 0);
                } else {
                    more_than_one_per_round |= found > rounds;
                }
            }
        }
        assert!(frames > 10, "BICONF found errors in only {frames} frames");
        assert!(more_than_one_per_round, "cascading BICONF rounds never corrected more than one error each");
    }

    #[test]
    fn rejects_mismatched_and_empty_keys() {
        let config = CascadeConfig::new(CascadeVariant::Original, 0.02, 10).unwrap();
        let e = reconcile_pair(&BitString::zeros(10), &mut BitString::zeros(9), &config, 0).unwrap_err();
        assert!(e.to_string().contains("lengths differ (10 vs 9 bits)"), "{e}");
        let e = reconcile_pair(&BitString::zeros(0), &mut BitString::zeros(0), &config, 0).unwrap_err();
        assert!(e.to_string().contains("must be >= 1"), "{e}");
        let big = CascadeConfig::new(CascadeVariant::Original, 0.02, 1000).unwrap();
        let e = reconcile_pair(&BitString::zeros(10), &mut BitString::zeros(10), &big, 0).unwrap_err();
        assert!(e.to_string().contains("cascade block size"), "{e}");
    }
}
