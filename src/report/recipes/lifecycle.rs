//! The lifecycle recipe: the spec's key lifecycle flow (keys per transition, counted in the
//! audit chain) and rotation timing diagram (each rotation's convergence) from a mesh run.

use super::RecipeOutput;
use crate::Result;
use crate::lifecycle::store::read_transition_counts;
use crate::mesh::promises::{EMERGENCY_REKEY_S, MS_PER_S, SCHEDULED_ROTATION_S, TRIGGERED_ROTATION_S};
use crate::plot::data::Table;
use crate::plot::{Chart, Legend, Point, Series, SeriesKind};

/// The rotations CSV's column saying a crash delayed the rotation.
const CRASH: &str = "delayed_by_crash";

/// `GENERATED→DISTRIBUTED` as `GEN→DIST` (axis labels must fit).
fn abbreviate_states(t: &str) -> String {
    [
        ("GENERATED", "GEN"),
        ("DISTRIBUTED", "DIST"),
        ("ACTIVE", "ACT"),
        ("ROTATING", "ROT"),
        ("RETIRED", "RET"),
        ("REVOKED", "REV"),
        ("DESTROYED", "DES"),
    ]
    .iter()
    .fold(t.to_string(), |s, (long, short)| s.replace(long, short))
}

/// The spec's lifecycle flow and rotation timing diagrams from a mesh run's store (`db`) and
/// rotation log (`rotations`, the CSV `qecnet mesh` writes beside the store).
pub fn lifecycle_diagrams(db: &std::path::Path, rotations: &std::path::Path) -> Result<RecipeOutput> {
    let transitions: Vec<(String, u64)> = read_transition_counts(db)
        .map_err(|e| crate::Error::Usage(format!("{}: {e}", db.display())))?
        .into_iter()
        .map(|t| (format!("{}→{}", t.from, t.to), t.keys))
        .collect();
    let flow = Chart {
        title: "Key lifecycle flow: keys per transition".into(),
        x_label: "transition".into(),
        y_label: "keys".into(),
        log_y: true,
        series: vec![Series {
            label: "transitions in the audit chain".into(),
            points: transitions
                .iter()
                .enumerate()
                .map(|(i, (_, n))| Point { x: i as f64, y: *n as f64, err: 0.0 })
                .collect(),
            kind: SeriesKind::Bars,
            style: None,
        }],
        x_categories: transitions.iter().map(|(t, _)| abbreviate_states(t)).collect(),
        ..Chart::default()
    };
    let table = Table::read(rotations)?;
    // Rotations a node crash held up are drawn apart: they are not the protocol's own timing.
    let (on_time, delayed) = match (table.filter_eq(CRASH, "false"), table.filter_eq(CRASH, "true")) {
        (Ok(on_time), Ok(delayed)) => (on_time, Some(delayed)),
        _ => (table, None),
    };
    let hours = 1.0 / 3600.0;
    let mut timing_series = ["scheduled", "triggered", "emergency"]
        .iter()
        .map(|kind| -> Result<Series> {
            let points = on_time.filter_eq("kind", kind)?.points("start_s", "convergence_ms", hours)?;
            Ok(Series { label: format!("{kind} rotations"), points, kind: SeriesKind::Markers, style: None })
        })
        .collect::<Result<Vec<_>>>()?;
    if let Some(delayed) = delayed.filter(|d| !d.is_empty()) {
        timing_series.push(Series {
            label: "held up by a node crash (any kind)".into(),
            points: delayed.points("start_s", "convergence_ms", hours)?,
            kind: SeriesKind::Markers,
            style: None,
        });
    }
    let timing = Chart {
        title: "Rotation timing: convergence of each rotation".into(),
        x_label: "simulated time (h)".into(),
        y_label: "convergence (ms)".into(),
        log_y: true,
        series: timing_series,
        hlines: vec![
            (SCHEDULED_ROTATION_S * MS_PER_S, format!("scheduled promise {SCHEDULED_ROTATION_S} s")),
            (EMERGENCY_REKEY_S * MS_PER_S, format!("emergency re-key promise {EMERGENCY_REKEY_S} s")),
            (TRIGGERED_ROTATION_S * MS_PER_S, format!("triggered promise {TRIGGERED_ROTATION_S} s")),
        ],
        legend: Legend::Auto,
        ..Chart::default()
    };
    let figures = transitions.iter().map(|(t, n)| (format!("keys {t}"), n.to_string())).collect();
    Ok(RecipeOutput { charts: vec![("lifecycle-flow".into(), flow), ("rotation-timing".into(), timing)], figures })
}
