//! The canonical plots: for each canonical sweep, the charts drawn from its CSV beside the
//! analytic curves of the same scenario, and the key figures that go into the report's tables.
//!
//! This file holds the recipe names, their output and the series helpers; the recipes are
//! split by subject: `link` (key rate, intercept-resend, receivers), `mesh` (QBER threshold,
//! refresh interval, decision-engine ROC), `lifecycle` (the spec's two diagrams from a
//! mesh run's store), `coverage` (where the pairs' session keys come from over a mesh run)
//! and `reconcile` (efficiency and round trips vs QBER from a `qecnet reconcile-study` CSV,
//! which needs no sweep).

use serde::{Deserialize, Serialize};

mod coverage;
mod lifecycle;
mod link;
mod mesh;
mod reconcile;

use crate::Result;

use crate::link_scenario::LinkScenario;
use crate::plot::data::Table;
use crate::plot::{Chart, Point, Series, SeriesKind};
pub use coverage::coverage_chart;
pub use lifecycle::lifecycle_diagrams;
use link::{intercept_resend, keyrate_vs_distance, receivers};
use mesh::{refresh, roc, threshold};

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
    /// Reconciliation efficiency vs QBER with the round trips beside it, one pair of charts
    /// per block size, from a `qecnet reconcile-study` CSV alone (no sweep).
    ReconcileStudy,
}

impl Recipe {
    /// The name as the run file and `qecnet plot --recipe` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Recipe::KeyrateVsDistance => "keyrate-vs-distance",
            Recipe::InterceptResend => "intercept-resend",
            Recipe::Threshold => "threshold",
            Recipe::Refresh => "refresh",
            Recipe::Roc => "roc",
            Recipe::LifecycleDiagrams => "lifecycle-diagrams",
            Recipe::Receivers => "receivers",
            Recipe::ReconcileStudy => "reconcile-study",
        }
    }

    /// Whether it draws from a CSV alone, with no sweep file (or mesh run) beside it.
    pub fn draws_from_csv_alone(self) -> bool {
        matches!(self, Recipe::ReconcileStudy)
    }
}

/// Draws a recipe that needs no sweep ([`Recipe::draws_from_csv_alone`]) from `table`.
pub fn draw_csv(recipe: Recipe, table: &Table) -> Result<RecipeOutput> {
    match recipe {
        Recipe::ReconcileStudy => reconcile::reconcile_study(table),
        other => Err(crate::Error::Usage(format!(
            "recipe {} draws a sweep's CSV beside its base scenario: give the sweep file",
            other.name()
        ))),
    }
}

/// Charts and headline figures of one recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipeOutput {
    /// (file stem, chart).
    pub charts: Vec<(String, Chart)>,
    /// (name, value) pairs for the report's table.
    pub figures: Vec<(String, String)>,
}

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
        Recipe::ReconcileStudy => reconcile::reconcile_study(table),
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
    Ok(table
        .series_by(group, x, y)?
        .into_iter()
        .map(|(g, points)| Series { label: label(g), points, kind, style: None })
        .collect())
}

fn curve(label: &str, points: Vec<Point>) -> Series {
    Series { label: label.into(), points, kind: SeriesKind::Line, style: None }
}

fn markers(label: &str, points: Vec<Point>) -> Series {
    Series { label: label.into(), points, kind: SeriesKind::Markers, style: None }
}

/// `series` drawn in style `index` (a simulated series and its analytic curve share one).
fn styled(index: usize, series: Series) -> Series {
    Series { style: Some(index), ..series }
}

/// `points` with x and y multiplied by `x_scale` and `y_scale` (fractions drawn in %).
fn scaled(points: Vec<Point>, x_scale: f64, y_scale: f64) -> Vec<Point> {
    points.into_iter().map(|p| Point { x: p.x * x_scale, y: p.y * y_scale, err: p.err * y_scale }).collect()
}

/// Percent per unit fraction.
const PERCENT: f64 = 100.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recipe_name_parses_back_to_its_recipe() {
        use Recipe::*;
        for recipe in
            [KeyrateVsDistance, InterceptResend, Threshold, Refresh, Roc, LifecycleDiagrams, Receivers, ReconcileStudy]
        {
            let parsed: Recipe = toml::Value::String(recipe.name().into()).try_into().unwrap();
            assert_eq!(parsed, recipe);
        }
    }

    #[test]
    fn scaling_a_series_scales_its_error_bars() {
        let p = scaled(vec![Point { x: 0.5, y: 0.11, err: 0.01 }], PERCENT, PERCENT);
        assert!((p[0].x - 50.0).abs() < 1e-12 && (p[0].y - 11.0).abs() < 1e-12 && (p[0].err - 1.0).abs() < 1e-12);
    }
}
