//! The detection record both engines emit, one per click at Bob.

use std::io::Write;

use crate::photonics::source::{Basis, IntensityClass};

/// One detection at Bob: the pulse that caused it and what Alice sent and Bob saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Detection {
    /// Index of the pulse (gate) since the start of the run.
    pub pulse: u64,
    /// Intensity class Alice chose for the pulse.
    pub class: IntensityClass,
    /// Alice's preparation basis.
    pub alice_basis: Basis,
    /// Alice's bit.
    pub alice_bit: u8,
    /// Bob's measurement basis.
    pub bob_basis: Basis,
    /// Bob's bit (after squashing a double click).
    pub bob_bit: u8,
    /// Whether more than one detector clicked (squashed to a random bit, and with a passive
    /// receiver clicking in both bases, to a random basis).
    pub double_click: bool,
    /// Photons in the pulse as it left Alice (saturating at 255): simulation ground truth,
    /// not visible to Alice or Bob, used to validate decoy-state estimates.
    pub source_photons: u8,
}

impl Detection {
    /// Whether Alice's and Bob's bases agree (the detection survives sifting).
    pub fn is_sifted(&self) -> bool {
        self.alice_basis == self.bob_basis
    }

    /// Whether a sifted detection is an error.
    pub fn is_error(&self) -> bool {
        self.is_sifted() && self.alice_bit != self.bob_bit
    }

    /// CSV header matching [`Detection::write_csv`].
    pub const CSV_HEADER: &'static str =
        "pulse,class,alice_basis,alice_bit,bob_basis,bob_bit,double_click,source_photons";

    /// Writes the record as one CSV line.
    pub fn write_csv(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            self.pulse,
            self.class.name(),
            self.alice_basis.name(),
            self.alice_bit,
            self.bob_basis.name(),
            self.bob_bit,
            self.double_click as u8,
            self.source_photons
        )
    }
}

/// Receives the detections of a run in pulse order, and its progress.
pub trait LinkObserver {
    /// Called once per detection, in increasing pulse order.
    fn detection(&mut self, _detection: &Detection) {}
    /// Called after each batch of chunks with the pulses simulated so far.
    fn progress(&mut self, _pulses_done: u64, _pulses_total: u64) {}
    /// Asked after each batch of chunks: `true` ends the run early, and the [`LinkRun`]
    /// returned then covers only the pulses simulated so far (the caller discards it).
    ///
    /// [`LinkRun`]: crate::photonics::LinkRun
    fn cancelled(&self) -> bool {
        false
    }
}

/// The observer that keeps nothing.
impl LinkObserver for () {}
