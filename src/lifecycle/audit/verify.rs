//! The verification of a store's audit log: every record's hash and link, every
//! checkpoint's head, Merkle root and signature, the caller's pinned keys and known head,
//! the tables beside the chain, and SQLite's integrity check. The outcome is a [`Verdict`]:
//! verified (with a [`VerifyReport`]) or failed (with the first [`AuditFailure`]).

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde::Serialize;

use super::checkpoint::{checkpoint_message, read_checkpoints};
use super::failure::AuditFailure;
use super::record::{AuditRecord, GENESIS_HASH, hex, record_leaf};
use super::replay::Replay;
use crate::crypto::verify_audit_signature;
use crate::lifecycle::merkle::MerkleFrontier;
use crate::lifecycle::{KeyId, KeyState, LifecycleError};

/// What the caller trusts from outside the store.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// AUDIT_SIGNING public keys (Ed25519, 32 bytes) the caller trusts. When any are given,
    /// every checkpoint must be signed by one of them, at least one checkpoint must exist and
    /// no record may follow the last one: the report is then authenticated.
    pub pinned: Vec<[u8; 32]>,
    /// A signed tree head the caller saw earlier: the store must still hold those records,
    /// with the same Merkle root.
    pub known_head: Option<KnownHead>,
}

impl VerifyOptions {
    /// Every checkpoint must be signed by one of the `pinned` Ed25519 public keys, at least
    /// one must be, and no record may follow the last checkpoint, so an attacker who rewrote
    /// the chain and removed or re-signed its checkpoints with a key of their own is caught.
    pub fn pinned_to(pinned: &[[u8; 32]]) -> Self {
        VerifyOptions { pinned: pinned.to_vec(), known_head: None }
    }
}

/// A tree size and Merkle root the caller kept from an earlier verification or proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownHead {
    /// Records covered.
    pub size: u64,
    /// RFC 6962 Merkle tree hash of records 1..=size.
    pub root: [u8; 32],
}

impl std::str::FromStr for KnownHead {
    type Err = String;
    /// Parses `SIZE:ROOT` (ROOT 64 hex digits), as `qecnet audit verify` prints it.
    fn from_str(s: &str) -> Result<Self, String> {
        let (size, root) = s.split_once(':').ok_or_else(|| format!("{s:?}: expected SIZE:ROOT (64 hex digits)"))?;
        let size: u64 = size.trim().parse().map_err(|_| format!("{s:?}: the tree size {size:?} is not a count"))?;
        if size == 0 {
            return Err(format!("{s:?}: a signed head covers at least one record"));
        }
        let root = crate::lifecycle::audit_proof::parse_hex32("root", root)?;
        Ok(KnownHead { size, root })
    }
}

/// Result of a successful verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Records whose hash and link verified.
    pub records: u64,
    /// Checkpoints whose signature and head verified.
    pub checkpoints: u64,
    /// Records after the last checkpoint (hash-chained, not yet signed).
    pub unsigned_tail: u64,
    /// Hash of the last record (hex).
    pub head_hex: String,
    /// RFC 6962 Merkle tree hash of every record (hex).
    pub root_hex: String,
    /// Tree size of the last signed checkpoint (0 when none): keep it with
    /// `signed_root_hex` and pass it back as a known head next time.
    pub signed_size: u64,
    /// Merkle root of the last signed checkpoint (hex; empty when none).
    pub signed_root_hex: String,
    /// Keys whose table row matches the replayed chain.
    pub keys: u64,
    /// Whether the signatures were checked against keys pinned by the caller. When false,
    /// they were checked with public keys read from the store itself, which whoever can
    /// write the store can replace: nothing was authenticated.
    pub authenticated: bool,
    /// Public keys (hex) of the AUDIT_SIGNING keys that signed checkpoints, by key id.
    /// Compare them with a copy kept elsewhere, or pin them with [`VerifyOptions::pinned`].
    pub signers: BTreeMap<KeyId, String>,
}

/// The outcome of a verification that could read the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Everything verified.
    Verified(VerifyReport),
    /// The first failure, naming the record.
    Failed(AuditFailure),
}

impl Verdict {
    /// Whether everything verified.
    pub fn is_verified(&self) -> bool {
        matches!(self, Verdict::Verified(_))
    }

    /// The verdict as a `Result`: the report, or the failure.
    pub fn into_result(self) -> Result<VerifyReport, AuditFailure> {
        match self {
            Verdict::Verified(report) => Ok(report),
            Verdict::Failed(failure) => Err(failure),
        }
    }
}

impl From<Result<VerifyReport, AuditFailure>> for Verdict {
    fn from(result: Result<VerifyReport, AuditFailure>) -> Self {
        match result {
            Ok(report) => Verdict::Verified(report),
            Err(failure) => Verdict::Failed(failure),
        }
    }
}

/// The whole verification: every record's hash and link, every checkpoint's head, root and
/// signature, the caller's pins and known head, the keys, receipts and nodes tables against
/// the replayed chain, and SQLite's integrity check. Runs in one read transaction, so a
/// writer appending meanwhile does not disturb it.
///
/// `Err` = the store could not be read at all; a store unreadable half-way is a
/// [`Verdict::Failed`] naming the last record that verified.
pub fn verify(conn: &Connection, options: &VerifyOptions) -> Result<Verdict, LifecycleError> {
    Ok(verify_in_read_transaction(conn, options)?)
}

fn verify_in_read_transaction(conn: &Connection, options: &VerifyOptions) -> Result<Verdict, rusqlite::Error> {
    let own_transaction = conn.is_autocommit();
    if own_transaction {
        conn.execute_batch("BEGIN")?;
    }
    let verdict = Verdict::from(verify_in_snapshot(conn, options));
    if own_transaction {
        let _ = conn.execute_batch("ROLLBACK");
    }
    Ok(verdict)
}

/// A stored state exactly as the engine writes it: NULL for none, else the state's name in
/// capitals. Other spellings (an empty string, lower case) would hash the same, so a store
/// holding them is not what the engine wrote and is refused (found by fuzzing).
fn parse_state(seq: u64, s: Option<String>) -> Result<Option<KeyState>, AuditFailure> {
    let Some(s) = s else { return Ok(None) };
    match s.parse::<KeyState>() {
        Ok(state) if state.as_str() == s => Ok(Some(state)),
        _ => Err(AuditFailure::Malformed { seq, reason: format!("state {s:?} is not one the engine writes") }),
    }
}

/// The verification inside the read transaction; `Err` is the first failure.
fn verify_in_snapshot(conn: &Connection, options: &VerifyOptions) -> Result<VerifyReport, AuditFailure> {
    let pinned = (!options.pinned.is_empty()).then_some(options.pinned.as_slice());
    let unreadable =
        |seq: u64, e: rusqlite::Error| AuditFailure::Unreadable { last_verified: seq, reason: e.to_string() };
    let read_keys = || -> Result<BTreeMap<i64, Vec<u8>>, rusqlite::Error> {
        let mut st = conn.prepare("SELECT key_id, public FROM audit_keys")?;
        st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?.collect()
    };
    let (keys, cps) = read_keys().and_then(|k| Ok((k, read_checkpoints(conn)?))).map_err(|e| unreadable(0, e))?;
    let mut st = conn
        .prepare(
            "SELECT seq, at_ns, event, key_id, from_state, to_state, actor, detail, prev_hash, hash \
             FROM audit ORDER BY seq",
        )
        .map_err(|e| unreadable(0, e))?;
    let mut rows = st.query([]).map_err(|e| unreadable(0, e))?;
    let mut prev = GENESIS_HASH;
    let mut tree = MerkleFrontier::default();
    let mut replay = Replay::default();
    let mut expected = 1u64;
    let mut checkpoints = 0u64;
    let mut last_cp = 0u64;
    let mut last_cp_root = None;
    let mut signers = BTreeMap::new();
    while let Some(r) = rows.next().map_err(|e| unreadable(expected - 1, e))? {
        let (rec, stored_prev, stored_hash) = read_record(r, expected - 1)?;
        let seq = rec.seq;
        if seq != expected {
            return Err(if seq > expected {
                AuditFailure::Missing { seq: expected }
            } else {
                AuditFailure::Malformed { seq, reason: "duplicate sequence number".into() }
            });
        }
        let stored_prev: [u8; 32] = stored_prev.try_into().map_err(|_| AuditFailure::Edited { seq })?;
        let hash = rec.hash(&stored_prev);
        if hash.as_slice() != stored_hash.as_slice() {
            return Err(AuditFailure::Edited { seq });
        }
        if stored_prev != prev {
            return Err(AuditFailure::BrokenLink { seq });
        }
        // The link holds (stored_prev == prev): the record's hash over the chain is the one
        // just computed, not hashed again.
        prev = hash;
        tree.push(record_leaf(&prev));
        replay.apply(&rec)?;
        if let Some(known) = &options.known_head
            && known.size == seq
            && tree.root() != known.root
        {
            return Err(AuditFailure::KnownHeadMismatch { size: seq });
        }
        if let Some(cp) = cps.get(&seq) {
            if cp.head.as_slice() != prev.as_slice() {
                return Err(AuditFailure::CheckpointMismatch { seq });
            }
            let root = tree.root();
            if cp.root.as_ref().is_some_and(|r| r.as_slice() != root.as_slice()) {
                return Err(AuditFailure::CheckpointMismatch { seq });
            }
            let signer = cp.signer;
            let Some(public) = keys.get(&signer.0) else {
                return Err(AuditFailure::BadSignature { seq, reason: format!("unknown signer {signer}") });
            };
            let pinned_ok = pinned.is_none_or(|pins| pins.iter().any(|p| p.as_slice() == public.as_slice()));
            if !pinned_ok {
                return Err(AuditFailure::BadSignature {
                    seq,
                    reason: format!("signer {signer} is not one of the pinned audit keys"),
                });
            }
            signers.insert(signer, hex(public));
            let msg = checkpoint_message(seq, cp.at_ns, &prev, cp.root.is_some().then_some(&root), signer);
            verify_audit_signature(public, &msg, &cp.signature)
                .map_err(|e| AuditFailure::BadSignature { seq, reason: e.to_string() })?;
            checkpoints += 1;
            last_cp = seq;
            last_cp_root = Some(root);
        }
        expected += 1;
    }
    drop(rows);
    let records = expected - 1;
    if let Some((&seq, _)) = cps.range(expected..).next() {
        return Err(AuditFailure::CheckpointBeyondChain { seq });
    }
    if pinned.is_some() {
        if checkpoints == 0 {
            return Err(AuditFailure::NoSignedCheckpoint { records });
        }
        if last_cp < records {
            return Err(AuditFailure::UnsignedRecords { first: last_cp + 1, last_signed: last_cp });
        }
    }
    if let Some(known) = &options.known_head {
        let found = if pinned.is_some() { last_cp } else { records };
        if known.size > found {
            return Err(AuditFailure::ShorterThanKnownHead { known: known.size, found });
        }
    }
    replay.compare_with_tables(conn)?;
    integrity_check(conn)?;
    Ok(VerifyReport {
        records,
        checkpoints,
        unsigned_tail: records - last_cp,
        head_hex: hex(&prev),
        root_hex: hex(&tree.root()),
        signed_size: last_cp,
        signed_root_hex: last_cp_root.map(|r| hex(&r)).unwrap_or_default(),
        keys: replay.key_count(),
        authenticated: pinned.is_some(),
        signers,
    })
}

/// An audit row as stored: the record, its stored predecessor hash and its stored hash.
type StoredRecord = (AuditRecord, Vec<u8>, Vec<u8>);

/// One audit row; a row that cannot be read fails as unreadable after `last_verified`.
fn read_record(r: &rusqlite::Row<'_>, last_verified: u64) -> Result<StoredRecord, AuditFailure> {
    let unreadable = |e: rusqlite::Error| AuditFailure::Unreadable { last_verified, reason: e.to_string() };
    let seq = r.get::<_, i64>(0).map_err(unreadable)? as u64;
    let from = parse_state(seq, r.get(4).map_err(unreadable)?)?;
    let to = parse_state(seq, r.get(5).map_err(unreadable)?)?;
    let rec = AuditRecord {
        seq,
        at_ns: r.get::<_, i64>(1).map_err(unreadable)? as u64,
        event: r.get(2).map_err(unreadable)?,
        key_id: r.get::<_, Option<i64>>(3).map_err(unreadable)?.map(KeyId),
        from,
        to,
        actor: r.get(6).map_err(unreadable)?,
        detail: r.get(7).map_err(unreadable)?,
    };
    Ok((rec, r.get(8).map_err(unreadable)?, r.get(9).map_err(unreadable)?))
}

/// SQLite's own check of the file's b-trees and indexes.
fn integrity_check(conn: &Connection) -> Result<(), AuditFailure> {
    let damaged = |reason: String| AuditFailure::Damaged { reason };
    let mut st = conn.prepare("PRAGMA integrity_check").map_err(|e| damaged(e.to_string()))?;
    let first: String = st.query_row([], |r| r.get(0)).map_err(|e| damaged(e.to_string()))?;
    if first == "ok" { Ok(()) } else { Err(damaged(first)) }
}
