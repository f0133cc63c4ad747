//! The `qecnet` command line: raw arguments parsed by clap, resolved into a scenario, run, and
//! reported. Errors print one line to stderr and exit non-zero (2 for bad input, 1 for a
//! failure while running).

mod cascade_study;
mod link;
mod output;
mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::Error;

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
    /// Run the main job of a scenario file (for now: its link simulation).
    Run(run::RunArgs),
    /// Efficiency, channel uses and frame error rate of Cascade variants on a binary symmetric channel.
    CascadeStudy(cascade_study::CascadeStudyArgs),
}

/// Parses the process arguments, runs the command and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(threads) = cli.threads {
        if threads == 0 {
            eprintln!("error: --threads 0: must be at least 1");
            return ExitCode::from(2);
        }
        rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().expect("thread pool is set once");
    }
    let result = match &cli.command {
        Command::Link(args) => link::run(args),
        Command::Run(args) => run::run(args),
        Command::CascadeStudy(args) => cascade_study::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// 2 for input the user can fix, 1 for failures while running.
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Io { .. } => 1,
        _ => 2,
    }
}
