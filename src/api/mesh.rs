//! `qecnet mesh`: load and validate a mesh scenario (once), derive its outputs (the store and three CSVs beside it)
//! and run it.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::mesh::{MeshOutputs, MeshScenario, MeshSummary, ValidatedScenario, run_validated_mesh};
use crate::{Error, Result};

use super::Overrides;

/// A finished mesh run.
#[derive(Debug)]
pub struct MeshRun {
    /// The summary `qecnet mesh --json` prints.
    pub summary: MeshSummary,
    /// The files written.
    pub outputs: MeshOutputs,
}

/// Loads the mesh scenario at `path` with `overrides` and validates it, once: an error names
/// the field as the user wrote it (a `--set` path or a flag).
pub fn load_mesh_scenario(path: &Path, overrides: &Overrides) -> Result<ValidatedScenario> {
    let scenario: MeshScenario = overrides.load(Some(path))?;
    ValidatedScenario::new(scenario).map_err(|e| overrides.name(e))
}

/// Runs the mesh scenario at `path` with `overrides`, writing the store `db` (default
/// `datasets/mesh/<scenario>.db`) and its `-trace`, `-links` and `-rotations` CSVs beside it;
/// `overwrite` replaces an earlier run's files. `progress` gets (simulated s done, total);
/// `stop` ends the run with nothing left behind.
pub fn run_mesh_scenario(
    path: &Path,
    overrides: &Overrides,
    db: Option<PathBuf>,
    overwrite: bool,
    progress: &dyn Fn(f64, f64),
    stop: &AtomicBool,
) -> Result<MeshRun> {
    let valid = load_mesh_scenario(path, overrides)?;
    run_loaded_mesh_scenario(path, &valid, db, overwrite, progress, stop)
}

/// [`run_mesh_scenario`] on the scenario [`load_mesh_scenario`] loaded from `path` (which
/// names the default store and is never overwritten).
pub fn run_loaded_mesh_scenario(
    path: &Path,
    valid: &ValidatedScenario,
    db: Option<PathBuf>,
    overwrite: bool,
    progress: &dyn Fn(f64, f64),
    stop: &AtomicBool,
) -> Result<MeshRun> {
    // Validated before any directory or file is created.
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "mesh".into());
    let db = db.unwrap_or_else(|| PathBuf::from("datasets/mesh").join(format!("{stem}.db")));
    let db_stem = db.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let outputs = MeshOutputs {
        trace: Some(db.with_file_name(format!("{db_stem}-trace.csv"))),
        timeseries: Some(db.with_file_name(format!("{db_stem}-links.csv"))),
        rotations: Some(db.with_file_name(format!("{db_stem}-rotations.csv"))),
        coverage: Some(db.with_file_name(format!("{db_stem}-coverage.csv"))),
        db: db.clone(),
        overwrite,
    };
    outputs.check(Some(path))?;
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    // run_validated_mesh leaves nothing behind on failure or when stopped.
    let summary = run_validated_mesh(valid, &outputs, progress, stop)?;
    Ok(MeshRun { summary, outputs })
}
