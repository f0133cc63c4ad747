//! The key-rate optimiser and the maximum secure distance.
//!
//! [`optimise`] maximises a model's rate over its free parameters:
//! - lim2014: the basis bias q (Alice's and Bob's Z-basis probability, the paper's q_x, in
//!   [0.05, 0.99]), the class probabilities p_μ1, p_μ2 (p_μ3 = 1 − p_μ1 − p_μ2), and the
//!   intensities μ1, μ2 (μ3 stays as configured), as Lim et al. 2014, Sec. IV, optimise them;
//! - decoy-vacuum-weak: μ and ν; the other asymptotic models: μ.
//!
//! The search is deterministic (no random numbers): Nelder–Mead from the starting point and
//! from any hint (the optimum at a nearby length, in [`max_distance`]); unless the hint gives
//! key, also a coarse grid over the whole box (the region with key can be a small corner of
//! it, e.g. q ≈ 0.1–0.3 at the edge of the key region) and Nelder–Mead from its two best
//! points. Where there is no key, the
//! search climbs the unfloored rate (how many bits are missing), so it finds the key region
//! from outside it. The starting configuration is returned when nothing better is found, so
//! the result is never worse than the start.

use crate::photonics::LinkConfig;
use crate::postprocess::keyrate::{KeyRate, KeyRateModel, key_rate, scored_key_rate};
use crate::postprocess::settings::PostprocessSettings;
use crate::units::InvalidParameter;

/// Range of the basis bias q.
const BIAS: (f64, f64) = (0.05, 0.99);
/// Range of the signal intensity μ (log scale).
const SIGNAL: (f64, f64) = (1e-3, 1.5);

/// The free parameters of a model as a point of the unit box `[0, 1]^d`.
struct Space<'a> {
    kind: KeyRateModel,
    base: &'a LinkConfig,
}

impl Space<'_> {
    fn dims(&self) -> usize {
        match self.kind {
            KeyRateModel::Lim2014 => 5,
            KeyRateModel::DecoyVacuumWeak => 2,
            _ => 1,
        }
    }

    /// The smallest signal intensity the constraints allow (μ1 > μ2 + μ3 > 2μ3).
    fn signal_floor(&self) -> f64 {
        if self.kind.uses_decoy() { SIGNAL.0.max(2.5 * self.base.source.vacuum_intensity + 1e-4) } else { SIGNAL.0 }
    }

    fn signal(&self, x: f64) -> f64 {
        let (lo, hi) = (self.signal_floor().ln(), SIGNAL.1.ln());
        (lo + x * (hi - lo)).exp()
    }

    fn signal_coordinate(&self, mu: f64) -> f64 {
        let (lo, hi) = (self.signal_floor().ln(), SIGNAL.1.ln());
        (mu.ln() - lo) / (hi - lo)
    }

    /// The configuration at `x`.
    fn config(&self, x: &[f64]) -> LinkConfig {
        let mut c = self.base.clone();
        let s = &mut c.source;
        let mu = self.signal(x[0]);
        s.signal_intensity = mu;
        let omega = s.vacuum_intensity;
        match self.kind {
            KeyRateModel::Lim2014 | KeyRateModel::DecoyVacuumWeak => {
                // ν between ω and μ − ω, never at either end.
                s.decoy_intensity = omega + between(0.01, 0.99, x[1]) * (mu - 2.0 * omega);
            }
            _ => {
                s.decoy_intensity = mu / 2.0;
                s.vacuum_intensity = omega.min(mu / 4.0);
            }
        }
        if self.kind == KeyRateModel::Lim2014 {
            let p1 = between(0.01, 0.98, x[2]);
            let p2 = (1.0 - p1) * between(0.02, 0.98, x[3]);
            s.signal_probability = p1;
            s.decoy_probability = p2;
            s.vacuum_probability = 1.0 - p1 - p2;
            let q = between(BIAS.0, BIAS.1, x[4]);
            s.z_basis_probability = q;
            c.detector.z_basis_probability = q;
        }
        c
    }

    /// The point of `config` (clamped into the box).
    fn coordinates(&self, config: &LinkConfig) -> Vec<f64> {
        let s = &config.source;
        let (mu, nu, omega) = (s.signal_intensity, s.decoy_intensity, s.vacuum_intensity);
        let mut x = vec![self.signal_coordinate(mu)];
        if self.dims() >= 2 {
            x.push(within(0.01, 0.98, (nu - omega) / (mu - 2.0 * omega)));
        }
        if self.kind == KeyRateModel::Lim2014 {
            let p1 = s.signal_probability;
            x.push(within(0.01, 0.97, p1));
            x.push(within(0.02, 0.96, s.decoy_probability / (1.0 - p1).max(1e-12)));
            x.push(within(BIAS.0, BIAS.1 - BIAS.0, s.z_basis_probability));
        }
        x.iter().map(|v| v.clamp(0.0, 1.0)).collect()
    }
}

/// `lo + x·(hi − lo)` for x in [0, 1].
fn between(lo: f64, hi: f64, x: f64) -> f64 {
    lo + x.clamp(0.0, 1.0) * (hi - lo)
}

/// The inverse of [`between`] with `span = hi − lo`.
fn within(lo: f64, span: f64, v: f64) -> f64 {
    if v.is_finite() { (v - lo) / span } else { 0.5 }
}

/// The best rate over the model's free parameters (see the module docs). Returns the optimised
/// configuration and its rate; never a rate below that of `config` itself.
pub fn optimise(
    kind: KeyRateModel,
    config: &LinkConfig,
    settings: &PostprocessSettings,
) -> Result<(LinkConfig, KeyRate), InvalidParameter> {
    optimise_with_hint(kind, config, settings, None).map(|(c, r, _)| (c, r))
}

/// [`optimise`] with an extra starting point `hint` (a point of the unit box, e.g. the optimum
/// at a nearby distance); also returns the optimum's point.
fn optimise_with_hint(
    kind: KeyRateModel,
    config: &LinkConfig,
    settings: &PostprocessSettings,
    hint: Option<&[f64]>,
) -> Result<(LinkConfig, KeyRate, Vec<f64>), InvalidParameter> {
    // The start must be valid: its errors are the user's to see.
    let start_rate = key_rate(kind, config, settings, None)?;
    let space = Space { kind, base: config };
    let score = |x: &[f64]| -> f64 {
        scored_key_rate(kind, &space.config(x), settings, None).map_or(f64::NEG_INFINITY, |(_, s)| s)
    };
    let mut seeds: Vec<Vec<f64>> =
        [Some(space.coordinates(config)), hint.map(<[f64]>::to_vec)].into_iter().flatten().collect();
    let mut best = refine(&score, &seeds);
    // A hint that still gives key makes the grid unnecessary (the optimum moves little between
    // nearby lengths); otherwise search the whole box.
    if hint.is_none() || best.0 <= 0.0 {
        let mut grid: Vec<(f64, Vec<f64>)> = grid(space.dims()).into_iter().map(|x| (score(&x), x)).collect();
        grid.sort_by(|a, b| b.0.total_cmp(&a.0));
        seeds = grid.into_iter().take(2).map(|(_, x)| x).collect();
        let found = refine(&score, &seeds);
        if found.0 > best.0 {
            best = found;
        }
    }
    let (_, x) = best;
    let candidate = space.config(&x);
    let rate = key_rate(kind, &candidate, settings, None)?;
    if rate.rate_per_pulse > start_rate.rate_per_pulse {
        Ok((candidate, rate, x))
    } else {
        Ok((config.clone(), start_rate, space.coordinates(config)))
    }
}

/// The best (value, point) of Nelder–Mead runs from each of `seeds` (at least one).
fn refine(score: &impl Fn(&[f64]) -> f64, seeds: &[Vec<f64>]) -> (f64, Vec<f64>) {
    seeds
        .iter()
        .map(|x| nelder_mead(score, x.clone(), 0.08))
        .reduce(|a, b| if b.0 > a.0 { b } else { a })
        .expect("at least one seed")
}

/// A regular grid over `[0, 1]^dims`, cell centres: 24 points in 1-D, 12² in 2-D, 4⁵ in 5-D.
fn grid(dims: usize) -> Vec<Vec<f64>> {
    let levels = match dims {
        1 => 24,
        2 => 12,
        _ => 4,
    };
    let axis: Vec<f64> = (0..levels).map(|i| (i as f64 + 0.5) / levels as f64).collect();
    let mut points = vec![Vec::new()];
    for _ in 0..dims {
        points = points.into_iter().flat_map(|p| axis.iter().map(move |&a| [p.clone(), vec![a]].concat())).collect();
    }
    points
}

/// Nelder–Mead maximisation of `f` in the unit box (points clamped into it) from `start` with
/// an initial simplex of side `step`; stops after 100·d evaluations or when the simplex has
/// shrunk below 1e-6. Returns the best (value, point), never worse than `start`.
fn nelder_mead(f: &impl Fn(&[f64]) -> f64, start: Vec<f64>, step: f64) -> (f64, Vec<f64>) {
    let d = start.len();
    let clamp = |x: Vec<f64>| -> Vec<f64> { x.into_iter().map(|v| v.clamp(0.0, 1.0)).collect() };
    let mut simplex: Vec<(f64, Vec<f64>)> = vec![(f(&start), start.clone())];
    for i in 0..d {
        let mut x = start.clone();
        x[i] = if x[i] + step <= 1.0 { x[i] + step } else { x[i] - step };
        simplex.push((f(&x), x));
    }
    let mut evaluations = d + 1;
    let toward =
        |a: &[f64], b: &[f64], t: f64| -> Vec<f64> { clamp(a.iter().zip(b).map(|(a, b)| a + t * (b - a)).collect()) };
    while evaluations < 100 * d {
        simplex.sort_by(|a, b| b.0.total_cmp(&a.0));
        let size = simplex[1..]
            .iter()
            .flat_map(|(_, x)| x.iter().zip(&simplex[0].1).map(|(a, b)| (a - b).abs()))
            .fold(0.0, f64::max);
        if size < 1e-6 {
            break;
        }
        let worst = simplex[d].clone();
        let centroid: Vec<f64> =
            (0..d).map(|i| simplex[..d].iter().map(|(_, x)| x[i]).sum::<f64>() / d as f64).collect();
        let reflected = toward(&centroid, &worst.1, -1.0);
        let fr = f(&reflected);
        evaluations += 1;
        if fr > simplex[0].0 {
            let expanded = toward(&centroid, &worst.1, -2.0);
            let fe = f(&expanded);
            evaluations += 1;
            simplex[d] = if fe > fr { (fe, expanded) } else { (fr, reflected) };
        } else if fr > simplex[d - 1].0 {
            simplex[d] = (fr, reflected);
        } else {
            let contracted =
                if fr > worst.0 { toward(&centroid, &reflected, 0.5) } else { toward(&centroid, &worst.1, 0.5) };
            let fc = f(&contracted);
            evaluations += 1;
            if fc > worst.0.max(fr) {
                simplex[d] = (fc, contracted);
            } else {
                let best = simplex[0].1.clone();
                for vertex in simplex.iter_mut().skip(1) {
                    let x = toward(&best, &vertex.1, 0.5);
                    *vertex = (f(&x), x);
                }
                evaluations += d;
            }
        }
    }
    simplex.sort_by(|a, b| b.0.total_cmp(&a.0));
    simplex.swap_remove(0)
}

/// The reach of a link: the largest fibre length with a positive rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxDistance {
    /// No length gives a key, not even 0 km.
    NoKey,
    /// Key up to this length (km, to 0.01 km) and none beyond.
    Km(f64),
    /// Key at every length searched, up to `searched_km` (the search stops at 5000 km or at
    /// the channel's loss limit): no maximum was found. A (near-)lossless fibre gets here;
    /// a lossy one without dark counts does not, its rate underflowing to 0 near 710 km.
    BeyondSearch {
        /// The longest length searched that still gave key (km).
        searched_km: f64,
    },
}

impl MaxDistance {
    /// The maximum distance (km) when there is one.
    pub fn km(self) -> Option<f64> {
        match self {
            MaxDistance::Km(d) => Some(d),
            _ => None,
        }
    }
}

/// The largest fibre length with a positive rate, to 0.01 km, optimising the free parameters
/// at every length when `optimised` (each length's search also starts from the optimum of the
/// last length with key).
pub fn max_distance(
    kind: KeyRateModel,
    config: &LinkConfig,
    settings: &PostprocessSettings,
    optimised: bool,
) -> Result<MaxDistance, InvalidParameter> {
    let mut hint: Option<Vec<f64>> = None;
    let mut rate_at = |km: f64| -> Result<f64, InvalidParameter> {
        let mut c = config.clone();
        c.channel.length_km = km;
        if !optimised {
            return Ok(key_rate(kind, &c, settings, None)?.rate_per_pulse);
        }
        let (_, rate, x) = optimise_with_hint(kind, &c, settings, hint.as_deref())?;
        if rate.rate_per_pulse > 0.0 {
            hint = Some(x);
        }
        Ok(rate.rate_per_pulse)
    };
    if rate_at(0.0)? <= 0.0 {
        return Ok(MaxDistance::NoKey);
    }
    let (mut good, mut bad) = (0.0, 10.0);
    while rate_at(bad)? > 0.0 {
        good = bad;
        bad *= 2.0;
        let loss = config.channel.attenuation_db_per_km * bad + config.channel.insertion_loss_db;
        if bad > 5000.0 || loss > crate::photonics::channel::MAX_LOSS_DB {
            return Ok(MaxDistance::BeyondSearch { searched_km: good });
        }
    }
    while bad - good > 0.01 {
        let mid = 0.5 * (good + bad);
        if rate_at(mid)? > 0.0 { good = mid } else { bad = mid }
    }
    Ok(MaxDistance::Km(good))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_space_maps_a_configuration_back_to_itself() {
        let mut c = LinkConfig::default();
        c.source.signal_intensity = 0.5;
        c.source.decoy_intensity = 0.1;
        c.source.vacuum_intensity = 2e-4;
        c.source.signal_probability = 0.7;
        c.source.decoy_probability = 0.2;
        c.source.vacuum_probability = 0.1;
        c.source.z_basis_probability = 0.7;
        c.detector.z_basis_probability = 0.7;
        let space = Space { kind: KeyRateModel::Lim2014, base: &c };
        let back = space.config(&space.coordinates(&c));
        let (a, b) = (&c.source, &back.source);
        for (x, y) in [
            (a.signal_intensity, b.signal_intensity),
            (a.decoy_intensity, b.decoy_intensity),
            (a.signal_probability, b.signal_probability),
            (a.decoy_probability, b.decoy_probability),
            (a.vacuum_probability, b.vacuum_probability),
            (a.z_basis_probability, b.z_basis_probability),
        ] {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
        assert_eq!(back.detector.z_basis_probability, b.z_basis_probability);
    }

    #[test]
    fn every_point_of_the_box_is_a_valid_configuration() {
        let c = LinkConfig::default();
        for kind in [KeyRateModel::Lim2014, KeyRateModel::DecoyVacuumWeak, KeyRateModel::DecoyInfinite] {
            let space = Space { kind, base: &c };
            for corner in [0.0, 1.0] {
                let config = space.config(&vec![corner; space.dims()]);
                config.validate().unwrap_or_else(|e| panic!("{kind:?} at {corner}: {e}"));
            }
        }
    }

    #[test]
    fn nelder_mead_finds_the_peak_of_a_bowl_from_a_flat_side() {
        let f = |x: &[f64]| -((x[0] - 0.3).powi(2) + (x[1] - 0.8).powi(2));
        let (value, x) = nelder_mead(&f, vec![0.9, 0.1], 0.08);
        assert!((x[0] - 0.3).abs() < 1e-3 && (x[1] - 0.8).abs() < 1e-3, "{x:?}");
        assert!(value >= f(&[0.9, 0.1]));
    }
}
