//! Runs the points of a sweep in parallel, deterministically.
//!
//! Each (point, replicate) gets the seed `derive_rng(sweep seed, [point, replicate])`, so its
//! result does not depend on the thread count or on which other points run. Finished rows are
//! appended to a partial file as they complete; when every point is done the rows are sorted
//! into the final CSV (written atomically) and the partial file is removed. An interrupted run
//! keeps the partial file, and `resume` finishes what is missing.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rand::Rng;
use rayon::prelude::*;

use crate::atomic_file::FileError;
use crate::config::apply_override;
use crate::sweep::figures;
use crate::sweep::spec::{Sweep, SweepError};
use crate::sweep::table::{self, Marker};

/// Which part of a sweep to run: shard `index` of `count` takes the points with
/// `point % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("--shard {s}: expected I/N, e.g. 0/4"))?;
        let (index, count): (u64, u64) = (
            i.parse().map_err(|_| format!("--shard {s}: I is not a number"))?,
            n.parse().map_err(|_| format!("--shard {s}: N is not a number"))?,
        );
        if count == 0 || index >= count {
            return Err(format!("--shard {s}: need 0 <= I < N"));
        }
        Ok(Shard { index, count })
    }
}

/// How to run a sweep.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only this shard.
    pub shard: Option<Shard>,
    /// Finish an interrupted run from its partial file.
    pub resume: bool,
    /// Where to write, instead of the sweep's `output`.
    pub output: Option<PathBuf>,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The CSV written (or the partial file, if interrupted).
    pub path: PathBuf,
    /// Rows in it.
    pub rows: u64,
    /// Rows recording a failed point.
    pub failed: u64,
    /// Whether the run stopped before finishing.
    pub interrupted: bool,
    /// Whether a valid, complete shard file was already there (nothing was run).
    pub already_done: bool,
}

/// The CSV a run of `sweep` with `options` writes.
pub fn output_path(sweep: &Sweep, options: &RunOptions) -> PathBuf {
    let out = options.output.clone().unwrap_or_else(|| sweep.output.clone());
    match options.shard {
        Some(s) => {
            let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            out.with_file_name(format!("{stem}.shard-{}-of-{}.csv", s.index, s.count))
        }
        None => out,
    }
}

/// The partial file beside `path` where an unfinished run keeps its rows.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// Runs `sweep`; `stop` ends it early (finished points are kept). `progress` is called with
/// (tasks done, tasks total) after each task.
pub fn run(
    sweep: &Sweep,
    options: &RunOptions,
    stop: &AtomicBool,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Outcome, SweepError> {
    let shard = options.shard.unwrap_or(Shard { index: 0, count: 1 });
    let marker = Marker::new(sweep, shard.index, shard.count);
    let header = table::header(sweep);
    let path = output_path(sweep, options);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| FileError::new(dir, e))?;
    }
    if options.shard.is_some()
        && let Ok(t) = table::read_table(&path)
        && t.marker == marker
        && t.header == header
        && t.rows.len() as u64 == shard_tasks(sweep, shard)
    {
        let failed = t.rows.values().filter(|l| !l.ends_with(',')).count() as u64;
        return Ok(Outcome { path, rows: t.rows.len() as u64, failed, interrupted: false, already_done: true });
    }
    let partial = partial_path(&path);
    let mut done = BTreeSet::new();
    if partial.exists() {
        if !options.resume {
            return Err(SweepError::Run(format!(
                "{} holds an unfinished run: pass --resume to finish it, or delete it to start over",
                partial.display()
            )));
        }
        let (t, torn) = table::read_partial(&partial).map_err(SweepError::Run)?;
        if t.marker != marker || t.header != header {
            return Err(SweepError::Run(format!(
                "{}: partial results of another sweep, seed or shard; delete it to start over",
                partial.display()
            )));
        }
        for (&(point, replicate), line) in &t.rows {
            let ours = point < sweep.points()
                && replicate < sweep.replicates
                && point % shard.count == shard.index
                && line.split(',').nth(2) == Some(point_seed(sweep, point, replicate).to_string().as_str());
            if !ours {
                return Err(SweepError::Run(format!(
                    "{}: the row of point {point} replicate {replicate} does not belong to this sweep; delete the file to start over",
                    partial.display()
                )));
            }
        }
        if let Some(len) = torn {
            // Killed between a row and its newline: the torn row is dropped and run again.
            let file = OpenOptions::new().write(true).open(&partial).map_err(|e| FileError::new(&partial, e))?;
            file.set_len(len).map_err(|e| FileError::new(&partial, e))?;
        }
        done.extend(t.rows.keys().copied());
    } else {
        crate::atomic_file::write_text_atomically(&partial, &format!("{}\n{header}\n", marker.line()))?;
    }
    let todo: Vec<(u64, u32)> = (shard.index..sweep.points())
        .step_by(shard.count as usize)
        .flat_map(|p| (0..sweep.replicates).map(move |r| (p, r)))
        .filter(|k| !done.contains(k))
        .collect();
    let total = todo.len() as u64 + done.len() as u64;
    let file = OpenOptions::new().append(true).open(&partial).map_err(|e| FileError::new(&partial, e))?;
    let sink = Mutex::new((file, done.len() as u64, None::<std::io::Error>));
    todo.par_iter().for_each(|&(point, replicate)| {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let line = evaluate_row(sweep, point, replicate);
        let mut guard = sink.lock().expect("no panic while holding the lock");
        let (file, count, error) = &mut *guard;
        if error.is_none() {
            // The row and its newline in one write, so a kill cannot separate them.
            match file.write_all(format!("{line}\n").as_bytes()) {
                Ok(()) => *count += 1,
                Err(e) => *error = Some(e),
            }
        }
        progress(*count, total);
    });
    let (_, _, error) = sink.into_inner().expect("lock not poisoned");
    if let Some(e) = error {
        return Err(FileError::new(&partial, e).into());
    }
    let (t, _) = table::read_partial(&partial).map_err(SweepError::Run)?;
    let failed = t.rows.values().filter(|l| !l.ends_with(',')).count() as u64;
    if (t.rows.len() as u64) < total {
        return Ok(Outcome {
            path: partial,
            rows: t.rows.len() as u64,
            failed,
            interrupted: true,
            already_done: false,
        });
    }
    let mut text = String::new();
    if options.shard.is_some() {
        text.push_str(&marker.line());
        text.push('\n');
    }
    text.push_str(&header);
    text.push('\n');
    for line in t.rows.values() {
        text.push_str(line);
        text.push('\n');
    }
    crate::atomic_file::write_text_atomically(&path, &text)?;
    std::fs::remove_file(&partial).map_err(|e| FileError::new(&partial, e))?;
    Ok(Outcome { path, rows: t.rows.len() as u64, failed, interrupted: false, already_done: false })
}

/// (point, replicate) tasks of `shard`.
pub fn shard_tasks(sweep: &Sweep, shard: Shard) -> u64 {
    (shard.index..sweep.points()).step_by(shard.count as usize).count() as u64 * sweep.replicates as u64
}

/// The seed of (point, replicate): 63 bits, so it fits a TOML integer.
pub fn point_seed(sweep: &Sweep, point: u64, replicate: u32) -> u64 {
    crate::rng::derive_rng(sweep.seed, &[point, replicate as u64]).next_u64() >> 1
}

/// The CSV row of one (point, replicate); a failure is recorded in its `error` column.
fn evaluate_row(sweep: &Sweep, point: u64, replicate: u32) -> String {
    let seed = point_seed(sweep, point, replicate);
    let assignments = sweep.assignments(point);
    let swept: Vec<String> = assignments.iter().map(|(_, v)| value_text(v)).collect();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut value = sweep.base.clone();
        for (field, v) in &assignments {
            apply_override(&mut value, &format!("{field}={v}")).map_err(|e| e.to_string())?;
        }
        figures::evaluate(sweep, value, seed, (point, replicate))
    }))
    .unwrap_or_else(|_| Err("internal error: the point panicked".into()));
    match result {
        Ok(figures) => table::row(point, replicate, seed, &swept, &figures, None),
        Err(e) => {
            let blanks = vec![String::new(); figures::figure_names(sweep).len()];
            table::row(point, replicate, seed, &swept, &blanks, Some(&e))
        }
    }
}

/// A swept value as a CSV cell.
fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Float(f) => f.to_string(),
        other => other.to_string(),
    }
}
