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

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

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
        }
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
    /// Public keys (hex) of the AUDIT_SIGNING keys that signed checkpoints, by key id.
    /// Compare them with a copy kept elsewhere, or pin them with [`verify_chain_pinned`].
    pub signers: BTreeMap<KeyId, String>,
}

/// Hex encoding for display.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_state(seq: u64, s: Option<String>) -> Result<Option<KeyState>, AuditFailure> {
    match s {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|reason| AuditFailure::Malformed { seq, reason }),
    }
}

/// Read-only pass over the whole chain and its checkpoints.
///
/// Outer `Err` = the store could not be read; inner `Err` = the first failure.
pub fn verify_chain(conn: &Connection) -> Result<Result<VerifyReport, AuditFailure>, rusqlite::Error> {
    verify_chain_pinned(conn, None)
}

/// Like [`verify_chain`], but every checkpoint must be signed by one of the
/// `pinned` Ed25519 public keys (32 bytes each), so an attacker who rewrote the
/// chain and re-signed it with a key of their own inserted into the store is caught.
pub fn verify_chain_pinned(
    conn: &Connection,
    pinned: Option<&[[u8; 32]]>,
) -> Result<Result<VerifyReport, AuditFailure>, rusqlite::Error> {
    // Checkpoints first (few), keyed by the record they sign.
    let mut keys: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
    {
        let mut st = conn.prepare("SELECT key_id, public FROM audit_keys")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        for row in rows {
            let (k, p) = row?;
            keys.insert(k, p);
        }
    }
    type Checkpoint = (u64, Vec<u8>, i64, Vec<u8>, Option<Vec<u8>>);
    let mut cps: BTreeMap<u64, Checkpoint> = BTreeMap::new();
    {
        let root_column = if super::store::has_merkle_roots(conn)? { "root" } else { "NULL" };
        let mut st = conn.prepare(&format!(
            "SELECT seq, at_ns, head, signer, signature, {root_column} FROM checkpoints ORDER BY seq"
        ))?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                (
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                    r.get::<_, Option<Vec<u8>>>(5)?,
                ),
            ))
        })?;
        for row in rows {
            let (s, c) = row?;
            cps.insert(s, c);
        }
    }
    let mut st = conn.prepare(
        "SELECT seq, at_ns, event, key_id, from_state, to_state, actor, detail, prev_hash, hash \
         FROM audit ORDER BY seq",
    )?;
    let mut rows = st.query([])?;
    let mut prev = GENESIS_HASH;
    let mut tree = MerkleFrontier::default();
    let mut expected = 1u64;
    let mut checkpoints = 0u64;
    let mut last_cp = 0u64;
    let mut signers = BTreeMap::new();
    while let Some(r) = rows.next()? {
        let seq = r.get::<_, i64>(0)? as u64;
        if seq != expected {
            return Ok(Err(if seq > expected {
                AuditFailure::Missing { seq: expected }
            } else {
                AuditFailure::Malformed { seq, reason: "duplicate sequence number".into() }
            }));
        }
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
        let stored_prev: Vec<u8> = r.get(8)?;
        let stored_hash: Vec<u8> = r.get(9)?;
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
        }
        expected += 1;
    }
    let records = expected - 1;
    if let Some((&seq, _)) = cps.range(expected..).next() {
        return Ok(Err(AuditFailure::CheckpointBeyondChain { seq }));
    }
    Ok(Ok(VerifyReport {
        records,
        checkpoints,
        unsigned_tail: records - last_cp,
        head_hex: hex(&prev),
        root_hex: hex(&tree.root()),
        signers,
    }))
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

/// The Merkle tree of every record's stored hash, rebuilt in sequence order.
pub(crate) fn merkle_frontier(conn: &Connection) -> Result<MerkleFrontier, rusqlite::Error> {
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
pub(crate) fn chain_head(conn: &Connection) -> Result<(u64, [u8; 32]), rusqlite::Error> {
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
