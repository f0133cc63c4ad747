//! The SQLite store: schema, version check, single-writer lock, master-key check.
//!
//! One file holds keys (material wrapped with SOVEREIGN_MASTER, AES-256-GCM,
//! bound to the key id), states, receipts, counters, nodes, the audit chain,
//! its checkpoints and the AUDIT_SIGNING public keys, in WAL mode so readers
//! (`qecnet audit verify`, `qecnet keys`) work while the writer runs.
//!
//! Single writer: the writer holds an exclusive SQLite lock on a companion
//! file `<store>.lock` from open to drop (the operating system releases it if
//! the process dies), so a second writer gets [`LifecycleError::StoreLocked`].
//! The lock file stays in place once a store exists (deleting it could let two
//! writers lock different files); only a lock file made by a run whose new store
//! was then removed goes too, while its lock is still held.
//!
//! The master key is never stored. `meta.master_check` is an AES-GCM
//! encryption of a fixed string under it; a key that does not open it is
//! refused with [`LifecycleError::MasterKeyMismatch`].
//!
//! The SQL the engine runs on a store is gathered beside this file: `store/keys.rs` (keys,
//! receipts, isolated nodes) and `store/log.rs` (audit records, checkpoints, signing keys,
//! and the per-transition counts the report draws); `store/checkpointer.rs` folds the
//! write-ahead log into the file beside the writer when asked to.

mod checkpointer;
pub(crate) mod keys;
pub(crate) mod log;

pub use checkpointer::Checkpointer;

pub use log::{TransitionCount, read_transition_counts, transition_counts};

use std::path::Path;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};

use super::LifecycleError;

/// Schema version this build writes and reads. Version 2 added the Merkle root of each
/// checkpoint; a version-1 store is read as it is (its checkpoints sign the chain head only)
/// and upgraded when opened for writing. Version 3 changed only the keys table's indexes
/// ([`KEY_INDEXES`]); an older store is read with the indexes it has (every query runs on
/// either set) and given the new ones when opened for writing.
pub const SCHEMA_VERSION: i64 = 3;
/// Value of `meta.magic` in every qecnet store.
pub const MAGIC: &str = "qecnet-key-store";
/// AAD of the master-key check value.
pub(crate) const MASTER_CHECK_AAD: &[u8] = b"qecnet/master-check/v1";

/// The tables and the indexes that do not depend on a key's state ([`KEY_INDEXES`] are the others).
pub(crate) const SCHEMA: &str = "
CREATE TABLE meta(name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE keys(
    id INTEGER PRIMARY KEY,
    key_type TEXT NOT NULL,
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    participants TEXT NOT NULL,
    wrapped BLOB,
    public BLOB,
    material_len INTEGER NOT NULL,
    created_ns INTEGER NOT NULL,
    state_changed_ns INTEGER NOT NULL,
    activated_ns INTEGER,
    rotation_period_ns INTEGER,
    usage_limit INTEGER,
    usage_count INTEGER NOT NULL DEFAULT 0,
    pad_consumed INTEGER NOT NULL DEFAULT 0,
    replaces INTEGER,
    overlap_until_ns INTEGER,
    early_retirement INTEGER NOT NULL DEFAULT 0,
    prestaged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX keys_by_replaces ON keys(replaces);
CREATE INDEX keys_by_state_age ON keys(state, state_changed_ns);
CREATE TABLE receipts(
    key_id INTEGER NOT NULL,
    node TEXT NOT NULL,
    at_ns INTEGER NOT NULL,
    PRIMARY KEY(key_id, node)
) WITHOUT ROWID;
CREATE TABLE nodes(node TEXT PRIMARY KEY, isolated_ns INTEGER NOT NULL);
CREATE TABLE audit(
    seq INTEGER PRIMARY KEY,
    at_ns INTEGER NOT NULL,
    event TEXT NOT NULL,
    key_id INTEGER,
    from_state TEXT,
    to_state TEXT,
    actor TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE TABLE checkpoints(
    seq INTEGER PRIMARY KEY,
    at_ns INTEGER NOT NULL,
    head BLOB NOT NULL,
    signer INTEGER NOT NULL,
    signature BLOB NOT NULL,
    root BLOB
);
CREATE TABLE audit_keys(key_id INTEGER PRIMARY KEY, public BLOB NOT NULL);
";

/// The keys table's indexes that depend on a key's state (schema version 3), beside
/// `keys_by_replaces` and `keys_by_state_age (state, state_changed_ns)`, which also serves
/// every query by state alone.
///
/// Both are partial, over the keys whose entries change often and are few at any time. A
/// full `(channel, key_type, state)` index (versions 1–2) kept every RETIRED key of every
/// channel, so each refresh of the 1,327 channels of the 50-node mesh dirtied one or two
/// pages per channel, spread over the whole index — most of the pages each commit wrote to
/// the WAL and the checkpoint copied again. The live entries fit in a few dozen pages. The
/// conditions are written as ORs of equalities so that SQLite can prove that a query's
/// `state = 'ACTIVE'` (or `'ROTATING'`) implies them (its implication test knows OR, not IN).
/// `keys_by_overlap_end` leads with the (constant) state so that the planner, which keeps no
/// statistics, prefers it to `keys_by_state_age` for the timer's due-overlap query.
pub(crate) const KEY_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS keys_by_channel_live ON keys(channel, key_type, state)
    WHERE state = 'GENERATED' OR state = 'DISTRIBUTED' OR state = 'ACTIVE' OR state = 'ROTATING';
CREATE INDEX IF NOT EXISTS keys_by_overlap_end ON keys(state, overlap_until_ns) WHERE state = 'ROTATING';
";

/// Version 2 to 3: the keys table's state indexes become [`KEY_INDEXES`].
const UPGRADE_TO_3: &str = "
DROP INDEX IF EXISTS keys_by_state;
DROP INDEX IF EXISTS keys_by_channel;
DROP INDEX IF EXISTS keys_by_overlap;
";

/// Map SQLite's "busy/locked" and "not a database" to the store's own errors.
pub(crate) fn classify(path: &Path, e: rusqlite::Error) -> LifecycleError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            LifecycleError::StoreLocked { path: path.to_path_buf() }
        }
        Some(ErrorCode::NotADatabase) => {
            LifecycleError::NotAStore { path: path.to_path_buf(), reason: "not an SQLite database".into() }
        }
        Some(ErrorCode::DatabaseCorrupt) => LifecycleError::Damaged { path: path.to_path_buf(), reason: e.to_string() },
        _ => LifecycleError::Sqlite(e),
    }
}

/// Whether the store commits durably (fsync at every commit) or only at WAL checkpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: every committed transaction survives power loss.
    Full,
    /// `synchronous=NORMAL`: committed transactions survive a process crash; the
    /// last ones may be lost on power loss. Atomicity is unaffected.
    Normal,
}

fn set_pragmas(conn: &Connection, durability: Durability) -> Result<(), rusqlite::Error> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        },
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Temporary files in memory: above all the statement journal of every savepoint (each
    // engine operation inside a batch is one), which otherwise spills past 64 KiB to a file in
    // the temporary directory and costs a pwrite per page touched, per operation — millions of
    // system calls in a simulated day. It only ever rolls back a savepoint of the open
    // transaction (after a crash SQLite rolls back the whole transaction from the WAL without
    // it), so keeping it in memory changes no durability guarantee.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // 64 MiB of page cache (SQLite's default is 2 MiB): a simulated mesh writes hundreds of
    // MB of keys and audit records, and a small cache turns every update into page reads.
    conn.pragma_update(None, "cache_size", -65_536)?;
    // Every statement the engine runs stays prepared (rusqlite's default cache holds 16).
    conn.set_prepared_statement_cache_capacity(128);
    // The query planner stability guarantee: a plan never depends on the values bound to a
    // statement. Without it SQLite (built with STAT4) marks the parameters of a statement with
    // an ORDER BY as plan-relevant, and the statement cache's clearing of the bindings then
    // expires the statement, so every reuse of e.g. the receipts or ROTATING-keys query was
    // compiled again (a fifth of the 50-node mesh's CPU time). The store keeps no statistics
    // tables, so no plan could have used the bound values anyway.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

/// The companion lock file of a store.
pub fn lock_path(path: &Path) -> std::path::PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    p.into()
}

/// The single-writer lock of a store: an exclusive SQLite lock on `<store>.lock`, held
/// while this lives (the operating system releases it if the process dies).
pub(crate) struct WriterLock {
    _conn: Connection,
    /// The lock file, when this process created it.
    created: Option<std::path::PathBuf>,
}

/// Take the single-writer lock of the store at `path`. A lock file this process creates
/// but cannot lock (another writer opened it first) is left alone: that writer holds it.
pub(crate) fn lock_writer(path: &Path) -> Result<WriterLock, LifecycleError> {
    let lock_file = lock_path(path);
    let created = match std::fs::OpenOptions::new().write(true).create_new(true).open(&lock_file) {
        Ok(_) => Some(lock_file.clone()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
        Err(e) => return Err(e.into()),
    };
    // In exclusive locking mode a connection keeps every lock it obtained, so two writers
    // reaching for the lock at the same instant can each keep the other out (both hold a
    // shared lock, neither gets the exclusive one). A refused attempt therefore closes its
    // connection and tries again after a short random pause; a writer that really holds the
    // lock holds it throughout, so the others are refused within about a quarter second.
    let mut last = None;
    for _ in 0..12 {
        match try_lock(&lock_file) {
            Ok(conn) => return Ok(WriterLock { _conn: conn, created }),
            Err(e) if is_busy(&e) => last = Some(e),
            Err(e) => return Err(LifecycleError::Sqlite(e)),
        }
        std::thread::sleep(std::time::Duration::from_millis(5 + rand::random::<u64>() % 30));
    }
    debug_assert!(last.is_some());
    Err(LifecycleError::StoreLocked { path: path.to_path_buf() })
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked))
}

/// One attempt at the exclusive lock on `lock_file`, without waiting.
fn try_lock(lock_file: &Path) -> Result<Connection, rusqlite::Error> {
    let lock = Connection::open(lock_file)?;
    lock.busy_timeout(std::time::Duration::ZERO)?;
    lock.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    // A real write makes SQLite take the exclusive lock, which exclusive
    // locking mode then keeps until the connection closes.
    lock.execute_batch(
        "BEGIN EXCLUSIVE; \
         CREATE TABLE IF NOT EXISTS writer(pid INTEGER NOT NULL); \
         DELETE FROM writer;",
    )?;
    let done = lock
        .execute("INSERT INTO writer(pid) VALUES (?1)", [std::process::id()])
        .and_then(|_| lock.execute_batch("COMMIT"));
    if let Err(e) = done {
        let _ = lock.execute_batch("ROLLBACK");
        return Err(e);
    }
    Ok(lock)
}

/// The files of a store this process is creating: removed when this is dropped unless
/// [`NewStoreFiles::keep`] was called. It must be dropped while the writer lock is still
/// held (the engine declares it between its connection and its lock), so no other writer
/// can have opened the store meanwhile.
#[derive(Debug, Default)]
pub(crate) struct NewStoreFiles {
    db: Option<std::path::PathBuf>,
    lock: Option<std::path::PathBuf>,
}

impl NewStoreFiles {
    /// Nothing to remove (a store opened, not created).
    pub(crate) fn none() -> Self {
        NewStoreFiles::default()
    }

    /// The lock file, if `lock` created it.
    pub(crate) fn lock_of(lock: &WriterLock) -> Self {
        NewStoreFiles { db: None, lock: lock.created.clone() }
    }

    /// The store file (and its `-wal`, `-shm`) was created by this process.
    pub(crate) fn created_db(&mut self, db: &Path) {
        self.db = Some(db.to_path_buf());
    }

    /// The store is complete: leave every file in place.
    pub(crate) fn keep(&mut self) {
        self.db = None;
        self.lock = None;
    }
}

impl Drop for NewStoreFiles {
    fn drop(&mut self) {
        if let Some(db) = self.db.take() {
            for file in store_files(&db) {
                let _ = std::fs::remove_file(file);
            }
        }
        if let Some(lock) = self.lock.take() {
            let _ = std::fs::remove_file(lock);
        }
    }
}

/// A store file and its SQLite companions (`-wal`, `-shm`).
pub fn store_files(db: &Path) -> [std::path::PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    [db.to_path_buf(), with("-wal"), with("-shm")]
}

/// Removes the existing store at `path` so a new one can take its place; the caller holds
/// its writer lock, so no writer is using it. Refuses a file that is not a qecnet store.
pub(crate) fn remove_existing_store(path: &Path) -> Result<(), LifecycleError> {
    // An empty file is what a writer killed while creating its store leaves (the schema was
    // still in the write-ahead log): nothing to lose. Anything else must be a qecnet store.
    if std::fs::metadata(path)?.len() > 0 {
        drop(open_existing(path)?);
    }
    for file in store_files(path) {
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}

/// Create a new store file (the caller holds the writer lock). The schema is written to a
/// temporary file beside `path` and linked into place only once it is committed, so `path`
/// either does not exist or is a store with its identity — a writer killed while creating it
/// leaves no half-made store. The link is exclusive: an existing file, or one another process
/// creates at the same moment, is never overwritten.
pub(crate) fn create(path: &Path, durability: Durability, master_check: &[u8]) -> Result<Connection, LifecycleError> {
    let [_, wal, _] = store_files(path);
    if wal.exists() {
        // SQLite would replay a stale write-ahead log into the new store.
        return Err(LifecycleError::AlreadyExists { path: wal });
    }
    if path.exists() {
        return Err(LifecycleError::AlreadyExists { path: path.to_path_buf() });
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.creating", std::process::id()));
    let mut temp_files = NewStoreFiles::none();
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&temp) {
        Ok(_) => temp_files.created_db(&temp),
        Err(e) => return Err(e.into()),
    }
    {
        let conn = Connection::open(&temp).map_err(|e| classify(&temp, e))?;
        set_pragmas(&conn, durability).map_err(|e| classify(&temp, e))?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let init = (|| -> Result<(), rusqlite::Error> {
            conn.execute_batch(SCHEMA)?;
            conn.execute_batch(KEY_INDEXES)?;
            let mut st = conn.prepare("INSERT INTO meta(name, value) VALUES (?1, ?2)")?;
            st.execute(rusqlite::params!["magic", MAGIC])?;
            st.execute(rusqlite::params!["schema_version", SCHEMA_VERSION])?;
            st.execute(rusqlite::params!["master_check", master_check])?;
            Ok(())
        })();
        match init {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e.into());
            }
        }
        // Fold the log into the file, so the file alone is the store.
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    }
    let mut files = NewStoreFiles::none();
    match std::fs::hard_link(&temp, path) {
        Ok(()) => files.created_db(path),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(LifecycleError::AlreadyExists { path: path.to_path_buf() });
        }
        // A file system without hard links: the writer lock still keeps other writers out.
        Err(_) => {
            std::fs::rename(&temp, path)?;
            files.created_db(path);
        }
    }
    drop(temp_files);
    let conn = Connection::open(path).map_err(|e| classify(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    set_pragmas(&conn, durability).map_err(|e| classify(path, e))?;
    files.keep();
    Ok(conn)
}

/// Check magic and version of an open connection without writing anything.
pub(crate) fn check_identity(conn: &Connection, path: &Path) -> Result<(), LifecycleError> {
    let has_meta: Option<String> = conn
        .query_row("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'", [], |r| r.get(0))
        .optional()
        .map_err(|e| classify(path, e))?;
    if has_meta.is_none() {
        return Err(LifecycleError::NotAStore { path: path.to_path_buf(), reason: "no qecnet meta table".into() });
    }
    let magic: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE name = 'magic'", [], |r| r.get(0))
        .optional()
        .map_err(|e| classify(path, e))?;
    if magic.as_deref() != Some(MAGIC) {
        return Err(LifecycleError::NotAStore { path: path.to_path_buf(), reason: "wrong magic value".into() });
    }
    let version: i64 = conn
        .query_row("SELECT value FROM meta WHERE name = 'schema_version'", [], |r| r.get(0))
        .map_err(|_| LifecycleError::NotAStore { path: path.to_path_buf(), reason: "no schema version".into() })?;
    if version > SCHEMA_VERSION {
        return Err(LifecycleError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version < 1 {
        return Err(LifecycleError::NotAStore {
            path: path.to_path_buf(),
            reason: format!("unknown older schema version {version}"),
        });
    }
    Ok(())
}

/// Open an existing store for writing (the caller holds the writer lock):
/// identity checks come first, so nothing is written to a foreign file.
pub(crate) fn open_writer(path: &Path, durability: Durability) -> Result<(Connection, Vec<u8>), LifecycleError> {
    let conn = open_existing(path)?;
    set_pragmas(&conn, durability).map_err(|e| classify(path, e))?;
    upgrade(&conn).map_err(|e| classify(path, e))?;
    let check: Vec<u8> = conn
        .query_row("SELECT value FROM meta WHERE name = 'master_check'", [], |r| r.get(0))
        .map_err(|e| classify(path, e))?;
    Ok((conn, check))
}

/// Brings an older store to the current schema in one transaction: from version 1,
/// checkpoints gain a (for the old ones, empty) Merkle root column; from version 2, the
/// keys table's state indexes are replaced by [`KEY_INDEXES`]. Nothing else changes.
fn upgrade(conn: &Connection) -> Result<(), rusqlite::Error> {
    let version: i64 = conn.query_row("SELECT value FROM meta WHERE name = 'schema_version'", [], |r| r.get(0))?;
    if version >= SCHEMA_VERSION {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let done = (|| {
        if version < 2 {
            conn.execute_batch("ALTER TABLE checkpoints ADD COLUMN root BLOB")?;
        }
        if version < 3 {
            conn.execute_batch(UPGRADE_TO_3)?;
            conn.execute_batch(KEY_INDEXES)?;
        }
        conn.execute("UPDATE meta SET value = ?1 WHERE name = 'schema_version'", [SCHEMA_VERSION])?;
        conn.execute_batch("COMMIT")
    })();
    if done.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    done
}

/// Whether the store's checkpoints carry Merkle roots (schema version 2 and later).
pub(crate) fn has_merkle_roots(conn: &Connection) -> Result<bool, rusqlite::Error> {
    conn.query_row("SELECT COUNT(*) FROM pragma_table_info('checkpoints') WHERE name = 'root'", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n > 0)
}

/// Open a store for reading only (`audit verify`, `keys list/show`): no
/// secret and no writer lock needed; works while a writer is running.
pub fn open_reader(path: &Path) -> Result<Connection, LifecycleError> {
    // query_only forbids any change through this connection.
    let conn = open_existing(path)?;
    conn.pragma_update(None, "query_only", "ON")?;
    Ok(conn)
}

/// Opens a damaged store (one [`open_reader`] refused as [`LifecycleError::Damaged`], e.g. a
/// truncated file) strictly read-only and with SQLite's schema checks relaxed, so a
/// verification can read every record up to the damage and name the last one that holds.
/// Nothing can be written through it, and nothing is recovered into the file.
pub fn open_damaged_reader(path: &Path) -> Result<Connection, LifecycleError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| classify(path, e))?;
    conn.pragma_update(None, "query_only", "ON")?;
    // A truncated file has fewer pages than its header says; SQLite refuses every read of
    // such a file unless the schema is "writable" (the connection stays query-only).
    conn.pragma_update(None, "writable_schema", "ON")?;
    check_identity(&conn, path)?;
    Ok(conn)
}

/// Opens an existing qecnet store read-write (so SQLite can recover a WAL left by a crashed
/// writer) and checks its identity before anything else touches it.
fn open_existing(path: &Path) -> Result<Connection, LifecycleError> {
    if !path.exists() {
        return Err(LifecycleError::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{}: no such store", path.display()),
        )));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| classify(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    check_identity(&conn, path)?;
    Ok(conn)
}
