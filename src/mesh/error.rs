//! [`MeshError`]: everything that can stop a mesh run, each message naming the file, field or
//! value involved.

use std::path::PathBuf;

use crate::atomic_file::{FileError, OutputClash};
use crate::config::ConfigError;
use crate::crypto::CryptoError;
use crate::lifecycle::LifecycleError;
use crate::mesh::des::PastSchedule;
use crate::units::InvalidParameter;

/// Result with the mesh's [`MeshError`].
pub type Result<T, E = MeshError> = std::result::Result<T, E>;

/// Why a mesh run (or its scenario) was refused or stopped.
///
/// Exit statuses (`qecnet mesh`): [`MeshError::File`] 1, [`MeshError::Interrupted`] 130,
/// [`MeshError::Lifecycle`] as the lifecycle's own errors, every other variant 2 (the
/// user's input).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MeshError {
    /// A scenario parameter outside its allowed range.
    #[error(transparent)]
    Invalid(#[from] InvalidParameter),
    /// A link's `set` override that cannot be applied.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A link's physics (defaults and overrides) that do not form a link config.
    #[error("{0}")]
    LinkConfig(String),
    /// A link that cannot produce secret key while the fallback is not allowed.
    #[error("link {link} ({length_km:.1} km) cannot produce secret key and mesh.fallback_allowed = false")]
    NoSecretKey {
        /// The link's id (`a-b`).
        link: String,
        /// Its length (km).
        length_km: f64,
    },
    /// A mesh CSV that exists while `--overwrite` is not given.
    #[error("{} already exists: pass --overwrite to replace the outputs of an earlier run, or another --db", path.display())]
    CsvExists {
        /// The CSV.
        path: PathBuf,
    },
    /// A file in a CSV output's place that is not a mesh CSV: never replaced.
    #[error(
        "{}: not a CSV of a qecnet mesh run (its first line is not `{header}`); refusing to replace it",
        path.display()
    )]
    NotMeshCsv {
        /// The file.
        path: PathBuf,
        /// The header the mesh's CSV would have.
        header: &'static str,
    },
    /// The store exists while `--overwrite` is not given.
    #[error("{} already exists: pass --overwrite or another --db", path.display())]
    StoreExists {
        /// The store.
        path: PathBuf,
    },
    /// Two outputs (or an output and the scenario) that are one file.
    #[error(transparent)]
    Clash(#[from] OutputClash),
    /// Reading or writing a file (a CSV, the operating system's entropy) failed.
    #[error(transparent)]
    File(#[from] FileError),
    /// The key-lifecycle engine, its store or its audit chain refused.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// Key material or the ML-KEM fallback exchange failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The two ends of the ML-KEM fallback derived different secrets.
    #[error("ML-KEM-1024 fallback: the two ends derived different secrets")]
    FallbackMismatch,
    /// An event scheduled in the simulated past.
    #[error(transparent)]
    Schedule(#[from] PastSchedule),
    /// A live mesh's snapshot (in a resumed store) that is not of this scenario.
    #[error(
        "cannot resume the live mesh of this store: {0}; serve the scenario it was served with, or use another --db"
    )]
    Resume(String),
    /// Stopped by the user (Ctrl-C, SIGTERM); the run's files were removed.
    #[error("interrupted at {simulated_s:.0} simulated s: the run's store and CSVs were removed")]
    Interrupted {
        /// Simulated time reached (s).
        simulated_s: f64,
    },
}

impl MeshError {
    /// Whether the run failed while running (a file, the store, the fallback exchange: exit
    /// status 1) rather than being refused for what the user asked (exit status 2).
    pub fn is_runtime(&self) -> bool {
        match self {
            MeshError::File(_) | MeshError::Crypto(_) | MeshError::FallbackMismatch | MeshError::Schedule(_) => true,
            MeshError::Config(c) => c.is_runtime(),
            MeshError::Lifecycle(l) => l.is_runtime(),
            _ => false,
        }
    }
}
