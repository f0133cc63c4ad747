//! Charts drawn with plotters to SVG and PNG, with the DejaVu Sans font bundled (no system
//! fonts needed): line and marker series, error bars, logarithmic axes, horizontal reference
//! lines labelled on the line, and shaded x-bands.
//!
//! Logarithmic axes are drawn by plotting log10 of the values on a linear axis and labelling
//! round ticks (1, 2, 5 × 10ᵏ, never 6.31e1) with the original values; points ≤ 0 cannot be shown on such an
//! axis and are left out (a line breaks there). Every series gets its own colour, line
//! pattern and hollow marker, so series that coincide stay visible; the legend goes to
//! the corner where it hides the fewest data.

mod axis;
pub(crate) mod data;
mod draw;
mod error;
mod glyph;
mod legend;
pub(crate) mod style;
pub(crate) mod ticks;

pub use data::Table;
pub use error::PlotError;

use std::path::{Path, PathBuf};
use std::sync::Once;

use crate::atomic_file::FileError;

use plotters::prelude::*;

type Result<T> = std::result::Result<T, PlotError>;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeriesKind {
    /// A line through the points (analytic curves).
    #[default]
    Line,
    /// Markers with error bars (simulated points).
    Markers,
    /// A line through markers with error bars (measured points of a sweep, joined).
    MarkedLine,
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
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// The points, in x order.
    pub points: Vec<Point>,
    /// Line or markers.
    pub kind: SeriesKind,
    /// Index of its style (colour, line pattern, marker); `None` for its position in the chart. Series that share
    /// an index share colour, line and marker (a simulated series and its analytic curve).
    pub style: Option<usize>,
}

/// The corner of the plot area that holds the legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Legend {
    /// Wherever it covers the fewest data.
    #[default]
    Auto,
    /// Lower left.
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
    /// The x values are durations in seconds: a logarithmic x axis marks round times.
    pub x_seconds: bool,
    /// The series.
    pub series: Vec<Series>,
    /// Horizontal reference lines: (y, label), each in its own pattern, labelled on the line.
    pub hlines: Vec<(f64, String)>,
    /// Shaded x intervals: (from, to, label), the first red, the second grey, the third blue.
    pub x_bands: Vec<(f64, f64, String)>,
    /// Where the legend goes.
    pub legend: Legend,
    /// Names of the integer x positions 0, 1, 2 ... (category axis), if any.
    pub x_categories: Vec<String>,
}

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

/// Width and height of every chart (pixels).
pub const SIZE: (u32, u32) = (900, 560);

/// Draws `chart` to `base.svg` and `base.png` (each written to a temporary file and renamed).
pub fn render(chart: &Chart, base: &Path) -> Result<(PathBuf, PathBuf)> {
    register_font();
    let svg_path = base.with_extension("svg");
    let png_path = base.with_extension("png");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw::draw(&root, chart).map_err(|e| PlotError::Draw { path: svg_path.clone(), message: e })?;
        root.present().map_err(|e| PlotError::Draw { path: svg_path.clone(), message: e.to_string() })?;
    }
    crate::atomic_file::write_text_atomically(&svg_path, &svg)?;
    let temp = png_path.with_file_name(format!(
        ".{}.{}.tmp.png",
        png_path.file_stem().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    {
        let root = BitMapBackend::new(&temp, SIZE).into_drawing_area();
        draw::draw(&root, chart).map_err(|e| PlotError::Draw { path: png_path.clone(), message: e })?;
        root.present().map_err(|e| PlotError::Draw { path: png_path.clone(), message: e.to_string() })?;
    }
    std::fs::rename(&temp, &png_path).map_err(|e| FileError::new(&png_path, e))?;
    Ok((svg_path, png_path))
}
