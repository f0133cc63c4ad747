//! Operations a hub driving QKD channels needs beyond the core ones: a rotation whose
//! replacement carries externally produced material (distilled by a QKD link, or agreed by the
//! ML-KEM-1024 fallback exchange), and audit records for channel events that change no key
//! (a link entering or leaving fallback, a detection by the decision engine).

use crate::crypto::SecretBytes;
use crate::lifecycle::engine::Engine;
use crate::lifecycle::error::LifecycleError;
use crate::lifecycle::record::KeyId;
use crate::lifecycle::state::{Transition, Trigger};
use rand::CryptoRng;

type Result<T> = std::result::Result<T, LifecycleError>;

impl Engine {
    /// Starts a rotation of the ACTIVE key `old` (it becomes ROTATING, decrypt-only) with a
    /// replacement carrying `material` from `origin`, GENERATED, in one transaction. With a
    /// `trigger` the rotation is a triggered one: the old key retires as soon as the
    /// replacement activates. Returns the replacement.
    pub fn rotate_with_material(
        &mut self,
        old: KeyId,
        material: SecretBytes,
        origin: &str,
        trigger: Option<Trigger>,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        self.atomic(|e| {
            let rec = e.load(old)?;
            let detail = match trigger {
                Some(t) => format!("triggered: {}", t.as_str()),
                None => "scheduled".to_string(),
            };
            e.transition(old, Transition::BeginRotation, &detail)?;
            if trigger.is_some() {
                e.conn.prepare_cached("UPDATE keys SET early_retirement = 1 WHERE id = ?1")?.execute([old.0])?;
            }
            e.store_new_key(rec.key_type, &rec.channel, &rec.participants, Some(old), false, material, origin, rng)
        })
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

    /// Appends an audit record for a channel event that changes no key state (`event` such as
    /// `link:fallback`, `detail` free text without key bytes). Returns its sequence number.
    pub fn record_event(&mut self, event: &str, detail: &str) -> Result<u64> {
        self.atomic(|e| e.append_audit(event, None, None, None, detail))
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use crate::crypto::{KeyType, NS_PER_SEC, SecretBytes};
    use crate::lifecycle::{Engine, EngineConfig, ManualClock};

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
        let clock = ManualClock::new(1_000 * NS_PER_SEC);
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
        let report = e.verify_audit().unwrap().unwrap();
        assert_eq!(report.records, stored + 7);
        assert_eq!(report.unsigned_tail, 0);
        drop(e);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
