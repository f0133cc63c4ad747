//! Replays the audit chain: the key states it tells ([`replay_states`]), and the chain
//! checked against the store's tables, so a key row changed by SQL behind
//! the engine's back is caught even though the chain itself is intact.
//!
//! The chain says, for every key: its type, channel and participants (its `generate`
//! record), every state change (each one an edge of the spec's diagram, checked with
//! [`Transition::allowed_from`]), and every receipt (`receipt` records; a
//! `distribution_failure` clears them, as the engine deletes them). Recovery's
//! `recovery:isolate` records name the isolated nodes. [`Replay`] folds those records in
//! order; [`Replay::compare_with_tables`] then reads `keys`, `receipts` and `nodes` and
//! names the first row that disagrees: a REVOKED key set back to ACTIVE, an emptied
//! receipts table, a key row inserted or deleted, a destroyed key whose material is still
//! stored, a missing table.
//!
//! Columns the chain does not describe (usage counters, pad offsets, the wrapped material
//! itself, which is bound to its key id by the AEAD) are not compared.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;

use super::{AuditFailure, AuditRecord};
use crate::lifecycle::{KeyId, KeyState, Transition};

/// Type, channel and participants of a key as its `generate` record states them.
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    key_type: String,
    channel: String,
    participants: Vec<String>,
}

/// What the chain says about one key so far.
#[derive(Debug)]
struct KeyReplay {
    state: KeyState,
    /// The record that set `state`.
    state_seq: u64,
    origin: Origin,
    receipts: BTreeSet<String>,
}

/// The chain folded record by record.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    keys: BTreeMap<KeyId, KeyReplay>,
    isolated: BTreeMap<String, u64>,
}

/// The value of `name=` in a record's `; `-separated detail.
fn detail_field<'a>(detail: &'a str, name: &str) -> Option<&'a str> {
    detail.split("; ").find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
}

fn origin_of(rec: &AuditRecord) -> Origin {
    let key_type = detail_field(&rec.detail, "type").unwrap_or_default().to_string();
    if key_type == "SOVEREIGN_MASTER" {
        // The operator's master: held by the engine's actor, recorded against the store.
        return Origin { key_type, channel: "store".into(), participants: vec![rec.actor.clone()] };
    }
    Origin {
        key_type,
        channel: detail_field(&rec.detail, "channel").unwrap_or_default().to_string(),
        participants: detail_field(&rec.detail, "participants")
            .map(|p| p.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
    }
}

impl Replay {
    /// Folds one verified record in.
    pub(crate) fn apply(&mut self, rec: &AuditRecord) -> Result<(), AuditFailure> {
        let bad = |reason: String| AuditFailure::Malformed { seq: rec.seq, reason };
        if rec.event == "recovery:isolate" {
            if let Some(node) = detail_field(&rec.detail, "node") {
                self.isolated.entry(node.to_string()).or_insert(rec.seq);
            }
            return Ok(());
        }
        if rec.event == "recovery:reprovision" {
            // The node was re-provisioned: no longer isolated (until a later isolation).
            if let Some(node) = detail_field(&rec.detail, "node") {
                self.isolated.remove(node);
            }
            return Ok(());
        }
        let Some(id) = rec.key_id else { return Ok(()) };
        if rec.event == "generate" {
            if rec.from.is_some() || rec.to != Some(KeyState::Generated) {
                return Err(bad(format!("generate record of {id} does not lead to GENERATED")));
            }
            let replay = KeyReplay {
                state: KeyState::Generated,
                state_seq: rec.seq,
                origin: origin_of(rec),
                receipts: BTreeSet::new(),
            };
            if self.keys.insert(id, replay).is_some() {
                return Err(bad(format!("{id} is generated twice")));
            }
            return Ok(());
        }
        let Some(key) = self.keys.get_mut(&id) else {
            return Err(bad(format!("{id} appears before its generate record")));
        };
        if rec.event == "receipt" {
            let node = detail_field(&rec.detail, "node").unwrap_or_default();
            if !key.origin.participants.iter().any(|p| p == node) {
                return Err(bad(format!("receipt of {id} from {node:?}, not a participant")));
            }
            key.receipts.insert(node.to_string());
            return Ok(());
        }
        let Some(to) = rec.to else { return Ok(()) };
        let from = rec.from.ok_or_else(|| bad(format!("state change of {id} without a previous state")))?;
        if from != key.state {
            return Err(bad(format!("{id} moves from {from}, but the chain left it {}", key.state)));
        }
        let Ok(transition) = rec.event.parse::<Transition>() else {
            return Err(bad(format!("{id}: unknown transition {:?}", rec.event)));
        };
        if transition.target() != to || !transition.allowed_from(from) {
            return Err(bad(format!("{id}: {from} -> {to} by {transition} is not an edge of the lifecycle")));
        }
        if transition == Transition::DistributionFailure {
            key.receipts.clear();
        }
        key.state = to;
        key.state_seq = rec.seq;
        Ok(())
    }

    /// Keys replayed.
    pub(crate) fn key_count(&self) -> u64 {
        self.keys.len() as u64
    }

    /// Compares the folded chain with the `keys`, `receipts` and `nodes` tables; the first
    /// disagreement is returned as a failure naming the key (or node) and the record.
    pub(crate) fn compare_with_tables(&self, conn: &Connection) -> Result<(), AuditFailure> {
        let table = |name: &str, e: rusqlite::Error| AuditFailure::Tables { reason: format!("{name} table: {e}") };
        let mut rows = self.keys.iter();
        let mut st = conn
            .prepare("SELECT id, key_type, channel, state, participants, wrapped IS NULL FROM keys ORDER BY id")
            .map_err(|e| table("keys", e))?;
        let mut cursor = st.query([]).map_err(|e| table("keys", e))?;
        let mut receipts: BTreeMap<KeyId, BTreeSet<String>> = BTreeMap::new();
        {
            let mut st = conn.prepare("SELECT key_id, node FROM receipts").map_err(|e| table("receipts", e))?;
            let mut r = st.query([]).map_err(|e| table("receipts", e))?;
            while let Some(row) = r.next().map_err(|e| table("receipts", e))? {
                let (k, node): (i64, String) =
                    (row.get(0).map_err(|e| table("receipts", e))?, row.get(1).map_err(|e| table("receipts", e))?);
                receipts.entry(KeyId(k)).or_default().insert(node);
            }
        }
        let mismatch = |key: KeyId, seq: u64, reason: String| AuditFailure::KeyMismatch { key, seq, reason };
        let missing_row =
            |id: KeyId, k: &KeyReplay| mismatch(id, k.state_seq, "in the audit chain but not in the keys table".into());
        while let Some(row) = cursor.next().map_err(|e| table("keys", e))? {
            let id = KeyId(row.get(0).map_err(|e| table("keys", e))?);
            let replay = match rows.next() {
                Some((&want, k)) if want == id => k,
                Some((&want, k)) if want < id => return Err(missing_row(want, k)),
                _ => return Err(mismatch(id, 0, "in the keys table but never generated in the audit chain".into())),
            };
            let get_text = |i: usize| row.get::<_, String>(i).map_err(|e| table("keys", e));
            let (key_type, channel, state, participants) = (get_text(1)?, get_text(2)?, get_text(3)?, get_text(4)?);
            let erased: bool = row.get(5).map_err(|e| table("keys", e))?;
            let seq = replay.state_seq;
            if state != replay.state.as_str() {
                return Err(mismatch(
                    id,
                    seq,
                    format!("the keys table says {state}, the audit chain {}", replay.state),
                ));
            }
            let participants: Vec<String> = serde_json::from_str(&participants).unwrap_or_default();
            let origin = Origin { key_type, channel, participants };
            if origin != replay.origin {
                return Err(mismatch(
                    id,
                    seq,
                    format!(
                        "the keys table says {} on {} for {:?}, its generate record {} on {} for {:?}",
                        origin.key_type,
                        origin.channel,
                        origin.participants,
                        replay.origin.key_type,
                        replay.origin.channel,
                        replay.origin.participants
                    ),
                ));
            }
            if replay.state == KeyState::Destroyed && !erased {
                return Err(mismatch(id, seq, "DESTROYED, but its wrapped material is still stored".into()));
            }
            let stored = receipts.remove(&id).unwrap_or_default();
            if stored != replay.receipts {
                return Err(mismatch(
                    id,
                    seq,
                    format!("receipts in the table {stored:?}, in the audit chain {:?}", replay.receipts),
                ));
            }
        }
        if let Some((&id, k)) = rows.next() {
            return Err(missing_row(id, k));
        }
        if let Some((id, nodes)) = receipts.into_iter().next() {
            return Err(mismatch(id, 0, format!("receipts {nodes:?} of a key the keys table does not hold")));
        }
        let mut st = conn.prepare("SELECT node FROM nodes").map_err(|e| table("nodes", e))?;
        let isolated: BTreeSet<String> =
            st.query_map([], |r| r.get(0)).and_then(|rows| rows.collect()).map_err(|e| table("nodes", e))?;
        for (node, seq) in &self.isolated {
            if !isolated.contains(node) {
                return Err(AuditFailure::Tables {
                    reason: format!("node {node} was isolated by record {seq} but the nodes table does not hold it"),
                });
            }
        }
        if let Some(node) = isolated.iter().find(|n| !self.isolated.contains_key(*n)) {
            return Err(AuditFailure::Tables {
                reason: format!("node {node} is isolated in the nodes table but no audit record isolated it"),
            });
        }
        Ok(())
    }
}

/// Key states as the audit chain tells them: the `to` state of the last record of each key.
pub fn replay_states(conn: &Connection) -> Result<BTreeMap<KeyId, KeyState>, rusqlite::Error> {
    let mut st = conn.prepare(
        "SELECT key_id, to_state FROM audit WHERE key_id IS NOT NULL AND to_state IS NOT NULL \
         AND to_state != '' ORDER BY seq",
    )?;
    let mut out = BTreeMap::new();
    let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (k, s) = row?;
        if let Ok(state) = s.parse() {
            out.insert(KeyId(k), state);
        }
    }
    Ok(out)
}
