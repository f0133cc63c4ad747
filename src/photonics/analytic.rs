//! Analytic expectations for the link model: gains `Q_k` and error rates `E_k` per intensity.
//!
//! Two levels are provided:
//! - the closed forms of the literature ([`gys_gain`], [`gys_error_rate`], after Ma, Qi, Zhao,
//!   Lo 2005, eqs. (2)–(3)), which linearise dark counts and ignore double clicks, and the
//!   intercept-resend QBERs [`intercept_resend_qber_ideal`] and
//!   [`intercept_resend_error_rate`];
//! - the exact expectation of this crate's detector model ([`expected_memoryless`]): a sum over
//!   Alice's photon number and Eve's action of the exact click and error probabilities of the
//!   receiver's threshold detectors (two, or four for the passive receiver) with dark counts
//!   and squashed double clicks ([`ReceiverModel::outcomes`]). For the active receiver it
//!   agrees with the closed forms to O(Y0·ημ); it is what the simulation engines must
//!   reproduce.
//!
//! Detector memory (dead time, afterpulsing) is applied by [`with_memory`] to first order in
//! the afterpulse probability and in `D·Q` (dead gates × click probability); it is exact when
//! both are off. Afterpulses are counted either as one background shared by all classes (what
//! the engines simulate) or per intensity as in Lim et al. 2014, Sec. IV ([`AfterpulseModel`]).

use crate::photonics::detector::AfterpulseModel;
use crate::photonics::eve::{Arrival, EveAction};
use crate::photonics::receiver::{ReceiverModel, sifted_and_errors};
use crate::photonics::source::{Basis, poisson_photon_numbers};

/// Expected gain and error rates of one intensity class.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Expected {
    /// Probability that a pulse of this class gives a detection.
    pub gain: f64,
    /// Probability that a matched-basis detection of this class is in error (both bases, as
    /// Alice chooses them).
    pub error_rate: f64,
    /// Per Alice basis (Z, X): probability that a pulse sent in it is detected with Bob in
    /// the same basis.
    pub sifted_gain: [f64; 2],
    /// Per Alice basis (Z, X): error rate of those sifted detections. The two differ only for
    /// a passive receiver with an unbalanced beam splitter (clicks in both arms are assigned
    /// to a random basis).
    pub error_rate_by_basis: [f64; 2],
}

impl Expected {
    /// From per-pulse probabilities: the `gain`, and per Alice basis the probability of a
    /// sifted detection and of a sifted error; Alice sends Z with probability `alice_z`.
    pub fn from_probabilities(gain: f64, sifted: [f64; 2], errors: [f64; 2], alice_z: f64) -> Self {
        let share = [alice_z, 1.0 - alice_z];
        let pooled_sifted: f64 = (0..2).map(|b| share[b] * sifted[b]).sum();
        let pooled_errors: f64 = (0..2).map(|b| share[b] * errors[b]).sum();
        let rate = |e: f64, s: f64| if s > 0.0 { e / s } else { 0.0 };
        Expected {
            gain,
            error_rate: rate(pooled_errors, pooled_sifted),
            sifted_gain: sifted,
            error_rate_by_basis: [rate(errors[0], sifted[0]), rate(errors[1], sifted[1])],
        }
    }
}

/// A gain and an error rate given by a closed form.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GainAndErrorRate {
    /// Probability that a pulse gives a detection.
    pub gain: f64,
    /// Probability that a matched-basis detection is in error.
    pub error_rate: f64,
}

/// Gain of a weak coherent pulse of mean `mu` on a link of overall transmittance `eta`:
/// `Q_μ = Y0 + 1 − e^(−ημ)` (Ma, Qi, Zhao, Lo 2005, eq. 2).
pub fn gys_gain(y0: f64, eta: f64, mu: f64) -> f64 {
    y0 + 1.0 - (-eta * mu).exp()
}

/// Error rate of that pulse: `E_μ·Q_μ = e0·Y0 + e_d·(1 − e^(−ημ))` with `e0 = ½`
/// (Ma, Qi, Zhao, Lo 2005, eq. 3).
pub fn gys_error_rate(y0: f64, eta: f64, mu: f64, e_d: f64) -> f64 {
    (0.5 * y0 + e_d * (1.0 - (-eta * mu).exp())) / gys_gain(y0, eta, mu)
}

/// QBER that intercept-resend on a fraction `p` of pulses adds on an ideal link (unit
/// transmittance, no dark counts, no misalignment): Eve picks the wrong basis half the time,
/// and then Bob's bit is wrong half the time, so `p/4`.
pub fn intercept_resend_qber_ideal(p: f64) -> f64 {
    p / 4.0
}

/// Exact error rate of a class of mean `mu` under intercept-resend on a fraction `p` of
/// pulses, for this crate's receiver model (two threshold detectors, dark-count probability
/// `p_dc` each, misalignment `e_d`, squashed double clicks), derived by hand:
///
/// - honest pulses: the two detectors see independent Poisson light of means `ημ(1−e_d)` and
///   `ημ·e_d`, so with `a = (1−p_dc)e^(−ημ(1−e_d))`, `b = (1−p_dc)e^(−ημ·e_d)` (probabilities
///   that each stays silent): `Q_h = 1 − ab`, `(EQ)_h = a(1−b) + ½(1−a)(1−b)`;
/// - intercepted pulses: Eve gets a result iff `n ≥ 1` (`s = 1 − e^(−μ)`) and resends one
///   photon, detected with probability `η`, misrouted with `e' = ½·e_d + ½·½`. With
///   `c = (1−p_dc)(1 − sη(1−e'))`, `w = (1−p_dc)(1 − sη·e')`, `z = (1−p_dc)²(1 − sη)` (silent
///   correct, silent wrong, both silent): `Q_IR = 1 − z`, `(EQ)_IR = (c − z) + ½(1 − c − w + z)`;
/// - `E = ((1−p)(EQ)_h + p(EQ)_IR) / ((1−p)Q_h + pQ_IR)`.
///
/// On an ideal link (`η = 1`, `p_dc = 0`, `e_d = 0`) this is exactly `p/4`.
pub fn intercept_resend_error_rate(p: f64, mu: f64, eta: f64, p_dc: f64, e_d: f64) -> GainAndErrorRate {
    let q = 1.0 - p_dc;
    let a = q * (-eta * mu * (1.0 - e_d)).exp();
    let b = q * (-eta * mu * e_d).exp();
    let gain_h = 1.0 - a * b;
    let err_h = a * (1.0 - b) + 0.5 * (1.0 - a) * (1.0 - b);
    let s_eta = (1.0 - (-mu).exp()) * eta;
    let e_eve = 0.5 * e_d + 0.25;
    let c = q * (1.0 - s_eta * (1.0 - e_eve));
    let w = q * (1.0 - s_eta * e_eve);
    let z = q * q * (1.0 - s_eta);
    let gain_ir = 1.0 - z;
    let err_ir = (c - z) + 0.5 * (1.0 - c - w + z);
    let gain = (1.0 - p) * gain_h + p * gain_ir;
    GainAndErrorRate { gain, error_rate: ((1.0 - p) * err_h + p * err_ir) / gain }
}

/// Closed-form statistics of a passive receiver (see [`crate::photonics::receiver`]) for an
/// honest coherent pulse; per Alice basis `[Z, X]` where given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PassiveCoherent {
    /// Probability of a click.
    pub gain: f64,
    /// Probability of a detection with Bob in Alice's basis, per Alice basis.
    pub sifted: [f64; 2],
    /// Probability of such a detection with Bob's bit wrong, per Alice basis.
    pub errors: [f64; 2],
    /// Probability of a double click (two detectors of an arm, or clicks in both arms), per
    /// Alice basis (the arm matching Alice's basis splits the light unevenly, the other ½:½).
    pub double_click: [f64; 2],
}

/// Passive receiver, honest coherent pulse of mean `mu`, overall transmittance `eta`, derived
/// by hand (independently of the inclusion–exclusion of [`ReceiverModel::patterns`]): Poisson
/// light split by the beam splitter (Z arm share `p_z`) and by the misalignment is Poisson in
/// each of the four detectors, independently, with means `λ_d = ημ·r_d`
/// (`r = (p_z(1−e_Z), p_z·e_Z, p_x(1−e_X), p_x·e_X)`, `e = e_d` in Alice's basis and ½ in the
/// other). So detector `d` stays silent with `s_d = (1 − p_dc)·e^(−λ_d)`, independently;
/// with the arms silent with `S_Z = s_0 s_1`, `S_X = s_2 s_3`, and `a` Alice's arm, `o` the
/// other:
/// - `Q = 1 − S_Z S_X`;
/// - sifted `= (1 − S_a)·S_o + ½(1 − S_a)(1 − S_o)` (clicks in both arms take a random basis);
/// - errors `= S_o·[s_right(1 − s_wrong) + ½(1 − s_right)(1 − s_wrong)] + ¼(1 − S_a)(1 − S_o)`;
/// - double clicks `= (1 − s_0)(1 − s_1)S_X + (1 − s_2)(1 − s_3)S_Z + (1 − S_Z)(1 − S_X)`.
pub fn passive_coherent(mu: f64, eta: f64, p_dc: f64, e_d: f64, p_z: f64) -> PassiveCoherent {
    let silent = |mean: f64| (1.0 - p_dc) * (-mean).exp();
    let lambda = eta * mu;
    let mut sifted = [0.0; 2];
    let mut errors = [0.0; 2];
    let mut gain = 0.0;
    let mut double_click = [0.0; 2];
    for alice in 0..2 {
        let error_in = |arm: usize| if arm == alice { e_d } else { 0.5 };
        let share = [p_z, 1.0 - p_z];
        // s[arm] = (right detector silent, wrong detector silent).
        let s: [(f64, f64); 2] = std::array::from_fn(|arm| {
            let e = error_in(arm);
            (silent(lambda * share[arm] * (1.0 - e)), silent(lambda * share[arm] * e))
        });
        let arm_silent = [s[0].0 * s[0].1, s[1].0 * s[1].1];
        let (sa, so) = (arm_silent[alice], arm_silent[1 - alice]);
        let (right, wrong) = s[alice];
        let both_arms = (1.0 - sa) * (1.0 - so);
        sifted[alice] = (1.0 - sa) * so + 0.5 * both_arms;
        errors[alice] = so * (right * (1.0 - wrong) + 0.5 * (1.0 - right) * (1.0 - wrong)) + 0.25 * both_arms;
        // The gain does not depend on Alice's basis.
        gain = 1.0 - sa * so;
        let in_arm = |arm: usize| (1.0 - s[arm].0) * (1.0 - s[arm].1) * arm_silent[1 - arm];
        double_click[alice] = in_arm(0) + in_arm(1) + both_arms;
    }
    PassiveCoherent { gain, sifted, errors, double_click }
}

/// Exact expected gain and error rates of the pulses whose possible arrivals at Bob are
/// `branches` (probability, arrival), for `receiver`, Alice sending Z with probability
/// `alice_z`: `Q = Σ w·P(click | arrival)`, and per basis the sifted and error probabilities
/// of [`ReceiverModel::outcomes`].
pub fn expected_of_branches(
    branches: impl IntoIterator<Item = (f64, Arrival)>,
    receiver: &ReceiverModel,
    alice_z: f64,
) -> Expected {
    let mut gain = 0.0;
    let mut sifted = [0.0; 2];
    let mut errors = [0.0; 2];
    for (w, arrival) in branches {
        gain += w * receiver.click_probability(&arrival);
        for alice in Basis::ALL {
            let (s, e) = sifted_and_errors(&receiver.outcomes(&arrival, alice), alice);
            sifted[alice.index()] += w * s;
            errors[alice.index()] += w * e;
        }
    }
    Expected::from_probabilities(gain, sifted, errors, alice_z)
}

/// Exact expected gain and error rates of a pulse class of mean `mu` without detector memory:
/// Alice's Poisson photon number, Eve's action, then [`expected_of_branches`].
pub fn expected_memoryless(mu: f64, eve: &EveAction, receiver: &ReceiverModel, alice_z: f64) -> Expected {
    let branches = poisson_photon_numbers(mu)
        .into_iter()
        .enumerate()
        .flat_map(|(n, pn)| eve.branches(n as u32).into_iter().map(move |(w, arrival)| (pn * w, arrival)));
    expected_of_branches(branches, receiver, alice_z)
}

/// Applies detector memory to memoryless expectations `classes` (sent with probabilities
/// `class_probabilities`, Alice's Z basis with `alice_z`, Bob's with `bob_z`), to first order:
///
/// - with `q = Σ π_k Q_k` the natural click probability of a live gate, an afterpulse fires
///   in a live gate with probability `a = c·p_ap·r^D`, where `c = q / (1 − p_ap·r^D)` is the
///   click probability of a live gate including afterpulses and `r^D` the chance that the
///   release falls after the dead time; an afterpulse click has a random bit (error ½) and
///   Bob's basis b with probability `p_b` (his setting, or the beam splitter's share);
/// - a fraction `L = 1 / (1 + D·c)` of gates is live;
/// - `Q'_k = L·(Q_k + (1 − Q_k)·a)`, and per basis, sifted `S'_b = L·(S_b + p_b(1 − Q_k)·a)`,
///   errors `E'_b·S'_b = L·(E_b·S_b + ½p_b(1 − Q_k)·a)` (`model` = [`AfterpulseModel::Shared`]);
/// - or, with [`AfterpulseModel::PerIntensity`] (Lim et al. 2014, Sec. IV: `R_k = D_k(1 + p_ap)`,
///   error term `p_ap·D_k/2`), each class's own clicks bring its afterpulses, in the same basis
///   and with a random bit: `Q'_k = L·Q_k(1 + p')`, `S'_b = L·S_b(1 + p')`,
///   `E'_b·S'_b = L·(E_b·S_b + ½p'·S_b)` with `p' = p_ap·r^D` (the paper's `p_ap` without dead
///   time).
pub fn with_memory(
    classes: [Expected; 3],
    class_probabilities: [f64; 3],
    (alice_z, bob_z): (f64, f64),
    dead_gates: u64,
    (afterpulse_probability, afterpulse_delay_ratio): (f64, f64),
    model: AfterpulseModel,
) -> [Expected; 3] {
    if dead_gates == 0 && afterpulse_probability == 0.0 {
        return classes;
    }
    let q: f64 = (0..3).map(|k| class_probabilities[k] * classes[k].gain).sum();
    let survive_dead = afterpulse_delay_ratio.powf(dead_gates as f64);
    let reach = afterpulse_probability * survive_dead;
    let c = q / (1.0 - reach);
    let live = 1.0 / (1.0 + dead_gates as f64 * c);
    if model == AfterpulseModel::PerIntensity {
        return classes.map(|e| {
            let scale = live * (1.0 + reach);
            let sifted = e.sifted_gain.map(|s| scale * s);
            let errors: [f64; 2] = std::array::from_fn(|b| {
                live * (e.error_rate_by_basis[b] * e.sifted_gain[b] + 0.5 * reach * e.sifted_gain[b])
            });
            Expected::from_probabilities(scale * e.gain, sifted, errors, alice_z)
        });
    }
    let a = c * reach;
    let bob_share = [bob_z, 1.0 - bob_z];
    classes.map(|e| {
        let extra = (1.0 - e.gain) * a;
        let sifted: [f64; 2] = std::array::from_fn(|b| live * (e.sifted_gain[b] + bob_share[b] * extra));
        let errors: [f64; 2] =
            std::array::from_fn(|b| live * (e.error_rate_by_basis[b] * e.sifted_gain[b] + 0.5 * bob_share[b] * extra));
        Expected::from_probabilities(live * (e.gain + extra), sifted, errors, alice_z)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::photonics::eve::{Eve, PhotonPaths};
    use crate::photonics::receiver::Receiver;

    fn active(p_dc: f64) -> ReceiverModel {
        ReceiverModel::new(Receiver::Active, 0.5, p_dc)
    }

    fn honest(eta: f64, e_d: f64) -> EveAction {
        EveAction::new(&Eve::default(), PhotonPaths { fibre: eta, eve: eta, aligned_error: e_d })
    }

    #[test]
    fn exact_model_agrees_with_the_gys_closed_forms() {
        // GYS at 0, 50, 100 km: the linearised closed forms differ from the exact model only
        // by terms of order Y0·ημ and (ημ)²·e_d·p_dc, far below 1e-4 relative.
        for km in [0.0, 50.0, 100.0] {
            let eta = 0.045 * 10f64.powf(-0.021 * km);
            let p_dc = 8.5e-7;
            let y0 = 1.0 - (1.0 - p_dc) * (1.0 - p_dc);
            for mu in [0.48, 0.05, 0.0] {
                let exact = expected_memoryless(mu, &honest(eta, 0.033), &active(p_dc), 0.5);
                let q = gys_gain(y0, eta, mu);
                let e = gys_error_rate(y0, eta, mu, 0.033);
                assert!((exact.gain - q).abs() / q < 1e-4, "km={km} mu={mu}: {} vs {q}", exact.gain);
                assert!((exact.error_rate - e).abs() / e < 1e-3, "km={km} mu={mu}: {} vs {e}", exact.error_rate);
            }
        }
    }

    #[test]
    fn intercept_resend_closed_form_matches_enumeration() {
        for p in [1.0, 0.5, 0.2] {
            for (eta, p_dc, e_d) in [(1.0, 0.0, 0.0), (0.01, 1e-5, 0.03), (0.3, 1e-3, 0.01)] {
                let mu = 0.5;
                let eve = Eve { intercept_resend_fraction: p, ..Eve::default() };
                let action = EveAction::new(&eve, PhotonPaths { fibre: eta, eve: eta, aligned_error: e_d });
                let enumerated = expected_memoryless(mu, &action, &active(p_dc), 0.5);
                let closed = intercept_resend_error_rate(p, mu, eta, p_dc, e_d);
                assert!((enumerated.gain - closed.gain).abs() < 1e-12);
                assert!((enumerated.error_rate - closed.error_rate).abs() < 1e-12);
            }
        }
        let ideal = intercept_resend_error_rate(0.2, 0.5, 1.0, 0.0, 0.0);
        assert!((ideal.error_rate - intercept_resend_qber_ideal(0.2)).abs() < 1e-15);
    }

    #[test]
    fn passive_enumeration_matches_the_closed_form() {
        // The inclusion–exclusion over detector sets against the independent-Poisson closed
        // form, balanced and unbalanced beam splitters, dim and bright light, Alice Z 70 %.
        for (eta, p_dc, e_d, p_z) in [(0.01, 1e-5, 0.03, 0.5), (0.3, 1e-3, 0.02, 0.8), (0.9, 0.01, 0.1, 0.2)] {
            let receiver = ReceiverModel::new(Receiver::Passive, p_z, p_dc);
            for mu in [0.0, 0.1, 0.5, 2.0] {
                let enumerated = expected_memoryless(mu, &honest(eta, e_d), &receiver, 0.7);
                let closed = passive_coherent(mu, eta, p_dc, e_d, p_z);
                let label = format!("eta {eta} p_dc {p_dc} p_z {p_z} mu {mu}");
                assert!((enumerated.gain - closed.gain).abs() < 1e-12, "{label}: gain");
                for b in 0..2 {
                    assert!((enumerated.sifted_gain[b] - closed.sifted[b]).abs() < 1e-12, "{label}: sifted {b}");
                    let e = closed.errors[b] / closed.sifted[b];
                    assert!((enumerated.error_rate_by_basis[b] - e).abs() < 1e-9, "{label}: error rate {b}");
                }
            }
        }
    }

    #[test]
    fn balanced_passive_receiver_has_the_active_gain_and_more_errors_from_cross_arm_clicks() {
        // Same total light and dark-count yield: the gains agree exactly; a passive
        // receiver's clicks in both arms carry a random bit, so its error rate is higher.
        let (eta, e_d, p_dc) = (0.2, 0.02, 1e-4);
        let active = ReceiverModel::new(Receiver::Active, 0.5, p_dc);
        let passive = ReceiverModel::new(Receiver::Passive, 0.5, 1.0 - (1.0 - p_dc).sqrt());
        assert!((active.dark_yield() - passive.dark_yield()).abs() < 1e-15);
        let a = expected_memoryless(1.0, &honest(eta, e_d), &active, 0.5);
        let p = expected_memoryless(1.0, &honest(eta, e_d), &passive, 0.5);
        assert!((a.gain - p.gain).abs() < 1e-12);
        assert!(p.error_rate > a.error_rate + 1e-3, "{} vs {}", p.error_rate, a.error_rate);
    }

    #[test]
    fn memory_correction_vanishes_without_memory() {
        let e = [Expected::from_probabilities(0.01, [0.005, 0.005], [1.5e-4, 1.5e-4], 0.5); 3];
        for model in [AfterpulseModel::Shared, AfterpulseModel::PerIntensity] {
            let out = with_memory(e, [0.8, 0.1, 0.1], (0.5, 0.5), 0, (0.0, 0.5), model);
            assert_eq!(out, e);
        }
    }

    #[test]
    fn per_intensity_afterpulses_follow_lim_2014() {
        // Lim et al. 2014, Sec. IV: R_k = D_k(1 + p_ap), errors e_k·D_k + p_ap·D_k/2, per class;
        // a vacuum class with no clicks gets no afterpulses (the shared model gives it some).
        let (gain, errors) = (0.01, 1.5e-4);
        let e = Expected::from_probabilities(gain, [0.005, 0.005], [errors, errors], 0.5);
        let vacuum = Expected::from_probabilities(1e-6, [5e-7, 5e-7], [2.5e-7, 2.5e-7], 0.5);
        let p_ap = 0.04;
        let out =
            with_memory([e, e, vacuum], [0.8, 0.1, 0.1], (0.5, 0.5), 0, (p_ap, 0.5), AfterpulseModel::PerIntensity);
        assert!((out[0].gain - gain * (1.0 + p_ap)).abs() < 1e-15);
        for b in 0..2 {
            assert!((out[0].sifted_gain[b] - 0.005 * (1.0 + p_ap)).abs() < 1e-15);
            let err = out[0].error_rate_by_basis[b] * out[0].sifted_gain[b];
            assert!((err - (errors + 0.5 * p_ap * 0.005)).abs() < 1e-15);
        }
        assert!((out[2].gain - 1e-6 * (1.0 + p_ap)).abs() < 1e-18);
        let shared = with_memory([e, e, vacuum], [0.8, 0.1, 0.1], (0.5, 0.5), 0, (p_ap, 0.5), AfterpulseModel::Shared);
        assert!(shared[2].gain > 10.0 * out[2].gain, "shared background {} vs {}", shared[2].gain, out[2].gain);
    }
}
