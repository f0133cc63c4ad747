//! Where a mesh run writes: the store and the CSVs ([`MeshOutputs`], checked before the run),
//! and the CSV writers of a running mesh, each a temporary file renamed into place only when
//! the run finishes.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::atomic_file::{AtomicFile, FileError};
use crate::mesh::error::{MeshError, Result};
use crate::units::SimTime;

/// Where a mesh run writes.
#[derive(Debug, Clone)]
pub struct MeshOutputs {
    /// The SQLite store (created; must not exist unless `overwrite`).
    pub db: PathBuf,
    /// Event trace CSV.
    pub trace: Option<PathBuf>,
    /// Per-link time series CSV (one row per link and refresh interval).
    pub timeseries: Option<PathBuf>,
    /// One row per converged rotation: first attempt's start, channel, kind, convergence from
    /// the first attempt, delayed by a crash, attempts, convergence from the successful one,
    /// and where its material came from.
    pub rotations: Option<PathBuf>,
    /// One row per monitoring window: the share of node pairs whose ACTIVE session key came
    /// directly from QKD, over a trusted-node relay path, from the ML-KEM-1024 fallback, from
    /// local material (a recovery's pre-staged re-key), or that have none.
    pub coverage: Option<PathBuf>,
    /// Replace an existing store and CSVs written by an earlier run (checked to be
    /// qecnet's, and the store not held by another writer) instead of refusing.
    pub overwrite: bool,
}

/// CSV headers of the mesh's outputs.
const TRACE_HEADER: &str = "time_s,subject,event,state,qber,buffer_bits,detail";
const TIMESERIES_HEADER: &str = "time_s,link,qber,sifted_bits,secret_bits,buffer_bits,mode";
const ROTATIONS_HEADER: &str =
    "start_s,channel,kind,convergence_ms,delayed_by_crash,attempts,convergence_from_success_ms,source";
const COVERAGE_HEADER: &str = "time_s,direct,relay,fallback,local,none";

impl MeshOutputs {
    /// The CSVs with their headers.
    fn csvs(&self) -> [(Option<&Path>, &'static str); 4] {
        [
            (self.trace.as_deref(), TRACE_HEADER),
            (self.timeseries.as_deref(), TIMESERIES_HEADER),
            (self.rotations.as_deref(), ROTATIONS_HEADER),
            (self.coverage.as_deref(), COVERAGE_HEADER),
        ]
    }

    /// Refuses, before anything runs, outputs that would replace a file: an existing CSV
    /// unless `overwrite` (and then only one with the mesh's own header), and two outputs
    /// (or an output and `scenario`) naming one file.
    pub fn check(&self, scenario: Option<&Path>) -> Result<()> {
        let mut outputs: Vec<(&str, &Path)> = vec![("the store", self.db.as_path())];
        for (path, header) in self.csvs() {
            let Some(path) = path else { continue };
            outputs.push(("a mesh CSV", path));
            if !path.exists() {
                continue;
            }
            if !self.overwrite {
                return Err(MeshError::CsvExists { path: path.to_path_buf() });
            }
            let first = std::fs::read_to_string(path).ok().and_then(|t| t.lines().next().map(str::to_owned));
            if std::fs::metadata(path).is_ok_and(|m| m.is_file()) && first.as_deref() != Some(header) {
                return Err(MeshError::NotMeshCsv { path: path.to_path_buf(), header });
            }
        }
        if self.db.exists() && !self.overwrite {
            return Err(MeshError::StoreExists { path: self.db.clone() });
        }
        let inputs: Vec<(&str, &Path)> = scenario.map(|p| ("scenario", p)).into_iter().collect();
        crate::atomic_file::check_distinct(&inputs, &outputs).map_err(Into::into)
    }
}

/// A CSV output with its header written, renamed into place when the run finishes.
fn csv_file(path: &Path, header: &str) -> Result<AtomicFile> {
    let mut file = AtomicFile::create(path)?;
    writeln!(file.writer(), "{header}").map_err(|e| FileError::new(path, e))?;
    Ok(file)
}

/// The CSVs of a running mesh (those asked for), with their headers written.
#[derive(Default)]
pub(super) struct CsvWriters {
    trace: Option<AtomicFile>,
    timeseries: Option<AtomicFile>,
    rotations: Option<AtomicFile>,
    coverage: Option<AtomicFile>,
}

impl CsvWriters {
    /// Starts the CSVs of `outputs`.
    pub(super) fn create(outputs: &MeshOutputs) -> Result<Self> {
        let [trace, timeseries, rotations, coverage] =
            outputs.csvs().map(|(path, header)| path.map(|p| csv_file(p, header)).transpose());
        let (trace, timeseries, rotations, coverage) = (trace?, timeseries?, rotations?, coverage?);
        Ok(CsvWriters { trace, timeseries, rotations, coverage })
    }

    /// One row of the event trace: at `now`, `subject` (a link or node) had `event` and is in
    /// `state`, with the link's QBER and buffer (bits) when they matter.
    pub(super) fn trace(
        &mut self,
        now: SimTime,
        subject: &str,
        event: &str,
        state: &str,
        (qber, buffer): (f64, u64),
        detail: &str,
    ) -> Result<()> {
        if let Some(w) = &mut self.trace {
            writeln!(
                w.writer(),
                "{},{},{},{},{},{},\"{}\"",
                now.as_secs_f64(),
                subject,
                event,
                state,
                qber,
                buffer,
                detail.replace('"', "'")
            )
            .map_err(|e| FileError::new("trace", e))?;
        }
        Ok(())
    }

    /// One row of the per-link time series (already formatted).
    pub(super) fn timeseries(&mut self, row: &str) -> Result<()> {
        if let Some(w) = &mut self.timeseries {
            writeln!(w.writer(), "{row}").map_err(|e| FileError::new("timeseries", e))?;
        }
        Ok(())
    }

    /// One converged rotation: first attempt at `started` on `channel`, converged after
    /// `from_first_ms` (and `from_success_ms` after its successful attempt, number `attempts`),
    /// its material from `source` (`direct`, `relay:n1+n3`, `fallback`, `local`).
    pub(super) fn rotation(
        &mut self,
        started: SimTime,
        (channel, kind, source): (&str, &str, &str),
        (from_first_ms, from_success_ms, attempts): (f64, f64, u32),
        delayed_by_crash: bool,
    ) -> Result<()> {
        if let Some(w) = &mut self.rotations {
            writeln!(
                w.writer(),
                "{},{channel},{kind},{from_first_ms},{delayed_by_crash},{attempts},{from_success_ms},{source}",
                started.as_secs_f64()
            )
            .map_err(|e| FileError::new("rotations", e))?;
        }
        Ok(())
    }

    /// Whether the coverage CSV was asked for.
    pub(super) fn has_coverage(&self) -> bool {
        self.coverage.is_some()
    }

    /// One row of the coverage CSV (already formatted).
    pub(super) fn coverage(&mut self, row: &str) -> Result<()> {
        if let Some(w) = &mut self.coverage {
            writeln!(w.writer(), "{row}").map_err(|e| FileError::new("coverage", e))?;
        }
        Ok(())
    }

    /// Renames every CSV into place.
    pub(super) fn commit(self) -> Result<()> {
        for csv in [self.trace, self.timeseries, self.rotations, self.coverage].into_iter().flatten() {
            csv.commit()?;
        }
        Ok(())
    }
}
