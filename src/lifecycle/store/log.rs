//! The audit-log SQL the engine's audit writer needs: appending a record and a checkpoint,
//! registering an AUDIT_SIGNING public key, and reading back the chain head, the Merkle tree
//! of every record and the last checkpoint when a store is opened or a batch rolled back.
//! (The verifier reads the log its own way, record by record, in [`crate::lifecycle::audit`].)

use rusqlite::{Connection, OptionalExtension, params};

use crate::lifecycle::audit::{AuditRecord, GENESIS_HASH, record_leaf};
use crate::lifecycle::merkle::MerkleFrontier;
use crate::lifecycle::{KeyId, KeyState};

type Result<T> = std::result::Result<T, rusqlite::Error>;

/// Appends `rec` with its predecessor's hash `prev` and its own chained `hash`.
pub(crate) fn insert_record(conn: &Connection, rec: &AuditRecord, prev: &[u8; 32], hash: &[u8; 32]) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO audit(seq, at_ns, event, key_id, from_state, to_state, actor, detail, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        rec.seq as i64,
        rec.at_ns as i64,
        rec.event,
        rec.key_id.map(|k| k.0),
        rec.from.map(KeyState::as_str),
        rec.to.map(KeyState::as_str),
        rec.actor,
        rec.detail,
        &prev[..],
        &hash[..],
    ])?;
    Ok(())
}

/// A checkpoint as the writer stores it: the signed tree head of records 1..=`seq`.
pub(crate) struct NewCheckpoint<'a> {
    /// Records covered.
    pub seq: u64,
    /// Signing time, ns.
    pub at_ns: u64,
    /// Chained hash of record `seq`.
    pub head: &'a [u8; 32],
    /// The AUDIT_SIGNING key.
    pub signer: KeyId,
    /// Ed25519 signature of the checkpoint message.
    pub signature: &'a [u8],
    /// Merkle tree hash of records 1..=`seq`.
    pub root: &'a [u8; 32],
}

/// Stores a checkpoint.
pub(crate) fn insert_checkpoint(conn: &Connection, cp: &NewCheckpoint<'_>) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO checkpoints(seq, at_ns, head, signer, signature, root) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![cp.seq as i64, cp.at_ns as i64, &cp.head[..], cp.signer.0, cp.signature, &cp.root[..]])?;
    Ok(())
}

/// Records the public key of the AUDIT_SIGNING key `id`, so verifiers need no secret.
pub(crate) fn register_audit_key(conn: &Connection, id: KeyId, public: &[u8]) -> Result<()> {
    conn.prepare_cached("INSERT OR REPLACE INTO audit_keys(key_id, public) VALUES (?1, ?2)")?
        .execute(params![id.0, public])?;
    Ok(())
}

/// (seq, at_ns) of the last checkpoint, if any.
pub(crate) fn last_checkpoint(conn: &Connection) -> Result<Option<(u64, u64)>> {
    let row: Option<(i64, i64)> = conn
        .query_row("SELECT seq, at_ns FROM checkpoints ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.map(|(s, t)| (s as u64, t as u64)))
}

/// The Merkle tree of every record's stored hash, rebuilt in sequence order.
pub(crate) fn merkle_frontier(conn: &Connection) -> Result<MerkleFrontier> {
    let mut tree = MerkleFrontier::default();
    let mut st = conn.prepare("SELECT hash FROM audit ORDER BY seq")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let hash: Vec<u8> = r.get(0)?;
        let hash: [u8; 32] = hash.try_into().map_err(|_| {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Blob,
                "audit hash is not 32 bytes".into(),
            )
        })?;
        tree.push(record_leaf(&hash));
    }
    Ok(tree)
}

/// The last record's sequence number and hash, if any.
pub(crate) fn chain_head(conn: &Connection) -> Result<(u64, [u8; 32])> {
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match row {
        Some((s, h)) => {
            let hash: [u8; 32] = h.try_into().map_err(|_| {
                rusqlite::Error::FromSqlConversionFailure(
                    9,
                    rusqlite::types::Type::Blob,
                    format!("audit record {s}: hash is not 32 bytes").into(),
                )
            })?;
            (s as u64, hash)
        }
        None => (0, GENESIS_HASH),
    })
}

/// How many state changes the audit chain holds from one state to another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransitionCount {
    /// State before, as stored; `(new)` for a key's creation.
    pub from: String,
    /// State after, as stored.
    pub to: String,
    /// Records with this (from, to): keys that took the transition.
    pub keys: u64,
}

/// Every (from, to) pair of state changes in the audit chain with its count, most frequent
/// first (the report's lifecycle-flow diagram).
pub fn transition_counts(conn: &Connection) -> Result<Vec<TransitionCount>> {
    let mut stmt = conn.prepare(
        "SELECT coalesce(from_state, '(new)'), to_state, count(*) FROM audit WHERE to_state IS NOT NULL \
         GROUP BY 1, 2 ORDER BY 3 DESC",
    )?;
    let rows = stmt
        .query_map([], |r| Ok(TransitionCount { from: r.get(0)?, to: r.get(1)?, keys: r.get::<_, i64>(2)? as u64 }))?;
    rows.collect()
}

/// [`transition_counts`] of the store at `db`, opened read-only (no identity check, no
/// lock: the store a finished mesh run left).
pub fn read_transition_counts(db: &std::path::Path) -> Result<Vec<TransitionCount>> {
    let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    transition_counts(&conn)
}
