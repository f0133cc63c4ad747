//! The audit chain: an append-only, SHA-256 hash-chained log of every
//! transition, with Ed25519-signed checkpoints of the chain head.
//!
//! Record hash:
//! `SHA-256("qecnet/audit/v1" || at_ns || event || key_id || from || to || actor || detail || prev_hash)`
//! with integers big-endian and strings length-prefixed; the first record's
//! `prev_hash` is 32 zero bytes. The sequence number is deliberately not
//! hashed: order is fixed by the links, and a record moved to another
//! position then still matches its own hash but breaks the link, so the
//! verifier can tell "reordered" from "edited".
//!
//! The records' hashes are also the leaves of an RFC 6962 Merkle tree
//! ([`crate::lifecycle::merkle`]). A checkpoint is a signed tree head: it signs
//! `"qecnet/checkpoint/v2" || seq || at_ns || head_hash || root || signer_key_id`
//! where `head_hash` is the hash of record `seq` and `root` the Merkle tree hash
//! of records 1..=seq. Because every hash covers its predecessor, one signed
//! head covers the whole prefix; the tree adds short proofs that one record is
//! in a signed log, and that a later signed head extends an earlier one
//! ([`crate::lifecycle::audit_proof`]). Checkpoints of version-1 stores have no
//! root and sign `"qecnet/checkpoint/v1" || seq || at_ns || head_hash || signer_key_id`.
//!
//! [`verify_chain`] needs no secret: the AUDIT_SIGNING public keys are in the
//! store's `audit_keys` table. It reports the first failing record and why.

use std::collections::BTreeMap;
use std::fmt;

use rusqlite::Connection;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::audit_replay::Replay;
use super::merkle::{self, MerkleFrontier};
use super::{KeyId, KeyState};
use crate::crypto::verify_audit_signature;

/// Hash of the (absent) record before the first one.
pub const GENESIS_HASH: [u8; 32] = [0u8; 32];

/// One audit record as stored (no key bytes ever).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// Sequence number, 1-based, without gaps.
    pub seq: u64,
    /// Time of the event, ns since the Unix epoch.
    pub at_ns: u64,
    /// Event name, e.g. `activate` or `recovery:isolate`.
    pub event: String,
    /// Key concerned, if any.
    pub key_id: Option<KeyId>,
    /// State before.
    pub from: Option<KeyState>,
    /// State after.
    pub to: Option<KeyState>,
    /// Who caused it.
    pub actor: String,
    /// Free-text detail (node names, reasons; never key bytes).
    pub detail: String,
}

fn put_str(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

impl AuditRecord {
    /// The chained hash of this record given its predecessor's hash.
    pub fn hash(&self, prev: &[u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"qecnet/audit/v1");
        h.update(self.at_ns.to_be_bytes());
        put_str(&mut h, &self.event);
        match self.key_id {
            Some(k) => {
                h.update([1]);
                h.update(k.0.to_be_bytes());
            }
            None => h.update([0]),
        }
        put_str(&mut h, self.from.map_or("", KeyState::as_str));
        put_str(&mut h, self.to.map_or("", KeyState::as_str));
        put_str(&mut h, &self.actor);
        put_str(&mut h, &self.detail);
        h.update(prev);
        h.finalize().into()
    }
}

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

/// The Merkle leaf of a record: RFC 6962's leaf hash of its chained hash.
pub fn record_leaf(chained_hash: &[u8; 32]) -> merkle::Hash {
    merkle::leaf_hash(chained_hash)
}

/// Why verification stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum AuditFailure {
    /// A sequence number is missing: records were deleted.
    Missing {
        /// The first missing sequence number.
        seq: u64,
    },
    /// The record's content no longer matches its stored hash: it was edited.
    Edited {
        /// The record.
        seq: u64,
    },
    /// The record is intact but does not link to its predecessor: reordered,
    /// or records around it were replaced.
    BrokenLink {
        /// The record.
        seq: u64,
    },
    /// A checkpoint's signed head does not match the chain: records up to it were rewritten.
    CheckpointMismatch {
        /// Checkpoint sequence number.
        seq: u64,
    },
    /// A checkpoint points past the end of the chain: records were truncated.
    CheckpointBeyondChain {
        /// Checkpoint sequence number.
        seq: u64,
    },
    /// A checkpoint's signature does not verify (or its signer is unknown).
    BadSignature {
        /// Checkpoint sequence number.
        seq: u64,
        /// Detail.
        reason: String,
    },
    /// A row holds a value the engine never writes.
    Malformed {
        /// The record.
        seq: u64,
        /// Detail.
        reason: String,
    },
    /// Keys were pinned, but no checkpoint is signed by one of them: nothing in the store is
    /// authenticated (checkpoints deleted, or never written).
    NoSignedCheckpoint {
        /// Records in the chain (the first unsigned one is record 1).
        records: u64,
    },
    /// Keys were pinned, and records follow the last signed checkpoint: they could have been
    /// appended, or the signed tail removed and the chain re-hashed. A finished run always
    /// ends with a checkpoint.
    UnsignedRecords {
        /// The first record no signed checkpoint covers.
        first: u64,
        /// Tree size of the last signed checkpoint.
        last_signed: u64,
    },
    /// The store's log is shorter than a signed head the caller saw earlier: it was
    /// truncated or rolled back.
    ShorterThanKnownHead {
        /// Tree size of the head the caller supplied.
        known: u64,
        /// Records in the store (or, with pinned keys, the last signed tree size).
        found: u64,
    },
    /// The Merkle root of the store's first `size` records differs from the signed head the
    /// caller saw earlier: history before it was rewritten.
    KnownHeadMismatch {
        /// Tree size of the head the caller supplied.
        size: u64,
    },
    /// The keys table disagrees with what the audit chain says about a key.
    KeyMismatch {
        /// The key.
        key: KeyId,
        /// The last record that changed the key's state (0 when the chain has none).
        seq: u64,
        /// Detail.
        reason: String,
    },
    /// A table beside the chain is missing or disagrees with it (receipts, isolated nodes).
    Tables {
        /// Detail.
        reason: String,
    },
    /// The store could not be read past a point (truncated or damaged file).
    Unreadable {
        /// The last record that verified (0 when none did).
        last_verified: u64,
        /// What SQLite said.
        reason: String,
    },
    /// SQLite's integrity check found the file damaged.
    Damaged {
        /// What `PRAGMA integrity_check` said first.
        reason: String,
    },
}

impl fmt::Display for AuditFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditFailure::Missing { seq } => {
                write!(f, "record {seq}: missing (deleted)")
            }
            AuditFailure::Edited { seq } => {
                write!(f, "record {seq}: content does not match its hash (edited)")
            }
            AuditFailure::BrokenLink { seq } => {
                write!(f, "record {seq}: does not link to the previous record (reordered or replaced)")
            }
            AuditFailure::CheckpointMismatch { seq } => {
                write!(f, "record {seq}: differs from the signed checkpoint at {seq} (chain rewritten)")
            }
            AuditFailure::CheckpointBeyondChain { seq } => {
                write!(f, "record {seq}: checkpointed but missing (chain truncated)")
            }
            AuditFailure::BadSignature { seq, reason } => {
                write!(f, "checkpoint at record {seq}: bad signature ({reason})")
            }
            AuditFailure::Malformed { seq, reason } => {
                write!(f, "record {seq}: malformed ({reason})")
            }
            AuditFailure::NoSignedCheckpoint { records } if *records == 0 => {
                write!(f, "the store holds no audit record and no checkpoint signed by a pinned key")
            }
            AuditFailure::NoSignedCheckpoint { .. } => write!(
                f,
                "record 1: not covered by any checkpoint signed by a pinned key (checkpoints removed?): nothing is authenticated"
            ),
            AuditFailure::UnsignedRecords { first, last_signed } => write!(
                f,
                "record {first}: not covered by a signed checkpoint (the last one signs records 1..={last_signed}); \
                 records after it may have been appended or rewritten"
            ),
            AuditFailure::ShorterThanKnownHead { known, found } => write!(
                f,
                "record {}: missing: the log holds {found} signed records, fewer than the {known} of the head you supplied (truncated or rolled back)",
                found + 1
            ),
            AuditFailure::KnownHeadMismatch { size } => write!(
                f,
                "record {size}: the Merkle root of records 1..={size} differs from the head you supplied (history rewritten)"
            ),
            AuditFailure::KeyMismatch { key, seq, reason } if *seq == 0 => write!(f, "{key}: {reason}"),
            AuditFailure::KeyMismatch { key, seq, reason } => write!(f, "{key} (last set by record {seq}): {reason}"),
            AuditFailure::Tables { reason } => write!(f, "{reason}"),
            AuditFailure::Unreadable { last_verified, reason } => {
                write!(f, "store unreadable after record {last_verified} (the last that verified): {reason}")
            }
            AuditFailure::Damaged { reason } => write!(f, "store file damaged (SQLite integrity check: {reason})"),
        }
    }
}

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
        let root = super::audit_proof::parse_hex32("root", root)?;
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

/// Hex encoding for display.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// Read-only pass over the whole chain, its checkpoints and the tables beside it, with the
/// store's own keys (nothing authenticated: see [`VerifyReport::authenticated`]).
///
/// Outer `Err` = the store could not be opened for reading; inner `Err` = the first failure.
pub fn verify_chain(conn: &Connection) -> Result<Result<VerifyReport, AuditFailure>, rusqlite::Error> {
    verify_store(conn, &VerifyOptions::default())
}

/// Like [`verify_chain`], but every checkpoint must be signed by one of the `pinned`
/// Ed25519 public keys, at least one must be, and no record may follow the last
/// checkpoint, so an attacker who rewrote the chain and removed or re-signed its
/// checkpoints with a key of their own is caught.
pub fn verify_chain_pinned(
    conn: &Connection,
    pinned: Option<&[[u8; 32]]>,
) -> Result<Result<VerifyReport, AuditFailure>, rusqlite::Error> {
    verify_store(conn, &VerifyOptions { pinned: pinned.map(<[_]>::to_vec).unwrap_or_default(), known_head: None })
}

/// A checkpoint row: at_ns, head, signer, signature, root.
type Checkpoint = (u64, Vec<u8>, i64, Vec<u8>, Option<Vec<u8>>);

fn read_checkpoints(conn: &Connection) -> Result<BTreeMap<u64, Checkpoint>, rusqlite::Error> {
    let root_column = if super::store::has_merkle_roots(conn)? { "root" } else { "NULL" };
    let mut st = conn
        .prepare(&format!("SELECT seq, at_ns, head, signer, signature, {root_column} FROM checkpoints ORDER BY seq"))?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)? as u64,
            (r.get::<_, i64>(1)? as u64, r.get(2)?, r.get(3)?, r.get(4)?, r.get::<_, Option<Vec<u8>>>(5)?),
        ))
    })?;
    rows.collect()
}

/// The whole verification: every record's hash and link, every checkpoint's head, root and
/// signature, the caller's pins and known head, the keys, receipts and nodes tables against
/// the replayed chain, and SQLite's integrity check. Runs in one read transaction, so a
/// writer appending meanwhile does not disturb it.
///
/// Outer `Err` = the store's metadata could not be read at all; inner `Err` = the first
/// failure, naming the record (a store unreadable half-way names the last record that
/// verified).
pub fn verify_store(
    conn: &Connection,
    options: &VerifyOptions,
) -> Result<Result<VerifyReport, AuditFailure>, rusqlite::Error> {
    let own_transaction = conn.is_autocommit();
    if own_transaction {
        conn.execute_batch("BEGIN")?;
    }
    let result = verify_in_snapshot(conn, options);
    if own_transaction {
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}

fn verify_in_snapshot(
    conn: &Connection,
    options: &VerifyOptions,
) -> Result<Result<VerifyReport, AuditFailure>, rusqlite::Error> {
    let pinned = (!options.pinned.is_empty()).then_some(options.pinned.as_slice());
    let unreadable =
        |seq: u64, e: rusqlite::Error| AuditFailure::Unreadable { last_verified: seq, reason: e.to_string() };
    let read_keys = || -> Result<BTreeMap<i64, Vec<u8>>, rusqlite::Error> {
        let mut st = conn.prepare("SELECT key_id, public FROM audit_keys")?;
        st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?.collect()
    };
    let (keys, cps) = match read_keys().and_then(|k| Ok((k, read_checkpoints(conn)?))) {
        Ok(v) => v,
        Err(e) => return Ok(Err(unreadable(0, e))),
    };
    let mut st = match conn.prepare(
        "SELECT seq, at_ns, event, key_id, from_state, to_state, actor, detail, prev_hash, hash \
         FROM audit ORDER BY seq",
    ) {
        Ok(st) => st,
        Err(e) => return Ok(Err(unreadable(0, e))),
    };
    let mut rows = match st.query([]) {
        Ok(rows) => rows,
        Err(e) => return Ok(Err(unreadable(0, e))),
    };
    let mut prev = GENESIS_HASH;
    let mut tree = MerkleFrontier::default();
    let mut replay = Replay::default();
    let mut expected = 1u64;
    let mut checkpoints = 0u64;
    let mut last_cp = 0u64;
    let mut last_cp_root = None;
    let mut signers = BTreeMap::new();
    loop {
        let r = match rows.next() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => return Ok(Err(unreadable(expected - 1, e))),
        };
        let rec = match read_record(r) {
            Ok(Ok(rec)) => rec,
            Ok(Err(failure)) => return Ok(Err(failure)),
            Err(e) => return Ok(Err(unreadable(expected - 1, e))),
        };
        let (rec, stored_prev, stored_hash) = rec;
        let seq = rec.seq;
        if seq != expected {
            return Ok(Err(if seq > expected {
                AuditFailure::Missing { seq: expected }
            } else {
                AuditFailure::Malformed { seq, reason: "duplicate sequence number".into() }
            }));
        }
        let stored_prev: [u8; 32] = match stored_prev.try_into() {
            Ok(h) => h,
            Err(_) => return Ok(Err(AuditFailure::Edited { seq })),
        };
        if rec.hash(&stored_prev).as_slice() != stored_hash.as_slice() {
            return Ok(Err(AuditFailure::Edited { seq }));
        }
        if stored_prev != prev {
            return Ok(Err(AuditFailure::BrokenLink { seq }));
        }
        prev = rec.hash(&prev);
        tree.push(record_leaf(&prev));
        if let Err(failure) = replay.apply(&rec) {
            return Ok(Err(failure));
        }
        if let Some(known) = &options.known_head
            && known.size == seq
            && tree.root() != known.root
        {
            return Ok(Err(AuditFailure::KnownHeadMismatch { size: seq }));
        }
        if let Some((at_ns, head, signer, sig, stored_root)) = cps.get(&seq) {
            if head.as_slice() != prev.as_slice() {
                return Ok(Err(AuditFailure::CheckpointMismatch { seq }));
            }
            let root = tree.root();
            if stored_root.as_ref().is_some_and(|r| r.as_slice() != root.as_slice()) {
                return Ok(Err(AuditFailure::CheckpointMismatch { seq }));
            }
            let Some(public) = keys.get(signer) else {
                return Ok(Err(AuditFailure::BadSignature { seq, reason: format!("unknown signer key#{signer}") }));
            };
            let pinned_ok = pinned.is_none_or(|pins| pins.iter().any(|p| p.as_slice() == public.as_slice()));
            if !pinned_ok {
                return Ok(Err(AuditFailure::BadSignature {
                    seq,
                    reason: format!("signer key#{signer} is not one of the pinned audit keys"),
                }));
            }
            signers.insert(KeyId(*signer), hex(public));
            let msg = checkpoint_message(seq, *at_ns, &prev, stored_root.is_some().then_some(&root), KeyId(*signer));
            if let Err(e) = verify_audit_signature(public, &msg, sig) {
                return Ok(Err(AuditFailure::BadSignature { seq, reason: e.to_string() }));
            }
            checkpoints += 1;
            last_cp = seq;
            last_cp_root = Some(root);
        }
        expected += 1;
    }
    drop(rows);
    let records = expected - 1;
    if let Some((&seq, _)) = cps.range(expected..).next() {
        return Ok(Err(AuditFailure::CheckpointBeyondChain { seq }));
    }
    if pinned.is_some() {
        if checkpoints == 0 {
            return Ok(Err(AuditFailure::NoSignedCheckpoint { records }));
        }
        if last_cp < records {
            return Ok(Err(AuditFailure::UnsignedRecords { first: last_cp + 1, last_signed: last_cp }));
        }
    }
    if let Some(known) = &options.known_head {
        let found = if pinned.is_some() { last_cp } else { records };
        if known.size > found {
            return Ok(Err(AuditFailure::ShorterThanKnownHead { known: known.size, found }));
        }
    }
    if let Err(failure) = replay.compare_with_tables(conn) {
        return Ok(Err(failure));
    }
    if let Err(failure) = integrity_check(conn) {
        return Ok(Err(failure));
    }
    Ok(Ok(VerifyReport {
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
    }))
}

/// An audit row as stored: the record, its stored predecessor hash and its stored hash.
type StoredRecord = (AuditRecord, Vec<u8>, Vec<u8>);

fn read_record(r: &rusqlite::Row<'_>) -> Result<Result<StoredRecord, AuditFailure>, rusqlite::Error> {
    let seq = r.get::<_, i64>(0)? as u64;
    let from = match parse_state(seq, r.get(4)?) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let to = match parse_state(seq, r.get(5)?) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let rec = AuditRecord {
        seq,
        at_ns: r.get::<_, i64>(1)? as u64,
        event: r.get(2)?,
        key_id: r.get::<_, Option<i64>>(3)?.map(KeyId),
        from,
        to,
        actor: r.get(6)?,
        detail: r.get(7)?,
    };
    Ok(Ok((rec, r.get(8)?, r.get(9)?)))
}

/// SQLite's own check of the file's b-trees and indexes.
fn integrity_check(conn: &Connection) -> Result<(), AuditFailure> {
    let damaged = |reason: String| AuditFailure::Damaged { reason };
    let mut st = conn.prepare("PRAGMA integrity_check").map_err(|e| damaged(e.to_string()))?;
    let first: String = st.query_row([], |r| r.get(0)).map_err(|e| damaged(e.to_string()))?;
    if first == "ok" { Ok(()) } else { Err(damaged(first)) }
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
