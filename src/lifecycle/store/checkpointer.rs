//! A write-ahead-log checkpointer on its own connection and thread.
//!
//! In WAL mode SQLite appends every commit to `<store>-wal` and, by default, folds the log
//! into the store file (a checkpoint) inside whichever commit first finds the log over 1,000
//! pages: that commit then copies and fsyncs megabytes before it returns, so a server's
//! request that happens to carry it waits 8–25 ms instead of one. [`Checkpointer`] moves the
//! work beside the writer: the writer's connection stops checkpointing
//! (`wal_autocheckpoint = 0`) and a thread runs a PASSIVE checkpoint every interval, which
//! copies the committed frames without taking the writer's lock, so commits never wait for
//! it. The log is reused from its start once a checkpoint has copied all of it, so it stays
//! near the size one interval of commits writes.
//!
//! Durability is unchanged: a commit is durable once it is in the log (SQLite's WAL
//! guarantee); the checkpoint only moves it into the main file.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{Durability, classify};
use crate::lifecycle::LifecycleError;

/// A thread checkpointing one store's write-ahead log; stopped and joined on drop.
#[derive(Debug)]
pub struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the store at `path` every `every`, syncing as `durability` says.
    /// The caller turns the writer's own checkpoints off (see [`Engine::checkpoint_in_background`](crate::lifecycle::Engine::checkpoint_in_background)).
    pub fn start(path: &Path, durability: Durability, every: Duration) -> Result<Checkpointer, LifecycleError> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| classify(path, e))?;
        // A checkpoint that meets the writer's lock gives up at once and runs again next time.
        conn.busy_timeout(Duration::ZERO)?;
        let synchronous = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", synchronous)?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop_seen = stop.clone();
        let thread = std::thread::Builder::new()
            .name("qecnet-checkpoint".into())
            .spawn(move || {
                let (stopped, wake) = &*stop_seen;
                let mut stopped = stopped.lock().unwrap_or_else(|e| e.into_inner());
                while !*stopped {
                    stopped = wake.wait_timeout(stopped, every).unwrap_or_else(|e| e.into_inner()).0;
                    if !*stopped {
                        // PASSIVE: copies what it can without waiting for any lock; a busy
                        // store or a failed copy is retried at the next interval.
                        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    }
                }
            })
            .map_err(LifecycleError::Io)?;
        Ok(Checkpointer { stop, thread: Some(thread) })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use crate::crypto::SecretBytes;
    use crate::lifecycle::{DeliveredKey, Engine, EngineConfig, ManualClock};
    use crate::units::SimTime;

    fn file_len(path: &std::path::Path) -> u64 {
        std::fs::metadata(path).map_or(0, |m| m.len())
    }

    /// Commits 40 transactions of 50 delivered keys each (about 1.5 MB of rows and records).
    fn commit_keys(e: &mut Engine, rng: &mut ChaCha20Rng) {
        for t in 0..40 {
            let keys = (0..50)
                .map(|i| DeliveredKey {
                    channel: format!("etsi014/t{t}k{i}"),
                    material: SecretBytes::new(vec![7; 32]),
                    origin: "qkd n1-n2".into(),
                    handed_to: format!("key_ID=t{t}k{i}; master_SAE_ID=sae-alice"),
                })
                .collect();
            e.issue_delivered_keys(&["n1", "n2"], keys, rng).unwrap();
        }
    }

    #[test]
    fn a_background_checkpointer_moves_committed_pages_into_the_store_file_while_the_writer_runs() {
        let dir = std::env::temp_dir().join(format!("qecnet-checkpointer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let master = SecretBytes::random(32, "master", &mut rng).unwrap();
        let open = |name: &str, rng: &mut ChaCha20Rng| {
            let clock = ManualClock::new(SimTime::from_secs(1_700_000_000));
            Engine::create(&dir.join(name), &master, EngineConfig::default(), Box::new(clock), rng).unwrap()
        };
        // The store's size as its readers see it (the file and the log together).
        let logical = |e: &Engine| -> u64 {
            let pages: i64 = e.conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
            let size: i64 = e.conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
            (pages * size) as u64
        };
        // Without the checkpointer and with the writer's own checkpoints off, the file keeps
        // its size: everything committed is still in the log.
        let mut alone = open("alone.db", &mut rng);
        alone.conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        let before = file_len(&dir.join("alone.db"));
        commit_keys(&mut alone, &mut rng);
        assert!(logical(&alone) > before + 1_000_000, "the transactions wrote {} bytes", logical(&alone));
        assert_eq!(file_len(&dir.join("alone.db")), before, "no checkpoint ran");

        let mut served = open("served.db", &mut rng);
        served.checkpoint_in_background(Duration::from_millis(5)).unwrap();
        commit_keys(&mut served, &mut rng);
        let wanted = logical(&served);
        // The checkpointer folds the whole log in on its own; wait for it (bounded, not timed).
        let deadline = Instant::now() + Duration::from_secs(20);
        while file_len(&dir.join("served.db")) < wanted && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(file_len(&dir.join("served.db")), wanted, "every committed page is in the store file");
        served.verify_audit().unwrap().into_result().unwrap();
        drop((alone, served));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
