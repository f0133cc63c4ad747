//! Output files written atomically: into a temporary file beside the target, renamed into
//! place only when complete, and removed if anything fails, so no partial file is left.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A file being written; becomes visible at [`AtomicFile::commit`].
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `target` (through a temporary file in the same directory).
    pub fn create(target: &Path) -> Result<Self> {
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = target.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let file = File::create(&temp).map_err(|e| Error::io(target, e))?;
        Ok(AtomicFile { target: target.to_owned(), temp, writer: Some(BufWriter::new(file)) })
    }

    /// The writer.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.writer.as_mut().expect("writer present until commit")
    }

    /// Flushes and renames the file into place.
    pub fn commit(mut self) -> Result<()> {
        let writer = self.writer.take().expect("writer present until commit");
        let file = writer.into_inner().map_err(|e| Error::io(&self.target, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.target, e))?;
        std::fs::rename(&self.temp, &self.target).map_err(|e| Error::io(&self.target, e))
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.is_some() {
            self.writer = None;
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Maps a write error on `file` to the crate error.
pub fn write_err(file: &AtomicFile) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(file.target(), e)
}

/// Writes the whole of `contents` to `target` atomically.
pub fn write_atomically(target: &Path, contents: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let mut file = AtomicFile::create(target)?;
    contents(file.writer()).map_err(write_err(&file))?;
    file.commit()
}

/// Writes `text` to `target` atomically.
pub fn write_text_atomically(target: &Path, text: &str) -> Result<()> {
    write_atomically(target, |w| w.write_all(text.as_bytes()))
}
