//! Sweep files: a base scenario, the axes to vary, replicates, a seed and the outputs to keep.
//!
//! ```toml
//! [sweep]
//! name = "qber-vs-intercept"
//! kind = "link"                  # link: simulate each point; keyrate: analytic rates
//! base = "link-gys.toml"         # relative to the sweep file; or an inline [base] table
//! seed = 1
//! replicates = 3
//! outputs = ["qber", "signal_gain"]   # optional: keep only these figures
//! output = "../datasets/qber-vs-intercept.csv"
//!
//! [[axis]]
//! field = "eve.intercept_resend_fraction"
//! linspace = [0.0, 1.0, 11]      # or values = [...], or logspace = [1e6, 1e10, 5]
//!
//! [[axis]]                       # zipped: these fields move together
//! zip = [ { field = "source.signal_intensity", values = [0.3, 0.5] },
//!         { field = "source.decoy_intensity", values = [0.05, 0.1] } ]
//! ```
//!
//! Points are the cartesian product of the axes, the last axis varying fastest; every field
//! is one that `--set` accepts on the base scenario.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, apply_override};
use crate::link_scenario::LinkScenario;
use crate::postprocess::KeyRateModel;
use crate::sweep::figure_names;
pub use crate::sweep::kind::SweepKind;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    sweep: Header,
    base: Option<toml::Table>,
    #[serde(default)]
    axis: Vec<AxisSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    name: String,
    kind: SweepKind,
    base: Option<PathBuf>,
    #[serde(default = "one")]
    seed: u64,
    #[serde(default = "one_u32")]
    replicates: u32,
    #[serde(default)]
    outputs: Vec<String>,
    output: Option<PathBuf>,
    #[serde(default)]
    models: Vec<KeyRateModel>,
    #[serde(default)]
    optimise: bool,
    /// Overrides applied to the base scenario (`--set` syntax) before the axes.
    #[serde(default)]
    set: Vec<String>,
}

fn one() -> u64 {
    1
}

fn one_u32() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AxisSpec {
    field: Option<String>,
    values: Option<Vec<toml::Value>>,
    linspace: Option<(f64, f64, usize)>,
    logspace: Option<(f64, f64, usize)>,
    zip: Option<Vec<AxisSpec>>,
}

/// One axis: one field, or several zipped fields moving together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Axis {
    /// The fields set by this axis.
    pub fields: Vec<String>,
    /// For each step, the value of each field.
    pub steps: Vec<Vec<toml::Value>>,
}

/// A resolved, validated sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sweep {
    /// Name (used for the default output file).
    pub name: String,
    /// What each point computes.
    pub kind: SweepKind,
    /// The base scenario, fully defaulted.
    pub base: toml::Value,
    /// Seed of the whole sweep.
    pub seed: u64,
    /// Replicates per point.
    pub replicates: u32,
    /// Figures to keep (empty: all).
    pub outputs: Vec<String>,
    /// Output CSV (not part of the fingerprint: where results go does not change them).
    #[serde(skip)]
    pub output: PathBuf,
    /// Key-rate models (keyrate sweeps; default all but lim2014).
    pub models: Vec<KeyRateModel>,
    /// Optimise intensities at every point (keyrate sweeps).
    pub optimise: bool,
    /// The axes, outermost first.
    pub axes: Vec<Axis>,
    /// The sweep file's text (kept in the manifest).
    #[serde(skip)]
    pub source_text: String,
    /// The command's `--set` items applied to the base after the file's own `set` (kept in the
    /// manifest; they change `base`, and so the fingerprint).
    #[serde(skip)]
    pub command_set: Vec<String>,
}

/// A sweep file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// Reading or parsing the sweep or its base scenario failed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A run, resume or merge refused (names the file or point): the user can fix it.
    #[error("{0}")]
    Run(String),
    /// Reading or writing a sweep's output failed.
    #[error(transparent)]
    File(#[from] crate::atomic_file::FileError),
    /// Slurm could not be reached, or refused the jobs.
    #[error("{0}")]
    Slurm(String),
    /// A `--set` value outside its field's allowed range (names the field, the value, the range).
    #[error(transparent)]
    Parameter(#[from] crate::units::InvalidParameter),
    /// A semantic problem, named.
    #[error("{path}: {message}")]
    Invalid {
        /// The sweep file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl SweepError {
    /// Whether the sweep failed while running (a file that cannot be read or written, Slurm:
    /// exit status 1) rather than being a sweep, resume or merge the user can fix (exit status 2).
    pub fn is_runtime(&self) -> bool {
        match self {
            SweepError::Config(c) => c.is_runtime(),
            SweepError::File(_) | SweepError::Slurm(_) => true,
            SweepError::Run(_) | SweepError::Parameter(_) | SweepError::Invalid { .. } => false,
        }
    }
}

impl Sweep {
    /// Reads and validates the sweep file at `path`.
    pub fn load(path: &Path) -> Result<Self, SweepError> {
        Sweep::load_with(path, &[])
    }

    /// [`load`](Self::load) with the command's `--set path=value` items applied to the base
    /// scenario after the file's own `[sweep] set` (see [`from_text_with`](Self::from_text_with)).
    pub fn load_with(path: &Path, set: &[String]) -> Result<Self, SweepError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Sweep::from_text_with(text, path, set)
    }

    /// Parses and validates a sweep file's `text`, read from `path` (a `base = PATH` is
    /// relative to its directory; errors name it).
    pub fn from_text(text: String, path: &Path) -> Result<Self, SweepError> {
        Sweep::from_text_with(text, path, &[])
    }

    /// [`from_text`](Self::from_text) with the command's `--set` items applied to the base after
    /// the file's own `set`, checked as `qecnet link --set` checks them: the field must exist and
    /// take the value's type (`--set field=value: expected float`), a field a value sets must be
    /// in its allowed range (`channel.length_km = -5: must be ...`), and a swept field cannot be
    /// set (its axis replaces the value at every point).
    pub fn from_text_with(text: String, path: &Path, set: &[String]) -> Result<Self, SweepError> {
        let file: SweepFile = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().split_whitespace().collect::<Vec<_>>().join(" "),
        })?;
        let invalid = |message: String| SweepError::Invalid { path: path.to_owned(), message };
        let dir = path.parent().unwrap_or(Path::new("."));
        let base_text = match (&file.sweep.base, &file.base) {
            (Some(_), Some(_)) => {
                return Err(invalid("give either [sweep] base = PATH or a [base] table, not both".into()));
            }
            (Some(rel), None) => Some(BaseSource::File(dir.join(rel))),
            (None, Some(table)) => Some(BaseSource::Table(table.clone())),
            (None, None) => None,
        };
        let mut base = if file.sweep.kind.uses_mesh() {
            resolve_base::<crate::mesh::scenario::MeshScenario>(base_text, &invalid)?
        } else {
            resolve_base::<LinkScenario>(base_text, &invalid)?
        };
        for item in &file.sweep.set {
            apply_override(&mut base, item)?;
        }
        for item in set {
            apply_override(&mut base, item)?;
        }
        if !set.is_empty() {
            check_set_ranges(file.sweep.kind, &base, set)?;
        }
        if file.axis.is_empty() {
            return Err(invalid("no [[axis]]: a sweep needs at least one axis".into()));
        }
        if file.sweep.replicates == 0 {
            return Err(invalid("[sweep] replicates = 0: must be at least 1".into()));
        }
        let mut axes = Vec::new();
        let mut tasks = u64::from(file.sweep.replicates);
        for (i, spec) in file.axis.iter().enumerate() {
            let axis = resolve_axis(spec).map_err(|m| invalid(format!("axis {}: {m}", i + 1)))?;
            tasks = tasks.saturating_mul(axis.steps.len() as u64);
            if tasks > MAX_TASKS {
                return Err(invalid(format!(
                    "points × replicates = {}: must be at most {MAX_TASKS} (every row is kept in memory to \
                     sort the CSV: split the sweep)",
                    if tasks == u64::MAX { "more than 1.8e19".to_string() } else { tasks.to_string() }
                )));
            }
            for (f, field) in axis.fields.iter().enumerate() {
                let mut probe = base.clone();
                for step in &axis.steps {
                    apply_override(&mut probe, &format!("{field}={}", step[f]))?;
                }
            }
            axes.push(axis);
        }
        for item in set {
            let field = set_field(item);
            if let Some(i) = axes.iter().position(|a| a.fields.iter().any(|f| f == field)) {
                return Err(SweepError::Run(format!(
                    "--set {item}: {field} is swept by axis {} of {}, whose values replace it at every point; \
                     remove the --set or the axis",
                    i + 1,
                    path.display()
                )));
            }
        }
        let output = match &file.sweep.output {
            Some(p) => dir.join(p),
            None => PathBuf::from("datasets").join(format!("{}.csv", file.sweep.name)),
        };
        let models = if file.sweep.models.is_empty() {
            vec![KeyRateModel::Gllp, KeyRateModel::DecoyInfinite, KeyRateModel::DecoyVacuumWeak]
        } else {
            file.sweep.models.clone()
        };
        let sweep = Sweep {
            name: file.sweep.name,
            kind: file.sweep.kind,
            base,
            seed: file.sweep.seed,
            replicates: file.sweep.replicates,
            outputs: file.sweep.outputs,
            output,
            models,
            optimise: file.sweep.optimise,
            axes,
            source_text: text,
            command_set: set.to_vec(),
        };
        let known = figure_names::all_figure_names(sweep.kind, &sweep.models, sweep.optimise);
        figure_names::check_outputs(&sweep.outputs, &known).map_err(invalid)?;
        Ok(sweep)
    }

    /// Number of grid points (without replicates).
    pub fn points(&self) -> u64 {
        self.axes.iter().map(|a| a.steps.len() as u64).product()
    }

    /// The field assignments of point `index`: (field, value) for every axis field.
    pub fn assignments(&self, index: u64) -> Vec<(String, toml::Value)> {
        let mut rest = index;
        let mut picks = vec![0usize; self.axes.len()];
        for (i, axis) in self.axes.iter().enumerate().rev() {
            let n = axis.steps.len() as u64;
            picks[i] = (rest % n) as usize;
            rest /= n;
        }
        let mut out = Vec::new();
        for (axis, &pick) in self.axes.iter().zip(&picks) {
            for (field, value) in axis.fields.iter().zip(&axis.steps[pick]) {
                out.push((field.clone(), value.clone()));
            }
        }
        out
    }

    /// The swept fields, in column order.
    pub fn swept_fields(&self) -> Vec<String> {
        self.axes.iter().flat_map(|a| a.fields.iter().cloned()).collect()
    }

    /// A stable 64-bit fingerprint of the resolved sweep (FNV-1a over its canonical JSON), so
    /// shards of different sweeps or seeds are never merged.
    pub fn fingerprint(&self) -> u64 {
        let canonical = serde_json::to_string(self).expect("a sweep serialises");
        canonical.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
    }
}

/// The field of a `path=value` item (all of it when it has no `=`).
fn set_field(item: &str) -> &str {
    item.split_once('=').map_or(item, |(f, _)| f).trim()
}

/// The range check of `qecnet link --set` on a base that `set` changed: the typed scenario's
/// `validate`, whose first failure is reported when it names a field that `set` gave (a bad
/// field of the base itself is left to the points, whose axes may replace it).
fn check_set_ranges(kind: SweepKind, base: &toml::Value, set: &[String]) -> Result<(), SweepError> {
    let bad = |e: toml::de::Error| {
        SweepError::Config(ConfigError::Parse { path: PathBuf::from("--set"), message: one_line(&e.to_string()) })
    };
    let result = if kind.uses_mesh() {
        let scenario: crate::mesh::scenario::MeshScenario = base.clone().try_into().map_err(bad)?;
        scenario.validate().map(drop)
    } else {
        let scenario: LinkScenario = base.clone().try_into().map_err(bad)?;
        scenario.validate()
    };
    match result {
        Err(p) if set.iter().any(|item| set_field(item) == p.field) => Err(p.into()),
        _ => Ok(()),
    }
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where a sweep's base scenario comes from.
enum BaseSource {
    File(PathBuf),
    Table(toml::Table),
}

/// The base scenario of type `T`, fully defaulted, as a TOML value.
fn resolve_base<T>(
    source: Option<BaseSource>,
    invalid: &dyn Fn(String) -> SweepError,
) -> Result<toml::Value, SweepError>
where
    T: Serialize + serde::de::DeserializeOwned + Default,
{
    let base: T = match source {
        Some(BaseSource::File(path)) => crate::config::load(Some(&path), &[])?,
        Some(BaseSource::Table(table)) => toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| {
            invalid(format!("[base]: {}", e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")))
        })?,
        None => T::default(),
    };
    Ok(toml::Value::try_from(&base).expect("a scenario serialises"))
}

fn resolve_axis(spec: &AxisSpec) -> Result<Axis, String> {
    if let Some(parts) = &spec.zip {
        if spec.field.is_some() || spec.values.is_some() || spec.linspace.is_some() || spec.logspace.is_some() {
            return Err("a zip axis holds only `zip`".into());
        }
        let resolved: Vec<Axis> = parts.iter().map(resolve_axis).collect::<Result<_, _>>()?;
        let len = resolved.first().map(|a| a.steps.len()).ok_or("empty zip")?;
        if resolved.iter().any(|a| a.steps.len() != len) {
            return Err("zipped axes must have the same number of values".into());
        }
        let fields = resolved.iter().flat_map(|a| a.fields.clone()).collect();
        let steps = (0..len).map(|i| resolved.iter().flat_map(|a| a.steps[i].clone()).collect()).collect();
        return Ok(Axis { fields, steps });
    }
    let field = spec.field.clone().ok_or("missing `field`")?;
    let values: Vec<toml::Value> = match (&spec.values, spec.linspace, spec.logspace) {
        (Some(v), None, None) => v.clone(),
        (None, Some((a, b, n)), None) => spaced(a, b, n, false)?,
        (None, None, Some((a, b, n))) => {
            if a <= 0.0 || b <= 0.0 {
                return Err(format!("{field}: logspace bounds must be > 0"));
            }
            spaced(a, b, n, true)?
        }
        _ => return Err(format!("{field}: give exactly one of values, linspace, logspace")),
    };
    if values.is_empty() {
        return Err(format!("{field}: empty axis"));
    }
    Ok(Axis { fields: vec![field], steps: values.into_iter().map(|v| vec![v]).collect() })
}

/// The most (point, replicate) tasks a sweep may have, and so the most values of one axis.
pub const MAX_TASKS: u64 = 10_000_000;

/// `n` values from `a` to `b` inclusive, evenly or geometrically spaced.
fn spaced(a: f64, b: f64, n: usize, geometric: bool) -> Result<Vec<toml::Value>, String> {
    if n == 0 {
        return Err("empty axis (0 values)".into());
    }
    if n as u64 > MAX_TASKS {
        return Err(format!("{n} values: must be at most {MAX_TASKS} (the most points a sweep may have)"));
    }
    if !(a.is_finite() && b.is_finite()) {
        return Err(format!("bounds {a} and {b}: must be finite"));
    }
    Ok((0..n)
        .map(|i| {
            let t = if n == 1 { 0.0 } else { i as f64 / (n - 1) as f64 };
            let x = if geometric { a * (b / a).powf(t) } else { a + (b - a) * t };
            toml::Value::Float(x)
        })
        .collect())
}
