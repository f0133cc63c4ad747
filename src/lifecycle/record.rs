//! Read-only views of keys in the store: what operators and the simulator see
//! (never key bytes).

use std::fmt;
use std::str::FromStr;

use rusqlite::{Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{KeyState, LifecycleError};
use crate::crypto::KeyType;

/// Identifier of a key record (the store's row id). Displays as `key#N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct KeyId(pub i64);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key#{}", self.0)
    }
}

impl FromStr for KeyId {
    type Err = String;
    /// Accepts `key#N` or `N`.
    fn from_str(s: &str) -> Result<Self, String> {
        let digits = s.strip_prefix("key#").unwrap_or(s);
        digits.parse::<i64>().map(KeyId).map_err(|_| format!("not a key id: {s:?} (expected key#N or N)"))
    }
}

/// Everything the store knows about a key, except its material.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyRecord {
    /// Identifier.
    pub id: KeyId,
    /// Key type.
    pub key_type: KeyType,
    /// Channel (e.g. `hub-n1`) the key serves.
    pub channel: String,
    /// Current state.
    pub state: KeyState,
    /// Nodes that must confirm receipt before activation.
    pub participants: Vec<String>,
    /// Nodes that have confirmed receipt.
    pub receipts: Vec<String>,
    /// Secret material length in bytes.
    pub material_len: u64,
    /// Whether wrapped material is still stored (false once destroyed, or operator-held).
    pub has_material: bool,
    /// Public key (hex) for signature/KEM types, if stored.
    pub public_hex: Option<String>,
    /// Creation time, ns.
    pub created_ns: u64,
    /// Time of the last state change, ns.
    pub state_changed_ns: u64,
    /// Activation time, ns.
    pub activated_ns: Option<u64>,
    /// Scheduled rotation period, ns.
    pub rotation_period_ns: Option<u64>,
    /// Usage limit (uses).
    pub usage_limit: Option<u64>,
    /// Uses so far.
    pub usage_count: u64,
    /// One-time-pad bytes consumed (QKD_TRANSPORT).
    pub pad_consumed: u64,
    /// The key this one replaces in a rotation.
    pub replaces: Option<KeyId>,
    /// End of the decryption overlap of a ROTATING key, ns.
    pub overlap_until_ns: Option<u64>,
    /// Marked for early retirement (triggered rotation).
    pub early_retirement: bool,
    /// Pre-staged material for emergency re-keying.
    pub prestaged: bool,
}

pub(crate) const KEY_COLUMNS: &str = "id, key_type, channel, state, participants, \
    wrapped IS NOT NULL, public, material_len, created_ns, state_changed_ns, activated_ns, \
    rotation_period_ns, usage_limit, usage_count, pad_consumed, replaces, overlap_until_ns, \
    early_retirement, prestaged";

fn corrupt(what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, what.into())
}

fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.map(|x| x as u64)
}

/// Build a record (without receipts) from a row selected with [`KEY_COLUMNS`].
pub(crate) fn from_row(r: &Row<'_>) -> Result<KeyRecord, rusqlite::Error> {
    let kt: String = r.get(1)?;
    let st: String = r.get(3)?;
    let parts: String = r.get(4)?;
    let public: Option<Vec<u8>> = r.get(6)?;
    Ok(KeyRecord {
        id: KeyId(r.get(0)?),
        key_type: kt.parse().map_err(corrupt)?,
        channel: r.get(2)?,
        state: st.parse().map_err(corrupt)?,
        participants: serde_json::from_str(&parts).map_err(|e| corrupt(e.to_string()))?,
        receipts: Vec::new(),
        has_material: r.get(5)?,
        public_hex: public.map(|p| super::audit::hex(&p)),
        material_len: r.get::<_, i64>(7)? as u64,
        created_ns: r.get::<_, i64>(8)? as u64,
        state_changed_ns: r.get::<_, i64>(9)? as u64,
        activated_ns: opt_u64(r.get(10)?),
        rotation_period_ns: opt_u64(r.get(11)?),
        usage_limit: opt_u64(r.get(12)?),
        usage_count: r.get::<_, i64>(13)? as u64,
        pad_consumed: r.get::<_, i64>(14)? as u64,
        replaces: r.get::<_, Option<i64>>(15)?.map(KeyId),
        overlap_until_ns: opt_u64(r.get(16)?),
        early_retirement: r.get(17)?,
        prestaged: r.get(18)?,
    })
}

/// Nodes that confirmed receipt of `id`, sorted.
pub fn receipts(conn: &Connection, id: KeyId) -> Result<Vec<String>, rusqlite::Error> {
    let mut st = conn.prepare_cached("SELECT node FROM receipts WHERE key_id = ?1 ORDER BY node")?;
    let rows = st.query_map([id.0], |r| r.get(0))?;
    rows.collect()
}

/// One key with its receipts, or `UnknownKey`.
pub fn get_key(conn: &Connection, id: KeyId) -> Result<KeyRecord, LifecycleError> {
    let mut st = conn.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = ?1"))?;
    let rec = st.query_row([id.0], from_row).optional()?;
    let mut rec = rec.ok_or(LifecycleError::UnknownKey(id))?;
    rec.receipts = receipts(conn, id)?;
    Ok(rec)
}

/// All keys, optionally only those in `state`, by id.
pub fn list_keys(conn: &Connection, state: Option<KeyState>) -> Result<Vec<KeyRecord>, LifecycleError> {
    let mut out = Vec::new();
    let mut st = conn.prepare(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE ?1 IS NULL OR state = ?1 ORDER BY id"))?;
    let rows = st.query_map([state.map(KeyState::as_str)], from_row)?;
    for r in rows {
        let mut rec = r?;
        rec.receipts = receipts(conn, rec.id)?;
        out.push(rec);
    }
    Ok(out)
}
