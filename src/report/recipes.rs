//! The canonical plots: for each canonical sweep, the charts drawn from its CSV beside the
//! analytic curves of the same scenario, and the key figures that go into the report's tables.

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::link_scenario::LinkScenario;
use crate::photonics::LinkConfig;
use crate::plot::data::Table;
use crate::plot::{Chart, Legend, Point, Series, SeriesKind};
use crate::postprocess::PostprocessSettings;
use crate::postprocess::keyrate::{KeyRateModel, key_rate, optimise};

/// Which canonical plot a sweep gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recipe {
    /// Secret key rate vs distance: simulated points against the analytic curves.
    KeyrateVsDistance,
    /// QBER and key rate vs intercept-resend fraction, the 11 % threshold and fallback region.
    InterceptResend,
    /// Fallback time and delivered key vs QBER threshold and distance (mesh sweep).
    Threshold,
    /// Buffer level, fallback time and key consumed vs refresh interval and distance.
    Refresh,
    /// Decision-engine ROC: detection delay and probability vs false-alarm rate.
    Roc,
    /// The spec's two diagrams from a simulated mesh run: the key lifecycle flow (keys per
    /// transition) and the rotation timing diagram (each rotation's convergence on a time axis).
    LifecycleDiagrams,
    /// Active vs passive receiver: QBER and secret key rate vs distance, simulated and analytic.
    Receivers,
}

/// Charts and headline figures of one recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipeOutput {
    /// (file stem, chart).
    pub charts: Vec<(String, Chart)>,
    /// (name, value) pairs for the report's table.
    pub figures: Vec<(String, String)>,
}

/// The QBER threshold of the QECNet spec (the BB84 limit).
pub const QBER_THRESHOLD: f64 = 0.11;

/// Draws `recipe` from the sweep CSV `table` whose base scenario is `base`.
pub fn draw(recipe: Recipe, table: &Table, base: &toml::Value) -> Result<RecipeOutput> {
    let link_base = || -> Result<LinkScenario> {
        base.clone().try_into().map_err(|e: toml::de::Error| crate::Error::Usage(format!("base scenario: {e}")))
    };
    match recipe {
        Recipe::KeyrateVsDistance => keyrate_vs_distance(table, &link_base()?),
        Recipe::InterceptResend => intercept_resend(table, &link_base()?),
        Recipe::LifecycleDiagrams => Err(crate::Error::Usage(
            "lifecycle-diagrams draws from a mesh run: use it with `mesh =`, not `sweep =`".into(),
        )),
        Recipe::Threshold => threshold(table),
        Recipe::Refresh => refresh(table),
        Recipe::Roc => roc(table),
        Recipe::Receivers => receivers(table),
    }
}

/// One line series per group value, labelled `format(group)`.
fn grouped(
    table: &Table,
    group: &str,
    x: &str,
    y: &str,
    label: impl Fn(f64) -> String,
    kind: SeriesKind,
) -> Result<Vec<Series>> {
    Ok(table.series_by(group, x, y)?.into_iter().map(|(g, points)| Series { label: label(g), points, kind }).collect())
}

fn threshold(table: &Table) -> Result<RecipeOutput> {
    let (g, x) = ("link.0.length_km", "monitor.qber_threshold");
    let km = |g: f64| format!("{g} km");
    let fallback = Chart {
        title: "Time in ML-KEM-1024 fallback vs QBER threshold".into(),
        x_label: "QBER threshold".into(),
        y_label: "fallback time (link-s)".into(),
        series: grouped(table, g, x, "fallback_seconds_total", km, SeriesKind::Line)?,
        x_bands: vec![(0.1095, 0.1105, "11 % (the spec)".into())],
        legend: Legend::UpperLeft,
        ..Chart::default()
    };
    let delivered = Chart {
        title: "QKD key delivered vs QBER threshold".into(),
        x_label: "QBER threshold".into(),
        y_label: "secret key delivered (bits)".into(),
        log_y: true,
        series: grouped(table, g, x, "key_delivered_bits", km, SeriesKind::Line)?,
        x_bands: vec![(0.1095, 0.1105, "11 % (the spec)".into())],
        ..Chart::default()
    };
    Ok(RecipeOutput {
        charts: vec![("threshold-fallback".into(), fallback), ("threshold-key".into(), delivered)],
        figures: vec![],
    })
}

fn refresh(table: &Table) -> Result<RecipeOutput> {
    let (g, x) = ("link.0.length_km", "mesh.refresh_interval");
    let km = |g: f64| format!("{g} km");
    let marker = vec![(290.0, 310.0, "300 s (the spec)".to_string())];
    let chart = |title: &str, y: &str, y_label: &str, log_y: bool| -> Result<Chart> {
        Ok(Chart {
            title: title.into(),
            x_label: "refresh interval (s)".into(),
            y_label: y_label.into(),
            log_x: true,
            log_y,
            series: grouped(table, g, x, y, km, SeriesKind::Line)?,
            x_bands: marker.clone(),
            ..Chart::default()
        })
    };
    Ok(RecipeOutput {
        charts: vec![
            (
                "refresh-buffer".into(),
                chart("Mean key-buffer level vs refresh interval", "buffer_mean_bits", "mean buffer (bits)", false)?,
            ),
            (
                "refresh-fallback".into(),
                chart("Fallback time vs refresh interval", "fallback_seconds_total", "fallback time (link-s)", false)?,
            ),
            (
                "refresh-consumed".into(),
                chart("QKD key consumed by session keys", "session_key_bits_consumed", "key consumed (bits)", true)?,
            ),
        ],
        figures: vec![],
    })
}

fn roc(table: &Table) -> Result<RecipeOutput> {
    let g = "link_defaults.eve.intercept_resend_fraction";
    let attack = |p: f64| format!("intercept-resend {p}");
    let delay = Chart {
        title: "Decision engine: detection delay vs false-alarm rate".into(),
        x_label: "measured false alarms per window".into(),
        y_label: "mean detection delay (windows)".into(),
        log_x: true,
        series: grouped(table, g, "false_alarm_rate_per_window", "detection_delay_windows", attack, SeriesKind::Line)?,
        legend: Legend::UpperLeft,
        ..Chart::default()
    };
    let mut bound_series = grouped(
        table,
        g,
        "monitor.cusum_false_alarm_per_block",
        "false_alarm_rate_per_window",
        attack,
        SeriesKind::Markers,
    )?;
    let diagonal: Vec<Point> =
        bound_series.iter().flat_map(|s| s.points.iter().map(|p| p.x)).map(|x| Point { x, y: x, err: 0.0 }).collect();
    let mut diagonal = diagonal;
    diagonal.sort_by(|a, b| a.x.total_cmp(&b.x));
    bound_series.push(Series { label: "bound (Ville)".into(), points: diagonal, kind: SeriesKind::Line });
    let bound = Chart {
        title: "Measured false alarms vs the configured bound".into(),
        x_label: "configured bound α per window".into(),
        y_label: "measured false alarms per window".into(),
        log_x: true,
        log_y: true,
        series: bound_series,
        legend: Legend::UpperLeft,
        ..Chart::default()
    };
    let detection = Chart {
        title: "Decision engine: detection probability vs configured bound".into(),
        x_label: "configured bound α per window".into(),
        y_label: "detected within the trial".into(),
        log_x: true,
        series: grouped(
            table,
            g,
            "monitor.cusum_false_alarm_per_block",
            "detection_probability",
            attack,
            SeriesKind::Line,
        )?,
        ..Chart::default()
    };
    Ok(RecipeOutput {
        charts: vec![("roc-delay".into(), delay), ("roc-bound".into(), bound), ("roc-detection".into(), detection)],
        figures: vec![],
    })
}

fn curve(label: &str, points: Vec<Point>) -> Series {
    Series { label: label.into(), points, kind: SeriesKind::Line }
}

fn markers(label: &str, points: Vec<Point>) -> Series {
    Series { label: label.into(), points, kind: SeriesKind::Markers }
}

/// `model`'s rate per pulse at each distance (optimised intensities when `optimised`).
fn analytic_curve(
    model: KeyRateModel,
    link: &LinkConfig,
    settings: &PostprocessSettings,
    distances: &[f64],
    optimised: bool,
) -> Vec<Point> {
    distances
        .iter()
        .filter_map(|&km| {
            let mut c = link.clone();
            c.channel.length_km = km;
            let r = if optimised {
                optimise(model, &c, settings).ok()?.1
            } else {
                key_rate(model, &c, settings, None).ok()?
            };
            Some(Point { x: km, y: r.rate_per_pulse, err: 0.0 })
        })
        .collect()
}

fn keyrate_vs_distance(table: &Table, base: &LinkScenario) -> Result<RecipeOutput> {
    let simulated = table.mean_by("channel.length_km", "key_rate_vacuum_weak_per_pulse")?;
    let max_km = simulated.iter().map(|p| p.x).fold(0.0, f64::max).max(1.0) * 1.15;
    let grid: Vec<f64> = (0..=60).map(|i| max_km * i as f64 / 60.0).collect();
    let link = base.link();
    let settings = &base.postprocess;
    let mut series = vec![
        markers("simulated (event engine, vacuum+weak estimate)", simulated.clone()),
        curve(
            "vacuum+weak decoy, same μ, ν",
            analytic_curve(KeyRateModel::DecoyVacuumWeak, &link, settings, &grid, false),
        ),
        curve("infinite decoy, same μ", analytic_curve(KeyRateModel::DecoyInfinite, &link, settings, &grid, false)),
        curve("no decoy (GLLP), optimal μ", analytic_curve(KeyRateModel::Gllp, &link, settings, &grid, true)),
    ];
    for n in [1e7, 1e8, 1e10] {
        let s = PostprocessSettings { block_size: n as u64, ..settings.clone() };
        series.push(curve(
            &format!("finite key (Lim 2014), n_X = {n:.0e}"),
            analytic_curve(KeyRateModel::Lim2014, &link, &s, &grid, false),
        ));
    }
    let chart = Chart {
        title: "Secret key rate vs distance".into(),
        x_label: "fibre length (km)".into(),
        y_label: "secret key rate (bits/pulse)".into(),
        log_y: true,
        series,
        ..Chart::default()
    };
    let reach = simulated.iter().filter(|p| p.y > 0.0).map(|p| p.x).fold(f64::NAN, f64::max);
    let figures = vec![
        ("farthest simulated point with a key (km)".into(), format!("{reach}")),
        (
            "simulated rate at the first point (bits/pulse)".into(),
            simulated.first().map(|p| format!("{:.4e} ± {:.1e}", p.y, p.err)).unwrap_or_default(),
        ),
    ];
    Ok(RecipeOutput { charts: vec![("keyrate-vs-distance".into(), chart)], figures })
}

fn intercept_resend(table: &Table, _base: &LinkScenario) -> Result<RecipeOutput> {
    let x = "eve.intercept_resend_fraction";
    let qber = table.mean_by(x, "qber")?;
    let expected = table.mean_by(x, "expected_qber")?;
    // The region where the expected QBER is at or above the threshold: the link falls back.
    let crossing = expected
        .windows(2)
        .find(|w| w[0].y < QBER_THRESHOLD && w[1].y >= QBER_THRESHOLD)
        .map(|w| w[0].x + (QBER_THRESHOLD - w[0].y) / (w[1].y - w[0].y) * (w[1].x - w[0].x));
    let last = expected.last().map(|p| p.x).unwrap_or(1.0);
    let start = crossing.or_else(|| expected.first().filter(|p| p.y >= QBER_THRESHOLD).map(|p| p.x));
    let bands: Vec<(f64, f64, String)> =
        start.map(|s| (s, last, "QBER ≥ 11 %: ML-KEM-1024 fallback".to_string())).into_iter().collect();
    let qber_chart = Chart {
        title: "QBER vs intercept-resend fraction".into(),
        x_label: "intercept-resend fraction p".into(),
        y_label: "QBER (signal, Z basis)".into(),
        series: vec![markers("simulated", qber), curve("analytic", expected)],
        hlines: vec![(QBER_THRESHOLD, "11 % threshold".into())],
        x_bands: bands.clone(),
        legend: Legend::UpperLeft,
        ..Chart::default()
    };
    let rate_chart = Chart {
        title: "Secret key rate vs intercept-resend fraction".into(),
        x_label: "intercept-resend fraction p".into(),
        y_label: "secret key rate (bits/pulse)".into(),
        log_y: true,
        series: vec![
            markers("simulated (vacuum+weak estimate)", table.mean_by(x, "key_rate_vacuum_weak_per_pulse")?),
            curve("analytic", table.mean_by(x, "key_rate_vacuum_weak_expected_per_pulse")?),
        ],
        x_bands: bands,
        ..Chart::default()
    };
    let figures = vec![(
        "intercept-resend fraction where the QBER reaches 11 %".into(),
        crossing.map(|c| format!("{c:.3}")).unwrap_or_else(|| "not reached".into()),
    )];
    Ok(RecipeOutput {
        charts: vec![("intercept-resend-qber".into(), qber_chart), ("intercept-resend-keyrate".into(), rate_chart)],
        figures,
    })
}

fn receivers(table: &Table) -> Result<RecipeOutput> {
    let (x, group) = ("channel.length_km", "detector.receiver");
    let mut qber = Vec::new();
    let mut rate = Vec::new();
    let mut at_first = Vec::new();
    for receiver in ["active", "passive"] {
        let rows = table.filter_eq(group, receiver)?;
        let measured = rows.mean_by(x, "qber")?;
        at_first.push((measured.first().copied(), rows.mean_by(x, "key_rate_vacuum_weak_per_pulse")?.first().copied()));
        qber.push(markers(&format!("{receiver}, simulated"), measured));
        qber.push(curve(&format!("{receiver}, analytic"), rows.mean_by(x, "expected_qber")?));
        rate.push(markers(&format!("{receiver}, simulated"), rows.mean_by(x, "key_rate_vacuum_weak_per_pulse")?));
        rate.push(curve(&format!("{receiver}, analytic"), rows.mean_by(x, "key_rate_vacuum_weak_expected_per_pulse")?));
    }
    let qber_chart = Chart {
        title: "QBER vs distance: active and passive receiver".into(),
        x_label: "fibre length (km)".into(),
        y_label: "QBER (signal, Z basis)".into(),
        series: qber,
        legend: Legend::UpperRight,
        ..Chart::default()
    };
    let rate_chart = Chart {
        title: "Secret key rate vs distance: active and passive receiver".into(),
        x_label: "fibre length (km)".into(),
        y_label: "secret key rate (bits/pulse, vacuum+weak estimate)".into(),
        log_y: true,
        series: rate,
        legend: Legend::UpperRight,
        ..Chart::default()
    };
    let mut figures = Vec::new();
    if let [(Some(qa), Some(ra)), (Some(qp), Some(rp))] = at_first[..] {
        figures.push((
            format!("QBER at {} km: active / passive", qa.x),
            format!("{:.3} % / {:.3} %", 100.0 * qa.y, 100.0 * qp.y),
        ));
        if ra.y > 0.0 {
            figures.push((format!("passive / active key rate at {} km", ra.x), format!("{:.3}", rp.y / ra.y)));
        }
    }
    Ok(RecipeOutput {
        charts: vec![("receivers-qber".into(), qber_chart), ("receivers-keyrate".into(), rate_chart)],
        figures,
    })
}

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
    let usage = |e: rusqlite::Error| crate::Error::Usage(format!("{}: {e}", db.display()));
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(usage)?;
    let mut stmt = conn
        .prepare(
            "SELECT coalesce(from_state, '(new)'), to_state, count(*) FROM audit WHERE to_state IS NOT NULL \
             GROUP BY 1, 2 ORDER BY 3 DESC",
        )
        .map_err(usage)?;
    let transitions: Vec<(String, i64)> = stmt
        .query_map([], |r| Ok((format!("{}→{}", r.get::<_, String>(0)?, r.get::<_, String>(1)?), r.get(2)?)))
        .map_err(usage)?
        .collect::<std::result::Result<_, _>>()
        .map_err(usage)?;
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
        }],
        x_categories: transitions.iter().map(|(t, _)| abbreviate_states(t)).collect(),
        ..Chart::default()
    };
    let table = Table::read(rotations)?;
    let timing_series = ["scheduled", "triggered", "emergency"]
        .iter()
        .map(|kind| -> Result<Series> {
            let points = table.filter_eq("kind", kind)?.points("start_s", "convergence_ms", 1.0 / 3600.0)?;
            Ok(Series { label: format!("{kind} rotations"), points, kind: SeriesKind::Markers })
        })
        .collect::<Result<Vec<_>>>()?;
    let timing = Chart {
        title: "Rotation timing: convergence of each rotation".into(),
        x_label: "simulated time (h)".into(),
        y_label: "convergence (ms)".into(),
        log_y: true,
        series: timing_series,
        hlines: vec![
            (5000.0, "scheduled promise 5 s".into()),
            (3000.0, "re-key promise 3 s".into()),
            (2000.0, "triggered promise 2 s".into()),
        ],
        legend: Legend::UpperLeft,
        ..Chart::default()
    };
    let figures = transitions.iter().map(|(t, n)| (format!("keys {t}"), n.to_string())).collect();
    Ok(RecipeOutput { charts: vec![("lifecycle-flow".into(), flow), ("rotation-timing".into(), timing)], figures })
}
