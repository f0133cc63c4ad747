//! The mesh coverage figure: over simulated time, the share of node pairs whose ACTIVE
//! session key came directly from QKD, over a trusted-node relay path, from the ML-KEM-1024
//! fallback, from local material (a recovery's pre-staged re-key), or that have none — drawn
//! from the coverage CSV a mesh run writes (one row per monitoring window).

use crate::Result;
use crate::plot::data::Table;
use crate::plot::{Chart, Legend, Point, Series, SeriesKind};

/// The coverage CSV's columns and their labels, in drawing order.
const COLUMNS: [(&str, &str); 5] = [
    ("direct", "QKD, direct link"),
    ("relay", "QKD, trusted-node relay"),
    ("fallback", "ML-KEM-1024 fallback"),
    ("local", "pre-staged (recovery re-key)"),
    ("none", "no key"),
];

/// Coverage vs time (h, shares in %) from the coverage CSV at `path`.
pub fn coverage_chart(path: &std::path::Path) -> Result<Chart> {
    let table = Table::read(path)?;
    let hours = 1.0 / 3600.0;
    let series = COLUMNS
        .iter()
        .map(|(column, label)| -> Result<Series> {
            let points = table
                .points("time_s", column, hours)?
                .into_iter()
                .map(|p| Point { y: p.y * super::PERCENT, ..p })
                .collect();
            Ok(Series { label: (*label).into(), points, kind: SeriesKind::Line, style: None })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Chart {
        title: "Mesh coverage: where each pair's session key comes from".into(),
        x_label: "simulated time (h)".into(),
        y_label: "node pairs (%)".into(),
        series,
        legend: Legend::Auto,
        ..Chart::default()
    })
}
