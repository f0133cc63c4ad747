//! The KMEs' single writer to the lifecycle store, with group commit: every KME connection
//! sends its request's store work (record keys for a master, collect keys for a slave) to one
//! thread that owns the [`Engine`]; the thread takes every job waiting, runs each as its own
//! all-or-nothing transaction (a savepoint) inside one SQLite transaction, commits once (one
//! fsync under [`crate::lifecycle::Durability::Full`]) and only then answers them. So a key is
//! durable before its response can leave, and concurrent requests share the cost of the
//! commit. The KMEs' housekeeping timer sends the expiry job, which also destroys the
//! collected keys whose retention is over ([`Engine::tick`]), off the requests' path.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rand_chacha::ChaCha20Rng;
use tokio::sync::oneshot;

use crate::crypto::SecretBytes;
use crate::lifecycle::{DeliveredKey, Engine, KeyId, LifecycleError};

/// Jobs taken into one commit at most (the default of [`start_writer`]'s `max_group`).
pub const MAX_GROUP: usize = 512;

enum Job {
    Issue { participants: Vec<String>, keys: Vec<DeliveredKey>, reply: oneshot::Sender<Result<Vec<KeyId>, String>> },
    Collect { keys: Vec<(KeyId, String)>, reply: oneshot::Sender<Result<Vec<SecretBytes>, String>> },
    Expire { keys: Vec<(KeyId, String)>, reply: oneshot::Sender<Result<(), String>> },
}

/// What a job produced before the commit decides whether it stands.
enum Done {
    Issued(oneshot::Sender<Result<Vec<KeyId>, String>>, Result<Vec<KeyId>, String>),
    Collected(oneshot::Sender<Result<Vec<SecretBytes>, String>>, Result<Vec<SecretBytes>, String>),
    Expired(oneshot::Sender<Result<(), String>>, Result<(), String>),
}

/// Handle on the writer thread; cloneable senders live in [`KeyStore`].
pub struct KeyStore {
    jobs: mpsc::Sender<Job>,
}

/// The writer thread, to join at shutdown.
pub struct StoreWriter {
    thread: JoinHandle<Result<u64, LifecycleError>>,
}

impl StoreWriter {
    /// Waits until every [`KeyStore`] handle is dropped and the last jobs are committed, then
    /// signs a checkpoint over the whole chain. Returns the number of audit records.
    pub fn finish(self) -> Result<u64, LifecycleError> {
        self.thread.join().unwrap_or_else(|_| Err(LifecycleError::Input("the store writer panicked".into())))
    }
}

impl Clone for KeyStore {
    fn clone(&self) -> Self {
        KeyStore { jobs: self.jobs.clone() }
    }
}

/// Starts the writer thread over `engine`, taking up to `max_group` jobs into one commit (1:
/// a commit, so an fsync, per request); `rng` (keyed from the operating system) supplies the
/// wrapping nonces.
pub fn start_writer(mut engine: Engine, mut rng: ChaCha20Rng, max_group: usize) -> (KeyStore, StoreWriter) {
    let max_group = max_group.max(1);
    let (tx, rx) = mpsc::channel::<Job>();
    let thread = std::thread::Builder::new()
        .name("qecnet-store".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut group = vec![first];
                while group.len() < max_group {
                    match rx.try_recv() {
                        Ok(job) => group.push(job),
                        Err(_) => break,
                    }
                }
                run_group(&mut engine, &mut rng, group);
            }
            engine.checkpoint_now()?;
            Ok(engine.audit_len())
        })
        .expect("spawn the store writer");
    (KeyStore { jobs: tx }, StoreWriter { thread })
}

/// Runs a group of jobs in one commit and answers each; if the commit fails, every job of
/// the group fails (none of them is in the store).
fn run_group(engine: &mut Engine, rng: &mut ChaCha20Rng, group: Vec<Job>) {
    let mut done = Vec::with_capacity(group.len());
    let begun = engine.begin_batch().map_err(|e| e.to_string());
    for job in group {
        match job {
            Job::Issue { participants, keys, reply } => {
                let result = begun.clone().and_then(|()| {
                    let names: Vec<&str> = participants.iter().map(String::as_str).collect();
                    engine.issue_delivered_keys(&names, keys, rng).map_err(|e| e.to_string())
                });
                done.push(Done::Issued(reply, result));
            }
            Job::Collect { keys, reply } => {
                let result =
                    begun.clone().and_then(|()| engine.collect_delivered_keys(&keys).map_err(|e| e.to_string()));
                done.push(Done::Collected(reply, result));
            }
            Job::Expire { keys, reply } => {
                let result = begun.clone().and_then(|()| {
                    if !keys.is_empty() {
                        engine.expire_delivered_keys(&keys).map_err(|e| e.to_string())?;
                    }
                    // Collected keys whose retention is over are destroyed too. Each destroy
                    // is its own savepoint, so one that fails leaves its key RETIRED for the
                    // next expiry job and fails nothing else.
                    let _ = engine.tick();
                    Ok(())
                });
                done.push(Done::Expired(reply, result));
            }
        }
    }
    let committed = begun.and_then(|()| engine.commit_batch().map_err(|e| format!("commit failed: {e}")));
    for d in done {
        // A receiver that has gone (its connection closed) just drops the answer.
        match d {
            Done::Issued(reply, result) => {
                let _ = reply.send(committed.clone().and(result));
            }
            Done::Collected(reply, result) => {
                let _ = reply.send(match &committed {
                    Ok(()) => result,
                    Err(e) => Err(e.clone()),
                });
            }
            Done::Expired(reply, result) => {
                let _ = reply.send(committed.clone().and(result));
            }
        }
    }
}

impl KeyStore {
    /// Records and activates `keys` for their master, durably; their ids in order.
    pub async fn issue(&self, participants: Vec<String>, keys: Vec<DeliveredKey>) -> Result<Vec<KeyId>, String> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Issue { participants, keys, reply }).map_err(|_| "the store writer stopped".to_string())?;
        answer.await.map_err(|_| "the store writer stopped".to_string())?
    }

    /// Retires `keys` (with who receives each) durably and returns their material in order.
    pub async fn collect(&self, keys: Vec<(KeyId, String)>) -> Result<Vec<SecretBytes>, String> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Collect { keys, reply }).map_err(|_| "the store writer stopped".to_string())?;
        answer.await.map_err(|_| "the store writer stopped".to_string())?
    }

    /// Expires `keys` (with why each, for the audit record; none is fine) durably, erasing their
    /// material, and destroys the collected keys whose retention is over.
    pub async fn expire(&self, keys: Vec<(KeyId, String)>) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Expire { keys, reply }).map_err(|_| "the store writer stopped".to_string())?;
        answer.await.map_err(|_| "the store writer stopped".to_string())?
    }
}
