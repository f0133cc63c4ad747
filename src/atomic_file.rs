//! Output files written atomically: into a temporary file beside the target, renamed into
//! place only when complete, and removed if anything fails, so no partial file is left.
//!
//! Only regular files are replaced that way. `-` is standard output; a target that exists
//! and is not a regular file (a device such as `/dev/null`, a FIFO) is written straight
//! to, never replaced; a symbolic link is followed, so the link stays and its target gets
//! the new contents. [`check_distinct`] refuses, before anything is written, an output that
//! is also an input or another output of the same command.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A file that could not be written or created: the path and what the operating system said.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct FileError {
    /// The file (or directory) involved.
    pub path: PathBuf,
    /// What the operating system said.
    #[source]
    pub source: std::io::Error,
}

impl FileError {
    /// Wraps `source` with the `path` it concerns.
    pub fn new(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FileError { path: path.into(), source }
    }
}

/// An output that is also an input, or two outputs that are one file: refused before anything
/// is written. The message names both options and paths.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OutputClash(String);

type Result<T, E = FileError> = std::result::Result<T, E>;

/// Where the bytes of an [`AtomicFile`] go.
enum Sink {
    /// A temporary file, renamed onto the (resolved) target at commit.
    Temp { temp: PathBuf, resolved: PathBuf, file: File },
    /// Something that is not a regular file: written in place.
    Direct(File),
    /// Standard output (`-`).
    Stdout(std::io::Stdout),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Temp { file, .. } | Sink::Direct(file) => file.write(buf),
            Sink::Stdout(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Temp { file, .. } | Sink::Direct(file) => file.flush(),
            Sink::Stdout(s) => s.flush(),
        }
    }
}

/// A file being written; becomes visible at [`AtomicFile::commit`].
pub struct AtomicFile {
    target: PathBuf,
    writer: Option<BufWriter<Sink>>,
}

/// Distinguishes the temporary files of one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl AtomicFile {
    /// Starts writing `target` (`-` for standard output).
    pub fn create(target: &Path) -> Result<Self> {
        let sink = if target.as_os_str() == "-" {
            Sink::Stdout(std::io::stdout())
        } else {
            match std::fs::metadata(target) {
                Ok(meta) if meta.is_dir() => {
                    return Err(FileError::new(target, std::io::Error::other("is a directory")));
                }
                Ok(meta) if !meta.is_file() => {
                    Sink::Direct(OpenOptions::new().write(true).open(target).map_err(|e| FileError::new(target, e))?)
                }
                // A regular file (through any symbolic links), or nothing yet.
                _ => {
                    let resolved = resolve_links(target).map_err(|e| FileError::new(target, e))?;
                    let (temp, file) = create_temp_beside(&resolved).map_err(|e| FileError::new(target, e))?;
                    Sink::Temp { temp, resolved, file }
                }
            }
        };
        Ok(AtomicFile { target: target.to_owned(), writer: Some(BufWriter::new(sink)) })
    }

    /// The writer.
    pub fn writer(&mut self) -> &mut impl Write {
        self.writer.as_mut().expect("writer present until commit")
    }

    /// Flushes and renames the file into place (a temporary file that cannot be renamed is
    /// removed).
    pub fn commit(mut self) -> Result<()> {
        let writer = self.writer.take().expect("writer present until commit");
        let target = self.target.clone();
        let sink = match writer.into_inner() {
            Ok(sink) => sink,
            Err(e) => {
                let (error, writer) = e.into_parts();
                remove_temp(writer.into_parts().0);
                return Err(FileError::new(&target, error));
            }
        };
        match sink {
            Sink::Temp { temp, resolved, file } => {
                let done = file.sync_all().and_then(|()| std::fs::rename(&temp, &resolved));
                if let Err(e) = done {
                    let _ = std::fs::remove_file(&temp);
                    return Err(FileError::new(&target, e));
                }
                Ok(())
            }
            Sink::Direct(mut file) => file.flush().map_err(|e| FileError::new(&target, e)),
            Sink::Stdout(mut out) => out.flush().map_err(|e| FileError::new("<stdout>", e)),
        }
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }
}

fn remove_temp(sink: Sink) {
    if let Sink::Temp { temp, file, .. } = sink {
        drop(file);
        let _ = std::fs::remove_file(temp);
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            // Not committed: the temporary file goes, the target is untouched.
            let (sink, _) = writer.into_parts();
            remove_temp(sink);
        }
    }
}

/// `path` with every symbolic link along it followed (the file itself need not exist).
fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

/// A new temporary file in the directory of `target`, created exclusively (never an
/// existing file or link of that name).
fn create_temp_beside(target: &Path) -> std::io::Result<(PathBuf, File)> {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    loop {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = target.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Maps a write error on `file` to a [`FileError`] naming it.
pub fn write_err(file: &AtomicFile) -> impl Fn(std::io::Error) -> FileError + '_ {
    move |e| FileError::new(file.target(), e)
}

/// Writes the whole of `contents` to `target` atomically.
pub fn write_atomically(target: &Path, contents: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let mut file = AtomicFile::create(target)?;
    let writer: &mut dyn Write = file.writer.as_mut().expect("writer present until commit");
    contents(writer).map_err(write_err(&file))?;
    file.commit()
}

/// Writes `text` to `target` atomically.
pub fn write_text_atomically(target: &Path, text: &str) -> Result<()> {
    write_atomically(target, |w| w.write_all(text.as_bytes()))
}

/// A directory of this process's own under the system's temporary directory, created
/// exclusively (never one that already exists) and removed with its contents on drop, also
/// when the code using it fails or panics.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A new empty directory whose name starts with `prefix`.
    pub fn new(prefix: &str) -> Result<Self> {
        let base = std::env::temp_dir();
        loop {
            let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = base.join(format!("{prefix}-{}-{n}", std::process::id()));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(ScratchDir(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(FileError::new(dir, e)),
            }
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A path's identity for comparison: the file's device and inode when it exists (so hard
/// and symbolic links to one file compare equal), else its absolute, link-free spelling.
#[derive(Debug, PartialEq, Eq)]
enum FileIdentity {
    Inode(u64, u64),
    Path(PathBuf),
}

fn identity(path: &Path) -> Option<FileIdentity> {
    if path.as_os_str() == "-" {
        return None;
    }
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::MetadataExt;
        if !meta.is_file() {
            return None; // devices and FIFOs may be named by several outputs
        }
        return Some(FileIdentity::Inode(meta.dev(), meta.ino()));
    }
    let resolved = resolve_links(path).unwrap_or_else(|_| path.to_path_buf());
    let absolute = std::path::absolute(&resolved).unwrap_or(resolved);
    let parent = absolute.parent().and_then(|p| p.canonicalize().ok());
    Some(FileIdentity::Path(match (parent, absolute.file_name()) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => absolute,
    }))
}

/// Refuses, before anything is written, an output that is also one of the `inputs` or
/// another of the `outputs` (each given with the option that names it, e.g.
/// `("--records", path)`): writing it would replace what the command reads, or two outputs
/// would garble one file. Standard output and devices are not compared.
pub fn check_distinct(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<(), OutputClash> {
    let ids: Vec<(&str, &Path, Option<FileIdentity>)> =
        outputs.iter().map(|&(option, path)| (option, path, identity(path))).collect();
    for (i, (option, path, id)) in ids.iter().enumerate() {
        let Some(id) = id else { continue };
        for &(input_option, input) in inputs {
            if identity(input).as_ref() == Some(id) {
                return Err(OutputClash(format!(
                    "{option} {}: is the {input_option} file {}; refusing to overwrite an input",
                    path.display(),
                    input.display()
                )));
            }
        }
        for (other_option, other, other_id) in &ids[..i] {
            if other_id.as_ref() == Some(id) {
                return Err(OutputClash(format!(
                    "{option} {} and {other_option} {} are the same file; give each output its own path",
                    path.display(),
                    other.display()
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("qecnet-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_symbolic_link_is_followed_and_kept() {
        let dir = scratch("link");
        std::fs::write(dir.join("real.csv"), "old").unwrap();
        std::os::unix::fs::symlink("real.csv", dir.join("link.csv")).unwrap();
        write_text_atomically(&dir.join("link.csv"), "new").unwrap();
        assert!(std::fs::symlink_metadata(dir.join("link.csv")).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(dir.join("real.csv")).unwrap(), "new");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2, "no temporary file left");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_device_is_written_in_place_not_replaced() {
        write_text_atomically(Path::new("/dev/null"), "discarded").unwrap();
        let meta = std::fs::metadata("/dev/null").unwrap();
        assert!(!meta.is_file(), "/dev/null is still a device");
        let full = write_text_atomically(Path::new("/dev/full"), &"x".repeat(1 << 16));
        assert!(full.is_err(), "a full device reports its error");
        assert!(!std::fs::metadata("/dev/full").unwrap().is_file());
    }

    #[test]
    fn an_uncommitted_or_failed_file_leaves_nothing() {
        let dir = scratch("fail");
        let target = dir.join("out.csv");
        let mut f = AtomicFile::create(&target).unwrap();
        writeln!(f.writer(), "partial").unwrap();
        drop(f);
        // A rename that cannot happen: the target became a non-empty directory meanwhile.
        let mut f = AtomicFile::create(&dir.join("taken")).unwrap();
        writeln!(f.writer(), "complete").unwrap();
        std::fs::create_dir_all(dir.join("taken/inner")).unwrap();
        assert!(f.commit().is_err());
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("taken")], "{left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_output_equal_to_an_input_or_another_output_is_refused() {
        let dir = scratch("distinct");
        let cfg = dir.join("cfg.toml");
        std::fs::write(&cfg, "").unwrap();
        std::fs::hard_link(&cfg, dir.join("hard.toml")).unwrap();
        let e = check_distinct(&[("--config", &cfg)], &[("--records", &dir.join("hard.toml"))]).unwrap_err();
        assert!(e.to_string().contains("refusing to overwrite an input"), "{e}");
        let a = dir.join("x.csv");
        let b = dir.join("sub/../x.csv");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let e = check_distinct(&[], &[("--records", &a), ("--qber-stream", &b)]).unwrap_err();
        assert!(e.to_string().contains("are the same file"), "{e}");
        check_distinct(&[("--config", &cfg)], &[("--records", Path::new("-")), ("--blocks", Path::new("-"))]).unwrap();
        check_distinct(&[("--config", &cfg)], &[("--records", &a), ("--blocks", &dir.join("y.csv"))]).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
