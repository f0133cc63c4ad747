//! The eavesdropper: intercept-resend, photon-number splitting and added depolarising noise,
//! composable with each other and with every other part of the link.
//!
//! Per pulse of `n` photons leaving Alice:
//! - with probability `intercept_resend_fraction` Eve measures it in a uniformly random basis
//!   (if `n ≥ 1`) and resends one photon in her basis and result; in the matched-basis case Bob
//!   then errs with probability ½ when Eve's basis differs from Alice's, and with the ordinary
//!   misalignment otherwise (so an ideal link shows QBER p/4);
//! - otherwise, with `photon_number_splitting`, Eve measures the photon number without
//!   disturbing the polarisation: from a multi-photon pulse she keeps one photon and forwards
//!   `n − 1`; a single photon is blocked with probability `pns_block_single_fraction`;
//! - with `lossless_channel` the photons Eve forwards or resends reach Bob's detector without
//!   fibre loss (Eve replaced the fibre), so Bob's gain can look normal;
//! - `depolarising` randomises the polarisation of each photon reaching Bob with that
//!   probability (a noise knob); `target_qber > 0` instead solves for the depolarising
//!   probability that gives that signal QBER.
//!
//! The result of Eve's action on a pulse is an [`Arrival`]: a number of photons, each reaching
//! and being detected by Bob's receiver independently, with a given misrouting probability.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::rng::Chance;
use crate::units::{InvalidParameter, check_probability};

/// Eavesdropper parameters (`[eve]` in a scenario file); the default is no eavesdropper.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Eve {
    /// Fraction of pulses Eve intercepts, measures and resends.
    pub intercept_resend_fraction: f64,
    /// Whether Eve runs the photon-number-splitting attack on the pulses she does not intercept.
    pub photon_number_splitting: bool,
    /// Share of single-photon pulses Eve blocks under PNS.
    pub pns_block_single_fraction: f64,
    /// Whether the photons Eve forwards or resends bypass the fibre loss.
    pub lossless_channel: bool,
    /// Probability that a photon's polarisation is randomised on its way to Bob.
    pub depolarising: f64,
    /// If > 0: the signal QBER to reach by depolarising noise (overrides `depolarising`).
    pub target_qber: f64,
}

impl Eve {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        check_probability("eve.intercept_resend_fraction", self.intercept_resend_fraction)?;
        check_probability("eve.pns_block_single_fraction", self.pns_block_single_fraction)?;
        check_probability("eve.depolarising", self.depolarising)?;
        check_probability("eve.target_qber", self.target_qber)?;
        if self.target_qber >= 0.5 {
            return Err(InvalidParameter::new("eve.target_qber", self.target_qber, "must be below 0.5"));
        }
        if self.target_qber > 0.0 && self.depolarising > 0.0 {
            return Err(InvalidParameter::new(
                "eve.target_qber",
                self.target_qber,
                "cannot be combined with eve.depolarising > 0 (set one of them)",
            ));
        }
        Ok(())
    }

    /// Whether Eve touches any pulse at all.
    pub fn is_active(&self) -> bool {
        self.intercept_resend_fraction > 0.0
            || self.photon_number_splitting
            || self.depolarising > 0.0
            || self.target_qber > 0.0
    }
}

/// What reaches Bob's detectors from one pulse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Photons travelling to Bob.
    pub photons: u32,
    /// Probability that each of them is detected (channel transmittance × efficiency).
    pub detection: f64,
    /// Probability that a detected photon hits the wrong detector when the bases match.
    pub error: f64,
}

impl Arrival {
    /// Nothing reaches Bob.
    pub const NONE: Arrival = Arrival { photons: 0, detection: 0.0, error: 0.0 };
}

/// Per-photon detection and error probabilities of the two paths to Bob.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhotonPaths {
    /// Detection probability through the fibre: `t_fibre · η_Bob`.
    pub fibre: f64,
    /// Detection probability of photons Eve forwards or resends.
    pub eve: f64,
    /// Misrouting probability of a photon carrying Alice's state: `(1 − p)·e_d + p/2`.
    pub aligned_error: f64,
}

/// Eve's action compiled for fast sampling and exact enumeration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EveAction {
    intercept: Chance,
    intercept_fraction: f64,
    pns: bool,
    block_single: Chance,
    block_fraction: f64,
    paths: PhotonPaths,
}

impl EveAction {
    /// Compiles `eve` for photons travelling by `paths`.
    pub fn new(eve: &Eve, paths: PhotonPaths) -> Self {
        EveAction {
            intercept: Chance::new(eve.intercept_resend_fraction),
            intercept_fraction: eve.intercept_resend_fraction,
            pns: eve.photon_number_splitting,
            block_single: Chance::new(eve.pns_block_single_fraction),
            block_fraction: eve.pns_block_single_fraction,
            paths,
        }
    }

    /// The photon paths in use.
    pub fn paths(&self) -> PhotonPaths {
        self.paths
    }

    /// Samples what reaches Bob from a pulse of `n` photons (pulse engine).
    #[inline]
    pub fn act<R: Rng + ?Sized>(&self, n: u32, rng: &mut R) -> Arrival {
        let p = self.paths;
        if n == 0 {
            return Arrival::NONE;
        }
        if !self.intercept.is_impossible() && self.intercept.hit(rng.next_u64()) {
            let same_basis = rng.next_u64() >> 63 == 0;
            let error = if same_basis { p.aligned_error } else { 0.5 };
            return Arrival { photons: 1, detection: p.eve, error };
        }
        if self.pns {
            if n == 1 && self.block_single.hit(rng.next_u64()) {
                return Arrival::NONE;
            }
            let forwarded = if n == 1 { 1 } else { n - 1 };
            return Arrival { photons: forwarded, detection: p.eve, error: p.aligned_error };
        }
        Arrival { photons: n, detection: p.fibre, error: p.aligned_error }
    }

    /// Every outcome of a pulse of `n` photons with its probability (event engine, analytics).
    pub fn branches(&self, n: u32) -> Vec<(f64, Arrival)> {
        let p = self.paths;
        if n == 0 {
            return vec![(1.0, Arrival::NONE)];
        }
        let f = self.intercept_fraction;
        let mut out = Vec::with_capacity(4);
        if f > 0.0 {
            out.push((f / 2.0, Arrival { photons: 1, detection: p.eve, error: p.aligned_error }));
            out.push((f / 2.0, Arrival { photons: 1, detection: p.eve, error: 0.5 }));
        }
        let rest = 1.0 - f;
        if rest > 0.0 {
            if self.pns && n == 1 {
                let b = self.block_fraction;
                out.push((rest * b, Arrival::NONE));
                out.push((rest * (1.0 - b), Arrival { photons: 1, detection: p.eve, error: p.aligned_error }));
            } else if self.pns {
                out.push((rest, Arrival { photons: n - 1, detection: p.eve, error: p.aligned_error }));
            } else {
                out.push((rest, Arrival { photons: n, detection: p.fibre, error: p.aligned_error }));
            }
        }
        out.retain(|(w, _)| *w > 0.0);
        out
    }
}
