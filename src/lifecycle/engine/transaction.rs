//! Transactions and batches: every engine operation is one all-or-nothing unit (a SQLite
//! transaction, or a savepoint inside a batch or a composite operation), and a batch groups
//! many operations into one commit.
//!
//! The writing functions of the engine (`transition`, `append_audit`, the `*_inner`
//! operations, ...) are methods of [`Tx`], a token that only [`Engine::atomic`] creates and
//! hands to its closure (its field is private to this module): a store write outside a
//! transaction does not compile.

use std::ops::{Deref, DerefMut};

use super::Engine;
use crate::lifecycle::LifecycleError;

type Result<T> = std::result::Result<T, LifecycleError>;

/// Proof that the engine's connection is inside a transaction (or savepoint): the engine
/// borrowed for the duration of one atomic operation. It dereferences to the [`Engine`], so
/// reads work as usual; the store writes are methods of `Tx`.
pub(crate) struct Tx<'e> {
    engine: &'e mut Engine,
}

impl Deref for Tx<'_> {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        self.engine
    }
}

impl DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Engine {
        self.engine
    }
}

impl Engine {
    /// Run `f` as one all-or-nothing unit: a transaction, or a savepoint when
    /// already inside one (batch mode or a composite operation). On failure the in-memory
    /// chain head and signer are restored with the store.
    pub(crate) fn atomic<T>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let saved_head = self.head.clone();
        let saved_signer = self.signer.clone();
        let outer = self.conn.is_autocommit();
        self.sql(if outer { "BEGIN IMMEDIATE" } else { "SAVEPOINT op" })?;
        let result = f(&mut Tx { engine: self });
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
    fn sql(&self, statement: &str) -> Result<()> {
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

    /// Opens a batch explicitly, for drivers that cannot run inside [`Engine::batch`]'s closure
    /// (an event loop holding other state): every operation until [`Engine::commit_batch`] is
    /// still atomic on its own (a savepoint), and they are committed together.
    pub fn begin_batch(&mut self) -> Result<()> {
        if self.conn.is_autocommit() {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
        }
        Ok(())
    }

    /// Commits the batch opened by [`Engine::begin_batch`] (nothing if none is open). On
    /// failure the batch is rolled back and the error returned; the store then holds only what
    /// was committed before.
    pub fn commit_batch(&mut self) -> Result<()> {
        if self.conn.is_autocommit() {
            return Ok(());
        }
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.resync_after_rollback()?;
            return Err(e.into());
        }
        Ok(())
    }

    /// After a batch was rolled back as a whole: the chain head, Merkle tree, checkpoint
    /// counters and signer are read again from the store, which no longer holds the batch's
    /// records (the in-memory head still did).
    fn resync_after_rollback(&mut self) -> Result<()> {
        self.head = super::ChainHead::load(&self.conn)?;
        self.refresh_signer()
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use crate::crypto::{KeyType, SecretBytes};

    use crate::lifecycle::{Engine, EngineConfig, ManualClock};
    use crate::units::SimTime;

    /// Makes the open transaction's COMMIT fail: a deferred foreign-key violation is only
    /// checked at commit.
    const FAIL_AT_COMMIT: &str = "CREATE TEMP TABLE parent(id INTEGER PRIMARY KEY); \
        CREATE TEMP TABLE child(p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED); \
        INSERT INTO child VALUES (42);";

    #[test]
    fn a_failed_batch_commit_leaves_a_head_that_continues_the_stored_chain() {
        let dir = std::env::temp_dir().join(format!("qecnet-batch-fail-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let master = SecretBytes::random(32, "master", &mut rng).unwrap();
        let clock = ManualClock::new(SimTime::from_secs(1_000));
        let config = EngineConfig { checkpoint_every: 3, ..EngineConfig::default() };
        let mut e = Engine::create(&dir.join("store.db"), &master, config, Box::new(clock), &mut rng).unwrap();
        let stored = e.audit_len();
        // The explicit batch of the mesh, then the closure batch: both commits fail and roll
        // back records that the in-memory chain head (hash, Merkle tree, checkpoint counter)
        // had already taken in.
        e.begin_batch().unwrap();
        for i in 0..5 {
            e.generate(KeyType::MeshSession, &format!("a{i}"), &["hub"], &mut rng).unwrap();
        }
        e.conn.execute_batch(FAIL_AT_COMMIT).unwrap();
        assert!(e.commit_batch().is_err());
        assert_eq!(e.audit_len(), stored);
        let failed = e.batch(|e| {
            for i in 0..4 {
                e.generate(KeyType::MeshSession, &format!("b{i}"), &["hub"], &mut rng)?;
            }
            e.conn.execute_batch(FAIL_AT_COMMIT)?;
            Ok(())
        });
        assert!(failed.is_err());
        assert_eq!(e.audit_len(), stored);
        // Records and signed checkpoints written afterwards continue the stored chain.
        for i in 0..7 {
            e.generate(KeyType::MeshSession, &format!("c{i}"), &["hub"], &mut rng).unwrap();
        }
        e.checkpoint_now().unwrap();
        let report = e.verify_audit().unwrap().into_result().unwrap();
        assert_eq!(report.records, stored + 7);
        assert_eq!(report.unsigned_tail, 0);
        drop(e);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
