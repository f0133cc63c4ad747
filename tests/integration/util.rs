//! Helpers shared by the integration tests: a temporary directory that is removed on drop, and
//! one runner for the built `qecnet` binary.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh, empty directory under the system temp dir, removed (with its contents) on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory whose name holds `tag`, the process id, the time and a counter, so
    /// that no two directories of a test run (or of two test runs) share a name.
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "qecnet-{tag}-{}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    /// The names of the files in the directory, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// The directory as a `Path`, so `dir.join(..)`, `&dir` for a `&Path` and `dir.display()` work.
impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A command for the built `qecnet` binary, for tests that add arguments, environment, a
/// working directory or spawn it (cargo runs tests in the crate root, so `sims/...` resolves).
pub fn qecnet_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_qecnet"))
}

/// Runs `qecnet args...` to completion and returns its exit status and output.
pub fn qecnet<S: AsRef<OsStr>>(args: &[S]) -> Output {
    qecnet_command().args(args).output().expect("the qecnet binary runs")
}

/// Runs `qecnet args...` to completion in the working directory `dir`.
pub fn qecnet_in<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Output {
    qecnet_command().current_dir(dir).args(args).output().expect("the qecnet binary runs")
}

/// A finished run's exit code and output as text.
pub trait OutputText {
    /// The exit code, -1 if a signal ended the process.
    fn code(&self) -> i32;
    /// Standard output, lossily decoded.
    fn stdout_text(&self) -> String;
    /// Standard error, lossily decoded.
    fn stderr_text(&self) -> String;
    /// Standard output followed by standard error.
    fn text(&self) -> String {
        format!("{}{}", self.stdout_text(), self.stderr_text())
    }
    /// `(code, stdout, stderr)`.
    fn parts(&self) -> (i32, String, String) {
        (self.code(), self.stdout_text(), self.stderr_text())
    }
}

impl OutputText for Output {
    fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// The tables the mesh tests' scenarios share: 10⁶-bit blocks, no full mesh, a 1 GHz decoy
/// source (μ 0.5 / 0.1 / 0), a detector of 60 % efficiency, 10⁻⁸ dark counts and 1 %
/// misalignment, the hub named `hub`; each test adds its `[mesh]`, channel, nodes and links.
pub const MESH_TEST_TABLES: &str = r#"[postprocess]
block_size = 1e6
[topology]
full_mesh = false
[link_defaults.source]
repetition_rate_hz = 1e9
signal_intensity = 0.5
decoy_intensity = 0.1
vacuum_intensity = 0.0
signal_probability = 0.6
decoy_probability = 0.25
vacuum_probability = 0.15
z_basis_probability = 0.8
[link_defaults.detector]
efficiency = 0.6
dark_count_probability = 1e-8
misalignment = 0.01
z_basis_probability = 0.8
[hub]
name = "hub"
"#;
