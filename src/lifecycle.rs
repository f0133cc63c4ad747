//! The key-lifecycle engine of the QECNet spec: real keys, atomic transitions,
//! a SQLite store and a signed audit chain.
//!
//! Provides [`Engine`] (all operations), [`KeyState`]/[`Transition`] (the
//! diagram), [`ReceiptProof`] (activation is impossible without every
//! receipt), [`Clock`] ([`WallClock`], [`ManualClock`]), [`KeyRecord`] (what
//! operators see), the audit chain ([`audit::verify`]), and the spec's
//! [`QBER_THRESHOLD`].
//!
//! # Operations
//!
//! | operation | transition(s) |
//! |---|---|
//! | [`Engine::generate`], [`Engine::import_material`] | (none) → GENERATED; a failure creates no record |
//! | [`Engine::distribute`] | GENERATED → DISTRIBUTED |
//! | [`Engine::fail_distribution`] | → DESTROYED, plus a retry with new material |
//! | [`Engine::fail_distribution_and_retry`], [`Engine::fail_distribution_without_retry`], [`Engine::retry_failed_distribution`] | → DESTROYED; the retry with new (supplied or local) material GENERATED → DISTRIBUTED, at once or later |
//! | [`Engine::prepare_replacement`] | replacement GENERATED, the old key stays ACTIVE until the replacement activates (then ACTIVE → ROTATING) |
//! | [`Engine::confirm_receipt`], [`Engine::receipt_proof`], [`Engine::activate`] | DISTRIBUTED → ACTIVE |
//! | [`Engine::begin_rotation`], [`Engine::rotate_scheduled`] | ACTIVE → ROTATING, replacement GENERATED |
//! | [`Engine::rotate_triggered`] | same, old key retires as soon as the new one activates |
//! | [`Engine::rotate_emergency`] | every live instance → REVOKED; pre-staged key ACTIVE (if all its receipts are in), else a new key GENERATED |
//! | [`Engine::revoke`] | live → REVOKED |
//! | [`Engine::retire`], [`Engine::tick`] | ROTATING → RETIRED (overlap over), RETIRED → DESTROYED (retention over) |
//! | [`Engine::recover_compromise`] | DETECT → ISOLATE → REVOKE → RE-KEY → VERIFY → REPORT (for the hub: its SOVEREIGN_MASTER and AUDIT_SIGNING records REVOKED too) |
//! | [`Engine::reprovision_node`] | isolation ended; for the hub a new SOVEREIGN_MASTER record ACTIVE, every stored key re-wrapped, a new AUDIT_SIGNING key ACTIVE |
//! | [`Engine::rotate_master`] | SOVEREIGN_MASTER record rotated, every stored key re-wrapped |
//! | [`Engine::issue_delivered_keys`] | (none) → GENERATED → DISTRIBUTED → ACTIVE in one transaction (a one-time key for an application) |
//! | [`Engine::collect_delivered_keys`] | ACTIVE → ROTATING → RETIRED in one transaction (collected, no replacement) |
//! | [`Engine::use_key`], [`Engine::record_use`], [`Engine::otp_encrypt`], [`Engine::otp_decrypt`] | usage counters, no transition |
//!
//! Channels: at most one ACTIVE key per (channel, key type); a key's
//! ROTATING predecessor stays usable for decryption (never encryption) until
//! the overlap after the replacement's activation ends. Activating a key
//! retires any older ROTATING key on the channel, so at most two keys are
//! usable at any time.
//!
//! Material: DESTROYED erases the wrapped material; REVOKED keeps it wrapped
//! as the spec's forensic archive but no operation will use it again.
//!
//! # Store and audit chain
//!
//! One SQLite file in WAL mode ([`store`]). The writer holds an exclusive
//! lock on the companion file `<store>.lock` from open to drop: a second
//! [`Engine::open`] gets [`LifecycleError::StoreLocked`]. The read-only views
//! ([`open_reader`], used by `qecnet audit verify` and `qecnet keys`) need no
//! lock and no secret, and work while the writer runs. Every audit record is hash-chained
//! (SHA-256) to its predecessor and is a leaf of an RFC 6962 Merkle tree
//! ([`merkle`]); a checkpoint — a signed tree head over the chain head and the
//! Merkle root, signed with the ACTIVE AUDIT_SIGNING key (Ed25519) — is stored
//! every `checkpoint_every` records or `checkpoint_interval`, whichever comes
//! first ([`audit`]). Inclusion and consistency proofs against signed heads,
//! checkable without the store, are in [`audit_proof`]. Usage counting
//! is not audited (it would double the write volume); state changes, receipts,
//! rotations and every recovery step are.
//!
//! Every operation is one SQLite transaction that changes the key and appends
//! its audit record together. [`Engine::batch`] groups many operations into
//! one commit for simulations; each still rolls back alone if it fails.
//!
//! # Master key
//!
//! The SOVEREIGN_MASTER key (32 bytes) is supplied by the operator on every
//! open and never stored: [`load_master_key`] reads it as 64 hex digits from a
//! key file (which must not be readable by group or others) or from the
//! `QECNET_MASTER_KEY` environment variable. [`Engine::rotate_master`]
//! re-wraps every key under a new one. The store keeps
//! an AES-GCM check value so a wrong key is refused, and the AUDIT_SIGNING
//! public keys, so verifying the audit chain needs no secret.
//!
//! # Example
//!
//! ```
//! use qecnet::crypto::{KeyType, SecretBytes};
//! use qecnet::lifecycle::{Engine, EngineConfig, KeyState, ManualClock, Usage};
//! use qecnet::units::{SimDuration, SimTime};
//! use rand::SeedableRng;
//!
//! let dir = std::env::temp_dir().join(format!("qecnet-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("store.db");
//! let _ = std::fs::remove_file(&path);
//! let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
//! let master = SecretBytes::random(32, "master", &mut rng).unwrap();
//! let clock = ManualClock::new(SimTime::from_secs(1));
//! let mut engine =
//!     Engine::create(&path, &master, EngineConfig::default(), Box::new(clock.clone()), &mut rng)
//!         .unwrap();
//!
//! let key = engine.generate(KeyType::MeshSession, "hub-n1", &["hub", "n1"], &mut rng).unwrap();
//! engine.distribute(key).unwrap();
//! engine.confirm_receipt(key, "hub").unwrap();
//! assert!(engine.receipt_proof(key).is_err()); // n1 has not confirmed yet
//! engine.confirm_receipt(key, "n1").unwrap();
//! let proof = engine.receipt_proof(key).unwrap();
//! engine.activate(proof).unwrap();
//! let _material = engine.use_key(key, Usage::Protect).unwrap();
//!
//! clock.advance(SimDuration::from_secs(6 * 60)); // past MESH_SESSION's 5 min period
//! let rotations = engine.rotate_scheduled(&mut rng).unwrap();
//! assert_eq!(rotations[0].0, key);
//! assert_eq!(engine.key(key).unwrap().state, KeyState::Rotating);
//!
//! let report = engine.verify_audit().unwrap().into_result().unwrap();
//! assert_eq!(report.records, engine.audit_len());
//! # drop(engine); std::fs::remove_dir_all(&dir).unwrap();
//! ```

pub(crate) mod audit;
pub mod audit_proof;
pub(crate) mod channel_ops;
pub(crate) mod clock;
pub(crate) mod delivery;
pub(crate) mod engine;
pub(crate) mod error;
pub(crate) mod master;
pub mod merkle;
pub(crate) mod receipt;
pub(crate) mod record;
pub(crate) mod recovery;
pub(crate) mod reprovision;
pub(crate) mod retry;
pub(crate) mod rotation;
pub mod rules;
pub(crate) mod state;
pub(crate) mod store;
pub(crate) mod usage;

pub use audit::{
    AuditFailure, AuditRecord, GENESIS_HASH, KnownHead, Verdict, VerifyOptions, VerifyReport, checkpoint_message,
    record_leaf, replay_states, verify,
};
pub use clock::{Clock, ManualClock, WallClock};
pub use delivery::DeliveredKey;
pub use engine::{Engine, EngineConfig, TickReport};
pub use error::LifecycleError;
pub use master::{MASTER_KEY_ENV, load_master_key};
pub use receipt::ReceiptProof;
pub use record::{KeyId, KeyRecord, get_key, list_keys};
pub use recovery::RecoveryReport;
pub use reprovision::ReprovisionReport;
pub use retry::{FailedDistributions, RetryMaterial};
pub use rotation::EmergencyRotation;
pub use rules::QBER_THRESHOLD;
pub use state::{KeyState, Transition, Trigger, Usage};
pub use store::{
    Durability, SCHEMA_VERSION, TransitionCount, lock_path, open_reader, read_transition_counts, transition_counts,
};
