//! Why a verification of the audit chain stopped: the first failing record (or checkpoint,
//! or table) and what is wrong with it, with the one-line message `qecnet audit verify`
//! prints.

use std::fmt;

use serde::Serialize;

use crate::lifecycle::KeyId;

/// Why verification stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
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
