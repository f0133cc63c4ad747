//! Secret key rates: Shor–Preskill, GLLP without decoys, decoy-state with
//! infinite decoys and with vacuum + weak decoy, and the finite-key length of Lim et al. 2014,
//! each evaluated on the expected gains and error rates of a link model; plus an optimiser of
//! the free parameters and the maximum secure distance ([`optimise`], [`max_distance`]). The binary entropy lives in
//! [`entropy`](super::entropy) (re-exported here).

use serde::Serialize;

use crate::photonics::LinkConfig;
use crate::photonics::analytic::{Expected, expected_of_branches};
use crate::photonics::eve::Arrival;
use crate::photonics::link::LinkExpectation;
pub use crate::postprocess::entropy::binary_entropy;
use crate::postprocess::estimation::{BasisCounts, Lim2014, vacuum_weak_bounds};
use crate::postprocess::settings::PostprocessSettings;
use crate::units::InvalidParameter;

mod optimise;
pub use optimise::{MaxDistance, max_distance, optimise};

/// Shor–Preskill rate per sifted bit, `1 − 2h(Q)` (Shor, Preskill, PRL 85, 441 (2000)).
pub fn shor_preskill(qber: f64) -> f64 {
    1.0 - 2.0 * binary_entropy(qber)
}

/// The key-rate models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum KeyRateModel {
    /// `R = q·Q_μ·(1 − 2h(E_μ))`: single-photon security applied to all pulses (no PNS).
    ShorPreskill,
    /// GLLP without decoys: every multi-photon pulse assumed tagged.
    Gllp,
    /// Decoy state with infinitely many decoys: true Y1 and e1.
    DecoyInfinite,
    /// Vacuum + weak decoy bounds (Ma, Qi, Zhao, Lo 2005).
    DecoyVacuumWeak,
    /// Finite-key length of Lim et al. 2014 for a block of n_X key-basis detections.
    Lim2014,
}

impl KeyRateModel {
    /// Whether the decoy intensity ν matters to this model.
    pub fn uses_decoy(self) -> bool {
        matches!(self, KeyRateModel::DecoyVacuumWeak | KeyRateModel::Lim2014)
    }
}

/// A key rate and the figures behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KeyRate {
    /// Secret bits per pulse sent.
    pub rate_per_pulse: f64,
    /// Secret bits per second at the repetition rate.
    pub rate_bps: f64,
    /// Signal QBER E_μ used.
    pub qber: f64,
    /// Single-photon yield used (true or bound).
    pub single_photon_yield: f64,
    /// Single-photon (phase) error rate used (true or bound).
    pub single_photon_error: f64,
}

/// The expectation of one photon through the fibre of the honest link: its gain is the
/// single-photon yield Y1, its error rate e1.
fn single_photon(model: &LinkExpectation) -> Expected {
    let paths = model.eve.paths();
    let one = Arrival { photons: 1, detection: paths.fibre, error: paths.aligned_error };
    expected_of_branches([(1.0, one)], &model.receiver, model.config.source.z_basis_probability)
}

/// The share of `e`'s detections that survive sifting (both bases, Alice's Z with `alice_z`).
fn sifted_share(e: &Expected, alice_z: f64) -> f64 {
    let sifted = alice_z * e.sifted_gain[0] + (1.0 - alice_z) * e.sifted_gain[1];
    if e.gain > 0.0 { sifted / e.gain } else { 0.0 }
}

/// Evaluates `kind` on the link `config` (its expected gains and error rates; Eve as
/// configured) with `settings`. `qber` overrides the signal error rate E_μ where given.
///
/// Asymptotic models use `q = P(bases match | detection)` (key from both bases;
/// `q = p_A·p_B + (1 − p_A)(1 − p_B)`, ½ for symmetric BB84 as in Ma et al. 2005):
/// `R = q{−Q_μ f h(E_μ) + Q_1[1 − h(e_1)]}` (GLLP; Lo, Ma, Chen, PRL 94, 230504 (2005),
/// eq. 1), with the signal's `q` on the first term and the single photons' on the second (the
/// two differ for a passive receiver, whose multi-photon clicks in both bases take a random
/// basis), and
/// - decoy-infinite: `Q_1 = Y_1 μ e^(−μ)`, Y_1 and e_1 the true single-photon values;
/// - decoy-vacuum-weak: Y_1 and e_1 from [`vacuum_weak_bounds`];
/// - gllp: `Δ = P(n ≥ 2)/Q_μ`, `Q_1 = Q_μ(1 − Δ)`, `e_1 = E_μ/(1 − Δ)`;
/// - shor-preskill: `R = q·Q_μ·(1 − 2h(E_μ))`.
///
/// lim2014 uses the key basis only: with `N` pulses chosen so that `n_X = block_size`
/// key-basis detections are expected, `R = ℓ/N` with ℓ from [`Lim2014::key_length`] and
/// `λ_EC = f·n_X·h(E_X)`.
pub fn key_rate(
    kind: KeyRateModel,
    config: &LinkConfig,
    settings: &PostprocessSettings,
    qber: Option<f64>,
) -> Result<KeyRate, InvalidParameter> {
    settings.validate()?;
    scored_key_rate(kind, config, settings, qber).map(|(rate, _)| rate)
}

/// [`key_rate`] (settings already validated) and a score for the optimiser: the rate where it
/// is positive, else the unfloored rate (≤ 0, how far the point is from giving key), so a
/// search can climb out of the region without key.
pub(crate) fn scored_key_rate(
    kind: KeyRateModel,
    config: &LinkConfig,
    settings: &PostprocessSettings,
    qber: Option<f64>,
) -> Result<(KeyRate, f64), InvalidParameter> {
    if let Some(q) = qber
        && !(0.0..0.5).contains(&q)
    {
        return Err(InvalidParameter::new("--qber", q, "must be in [0, 0.5)"));
    }
    let model = LinkExpectation::new(config)?;
    let src = &config.source;
    let (mu, nu) = (src.signal_intensity, src.decoy_intensity);
    let [signal, decoy, vacuum] = model.expected;
    let q_mu = signal.gain;
    let e_mu = qber.unwrap_or(signal.error_rate);
    let f = settings.error_correction_efficiency;
    let pa = src.z_basis_probability;
    // Sifted shares of the signal's detections and of single-photon ones (equal, p_A·p_B +
    // (1 − p_A)(1 − p_B), for an active receiver; a passive one loses more multi-photon
    // detections to clicks in both bases).
    let one = single_photon(&model);
    let (sifting, sifting_1) = (sifted_share(&signal, pa), sifted_share(&one, pa));
    let gllp =
        |q1: f64, e1: f64| -sifting * q_mu * f * binary_entropy(e_mu) + sifting_1 * q1 * (1.0 - binary_entropy(e1));
    let (rate, y1, e1) = match kind {
        KeyRateModel::ShorPreskill => (sifting * q_mu * shor_preskill(e_mu), q_mu, e_mu),
        KeyRateModel::Gllp => {
            let multi = 1.0 - (-mu).exp() * (1.0 + mu);
            let delta = (multi / q_mu).min(1.0);
            let e1 = if delta < 1.0 { (e_mu / (1.0 - delta)).min(0.5) } else { 0.5 };
            (gllp(q_mu * (1.0 - delta), e1), q_mu * (1.0 - delta) / (mu * (-mu).exp()), e1)
        }
        KeyRateModel::DecoyInfinite => {
            let (y1, e1) = (one.gain, one.error_rate);
            (gllp(y1 * mu * (-mu).exp(), e1), y1, e1)
        }
        KeyRateModel::DecoyVacuumWeak => {
            let b = vacuum_weak_bounds(mu, nu, q_mu, decoy.gain, decoy.error_rate, vacuum.gain);
            (gllp(b.yield_lower * mu * (-mu).exp(), b.error_upper), b.yield_lower, b.error_upper)
        }
        KeyRateModel::Lim2014 => return lim2014_rate(&model, settings, e_mu, qber.is_some()),
    };
    let score = rate;
    let rate = rate.max(0.0);
    let key_rate = KeyRate {
        rate_per_pulse: rate,
        rate_bps: rate * src.repetition_rate_hz,
        qber: e_mu,
        single_photon_yield: y1,
        single_photon_error: e1,
    };
    Ok((key_rate, score))
}

fn lim2014_rate(
    model: &LinkExpectation,
    settings: &PostprocessSettings,
    e_mu: f64,
    qber_given: bool,
) -> Result<(KeyRate, f64), InvalidParameter> {
    let src = &model.config.source;
    let intensities = [src.signal_intensity, src.decoy_intensity, src.vacuum_intensity];
    if intensities[0] <= intensities[1] + intensities[2] {
        return Err(InvalidParameter::new(
            "source.signal_intensity",
            intensities[0],
            format!(
                "must exceed decoy + vacuum intensities ({} + {}) for the Lim et al. 2014 bounds",
                intensities[1], intensities[2]
            ),
        ));
    }
    let lim = Lim2014 { intensities, probabilities: model.class_probabilities, epsilon_sec: settings.epsilon_sec };
    let pa = src.z_basis_probability;
    let alice_share = [pa, 1.0 - pa];
    // Sifted detections per pulse sent, in the key (Z) and test (X) basis.
    let sifted = |k: usize, b: usize| lim.probabilities[k] * alice_share[b] * model.expected[k].sifted_gain[b];
    let per_pulse_key: f64 = (0..3).map(|k| sifted(k, 0)).sum();
    let pulses = settings.block_size as f64 / per_pulse_key;
    let counts = |b: usize| {
        let mut c = BasisCounts::default();
        for k in 0..3 {
            let err = if qber_given && k == 0 { e_mu } else { model.expected[k].error_rate_by_basis[b] };
            c.detections[k] = pulses * sifted(k, b);
            c.errors[k] = c.detections[k] * err;
        }
        c
    };
    let (key, test) = (counts(0), counts(1));
    // Share of single-photon detections that are key-basis sifted detections (p_A·p_B for an
    // active receiver).
    let one = single_photon(model);
    let key_share = if one.gain > 0.0 { pa * one.sifted_gain[0] / one.gain } else { 0.0 };
    let e_key = key.total_errors() / key.total_detections();
    let leak = settings.error_correction_efficiency * key.total_detections() * binary_entropy(e_key);
    let (length, epsilon_sec) = settings.lim_key_length(&lim, &key, &test, leak);
    // The bounds reported beside the rate use the secrecy the length was computed with.
    let lim = Lim2014 { epsilon_sec: if epsilon_sec > 0.0 { epsilon_sec } else { lim.epsilon_sec }, ..lim };
    let rate = length / pulses;
    // Without key: the unfloored length at the secrecy used (or, per bit, the most generous
    // κ·n_X), capped at 0 so that no point without key outranks one with key.
    let score = if length > 0.0 {
        rate
    } else {
        let generous = settings.epsilon_sec_per_bit.map_or(lim.epsilon_sec, |k| (k * key.total_detections()).min(0.5));
        let raw =
            Lim2014 { epsilon_sec: generous, ..lim }.key_length_unfloored(&key, &test, leak, settings.epsilon_cor);
        (raw / pulses).min(0.0)
    };
    let key_rate = KeyRate {
        rate_per_pulse: rate,
        rate_bps: rate * src.repetition_rate_hz,
        qber: e_key,
        single_photon_yield: lim.single_photon_lower(&key.detections) / (pulses * key_share * lim.tau(1)),
        single_photon_error: lim.phase_error_upper(&key, &test),
    };
    Ok((key_rate, score))
}

/// The asymptotic vacuum + weak decoy rate estimated from a simulated run's measured counts,
/// as Alice and Bob would: measured `Q_μ, E_μ, Q_ν, E_ν` and `Y0` (the vacuum class's gain)
/// in the bounds of Ma, Qi, Zhao, Lo 2005 and the GLLP formula (see [`key_rate`]). The vacuum
/// class must be a true vacuum (ω = 0) for `Y0` to be its gain; with ω > 0 the estimate is
/// approximate (ω·η·e^(−ω) too large a Y0, conservative).
pub fn vacuum_weak_rate_from_counts(
    config: &LinkConfig,
    totals: &crate::photonics::link::Totals,
    settings: &PostprocessSettings,
) -> f64 {
    use crate::photonics::IntensityClass::{Decoy, Signal, Vacuum};
    let src = &config.source;
    let (q_mu, e_mu) = (totals.gain(Signal), totals.error_rate(Signal));
    let b = vacuum_weak_bounds(
        src.signal_intensity,
        src.decoy_intensity,
        q_mu,
        totals.gain(Decoy),
        totals.error_rate(Decoy),
        totals.gain(Vacuum),
    );
    let (pa, pb) = (src.z_basis_probability, config.detector.z_basis_probability);
    let sifting = pa * pb + (1.0 - pa) * (1.0 - pb);
    let q1 = b.yield_lower * src.signal_intensity * (-src.signal_intensity).exp();
    let rate = sifting
        * (-q_mu * settings.error_correction_efficiency * binary_entropy(e_mu)
            + q1 * (1.0 - binary_entropy(b.error_upper)));
    rate.max(0.0)
}
