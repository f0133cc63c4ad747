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
//! [`verify`] needs no secret: the AUDIT_SIGNING public keys are in the
//! store's `audit_keys` table. Its [`Verdict`] names the first failing record and why.
//!
//! The parts, one file each under `audit/`: `record` (a record and its hash), `checkpoint`
//! (the signed tree head, its message, reading checkpoints back), `failure` (why a
//! verification stops), `verify` (the verification, its options, report and verdict),
//! `replay` (the chain folded into key states and compared with the tables beside it).

mod checkpoint;
mod failure;
mod record;
pub(crate) mod replay;
mod verify;

pub use checkpoint::checkpoint_message;
pub(crate) use checkpoint::{Checkpoint, read_checkpoint};
pub use failure::AuditFailure;
pub use record::{AuditRecord, GENESIS_HASH, hex, record_leaf};
pub use replay::replay_states;
pub use verify::{KnownHead, Verdict, VerifyOptions, VerifyReport, verify};
