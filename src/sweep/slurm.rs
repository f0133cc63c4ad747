//! Running a sweep as a Slurm job array: one array task per shard (`qecnet sweep run
//! --shard $SLURM_ARRAY_TASK_ID/N`), then a merge job that depends on all of them
//! (`--dependency=afterok`). The real scheduler does the scheduling; this module writes the
//! batch scripts and calls `sbatch`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::sweep::runner::{RunOptions, Shard, output_path};
use crate::sweep::spec::Sweep;

/// What to submit.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The sweep file (absolute).
    pub sweep_file: PathBuf,
    /// Number of shards.
    pub shards: u64,
    /// The shards to run: all, or a subset to resubmit.
    pub array: Vec<u64>,
    /// At most this many array tasks at once (`%K`).
    pub max_parallel: Option<u64>,
    /// CPUs per task.
    pub cpus_per_task: u32,
    /// The merged CSV (absolute).
    pub output: PathBuf,
    /// The qecnet executable the jobs run.
    pub executable: PathBuf,
    /// Extra `sbatch` arguments, for both jobs.
    pub extra: Vec<String>,
    /// Working directory of the jobs.
    pub workdir: PathBuf,
}

/// Job ids of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The array job.
    pub array_job: String,
    /// The merge job.
    pub merge_job: String,
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

impl Submission {
    /// The shard file of shard `i`.
    pub fn shard_file(&self, sweep: &Sweep, i: u64) -> PathBuf {
        let options = RunOptions {
            shard: Some(Shard { index: i, count: self.shards }),
            output: Some(self.output.clone()),
            ..RunOptions::default()
        };
        output_path(sweep, &options)
    }

    /// Directory of the jobs' logs.
    pub fn log_dir(&self) -> PathBuf {
        self.output.parent().unwrap_or(Path::new(".")).join("slurm-logs")
    }

    /// `--array=` value: the shards, with `%K` when limited.
    pub fn array_spec(&self) -> String {
        let ids = crate::sweep::table::array_spec(&self.array);
        match self.max_parallel {
            Some(k) => format!("{ids}%{k}"),
            None => ids,
        }
    }

    /// The array job's batch script.
    pub fn array_script(&self, name: &str) -> String {
        format!(
            "#!/bin/bash\n#SBATCH --job-name=qecnet-{name}\n#SBATCH --cpus-per-task={cpus}\n#SBATCH --output={logs}/{name}-%A_%a.log\n#SBATCH --chdir={dir}\nset -euo pipefail\nexec {exe} sweep run {sweep} --shard \"${{SLURM_ARRAY_TASK_ID}}/{n}\" --resume --output {out}\n",
            cpus = self.cpus_per_task,
            logs = self.log_dir().display(),
            dir = self.workdir.display(),
            exe = quote(&self.executable),
            sweep = quote(&self.sweep_file),
            n = self.shards,
            out = quote(&self.output),
        )
    }

    /// The merge job's batch script.
    pub fn merge_script(&self, sweep: &Sweep, name: &str) -> String {
        let shards: Vec<String> = (0..self.shards).map(|i| quote(&self.shard_file(sweep, i))).collect();
        format!(
            "#!/bin/bash\n#SBATCH --job-name=qecnet-{name}-merge\n#SBATCH --cpus-per-task=1\n#SBATCH --output={logs}/{name}-merge-%j.log\n#SBATCH --chdir={dir}\nset -euo pipefail\nexec {exe} merge {out} {shards}\n",
            logs = self.log_dir().display(),
            dir = self.workdir.display(),
            exe = quote(&self.executable),
            out = quote(&self.output),
            shards = shards.join(" "),
        )
    }

    /// Submits the array and the merge job; returns their ids.
    pub fn submit(&self, sweep: &Sweep) -> Result<Submitted, String> {
        std::fs::create_dir_all(self.log_dir()).map_err(|e| format!("{}: {e}", self.log_dir().display()))?;
        let array_args = vec!["--parsable".to_string(), format!("--array={}", self.array_spec())];
        let array_job = sbatch(&array_args, &self.extra, &self.array_script(&sweep.name))?;
        let merge_args = vec!["--parsable".to_string(), format!("--dependency=afterok:{array_job}")];
        let merge_job = sbatch(&merge_args, &self.extra, &self.merge_script(sweep, &sweep.name))?;
        Ok(Submitted { array_job, merge_job })
    }
}

/// Runs `sbatch ARGS EXTRA` with `script` on its standard input; returns the job id.
fn sbatch(args: &[String], extra: &[String], script: &str) -> Result<String, String> {
    let mut child = Command::new("sbatch")
        .args(args)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run sbatch (is Slurm installed and on PATH?): {e}"))?;
    child.stdin.take().expect("piped").write_all(script.as_bytes()).map_err(|e| format!("sbatch: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("sbatch: {e}"))?;
    if !out.status.success() {
        return Err(format!("sbatch failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text.trim().split(';').next().unwrap_or_default().to_owned();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("sbatch printed no job id: `{}`", text.trim()));
    }
    Ok(id)
}
