//! Test input for reconciliation: a uniformly random key for Alice and Bob's copy through a
//! binary symmetric channel.

use crate::postprocess::bits::BitString;
use crate::rng::{Chance, SimRng};
use rand::Rng;

/// Alice's key (`n` uniform bits) and Bob's (each bit flipped independently with probability
/// `qber`: a binary symmetric channel), both drawn from `rng`.
pub fn binary_symmetric_pair(n: usize, qber: f64, rng: &mut SimRng) -> (BitString, BitString) {
    let alice = BitString::random(n, rng);
    let flip = Chance::new(qber);
    let mut errors = BitString::zeros(n);
    for i in 0..n {
        if flip.hit(rng.next_u64()) {
            errors.flip(i);
        }
    }
    let bob = alice.xor(&errors);
    (alice, bob)
}
