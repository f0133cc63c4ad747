//! `qecnet sweep run|status` and `qecnet merge`: parameter sweeps, sharding and merging.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

use crate::sweep::slurm::Submission;
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
        /// Override a field of the sweep's base scenario, after the file's own `set` (repeatable;
        /// a swept field cannot be set). A resumed run needs the same overrides.
        #[arg(long = "set", value_name = "path.field=value")]
        set: Vec<String>,
    },
    /// Submit a sweep to a cluster scheduler as a job array of shards plus a merge job.
    Submit {
        /// The sweep file.
        file: PathBuf,
        /// The scheduler.
        #[arg(long, value_enum, default_value = "slurm")]
        backend: Backend,
        /// Number of shards (array tasks).
        #[arg(long)]
        shards: u64,
        /// Run at most K array tasks at once.
        #[arg(long, value_name = "K")]
        max_parallel: Option<u64>,
        /// CPUs per array task (the threads each shard uses).
        #[arg(long, default_value = "1")]
        cpus_per_task: u32,
        /// Only these shards (e.g. `1,3-4`, as `sbatch --array=` takes them): resubmit failures.
        #[arg(long, value_name = "IDS")]
        array: Option<String>,
        /// The merged CSV (default: the sweep's `output`).
        #[arg(long, value_name = "FILE.csv")]
        output: Option<PathBuf>,
        /// Print the batch scripts instead of submitting.
        #[arg(long)]
        dry_run: bool,
        /// Extra arguments for sbatch, after `--`.
        #[arg(last = true)]
        extra: Vec<String>,
    },
    /// Which shards of a sharded run are done, from the files.
    Status {
        /// The sweep file.
        file: PathBuf,
        /// Number of shards.
        #[arg(long)]
        shards: u64,
        /// The merged CSV the shards belong to (default: the sweep's `output`).
        #[arg(long, value_name = "FILE.csv")]
        output: Option<PathBuf>,
    },
}

/// Cluster schedulers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// Slurm: `sbatch --array` plus an `afterok` merge job.
    Slurm,
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
        SweepCommand::Run { file, shard, resume, output, set } => {
            let options = RunOptions { shard: *shard, resume: *resume, output: output.clone() };
            let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} points  {per_sec}  ETA {eta}")
                    .expect("static template"),
            );
            let outcome = crate::api::run_sweep(file, set, &options, &STOP, &|done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })?
            .outcome;
            bar.finish_and_clear();
            if outcome.already_done {
                eprintln!("{} is already complete and valid: nothing to run", outcome.path.display());
                return Ok(());
            }
            if outcome.interrupted {
                return Err(Error::Interrupted(format!(
                    "interrupted: {} rows kept in {}; run again with --resume to finish",
                    outcome.rows,
                    outcome.path.display()
                )));
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
        SweepCommand::Submit {
            file,
            backend: Backend::Slurm,
            shards,
            max_parallel,
            cpus_per_task,
            array,
            output,
            dry_run,
            extra,
        } => {
            let sweep = Sweep::load(file)?;
            if *shards == 0 {
                return Err(Error::Usage("--shards 0: need at least 1".into()));
            }
            let ids = match array {
                Some(spec) => parse_ids(spec, *shards)?,
                None => (0..*shards).collect(),
            };
            let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
            let absolute = |p: &std::path::Path| if p.is_absolute() { p.to_owned() } else { cwd.join(p) };
            let submission = Submission {
                sweep_file: absolute(file),
                shards: *shards,
                array: ids,
                max_parallel: *max_parallel,
                cpus_per_task: *cpus_per_task,
                output: absolute(output.as_deref().unwrap_or(&sweep.output)),
                executable: std::env::current_exe().map_err(|e| Error::io("qecnet executable", e))?,
                extra: extra.clone(),
                workdir: cwd,
            };
            if *dry_run {
                println!("# sbatch --parsable --array={} {}", submission.array_spec(), extra.join(" "));
                print!("{}", submission.array_script(&sweep.name));
                println!("# sbatch --parsable --dependency=afterok:<array job id> {}", extra.join(" "));
                print!("{}", submission.merge_script(&sweep, &sweep.name));
                return Ok(());
            }
            let ids = submission.submit(&sweep).map_err(SweepError::Slurm)?;
            println!("array job {} ({} shards: --array={})", ids.array_job, shards, submission.array_spec());
            println!("merge job {} (afterok:{})", ids.merge_job, ids.array_job);
            println!("result: {}", submission.output.display());
            println!("logs: {}", submission.log_dir().display());
            Ok(())
        }
        SweepCommand::Status { file, shards, output } => {
            let sweep = Sweep::load(file)?;
            if *shards == 0 {
                return Err(Error::Usage("--shards 0: need at least 1".into()));
            }
            let mut missing = Vec::new();
            for i in 0..*shards {
                let shard = Shard { index: i, count: *shards };
                let options = RunOptions { shard: Some(shard), output: output.clone(), ..RunOptions::default() };
                let path = crate::sweep::runner::output_path(&sweep, &options);
                let expected = crate::sweep::runner::shard_tasks(&sweep, shard);
                let state = match table::read_table(&path) {
                    Ok(t) if t.rows.len() as u64 == expected && t.marker == table::Marker::new(&sweep, i, *shards) => {
                        format!("done ({} rows)", t.rows.len())
                    }
                    Ok(_) => {
                        missing.push(i);
                        "invalid (another sweep, or incomplete)".to_string()
                    }
                    Err(_) => {
                        missing.push(i);
                        match table::read_table(&crate::sweep::runner::partial_path(&path)) {
                            Ok(t) => format!("unfinished ({} of {expected} rows in the partial file)", t.rows.len()),
                            Err(_) => "not started".to_string(),
                        }
                    }
                };
                println!("shard {i}/{shards}: {state}  {}", path.display());
            }
            if missing.is_empty() {
                println!("all {shards} shards done: run `qecnet merge` (or let the merge job run)");
            } else {
                println!("{} shards to (re)submit: --array={}", missing.len(), table::array_spec(&missing));
            }
            Ok(())
        }
    }
}

/// Parses shard ids written as `sbatch --array=` takes them (`0,2-4`), each below `shards`.
fn parse_ids(spec: &str, shards: u64) -> Result<Vec<u64>> {
    let bad = || Error::Usage(format!("--array {spec}: expected ids like 0,2-4, each below --shards {shards}"));
    let mut ids = Vec::new();
    for part in spec.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (u64, u64) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
        if a > b || b >= shards {
            return Err(bad());
        }
        ids.extend(a..=b);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Runs `qecnet merge`.
pub fn merge(args: &MergeArgs) -> Result<()> {
    let paths: Vec<&std::path::Path> = args.shards.iter().map(PathBuf::as_path).collect();
    let inputs: Vec<(&str, &std::path::Path)> = paths.iter().map(|p| ("shard", *p)).collect();
    crate::atomic_file::check_distinct(&inputs, &[("the merged CSV", args.output.as_path())])?;
    let text = table::merge(&paths).map_err(SweepError::Run)?;
    crate::atomic_file::write_text_atomically(&args.output, &text)?;
    eprintln!("merged {} shard files into {}", paths.len(), args.output.display());
    Ok(())
}
