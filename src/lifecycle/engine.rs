//! The engine: its store handle, transactions (single and batch), audit
//! appends and checkpoints, reads, and the core transitions (generate,
//! distribute, receipts, activate, revoke, retire, destroy, tick). Every
//! operation is one atomic SQLite transaction that updates the key and
//! appends its audit record together. Rotations, key use and compromise
//! recovery are further `impl Engine` blocks in [`super::rotation`],
//! [`super::usage`] and [`super::recovery`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::CryptoRng;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::audit::{self, AuditFailure, AuditRecord, VerifyReport, checkpoint_message};
use super::merkle::MerkleFrontier;
use super::record::{self, KEY_COLUMNS, KeyId, KeyRecord};
use super::rules::{self, OverlapFate, ReceiptRefusal};
use super::store::{self, Durability, MASTER_CHECK_AAD};
use super::{Clock, KeyState, LifecycleError, ReceiptProof, Transition};
use crate::crypto::{AuditSigner, KeySpecTable, KeyType, MasterKey, NodeIdentityKey, SecretBytes};

type Result<T> = std::result::Result<T, LifecycleError>;

/// Engine settings; `Default` follows the spec.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Key-type table (algorithms, sizes, rotation periods, usage limits).
    pub specs: KeySpecTable,
    /// How long a ROTATING key stays usable for decryption after its
    /// replacement is ACTIVE, ns (0 = retire at once). Default 30 s.
    pub overlap_ns: u64,
    /// How long a RETIRED key is archived before it may be destroyed, ns. Default 30 days.
    pub retention_ns: u64,
    /// Sign a checkpoint after this many audit records. Default 1000.
    pub checkpoint_every: u64,
    /// Sign a checkpoint when this much time passed since the last one, ns. Default 60 s.
    pub checkpoint_interval_ns: u64,
    /// Commit durability. Default [`Durability::Full`].
    pub durability: Durability,
    /// Actor recorded in audit records until changed with [`Engine::set_actor`].
    pub actor: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            specs: KeySpecTable::default(),
            overlap_ns: 30 * crate::crypto::NS_PER_SEC,
            retention_ns: 30 * 24 * 3600 * crate::crypto::NS_PER_SEC,
            checkpoint_every: 1000,
            checkpoint_interval_ns: 60 * crate::crypto::NS_PER_SEC,
            durability: Durability::Full,
            actor: "hub".to_string(),
        }
    }
}

/// What [`Engine::tick`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    /// ROTATING keys retired because their overlap ended.
    pub retired: Vec<KeyId>,
    /// RETIRED keys destroyed because their retention ended.
    pub destroyed: Vec<KeyId>,
}

#[derive(Clone, Debug)]
pub(super) struct ChainHead {
    seq: u64,
    hash: [u8; 32],
    /// The Merkle tree of every record's hash so far.
    tree: MerkleFrontier,
    since_checkpoint: u64,
    last_checkpoint_ns: u64,
}

impl ChainHead {
    /// The head of the chain stored in `conn`: last record, Merkle tree of every record, and
    /// the records and time since the last checkpoint.
    fn load(conn: &Connection) -> Result<ChainHead> {
        let (seq, hash) = audit::chain_head(conn)?;
        let tree = audit::merkle_frontier(conn)?;
        let last_cp: Option<(i64, i64)> = conn
            .query_row("SELECT seq, at_ns FROM checkpoints ORDER BY seq DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let (cp_seq, cp_ns) = last_cp.map_or((0, 0), |(s, t)| (s as u64, t as u64));
        Ok(ChainHead { seq, hash, tree, since_checkpoint: seq.saturating_sub(cp_seq), last_checkpoint_ns: cp_ns })
    }
}

/// The key-lifecycle engine over one SQLite store. See the module docs of
/// [`crate::lifecycle`] for the operation set and an example.
pub struct Engine {
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
        f.debug_struct("Engine").field("path", &self.path).field("audit_seq", &self.head.seq).finish_non_exhaustive()
    }
}

pub(super) fn key_aad(id: KeyId, kt: KeyType) -> Vec<u8> {
    format!("qecnet/key/v1/{}/{}", id.0, kt.as_str()).into_bytes()
}

pub(super) fn master_check_plaintext() -> SecretBytes {
    SecretBytes::new(b"qecnet sovereign master check".to_vec())
}

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
        let now = clock.now_ns();
        let head = ChainHead {
            seq: 0,
            hash: audit::GENESIS_HASH,
            tree: MerkleFrontier::default(),
            since_checkpoint: 0,
            last_checkpoint_ns: now,
        };
        let mut engine = Engine::assemble(conn, new_files, writer_lock, path, master_key, config, clock, head);
        let hub = engine.actor.clone();
        engine.atomic(|e| {
            e.append_audit("store_created", None, None, None, &format!("schema_version={}", store::SCHEMA_VERSION))?;
            let id = e.insert_master_record(None, "type=SOVEREIGN_MASTER; operator-held, not stored")?;
            e.transition(id, Transition::Distribute, "to operator")?;
            e.confirm_receipt_inner(id, &hub)?;
            e.activate_inner(id)?;
            let audit_key =
                e.generate_inner(KeyType::AuditSigning, "store", std::slice::from_ref(&hub), None, false, rng)?;
            e.transition(audit_key, Transition::Distribute, "local")?;
            e.confirm_receipt_inner(audit_key, &hub)?;
            e.activate_inner(audit_key)?;
            e.write_checkpoint()
        })?;
        Ok(engine)
    }

    /// Keeps a provisional store ([`Engine::create_provisional`]) when the engine is dropped.
    pub fn keep(&mut self) {
        self.new_files.keep();
    }

    /// The engine over an opened store, before its signer is loaded.
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        conn: Connection,
        new_files: store::NewStoreFiles,
        writer_lock: store::WriterLock,
        path: &Path,
        master: MasterKey,
        config: EngineConfig,
        clock: Box<dyn Clock>,
        head: ChainHead,
    ) -> Engine {
        Engine {
            conn,
            new_files,
            _writer_lock: writer_lock,
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
        let mut engine =
            Engine::assemble(conn, store::NewStoreFiles::none(), writer_lock, path, master_key, config, clock, head);
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

    /// Current time of the engine's clock, ns.
    pub fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }

    /// Set the actor named in subsequent audit records (e.g. `operator:alice`).
    pub fn set_actor(&mut self, actor: &str) {
        self.actor = actor.to_string();
    }

    // ----- transactions -------------------------------------------------

    /// Run `f` as one all-or-nothing unit: a transaction, or a savepoint when
    /// already inside one (batch mode or a composite operation).
    pub(super) fn atomic<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let saved_head = self.head.clone();
        let saved_signer = self.signer.clone();
        let outer = self.conn.is_autocommit();
        self.sql(if outer { "BEGIN IMMEDIATE" } else { "SAVEPOINT op" })?;
        let result = f(self);
        let finish = match &result {
            Ok(_) => self.sql(if outer { "COMMIT" } else { "RELEASE op" }),
            Err(_) if outer => self.sql("ROLLBACK"),
            Err(_) => self.sql("ROLLBACK TO op").and_then(|()| self.sql("RELEASE op")),
        };
        if result.is_err() || finish.is_err() {
            if finish.is_err() && outer && !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            self.head = saved_head;
            self.signer = saved_signer;
        }
        let v = result?;
        finish?;
        Ok(v)
    }

    /// Run one parameterless statement through the statement cache.
    pub(super) fn sql(&self, statement: &str) -> Result<()> {
        self.conn.prepare_cached(statement)?.execute([])?;
        Ok(())
    }

    /// Batch mode: run many operations in one SQLite transaction (one commit),
    /// each still atomic on its own (a failing operation rolls back only
    /// itself). Operations that succeeded are committed even if `f` returns an
    /// error afterwards; `f`'s result is returned.
    pub fn batch<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if !self.conn.is_autocommit() {
            return f(self);
        }
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = f(self);
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.resync_after_rollback()?;
            return Err(e.into());
        }
        result
    }

    /// After a batch was rolled back as a whole: the chain head, Merkle tree, checkpoint
    /// counters and signer are read again from the store, which no longer holds the batch's
    /// records (the in-memory head still did).
    pub(super) fn resync_after_rollback(&mut self) -> Result<()> {
        self.head = ChainHead::load(&self.conn)?;
        self.refresh_signer()
    }

    // ----- audit ----------------------------------------------------------

    pub(super) fn append_audit(
        &mut self,
        event: &str,
        key: Option<KeyId>,
        from: Option<KeyState>,
        to: Option<KeyState>,
        detail: &str,
    ) -> Result<u64> {
        let now = self.clock.now_ns();
        let rec = AuditRecord {
            seq: self.head.seq + 1,
            at_ns: now,
            event: event.to_string(),
            key_id: key,
            from,
            to,
            actor: self.actor.clone(),
            detail: detail.to_string(),
        };
        let hash = rec.hash(&self.head.hash);
        self.conn
            .prepare_cached(
                "INSERT INTO audit(seq, at_ns, event, key_id, from_state, to_state, actor, detail, prev_hash, hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                rec.seq as i64,
                now as i64,
                rec.event,
                key.map(|k| k.0),
                from.map(KeyState::as_str),
                to.map(KeyState::as_str),
                rec.actor,
                rec.detail,
                &self.head.hash[..],
                &hash[..],
            ])?;
        self.head.seq = rec.seq;
        self.head.hash = hash;
        self.head.tree.push(audit::record_leaf(&hash));
        self.head.since_checkpoint += 1;
        if self.head.since_checkpoint >= self.config.checkpoint_every
            || now.saturating_sub(self.head.last_checkpoint_ns) >= self.config.checkpoint_interval_ns
        {
            self.write_checkpoint()?;
        }
        Ok(rec.seq)
    }

    /// Sign the current chain head with the ACTIVE AUDIT_SIGNING key (no-op
    /// when nothing new was appended or no signing key is available).
    pub(super) fn write_checkpoint(&mut self) -> Result<()> {
        let Some(signer) = self.signer.clone() else {
            return Ok(());
        };
        if self.head.seq == 0 || self.head.since_checkpoint == 0 {
            return Ok(());
        }
        let now = self.clock.now_ns();
        let (signer_id, key) = (&signer.0, &signer.1);
        let root = self.head.tree.root();
        let msg = checkpoint_message(self.head.seq, now, &self.head.hash, Some(&root), *signer_id);
        let sig = key.sign(&msg);
        self.conn
            .prepare_cached(
                "INSERT INTO checkpoints(seq, at_ns, head, signer, signature, root) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                self.head.seq as i64,
                now as i64,
                &self.head.hash[..],
                signer_id.0,
                &sig[..],
                &root[..]
            ])?;
        self.head.since_checkpoint = 0;
        self.head.last_checkpoint_ns = now;
        Ok(())
    }

    /// Sign a checkpoint now (e.g. before shutdown) in its own transaction.
    pub fn checkpoint_now(&mut self) -> Result<()> {
        self.atomic(|e| e.write_checkpoint())
    }

    pub(super) fn refresh_signer(&mut self) -> Result<()> {
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM keys WHERE key_type = 'AUDIT_SIGNING' AND state IN ('ACTIVE','ROTATING') \
                 ORDER BY (state = 'ACTIVE') DESC, activated_ns DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        self.signer = match id {
            None => None,
            Some(id) => {
                let id = KeyId(id);
                let material = self.unwrap_material(id, KeyType::AuditSigning)?;
                let signer = AuditSigner::from_material(&material)
                    .map_err(|source| LifecycleError::Crypto { key: id, source })?;
                Some(Arc::new((id, signer)))
            }
        };
        Ok(())
    }

    /// Verify the whole audit chain and its checkpoints (read-only).
    pub fn verify_audit(&self) -> Result<std::result::Result<VerifyReport, AuditFailure>> {
        Ok(audit::verify_chain(&self.conn)?)
    }

    /// Key states as replayed from the audit chain.
    pub fn replay_audit(&self) -> Result<BTreeMap<KeyId, KeyState>> {
        Ok(audit::replay_states(&self.conn)?)
    }

    /// Number of audit records.
    pub fn audit_len(&self) -> u64 {
        self.head.seq
    }

    // ----- reads ------------------------------------------------------------

    /// One key (no material).
    pub fn key(&self, id: KeyId) -> Result<KeyRecord> {
        record::get_key(&self.conn, id)
    }

    /// All keys, or those in `state`.
    pub fn keys(&self, state: Option<KeyState>) -> Result<Vec<KeyRecord>> {
        record::list_keys(&self.conn, state)
    }

    /// Current state of every key.
    pub fn key_states(&self) -> Result<BTreeMap<KeyId, KeyState>> {
        let mut st = self.conn.prepare_cached("SELECT id, state FROM keys")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = BTreeMap::new();
        for r in rows {
            let (id, s) = r?;
            out.insert(KeyId(id), s.parse().map_err(LifecycleError::Corrupt)?);
        }
        Ok(out)
    }

    /// Nodes isolated after a compromise.
    pub fn isolated_nodes(&self) -> Result<BTreeSet<String>> {
        let mut st = self.conn.prepare_cached("SELECT node FROM nodes")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    pub(super) fn is_isolated(&self, node: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM nodes WHERE node = ?1")?
            .query_row([node], |_| Ok(()))
            .optional()?
            .is_some())
    }

    pub(super) fn load(&self, id: KeyId) -> Result<KeyRecord> {
        let mut st = self.conn.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = ?1"))?;
        st.query_row([id.0], record::from_row).optional()?.ok_or(LifecycleError::UnknownKey(id))
    }

    pub(super) fn unwrap_material(&self, id: KeyId, kt: KeyType) -> Result<SecretBytes> {
        let wrapped: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT wrapped FROM keys WHERE id = ?1")?
            .query_row([id.0], |r| r.get(0))
            .optional()?
            .ok_or(LifecycleError::UnknownKey(id))?;
        let Some(wrapped) = wrapped else {
            return Err(LifecycleError::NoMaterial { key: id, state: self.load(id)?.state });
        };
        self.master.unwrap(&wrapped, &key_aad(id, kt)).map_err(|source| LifecycleError::Crypto { key: id, source })
    }

    // ----- core transitions -------------------------------------------------

    /// Apply `t` to `id` after checking the diagram; writes the audit record.
    pub(super) fn transition(&mut self, id: KeyId, t: Transition, detail: &str) -> Result<KeyState> {
        let from = self.load_state(id)?;
        if !t.allowed_from(from) {
            return Err(LifecycleError::IllegalTransition { key: id, state: from, transition: t });
        }
        let now = self.clock.now_ns() as i64;
        let to = t.target();
        let erase = to == KeyState::Destroyed;
        self.conn
            .prepare_cached(
                "UPDATE keys SET state = ?2, state_changed_ns = ?3, \
                 activated_ns = CASE WHEN ?2 = 'ACTIVE' THEN ?3 ELSE activated_ns END, \
                 wrapped = CASE WHEN ?4 THEN NULL ELSE wrapped END WHERE id = ?1",
            )?
            .execute(params![id.0, to.as_str(), now, erase])?;
        self.append_audit(t.as_str(), Some(id), Some(from), Some(to), detail)?;
        Ok(from)
    }

    /// Just the state of `id` (cheaper than [`Engine::load`]).
    pub(super) fn load_state(&self, id: KeyId) -> Result<KeyState> {
        let s: String = self
            .conn
            .prepare_cached("SELECT state FROM keys WHERE id = ?1")?
            .query_row([id.0], |r| r.get(0))
            .optional()?
            .ok_or(LifecycleError::UnknownKey(id))?;
        s.parse().map_err(LifecycleError::Corrupt)
    }

    pub(super) fn insert_key(
        &mut self,
        kt: KeyType,
        channel: &str,
        participants: &[String],
        replaces: Option<KeyId>,
        prestaged: bool,
        material_len: usize,
    ) -> Result<KeyId> {
        let spec = self.config.specs.get(kt).clone();
        let now = self.clock.now_ns() as i64;
        let parts = serde_json::to_string(participants).map_err(|e| LifecycleError::Input(e.to_string()))?;
        self.conn
            .prepare_cached(
                "INSERT INTO keys(key_type, channel, state, participants, material_len, created_ns, \
                 state_changed_ns, rotation_period_ns, usage_limit, replaces, prestaged) \
                 VALUES (?1, ?2, 'GENERATED', ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                kt.as_str(),
                channel,
                parts,
                material_len as i64,
                now,
                spec.rotation_period_ns.map(|v| v as i64),
                spec.usage_limit.map(|v| v as i64),
                replaces.map(|k| k.0),
                prestaged,
            ])?;
        Ok(KeyId(self.conn.last_insert_rowid()))
    }

    /// The record of an operator-held SOVEREIGN_MASTER (no material stored), GENERATED, with
    /// its audit record; the operator (the engine's actor) is its one participant.
    pub(super) fn insert_master_record(&mut self, replaces: Option<KeyId>, detail: &str) -> Result<KeyId> {
        let actor = self.actor.clone();
        let material_len = self.config.specs.get(KeyType::SovereignMaster).material_len;
        let id = self.insert_key(
            KeyType::SovereignMaster,
            "store",
            std::slice::from_ref(&actor),
            replaces,
            false,
            material_len,
        )?;
        self.append_audit("generate", Some(id), None, Some(KeyState::Generated), detail)?;
        Ok(id)
    }

    pub(super) fn generate_inner(
        &mut self,
        kt: KeyType,
        channel: &str,
        participants: &[String],
        replaces: Option<KeyId>,
        prestaged: bool,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        if kt == KeyType::SovereignMaster {
            return Err(LifecycleError::Input(
                "SOVEREIGN_MASTER is supplied by the operator, not generated into the store".into(),
            ));
        }
        let mut nodes: Vec<String> = participants.to_vec();
        nodes.sort();
        nodes.dedup();
        if nodes.is_empty() {
            return Err(LifecycleError::NoParticipants);
        }
        for n in &nodes {
            if self.is_isolated(n)? {
                return Err(LifecycleError::NodeIsolated { node: n.clone() });
            }
        }
        let spec = self.config.specs.get(kt).clone();
        // Material first: a generation failure leaves no record.
        let material = SecretBytes::random(spec.material_len, kt.as_str(), rng)
            .map_err(|source| LifecycleError::GenerationFailed { key_type: kt, source })?;
        self.store_new_key(kt, channel, &nodes, replaces, prestaged, material, "local entropy", rng)
    }

    /// Insert a GENERATED key with the given material (already checked), wrapped.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn store_new_key(
        &mut self,
        kt: KeyType,
        channel: &str,
        nodes: &[String],
        replaces: Option<KeyId>,
        prestaged: bool,
        material: SecretBytes,
        origin: &str,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        let public = public_of(kt, &material);
        let id = self.insert_key(kt, channel, nodes, replaces, prestaged, material.len())?;
        let wrapped = self
            .master
            .wrap(&material, &key_aad(id, kt), rng)
            .map_err(|source| LifecycleError::GenerationFailed { key_type: kt, source })?;
        self.conn
            .prepare_cached("UPDATE keys SET wrapped = ?2, public = ?3 WHERE id = ?1")?
            .execute(params![id.0, wrapped, public])?;
        let mut detail = format!("type={kt}; channel={channel}; participants={}; source={origin}", nodes.join(","));
        if let Some(r) = replaces {
            detail.push_str(&format!("; replaces={r}"));
        }
        if prestaged {
            detail.push_str("; prestaged");
        }
        self.append_audit("generate", Some(id), None, Some(KeyState::Generated), &detail)?;
        Ok(id)
    }

    pub(super) fn confirm_receipt_inner(&mut self, id: KeyId, node: &str) -> Result<()> {
        let rec = self.load(id)?;
        let is_participant = rec.participants.iter().any(|p| p == node);
        match rules::receipt_refusal(rec.state, is_participant, self.is_isolated(node)?) {
            Some(ReceiptRefusal::NotExpected) => {
                return Err(LifecycleError::ReceiptNotExpected { key: id, state: rec.state });
            }
            Some(ReceiptRefusal::NotParticipant) => {
                return Err(LifecycleError::NotParticipant { key: id, node: node.to_string() });
            }
            Some(ReceiptRefusal::NodeIsolated) => {
                return Err(LifecycleError::NodeIsolated { node: node.to_string() });
            }
            None => {}
        }
        let now = self.clock.now_ns() as i64;
        let added = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO receipts(key_id, node, at_ns) VALUES (?1, ?2, ?3)")?
            .execute(params![id.0, node, now])?;
        if added == 1 {
            self.append_audit("receipt", Some(id), None, None, &format!("node={node}"))?;
        }
        Ok(())
    }

    pub(super) fn proof_inner(&self, id: KeyId) -> Result<ReceiptProof> {
        let rec = self.load(id)?;
        if rec.state != KeyState::Distributed {
            return Err(LifecycleError::IllegalTransition {
                key: id,
                state: rec.state,
                transition: Transition::Activate,
            });
        }
        let got: BTreeSet<String> = record::receipts(&self.conn, id)?.into_iter().collect();
        let missing = rules::missing_receipts(&rec.participants, |p| got.contains(p));
        if !missing.is_empty() {
            return Err(LifecycleError::ReceiptsIncomplete { key: id, state: rec.state, missing });
        }
        Ok(ReceiptProof::new(id, got))
    }

    pub(super) fn activate_inner(&mut self, id: KeyId) -> Result<()> {
        // Receipts are re-checked inside the transaction.
        self.proof_inner(id)?;
        let rec = self.load(id)?;
        let other: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM keys WHERE channel = ?1 AND key_type = ?2 AND state = 'ACTIVE' AND id != ?3",
            )?
            .query_row(params![rec.channel, rec.key_type.as_str(), id.0], |r| r.get(0))
            .optional()?;
        if let Some(active) = other {
            return Err(LifecycleError::ChannelBusy {
                key: id,
                channel: rec.channel,
                key_type: rec.key_type,
                active: KeyId(active),
            });
        }
        self.transition(id, Transition::Activate, "all receipts confirmed")?;
        // At most one ROTATING key (this key's predecessor) may overlap the
        // new ACTIVE one: any older key still in overlap on the channel is superseded.
        // The overlap rule is [`rules::overlap_fate`].
        for k in self.rotating_on_channel(&rec.channel, rec.key_type)? {
            if Some(k.id) != rec.replaces
                && rules::overlap_fate(false, k.early_retirement, self.config.overlap_ns) == OverlapFate::RetireNow
            {
                self.transition(k.id, Transition::Retire, &format!("superseded by {id}"))?;
            }
        }
        if let Some(old) = rec.replaces {
            let old_rec = self.load(old)?;
            if old_rec.state == KeyState::Rotating {
                if rules::overlap_fate(true, old_rec.early_retirement, self.config.overlap_ns) == OverlapFate::RetireNow
                {
                    self.transition(old, Transition::Retire, &format!("replaced by {id}"))?;
                } else {
                    let until = self.clock.now_ns().saturating_add(self.config.overlap_ns);
                    self.conn
                        .prepare_cached("UPDATE keys SET overlap_until_ns = ?2 WHERE id = ?1")?
                        .execute(params![old.0, until as i64])?;
                }
            }
        }
        if rec.key_type == KeyType::AuditSigning {
            let material = self.unwrap_material(id, KeyType::AuditSigning)?;
            let signer =
                AuditSigner::from_material(&material).map_err(|source| LifecycleError::Crypto { key: id, source })?;
            self.conn
                .prepare_cached("INSERT OR REPLACE INTO audit_keys(key_id, public) VALUES (?1, ?2)")?
                .execute(params![id.0, &signer.public()[..]])?;
            self.signer = Some(Arc::new((id, signer)));
        }
        Ok(())
    }

    // ----- public operations ---------------------------------------------

    /// Generate a key of `key_type` for `channel`, to be shared with
    /// `participants`. Generation failure (e.g. a stuck RNG) creates no record.
    pub fn generate(
        &mut self,
        key_type: KeyType,
        channel: &str,
        participants: &[&str],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        let parts: Vec<String> = participants.iter().map(|s| s.to_string()).collect();
        self.atomic(|e| e.generate_inner(key_type, channel, &parts, None, false, rng))
    }

    /// Record externally produced key material as a GENERATED key, e.g. a
    /// QKD_TRANSPORT pad distilled by the QKD link (any length of at least 64
    /// bytes), or material of another type of exactly its table length. The
    /// bytes are wrapped at once; `rng` supplies only the wrapping nonce.
    pub fn import_material(
        &mut self,
        key_type: KeyType,
        channel: &str,
        participants: &[&str],
        material: SecretBytes,
        origin: &str,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        let spec_len = self.config.specs.get(key_type).material_len;
        let ok = match key_type {
            KeyType::SovereignMaster => false,
            KeyType::QkdTransport => material.len() >= 64,
            _ => material.len() == spec_len,
        };
        if !ok {
            return Err(LifecycleError::GenerationFailed {
                key_type,
                source: crate::crypto::CryptoError::BadKeyLength {
                    what: key_type.as_str(),
                    expected: if key_type == KeyType::QkdTransport { 64 } else { spec_len },
                    got: material.len(),
                },
            });
        }
        let mut nodes: Vec<String> = participants.iter().map(|s| s.to_string()).collect();
        nodes.sort();
        nodes.dedup();
        if nodes.is_empty() {
            return Err(LifecycleError::NoParticipants);
        }
        self.atomic(|e| {
            for n in &nodes {
                if e.is_isolated(n)? {
                    return Err(LifecycleError::NodeIsolated { node: n.clone() });
                }
            }
            e.store_new_key(key_type, channel, &nodes, None, false, material, origin, rng)
        })
    }

    /// Generate and distribute pre-staged material for emergency re-keying of
    /// `channel`. It stays DISTRIBUTED (collecting receipts) until an emergency
    /// rotation activates it.
    pub fn prestage(
        &mut self,
        key_type: KeyType,
        channel: &str,
        participants: &[&str],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        let parts: Vec<String> = participants.iter().map(|s| s.to_string()).collect();
        self.atomic(|e| {
            let id = e.generate_inner(key_type, channel, &parts, None, true, rng)?;
            e.transition(id, Transition::Distribute, "pre-staged for emergency re-key")?;
            Ok(id)
        })
    }

    /// GENERATED → DISTRIBUTED: the material has been sent to the participants.
    pub fn distribute(&mut self, id: KeyId) -> Result<()> {
        self.atomic(|e| e.transition(id, Transition::Distribute, "sent via QKD channel").map(|_| ()))
    }

    /// Distribution failed: the key is DESTROYED (material erased) and a retry
    /// with new material is generated in the same transaction. Returns the new key.
    pub fn fail_distribution(&mut self, id: KeyId, rng: &mut (impl CryptoRng + ?Sized)) -> Result<KeyId> {
        self.atomic(|e| {
            let rec = e.load(id)?;
            e.transition(id, Transition::DistributionFailure, "distribution failed; retrying with new material")?;
            e.conn.prepare_cached("DELETE FROM receipts WHERE key_id = ?1")?.execute([id.0])?;
            let retry =
                e.generate_inner(rec.key_type, &rec.channel, &rec.participants, rec.replaces, rec.prestaged, rng)?;
            e.append_audit("distribution_retry", Some(retry), None, None, &format!("retry of {id}"))?;
            Ok(retry)
        })
    }

    /// A participant confirms receipt of a DISTRIBUTED key.
    pub fn confirm_receipt(&mut self, id: KeyId, node: &str) -> Result<()> {
        self.atomic(|e| e.confirm_receipt_inner(id, node))
    }

    /// Proof that every participant confirmed `id`; fails naming the missing ones.
    pub fn receipt_proof(&self, id: KeyId) -> Result<ReceiptProof> {
        self.proof_inner(id)
    }

    /// DISTRIBUTED → ACTIVE, consuming the receipt proof. If the key replaces a
    /// ROTATING key, that key retires now (early retirement or zero overlap) or
    /// when the overlap ends ([`Engine::tick`]).
    pub fn activate(&mut self, proof: ReceiptProof) -> Result<()> {
        self.atomic(|e| e.activate_inner(proof.key()))
    }

    /// Compromise: any live state → REVOKED.
    pub fn revoke(&mut self, id: KeyId, reason: &str) -> Result<()> {
        self.atomic(|e| e.transition(id, Transition::Revoke, reason).map(|_| ()))
    }

    /// ROTATING → RETIRED, allowed once the replacement has been activated.
    pub fn retire(&mut self, id: KeyId) -> Result<()> {
        self.atomic(|e| e.retire_inner(id, "operator"))
    }

    pub(super) fn retire_inner(&mut self, id: KeyId, detail: &str) -> Result<()> {
        let rec = self.load(id)?;
        // A set overlap end means the replacement was activated (it may have
        // been rotated or revoked since); otherwise it must be ACTIVE now.
        if rec.state == KeyState::Rotating && rec.overlap_until_ns.is_none() {
            let replacement_active: Option<i64> = self
                .conn
                .prepare_cached("SELECT id FROM keys WHERE replaces = ?1 AND state = 'ACTIVE'")?
                .query_row([id.0], |r| r.get(0))
                .optional()?;
            if replacement_active.is_none() {
                return Err(LifecycleError::ReplacementNotActive { key: id });
            }
        }
        self.transition(id, Transition::Retire, detail).map(|_| ())
    }

    /// RETIRED → DESTROYED (material erased), allowed after the retention period.
    pub fn destroy(&mut self, id: KeyId) -> Result<()> {
        self.atomic(|e| {
            let rec = e.load(id)?;
            let due = rec.state_changed_ns.saturating_add(e.config.retention_ns);
            let now = e.clock.now_ns();
            if rec.state == KeyState::Retired && now < due {
                return Err(LifecycleError::RetentionNotElapsed { key: id, due_ns: due, now_ns: now });
            }
            e.transition(id, Transition::Destroy, "retention period over").map(|_| ())
        })
    }

    /// Timer work: retire ROTATING keys whose overlap ended (replacement
    /// ACTIVE), destroy RETIRED keys whose retention ended. Each is its own
    /// atomic transition.
    pub fn tick(&mut self) -> Result<TickReport> {
        let now = self.clock.now_ns();
        let mut report = TickReport::default();
        // Only the keys that are due are loaded (by index on state, filtered in SQL), so a
        // tick costs time per due key, not per key ever archived.
        let due = |e: &Self, sql: &str, at: i64| -> Result<Vec<KeyId>> {
            let mut stmt = e.conn.prepare_cached(sql)?;
            let ids = stmt.query_map([at], |r| r.get::<_, i64>(0))?.collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(ids.into_iter().map(KeyId).collect())
        };
        let overlap_over = due(
            self,
            "SELECT id FROM keys WHERE state = 'ROTATING' AND overlap_until_ns IS NOT NULL AND overlap_until_ns <= ?1 ORDER BY id",
            now as i64,
        )?;
        for id in overlap_over {
            self.atomic(|e| e.retire_inner(id, "overlap period over"))?;
            report.retired.push(id);
        }
        let retention_over = due(
            self,
            "SELECT id FROM keys WHERE state = 'RETIRED' AND state_changed_ns <= ?1 ORDER BY id",
            now.saturating_sub(self.config.retention_ns) as i64,
        )?;
        for id in retention_over {
            self.destroy(id)?;
            report.destroyed.push(id);
        }
        Ok(report)
    }
}
