//! The six key types of the spec and their parameters as one data table.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::units::SimDuration;

const MINUTE: u64 = 60;
const DAY: u64 = 24 * 60 * MINUTE;

/// Key types of the QECNet key-management spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KeyType {
    /// AES-256-GCM key-encryption key; wraps every other key at rest.
    SovereignMaster,
    /// ChaCha20-Poly1305 traffic key of a mesh channel.
    MeshSession,
    /// One-time pad from QKD key material, consumed once.
    QkdTransport,
    /// Hybrid Ed25519 + ML-DSA-65 node signing identity.
    NodeIdentity,
    /// Ed25519 key that signs audit-chain checkpoints.
    AuditSigning,
    /// Hybrid X25519 + ML-KEM (768, or 1024 as fallback) per-session exchange key.
    EphemeralSession,
}

impl KeyType {
    /// All key types, in spec order.
    pub const ALL: [KeyType; 6] = [
        KeyType::SovereignMaster,
        KeyType::MeshSession,
        KeyType::QkdTransport,
        KeyType::NodeIdentity,
        KeyType::AuditSigning,
        KeyType::EphemeralSession,
    ];

    /// Upper-case spec name, e.g. `MESH_SESSION`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::SovereignMaster => "SOVEREIGN_MASTER",
            KeyType::MeshSession => "MESH_SESSION",
            KeyType::QkdTransport => "QKD_TRANSPORT",
            KeyType::NodeIdentity => "NODE_IDENTITY",
            KeyType::AuditSigning => "AUDIT_SIGNING",
            KeyType::EphemeralSession => "EPHEMERAL_SESSION",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        KeyType::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown key type {s:?}"))
    }
}

/// Parameters of one key type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySpec {
    /// The key type.
    pub key_type: KeyType,
    /// Algorithm name as in the spec.
    pub algorithm: String,
    /// Length of the secret material in bytes (seeds for the hybrid types).
    pub material_len: usize,
    /// Scheduled rotation period; `None` = no timer (continuous or per session). Serialised
    /// in ns.
    #[serde(rename = "rotation_period_ns")]
    pub rotation_period: Option<SimDuration>,
    /// Uses after which rotation is due; `None` = unlimited.
    pub usage_limit: Option<u64>,
}

/// Default one-time-pad size for a QKD_TRANSPORT key: 64 KiB.
pub const DEFAULT_PAD_BYTES: usize = 64 * 1024;

/// One spec row per key type; `Default` is the table of the spec, fields may be overridden.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySpecTable(BTreeMap<KeyType, KeySpec>);

impl Default for KeySpecTable {
    fn default() -> Self {
        let row = |key_type, algorithm: &str, material_len, period: Option<u64>, limit| KeySpec {
            key_type,
            algorithm: algorithm.to_string(),
            material_len,
            rotation_period: period.map(SimDuration::from_secs),
            usage_limit: limit,
        };
        let rows = [
            // 2^32 random 96-bit nonces keeps the GCM collision bound below 2^-32.
            row(KeyType::SovereignMaster, "AES-256-GCM", 32, Some(DAY), Some(1 << 32)),
            row(KeyType::MeshSession, "ChaCha20-Poly1305", 32, Some(5 * MINUTE), Some(1 << 32)),
            row(KeyType::QkdTransport, "OTP (QKD-derived) + Poly1305 one-time MAC", DEFAULT_PAD_BYTES, None, None),
            // Ed25519 seed (32) || ML-DSA-65 seed (32).
            row(KeyType::NodeIdentity, "Ed25519 + ML-DSA-65", 64, Some(90 * DAY), None),
            row(KeyType::AuditSigning, "Ed25519", 32, Some(365 * DAY), None),
            // X25519 secret (32) || ML-KEM seed (64); one handshake per key.
            row(KeyType::EphemeralSession, "X25519 + ML-KEM-768 (fallback ML-KEM-1024)", 96, None, Some(1)),
        ];
        Self(rows.into_iter().map(|r| (r.key_type, r)).collect())
    }
}

impl KeySpecTable {
    /// The row of `key_type`.
    pub fn get(&self, key_type: KeyType) -> &KeySpec {
        // The table is built with every type and rows are only replaced, never removed.
        &self.0[&key_type]
    }

    /// Replace the rotation period of one type (`None` disables the timer).
    pub fn set_rotation_period(&mut self, key_type: KeyType, period: Option<SimDuration>) {
        if let Some(r) = self.0.get_mut(&key_type) {
            r.rotation_period = period;
        }
    }

    /// Replace the usage limit of one type.
    pub fn set_usage_limit(&mut self, key_type: KeyType, limit: Option<u64>) {
        if let Some(r) = self.0.get_mut(&key_type) {
            r.usage_limit = limit;
        }
    }

    /// Set the pad length of QKD_TRANSPORT keys in bytes (the only variable-size type).
    pub fn set_pad_len(&mut self, len: usize) {
        if let Some(r) = self.0.get_mut(&KeyType::QkdTransport) {
            r.material_len = len;
        }
    }
}
