//! Proofs about the audit log that anyone can check without the store: that a record is in
//! a signed tree head (an RFC 6962 inclusion proof), and that a later signed head extends an
//! earlier one, so no record before it was changed or removed (a consistency proof). An
//! auditor keeps the signed heads it has seen; the operator hands out proofs as JSON.
//!
//! Checking a proof needs only its file: the record's chained hash is recomputed from its
//! fields and its predecessor's hash, the audit path (or consistency path) is folded into a
//! root, and the signed head's Ed25519 signature over
//! [`checkpoint_message`] is verified with the public key in the proof — which the auditor
//! compares with, or pins to, the AUDIT_SIGNING key it trusts.

use std::fmt;

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::audit::{AuditRecord, Checkpoint, checkpoint_message, hex, read_checkpoint, record_leaf};
use super::merkle::{self, Hash};
use super::{KeyId, KeyState, LifecycleError};
use crate::crypto::verify_audit_signature;

/// A signed tree head: a checkpoint of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHead {
    /// Records covered (the checkpoint's sequence number).
    pub tree_size: u64,
    /// Signing time, ns since the Unix epoch.
    pub at_ns: u64,
    /// Chained hash of record `tree_size` (hex).
    pub chain_head: String,
    /// Merkle tree hash of records 1..=tree_size (hex).
    pub root: String,
    /// Key id of the AUDIT_SIGNING key.
    pub signer: i64,
    /// Its Ed25519 public key (hex).
    pub public_key: String,
    /// Ed25519 signature (hex).
    pub signature: String,
}

/// An audit record as carried in a proof, with its predecessor's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenRecord {
    /// Sequence number (leaf `seq − 1`).
    pub seq: u64,
    /// Time, ns since the Unix epoch.
    pub at_ns: u64,
    /// Event name.
    pub event: String,
    /// Key concerned.
    pub key_id: Option<i64>,
    /// State before.
    pub from: Option<String>,
    /// State after.
    pub to: Option<String>,
    /// Actor.
    pub actor: String,
    /// Detail.
    pub detail: String,
    /// Chained hash of the previous record (hex).
    pub prev_hash: String,
}

/// A proof about the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditProof {
    /// `record` is leaf `record.seq − 1` of the tree signed in `head`.
    Inclusion {
        /// The record.
        record: ProvenRecord,
        /// Audit path from the leaf up (hex).
        path: Vec<String>,
        /// The signed head.
        head: SignedHead,
    },
    /// The tree signed in `second` extends the tree signed in `first`.
    Consistency {
        /// The earlier head.
        first: SignedHead,
        /// The later head.
        second: SignedHead,
        /// Consistency path (hex).
        path: Vec<String>,
    },
}

/// Why a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofFailure(pub String);

impl fmt::Display for ProofFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses 64 hex digits into 32 bytes; `what` names the field in the error.
pub fn parse_hex32(what: &str, s: &str) -> Result<[u8; 32], String> {
    let s = s.trim();
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{what} {s:?}: expected 64 hex digits"));
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| format!("{what} {s:?}: not hex"))?;
    }
    Ok(out)
}

fn parse_hex(what: &str, s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{what}: not an even number of hex digits"));
    }
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())).collect()
}

fn fail(message: impl Into<String>) -> ProofFailure {
    ProofFailure(message.into())
}

impl SignedHead {
    /// Checks the signature (and, given `pinned` keys, that the signer is one of them);
    /// returns the root and the tree size.
    fn verify(&self, pinned: Option<&[[u8; 32]]>) -> Result<Hash, ProofFailure> {
        let head = parse_hex32("chain_head", &self.chain_head).map_err(fail)?;
        let root = parse_hex32("root", &self.root).map_err(fail)?;
        let public = parse_hex32("public_key", &self.public_key).map_err(fail)?;
        let signature = parse_hex("signature", &self.signature).map_err(fail)?;
        if pinned.is_some_and(|pins| !pins.contains(&public)) {
            return Err(fail(format!(
                "signed head of {} records: signer key#{} ({}) is not one of the pinned audit keys",
                self.tree_size, self.signer, self.public_key
            )));
        }
        let message = checkpoint_message(self.tree_size, self.at_ns, &head, Some(&root), KeyId(self.signer));
        verify_audit_signature(&public, &message, &signature)
            .map_err(|e| fail(format!("signed head of {} records: bad signature ({e})", self.tree_size)))?;
        Ok(root)
    }
}

fn parse_path(path: &[String]) -> Result<Vec<Hash>, ProofFailure> {
    path.iter().enumerate().map(|(i, h)| parse_hex32(&format!("path[{i}]"), h).map_err(fail)).collect()
}

fn parse_state(what: &str, s: &Option<String>) -> Result<Option<KeyState>, ProofFailure> {
    match s.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|e| fail(format!("record {what} state: {e}"))),
    }
}

impl AuditProof {
    /// Checks the proof; on success describes what it proved. `pinned`: the AUDIT_SIGNING
    /// public keys the checker trusts (without them, compare the key the proof names).
    pub fn verify(&self, pinned: Option<&[[u8; 32]]>) -> Result<String, ProofFailure> {
        match self {
            AuditProof::Inclusion { record, path, head } => {
                let root = head.verify(pinned)?;
                let rec = AuditRecord {
                    seq: record.seq,
                    at_ns: record.at_ns,
                    event: record.event.clone(),
                    key_id: record.key_id.map(KeyId),
                    from: parse_state("from", &record.from)?,
                    to: parse_state("to", &record.to)?,
                    actor: record.actor.clone(),
                    detail: record.detail.clone(),
                };
                let prev = parse_hex32("prev_hash", &record.prev_hash).map_err(fail)?;
                let leaf = record_leaf(&rec.hash(&prev));
                if record.seq == 0
                    || !merkle::verify_inclusion(&leaf, record.seq - 1, head.tree_size, &parse_path(path)?, &root)
                {
                    return Err(fail(format!(
                        "record {} is not in the signed head of {} records (record or path altered)",
                        record.seq, head.tree_size
                    )));
                }
                Ok(format!(
                    "record {} ({}) is in the audit log signed at {} records by key#{} ({})",
                    record.seq, record.event, head.tree_size, head.signer, head.public_key
                ))
            }
            AuditProof::Consistency { first, second, path } => {
                let first_root = first.verify(pinned)?;
                let second_root = second.verify(pinned)?;
                if !merkle::verify_consistency(
                    first.tree_size,
                    second.tree_size,
                    &first_root,
                    &second_root,
                    &parse_path(path)?,
                ) {
                    return Err(fail(format!(
                        "the log signed at {} records does not extend the log signed at {} records (history rewritten, or path altered)",
                        second.tree_size, first.tree_size
                    )));
                }
                Ok(format!(
                    "the log signed at {} records (root {}, key#{} {}) extends the log signed at {} records (root {}, key#{} {}): append-only",
                    second.tree_size,
                    second.root,
                    second.signer,
                    second.public_key,
                    first.tree_size,
                    first.root,
                    first.signer,
                    first.public_key
                ))
            }
        }
    }
}

/// The signed head stored at checkpoint `seq`.
fn load_head(conn: &Connection, seq: u64) -> Result<SignedHead, LifecycleError> {
    if !super::store::has_merkle_roots(conn)? {
        return Err(LifecycleError::Input(
            "the store predates Merkle roots (schema version 1): open it once with its writer to upgrade it".into(),
        ));
    }
    let Some(Checkpoint { at_ns, head, signer, signature, root, .. }) = read_checkpoint(conn, seq)? else {
        return Err(LifecycleError::Input(format!("no signed checkpoint at record {seq}")));
    };
    let signer = signer.0;
    let Some(root) = root else {
        return Err(LifecycleError::Input(format!(
            "the checkpoint at record {seq} predates Merkle roots (schema version 1): no proofs against it"
        )));
    };
    let public: Vec<u8> = conn
        .query_row("SELECT public FROM audit_keys WHERE key_id = ?1", [signer], |r| r.get(0))
        .optional()?
        .ok_or_else(|| LifecycleError::Corrupt(format!("checkpoint at record {seq}: unknown signer key#{signer}")))?;
    Ok(SignedHead {
        tree_size: seq,
        at_ns,
        chain_head: hex(&head),
        root: hex(&root),
        signer,
        public_key: hex(&public),
        signature: hex(&signature),
    })
}

/// Sequence numbers of the checkpoints that carry a Merkle root, ascending.
fn rooted_checkpoints(conn: &Connection) -> Result<Vec<u64>, LifecycleError> {
    if !super::store::has_merkle_roots(conn)? {
        return Ok(Vec::new());
    }
    let mut st = conn.prepare("SELECT seq FROM checkpoints WHERE root IS NOT NULL ORDER BY seq")?;
    let seqs = st.query_map([], |r| r.get::<_, i64>(0))?.map(|r| r.map(|s| s as u64)).collect::<Result<_, _>>()?;
    Ok(seqs)
}

/// The Merkle leaves of records 1..=size, from their stored hashes.
fn leaves(conn: &Connection, size: u64) -> Result<Vec<Hash>, LifecycleError> {
    let mut st = conn.prepare("SELECT hash FROM audit WHERE seq <= ?1 ORDER BY seq")?;
    let hashes = st.query_map([size as i64], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = Vec::with_capacity(size as usize);
    for h in hashes {
        let h: [u8; 32] = h?.try_into().map_err(|_| LifecycleError::Corrupt("audit hash is not 32 bytes".into()))?;
        out.push(record_leaf(&h));
    }
    if out.len() as u64 != size {
        return Err(LifecycleError::Corrupt(format!("the audit log has {} of the {size} signed records", out.len())));
    }
    Ok(out)
}

/// Proof that record `seq` is in the signed head at checkpoint `head` (default: the first
/// checkpoint with a root that covers it).
pub fn prove_inclusion(conn: &Connection, seq: u64, head: Option<u64>) -> Result<AuditProof, LifecycleError> {
    let checkpoints = rooted_checkpoints(conn)?;
    let size = match head {
        Some(h) => h,
        None => *checkpoints.iter().find(|&&c| c >= seq).ok_or_else(|| {
            LifecycleError::Input(format!(
                "record {seq} is not covered by a signed checkpoint yet (last: {}); sign one first",
                checkpoints.last().map_or("none".to_string(), |c| c.to_string())
            ))
        })?,
    };
    if seq == 0 || seq > size {
        return Err(LifecycleError::Input(format!("record {seq} is not in a log of {size} records")));
    }
    let signed = load_head(conn, size)?;
    let row = conn
        .query_row(
            "SELECT at_ns, event, key_id, from_state, to_state, actor, detail, prev_hash FROM audit WHERE seq = ?1",
            [seq as i64],
            |r| {
                Ok(ProvenRecord {
                    seq,
                    at_ns: r.get::<_, i64>(0)? as u64,
                    event: r.get(1)?,
                    key_id: r.get(2)?,
                    from: r.get(3)?,
                    to: r.get(4)?,
                    actor: r.get(5)?,
                    detail: r.get(6)?,
                    prev_hash: hex(&r.get::<_, Vec<u8>>(7)?),
                })
            },
        )
        .optional()?
        .ok_or_else(|| LifecycleError::Input(format!("no audit record {seq}")))?;
    let leaves = leaves(conn, size)?;
    let path = merkle::inclusion_proof(&leaves, (seq - 1) as usize).iter().map(|h| hex(h)).collect();
    Ok(AuditProof::Inclusion { record: row, path, head: signed })
}

/// Proof that the signed head at checkpoint `to` (default: the latest) extends the one at
/// checkpoint `from`.
pub fn prove_consistency(conn: &Connection, from: u64, to: Option<u64>) -> Result<AuditProof, LifecycleError> {
    let checkpoints = rooted_checkpoints(conn)?;
    let to = match to {
        Some(t) => t,
        None => *checkpoints.last().ok_or_else(|| LifecycleError::Input("the store has no signed tree head".into()))?,
    };
    if from == 0 || from > to {
        return Err(LifecycleError::Input(format!("--from {from} must be between 1 and --to {to}")));
    }
    let (first, second) = (load_head(conn, from)?, load_head(conn, to)?);
    let leaves = leaves(conn, to)?;
    let path = merkle::consistency_proof(&leaves, from as usize).iter().map(|h| hex(h)).collect();
    Ok(AuditProof::Consistency { first, second, path })
}
