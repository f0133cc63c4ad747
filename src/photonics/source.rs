//! The transmitter: weak coherent pulses with decoy intensities and a biased basis choice.
//!
//! Each pulse is one of three intensity classes (signal μ, decoy ν, vacuum ω), drawn with the
//! configured probabilities; its photon number is Poisson with that mean (a phase-randomised
//! coherent state). Alice prepares the Z basis with probability `z_basis_probability` and a
//! uniformly random bit.

use serde::{Deserialize, Serialize};

use crate::units::{InvalidParameter, check_non_negative, check_open_unit_interval, check_positive, check_probability};

/// Preparation / measurement basis. Z is the key basis, X the test basis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// Rectilinear basis: the key basis.
    Z = 0,
    /// Diagonal basis: used for parameter estimation.
    X = 1,
}

impl Basis {
    /// Both bases, in index order.
    pub const ALL: [Basis; 2] = [Basis::Z, Basis::X];

    /// Index 0 for Z, 1 for X.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Lower-case name (`z` or `x`).
    pub fn name(self) -> &'static str {
        match self {
            Basis::Z => "z",
            Basis::X => "x",
        }
    }
}

/// The intensity class of a pulse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntensityClass {
    /// Mean photon number μ.
    Signal = 0,
    /// Mean photon number ν < μ.
    Decoy = 1,
    /// Mean photon number ω < ν (0 for a true vacuum).
    Vacuum = 2,
}

impl IntensityClass {
    /// The three classes, in index order.
    pub const ALL: [IntensityClass; 3] = [IntensityClass::Signal, IntensityClass::Decoy, IntensityClass::Vacuum];

    /// Index 0, 1, 2 for signal, decoy, vacuum.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Lower-case name, as used in JSON and CSV.
    pub fn name(self) -> &'static str {
        match self {
            IntensityClass::Signal => "signal",
            IntensityClass::Decoy => "decoy",
            IntensityClass::Vacuum => "vacuum",
        }
    }

    /// The class with index `i` (0..3).
    pub fn from_index(i: usize) -> Self {
        Self::ALL[i]
    }
}

/// Alice's weak-coherent-pulse source (`[source]` in a scenario file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Source {
    /// Pulse repetition rate (Hz).
    pub repetition_rate_hz: f64,
    /// Signal mean photon number μ (> 0).
    pub signal_intensity: f64,
    /// Decoy mean photon number ν (0 < ν < μ).
    pub decoy_intensity: f64,
    /// Vacuum-decoy mean photon number ω (0 ≤ ω < ν).
    pub vacuum_intensity: f64,
    /// Probability of sending a signal pulse.
    pub signal_probability: f64,
    /// Probability of sending a decoy pulse.
    pub decoy_probability: f64,
    /// Probability of sending a vacuum pulse.
    pub vacuum_probability: f64,
    /// Probability that Alice prepares in the Z (key) basis.
    pub z_basis_probability: f64,
}

impl Default for Source {
    /// The GYS decoy source of Ma, Qi, Zhao, Lo (2005): μ = 0.48, ν = 0.05, ω = 0, at 2 MHz.
    fn default() -> Self {
        Source {
            repetition_rate_hz: 2e6,
            signal_intensity: 0.48,
            decoy_intensity: 0.05,
            vacuum_intensity: 0.0,
            signal_probability: 0.8,
            decoy_probability: 0.1,
            vacuum_probability: 0.1,
            z_basis_probability: 0.5,
        }
    }
}

impl Source {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        check_positive("source.repetition_rate_hz", self.repetition_rate_hz)?;
        check_positive("source.signal_intensity", self.signal_intensity)?;
        check_positive("source.decoy_intensity", self.decoy_intensity)?;
        check_non_negative("source.vacuum_intensity", self.vacuum_intensity)?;
        for (field, mu) in [
            ("source.signal_intensity", self.signal_intensity),
            ("source.decoy_intensity", self.decoy_intensity),
            ("source.vacuum_intensity", self.vacuum_intensity),
        ] {
            if mu > MAX_INTENSITY {
                return Err(InvalidParameter::new(
                    field,
                    mu,
                    format!(
                        "must be at most {MAX_INTENSITY} (photon numbers are tabulated up to {MAX_PHOTONS}; \
                         beyond this mean the neglected Poisson tail exceeds 1e-15)"
                    ),
                ));
            }
        }
        if self.decoy_intensity >= self.signal_intensity {
            return Err(InvalidParameter::new(
                "source.decoy_intensity",
                self.decoy_intensity,
                format!("must be below source.signal_intensity = {}", self.signal_intensity),
            ));
        }
        if self.vacuum_intensity >= self.decoy_intensity {
            return Err(InvalidParameter::new(
                "source.vacuum_intensity",
                self.vacuum_intensity,
                format!("must be below source.decoy_intensity = {}", self.decoy_intensity),
            ));
        }
        check_probability("source.signal_probability", self.signal_probability)?;
        check_probability("source.decoy_probability", self.decoy_probability)?;
        check_probability("source.vacuum_probability", self.vacuum_probability)?;
        let total = self.signal_probability + self.decoy_probability + self.vacuum_probability;
        if (total - 1.0).abs() > 1e-9 {
            return Err(InvalidParameter::new(
                "source.signal_probability + decoy_probability + vacuum_probability",
                total,
                "must sum to 1",
            ));
        }
        if self.signal_probability == 0.0 {
            return Err(InvalidParameter::new(
                "source.signal_probability",
                0,
                "must be > 0 (the key comes from signal pulses)",
            ));
        }
        check_open_unit_interval(
            "source.z_basis_probability",
            self.z_basis_probability,
            "Alice needs both bases: Z for the key, X to bound the phase error",
        )?;
        Ok(())
    }

    /// Mean photon number of `class`.
    pub fn intensity(&self, class: IntensityClass) -> f64 {
        match class {
            IntensityClass::Signal => self.signal_intensity,
            IntensityClass::Decoy => self.decoy_intensity,
            IntensityClass::Vacuum => self.vacuum_intensity,
        }
    }

    /// Probability that a pulse is of `class`.
    pub fn class_probability(&self, class: IntensityClass) -> f64 {
        match class {
            IntensityClass::Signal => self.signal_probability,
            IntensityClass::Decoy => self.decoy_probability,
            IntensityClass::Vacuum => self.vacuum_probability,
        }
    }
}

/// The largest photon number [`poisson_photon_numbers`] tabulates: every engine and the
/// analytic model see a pulse of more photons as one of this many.
pub const MAX_PHOTONS: u32 = 200;

/// The largest mean photon number a source may have: at μ = 100 the Poisson tail beyond
/// [`MAX_PHOTONS`], which the table folds into its last entry, is 4.6e-19 of the mass (below
/// 1e-15 up to μ ≈ 108; at μ = 150 it is 4e-5, and from μ ≈ 745 on `e^(−μ)` underflows and the
/// whole mass lands on the last entry).
pub const MAX_INTENSITY: f64 = 100.0;

/// Poisson probabilities `P(n)` for `n = 0..=n_max` with mean `mu`, where `n_max` is the
/// smallest photon number whose upper tail `P(N > n_max)` is below 1e-18, or [`MAX_PHOTONS`];
/// that tail is folded into the last entry so the list sums to 1. Exact (tail below 1e-15) for
/// `mu <= MAX_INTENSITY`, the bound [`Source::validate`] enforces.
pub fn poisson_photon_numbers(mu: f64) -> Vec<f64> {
    let mut probs = Vec::new();
    let mut p = (-mu).exp();
    let mut cumulative = 0.0;
    let mut n = 0u32;
    loop {
        probs.push(p);
        cumulative += p;
        if 1.0 - cumulative < 1e-18 || p == 0.0 && n as f64 > mu || n >= MAX_PHOTONS {
            break;
        }
        n += 1;
        p *= mu / n as f64;
    }
    let folded = (1.0 - cumulative).max(0.0);
    *probs.last_mut().expect("at least P(0)") += folded;
    probs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        Source::default().validate().unwrap();
    }

    #[test]
    fn decoy_above_signal_is_refused() {
        let s = Source { decoy_intensity: 0.6, ..Source::default() };
        let e = s.validate().unwrap_err().to_string();
        assert_eq!(e, "source.decoy_intensity = 0.6: must be below source.signal_intensity = 0.48");
    }

    #[test]
    fn the_photon_number_table_is_exact_up_to_the_largest_intensity_allowed() {
        use statrs::distribution::{DiscreteCDF, Poisson};
        let tail = Poisson::new(MAX_INTENSITY).unwrap().sf(MAX_PHOTONS as u64);
        assert!(tail < 1e-15, "P(N > {MAX_PHOTONS}) = {tail} at mu = {MAX_INTENSITY}");
        let p = poisson_photon_numbers(MAX_INTENSITY);
        let pmf = Poisson::new(MAX_INTENSITY).unwrap();
        for (n, &pn) in p.iter().enumerate().take(MAX_PHOTONS as usize) {
            use statrs::distribution::Discrete;
            assert!((pn - pmf.pmf(n as u64)).abs() <= 1e-15 + 1e-9 * pn, "P({n}) = {pn}");
        }
        // Just above the bound the source is refused, naming the field and the limit.
        let s = Source { signal_intensity: 1e3, ..Source::default() };
        let e = s.validate().unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("source.signal_intensity", "1000"));
        assert!(e.allowed.starts_with("must be at most 100 "), "{e}");
        assert!(Source { signal_intensity: MAX_INTENSITY, ..Source::default() }.validate().is_ok());
    }

    #[test]
    fn poisson_table_sums_to_one_and_matches_pmf() {
        for mu in [0.0, 0.05, 0.48, 2.0, 30.0] {
            let p = poisson_photon_numbers(mu);
            let total: f64 = p.iter().sum();
            assert!((total - 1.0).abs() < 1e-12, "mu={mu} total={total}");
            if p.len() > 2 {
                assert!((p[2] - mu * mu / 2.0 * (-mu).exp()).abs() < 1e-15);
            }
        }
    }
}
