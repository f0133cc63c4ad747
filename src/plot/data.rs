//! Reading sweep CSVs for plotting: columns by name, and the mean and standard deviation of a
//! figure over the replicates of each x value.

use std::collections::BTreeMap;
use std::path::Path;

use crate::plot::Point;
use crate::{Error, Result};

/// A CSV held as named string columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads `path` (a sweep CSV: header row, then data rows).
    pub fn read(path: &Path) -> Result<Self> {
        let mut reader = csv::Reader::from_path(path).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
        let header = reader
            .headers()
            .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?
            .iter()
            .map(String::from)
            .collect();
        let rows = reader
            .records()
            .map(|r| r.map(|r| r.iter().map(String::from).collect()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
        Ok(Table { header, rows })
    }

    fn column(&self, name: &str) -> Result<usize> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| Error::Usage(format!("no column `{name}`; columns: {}", self.header.join(", "))))
    }

    /// Mean ± sample standard deviation of `y` over the rows sharing each value of `x` (rows
    /// with an error or without a value are skipped), in increasing x.
    pub fn mean_by(&self, x: &str, y: &str) -> Result<Vec<Point>> {
        let (xi, yi) = (self.column(x)?, self.column(y)?);
        let error = self.column("error").ok();
        let mut groups: BTreeMap<u64, (f64, Vec<f64>)> = BTreeMap::new();
        for row in &self.rows {
            if error.is_some_and(|e| !row[e].is_empty()) {
                continue;
            }
            let (Ok(xv), Ok(yv)) = (row[xi].parse::<f64>(), row[yi].parse::<f64>()) else { continue };
            groups.entry(xv.to_bits() ^ (1 << 63)).or_insert((xv, Vec::new())).1.push(yv);
        }
        let mut points: Vec<Point> = groups
            .into_values()
            .map(|(x, ys)| {
                let n = ys.len() as f64;
                let mean = ys.iter().sum::<f64>() / n;
                let var =
                    if ys.len() > 1 { ys.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
                Point { x, y: mean, err: var.sqrt() }
            })
            .collect();
        points.sort_by(|a, b| a.x.total_cmp(&b.x));
        Ok(points)
    }
}
