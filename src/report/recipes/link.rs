//! Recipes of the link sweeps: secret key rate vs distance against the analytic models,
//! QBER and key rate under intercept-resend with the threshold and fallback region, and the
//! active vs passive receiver.

use super::{PERCENT, RecipeOutput, curve, markers, scaled, styled};
use crate::Result;
use crate::lifecycle::QBER_THRESHOLD;
use crate::link_scenario::LinkScenario;
use crate::photonics::LinkConfig;
use crate::plot::data::Table;
use crate::plot::ticks::superscript;
use crate::plot::{Chart, Point};
use crate::postprocess::PostprocessSettings;
use crate::postprocess::keyrate::{KeyRateModel, key_rate, optimise};

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

pub(super) fn keyrate_vs_distance(table: &Table, base: &LinkScenario) -> Result<RecipeOutput> {
    let simulated = table.mean_by("channel.length_km", "key_rate_vacuum_weak_per_pulse")?;
    let max_km = simulated.iter().map(|p| p.x).fold(0.0, f64::max).max(1.0) * 1.15;
    let grid: Vec<f64> = (0..=60).map(|i| max_km * i as f64 / 60.0).collect();
    let link = base.link();
    let settings = &base.postprocess;
    let mut series = vec![
        styled(0, markers("simulated (event engine)", simulated.clone())),
        styled(
            0,
            curve(
                "vacuum+weak decoy, same μ, ν",
                analytic_curve(KeyRateModel::DecoyVacuumWeak, &link, settings, &grid, false),
            ),
        ),
        curve("infinite decoy, same μ", analytic_curve(KeyRateModel::DecoyInfinite, &link, settings, &grid, false)),
        curve("no decoy (GLLP), optimal μ", analytic_curve(KeyRateModel::Gllp, &link, settings, &grid, true)),
    ];
    for k in [7, 8, 10] {
        let s = PostprocessSettings { block_size: 10u64.pow(k), ..settings.clone() };
        series.push(curve(
            &format!("finite key (Lim 2014), n_X = 10{}, same μ, ν", superscript(k as i32)),
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

pub(super) fn intercept_resend(table: &Table, base: &LinkScenario) -> Result<RecipeOutput> {
    let x = "eve.intercept_resend_fraction";
    let qber = table.mean_by(x, "qber")?;
    let expected = table.mean_by(x, "expected_qber")?;
    let percent = |points: &[Point]| scaled(points.to_vec(), 1.0, PERCENT);
    // The region where the expected QBER is at or above the threshold: the link falls back.
    let crossing = expected
        .windows(2)
        .find(|w| w[0].y < QBER_THRESHOLD && w[1].y >= QBER_THRESHOLD)
        .map(|w| w[0].x + (QBER_THRESHOLD - w[0].y) / (w[1].y - w[0].y) * (w[1].x - w[0].x));
    let last = expected.last().map(|p| p.x).unwrap_or(1.0);
    let start = crossing.or_else(|| expected.first().filter(|p| p.y >= QBER_THRESHOLD).map(|p| p.x));
    let bands: Vec<(f64, f64, String)> =
        start.map(|s| (s, last, "QBER ≥ 11 %: ML-KEM-1024 fallback".to_string())).into_iter().collect();
    // Below the fallback, the region where the analytic rate is 0: the link stays on QKD but
    // distils no key (a log axis cannot show it otherwise).
    let analytic_rate = table.mean_by(x, "key_rate_vacuum_weak_expected_per_pulse")?;
    let cutoff = key_cutoff(base, &analytic_rate);
    let no_key_end = start.unwrap_or(last);
    let mut rate_bands = bands.clone();
    rate_bands.extend(
        cutoff.filter(|&c| c < no_key_end).map(|c| (c, no_key_end, "no key: analytic rate 0, QBER < 11 %".to_string())),
    );
    let qber_chart = Chart {
        title: "QBER vs intercept-resend fraction".into(),
        x_label: "intercept-resend fraction p".into(),
        y_label: "QBER (%, signal, Z basis)".into(),
        series: vec![styled(0, markers("simulated", percent(&qber))), styled(0, curve("analytic", percent(&expected)))],
        hlines: vec![(PERCENT * QBER_THRESHOLD, "11 % threshold".into())],
        x_bands: bands.clone(),
        ..Chart::default()
    };
    let rate_chart = Chart {
        title: "Secret key rate vs intercept-resend fraction".into(),
        x_label: "intercept-resend fraction p".into(),
        y_label: "secret key rate (bits/pulse)".into(),
        log_y: true,
        series: vec![
            styled(0, markers("simulated (vacuum+weak estimate)", table.mean_by(x, "key_rate_vacuum_weak_per_pulse")?)),
            styled(0, curve("analytic", analytic_rate)),
        ],
        x_bands: rate_bands,
        ..Chart::default()
    };
    let figures = vec![
        (
            "intercept-resend fraction where the QBER reaches 11 %".into(),
            crossing.map(|c| format!("{c:.3}")).unwrap_or_else(|| "not reached".into()),
        ),
        (
            "intercept-resend fraction where the vacuum+weak key rate reaches 0".into(),
            cutoff.map(|c| format!("{c:.3}")).unwrap_or_else(|| "not reached".into()),
        ),
    ];
    Ok(RecipeOutput {
        charts: vec![("intercept-resend-qber".into(), qber_chart), ("intercept-resend-keyrate".into(), rate_chart)],
        figures,
    })
}

/// The intercept-resend fraction where the analytic vacuum+weak rate on `base` reaches 0:
/// bisected between the last point of `analytic` with key and the next, if one has none.
fn key_cutoff(base: &LinkScenario, analytic: &[Point]) -> Option<f64> {
    let pair = analytic.windows(2).find(|w| w[0].y > 0.0 && w[1].y <= 0.0)?;
    let rate = |p: f64| {
        let mut config = base.link();
        config.eve.intercept_resend_fraction = p;
        key_rate(KeyRateModel::DecoyVacuumWeak, &config, &base.postprocess, None).map_or(0.0, |r| r.rate_per_pulse)
    };
    let (mut with_key, mut without) = (pair[0].x, pair[1].x);
    for _ in 0..40 {
        let mid = 0.5 * (with_key + without);
        if rate(mid) > 0.0 { with_key = mid } else { without = mid }
    }
    Some(0.5 * (with_key + without))
}

pub(super) fn receivers(table: &Table) -> Result<RecipeOutput> {
    let (x, group) = ("channel.length_km", "detector.receiver");
    let mut qber = Vec::new();
    let mut rate = Vec::new();
    let mut at_first = Vec::new();
    for (i, receiver) in ["active", "passive"].into_iter().enumerate() {
        let rows = table.filter_eq(group, receiver)?;
        let measured = rows.mean_by(x, "qber")?;
        at_first.push((measured.first().copied(), rows.mean_by(x, "key_rate_vacuum_weak_per_pulse")?.first().copied()));
        let expected = rows.mean_by(x, "expected_qber")?;
        qber.push(styled(i, markers(&format!("{receiver}, simulated"), scaled(measured, 1.0, PERCENT))));
        qber.push(styled(i, curve(&format!("{receiver}, analytic"), scaled(expected, 1.0, PERCENT))));
        let (simulated, analytic) = (
            rows.mean_by(x, "key_rate_vacuum_weak_per_pulse")?,
            rows.mean_by(x, "key_rate_vacuum_weak_expected_per_pulse")?,
        );
        rate.push(styled(i, markers(&format!("{receiver}, simulated"), simulated)));
        rate.push(styled(i, curve(&format!("{receiver}, analytic"), analytic)));
    }
    let qber_chart = Chart {
        title: "QBER vs distance: active and passive receiver".into(),
        x_label: "fibre length (km)".into(),
        y_label: "QBER (%, signal, Z basis)".into(),
        series: qber,
        ..Chart::default()
    };
    let rate_chart = Chart {
        title: "Secret key rate vs distance: active and passive receiver".into(),
        x_label: "fibre length (km)".into(),
        y_label: "secret key rate (bits/pulse, vacuum+weak estimate)".into(),
        log_y: true,
        series: rate,
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
