//! Sifting: Alice and Bob keep the detections where their bases agree. The Z-basis detections
//! of the chosen intensity classes form the sifted key; the X-basis ones are kept as counts for
//! parameter estimation.

use crate::photonics::link::record::{Detection, LinkObserver};
use crate::photonics::source::{Basis, IntensityClass};

/// Alice's and Bob's sifted key strings (one bit per byte for simplicity of later stages).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiftedKey {
    /// Alice's sifted bits.
    pub alice: Vec<u8>,
    /// Bob's sifted bits, same length.
    pub bob: Vec<u8>,
    /// Pulse index of each sifted bit.
    pub pulses: Vec<u64>,
}

impl SiftedKey {
    /// Number of sifted bits.
    pub fn len(&self) -> usize {
        self.alice.len()
    }

    /// Whether no bit was sifted.
    pub fn is_empty(&self) -> bool {
        self.alice.is_empty()
    }

    /// Positions where Alice and Bob differ.
    pub fn errors(&self) -> usize {
        self.alice.iter().zip(&self.bob).filter(|(a, b)| a != b).count()
    }
}

/// Collects the sifted key from a run's detections.
#[derive(Debug, Clone)]
pub struct Sifter {
    classes: [bool; 3],
    key: SiftedKey,
}

impl Sifter {
    /// Keeps Z-basis sifted bits of the given classes (the GLLP key uses signal only; the
    /// Lim et al. 2014 protocol uses every class).
    pub fn new(classes: &[IntensityClass]) -> Self {
        let mut keep = [false; 3];
        for c in classes {
            keep[c.index()] = true;
        }
        Sifter { classes: keep, key: SiftedKey::default() }
    }

    /// The sifted key so far.
    pub fn into_key(self) -> SiftedKey {
        self.key
    }
}

impl LinkObserver for Sifter {
    fn detection(&mut self, d: &Detection) {
        if d.is_sifted() && d.alice_basis == Basis::Z && self.classes[d.class.index()] {
            self.key.alice.push(d.alice_bit);
            self.key.bob.push(d.bob_bit);
            self.key.pulses.push(d.pulse);
        }
    }
}
