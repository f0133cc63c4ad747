//! `qecnet keyrate`: the analytic key rate of a link scenario, optionally with optimised
//! intensities and the maximum distance, as the `--json` object; and the same at many
//! distances at once, in parallel.

use rayon::prelude::*;
use serde::Serialize;

use crate::Result;
use crate::link_scenario::LinkScenario;
use crate::postprocess::{self, KeyRate, KeyRateModel, MaxDistance};
use crate::units::InvalidParameter;

/// The object `qecnet keyrate --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyRateReport {
    /// The model.
    pub model: KeyRateModel,
    /// Fibre length (km).
    pub distance_km: f64,
    /// Signal intensity μ (mean photon number).
    pub mu: f64,
    /// Decoy intensity ν (mean photon number).
    pub nu: f64,
    /// Probability of the Z basis.
    pub z_basis_probability: f64,
    /// The rate and its ingredients.
    #[serde(flatten)]
    pub rate: KeyRate,
    /// Absent unless asked for; `null` when no length gives a key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_distance_km: Option<Option<f64>>,
    /// Present (true) only when key was found at every length searched: `max_distance_km` is
    /// then the longest length searched, a lower bound.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub max_distance_unbounded: bool,
}

/// The key rate of `model` for `scenario` (signal QBER `qber` instead of the link's expected one
/// when given), with the free parameters optimised when `optimise`, and the maximum distance
/// with a positive rate when `max_distance`.
pub fn key_rate_report(
    model: KeyRateModel,
    scenario: &LinkScenario,
    qber: Option<f64>,
    optimise: bool,
    max_distance: bool,
) -> Result<KeyRateReport> {
    let settings = &scenario.postprocess;
    let (config, rate) = if optimise {
        postprocess::optimise(model, &scenario.link(), settings)?
    } else {
        (scenario.link(), postprocess::key_rate(model, &scenario.link(), settings, qber)?)
    };
    let reach =
        if max_distance { Some(postprocess::max_distance(model, &scenario.link(), settings, optimise)?) } else { None };
    let max_distance_km = reach.map(|r| match r {
        MaxDistance::NoKey => None,
        MaxDistance::Km(km) | MaxDistance::BeyondSearch { searched_km: km } => Some(km),
    });
    Ok(KeyRateReport {
        model,
        distance_km: config.channel.length_km,
        mu: config.source.signal_intensity,
        nu: config.source.decoy_intensity,
        z_basis_probability: config.source.z_basis_probability,
        rate,
        max_distance_km,
        max_distance_unbounded: matches!(reach, Some(MaxDistance::BeyondSearch { .. })),
    })
}

/// [`key_rate_report`] at each fibre length of `distances_km` (in parallel; the order is kept).
/// A bad length is reported as `distance_km[i] (channel.length_km) = value: allowed`.
pub fn key_rate_at_distances(
    model: KeyRateModel,
    scenario: &LinkScenario,
    qber: Option<f64>,
    optimise: bool,
    distances_km: &[f64],
) -> Result<Vec<KeyRateReport>> {
    distances_km
        .par_iter()
        .enumerate()
        .map(|(i, &km)| {
            let mut at = scenario.clone();
            at.channel.length_km = km;
            at.validate().map_err(|p| match p.field.as_str() {
                "channel.length_km" => InvalidParameter { field: format!("distance_km[{i}] (channel.length_km)"), ..p },
                _ => p,
            })?;
            key_rate_report(model, &at, qber, optimise, false)
        })
        .collect()
}
