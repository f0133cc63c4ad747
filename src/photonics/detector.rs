//! Bob's receiver: threshold single-photon detectors with efficiency, dark counts,
//! afterpulsing, dead time and misalignment, behind an active (two detectors) or passive (a
//! beam splitter and two detectors per basis) basis choice — see [`crate::photonics::receiver`].
//!
//! Model, shared by every engine:
//! - each photon reaching the detectors is detected with probability `efficiency`; a detected
//!   photon lands in the detector of Alice's bit, or (misalignment) in the other one with
//!   probability `misalignment` when the bases match, and in either with probability ½ when
//!   they do not (in the passive receiver it first goes to the Z arm with probability
//!   `z_basis_probability`, else to the X arm);
//! - each detector has a dark count with probability `dark_count_probability` per gate, so the
//!   total dark-count yield of the receiver is `Y0 = 1 − (1 − p_dc)^D` for D = 2 (active) or
//!   4 (passive) detectors — for the active receiver `≈ 2·p_dc`, the `Y0` of the papers (Ma,
//!   Qi, Zhao, Lo 2005 quote Y0 = 1.7e-6 for GYS, i.e. p_dc = 8.5e-7);
//! - an avalanche (photon, dark count or afterpulse) traps a carrier with probability
//!   `afterpulse_probability`; it is released after a geometric number k ≥ 1 of gates with
//!   `P(k) = (1 − r)·r^(k−1)`, `r = exp(−1/(τ·f))` (τ = `afterpulse_time_constant_ns`, f the
//!   gate rate) and causes a click in the same detector if the receiver is live then;
//!   (`afterpulse_model = "shared"`, the default and the only model the engines simulate: an
//!   afterpulse lands in a later gate, whatever class Alice sends then, so it is one
//!   intensity-independent background; `"per-intensity"` is the analytic model of Lim et al.
//!   2014, Sec. IV, `R_k = D_k(1 + p_ap)`, see [`AfterpulseModel`]);
//! - after any click the whole receiver is dead for `ceil(dead_time_ns · f)` gates (a common
//!   dead time for all detectors, as in gated InGaAs receivers with one time-to-digital
//!   converter); photons, dark counts and afterpulses in dead gates are lost;
//! - a double click (both detectors of a basis) is squashed to a uniformly random bit and
//!   counted; in the passive receiver clicks in both bases are squashed to a random basis and
//!   bit and counted as a double click.

use serde::{Deserialize, Serialize};

use rand::Rng;

use crate::photonics::receiver::{Clicks, Receiver};
use crate::rng::{Chance, unit_open0};
use crate::units::{InvalidParameter, check_non_negative, check_open_unit_interval, check_probability};

/// How the analytic expectation counts afterpulses (`detector.afterpulse_model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AfterpulseModel {
    /// Afterpulses are clicks in later gates, released by any class's avalanche and landing on
    /// whatever pulse is sent then: one background shared by all intensity classes, rate
    /// `≈ p_ap·Σ_k π_k Q_k`. This is what the pulse, event and block engines simulate.
    #[default]
    Shared,
    /// Lim, Curty, Walenta, Xu, Zbinden, PRA 89, 022307 (2014), Sec. IV: each class's detection
    /// rate is scaled by its own afterpulses, `R_k = D_k(1 + p_ap)`, with error term
    /// `p_ap·D_k/2`. Analytic only: a simulated afterpulse cannot know the class of the pulse
    /// that caused it, so the engines refuse it ([`Detector::check_simulable`]).
    PerIntensity,
}

/// Receiver parameters (`[detector]` in a scenario file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Detector {
    /// Basis choice: `active` (a modulator, two detectors) or `passive` (a beam splitter, two
    /// detectors per basis).
    pub receiver: Receiver,
    /// Detection efficiency η_Bob, including Bob's internal transmittance.
    pub efficiency: f64,
    /// Dark-count probability per gate of each detector (Y0 = 1 − (1 − p_dc)^D, D = 2 or 4).
    pub dark_count_probability: f64,
    /// Probability that an avalanche is followed by an afterpulse.
    pub afterpulse_probability: f64,
    /// Mean trap lifetime τ (ns): afterpulse delays decay as exp(−t/τ).
    pub afterpulse_time_constant_ns: f64,
    /// How the analytic expectation counts afterpulses: `shared` (default, what the engines
    /// simulate) or `per-intensity` (Lim et al. 2014, analytic only).
    pub afterpulse_model: AfterpulseModel,
    /// Dead time after each click (ns), applied to the following gates.
    pub dead_time_ns: f64,
    /// Misalignment error e_d: probability that a photon hits the wrong detector.
    pub misalignment: f64,
    /// Probability that Bob measures in the Z basis: the modulator's setting (active) or the
    /// beam splitter's share of photons sent to the Z arm (passive).
    pub z_basis_probability: f64,
}

impl Default for Detector {
    /// The GYS receiver of Ma, Qi, Zhao, Lo (2005): η_Bob = 4.5 %, Y0 = 1.7e-6, e_d = 3.3 %.
    fn default() -> Self {
        Detector {
            receiver: Receiver::Active,
            efficiency: 0.045,
            dark_count_probability: 8.5e-7,
            afterpulse_probability: 0.0,
            afterpulse_time_constant_ns: 1000.0,
            afterpulse_model: AfterpulseModel::Shared,
            dead_time_ns: 0.0,
            misalignment: 0.033,
            z_basis_probability: 0.5,
        }
    }
}

impl Detector {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        check_probability("detector.efficiency", self.efficiency)?;
        if self.efficiency == 0.0 {
            return Err(InvalidParameter::new(
                "detector.efficiency",
                0,
                "must be in (0, 1] (a detector of efficiency 0 never detects a photon)",
            ));
        }
        check_probability("detector.dark_count_probability", self.dark_count_probability)?;
        if self.dark_count_probability >= 1.0 {
            return Err(InvalidParameter::new(
                "detector.dark_count_probability",
                self.dark_count_probability,
                "must be in [0, 1) (a detector that clicks in every gate carries no information)",
            ));
        }
        check_probability("detector.afterpulse_probability", self.afterpulse_probability)?;
        check_non_negative("detector.afterpulse_time_constant_ns", self.afterpulse_time_constant_ns)?;
        check_non_negative("detector.dead_time_ns", self.dead_time_ns)?;
        check_probability("detector.misalignment", self.misalignment)?;
        if self.misalignment > 0.5 {
            return Err(InvalidParameter::new("detector.misalignment", self.misalignment, "must be in [0, 0.5]"));
        }
        if self.afterpulse_probability >= 1.0 {
            return Err(InvalidParameter::new(
                "detector.afterpulse_probability",
                self.afterpulse_probability,
                "must be below 1 (a certain afterpulse never lets the detector rest)",
            ));
        }
        check_open_unit_interval(
            "detector.z_basis_probability",
            self.z_basis_probability,
            "Bob needs both bases: Z for the key, X to bound the phase error",
        )?;
        Ok(())
    }

    /// Refuses a model the simulation engines cannot realise: the per-intensity afterpulse
    /// model (a simulated afterpulse falls on a later pulse of any class, so the engines
    /// realise only the shared model).
    pub fn check_simulable(&self) -> Result<(), InvalidParameter> {
        if self.afterpulse_model == AfterpulseModel::PerIntensity && self.afterpulse_probability > 0.0 {
            return Err(InvalidParameter::new(
                "detector.afterpulse_model",
                "per-intensity",
                "must be \"shared\" to simulate (pulse, event and block engines); the per-intensity model \
                 of Lim et al. 2014 is analytic only (qecnet keyrate)",
            ));
        }
        Ok(())
    }

    /// Total dark-count yield of the receiver per gate, `Y0 = 1 − (1 − p_dc)^D`.
    pub fn dark_yield(&self) -> f64 {
        1.0 - (1.0 - self.dark_count_probability).powi(self.receiver.detectors() as i32)
    }

    /// The detector-memory parameters at a gate rate of `rate_hz`.
    pub fn memory(&self, rate_hz: f64) -> DetectorMemory {
        let gates_per_ns = rate_hz * 1e-9;
        let dead_gates = (self.dead_time_ns * gates_per_ns - 1e-9).ceil().max(0.0) as u64;
        let tau_gates = self.afterpulse_time_constant_ns * gates_per_ns;
        let ratio = if tau_gates > 0.0 { (-1.0 / tau_gates).exp() } else { 0.0 };
        DetectorMemory {
            dead_gates,
            afterpulse: Chance::new(self.afterpulse_probability),
            afterpulse_delay_ratio: ratio,
        }
    }
}

/// Detector memory in gate units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorMemory {
    /// Gates after a click during which the receiver cannot click.
    pub dead_gates: u64,
    /// Whether an avalanche traps a carrier.
    pub afterpulse: Chance,
    /// r in `P(k) = (1 − r)·r^(k−1)`, the afterpulse delay distribution in gates.
    pub afterpulse_delay_ratio: f64,
}

impl DetectorMemory {
    /// Whether the receiver's next gates depend on its past (dead time or afterpulsing).
    pub fn has_memory(&self) -> bool {
        self.dead_gates > 0 || !self.afterpulse.is_impossible()
    }

    /// Afterpulse delay in gates (≥ 1) from a uniform `(0,1]` variate.
    pub fn afterpulse_delay(&self, uniform: f64) -> u64 {
        let r = self.afterpulse_delay_ratio;
        if r <= 0.0 {
            return 1;
        }
        let k = (uniform.ln() / r.ln()).floor();
        1 + if k >= 1.8e19 { u64::MAX / 2 } else { k as u64 }
    }
}

/// Dark counts of the receiver's detectors in one gate, drawn from their distribution given
/// that at least one fires (one word in the common two-detector case).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DarkCounts {
    /// Per-detector probability.
    p: f64,
    /// Number of detectors (2 or 4).
    detectors: u32,
    /// Probability that at least one detector fires: `1 − (1 − p)^D`.
    any_probability: f64,
    /// At least one detector fires.
    pub any: Chance,
    /// Two detectors: both fire, given at least one does: `p / (2 − p)`.
    both_given_any: Chance,
    /// Each later detector fires (independently of the earlier ones).
    one: Chance,
}

impl DarkCounts {
    /// Dark counts with per-detector probability `p` per gate on `detectors` detectors.
    pub fn new(p: f64, detectors: u32) -> Self {
        let any_probability = 1.0 - (1.0 - p).powi(detectors as i32);
        DarkCounts {
            p,
            detectors,
            any_probability,
            any: Chance::new(any_probability),
            both_given_any: Chance::new(p / (2.0 - p)),
            one: Chance::new(p),
        }
    }

    /// Probability that at least one detector fires in a gate: `1 − (1 − p)^D`.
    pub fn any_probability(&self) -> f64 {
        self.any_probability
    }

    /// Which detectors fire, given that at least one does.
    ///
    /// Two detectors: one word, its low bit choosing the single detector. Otherwise the first
    /// firing detector `i` is drawn from `P(i) = p(1 − p)^i / (1 − (1 − p)^D)` and each later
    /// one fires independently with probability `p`.
    #[inline]
    pub fn given_any<R: Rng + ?Sized>(&self, rng: &mut R) -> Clicks {
        let u = rng.next_u64();
        if self.detectors == 2 {
            return if self.both_given_any.hit(u & !1) { Clicks(0b11) } else { Clicks::detector((u & 1) as usize) };
        }
        let target = unit_open0(u) * self.any_probability;
        let mut first = 0;
        while first + 1 < self.detectors && 1.0 - (1.0 - self.p).powi(first as i32 + 1) < target {
            first += 1;
        }
        let mut clicks = Clicks::detector(first as usize);
        for later in first + 1..self.detectors {
            if self.one.hit(rng.next_u64()) {
                clicks = clicks | Clicks::detector(later as usize);
            }
        }
        clicks
    }
}

/// Where `photons` detected photons land: `[hit detector 0, hit detector 1]`.
///
/// `correct` is the detector of Alice's bit; each photon independently goes to the other one
/// with probability `error`. `u` is one uniform word.
#[inline]
pub fn route_photons(photons: u32, correct: u8, error: f64, u: u64) -> [bool; 2] {
    let all_correct = (1.0 - error).powi(photons as i32);
    let all_wrong = error.powi(photons as i32);
    let x = (u >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0);
    let (hit_correct, hit_wrong) = if x < all_correct {
        (true, false)
    } else if x < all_correct + all_wrong {
        (false, true)
    } else {
        (true, true)
    };
    let mut hits = [false; 2];
    hits[correct as usize] = hit_correct;
    hits[1 - correct as usize] = hit_wrong;
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_time_in_gates() {
        let d = Detector { dead_time_ns: 100.0, ..Detector::default() };
        assert_eq!(d.memory(1e9).dead_gates, 100);
        assert_eq!(d.memory(2e6).dead_gates, 1);
        assert_eq!(Detector::default().memory(2e6).dead_gates, 0);
        assert!(!Detector::default().memory(2e6).has_memory());
    }

    #[test]
    fn dark_yield_is_two_detectors() {
        let d = Detector::default();
        assert!((d.dark_yield() - 1.7e-6).abs() < 1e-12);
    }

    #[test]
    fn four_dark_detectors_given_any_follow_their_conditional_distribution() {
        // Exact probabilities of each nonempty set of 4 detectors with p = 0.3, given any,
        // against 4e5 draws: chi-square with 14 degrees of freedom below 45 (p ≈ 5e-5).
        use rand::SeedableRng;
        let p: f64 = 0.3;
        let darks = DarkCounts::new(p, 4);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let draws = 400_000;
        let mut counts = [0u64; 16];
        for _ in 0..draws {
            counts[darks.given_any(&mut rng).0 as usize] += 1;
        }
        assert_eq!(counts[0], 0);
        let any = 1.0 - (1.0 - p).powi(4);
        let chi2: f64 = (1..16)
            .map(|s: u32| {
                let expected =
                    draws as f64 * p.powi(s.count_ones() as i32) * (1.0 - p).powi(4 - s.count_ones() as i32) / any;
                (counts[s as usize] as f64 - expected).powi(2) / expected
            })
            .sum();
        assert!(chi2 < 45.0, "chi2 = {chi2}, counts {counts:?}");
    }

    #[test]
    fn passive_dark_yield_is_four_detectors() {
        let d = Detector { receiver: Receiver::Passive, dark_count_probability: 1e-3, ..Detector::default() };
        assert!((d.dark_yield() - (1.0 - 0.999f64.powi(4))).abs() < 1e-15);
    }

    #[test]
    fn misalignment_above_half_is_refused() {
        let d = Detector { misalignment: 0.7, ..Detector::default() };
        assert_eq!(d.validate().unwrap_err().to_string(), "detector.misalignment = 0.7: must be in [0, 0.5]");
    }
}
