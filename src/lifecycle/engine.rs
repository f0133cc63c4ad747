//! The engine and how it comes to be: [`Engine`] over one SQLite store, its settings
//! ([`EngineConfig`]), and [`Engine::create`] / [`Engine::open`].
//!
//! The rest of the engine is split by concern:
//! - `transaction`: every operation as one transaction (or savepoint) and batches of them,
//!   with the token `Tx` that the writing functions take, so none of them can run
//!   outside one;
//! - `audit_writer`: the chain head, audit appends, signed checkpoints, the signer;
//! - `transitions`: the core transitions (generate, distribute, receipts, activate,
//!   revoke, retire, destroy, tick);
//! - `reads`: keys, states and nodes as stored;
//! - `driver_state`: the driving process's own state (a live mesh's), saved with its batch.
//!
//! Rotations, key use, channel operations and compromise recovery are further
//! `impl Engine` blocks in [`super::rotation`], [`super::usage`], [`super::channel_ops`]
//! and [`super::recovery`]; the SQL is in [`super::store`].

pub(crate) mod audit_writer;
mod driver_state;
mod reads;
pub(crate) mod transaction;
pub(crate) mod transitions;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::CryptoRng;
use rusqlite::Connection;

use super::record::KeyId;
use super::store::{self, Durability, MASTER_CHECK_AAD};
use super::{Clock, LifecycleError, Transition};
use crate::crypto::{AuditSigner, KeySpecTable, KeyType, MasterKey, NodeIdentityKey, SecretBytes};
use crate::units::{SimDuration, SimTime};
use audit_writer::ChainHead;
pub(crate) use transaction::Tx;
pub use transitions::TickReport;
pub(crate) use transitions::{NewKey, check_material_len};

type Result<T> = std::result::Result<T, LifecycleError>;

/// Engine settings; `Default` follows the spec.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Key-type table (algorithms, sizes, rotation periods, usage limits).
    pub specs: KeySpecTable,
    /// How long a ROTATING key stays usable for decryption after its
    /// replacement is ACTIVE (zero = retire at once). Default 30 s.
    pub overlap: SimDuration,
    /// How long a RETIRED key is archived before it may be destroyed. Default 30 days.
    pub retention: SimDuration,
    /// Sign a checkpoint after this many audit records. Default 1000.
    pub checkpoint_every: u64,
    /// Sign a checkpoint when this much time passed since the last one. Default 60 s.
    pub checkpoint_interval: SimDuration,
    /// Commit durability. Default [`Durability::Full`].
    pub durability: Durability,
    /// Actor recorded in audit records until changed with [`Engine::set_actor`].
    pub actor: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            specs: KeySpecTable::default(),
            overlap: SimDuration::from_secs(30),
            retention: SimDuration::from_secs(30 * 24 * 3600),
            checkpoint_every: 1000,
            checkpoint_interval: SimDuration::from_secs(60),
            durability: Durability::Full,
            actor: "hub".to_string(),
        }
    }
}

/// The key-lifecycle engine over one SQLite store. See the module docs of
/// [`crate::lifecycle`] for the operation set and an example.
pub struct Engine {
    /// The background WAL checkpointer, when one runs: stopped first, before `conn` closes.
    checkpointer: Option<store::Checkpointer>,
    pub(super) conn: Connection,
    /// Files of a store this engine created and has not kept: removed on drop, after `conn`
    /// closes and before the lock is released.
    new_files: store::NewStoreFiles,
    /// Held for the engine's lifetime: the single-writer lock (dropped last).
    _writer_lock: store::WriterLock,
    pub(super) path: PathBuf,
    pub(super) master: MasterKey,
    pub(super) config: EngineConfig,
    pub(super) clock: Box<dyn Clock>,
    pub(super) actor: String,
    pub(super) head: ChainHead,
    pub(super) signer: Option<Arc<(KeyId, AuditSigner)>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("path", &self.path).field("audit_seq", &self.head.seq()).finish_non_exhaustive()
    }
}

/// An opened store before the engine takes it: its connection, the files a creation made
/// (removed unless kept) and the writer lock.
struct OpenedStore {
    conn: Connection,
    new_files: store::NewStoreFiles,
    writer_lock: store::WriterLock,
}

/// The AEAD associated data that binds a key's wrapped material to its id and type.
pub(super) fn key_aad(id: KeyId, kt: KeyType) -> Vec<u8> {
    format!("qecnet/key/v1/{}/{}", id.0, kt.as_str()).into_bytes()
}

/// The fixed plaintext of the store's master-key check value.
pub(super) fn master_check_plaintext() -> SecretBytes {
    SecretBytes::new(b"qecnet sovereign master check".to_vec())
}

/// The public key stored beside the material of a signing key type, if any.
pub(super) fn public_of(kt: KeyType, material: &SecretBytes) -> Option<Vec<u8>> {
    match kt {
        KeyType::AuditSigning => AuditSigner::from_material(material).ok().map(|s| s.public().to_vec()),
        KeyType::NodeIdentity => NodeIdentityKey::from_material(material).ok().map(|k| {
            let p = k.public();
            let mut v = p.ed25519.to_vec();
            v.extend_from_slice(&p.ml_dsa);
            v
        }),
        _ => None,
    }
}

impl Engine {
    /// Create a new store at `path` protected by the operator's SOVEREIGN_MASTER
    /// key (32 bytes). Refuses to overwrite an existing file. Bootstraps the
    /// master's key record and an ACTIVE AUDIT_SIGNING key. The writer lock is taken
    /// first; if anything fails, exactly the files this call created are removed.
    pub fn create(
        path: &Path,
        master: &SecretBytes,
        config: EngineConfig,
        clock: Box<dyn Clock>,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Engine> {
        let mut engine = Engine::create_provisional(path, master, config, clock, false, rng)?;
        engine.keep();
        Ok(engine)
    }

    /// Like [`Engine::create`], but the store is provisional: dropping the engine removes
    /// the store (and the lock file, if it made it) unless [`Engine::keep`] was called, so a
    /// run that fails or panics leaves nothing behind — and never touches a file another
    /// process made. With `replace_existing`, an existing qecnet store at `path` that no
    /// writer holds is removed first, under the lock; a file that is not a qecnet store is
    /// refused.
    pub fn create_provisional(
        path: &Path,
        master: &SecretBytes,
        config: EngineConfig,
        clock: Box<dyn Clock>,
        replace_existing: bool,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Engine> {
        let master_key = MasterKey::from_material(master)
            .map_err(|source| LifecycleError::GenerationFailed { key_type: KeyType::SovereignMaster, source })?;
        let check = master_key
            .wrap(&master_check_plaintext(), MASTER_CHECK_AAD, rng)
            .map_err(|source| LifecycleError::GenerationFailed { key_type: KeyType::SovereignMaster, source })?;
        let writer_lock = store::lock_writer(path)?;
        let mut new_files = store::NewStoreFiles::lock_of(&writer_lock);
        if path.exists() {
            if !replace_existing {
                return Err(LifecycleError::AlreadyExists { path: path.to_path_buf() });
            }
            store::remove_existing_store(path)?;
        }
        let conn = store::create(path, config.durability, &check)?;
        new_files.created_db(path);
        let head = ChainHead::genesis(clock.now());
        let opened = OpenedStore { conn, new_files, writer_lock };
        let mut engine = Engine::assemble(opened, path, master_key, config, clock, head);
        let hub = engine.actor.clone();
        engine.atomic(|tx| {
            tx.append_audit("store_created", None, None, None, &format!("schema_version={}", store::SCHEMA_VERSION))?;
            let id = tx.insert_master_record(None, "type=SOVEREIGN_MASTER; operator-held, not stored")?;
            tx.transition(id, Transition::Distribute, "to operator")?;
            tx.confirm_receipt_inner(id, &hub)?;
            tx.activate_inner(id)?;
            let signing = NewKey::for_channel(KeyType::AuditSigning, "store", std::slice::from_ref(&hub));
            let audit_key = tx.generate_inner(&signing, rng)?;
            tx.transition(audit_key, Transition::Distribute, "local")?;
            tx.confirm_receipt_inner(audit_key, &hub)?;
            tx.activate_inner(audit_key)?;
            tx.write_checkpoint()
        })?;
        Ok(engine)
    }

    /// Keeps a provisional store ([`Engine::create_provisional`]) when the engine is dropped.
    pub fn keep(&mut self) {
        self.new_files.keep();
    }

    /// The engine over an opened store, before its signer is loaded.
    fn assemble(
        opened: OpenedStore,
        path: &Path,
        master: MasterKey,
        config: EngineConfig,
        clock: Box<dyn Clock>,
        head: ChainHead,
    ) -> Engine {
        Engine {
            checkpointer: None,
            conn: opened.conn,
            new_files: opened.new_files,
            _writer_lock: opened.writer_lock,
            path: path.to_path_buf(),
            master,
            actor: config.actor.clone(),
            config,
            clock,
            head,
            signer: None,
        }
    }

    /// Open an existing store as its single writer. Refuses a file that is not
    /// a qecnet store, a newer schema, a wrong master key, or a store that
    /// another writer holds.
    pub fn open(path: &Path, master: &SecretBytes, config: EngineConfig, clock: Box<dyn Clock>) -> Result<Engine> {
        // Identity first, so no lock file is created next to a foreign file.
        drop(store::open_reader(path)?);
        let writer_lock = store::lock_writer(path)?;
        // A lock file made here goes again if the store cannot be opened.
        let mut lock_file = store::NewStoreFiles::lock_of(&writer_lock);
        let (conn, check) = store::open_writer(path, config.durability)?;
        let master_key = MasterKey::from_material(master)
            .map_err(|_| LifecycleError::MasterKeyMismatch { path: path.to_path_buf() })?;
        master_key
            .unwrap(&check, MASTER_CHECK_AAD)
            .map_err(|_| LifecycleError::MasterKeyMismatch { path: path.to_path_buf() })?;
        let head = ChainHead::load(&conn)?;
        lock_file.keep();
        let opened = OpenedStore { conn, new_files: store::NewStoreFiles::none(), writer_lock };
        let mut engine = Engine::assemble(opened, path, master_key, config, clock, head);
        engine.refresh_signer()?;
        Ok(engine)
    }

    /// The store's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration in force.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Current time of the engine's clock.
    pub fn now(&self) -> SimTime {
        self.clock.now()
    }

    /// Folds the write-ahead log into the store file on a thread of its own every `every`,
    /// instead of inside whichever commit finds the log long ([`store::Checkpointer`]): a
    /// server's commits then never carry a checkpoint. Durability is unchanged.
    pub fn checkpoint_in_background(&mut self, every: std::time::Duration) -> Result<()> {
        if self.checkpointer.is_none() {
            self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            self.checkpointer = Some(store::Checkpointer::start(&self.path, self.config.durability, every)?);
        }
        Ok(())
    }

    /// Caps the writer's page cache at `kib` KiB (the store opens with 64 MiB, for a
    /// simulated mesh's few large commits). A writer that commits hundreds of small
    /// transactions a second wants a small one: SQLite's B-tree balancing renumbers pages
    /// through the lock-byte page (page 262,145 at 4 KiB pages), which leaves that page
    /// number as the cache's highest, so every commit's cache truncation scans every cached
    /// page (`pcache1TruncateUnsafe`: 8 % of `qecnet serve`'s store thread with 64 MiB). The
    /// pages it no longer holds are read from the OS page cache.
    pub fn limit_page_cache(&mut self, kib: u32) -> Result<()> {
        self.conn.pragma_update(None, "cache_size", -i64::from(kib))?;
        Ok(())
    }

    /// Set the actor named in subsequent audit records (e.g. `operator:alice`).
    pub fn set_actor(&mut self, actor: &str) {
        self.actor = actor.to_string();
    }
}
