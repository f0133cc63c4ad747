//! A driver's own state, kept in the store beside the keys: what the process driving the
//! engine (the live mesh of `qecnet serve`) needs to go on after a restart, written in the
//! same transaction as the operations it goes with, so the two never disagree after a crash.
//! The rows are `meta` rows named `driver:NAME`. They are not in the audit chain, and nothing
//! the engine enforces reads them: a driver keeps there only what it could lose without a key
//! or an isolation being affected (isolated nodes, for one, are read from the engine).

use super::Engine;
use crate::lifecycle::LifecycleError;

type Result<T> = std::result::Result<T, LifecycleError>;

/// The `meta` name of driver state `name`.
fn meta_name(name: &str) -> String {
    format!("driver:{name}")
}

impl Engine {
    /// Saves `value` as driver state `name` (replacing what was there), atomically: inside an
    /// open batch it commits with the batch.
    pub fn save_driver_state(&mut self, name: &str, value: &[u8]) -> Result<()> {
        let name = meta_name(name);
        self.atomic(|tx| {
            tx.conn
                .prepare_cached(
                    "INSERT INTO meta(name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = ?2",
                )?
                .execute(rusqlite::params![name, value])?;
            Ok(())
        })
    }

    /// Driver state `name` as last saved, if any.
    pub fn driver_state(&self, name: &str) -> Result<Option<Vec<u8>>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE name = ?1")?
            .query_row([meta_name(name)], |r| r.get(0))
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use crate::crypto::SecretBytes;
    use crate::lifecycle::{Engine, EngineConfig, ManualClock};
    use crate::units::SimTime;

    #[test]
    fn driver_state_is_saved_with_its_batch_and_lost_with_a_rolled_back_one() {
        let dir = std::env::temp_dir().join(format!("qecnet-driver-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("store.db");
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let master = SecretBytes::random(32, "master", &mut rng).unwrap();
        let clock = Box::new(ManualClock::new(SimTime(0)));
        let mut engine = Engine::create(&db, &master, EngineConfig::default(), clock, &mut rng).unwrap();
        assert_eq!(engine.driver_state("mesh").unwrap(), None);
        engine.save_driver_state("mesh", b"first").unwrap();
        engine.begin_batch().unwrap();
        engine.save_driver_state("mesh", b"second").unwrap();
        engine.commit_batch().unwrap();
        assert_eq!(engine.driver_state("mesh").unwrap().as_deref(), Some(&b"second"[..]));
        // A batch that never commits (the process dies) leaves the last committed state.
        engine.begin_batch().unwrap();
        engine.save_driver_state("mesh", b"lost").unwrap();
        drop(engine);
        let clock = Box::new(ManualClock::new(SimTime(0)));
        let engine = Engine::open(&db, &master, EngineConfig::default(), clock).unwrap();
        assert_eq!(engine.driver_state("mesh").unwrap().as_deref(), Some(&b"second"[..]));
        assert_eq!(engine.driver_state("other").unwrap(), None, "names are separate");
        drop(engine);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
