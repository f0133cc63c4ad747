//! `qecnet` command line: the key-lifecycle operator subcommands.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use qecnet::cli::{audit, keys};

/// QKD simulation lab.
#[derive(Debug, Parser)]
#[command(name = "qecnet", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Audit-chain operations (no secret needed).
    Audit(audit::AuditArgs),
    /// Key-store views for operators (never prints key bytes).
    Keys(keys::KeysArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Audit(a) => audit::run(a),
        Command::Keys(k) => keys::run(k),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
