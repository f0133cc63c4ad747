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
pub mod study;

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
