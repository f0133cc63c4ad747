//! Charts drawn with plotters to SVG and PNG, with the DejaVu Sans font bundled (no system
//! fonts needed): line and marker series, error bars, logarithmic axes, horizontal reference
//! lines and shaded x-bands.
//!
//! Logarithmic axes are drawn by plotting log10 of the values on a linear axis and labelling
//! the ticks with the original values; points ≤ 0 cannot be shown on such an axis and are
//! left out.

pub(crate) mod data;
mod error;

pub use data::Table;
pub use error::PlotError;

use std::path::{Path, PathBuf};
use std::sync::Once;

use crate::atomic_file::FileError;

use plotters::coord::Shift;
use plotters::prelude::*;

type Result<T> = std::result::Result<T, PlotError>;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesKind {
    /// A line through the points (analytic curves).
    Line,
    /// Markers with error bars (simulated points).
    Markers,
    /// Vertical bars from the bottom of the chart (counts per category).
    Bars,
}

/// One point: x, y and the half-height of its error bar (0 for none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Abscissa.
    pub x: f64,
    /// Ordinate.
    pub y: f64,
    /// Error bar half-height (one standard deviation).
    pub err: f64,
}

/// A labelled series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// The points, in x order.
    pub points: Vec<Point>,
    /// Line or markers.
    pub kind: SeriesKind,
}

/// The corner of the plot area that holds the legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Legend {
    /// Lower left.
    #[default]
    LowerLeft,
    /// Upper left.
    UpperLeft,
    /// Upper right.
    UpperRight,
}

/// A chart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chart {
    /// Caption.
    pub title: String,
    /// x-axis label (with units).
    pub x_label: String,
    /// y-axis label (with units).
    pub y_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// The series.
    pub series: Vec<Series>,
    /// Horizontal reference lines: (y, label).
    pub hlines: Vec<(f64, String)>,
    /// Shaded x intervals: (from, to, label).
    pub x_bands: Vec<(f64, f64, String)>,
    /// Where the legend goes.
    pub legend: Legend,
    /// Names of the integer x positions 0, 1, 2 ... (category axis), if any.
    pub x_categories: Vec<String>,
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (style, bytes) in [(FontStyle::Normal, dejavu::sans::regular()), (FontStyle::Bold, dejavu::sans::bold())] {
            if plotters::style::register_font("sans-serif", style, bytes).is_err() {
                unreachable!("the bundled DejaVu Sans is a valid TrueType font");
            }
        }
    });
}

/// Draws `chart` to `base.svg` and `base.png` (each written to a temporary file and renamed).
pub fn render(chart: &Chart, base: &Path) -> Result<(PathBuf, PathBuf)> {
    register_font();
    let svg_path = base.with_extension("svg");
    let png_path = base.with_extension("png");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 560)).into_drawing_area();
        draw(&root, chart).map_err(|e| PlotError::Draw { path: svg_path.clone(), message: e.to_string() })?;
        root.present().map_err(|e| PlotError::Draw { path: svg_path.clone(), message: e.to_string() })?;
    }
    crate::atomic_file::write_text_atomically(&svg_path, &svg)?;
    let temp = png_path.with_file_name(format!(
        ".{}.{}.tmp.png",
        png_path.file_stem().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    {
        let root = BitMapBackend::new(&temp, (900, 560)).into_drawing_area();
        draw(&root, chart).map_err(|e| PlotError::Draw { path: png_path.clone(), message: e.to_string() })?;
        root.present().map_err(|e| PlotError::Draw { path: png_path.clone(), message: e.to_string() })?;
    }
    std::fs::rename(&temp, &png_path).map_err(|e| FileError::new(&png_path, e))?;
    Ok((svg_path, png_path))
}

fn axis_value(v: f64, log: bool) -> Option<f64> {
    if !log {
        return v.is_finite().then_some(v);
    }
    (v > 0.0 && v.is_finite()).then(|| v.log10())
}

fn tick_label(v: f64, log: bool) -> String {
    if log {
        let value = 10f64.powf(v);
        if (v - v.round()).abs() < 1e-9 { format!("1e{}", v.round()) } else { format!("{value:.2e}") }
    } else if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e5) {
        format!("{v:.1e}")
    } else {
        format!("{}", (v * 1e6).round() / 1e6)
    }
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.5 };
    (lo - pad, hi + pad)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> std::result::Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let (lx, ly) = (chart.log_x, chart.log_y);
    let xs = chart.series.iter().flat_map(|s| s.points.iter().filter_map(move |p| axis_value(p.x, lx)));
    let ys = chart.series.iter().flat_map(|s| {
        s.points.iter().flat_map(move |p| {
            [axis_value(p.y - p.err, ly).or(axis_value(p.y, ly)), axis_value(p.y + p.err, ly)].into_iter().flatten()
        })
    });
    let hl = chart.hlines.iter().filter_map(|(y, _)| axis_value(*y, ly));
    let (x0, x1) = bounds(xs);
    let (y0, y1) = bounds(ys.chain(hl));
    let mut ctx = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    ctx.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .x_label_formatter(&|v| {
            if chart.x_categories.is_empty() {
                tick_label(*v, lx)
            } else {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 {
                    chart.x_categories.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
        })
        .x_labels(if chart.x_categories.is_empty() { 10 } else { chart.x_categories.len() + 1 })
        .y_label_formatter(&|v| tick_label(*v, ly))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for (from, to, label) in &chart.x_bands {
        let (Some(a), Some(b)) = (axis_value(*from, lx), axis_value(*to, lx)) else { continue };
        let shade = RGBColor(255, 200, 200).mix(0.45);
        ctx.draw_series(std::iter::once(Rectangle::new([(a, y0), (b, y1)], shade.filled())))
            .map_err(err)?
            .label(label.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], shade.filled()));
    }
    for (y, label) in &chart.hlines {
        let Some(v) = axis_value(*y, ly) else { continue };
        let style = ShapeStyle::from(&BLACK).stroke_width(2);
        ctx.draw_series(LineSeries::new([(x0, v), (x1, v)], style))
            .map_err(err)?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
    }
    for (i, series) in chart.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64, f64, f64)> = series
            .points
            .iter()
            .filter_map(|p| {
                let (x, y) = (axis_value(p.x, lx)?, axis_value(p.y, ly)?);
                let lo = axis_value(p.y - p.err, ly).unwrap_or(y0);
                let hi = axis_value(p.y + p.err, ly).unwrap_or(y);
                Some((x, y, lo, hi))
            })
            .collect();
        match series.kind {
            SeriesKind::Line => {
                let style = ShapeStyle::from(&color).stroke_width(2);
                ctx.draw_series(LineSeries::new(pts.iter().map(|p| (p.0, p.1)), style))
                    .map_err(err)?
                    .label(series.label.as_str())
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
            }
            SeriesKind::Bars => {
                let style = color.mix(0.8).filled();
                ctx.draw_series(pts.iter().map(|p| Rectangle::new([(p.0 - 0.35, y0), (p.0 + 0.35, p.1)], style)))
                    .map_err(err)?
                    .label(series.label.as_str())
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], style));
            }
            SeriesKind::Markers => {
                ctx.draw_series(
                    pts.iter()
                        .filter(|p| p.3 > p.2)
                        .map(|p| PathElement::new([(p.0, p.2), (p.0, p.3)], ShapeStyle::from(&color).stroke_width(1))),
                )
                .map_err(err)?;
                ctx.draw_series(pts.iter().map(|p| Circle::new((p.0, p.1), 4, color.filled())))
                    .map_err(err)?
                    .label(series.label.as_str())
                    .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
            }
        }
    }
    ctx.configure_series_labels()
        .position(match chart.legend {
            Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
            Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
            Legend::UpperRight => SeriesLabelPosition::UpperRight,
        })
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    Ok(())
}
