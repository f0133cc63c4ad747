//! The crate's top-level error type: one variant per module's error, each with a message that
//! names the offending field or file, the value and what is allowed.

use std::path::PathBuf;

/// Any error qecnet reports to a user.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter outside its allowed range (names the field, the value and the range).
    #[error(transparent)]
    Invalid(#[from] crate::units::InvalidParameter),
    /// A scenario file or `--set` override that cannot be read or applied.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A sweep file that cannot be used, or a sweep that cannot run.
    #[error(transparent)]
    Sweep(#[from] crate::sweep::SweepError),
    /// The key-lifecycle engine, its store or its audit chain refused.
    #[error(transparent)]
    Lifecycle(#[from] crate::lifecycle::LifecycleError),
    /// A post-processing parameter or input out of range.
    #[error(transparent)]
    Postprocess(#[from] crate::postprocess::PostprocessError),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A chart that cannot be drawn or whose CSV cannot be read.
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
    /// An output that is also an input, or two outputs that are one file.
    #[error(transparent)]
    OutputClash(#[from] crate::atomic_file::OutputClash),
    /// A mesh run that was refused or stopped.
    #[error(transparent)]
    Mesh(#[from] crate::mesh::MeshError),
    /// The KMEs of `qecnet serve` (or `qecnet pki init`) could not start or go on.
    #[cfg(feature = "serve")]
    #[error(transparent)]
    Serve(#[from] crate::serve::ServeError),
    /// A command-line usage error that clap cannot express (conflicting options and the like).
    #[error("{0}")]
    Usage(String),
    /// Stopped by the user (Ctrl-C); the message says what was kept (exit status 130).
    #[error("{0}")]
    Interrupted(String),
}

impl From<crate::atomic_file::FileError> for Error {
    fn from(e: crate::atomic_file::FileError) -> Self {
        Error::Io { path: e.path, source: e.source }
    }
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether this failure happened while running (I/O, a store that will not open, a chart
    /// that cannot be drawn: exit status 1) rather than in what the user typed or named (exit
    /// status 2), as ripgrep separates them. An interruption is neither (exit status 130).
    pub fn is_runtime(&self) -> bool {
        match self {
            Error::Io { .. } => true,
            Error::Config(e) => e.is_runtime(),
            Error::Sweep(e) => e.is_runtime(),
            Error::Lifecycle(e) => e.is_runtime(),
            Error::Plot(e) => e.is_runtime(),
            Error::Mesh(e) => e.is_runtime(),
            #[cfg(feature = "serve")]
            Error::Serve(e) => e.is_runtime(),
            Error::Invalid(_)
            | Error::Postprocess(_)
            | Error::OutputClash(_)
            | Error::Usage(_)
            | Error::Interrupted(_) => false,
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
