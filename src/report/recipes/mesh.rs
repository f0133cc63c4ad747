//! Recipes of the mesh sweeps: time in fallback and key delivered vs the QBER threshold,
//! the key buffer vs the refresh interval, and the decision engine's ROC.

use super::{PERCENT, RecipeOutput, grouped, scaled};
use crate::Result;
use crate::lifecycle::QBER_THRESHOLD;
use crate::plot::data::Table;
use crate::plot::{Chart, Point, Series, SeriesKind};

/// The style index whose colour is black (a reference line among measured series).
const BLACK_STYLE: usize = 6;

/// Half the width of the band that marks the spec's threshold on a QBER-threshold axis.
const THRESHOLD_BAND_HALF_WIDTH: f64 = 0.0005;

/// The band around the spec's 11 % threshold.
/// (on an axis in %).
fn spec_threshold_band() -> (f64, f64, String) {
    (
        PERCENT * (QBER_THRESHOLD - THRESHOLD_BAND_HALF_WIDTH),
        PERCENT * (QBER_THRESHOLD + THRESHOLD_BAND_HALF_WIDTH),
        "11 % (the spec)".into(),
    )
}

/// [`grouped`] marked lines with the QBER threshold axis in %.
fn by_threshold_percent(table: &Table, group: &str, x: &str, y: &str) -> Result<Vec<Series>> {
    let km = |g: f64| format!("{g} km");
    Ok(grouped(table, group, x, y, km, SeriesKind::MarkedLine)?
        .into_iter()
        .map(|s| Series { points: scaled(s.points, PERCENT, 1.0), ..s })
        .collect())
}

pub(super) fn threshold(table: &Table) -> Result<RecipeOutput> {
    let (g, x) = ("link.0.length_km", "monitor.qber_threshold");
    let fallback = Chart {
        title: "Time in ML-KEM-1024 fallback vs QBER threshold".into(),
        x_label: "QBER threshold (%)".into(),
        y_label: "fallback time (link-s)".into(),
        series: by_threshold_percent(table, g, x, "fallback_seconds_total")?,
        x_bands: vec![spec_threshold_band()],
        ..Chart::default()
    };
    let delivered = Chart {
        title: "QKD key delivered vs QBER threshold".into(),
        x_label: "QBER threshold (%)".into(),
        y_label: "secret key delivered (bits)".into(),
        log_y: true,
        series: by_threshold_percent(table, g, x, "key_delivered_bits")?,
        x_bands: vec![spec_threshold_band()],
        ..Chart::default()
    };
    Ok(RecipeOutput {
        charts: vec![("threshold-fallback".into(), fallback), ("threshold-key".into(), delivered)],
        figures: vec![],
    })
}

pub(super) fn refresh(table: &Table) -> Result<RecipeOutput> {
    let (g, x) = ("link.0.length_km", "mesh.refresh_interval");
    let km = |g: f64| format!("{g} km");
    let marker = vec![(290.0, 310.0, "300 s (the spec)".to_string())];
    let chart = |title: &str, y: &str, y_label: &str, log_y: bool| -> Result<Chart> {
        Ok(Chart {
            title: title.into(),
            x_label: "refresh interval (s)".into(),
            y_label: y_label.into(),
            log_x: true,
            x_seconds: true,
            log_y,
            series: grouped(table, g, x, y, km, SeriesKind::MarkedLine)?,
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

pub(super) fn roc(table: &Table) -> Result<RecipeOutput> {
    let g = "link_defaults.eve.intercept_resend_fraction";
    let attack = |p: f64| format!("intercept-resend {p}");
    let delay = Chart {
        title: "Decision engine: detection delay vs false-alarm rate".into(),
        x_label: "measured false alarms per window".into(),
        y_label: "mean detection delay (windows)".into(),
        log_x: true,
        series: grouped(
            table,
            g,
            "false_alarm_rate_per_window",
            "detection_delay_windows",
            attack,
            SeriesKind::MarkedLine,
        )?,
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
    // The reference line in black (the last colour of the palette).
    bound_series.push(Series {
        label: "bound (Ville)".into(),
        points: diagonal,
        kind: SeriesKind::Line,
        style: Some(BLACK_STYLE),
    });
    let bound = Chart {
        title: "Measured false alarms vs the configured bound".into(),
        x_label: "configured bound α per window".into(),
        y_label: "measured false alarms per window".into(),
        log_x: true,
        log_y: true,
        series: bound_series,
        ..Chart::default()
    };
    let detection = Chart {
        title: "Decision engine: detection probability vs configured bound".into(),
        x_label: "configured bound α per window".into(),
        y_label: "detection probability (within a trial)".into(),
        log_x: true,
        series: grouped(
            table,
            g,
            "monitor.cusum_false_alarm_per_block",
            "detection_probability",
            attack,
            SeriesKind::MarkedLine,
        )?,
        ..Chart::default()
    };
    Ok(RecipeOutput {
        charts: vec![("roc-delay".into(), delay), ("roc-bound".into(), bound), ("roc-detection".into(), detection)],
        figures: vec![],
    })
}
