//! The key bits of a block: the open block being filled from the link's detections (wiped
//! when it closes, grown without leaving key bits in freed memory) and the closed
//! [`SiftedBlock`] handed to the processor.

use zeroize::Zeroize;

use super::report::BlockCounts;
use crate::photonics::link::Totals;
use crate::photonics::source::Basis;
use crate::postprocess::estimation::BasisCounts;

/// A closed block: its key bits and its counts.
#[derive(Debug)]
pub(super) struct SiftedBlock {
    /// One byte per key bit: bit 0 Alice's bit, bit 1 Bob's.
    pub(super) packed: Vec<u8>,
    /// Errors among the key bits.
    pub(super) errors: u64,
    /// First pulse of the range.
    pub(super) first_pulse: u64,
    /// Pulses in the range.
    pub(super) pulses: u64,
    /// Counts of every detection in the range.
    pub(super) totals: Totals,
}

impl Drop for SiftedBlock {
    fn drop(&mut self) {
        self.packed.zeroize();
    }
}

impl SiftedBlock {
    pub(super) fn len(&self) -> usize {
        self.packed.len()
    }

    pub(super) fn counts(&self) -> BlockCounts {
        let basis = |b: Basis| {
            let b = b.index();
            let mut c = BasisCounts::default();
            for k in 0..3 {
                c.detections[k] = self.totals.sifted[k][b] as f64;
                c.errors[k] = self.totals.errors[k][b] as f64;
            }
            c
        };
        BlockCounts {
            key: basis(Basis::Z),
            test: basis(Basis::X),
            detections: std::array::from_fn(|k| self.totals.detections[k].iter().sum()),
            pulses: self.pulses,
            key_bits: self.packed.len() as u64,
        }
    }
}

/// The block being filled.
#[derive(Debug, Default)]
pub(super) struct OpenBlock {
    pub(super) packed: Vec<u8>,
    pub(super) errors: u64,
    pub(super) first_pulse: u64,
    pub(super) totals: Totals,
}

impl Drop for OpenBlock {
    fn drop(&mut self) {
        self.packed.zeroize();
    }
}

/// Appends `byte` to the key bytes `packed`; when the buffer must grow, copies it into one
/// twice as large (at most `limit`) and wipes the old one, so no key bit is left behind in
/// freed memory by a reallocation.
pub(super) fn push_wiping(packed: &mut Vec<u8>, byte: u8, limit: usize) {
    if packed.len() == packed.capacity() {
        let mut grown = Vec::with_capacity((2 * packed.capacity()).max(4096).min(limit).max(packed.len() + 1));
        grown.extend_from_slice(packed);
        packed.zeroize();
        *packed = grown;
    }
    packed.push(byte);
}
