//! Why a chart could not be drawn or its data read: each error names the file or column.

use std::path::PathBuf;

use crate::atomic_file::FileError;

/// A failure of [`crate::plot`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// Writing a chart file failed.
    #[error(transparent)]
    File(#[from] FileError),
    /// The plotting backend refused to draw (`path: message`).
    #[error("{}: {message}", path.display())]
    Draw {
        /// The chart file being drawn.
        path: PathBuf,
        /// What the backend said.
        message: String,
    },
    /// A CSV that cannot be read or parsed (`path: message`).
    #[error("{}: {message}", path.display())]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// What the CSV reader said.
        message: String,
    },
    /// A column the chart needs is not in the CSV.
    #[error("no column `{name}`; columns: {}", columns.join(", "))]
    NoColumn {
        /// The missing column.
        name: String,
        /// The columns the CSV has.
        columns: Vec<String>,
    },
}

impl PlotError {
    /// Whether a file could not be written or a chart not drawn (exit status 1) rather than
    /// the data asked for not being there (exit status 2).
    pub fn is_runtime(&self) -> bool {
        matches!(self, PlotError::File(_) | PlotError::Draw { .. })
    }
}
