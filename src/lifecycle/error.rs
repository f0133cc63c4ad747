//! Errors of the lifecycle engine and its store.

use std::path::PathBuf;

use thiserror::Error;

use super::{KeyId, KeyState, Transition, Usage};
use crate::crypto::{CryptoError, KeyType};
use crate::units::SimTime;

/// Everything the engine, the store or the audit chain can refuse.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// The diagram does not allow this transition from the key's state.
    #[error("{key} is {state}: transition {transition} is not allowed")]
    IllegalTransition {
        /// The key.
        key: KeyId,
        /// Its current state.
        state: KeyState,
        /// The attempted transition.
        transition: Transition,
    },
    /// The key's state does not allow this use.
    #[error("{key} is {state}: it cannot be used for {usage}")]
    NotUsable {
        /// The key.
        key: KeyId,
        /// Its current state.
        state: KeyState,
        /// The attempted use.
        usage: Usage,
    },
    /// The key has reached its usage limit and must be rotated first.
    #[error("{key} has reached its usage limit of {limit}; rotate it first")]
    UsageLimitReached {
        /// The key.
        key: KeyId,
        /// The limit.
        limit: u64,
    },
    /// No key with this id.
    #[error("{0} does not exist")]
    UnknownKey(KeyId),
    /// The key is of another type than the operation needs.
    #[error("{key} is a {actual} key; this operation needs {expected}")]
    WrongKeyType {
        /// The key.
        key: KeyId,
        /// Its type.
        actual: KeyType,
        /// The type the operation needs.
        expected: KeyType,
    },
    /// A receipt from a node that is not a participant of the key.
    #[error("node {node:?} is not a participant of {key}")]
    NotParticipant {
        /// The key.
        key: KeyId,
        /// The node.
        node: String,
    },
    /// The node has been isolated after a compromise.
    #[error("node {node:?} is isolated and takes no part in key distribution")]
    NodeIsolated {
        /// The node.
        node: String,
    },
    /// Activation attempted before every participant confirmed receipt.
    #[error("{key} is {state}: activation needs receipts from {missing:?}")]
    ReceiptsIncomplete {
        /// The key.
        key: KeyId,
        /// Its current state.
        state: KeyState,
        /// Participants whose receipt is missing.
        missing: Vec<String>,
    },
    /// The key's material is not in the store (destroyed, or operator-held).
    #[error("{key} is {state}: its material is not stored (destroyed, or operator-held SOVEREIGN_MASTER)")]
    NoMaterial {
        /// The key.
        key: KeyId,
        /// Its current state.
        state: KeyState,
    },
    /// Receipts are accepted only while a key is DISTRIBUTED.
    #[error("{key} is {state}: receipts are accepted only while DISTRIBUTED")]
    ReceiptNotExpected {
        /// The key.
        key: KeyId,
        /// Its current state.
        state: KeyState,
    },
    /// A key needs at least one participant.
    #[error("a key needs at least one participant")]
    NoParticipants,
    /// Another ACTIVE key of the same type already serves the channel.
    #[error("{key}: channel {channel:?} already has ACTIVE {key_type} {active}; rotate it instead")]
    ChannelBusy {
        /// The key being activated.
        key: KeyId,
        /// The channel.
        channel: String,
        /// Key type.
        key_type: KeyType,
        /// The key already active there.
        active: KeyId,
    },
    /// The ACTIVE key already has a replacement in distribution (GENERATED or DISTRIBUTED):
    /// a second one would leave two keys racing to replace it.
    #[error(
        "{key} already has replacement {pending} in distribution; a second replacement is refused \
         (let {pending} activate, or fail its distribution first)"
    )]
    ReplacementPending {
        /// The ACTIVE key.
        key: KeyId,
        /// Its replacement still in distribution.
        pending: KeyId,
    },
    /// The replacement of a ROTATING key is not ACTIVE yet, so it cannot retire.
    #[error("{key} is ROTATING: its replacement is not ACTIVE yet, so transition retire is not allowed")]
    ReplacementNotActive {
        /// The rotating key.
        key: KeyId,
    },
    /// RETIRED key asked to be destroyed before its retention period ended.
    #[error("{key} is RETIRED: transition destroy is not allowed before {due} ns (now {now} ns)")]
    RetentionNotElapsed {
        /// The key.
        key: KeyId,
        /// When destruction becomes allowed.
        due: SimTime,
        /// Current time.
        now: SimTime,
    },
    /// Key generation failed; no record was created.
    #[error("generation of a {key_type} key failed, no record created: {source}")]
    GenerationFailed {
        /// Requested type.
        key_type: KeyType,
        /// Cause.
        source: CryptoError,
    },
    /// A cryptographic operation on a key failed.
    #[error("{key}: {source}")]
    Crypto {
        /// The key.
        key: KeyId,
        /// Cause.
        source: CryptoError,
    },
    /// The file exists but is not a qecnet store.
    #[error("{path}: not a qecnet key store ({reason}); refusing to touch it")]
    NotAStore {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The store was written by a newer qecnet.
    #[error(
        "{path}: store schema version {found} is newer than the supported {supported}; refusing to open (no migration)"
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// Version this build supports.
        supported: i64,
    },
    /// The supplied master key does not unwrap this store.
    #[error("{path}: the supplied SOVEREIGN_MASTER key does not unlock this store")]
    MasterKeyMismatch {
        /// The file.
        path: PathBuf,
    },
    /// Another process holds the store open for writing.
    #[error("{path}: the store is locked by another writer")]
    StoreLocked {
        /// The file.
        path: PathBuf,
    },
    /// `create` was asked to overwrite an existing file.
    #[error("{path}: file exists; refusing to overwrite it with a new store")]
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// SQLite cannot read the file's pages: truncated or damaged.
    #[error("{path}: store damaged ({reason})")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        reason: String,
    },
    /// A corrupt row (a value the engine never writes).
    #[error("store corrupt: {0}")]
    Corrupt(String),
    /// Bad command-line or configuration input.
    #[error("{0}")]
    Input(String),
    /// SQLite error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// I/O error.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl LifecycleError {
    /// Whether this failure happened while running (I/O, SQLite, a locked or damaged store, an
    /// engine refusal in the middle of a run: exit status 1) rather than in what the user named
    /// (the wrong file, key or option: exit status 2).
    pub fn is_runtime(&self) -> bool {
        use LifecycleError as L;
        !matches!(
            self,
            L::Input(_)
                | L::AlreadyExists { .. }
                | L::NotAStore { .. }
                | L::NewerSchema { .. }
                | L::MasterKeyMismatch { .. }
                | L::UnknownKey(_)
        )
    }
}
