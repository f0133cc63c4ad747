//! What a sweep point measures: named figures (units in the names) for each kind of sweep.

use crate::photonics::link::LinkSummary;
use crate::photonics::simulate_link;
use crate::postprocess::keyrate::{self, KeyRateModel};
use crate::scenario::Scenario;
use crate::sweep::spec::{Sweep, SweepKind};

/// The figures of a link point, in column order.
pub const LINK_FIGURES: &[&str] = &[
    "pulses",
    "detections",
    "sifted_bits",
    "sifted_key_bits",
    "double_clicks",
    "qber",
    "qber_std_error",
    "expected_qber",
    "qber_z",
    "qber_x",
    "signal_gain",
    "signal_gain_expected",
    "signal_error_rate",
    "signal_error_rate_expected",
    "decoy_gain",
    "decoy_gain_expected",
    "decoy_error_rate",
    "decoy_error_rate_expected",
    "vacuum_gain",
    "vacuum_gain_expected",
    "sifted_key_rate_bps",
    "key_rate_vacuum_weak_per_pulse",
    "key_rate_vacuum_weak_expected_per_pulse",
    "key_rate_vacuum_weak_bps",
];

fn model_name(m: KeyRateModel) -> String {
    serde_json::to_value(m).ok().and_then(|v| v.as_str().map(|s| s.replace('-', "_"))).unwrap_or_default()
}

/// Every figure a point of `sweep` produces, in column order.
pub fn all_figure_names(sweep: &Sweep) -> Vec<String> {
    match sweep.kind {
        SweepKind::Link => LINK_FIGURES.iter().map(|s| s.to_string()).collect(),
        SweepKind::Keyrate => sweep
            .models
            .iter()
            .flat_map(|&m| {
                let name = model_name(m);
                let mut cols = vec![format!("{name}_rate_per_pulse"), format!("{name}_rate_bps")];
                if sweep.optimise {
                    cols.push(format!("{name}_mu"));
                    cols.push(format!("{name}_nu"));
                }
                cols
            })
            .collect(),
    }
}

/// The figures kept: `outputs` if given, else all.
pub fn figure_names(sweep: &Sweep) -> Vec<String> {
    if sweep.outputs.is_empty() { all_figure_names(sweep) } else { sweep.outputs.clone() }
}

/// The kept figures of one point, formatted for CSV (shortest round-trip decimal).
pub fn evaluate(sweep: &Sweep, scenario: &Scenario) -> Result<Vec<String>, String> {
    scenario.validate().map_err(|e| e.to_string())?;
    let values: Vec<String> = match sweep.kind {
        SweepKind::Link => link_figures(scenario)?,
        SweepKind::Keyrate => keyrate_figures(sweep, scenario)?,
    };
    if sweep.outputs.is_empty() {
        return Ok(values);
    }
    let names = all_figure_names(sweep);
    Ok(sweep.outputs.iter().map(|o| values[names.iter().position(|n| n == o).expect("validated")].clone()).collect())
}

/// The [`LINK_FIGURES`] of one simulated link scenario, formatted.
pub fn link_figures(scenario: &Scenario) -> Result<Vec<String>, String> {
    let config = scenario.link();
    let run = simulate_link(&config, &mut ()).map_err(|e| e.to_string())?;
    let s = LinkSummary::new(&run);
    let measured = keyrate::vacuum_weak_rate_from_counts(&config, &run.totals, &scenario.postprocess);
    let expected = keyrate::key_rate(KeyRateModel::DecoyVacuumWeak, &config, &scenario.postprocess, None)
        .map_err(|e| e.to_string())?;
    let ints = [s.pulses, s.detections, s.sifted_bits, s.sifted_key_bits, s.double_clicks];
    let floats = [
        s.qber,
        s.qber_std_error,
        s.expected_qber,
        s.qber_by_basis.z,
        s.qber_by_basis.x,
        s.signal.gain,
        s.signal.expected.gain,
        s.signal.error_rate,
        s.signal.expected.error_rate,
        s.decoy.gain,
        s.decoy.expected.gain,
        s.decoy.error_rate,
        s.decoy.expected.error_rate,
        s.vacuum.gain,
        s.vacuum.expected.gain,
        s.sifted_key_rate_bps(),
        measured,
        expected.rate_per_pulse,
        measured * config.source.repetition_rate_hz,
    ];
    Ok(ints.iter().map(u64::to_string).chain(floats.iter().map(f64::to_string)).collect())
}

fn keyrate_figures(sweep: &Sweep, scenario: &Scenario) -> Result<Vec<String>, String> {
    let config = scenario.link();
    let mut out = Vec::new();
    for &m in &sweep.models {
        let (c, r) = if sweep.optimise {
            keyrate::optimise(m, &config, &scenario.postprocess).map_err(|e| e.to_string())?
        } else {
            (config.clone(), keyrate::key_rate(m, &config, &scenario.postprocess, None).map_err(|e| e.to_string())?)
        };
        out.push(r.rate_per_pulse.to_string());
        out.push(r.rate_bps.to_string());
        if sweep.optimise {
            out.push(c.source.signal_intensity.to_string());
            out.push(c.source.decoy_intensity.to_string());
        }
    }
    Ok(out)
}
