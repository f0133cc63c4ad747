//! `qecnet sweep run|status` and `qecnet merge`: parameter sweeps, sharding and merging.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressStyle};

use crate::sweep::{RunOptions, Shard, Sweep, SweepError, table};
use crate::{Error, Result};

/// Set by Ctrl-C: finish the points in flight, keep every finished one, stop.
static STOP: AtomicBool = AtomicBool::new(false);

/// Arguments of `qecnet sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    #[command(subcommand)]
    command: SweepCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SweepCommand {
    /// Run every point of a sweep file (or one shard of them).
    Run {
        /// The sweep file.
        file: PathBuf,
        /// Run only shard I of N (points with index % N == I).
        #[arg(long, value_name = "I/N")]
        shard: Option<Shard>,
        /// Finish an interrupted run, keeping the points already done.
        #[arg(long)]
        resume: bool,
        /// Write the CSV here instead of the sweep's `output`.
        #[arg(long, value_name = "FILE.csv")]
        output: Option<PathBuf>,
    },
}

/// Arguments of `qecnet merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The merged CSV to write.
    pub output: PathBuf,
    /// The shard files.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
}

/// Runs `qecnet sweep`.
pub fn run(args: &SweepArgs) -> Result<()> {
    match &args.command {
        SweepCommand::Run { file, shard, resume, output } => {
            let sweep = Sweep::load(file)?;
            let options = RunOptions { shard: *shard, resume: *resume, output: output.clone() };
            let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} points  {per_sec}  ETA {eta}")
                    .expect("static template"),
            );
            let started = unix_now();
            let outcome = crate::sweep::run(&sweep, &options, &STOP, &|done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .map_err(SweepError::Run)?;
            bar.finish_and_clear();
            if outcome.interrupted {
                return Err(Error::Usage(format!(
                    "interrupted: {} rows kept in {}; run again with --resume to finish",
                    outcome.rows,
                    outcome.path.display()
                )));
            }
            if shard.is_none() {
                write_manifest(&sweep, &outcome.path, file, started, outcome.rows, outcome.failed)?;
            }
            eprintln!("wrote {} rows to {}", outcome.rows, outcome.path.display());
            if outcome.failed > 0 {
                return Err(Error::Usage(format!(
                    "{} of {} points failed (see the error column of {})",
                    outcome.failed,
                    outcome.rows,
                    outcome.path.display()
                )));
            }
            Ok(())
        }
    }
}

/// Runs `qecnet merge`.
pub fn merge(args: &MergeArgs) -> Result<()> {
    let paths: Vec<&std::path::Path> = args.shards.iter().map(PathBuf::as_path).collect();
    let text = table::merge(&paths).map_err(SweepError::Run)?;
    crate::output::write_text_atomically(&args.output, &text)?;
    eprintln!("merged {} shard files into {}", paths.len(), args.output.display());
    Ok(())
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Writes `OUT.manifest.json` beside the CSV: version, git commit, the sweep file, seed, times.
fn write_manifest(
    sweep: &Sweep,
    csv: &std::path::Path,
    file: &std::path::Path,
    started: f64,
    rows: u64,
    failed: u64,
) -> Result<()> {
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
    crate::output::write_text_atomically(&csv.with_file_name(name), &text)
}
