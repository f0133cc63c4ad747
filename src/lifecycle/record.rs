//! What operators and the simulator see of a key (never key bytes): its id and its record,
//! and the read-only views [`get_key`] and [`list_keys`] (their SQL is in the store).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::KeyState;
use crate::crypto::KeyType;
use crate::units::{SimDuration, SimTime};

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
    /// Creation time (serialised in ns, as are the other times).
    #[serde(rename = "created_ns")]
    pub created: SimTime,
    /// Time of the last state change.
    #[serde(rename = "state_changed_ns")]
    pub state_changed: SimTime,
    /// Activation time.
    #[serde(rename = "activated_ns")]
    pub activated: Option<SimTime>,
    /// Scheduled rotation period.
    #[serde(rename = "rotation_period_ns")]
    pub rotation_period: Option<SimDuration>,
    /// Usage limit (uses).
    pub usage_limit: Option<u64>,
    /// Uses so far.
    pub usage_count: u64,
    /// One-time-pad bytes consumed (QKD_TRANSPORT).
    pub pad_consumed: u64,
    /// The key this one replaces in a rotation.
    pub replaces: Option<KeyId>,
    /// End of the decryption overlap of a ROTATING key.
    #[serde(rename = "overlap_until_ns")]
    pub overlap_until: Option<SimTime>,
    /// Marked for early retirement (triggered rotation).
    pub early_retirement: bool,
    /// Pre-staged material for emergency re-keying.
    pub prestaged: bool,
}

// The SQL behind these views is in the store.
pub use super::store::keys::{get_key, list_keys};
