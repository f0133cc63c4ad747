//! The `qecnet` command line: raw arguments parsed by clap, resolved into a scenario, run, and
//! reported. Errors print one line to stderr and exit non-zero (2 for bad input, 1 for a
//! failure while running).

pub mod audit;
mod cascade_study;
mod keyrate;
pub mod keys;
mod link;
mod mesh;
#[cfg(feature = "serve")]
mod pki;
mod plot;
mod regress;
mod run;
#[cfg(feature = "serve")]
mod serve;
mod sweep;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub(crate) use crate::api::{Overrides, toml_float};
use crate::{Error, Result};

/// QKD simulation and QBER analysis lab.
#[derive(Debug, Parser)]
#[command(name = "qecnet", version, about, long_about = None)]
pub struct Cli {
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate one BB84 link photon by photon and compare with the analytic model.
    Link(link::LinkArgs),
    /// The main job: a run file's sweeps, plots and report (or a scenario's link simulation).
    Run(run::RunArgs),
    /// Analytic secret key rate of a link (asymptotic and finite-key models).
    Keyrate(keyrate::KeyrateArgs),
    /// Parameter sweeps: run a sweep file, or one shard of it.
    Sweep(sweep::SweepArgs),
    /// Join shard CSVs into exactly the CSV an unsharded run writes.
    Merge(sweep::MergeArgs),
    /// Draw a canonical chart (SVG and PNG) from a sweep's CSV.
    Plot(plot::PlotArgs),
    /// The key-rate regression gate against the committed baseline.
    Regress(regress::RegressArgs),
    /// Run a QKD mesh scenario driving the real key-lifecycle engine.
    Mesh(mesh::MeshArgs),
    /// Audit-chain operations on a key store (no secret needed).
    Audit(audit::AuditArgs),
    /// Key-store views for operators (never prints key bytes).
    Keys(keys::KeysArgs),
    /// Efficiency, frame error rate, round trips, messages and throughput of reconcilers on a
    /// binary symmetric channel; frames that fail verification count in the frame error rate,
    /// not in the efficiency (`reconcile-study`; `cascade-study` is its older name).
    ///
    /// Columns: reconciler, qber, block_size (bits), runs, efficiency_mean and efficiency_std
    /// (f = leak / (n·h(QBER))), frame_error_rate, round_trips and messages (means per frame),
    /// throughput_bits_per_s. Throughput is sifted bits per CPU second of one core: each frame
    /// runs on one worker thread with a one-thread rayon pool (no nested parallelism), and its
    /// reconciliation (both sides; not the channel simulation, nor the LDPC code construction)
    /// is timed with that thread's CPU clock (CLOCK_THREAD_CPUTIME_ID, user + system), so other
    /// frames and other processes do not slow it. It is the one column that is a timing; every
    /// other column depends on the seed only, on any thread count.
    #[command(name = "reconcile-study", alias = "cascade-study")]
    CascadeStudy(cascade_study::CascadeStudyArgs),
    /// ETSI GS QKD 014 KMEs at every node of a mesh, over mutual TLS.
    #[cfg(feature = "serve")]
    Serve(serve::ServeArgs),
    /// The certificates of a served mesh (CA, KMEs, SAEs, operator).
    #[cfg(feature = "serve")]
    Pki(pki::PkiArgs),
}

/// Parses the process arguments, runs the command and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match thread_count(cli.threads) {
        Ok(Some(threads)) => {
            rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().expect("thread pool is set once")
        }
        Ok(None) => {}
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    }
    // `audit verify` and `audit check-proof` answer with their status (0 holds, 1 does not):
    // anything that keeps them from answering (an unreadable file, a store that will not
    // open) exits 2, so that a script can tell forged from unreadable.
    let answers = matches!(
        &cli.command,
        Command::Audit(audit::AuditArgs {
            command: audit::AuditCommand::Verify { .. } | audit::AuditCommand::CheckProof { .. }
        })
    );
    let done = |r: Result<()>| r.map(|()| ExitCode::SUCCESS);
    let result = match &cli.command {
        Command::Link(args) => done(link::run(args)),
        Command::Run(args) => done(run::run(args)),
        Command::Keyrate(args) => done(keyrate::run(args)),
        Command::Sweep(args) => done(sweep::run(args)),
        Command::Merge(args) => done(sweep::merge(args)),
        Command::Plot(args) => done(plot::run(args)),
        Command::Regress(args) => done(regress::run(args)),
        Command::Mesh(args) => done(mesh::run(args)),
        Command::Audit(args) => audit::run(args),
        Command::Keys(args) => keys::run(args).map_err(Error::from),
        Command::CascadeStudy(args) => done(cascade_study::run(args)),
        #[cfg(feature = "serve")]
        Command::Serve(args) => done(serve::run(args)),
        #[cfg(feature = "serve")]
        Command::Pki(args) => done(pki::run(args)),
    };
    match result {
        Ok(code) => code,
        // A closed standard output (`qecnet keys list DB | head -1`) ends the run quietly.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if answers && !matches!(e, Error::Interrupted(_)) { 2 } else { exit_code(&e) })
        }
    }
}

/// Whether `e` comes from writing to a pipe whose reader has gone.
fn is_broken_pipe(e: &Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Worker threads per core at most: the work is CPU-bound, so more only costs start-up and
/// memory (each thread keeps chunks in flight); at 512 threads on 2 cores a trivial command
/// already takes most of a second, at 4096 half a minute.
pub const MAX_THREADS_PER_CORE: usize = 16;

/// The worker threads asked for: `--threads`, else inside a Slurm job the CPUs allotted to the
/// task (`SLURM_CPUS_PER_TASK`, or 1), not every core of the node; `None` for all cores.
/// Either must be in `1..=MAX_THREADS_PER_CORE × cores`.
fn thread_count(option: Option<usize>) -> std::result::Result<Option<usize>, String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max = MAX_THREADS_PER_CORE * cores;
    let check = |name: &str, value: &str, n: Option<usize>| match n {
        Some(n) if (1..=max).contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "{name} = {value}: must be a whole number in 1..={max} ({MAX_THREADS_PER_CORE} × the {cores} cores \
             available; results do not depend on it)"
        )),
    };
    if let Some(n) = option {
        return check("--threads", &n.to_string(), Some(n));
    }
    if std::env::var_os("SLURM_JOB_ID").is_none() {
        return Ok(None);
    }
    match std::env::var("SLURM_CPUS_PER_TASK") {
        Ok(v) => check("SLURM_CPUS_PER_TASK", &v, v.trim().parse().ok()),
        Err(_) => Ok(Some(1)),
    }
}

/// As ripgrep: 2 for input the user can fix (a bad option, field or file given), 1 for failures
/// while running (I/O, a store that will not open or that the engine refuses to change), 130
/// when interrupted.
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Interrupted(_) | Error::Mesh(crate::mesh::MeshError::Interrupted { .. }) => 130,
        e if e.is_runtime() => 1,
        _ => 2,
    }
}
