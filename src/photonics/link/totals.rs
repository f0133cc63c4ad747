//! Counts per intensity class and basis, accumulated over a run.

use serde::{Deserialize, Serialize};

use crate::photonics::link::record::Detection;
use crate::photonics::source::{Basis, IntensityClass};

/// Totals of a run, indexed `[class][alice basis]` (class: signal, decoy, vacuum; basis: Z, X).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Pulses sent.
    pub pulses: [[u64; 2]; 3],
    /// Detections (any basis at Bob).
    pub detections: [[u64; 2]; 3],
    /// Detections whose bases matched.
    pub sifted: [[u64; 2]; 3],
    /// Sifted detections with Bob's bit ≠ Alice's.
    pub errors: [[u64; 2]; 3],
    /// Double clicks per class.
    pub double_clicks: [u64; 3],
    /// Detections per class by photons in the source pulse: 0, 1, ≥2 (simulation ground truth).
    pub detections_by_source_photons: [[u64; 3]; 3],
}

impl Totals {
    /// Counts one detection.
    #[inline]
    pub fn add_detection(&mut self, d: &Detection) {
        let (k, b) = (d.class.index(), d.alice_basis.index());
        self.detections[k][b] += 1;
        if d.is_sifted() {
            self.sifted[k][b] += 1;
            self.errors[k][b] += d.is_error() as u64;
        }
        self.double_clicks[k] += d.double_click as u64;
        self.detections_by_source_photons[k][(d.source_photons as usize).min(2)] += 1;
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Totals) {
        for k in 0..3 {
            for b in 0..2 {
                self.pulses[k][b] += other.pulses[k][b];
                self.detections[k][b] += other.detections[k][b];
                self.sifted[k][b] += other.sifted[k][b];
                self.errors[k][b] += other.errors[k][b];
            }
            self.double_clicks[k] += other.double_clicks[k];
            for n in 0..3 {
                self.detections_by_source_photons[k][n] += other.detections_by_source_photons[k][n];
            }
        }
    }

    /// All pulses sent.
    pub fn pulses(&self) -> u64 {
        self.pulses.iter().flatten().sum()
    }

    /// All detections.
    pub fn detections(&self) -> u64 {
        self.detections.iter().flatten().sum()
    }

    /// All sifted detections.
    pub fn sifted(&self) -> u64 {
        self.sifted.iter().flatten().sum()
    }

    /// All double clicks.
    pub fn double_clicks(&self) -> u64 {
        self.double_clicks.iter().sum()
    }

    /// Pulses of `class`.
    pub fn class_pulses(&self, class: IntensityClass) -> u64 {
        self.pulses[class.index()].iter().sum()
    }

    /// Detections of `class`.
    pub fn class_detections(&self, class: IntensityClass) -> u64 {
        self.detections[class.index()].iter().sum()
    }

    /// Gain of `class`: detections per pulse.
    pub fn gain(&self, class: IntensityClass) -> f64 {
        ratio(self.class_detections(class), self.class_pulses(class))
    }

    /// Error rate of `class` over its sifted detections in both bases.
    pub fn error_rate(&self, class: IntensityClass) -> f64 {
        let k = class.index();
        ratio(self.errors[k].iter().sum(), self.sifted[k].iter().sum())
    }

    /// QBER of the key: sifted signal pulses in the Z basis.
    pub fn qber(&self) -> f64 {
        let s = IntensityClass::Signal.index();
        ratio(self.errors[s][Basis::Z.index()], self.sifted[s][Basis::Z.index()])
    }

    /// QBER over every sifted detection (all classes) in `basis`.
    pub fn qber_in_basis(&self, basis: Basis) -> f64 {
        let b = basis.index();
        ratio((0..3).map(|k| self.errors[k][b]).sum(), (0..3).map(|k| self.sifted[k][b]).sum())
    }
}

/// `num / den`, or 0 when `den` is 0.
pub fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 { 0.0 } else { num as f64 / den as f64 }
}
