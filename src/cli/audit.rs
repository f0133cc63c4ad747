//! `qecnet audit`: needs no secret.
//! - `verify DB`: check every hash, Merkle root and signature of a store's audit chain. Exit
//!   status 0 when everything verifies, 1 when the chain is broken (naming the first failing
//!   record), errors for unreadable or foreign files.
//! - `prove DB --record N`, `consistency DB --from M`: write an inclusion proof (record N is
//!   in a signed tree head) or a consistency proof (a later signed head extends the one at M)
//!   as JSON, for someone without the store.
//! - `check-proof FILE`: check such a proof; exit status 0 when it holds, 1 when not.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::api::parse_pin;
use crate::atomic_file::write_text_atomically;
use crate::lifecycle::audit_proof::{AuditProof, prove_consistency, prove_inclusion};
use crate::lifecycle::{LifecycleError, Verdict, open_reader};

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
        /// key (64 hex digits; repeat for several keys), at least one checkpoint, and no
        /// record after the last one. Without it nothing is authenticated.
        #[arg(long = "pin", value_name = "HEX")]
        pins: Vec<String>,
        /// A signed head kept from an earlier verification, `SIZE:ROOT` as printed on the
        /// `signed head` line: the store must still hold those records with that Merkle root.
        #[arg(long, value_name = "SIZE:ROOT")]
        known_head: Option<String>,
    },
    /// Write a proof that one record is in a signed tree head (RFC 6962 audit path).
    Prove {
        /// Path of the key store.
        db: PathBuf,
        /// Sequence number of the record.
        #[arg(long)]
        record: u64,
        /// Tree size (checkpoint sequence number) of the signed head to prove against;
        /// default the first checkpoint covering the record.
        #[arg(long)]
        head: Option<u64>,
        /// Write the proof here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write a proof that a later signed tree head extends an earlier one (append-only).
    Consistency {
        /// Path of the key store.
        db: PathBuf,
        /// Tree size of the earlier signed head (a checkpoint's sequence number).
        #[arg(long)]
        from: u64,
        /// Tree size of the later signed head; default the latest checkpoint.
        #[arg(long)]
        to: Option<u64>,
        /// Write the proof here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a proof written by `prove` or `consistency`, without the store.
    CheckProof {
        /// The proof (JSON).
        file: PathBuf,
        /// Require its signed heads to be signed by this AUDIT_SIGNING public key (64 hex
        /// digits); repeat for several keys.
        #[arg(long = "pin", value_name = "HEX")]
        pins: Vec<String>,
    },
}

/// Run `qecnet audit ...`, printing to stdout.
pub fn run(args: &AuditArgs) -> crate::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    run_to(args, &mut out)
}

/// Refuses a proof file that is the store (or one of its companion files).
fn check_proof_output(db: &std::path::Path, file: &Option<PathBuf>) -> crate::Result<()> {
    let Some(file) = file else { return Ok(()) };
    let [db, wal, shm] = crate::lifecycle::store::store_files(db);
    let lock = crate::lifecycle::store::lock_path(&db);
    let inputs =
        [("store", db.as_path()), ("store", wal.as_path()), ("store", shm.as_path()), ("store", lock.as_path())];
    crate::atomic_file::check_distinct(&inputs, &[("--out", file.as_path())]).map_err(Into::into)
}

/// Writes `proof` as pretty JSON to `file`, or to `out`.
fn emit_proof(proof: &AuditProof, file: &Option<PathBuf>, out: &mut impl Write) -> crate::Result<ExitCode> {
    let text = serde_json::to_string_pretty(proof).expect("a proof serialises") + "\n";
    match file {
        Some(path) => write_text_atomically(path, &text)?,
        None => out.write_all(text.as_bytes()).map_err(|e| crate::Error::io(std::path::Path::new("<stdout>"), e))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Run `qecnet audit ...`, printing to `out`.
pub fn run_to(args: &AuditArgs, out: &mut impl Write) -> crate::Result<ExitCode> {
    match &args.command {
        AuditCommand::Prove { db, record, head, out: file } => {
            check_proof_output(db, file)?;
            emit_proof(&prove_inclusion(&open_reader(db)?, *record, *head)?, file, out)
        }
        AuditCommand::Consistency { db, from, to, out: file } => {
            check_proof_output(db, file)?;
            emit_proof(&prove_consistency(&open_reader(db)?, *from, *to)?, file, out)
        }
        AuditCommand::CheckProof { file, pins } => {
            let pinned = pins.iter().map(|h| parse_pin(h)).collect::<Result<Vec<_>, _>>()?;
            let text = std::fs::read_to_string(file).map_err(|e| crate::Error::io(file, e))?;
            let proof: AuditProof = serde_json::from_str(&text)
                .map_err(|e| LifecycleError::Input(format!("{}: not an audit proof ({e})", file.display())))?;
            let result = proof.verify((!pinned.is_empty()).then_some(pinned.as_slice()));
            match &result {
                Ok(what) if pinned.is_empty() => writeln!(
                    out,
                    "OK: {what}\nnote: no --pin given: the signatures were checked with the keys the proof names; \
                     compare them, and the roots, with the ones you trust"
                ),
                Ok(what) => writeln!(out, "OK: {what}"),
                Err(why) => writeln!(out, "FAILED: {why}"),
            }
            .map_err(|e| crate::Error::io(std::path::Path::new("<stdout>"), e))?;
            Ok(if result.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        AuditCommand::Verify { db, json, pins, known_head } => {
            Ok(verify_to(db, *json, pins, known_head.as_deref(), out)?)
        }
    }
}

/// What an unpinned verification must say, so nobody mistakes it for an authenticated one.
const NOT_AUTHENTICATED: &str = "WARNING: nothing was authenticated: without --pin the signatures were checked with \
     public keys read from the store itself, which whoever can write the store can replace; pass --pin with the \
     AUDIT_SIGNING public key you trust (and --known-head with a head you kept)";

/// `qecnet audit verify`.
fn verify_to(
    db: &std::path::Path,
    json: bool,
    pins: &[String],
    known_head: Option<&str>,
    out: &mut impl Write,
) -> Result<ExitCode, LifecycleError> {
    let verdict = crate::api::verify_store(db, pins, known_head)?;
    if json {
        let v = crate::api::verdict_json(&verdict);
        writeln!(out, "{v}")?;
    } else {
        match &verdict {
            Verdict::Verified(r) => {
                writeln!(
                    out,
                    "OK: {} records and {} signed checkpoints verified ({} records after the last checkpoint, hash-chained but not yet signed); {} keys match the chain; head {}, Merkle root {}",
                    r.records, r.checkpoints, r.unsigned_tail, r.keys, r.head_hex, r.root_hex
                )?;
                if r.signed_size > 0 {
                    writeln!(out, "signed head: {}:{}", r.signed_size, r.signed_root_hex)?;
                }
                for (id, public) in &r.signers {
                    writeln!(out, "  checkpoints signed by {id}: Ed25519 public key {public}")?;
                }
                if r.authenticated {
                    writeln!(out, "authenticated: every checkpoint is signed by a pinned key")?;
                } else {
                    writeln!(out, "{NOT_AUTHENTICATED}")?;
                }
            }
            Verdict::Failed(f) => writeln!(out, "FAILED: {f}")?,
        }
    }
    Ok(if verdict.is_verified() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
