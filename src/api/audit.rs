//! `qecnet audit verify`: verify a store's audit chain, and the `--json` object.

use std::path::Path;

use crate::lifecycle::audit_proof::parse_hex32;
use crate::lifecycle::store::open_damaged_reader;
use crate::lifecycle::{KnownHead, LifecycleError, Verdict, VerifyOptions, open_reader, verify};

/// Verifies every record hash, link and checkpoint signature of the store `db`; `pins` are the
/// trusted AUDIT_SIGNING public keys (64 hex digits each), `known_head` a kept `SIZE:ROOT`.
/// A damaged store is opened read-only as it is, so that the verdict can name the damage.
pub fn verify_store(db: &Path, pins: &[String], known_head: Option<&str>) -> Result<Verdict, LifecycleError> {
    let pinned = pins.iter().map(|h| parse_pin(h)).collect::<Result<Vec<_>, _>>()?;
    let known_head = known_head
        .map(|h| h.parse::<KnownHead>().map_err(|e| LifecycleError::Input(format!("--known-head {e}"))))
        .transpose()?;
    let conn = match open_reader(db) {
        Err(LifecycleError::Damaged { .. }) => open_damaged_reader(db)?,
        other => other?,
    };
    verify(&conn, &VerifyOptions { pinned, known_head })
}

/// The object `qecnet audit verify --json` prints.
pub fn verdict_json(verdict: &Verdict) -> serde_json::Value {
    match verdict {
        Verdict::Verified(r) => serde_json::json!({ "ok": true, "authenticated": r.authenticated, "report": r }),
        Verdict::Failed(f) => {
            serde_json::json!({ "ok": false, "authenticated": false, "failure": f, "message": f.to_string() })
        }
    }
}

/// An AUDIT_SIGNING public key in hex.
pub(crate) fn parse_pin(h: &str) -> Result<[u8; 32], LifecycleError> {
    parse_hex32("--pin", h).map_err(|e| LifecycleError::Input(format!("{e} (an Ed25519 public key)")))
}
