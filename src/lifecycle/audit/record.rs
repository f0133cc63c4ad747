//! One audit record as stored, its chained SHA-256 hash, and its leaf in the Merkle tree.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::lifecycle::merkle;
use crate::lifecycle::{KeyId, KeyState};

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

/// The Merkle leaf of a record: RFC 6962's leaf hash of its chained hash.
pub fn record_leaf(chained_hash: &[u8; 32]) -> merkle::Hash {
    merkle::leaf_hash(chained_hash)
}

/// Hex encoding for display.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
