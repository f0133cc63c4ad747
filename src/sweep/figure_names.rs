//! The names of the figures (CSV columns, units in the names) each kind of sweep produces, and
//! the check that a sweep's `outputs` names only those.

use crate::postprocess::keyrate::KeyRateModel;
use crate::sweep::kind::SweepKind;

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

/// The figures of a mesh point, in column order.
pub const MESH_FIGURES: &[&str] = &[
    "key_delivered_bits",
    "fallback_seconds_total",
    "links_in_fallback_ever",
    "buffer_depletions",
    "refreshes_qkd",
    "refreshes_fallback",
    "buffer_mean_bits",
    "session_key_bits_consumed",
    "scheduled_p99_ms",
    "triggered_rotations",
    "detections",
    "detection_delay_s",
    "false_alarms",
    "audit_records",
];

/// The figures of a decision-engine point, in column order.
pub const DECISION_FIGURES: &[&str] = &[
    "false_alarm_rate_per_window",
    "detection_probability",
    "detection_delay_windows",
    "honest_windows",
    "attack_trials",
];

fn model_name(m: KeyRateModel) -> String {
    serde_json::to_value(m).ok().and_then(|v| v.as_str().map(|s| s.replace('-', "_"))).unwrap_or_default()
}

/// Every figure a point of a sweep of `kind` produces, in column order (keyrate sweeps: two
/// columns per model in `models`, four when `optimise`).
pub fn all_figure_names(kind: SweepKind, models: &[KeyRateModel], optimise: bool) -> Vec<String> {
    match kind {
        SweepKind::Link => LINK_FIGURES.iter().map(|s| s.to_string()).collect(),
        SweepKind::Mesh => MESH_FIGURES.iter().map(|s| s.to_string()).collect(),
        SweepKind::Decision => DECISION_FIGURES.iter().map(|s| s.to_string()).collect(),
        SweepKind::Keyrate => models
            .iter()
            .flat_map(|&m| {
                let name = model_name(m);
                let mut cols = vec![format!("{name}_rate_per_pulse"), format!("{name}_rate_bps")];
                if optimise {
                    cols.push(format!("{name}_mu"));
                    cols.push(format!("{name}_nu"));
                }
                cols
            })
            .collect(),
    }
}

/// Refuses an `outputs` entry that is not one of the figures `known`, naming it and them.
pub fn check_outputs(outputs: &[String], known: &[String]) -> Result<(), String> {
    match outputs.iter().find(|o| !known.contains(o)) {
        Some(bad) => Err(format!("outputs: unknown figure `{bad}`; known: {}", known.join(", "))),
        None => Ok(()),
    }
}
