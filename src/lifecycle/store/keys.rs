//! The key SQL of the store, one named function per statement: key rows (insert, state,
//! material, counters, the queries the transitions and timers need), receipts and isolated
//! nodes. The engine calls these inside its transactions; the read-only views
//! ([`get_key`], [`list_keys`]) work on any connection, including a reader's.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::crypto::KeyType;
use crate::lifecycle::record::{KeyId, KeyRecord};
use crate::lifecycle::{KeyState, LifecycleError};
use crate::units::{SimDuration, SimTime};

type Result<T> = std::result::Result<T, rusqlite::Error>;

/// The columns [`from_row`] reads, in order, as a literal: the hot statements are built with
/// `concat!` at compile time instead of `format!` on every call (a key load is one of the
/// engine's most frequent statements).
macro_rules! key_columns {
    () => {
        "id, key_type, channel, state, participants, \
         wrapped IS NOT NULL, public, material_len, created_ns, state_changed_ns, activated_ns, \
         rotation_period_ns, usage_limit, usage_count, pad_consumed, replaces, overlap_until_ns, \
         early_retirement, prestaged"
    };
}

/// The columns [`from_row`] reads, in order.
pub(crate) const KEY_COLUMNS: &str = key_columns!();

fn corrupt(what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, what.into())
}

fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.map(|x| x as u64)
}

/// Build a record (without receipts) from a row selected with [`KEY_COLUMNS`].
pub(crate) fn from_row(r: &Row<'_>) -> Result<KeyRecord> {
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
        public_hex: public.map(|p| crate::lifecycle::audit::hex(&p)),
        material_len: r.get::<_, i64>(7)? as u64,
        created: SimTime(r.get::<_, i64>(8)? as u64),
        state_changed: SimTime(r.get::<_, i64>(9)? as u64),
        activated: opt_u64(r.get(10)?).map(SimTime),
        rotation_period: opt_u64(r.get(11)?).map(SimDuration),
        usage_limit: opt_u64(r.get(12)?),
        usage_count: r.get::<_, i64>(13)? as u64,
        pad_consumed: r.get::<_, i64>(14)? as u64,
        replaces: r.get::<_, Option<i64>>(15)?.map(KeyId),
        overlap_until: opt_u64(r.get(16)?).map(SimTime),
        early_retirement: r.get(17)?,
        prestaged: r.get(18)?,
    })
}

// ----- reads -----------------------------------------------------------------

// The queries the mesh's every rotation and timer tick run, with the index each must use
// (checked by `the_hot_key_queries_use_the_indexes_meant_for_them`).

/// [`other_active`]: by `keys_by_channel_live`.
const OTHER_ACTIVE: &str = "SELECT id FROM keys WHERE channel = ?1 AND key_type = ?2 AND state = 'ACTIVE' AND id != ?3";
/// [`active_replacement`]: by `keys_by_replaces` (one or two rows); `+state` keeps the planner
/// from scanning every ACTIVE key by `keys_by_state_age` instead.
const ACTIVE_REPLACEMENT: &str = "SELECT id FROM keys WHERE replaces = ?1 AND +state = 'ACTIVE'";
/// [`rotating_on_channel`] after the columns: by `keys_by_channel_live`.
macro_rules! rotating_on_channel_where {
    () => {
        "WHERE channel = ?1 AND key_type = ?2 AND state = 'ROTATING' ORDER BY id"
    };
}
/// [`rotating_on_channel`] after the columns, as a `&str`.
#[cfg(test)]
const ROTATING_ON_CHANNEL: &str = rotating_on_channel_where!();
/// [`live_on_channel`] after the columns: the keys in distribution, ACTIVE or ROTATING by
/// `keys_by_channel_live` (the condition is the index's own), then the RETIRED ones.
const LIVE_ON_CHANNEL: [&str; 2] = [
    "WHERE channel = ?1 AND key_type = ?2 \
     AND (state = 'GENERATED' OR state = 'DISTRIBUTED' OR state = 'ACTIVE' OR state = 'ROTATING')",
    "WHERE state = 'RETIRED' AND channel = ?1 AND key_type = ?2",
];
/// [`overlap_over`]: by `keys_by_overlap_end`.
const OVERLAP_OVER: &str = "SELECT id FROM keys WHERE state = 'ROTATING' AND overlap_until_ns IS NOT NULL AND overlap_until_ns <= ?1 ORDER BY id";
/// [`retired_before`]: by `keys_by_state_age`.
const RETIRED_BEFORE: &str = "SELECT id FROM keys WHERE state = 'RETIRED' AND state_changed_ns <= ?1 ORDER BY id";

/// Nodes that confirmed receipt of `id`, sorted.
pub fn receipts(conn: &Connection, id: KeyId) -> Result<Vec<String>> {
    let mut st = conn.prepare_cached("SELECT node FROM receipts WHERE key_id = ?1 ORDER BY node")?;
    let rows = st.query_map([id.0], |r| r.get(0))?;
    rows.collect()
}

/// One key with its receipts, or `UnknownKey`.
pub fn get_key(conn: &Connection, id: KeyId) -> std::result::Result<KeyRecord, LifecycleError> {
    let mut rec = load(conn, id)?.ok_or(LifecycleError::UnknownKey(id))?;
    rec.receipts = receipts(conn, id)?;
    Ok(rec)
}

/// All keys, optionally only those in `state`, by id.
pub fn list_keys(conn: &Connection, state: Option<KeyState>) -> std::result::Result<Vec<KeyRecord>, LifecycleError> {
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

/// One key without its receipts, if it exists.
pub(crate) fn load(conn: &Connection, id: KeyId) -> Result<Option<KeyRecord>> {
    let mut st = conn.prepare_cached(concat!("SELECT ", key_columns!(), " FROM keys WHERE id = ?1"))?;
    st.query_row([id.0], from_row).optional()
}

/// Just the stored state name of `id`, if it exists.
pub(crate) fn state_of(conn: &Connection, id: KeyId) -> Result<Option<String>> {
    conn.prepare_cached("SELECT state FROM keys WHERE id = ?1")?.query_row([id.0], |r| r.get(0)).optional()
}

/// The stored state name and participants (JSON) of `id`, if it exists.
pub(crate) fn state_and_participants(conn: &Connection, id: KeyId) -> Result<Option<(String, String)>> {
    conn.prepare_cached("SELECT state, participants FROM keys WHERE id = ?1")?
        .query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

/// What counting a use of `id` needs, if it exists.
pub(crate) fn usage_of(conn: &Connection, id: KeyId) -> Result<Option<UsageRow>> {
    conn.prepare_cached("SELECT key_type, state, usage_limit, usage_count, pad_consumed FROM keys WHERE id = ?1")?
        .query_row([id.0], |r| {
            let kt: String = r.get(0)?;
            let st: String = r.get(1)?;
            Ok(UsageRow {
                key_type: kt.parse().map_err(corrupt)?,
                state: st.parse().map_err(corrupt)?,
                usage_limit: opt_u64(r.get(2)?),
                usage_count: r.get::<_, i64>(3)? as u64,
                pad_consumed: r.get::<_, i64>(4)? as u64,
            })
        })
        .optional()
}

/// The columns of a key that its use is checked against and counted in.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UsageRow {
    /// Key type.
    pub key_type: KeyType,
    /// State.
    pub state: KeyState,
    /// Usage limit of the type, if any.
    pub usage_limit: Option<u64>,
    /// Uses counted so far.
    pub usage_count: u64,
    /// One-time-pad bytes consumed.
    pub pad_consumed: u64,
}

/// (id, stored state name) of every key.
pub(crate) fn states(conn: &Connection) -> Result<Vec<(KeyId, String)>> {
    let mut st = conn.prepare_cached("SELECT id, state FROM keys")?;
    let rows = st.query_map([], |r| Ok((KeyId(r.get(0)?), r.get(1)?)))?;
    rows.collect()
}

/// The wrapped material of `id`: `None` when no such key, `Some(None)` when none is stored.
pub(crate) fn wrapped_material(conn: &Connection, id: KeyId) -> Result<Option<Option<Vec<u8>>>> {
    conn.prepare_cached("SELECT wrapped FROM keys WHERE id = ?1")?.query_row([id.0], |r| r.get(0)).optional()
}

/// (id, key type name) of every key whose wrapped material is still stored.
pub(crate) fn with_material(conn: &Connection) -> Result<Vec<(KeyId, String)>> {
    let mut st = conn.prepare("SELECT id, key_type FROM keys WHERE wrapped IS NOT NULL")?;
    let rows = st.query_map([], |r| Ok((KeyId(r.get(0)?), r.get(1)?)))?;
    rows.collect()
}

/// The ACTIVE key of (`channel`, `kt`) other than `except`, if any.
pub(crate) fn other_active(conn: &Connection, channel: &str, kt: KeyType, except: KeyId) -> Result<Option<KeyId>> {
    conn.prepare_cached(OTHER_ACTIVE)?
        .query_row(params![channel, kt.as_str(), except.0], |r| r.get(0).map(KeyId))
        .optional()
}

/// The ACTIVE key that replaces `id`, if any.
pub(crate) fn active_replacement(conn: &Connection, id: KeyId) -> Result<Option<KeyId>> {
    conn.prepare_cached(ACTIVE_REPLACEMENT)?.query_row([id.0], |r| r.get(0).map(KeyId)).optional()
}

/// A replacement of `id` still in distribution (GENERATED or DISTRIBUTED), if any.
pub(crate) fn pending_replacement(conn: &Connection, id: KeyId) -> Result<Option<KeyId>> {
    conn.prepare_cached("SELECT id FROM keys WHERE replaces = ?1 AND state IN ('GENERATED','DISTRIBUTED') LIMIT 1")?
        .query_row([id.0], |r| r.get(0).map(KeyId))
        .optional()
}

/// The ACTIVE keys of type `kt` whose channel starts with `prefix` (delivered keys not yet
/// collected), by id.
pub(crate) fn active_with_channel_prefix(conn: &Connection, prefix: &str, kt: KeyType) -> Result<Vec<KeyRecord>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM keys WHERE state = 'ACTIVE' AND key_type = ?2 \
         AND substr(channel, 1, length(?1)) = ?1 ORDER BY id"
    ))?;
    let rows = st.query_map(params![prefix, kt.as_str()], from_row)?;
    rows.collect()
}

/// The ROTATING keys of a channel (by index, without loading its archive of RETIRED keys,
/// which grows with every rotation).
pub(crate) fn rotating_on_channel(conn: &Connection, channel: &str, kt: KeyType) -> Result<Vec<KeyRecord>> {
    let mut st =
        conn.prepare_cached(concat!("SELECT ", key_columns!(), " FROM keys ", rotating_on_channel_where!()))?;
    let rows = st.query_map(params![channel, kt.as_str()], from_row)?;
    rows.collect()
}

/// The keys of a channel that are neither REVOKED nor DESTROYED, by id: those in
/// distribution, ACTIVE or ROTATING by the partial `keys_by_channel_live` index, the RETIRED
/// ones (which no channel index holds, see [`crate::lifecycle::store::KEY_INDEXES`]) by a
/// scan of the RETIRED keys — this serves emergency rotations and compromise recovery only.
pub(crate) fn live_on_channel(conn: &Connection, channel: &str, kt: KeyType) -> Result<Vec<KeyRecord>> {
    let mut out = Vec::new();
    for sql in LIVE_ON_CHANNEL {
        let mut st = conn.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM keys {sql}"))?;
        for r in st.query_map(params![channel, kt.as_str()], from_row)? {
            out.push(r?);
        }
    }
    out.sort_by_key(|k| k.id);
    Ok(out)
}

/// The AUDIT_SIGNING key that signs checkpoints: the ACTIVE one, else the most recently
/// activated ROTATING one.
pub(crate) fn current_audit_signer(conn: &Connection) -> Result<Option<KeyId>> {
    conn.query_row(
        "SELECT id FROM keys WHERE key_type = 'AUDIT_SIGNING' AND state IN ('ACTIVE','ROTATING') \
         ORDER BY (state = 'ACTIVE') DESC, activated_ns DESC LIMIT 1",
        [],
        |r| r.get(0).map(KeyId),
    )
    .optional()
}

/// ROTATING keys whose overlap ended at or before `now`, by id (by index: a timer tick
/// costs time per due key, not per key ever archived).
pub(crate) fn overlap_over(conn: &Connection, now: SimTime) -> Result<Vec<KeyId>> {
    ids(conn, OVERLAP_OVER, now)
}

/// RETIRED keys whose state last changed at or before `changed_by`, by id.
pub(crate) fn retired_before(conn: &Connection, changed_by: SimTime) -> Result<Vec<KeyId>> {
    ids(conn, RETIRED_BEFORE, changed_by)
}

fn ids(conn: &Connection, sql: &str, at: SimTime) -> Result<Vec<KeyId>> {
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map([at.0 as i64], |r| r.get(0).map(KeyId))?;
    rows.collect()
}

/// Whether `node` was isolated after a compromise.
pub(crate) fn is_isolated(conn: &Connection, node: &str) -> Result<bool> {
    Ok(conn.prepare_cached("SELECT 1 FROM nodes WHERE node = ?1")?.query_row([node], |_| Ok(())).optional()?.is_some())
}

/// Every isolated node.
pub(crate) fn isolated_nodes(conn: &Connection) -> Result<Vec<String>> {
    let mut st = conn.prepare_cached("SELECT node FROM nodes")?;
    let rows = st.query_map([], |r| r.get(0))?;
    rows.collect()
}

// ----- writes (the engine calls these inside a transaction) ------------------------

/// The columns of a new GENERATED key row.
pub(crate) struct KeyRow<'a> {
    /// Key type.
    pub key_type: KeyType,
    /// Channel.
    pub channel: &'a str,
    /// Participants as JSON.
    pub participants_json: &'a str,
    /// Material length, bytes.
    pub material_len: usize,
    /// Creation time, ns.
    pub created: SimTime,
    /// Rotation period of the type, ns.
    pub rotation_period: Option<SimDuration>,
    /// Usage limit of the type.
    pub usage_limit: Option<u64>,
    /// The key this one replaces.
    pub replaces: Option<KeyId>,
    /// Pre-staged for emergency re-keying.
    pub prestaged: bool,
}

/// Inserts the GENERATED row of the key `id` (from [`next_id`]) with its `wrapped` material
/// and `public` key: one row write, where an insert without material and an update adding it
/// wrote the row twice.
pub(crate) fn insert_generated(
    conn: &Connection,
    id: KeyId,
    row: &KeyRow<'_>,
    wrapped: &[u8],
    public: Option<&[u8]>,
) -> Result<()> {
    insert_row(conn, Some(id), row, KeyState::Generated, Some(wrapped), public).map(|_| ())
}

/// Inserts a GENERATED key row without material (an operator-held SOVEREIGN_MASTER's) and
/// returns its id.
pub(crate) fn insert_without_material(conn: &Connection, row: &KeyRow<'_>) -> Result<KeyId> {
    insert_row(conn, None, row, KeyState::Generated, None, None)
}

/// Inserts a key row in `state` at `row.created` (activated then, if ACTIVE) with `wrapped`
/// material and `public` key, as `id` (else the next rowid); returns its id.
fn insert_row(
    conn: &Connection,
    id: Option<KeyId>,
    row: &KeyRow<'_>,
    state: KeyState,
    wrapped: Option<&[u8]>,
    public: Option<&[u8]>,
) -> Result<KeyId> {
    let activated = (state == KeyState::Active).then_some(row.created.0 as i64);
    conn.prepare_cached(
        "INSERT INTO keys(id, key_type, channel, state, participants, wrapped, public, material_len, created_ns, \
         state_changed_ns, activated_ns, rotation_period_ns, usage_limit, replaces, prestaged) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?14, ?7, ?8, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        id.map(|k| k.0),
        row.key_type.as_str(),
        row.channel,
        state.as_str(),
        row.participants_json,
        wrapped,
        row.material_len as i64,
        row.created.0 as i64,
        activated,
        row.rotation_period.map(|v| v.0 as i64),
        row.usage_limit.map(|v| v as i64),
        row.replaces.map(|k| k.0),
        row.prestaged,
        public,
    ])?;
    Ok(KeyId(conn.last_insert_rowid()))
}

/// The ACTIVE keys, by id, past their rotation period at `now`, at their usage limit, or (a
/// QKD_TRANSPORT one-time pad) with less than 1/8 of their material left.
pub(crate) fn due_for_rotation(conn: &Connection, now: SimTime) -> Result<Vec<KeyId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM keys WHERE state = 'ACTIVE' AND ( \
           (rotation_period_ns IS NOT NULL AND activated_ns IS NOT NULL \
              AND max(?1 - activated_ns, 0) >= rotation_period_ns) \
           OR (usage_limit IS NOT NULL AND usage_count >= usage_limit) \
           OR (key_type = 'QKD_TRANSPORT' AND max(material_len - pad_consumed, 0) * 8 < material_len)) \
         ORDER BY id",
    )?;
    let ids = stmt.query_map([now.0 as i64], |r| r.get(0).map(KeyId))?;
    ids.collect()
}

/// The id the next inserted key row gets (SQLite gives a rowid one above the largest).
pub(crate) fn next_id(conn: &Connection) -> Result<KeyId> {
    conn.prepare_cached("SELECT coalesce(max(id), 0) + 1 FROM keys")?.query_row([], |r| r.get(0).map(KeyId))
}

/// Inserts the row of a key taken GENERATED → DISTRIBUTED → ACTIVE at `row.created` in one
/// transaction, as `id` with its wrapped material: the row those three transitions leave.
pub(crate) fn insert_active(conn: &Connection, id: KeyId, row: &KeyRow<'_>, wrapped: &[u8]) -> Result<()> {
    insert_row(conn, Some(id), row, KeyState::Active, Some(wrapped), None).map(|_| ())
}

/// Sets the state of `id` at `now` (and its activation time when `to` is ACTIVE); with
/// `erase`, the wrapped material is erased.
pub(crate) fn set_state(conn: &Connection, id: KeyId, to: KeyState, now: SimTime, erase: bool) -> Result<()> {
    conn.prepare_cached(
        "UPDATE keys SET state = ?2, state_changed_ns = ?3, \
         activated_ns = CASE WHEN ?2 = 'ACTIVE' THEN ?3 ELSE activated_ns END, \
         wrapped = CASE WHEN ?4 THEN NULL ELSE wrapped END WHERE id = ?1",
    )?
    .execute(params![id.0, to.as_str(), now.0 as i64, erase])?;
    Ok(())
}

/// Replaces the wrapped material of `id` (master rotation).
pub(crate) fn set_wrapped(conn: &Connection, id: KeyId, wrapped: &[u8]) -> Result<()> {
    conn.prepare_cached("UPDATE keys SET wrapped = ?2 WHERE id = ?1")?.execute(params![id.0, wrapped])?;
    Ok(())
}

/// Marks `id` for early retirement (a triggered rotation).
pub(crate) fn mark_early_retirement(conn: &Connection, id: KeyId) -> Result<()> {
    conn.prepare_cached("UPDATE keys SET early_retirement = 1 WHERE id = ?1")?.execute([id.0])?;
    Ok(())
}

/// Takes the ACTIVE key `id` to ROTATING at `now` with its decryption overlap ending at
/// `until`: [`set_state`] and [`set_overlap_until`] in one row update.
pub(crate) fn begin_rotation_until(conn: &Connection, id: KeyId, now: SimTime, until: SimTime) -> Result<()> {
    conn.prepare_cached(
        "UPDATE keys SET state = 'ROTATING', state_changed_ns = ?2, overlap_until_ns = ?3 WHERE id = ?1",
    )?
    .execute(params![id.0, now.0 as i64, until.0 as i64])?;
    Ok(())
}

/// Sets the end of the decryption overlap of the ROTATING key `id`.
pub(crate) fn set_overlap_until(conn: &Connection, id: KeyId, until: SimTime) -> Result<()> {
    conn.prepare_cached("UPDATE keys SET overlap_until_ns = ?2 WHERE id = ?1")?
        .execute(params![id.0, until.0 as i64])?;
    Ok(())
}

/// Counts `n` more uses of `id`.
pub(crate) fn add_uses(conn: &Connection, id: KeyId, n: u64) -> Result<()> {
    conn.prepare_cached("UPDATE keys SET usage_count = usage_count + ?2 WHERE id = ?1")?
        .execute(params![id.0, n as i64])?;
    Ok(())
}

/// Stores the one-time-pad bytes consumed of `id`.
pub(crate) fn set_pad_consumed(conn: &Connection, id: KeyId, consumed: u64) -> Result<()> {
    conn.prepare_cached("UPDATE keys SET pad_consumed = ?2 WHERE id = ?1")?.execute(params![id.0, consumed as i64])?;
    Ok(())
}

/// Records `node`'s receipt of `id` at `now`; false when it was already recorded.
pub(crate) fn add_receipt(conn: &Connection, id: KeyId, node: &str, now: SimTime) -> Result<bool> {
    let added = conn
        .prepare_cached("INSERT OR IGNORE INTO receipts(key_id, node, at_ns) VALUES (?1, ?2, ?3)")?
        .execute(params![id.0, node, now.0 as i64])?;
    Ok(added == 1)
}

/// Forgets every receipt of `id` (its distribution failed).
pub(crate) fn clear_receipts(conn: &Connection, id: KeyId) -> Result<()> {
    conn.prepare_cached("DELETE FROM receipts WHERE key_id = ?1")?.execute([id.0])?;
    Ok(())
}

/// Records `node` as isolated at `now` (kept from the first isolation).
pub(crate) fn isolate_node(conn: &Connection, node: &str, now: SimTime) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO nodes(node, isolated_ns) VALUES (?1, ?2)")?
        .execute(params![node, now.0 as i64])?;
    Ok(())
}

/// Takes `node` off the isolated list (it was re-provisioned).
pub(crate) fn reinstate_node(conn: &Connection, node: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM nodes WHERE node = ?1")?.execute([node])?;
    Ok(())
}

/// Replaces the master-key check value.
pub(crate) fn set_master_check(conn: &Connection, check: &[u8]) -> Result<()> {
    conn.execute("UPDATE meta SET value = ?1 WHERE name = 'master_check'", [check])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan SQLite chooses for `sql` on a store with the current schema, one line per step.
    fn plan(sql: &str) -> String {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::lifecycle::store::SCHEMA).unwrap();
        conn.execute_batch(crate::lifecycle::store::KEY_INDEXES).unwrap();
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        // Unbound parameters (NULL): the plan does not depend on them.
        let mut rows = st.raw_query();
        let mut steps = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            steps.push(r.get::<_, String>(3).unwrap());
        }
        steps.join("; ")
    }

    #[test]
    fn the_hot_key_queries_use_the_indexes_meant_for_them() {
        let select = |rest: &str| format!("SELECT id FROM keys {rest}");
        let cases = [
            (OTHER_ACTIVE.to_string(), "INDEX keys_by_channel_live (channel=? AND key_type=? AND state=?)"),
            (ACTIVE_REPLACEMENT.to_string(), "INDEX keys_by_replaces (replaces=?)"),
            (select(ROTATING_ON_CHANNEL), "INDEX keys_by_channel_live (channel=? AND key_type=? AND state=?)"),
            (select(LIVE_ON_CHANNEL[0]), "INDEX keys_by_channel_live (channel=? AND key_type=? AND state=?)"),
            (select(LIVE_ON_CHANNEL[1]), "INDEX keys_by_state_age (state=?)"),
            (
                OVERLAP_OVER.to_string(),
                "INDEX keys_by_overlap_end (state=? AND overlap_until_ns>? AND overlap_until_ns<?)",
            ),
            (RETIRED_BEFORE.to_string(), "INDEX keys_by_state_age (state=? AND state_changed_ns<?)"),
        ];
        for (sql, index) in cases {
            let plan = plan(&sql);
            assert!(plan.contains(index), "{sql}\n  planned as: {plan}\n  expected: {index}");
        }
    }
}
