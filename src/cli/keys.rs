//! `qecnet keys list DB [--state S] [--json]` and `qecnet keys show DB KEY_ID`:
//! operator views of a store. Needs no secret and never prints key bytes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::lifecycle::{KeyId, KeyRecord, KeyState, LifecycleError, get_key, list_keys, open_reader};
use crate::units::NANOS_PER_SECOND;

/// Arguments of `qecnet keys`.
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    /// Key operation.
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// Subcommands of `qecnet keys`.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// List keys, optionally only those in one state.
    List {
        /// Path of the key store.
        db: PathBuf,
        /// Only keys in this state (e.g. ACTIVE).
        #[arg(long)]
        state: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one key's metadata.
    Show {
        /// Path of the key store.
        db: PathBuf,
        /// Key id (`key#N` or `N`).
        key_id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Run `qecnet keys ...`, printing to stdout.
pub fn run(args: &KeysArgs) -> Result<ExitCode, LifecycleError> {
    let mut out = std::io::stdout().lock();
    run_to(args, &mut out)
}

/// Seconds (ns on the engine's clock, to the millisecond).
fn secs(ns: u64) -> String {
    format!("{:.3}", ns as f64 / NANOS_PER_SECOND as f64)
}

/// Run `qecnet keys ...`, printing to `out`.
pub fn run_to(args: &KeysArgs, out: &mut impl Write) -> Result<ExitCode, LifecycleError> {
    match &args.command {
        KeysCommand::List { db, state, json } => {
            let state: Option<KeyState> =
                state.as_deref().map(str::parse).transpose().map_err(LifecycleError::Input)?;
            let conn = open_reader(db)?;
            let keys = list_keys(&conn, state)?;
            if *json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&keys).map_err(|e| LifecycleError::Input(e.to_string()))?
                )?;
            } else {
                writeln!(
                    out,
                    "{:<9} {:<18} {:<12} {:<16} {:>9} {:>10}  participants",
                    "ID", "TYPE", "STATE", "CHANNEL", "RECEIPTS", "USES"
                )?;
                for k in &keys {
                    writeln!(
                        out,
                        "{:<9} {:<18} {:<12} {:<16} {:>9} {:>10}  {}",
                        k.id.to_string(),
                        k.key_type.as_str(),
                        k.state.as_str(),
                        k.channel,
                        format!("{}/{}", k.receipts.len(), k.participants.len()),
                        k.usage_count,
                        k.participants.join(",")
                    )?;
                }
                writeln!(out, "{} keys", keys.len())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Show { db, key_id, json } => {
            let id: KeyId = key_id.parse().map_err(LifecycleError::Input)?;
            let conn = open_reader(db)?;
            let k = get_key(&conn, id)?;
            if *json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&k).map_err(|e| LifecycleError::Input(e.to_string()))?
                )?;
            } else {
                show(out, &k)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn show(out: &mut impl Write, k: &KeyRecord) -> std::io::Result<()> {
    let opt = |v: Option<u64>| v.map_or("-".to_string(), secs);
    writeln!(out, "id:               {}", k.id)?;
    writeln!(out, "type:             {}", k.key_type)?;
    writeln!(out, "state:            {}", k.state)?;
    writeln!(out, "channel:          {}", k.channel)?;
    writeln!(out, "participants:     {}", k.participants.join(", "))?;
    writeln!(out, "receipts:         {}", k.receipts.join(", "))?;
    writeln!(
        out,
        "material:         {} bytes, {}",
        k.material_len,
        if k.has_material { "stored wrapped (AES-256-GCM)" } else { "not stored" }
    )?;
    if let Some(p) = &k.public_hex {
        writeln!(out, "public key:       {}…", &p[..p.len().min(64)])?;
    }
    writeln!(out, "created (s):      {}", secs(k.created.0))?;
    writeln!(out, "state since (s):  {}", secs(k.state_changed.0))?;
    writeln!(out, "activated (s):    {}", opt(k.activated.map(|t| t.0)))?;
    writeln!(out, "rotation period:  {}", k.rotation_period.map_or("-".into(), |p| format!("{} s", secs(p.0))))?;
    writeln!(
        out,
        "usage:            {} of {}",
        k.usage_count,
        k.usage_limit.map_or("unlimited".into(), |l| l.to_string())
    )?;
    writeln!(out, "pad consumed:     {} bytes", k.pad_consumed)?;
    writeln!(out, "replaces:         {}", k.replaces.map_or("-".into(), |r| r.to_string()))?;
    writeln!(out, "overlap until(s): {}", opt(k.overlap_until.map(|t| t.0)))?;
    writeln!(out, "early retirement: {}", k.early_retirement)?;
    writeln!(out, "pre-staged:       {}", k.prestaged)?;
    Ok(())
}
