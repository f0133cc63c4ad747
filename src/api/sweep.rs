//! `qecnet sweep run`: load a sweep file, refuse outputs that clash with it, run its points in
//! parallel and write the CSV with its manifest.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Result;
use crate::sweep::{Outcome, RunOptions, Sweep};

/// A sweep run: the sweep file as parsed and what the run did.
#[derive(Debug)]
pub struct SweepRun {
    /// The sweep.
    pub sweep: Sweep,
    /// The CSV written (or the partial file kept for `resume`, if stopped).
    pub outcome: Outcome,
}

/// Runs the sweep file `file`, its base scenario changed by the `--set path=value` items `set`
/// (checked as `qecnet link --set` checks them; see [`Sweep::load_with`]), with `options`; `stop` ends it early, keeping the finished points
/// in the partial file for a resumed run; `progress` gets (tasks done, tasks total). A finished
/// unsharded run also writes `OUT.manifest.json` beside the CSV.
pub fn run_sweep(
    file: &Path,
    set: &[String],
    options: &RunOptions,
    stop: &AtomicBool,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<SweepRun> {
    let sweep = Sweep::load_with(file, set)?;
    let csv = crate::sweep::output_path(&sweep, options);
    let partial = crate::sweep::partial_path(&csv);
    crate::atomic_file::check_distinct(
        &[("sweep", file)],
        &[("--output", csv.as_path()), ("its partial file", partial.as_path())],
    )?;
    let started = unix_now();
    let outcome = crate::sweep::run(&sweep, options, stop, progress)?;
    if options.shard.is_none() && !outcome.already_done && !outcome.interrupted {
        write_manifest(&sweep, &outcome.path, file, started, outcome.rows, outcome.failed)?;
    }
    Ok(SweepRun { sweep, outcome })
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Writes `OUT.manifest.json` beside the CSV: version, git commit, the sweep file and the
/// command's `--set` items, seed, times.
fn write_manifest(sweep: &Sweep, csv: &Path, file: &Path, started: f64, rows: u64, failed: u64) -> Result<()> {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let manifest = serde_json::json!({
        "qecnet_version": env!("CARGO_PKG_VERSION"),
        "git_commit": commit,
        "sweep_file": file.display().to_string(),
        "sweep_file_contents": sweep.source_text,
        "set": sweep.command_set,
        "seed": sweep.seed,
        "points": sweep.points(),
        "replicates": sweep.replicates,
        "rows": rows,
        "failed": failed,
        "started_unix_s": started,
        "finished_unix_s": unix_now(),
    });
    let mut name = csv.file_name().unwrap_or_default().to_os_string();
    name.push(".manifest.json");
    let text = serde_json::to_string_pretty(&manifest).expect("JSON serialises") + "\n";
    crate::atomic_file::write_text_atomically(&csv.with_file_name(name), &text).map_err(Into::into)
}
