//! `qecnet._native`: the Python binding of the qecnet library. Each function is one command of
//! the `qecnet` CLI over the same library function ([`qecnet::api`]), returning what its
//! `--json` prints (as JSON text, which `qecnet/__init__.py` parses) or its CSV rows. Bad input
//! raises `qecnet.QecnetError` (a `ValueError`) with the CLI's message; long calls run without
//! the GIL and stop on Ctrl-C (see `interruptible.rs`).

mod interruptible;
mod scenario_cache;

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use qecnet::api::{self, Overrides, toml_float};
use qecnet::photonics::{LinkEngine, LinkObserver};
use qecnet::postprocess::KeyRateModel;
use qecnet::postprocess::cascade::CascadeVariant;

use interruptible::Control;

create_exception!(
    qecnet,
    QecnetError,
    PyValueError,
    "Bad input or a failed run; the message is the qecnet CLI's, naming the field, the value and the allowed range."
);

/// A qecnet error as a Python exception (`KeyboardInterrupt` when the run was stopped).
fn to_py(e: qecnet::Error) -> PyErr {
    QecnetError::new_err(e.to_string())
}

/// Parses a value-enum keyword (`engine="event"`), naming the keyword and the choices.
fn choice<T: ValueEnum>(keyword: &str, value: &str) -> PyResult<T> {
    T::from_str(value, false).map_err(|_| {
        let names: Vec<String> =
            T::value_variants().iter().filter_map(|v| v.to_possible_value()).map(|p| p.get_name().to_owned()).collect();
        QecnetError::new_err(format!("{keyword} = {value:?}: must be one of {}", names.join(", ")))
    })
}

/// Progress of a link simulation into the shared counters; stops when asked.
struct LinkProgress<'a>(&'a Control);

impl LinkObserver for LinkProgress<'_> {
    fn progress(&mut self, done: u64, total: u64) {
        self.0.progress(done, total);
    }

    fn cancelled(&self) -> bool {
        self.0.stop.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// `qecnet link --json`: returns (the JSON object as text, the per-block QBER stream).
#[pyfunction]
#[pyo3(signature = (config, set, engine, pulses, seed, postprocess, reconciler, progress))]
#[allow(clippy::too_many_arguments)]
fn simulate_link(
    py: Python<'_>,
    config: Option<PathBuf>,
    set: Vec<String>,
    engine: Option<String>,
    pulses: Option<u64>,
    seed: Option<u64>,
    postprocess: bool,
    reconciler: Option<String>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<(String, Vec<f64>)> {
    let mut overrides = Overrides::new(&set);
    let engine = engine.map(|e| choice::<LinkEngine>("engine", &e)).transpose()?;
    overrides.flag("engine", "simulation.engine", engine.map(|e| format!("\"{}\"", e.name())));
    overrides.flag("pulses", "simulation.pulses", pulses.map(|n| n.to_string()));
    overrides.flag("seed", "simulation.seed", seed.map(|n| n.to_string()));
    let variant = match (postprocess, reconciler) {
        (false, _) => None,
        (true, None) => Some(qecnet::postprocess::DEFAULT_RECONCILER),
        (true, Some(name)) => Some(choice::<CascadeVariant>("reconciler", name.trim_start_matches("cascade-"))?),
    };
    let scenario = api::load_link_scenario(config.as_deref(), &overrides).map_err(to_py)?;
    let outcome = interruptible::run(py, None, progress.as_ref(), |control| {
        api::run_link(&scenario.link(), &scenario.postprocess, variant.map(Into::into), &mut LinkProgress(control))
    })?
    .map_err(to_py)?;
    let stream = outcome.run.qber_blocks.iter().map(|b| b.qber()).collect();
    Ok((outcome.to_json(), stream))
}

/// The key-rate scenario: the file (or the built-in GYS link) with the keyword overrides,
/// parsed once per file version (see `scenario_cache.rs`).
fn keyrate_scenario(
    config: Option<&Path>,
    set: &[String],
    distance_km: Option<f64>,
    mu: Option<f64>,
    nu: Option<f64>,
    block_size: Option<u64>,
) -> PyResult<qecnet::link_scenario::LinkScenario> {
    let options = scenario_cache::KeyRateOptions { distance_km, mu, nu, block_size };
    scenario_cache::key_rate_scenario(config, set, options).map_err(to_py)
}

/// `qecnet keyrate --json` at one distance (with `--max-distance` when `max_distance`).
#[pyfunction]
#[pyo3(signature = (model, config, set, distance_km, mu, nu, block_size, qber, optimise, max_distance))]
#[allow(clippy::too_many_arguments)]
fn key_rate(
    py: Python<'_>,
    model: &str,
    config: Option<PathBuf>,
    set: Vec<String>,
    distance_km: Option<f64>,
    mu: Option<f64>,
    nu: Option<f64>,
    block_size: Option<u64>,
    qber: Option<f64>,
    optimise: bool,
    max_distance: bool,
) -> PyResult<String> {
    let model = choice::<KeyRateModel>("model", model)?;
    let scenario = keyrate_scenario(config.as_deref(), &set, distance_km, mu, nu, block_size)?;
    let report = if optimise || max_distance {
        interruptible::run(py, None, None, |_| api::key_rate_report(model, &scenario, qber, optimise, max_distance))?
    } else {
        api::key_rate_report(model, &scenario, qber, false, false)
    }
    .map_err(to_py)?;
    Ok(serde_json::to_string(&report).expect("the report serialises"))
}

/// `qecnet keyrate --json` at every distance of `distances_km`, in parallel: a dict of columns
/// (each key of the JSON object with one value per distance; `model` once).
#[pyfunction]
#[pyo3(signature = (model, config, set, distances_km, mu, nu, block_size, qber, optimise))]
#[allow(clippy::too_many_arguments)]
fn key_rates<'py>(
    py: Python<'py>,
    model: &str,
    config: Option<PathBuf>,
    set: Vec<String>,
    distances_km: Vec<f64>,
    mu: Option<f64>,
    nu: Option<f64>,
    block_size: Option<u64>,
    qber: Option<f64>,
    optimise: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let model = choice::<KeyRateModel>("model", model)?;
    let scenario = keyrate_scenario(config.as_deref(), &set, None, mu, nu, block_size)?;
    let reports = interruptible::run(py, None, None, |_| {
        api::key_rate_at_distances(model, &scenario, qber, optimise, &distances_km)
    })?
    .map_err(to_py)?;
    let n = reports.len();
    let mut columns: [(&str, Vec<f64>); 8] = [
        ("distance_km", Vec::with_capacity(n)),
        ("mu", Vec::with_capacity(n)),
        ("nu", Vec::with_capacity(n)),
        ("z_basis_probability", Vec::with_capacity(n)),
        ("rate_per_pulse", Vec::with_capacity(n)),
        ("rate_bps", Vec::with_capacity(n)),
        ("qber", Vec::with_capacity(n)),
        ("single_photon_yield", Vec::with_capacity(n)),
    ];
    let mut single_photon_error = Vec::with_capacity(n);
    for r in &reports {
        let values = [
            r.distance_km,
            r.mu,
            r.nu,
            r.z_basis_probability,
            r.rate.rate_per_pulse,
            r.rate.rate_bps,
            r.rate.qber,
            r.rate.single_photon_yield,
        ];
        for ((_, column), v) in columns.iter_mut().zip(values) {
            column.push(v);
        }
        single_photon_error.push(r.rate.single_photon_error);
    }
    let out = PyDict::new(py);
    out.set_item("model", serde_json::to_value(model).expect("serialises").as_str().unwrap_or_default())?;
    for (name, column) in columns {
        out.set_item(name, column)?;
    }
    out.set_item("single_photon_error", single_photon_error)?;
    Ok(out)
}

/// `qecnet sweep run FILE [--set ...]`: returns the CSV written, its failed rows and whether it
/// was already complete.
#[pyfunction]
#[pyo3(signature = (path, set, threads, output, resume, progress))]
#[allow(clippy::too_many_arguments)]
fn sweep(
    py: Python<'_>,
    path: PathBuf,
    set: Vec<String>,
    threads: Option<usize>,
    output: Option<PathBuf>,
    resume: bool,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<(PathBuf, u64, bool)> {
    let options = qecnet::sweep::RunOptions { shard: None, resume, output };
    let run = interruptible::run(py, threads, progress.as_ref(), |control| {
        api::run_sweep(&path, &set, &options, &control.stop, &|done, total| control.progress(done, total))
    })?
    .map_err(to_py)?;
    let o = run.outcome;
    if o.interrupted {
        return Err(QecnetError::new_err(format!(
            "interrupted: {} rows kept in {}; run again with resume=True to finish",
            o.rows,
            o.path.display()
        )));
    }
    Ok((o.path, o.failed, o.already_done))
}

/// `qecnet mesh SCENARIO --json`: returns (the summary as JSON text, the files written).
#[pyfunction]
#[pyo3(signature = (scenario, set, duration, db, seed, overwrite, progress))]
#[allow(clippy::too_many_arguments)]
fn mesh<'py>(
    py: Python<'py>,
    scenario: PathBuf,
    set: Vec<String>,
    duration: Option<String>,
    db: Option<PathBuf>,
    seed: Option<u64>,
    overwrite: bool,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<(String, Bound<'py, PyDict>)> {
    let mut overrides = Overrides::new(&set);
    let duration = duration
        .map(|d| {
            qecnet::units::parse_duration_s(&d).map_err(|e| QecnetError::new_err(format!("duration = {d:?}: {e}")))
        })
        .transpose()?;
    overrides.flag("duration", "mesh.duration", duration.map(toml_float));
    overrides.flag("seed", "mesh.seed", seed.map(|s| s.to_string()));
    let run = interruptible::run(py, None, progress.as_ref(), |control| {
        api::run_mesh_scenario(
            &scenario,
            &overrides,
            db,
            overwrite,
            &|done, total| control.progress(done as u64, total as u64),
            &control.stop,
        )
    })?
    .map_err(to_py)?;
    let files = PyDict::new(py);
    files.set_item("db", &run.outputs.db)?;
    files.set_item("trace", &run.outputs.trace)?;
    files.set_item("links", &run.outputs.timeseries)?;
    files.set_item("rotations", &run.outputs.rotations)?;
    Ok((serde_json::to_string(&run.summary).expect("the summary serialises"), files))
}

/// `qecnet audit verify DB --json`: the verdict as JSON text.
#[pyfunction]
#[pyo3(signature = (db, pins, known_head))]
fn audit_verify(py: Python<'_>, db: PathBuf, pins: Vec<String>, known_head: Option<String>) -> PyResult<String> {
    let verdict = interruptible::run(py, None, None, |_| api::verify_store(&db, &pins, known_head.as_deref()))?
        .map_err(|e| to_py(e.into()))?;
    Ok(api::verdict_json(&verdict).to_string())
}

/// `qecnet cascade-study`: the CSV text of the rows.
#[pyfunction]
#[pyo3(signature = (qber, block_size, runs, variants, biconf, seed, progress))]
#[allow(clippy::too_many_arguments)]
fn cascade_study(
    py: Python<'_>,
    qber: Vec<f64>,
    block_size: u64,
    runs: u64,
    variants: Vec<String>,
    biconf: Option<u32>,
    seed: u64,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    let variants =
        variants.iter().map(|v| choice::<CascadeVariant>("variant", v)).collect::<PyResult<Vec<CascadeVariant>>>()?;
    let rows = interruptible::run(py, None, progress.as_ref(), |control| {
        api::cascade_study(
            &qber,
            block_size,
            runs,
            &variants,
            biconf,
            seed,
            &|done, total| control.progress(done, total),
            &control.stop,
        )
    })?
    .map_err(to_py)?;
    let mut text = Vec::new();
    api::write_study_csv(&rows, &mut text).map_err(|e| QecnetError::new_err(e.to_string()))?;
    Ok(String::from_utf8(text).expect("CSV is UTF-8"))
}

/// `qecnet reconcile-study`: the CSV text of the rows of `variants` then `reconcilers`.
#[pyfunction]
#[pyo3(signature = (qber, block_size, runs, variants, reconcilers, biconf, seed, progress))]
#[allow(clippy::too_many_arguments)]
fn reconcile_study(
    py: Python<'_>,
    qber: Vec<f64>,
    block_size: u64,
    runs: u64,
    variants: Vec<String>,
    reconcilers: Vec<String>,
    biconf: Option<u32>,
    seed: u64,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    let mut chosen: Vec<qecnet::postprocess::Reconciliation> =
        variants.iter().map(|v| choice::<CascadeVariant>("variant", v).map(Into::into)).collect::<PyResult<_>>()?;
    for name in &reconcilers {
        let r = api::reconciliation_named(name)
            .ok_or_else(|| QecnetError::new_err(format!("reconciler = {name:?}: not a reconciler name")))?;
        chosen.push(r);
    }
    let rows = interruptible::run(py, None, progress.as_ref(), |control| {
        api::reconcile_study(
            &qber,
            block_size,
            runs,
            &chosen,
            biconf,
            seed,
            &|done, total| control.progress(done, total),
            &control.stop,
        )
    })?
    .map_err(to_py)?;
    let mut text = Vec::new();
    api::write_study_csv(&rows, &mut text).map_err(|e| QecnetError::new_err(e.to_string()))?;
    Ok(String::from_utf8(text).expect("CSV is UTF-8"))
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("QecnetError", m.py().get_type::<QecnetError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(simulate_link, m)?)?;
    m.add_function(wrap_pyfunction!(key_rate, m)?)?;
    m.add_function(wrap_pyfunction!(key_rates, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(mesh, m)?)?;
    m.add_function(wrap_pyfunction!(audit_verify, m)?)?;
    m.add_function(wrap_pyfunction!(cascade_study, m)?)?;
    m.add_function(wrap_pyfunction!(reconcile_study, m)?)?;
    Ok(())
}
