//! `qecnet audit verify DB`: check every hash and signature of a store's audit
//! chain. Needs no secret. Exit status 0 when everything verifies, 1 when the
//! chain is broken (naming the first failing record), errors for unreadable
//! or foreign files.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::lifecycle::{LifecycleError, open_reader, verify_chain};

/// Arguments of `qecnet audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Audit operation.
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// Subcommands of `qecnet audit`.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Verify every record hash, link and checkpoint signature of a store.
    Verify {
        /// Path of the key store.
        db: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Run `qecnet audit ...`, printing to stdout.
pub fn run(args: &AuditArgs) -> Result<ExitCode, LifecycleError> {
    let mut out = std::io::stdout().lock();
    run_to(args, &mut out)
}

/// Run `qecnet audit ...`, printing to `out`.
pub fn run_to(args: &AuditArgs, out: &mut impl Write) -> Result<ExitCode, LifecycleError> {
    match &args.command {
        AuditCommand::Verify { db, json } => {
            let conn = open_reader(db)?;
            let result = verify_chain(&conn)?;
            if *json {
                let v = match &result {
                    Ok(r) => serde_json::json!({ "ok": true, "report": r }),
                    Err(f) => {
                        serde_json::json!({ "ok": false, "failure": f, "message": f.to_string() })
                    }
                };
                writeln!(out, "{v}")?;
            } else {
                match &result {
                    Ok(r) => writeln!(
                        out,
                        "OK: {} records and {} signed checkpoints verified ({} records after the last checkpoint, hash-chained but not yet signed); head {}",
                        r.records, r.checkpoints, r.unsigned_tail, r.head_hex
                    )?,
                    Err(f) => writeln!(out, "FAILED: {f}")?,
                }
            }
            Ok(if result.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
