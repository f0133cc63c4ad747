//! Reading sweep CSVs for plotting: columns by name, and the mean and standard deviation of a
//! figure over the replicates of each x value.

use std::collections::BTreeMap;
use std::path::Path;

use crate::plot::PlotError;
use crate::plot::Point;

type Result<T> = std::result::Result<T, PlotError>;

/// A CSV held as named string columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads `path` (a sweep CSV: header row, then data rows).
    pub fn read(path: &Path) -> Result<Self> {
        let mut reader = csv::Reader::from_path(path)
            .map_err(|e| PlotError::Csv { path: path.to_path_buf(), message: e.to_string() })?;
        let header = reader
            .headers()
            .map_err(|e| PlotError::Csv { path: path.to_path_buf(), message: e.to_string() })?
            .iter()
            .map(String::from)
            .collect();
        let rows = reader
            .records()
            .map(|r| r.map(|r| r.iter().map(String::from).collect()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| PlotError::Csv { path: path.to_path_buf(), message: e.to_string() })?;
        Ok(Table { header, rows })
    }

    /// Whether the CSV holds no data row (a header alone).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows of the CSV files at `paths` one after the other; every file must have the
    /// header of the first (the error names the one that does not).
    pub fn read_all(paths: &[std::path::PathBuf]) -> Result<Table> {
        let mut all: Option<Table> = None;
        for path in paths {
            let table = Table::read(path)?;
            match &mut all {
                None => all = Some(table),
                Some(first) if first.header == table.header => first.rows.extend(table.rows),
                Some(first) => {
                    return Err(PlotError::Csv {
                        path: path.clone(),
                        message: format!(
                            "its columns ({}) differ from the first file's ({})",
                            table.header.join(", "),
                            first.header.join(", ")
                        ),
                    });
                }
            }
        }
        Ok(all.unwrap_or(Table { header: Vec::new(), rows: Vec::new() }))
    }

    /// An error naming the first of `names` that is not a column.
    pub fn require(&self, names: &[&str]) -> Result<()> {
        names.iter().try_for_each(|name| self.column(name).map(|_| ()))
    }

    /// The distinct values of column `name`, in order of first appearance.
    pub fn distinct(&self, name: &str) -> Result<Vec<String>> {
        let i = self.column(name)?;
        let mut seen: Vec<String> = Vec::new();
        for row in &self.rows {
            if !seen.contains(&row[i]) {
                seen.push(row[i].clone());
            }
        }
        Ok(seen)
    }

    /// Every row with finite `x` and `y` as a point whose error bar is column `err` (0 where
    /// it is not a finite number), x scaled by `x_scale`, in file order.
    pub fn points_with_err(&self, x: &str, y: &str, err: &str, x_scale: f64) -> Result<Vec<Point>> {
        let (xi, yi, ei) = (self.column(x)?, self.column(y)?, self.column(err)?);
        Ok(self
            .rows
            .iter()
            .filter_map(|r| {
                let (x, y) = (r[xi].parse::<f64>().ok()?, r[yi].parse::<f64>().ok()?);
                let err = r[ei].parse::<f64>().ok().filter(|e| e.is_finite()).unwrap_or(0.0);
                (x.is_finite() && y.is_finite()).then_some(Point { x: x * x_scale, y, err })
            })
            .collect())
    }

    fn column(&self, name: &str) -> Result<usize> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| PlotError::NoColumn { name: name.to_string(), columns: self.header.clone() })
    }

    /// The rows whose column `name` equals `value`.
    pub fn filter_eq(&self, name: &str, value: &str) -> Result<Table> {
        let i = self.column(name)?;
        Ok(Table { header: self.header.clone(), rows: self.rows.iter().filter(|r| r[i] == value).cloned().collect() })
    }

    /// Every row as a point (x scaled by `x_scale`), in file order.
    pub fn points(&self, x: &str, y: &str, x_scale: f64) -> Result<Vec<Point>> {
        let (xi, yi) = (self.column(x)?, self.column(y)?);
        Ok(self
            .rows
            .iter()
            .filter_map(|r| Some(Point { x: r[xi].parse::<f64>().ok()? * x_scale, y: r[yi].parse().ok()?, err: 0.0 }))
            .collect())
    }

    /// [`Table::mean_by`] separately for each value of the column `group` (in increasing
    /// order of the group value): one series per group.
    pub fn series_by(&self, group: &str, x: &str, y: &str) -> Result<Vec<(f64, Vec<Point>)>> {
        let gi = self.column(group)?;
        let mut values: Vec<f64> = self.rows.iter().filter_map(|r| r[gi].parse().ok()).collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        values
            .into_iter()
            .map(|g| {
                let rows = self.rows.iter().filter(|r| r[gi].parse::<f64>().ok() == Some(g)).cloned().collect();
                let sub = Table { header: self.header.clone(), rows };
                sub.mean_by(x, y).map(|points| (g, points))
            })
            .collect()
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
            if !yv.is_finite() {
                continue;
            }
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
