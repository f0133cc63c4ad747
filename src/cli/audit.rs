//! `qecnet audit verify DB`: check every hash and signature of a store's audit
//! chain. Needs no secret. Exit status 0 when everything verifies, 1 when the
//! chain is broken (naming the first failing record), errors for unreadable
//! or foreign files.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::lifecycle::{LifecycleError, open_reader, verify_chain_pinned};

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
        /// Require every checkpoint to be signed by this AUDIT_SIGNING public
        /// key (64 hex digits); repeat for several keys.
        #[arg(long = "pin", value_name = "HEX")]
        pins: Vec<String>,
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
        AuditCommand::Verify { db, json, pins } => {
            let pinned = pins.iter().map(|h| parse_pin(h)).collect::<Result<Vec<_>, _>>()?;
            let conn = open_reader(db)?;
            let result = verify_chain_pinned(&conn, (!pinned.is_empty()).then_some(pinned.as_slice()))?;
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
                    Ok(r) => {
                        writeln!(
                            out,
                            "OK: {} records and {} signed checkpoints verified ({} records after the last checkpoint, hash-chained but not yet signed); head {}",
                            r.records, r.checkpoints, r.unsigned_tail, r.head_hex
                        )?;
                        for (id, public) in &r.signers {
                            writeln!(out, "  checkpoints signed by {id}: Ed25519 public key {public}")?;
                        }
                    }
                    Err(f) => writeln!(out, "FAILED: {f}")?,
                }
            }
            Ok(if result.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

fn parse_pin(h: &str) -> Result<[u8; 32], LifecycleError> {
    let h = h.trim();
    if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(LifecycleError::Input(format!("--pin {h:?}: an Ed25519 public key is 64 hex digits")));
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16)
            .map_err(|_| LifecycleError::Input(format!("--pin {h:?}: not hex")))?;
    }
    Ok(out)
}
