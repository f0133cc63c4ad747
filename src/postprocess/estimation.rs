//! Parameter estimation: decoy-state bounds on the single-photon yield and error rate, from
//! gains and error rates (asymptotic) or from counts (finite size).

use crate::postprocess::entropy::binary_entropy;

/// Lower bound on the single-photon yield and upper bound on its error rate.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SinglePhotonBounds {
    /// Y1 lower bound (per pulse, given one photon sent).
    pub yield_lower: f64,
    /// e1 upper bound.
    pub error_upper: f64,
}

/// Vacuum + weak decoy bounds of Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005), eqs. (34) and (37):
///
/// `Y1 ≥ μ/(μν − ν²) · (Q_ν e^ν − Q_μ e^μ ν²/μ² − (μ² − ν²)/μ² · Y0)`,
/// `e1 ≤ (E_ν Q_ν e^ν − e0·Y0) / (Y1^L ν)` with `e0 = ½`,
///
/// from the signal gain `q_mu`, the decoy gain `q_nu` and error rate `e_nu`, and the vacuum
/// yield `y0` (the gain of the vacuum decoy). Requires `0 < ν < μ`. Bounds are clamped to the
/// physical range (`Y1 ≥ 0`, `e1 ≤ ½`).
pub fn vacuum_weak_bounds(mu: f64, nu: f64, q_mu: f64, q_nu: f64, e_nu: f64, y0: f64) -> SinglePhotonBounds {
    let y1 = mu / (mu * nu - nu * nu)
        * (q_nu * nu.exp() - q_mu * mu.exp() * nu * nu / (mu * mu) - (mu * mu - nu * nu) / (mu * mu) * y0);
    let yield_lower = y1.max(0.0);
    let error_upper = if yield_lower > 0.0 {
        ((e_nu * q_nu * nu.exp() - 0.5 * y0) / (yield_lower * nu)).clamp(0.0, 0.5)
    } else {
        0.5
    };
    SinglePhotonBounds { yield_lower, error_upper }
}

/// Finite-size decoy analysis of Lim, Curty, Walenta, Xu, Zbinden, "Concise security bounds
/// for practical decoy-state quantum key distribution", PRA 89, 022307 (2014), for three
/// intensities `μ1 > μ2 + μ3`, `μ2 > μ3 ≥ 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lim2014 {
    /// Intensities μ1, μ2, μ3.
    pub intensities: [f64; 3],
    /// Probabilities p_μ1, p_μ2, p_μ3 of choosing them.
    pub probabilities: [f64; 3],
    /// Secrecy parameter ε_sec.
    pub epsilon_sec: f64,
}

/// Counts of one basis per intensity: detections `n_k` (and errors `m_k` where needed).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BasisCounts {
    /// Detections per intensity.
    pub detections: [f64; 3],
    /// Errors per intensity.
    pub errors: [f64; 3],
}

impl BasisCounts {
    /// All detections.
    pub fn total_detections(&self) -> f64 {
        self.detections.iter().sum()
    }

    /// All errors.
    pub fn total_errors(&self) -> f64 {
        self.errors.iter().sum()
    }
}

impl Lim2014 {
    /// `τ_n = Σ_k e^(−μ_k) μ_k^n p_k / n!`: probability that Alice sent n photons.
    pub fn tau(&self, n: u32) -> f64 {
        let factorial: f64 = (1..=n).map(f64::from).product();
        (0..3)
            .map(|k| {
                let mu = self.intensities[k];
                (-mu).exp() * mu.powi(n as i32) * self.probabilities[k] / factorial
            })
            .sum()
    }

    /// Hoeffding-corrected counts `n^±_k = e^(μ_k)/p_k · (n_k ± sqrt(n/2 · ln(21/ε_sec)))`.
    fn hoeffding(&self, counts: &[f64; 3]) -> ([f64; 3], [f64; 3]) {
        let total: f64 = counts.iter().sum();
        let delta = (total / 2.0 * (21.0 / self.epsilon_sec).ln()).sqrt();
        let scale = |k: usize| self.intensities[k].exp() / self.probabilities[k];
        (
            std::array::from_fn(|k| scale(k) * (counts[k] - delta)),
            std::array::from_fn(|k| scale(k) * (counts[k] + delta)),
        )
    }

    /// Lower bound on vacuum events `s_0` (Lim et al. 2014, Sec. III).
    pub fn vacuum_lower(&self, detections: &[f64; 3]) -> f64 {
        let (minus, plus) = self.hoeffding(detections);
        let [_, m2, m3] = self.intensities;
        (self.tau(0) * (m2 * minus[2] - m3 * plus[1]) / (m2 - m3)).max(0.0)
    }

    /// Lower bound on single-photon events `s_1` (Lim et al. 2014, Sec. III).
    pub fn single_photon_lower(&self, detections: &[f64; 3]) -> f64 {
        let (minus, plus) = self.hoeffding(detections);
        let [m1, m2, m3] = self.intensities;
        let s0 = self.vacuum_lower(detections);
        let numerator = minus[1] - plus[2] - (m2 * m2 - m3 * m3) / (m1 * m1) * (plus[0] - s0 / self.tau(0));
        (self.tau(1) * m1 * numerator / (m1 * (m2 - m3) - m2 * m2 + m3 * m3)).max(0.0)
    }

    /// Upper bound on single-photon errors `v_1` in a basis (Lim et al. 2014, Sec. III).
    pub fn single_photon_errors_upper(&self, errors: &[f64; 3]) -> f64 {
        let (minus, plus) = self.hoeffding(errors);
        let [_, m2, m3] = self.intensities;
        (self.tau(1) * (plus[1] - minus[2]) / (m2 - m3)).max(0.0)
    }

    /// Upper bound on the phase error rate of the key basis' single-photon events,
    /// `φ_X ≤ v_Z1/s_Z1 + γ(ε_sec, v_Z1/s_Z1, s_Z1, s_X1)` (Lim et al. 2014, Sec. III), capped at ½.
    pub fn phase_error_upper(&self, key: &BasisCounts, test: &BasisCounts) -> f64 {
        let s_x1 = self.single_photon_lower(&key.detections);
        let s_z1 = self.single_photon_lower(&test.detections);
        let v_z1 = self.single_photon_errors_upper(&test.errors);
        if s_x1 <= 0.0 || s_z1 <= 0.0 {
            return 0.5;
        }
        let b = (v_z1 / s_z1).min(0.5);
        (b + gamma(self.epsilon_sec, b, s_z1, s_x1)).min(0.5)
    }

    /// Secret key length `ℓ = s_X0 + s_X1(1 − h(φ_X)) − λ_EC − 6 log2(21/ε_sec) − log2(2/ε_cor)`
    /// (Lim et al. 2014, Sec. III), floored at 0, for key-basis counts `key`, test-basis counts
    /// `test` and `leak_ec` bits disclosed by error correction.
    pub fn key_length(&self, key: &BasisCounts, test: &BasisCounts, leak_ec: f64, epsilon_cor: f64) -> f64 {
        self.key_length_unfloored(key, test, leak_ec, epsilon_cor).max(0.0).floor()
    }

    /// The same length before flooring at 0 (negative: the bits missing for a key).
    pub fn key_length_unfloored(&self, key: &BasisCounts, test: &BasisCounts, leak_ec: f64, epsilon_cor: f64) -> f64 {
        let s_x0 = self.vacuum_lower(&key.detections);
        let s_x1 = self.single_photon_lower(&key.detections);
        let phi = self.phase_error_upper(key, test);
        s_x0 + s_x1 * (1.0 - binary_entropy(phi))
            - leak_ec
            - 6.0 * (21.0 / self.epsilon_sec).log2()
            - (2.0 / epsilon_cor).log2()
    }

    /// The key length with the secrecy proportional to it, `ε_sec = κ·ℓ` (Lim et al. 2014,
    /// Sec. IV, κ = 1e-15): the largest fixed point of `ℓ = key_length(ε_sec = κ·ℓ)`, reached
    /// from above by iterating from `ε_sec = κ·n_X` (ℓ ≤ n_X, and the length grows with ε_sec,
    /// so the iterates decrease monotonically). Ignores `self.epsilon_sec`; returns (ℓ, ε_sec),
    /// (0, 0) when there is no key.
    pub fn key_length_per_bit(
        &self,
        key: &BasisCounts,
        test: &BasisCounts,
        leak_ec: f64,
        epsilon_cor: f64,
        kappa: f64,
    ) -> (f64, f64) {
        let mut length = key.total_detections().max(1.0);
        for _ in 0..100 {
            let epsilon_sec = (kappa * length).min(0.5);
            let next = Lim2014 { epsilon_sec, ..*self }.key_length(key, test, leak_ec, epsilon_cor);
            if next <= 0.0 {
                return (0.0, 0.0);
            }
            if next >= length {
                return (next, epsilon_sec);
            }
            length = next;
        }
        (length, (kappa * length).min(0.5))
    }
}

/// `γ(a, b, c, d) = sqrt((c + d)(1 − b)b / (c·d·ln 2) · log2((c + d)/(c·d·(1 − b)·b) · 21²/a²))`
/// (Lim et al. 2014, Sec. III): the finite-sampling correction of the phase error rate.
pub fn gamma(a: f64, b: f64, c: f64, d: f64) -> f64 {
    if b <= 0.0 || b >= 1.0 {
        return 0.0;
    }
    let inner = (c + d) / (c * d * (1.0 - b) * b) * 441.0 / (a * a);
    ((c + d) * (1.0 - b) * b / (c * d * std::f64::consts::LN_2) * inner.log2()).max(0.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vacuum_weak_bounds_approach_the_true_values_for_small_decoys() {
        // Exact GYS-like link: Y_n = 1 − (1 − Y0)(1 − η)^n, e_n Y_n = e0 Y0 + e_d (Y_n − Y0).
        let (eta, y0, e_d) = (0.045 * 10f64.powf(-0.21), 1.7e-6, 0.033);
        let gain = |mu: f64| y0 + 1.0 - (-eta * mu).exp();
        let err = |mu: f64| (0.5 * y0 + e_d * (1.0 - (-eta * mu).exp())) / gain(mu);
        let y1 = y0 + eta;
        let e1 = (0.5 * y0 + e_d * eta) / y1;
        let b = vacuum_weak_bounds(0.48, 0.01, gain(0.48), gain(0.01), err(0.01), y0);
        assert!(b.yield_lower <= y1 * (1.0 + 1e-9) && b.yield_lower > 0.9 * y1, "{} vs {y1}", b.yield_lower);
        assert!(b.error_upper >= e1 * (1.0 - 1e-9) && b.error_upper < 1.1 * e1, "{} vs {e1}", b.error_upper);
    }

    #[test]
    fn lim_bounds_tighten_with_more_counts_and_stay_below_truth() {
        // Expected counts of a memoryless link where Y_n is known: s_1 must bound the true
        // single-photon count from below, more tightly as the block grows.
        let lim = Lim2014 { intensities: [0.5, 0.1, 0.0002], probabilities: [0.7, 0.2, 0.1], epsilon_sec: 1e-10 };
        let (eta, y0) = (0.1 * 10f64.powf(-0.2 * 2.0), 1.2e-6);
        let yield_n = |n: i32| 1.0 - (1.0 - y0) * (1.0 - eta).powi(n);
        let gain = |mu: f64| 1.0 - (1.0 - y0) * (-eta * mu).exp();
        let mut previous_gap = f64::INFINITY;
        for pulses in [1e9, 1e10, 1e11] {
            let detections = std::array::from_fn(|k| pulses * lim.probabilities[k] * gain(lim.intensities[k]));
            let truth = pulses * lim.tau(1) * yield_n(1);
            let s1 = lim.single_photon_lower(&detections);
            assert!(s1 < truth, "{pulses}: s1 {s1} >= true {truth}");
            let gap = (truth - s1) / truth;
            assert!(gap < previous_gap, "bound must tighten");
            previous_gap = gap;
        }
        assert!(previous_gap < 0.1, "1e11 pulses: within 10 % of the truth ({previous_gap})");
    }

    #[test]
    fn secrecy_per_bit_is_a_fixed_point_of_the_key_length() {
        // ε_sec = κ·ℓ (Lim et al. 2014, Sec. IV): the returned ℓ is the length at ε_sec = κ·ℓ,
        // and it lies between the lengths at the fixed ε_sec of 1 bit and of the whole block.
        let lim = Lim2014 { intensities: [0.5, 0.1, 0.0002], probabilities: [0.7, 0.2, 0.1], epsilon_sec: 1.0 };
        let (eta, y0, e_d) = (0.1 * 10f64.powf(-0.2 * 5.0), 1.2e-6, 0.005);
        let gain = |mu: f64| 1.0 - (1.0 - y0) * (-eta * mu).exp();
        let err = |mu: f64| 0.5 * y0 + e_d * (1.0 - (-eta * mu).exp());
        let pulses = 1e10;
        let basis = |share: f64| BasisCounts {
            detections: std::array::from_fn(|k| pulses * share * lim.probabilities[k] * gain(lim.intensities[k])),
            errors: std::array::from_fn(|k| pulses * share * lim.probabilities[k] * err(lim.intensities[k])),
        };
        let (key, test) = (basis(0.49), basis(0.09));
        let leak = 1.16 * key.total_detections() * binary_entropy(key.total_errors() / key.total_detections());
        let kappa = 1e-15;
        let (length, eps) = lim.key_length_per_bit(&key, &test, leak, 1e-15, kappa);
        assert!(length > 0.0);
        assert!((eps - kappa * length).abs() <= 1e-12 * eps);
        let at = |e: f64| Lim2014 { epsilon_sec: e, ..lim }.key_length(&key, &test, leak, 1e-15);
        assert!((at(eps) - length).abs() <= 1.0, "{} vs {length}", at(eps));
        assert!(at(kappa) < length && length < at(kappa * key.total_detections()) + 1.0);
    }

    #[test]
    fn gamma_vanishes_for_large_samples() {
        assert!(gamma(1e-10, 0.02, 1e12, 1e12) < 1e-4);
        assert!(gamma(1e-10, 0.02, 1e4, 1e4) > gamma(1e-10, 0.02, 1e6, 1e6));
    }
}
