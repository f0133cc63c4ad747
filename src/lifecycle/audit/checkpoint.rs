//! Checkpoints: the signed tree heads of the audit log, the message an AUDIT_SIGNING key
//! signs for one, and reading them back from a store.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension};

use crate::lifecycle::KeyId;
use crate::lifecycle::store;

/// The message an AUDIT_SIGNING key signs for a checkpoint: version 2 with the Merkle
/// `root` of records 1..=seq, version 1 (old stores) without.
pub fn checkpoint_message(seq: u64, at_ns: u64, head: &[u8; 32], root: Option<&[u8; 32]>, signer: KeyId) -> Vec<u8> {
    let mut m = Vec::with_capacity(20 + 8 + 8 + 32 + 32 + 8);
    m.extend_from_slice(if root.is_some() { b"qecnet/checkpoint/v2" } else { b"qecnet/checkpoint/v1" });
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&at_ns.to_be_bytes());
    m.extend_from_slice(head);
    if let Some(root) = root {
        m.extend_from_slice(root);
    }
    m.extend_from_slice(&signer.0.to_be_bytes());
    m
}

/// A stored checkpoint: the signed head of records 1..=`seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// Records covered.
    pub seq: u64,
    /// Signing time, ns since the Unix epoch.
    pub at_ns: u64,
    /// Chained hash of record `seq` as stored.
    pub head: Vec<u8>,
    /// The AUDIT_SIGNING key.
    pub signer: KeyId,
    /// Ed25519 signature as stored.
    pub signature: Vec<u8>,
    /// Merkle tree hash of records 1..=`seq` (none in a version-1 store).
    pub root: Option<Vec<u8>>,
}

/// The columns [`from_row`] reads: `root` only where the schema has it.
fn columns(conn: &Connection) -> Result<String, rusqlite::Error> {
    let root_column = if store::has_merkle_roots(conn)? { "root" } else { "NULL" };
    Ok(format!("seq, at_ns, head, signer, signature, {root_column}"))
}

fn from_row(r: &rusqlite::Row<'_>) -> Result<Checkpoint, rusqlite::Error> {
    Ok(Checkpoint {
        seq: r.get::<_, i64>(0)? as u64,
        at_ns: r.get::<_, i64>(1)? as u64,
        head: r.get(2)?,
        signer: KeyId(r.get(3)?),
        signature: r.get(4)?,
        root: r.get(5)?,
    })
}

/// Every checkpoint of the store, by sequence number.
pub(crate) fn read_checkpoints(conn: &Connection) -> Result<BTreeMap<u64, Checkpoint>, rusqlite::Error> {
    let mut st = conn.prepare(&format!("SELECT {} FROM checkpoints ORDER BY seq", columns(conn)?))?;
    let rows = st.query_map([], from_row)?;
    rows.map(|cp| cp.map(|cp| (cp.seq, cp))).collect()
}

/// The checkpoint at record `seq`, if there is one.
pub(crate) fn read_checkpoint(conn: &Connection, seq: u64) -> Result<Option<Checkpoint>, rusqlite::Error> {
    conn.query_row(&format!("SELECT {} FROM checkpoints WHERE seq = ?1", columns(conn)?), [seq as i64], from_row)
        .optional()
}
