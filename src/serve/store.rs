//! The KMEs' single writer to the lifecycle store, with group commit, and the live mesh's
//! driver: one thread owns the [`LiveMesh`] and its [`Engine`]. Every KME connection sends its
//! request's store work (record keys for a master, collect keys for a slave) to that thread;
//! the thread takes every job waiting, first runs the mesh up to the simulated time the wall
//! clock has reached (the wall time since the start times the speed), then runs each job as
//! its own all-or-nothing transaction (a savepoint), all inside one SQLite transaction,
//! commits once (one fsync under [`crate::lifecycle::Durability::Full`]) and only then answers
//! them; before the commit it refreshes the KMEs' view of the links ([`LiveSupply::sync`]:
//! the key they spent leaves the mesh's buffers) and saves the mesh's snapshot
//! ([`MESH_SNAPSHOT`]), so a restart goes on from the physics of the last commit, with every
//! key delivered up to it paid for. With no job
//! waiting it steps the mesh every [`STEP_EVERY`]. So a key is durable before its response can
//! leave, concurrent requests share the cost of the commit, and the mesh's physics, rotations
//! and audit records run on the same engine and timeline as the delivered keys. The KMEs'
//! housekeeping timer sends the expiry job, which also destroys the collected keys whose
//! retention is over ([`Engine::tick`]), off the requests' path.

use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use tokio::sync::{oneshot, watch};

use super::error::ServeError;
use super::live_supply::LiveSupply;
use crate::crypto::SecretBytes;
use crate::lifecycle::{DeliveredKey, Engine, KeyId, LifecycleError, ManualClock};
use crate::mesh::{EventSpec, LiveMesh, MeshScenario, MeshSnapshot};
use crate::units::SimTime;

/// How often the writer steps the mesh when no request is waiting (wall clock).
pub const STEP_EVERY: Duration = Duration::from_millis(20);

/// The engine's driver state that holds the live mesh's snapshot (JSON of a
/// [`MeshSnapshot`]), saved with every commit of the writer.
pub const MESH_SNAPSHOT: &str = "serve.mesh";

/// Jobs taken into one commit at most (the default of [`start_writer`]'s `max_group`).
pub const MAX_GROUP: usize = 512;

enum Job {
    /// Groups of keys, each held by its own KMEs (a multicast key has one group per slave).
    Issue {
        groups: Vec<(Vec<String>, Vec<DeliveredKey>)>,
        reply: oneshot::Sender<Result<Vec<KeyId>, String>>,
    },
    Collect {
        keys: Vec<(KeyId, String)>,
        reply: oneshot::Sender<Result<Vec<SecretBytes>, String>>,
    },
    Expire {
        keys: Vec<(KeyId, String)>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Revoke {
        keys: Vec<(KeyId, String)>,
        reply: oneshot::Sender<Result<Vec<KeyId>, String>>,
    },
    Inject {
        event: EventSpec,
        reply: oneshot::Sender<Injected>,
    },
}

/// What injecting an event gives: the event as scheduled, or why it was refused (inner); the
/// store's failure (outer).
pub type Injected = Result<Result<EventSpec, String>, String>;

/// What a job produced before the commit decides whether it stands.
enum Done {
    /// The key ids a job issued or revoked.
    Ids(oneshot::Sender<Result<Vec<KeyId>, String>>, Result<Vec<KeyId>, String>),
    Collected(oneshot::Sender<Result<Vec<SecretBytes>, String>>, Result<Vec<SecretBytes>, String>),
    Expired(oneshot::Sender<Result<(), String>>, Result<(), String>),
    Injected(oneshot::Sender<Injected>, Injected),
}

/// Handle on the writer thread; cloneable senders live in [`KeyStore`].
pub struct KeyStore {
    jobs: mpsc::Sender<Job>,
    /// Becomes `true` when the writer thread has ended (a failed mesh or store, or shutdown).
    stopped: watch::Receiver<bool>,
}

/// Marks the writer stopped when the thread ends, however it ends (returns, fails, panics).
struct StoppedOnDrop(watch::Sender<bool>);

impl Drop for StoppedOnDrop {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
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
        KeyStore { jobs: self.jobs.clone(), stopped: self.stopped.clone() }
    }
}

/// How the live mesh is paced: simulated seconds per wall-clock second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    /// Simulated seconds per wall-clock second (> 0).
    pub speed: f64,
}

/// Starts the writer thread: the live mesh of `scenario` on `engine` (whose clock reads
/// `sim_clock` plus a fixed epoch), from `snapshot` if the store had one, paced by `pacing`, taking up to `max_group` jobs into one
/// commit (1: a commit, so an fsync, per request); `rng` (keyed from the operating system)
/// supplies the wrapping nonces. Returns once the mesh has started (its identity keys
/// committed), with the KMEs' supply over it.
pub fn start_writer(
    scenario: Arc<MeshScenario>,
    engine: Engine,
    sim_clock: ManualClock,
    snapshot: Option<MeshSnapshot>,
    mut rng: ChaCha20Rng,
    max_group: usize,
    pacing: Pacing,
) -> Result<(KeyStore, StoreWriter, Arc<LiveSupply>), ServeError> {
    let max_group = max_group.max(1);
    let (tx, rx) = mpsc::channel::<Job>();
    let (started_tx, started_rx) = mpsc::channel::<Result<Arc<LiveSupply>, ServeError>>();
    let (stopped_tx, stopped) = watch::channel(false);
    let thread = std::thread::Builder::new()
        .name("qecnet-store".into())
        .spawn(move || {
            let _stopped = StoppedOnDrop(stopped_tx);
            let started = match &snapshot {
                Some(s) => LiveMesh::resume(&scenario, engine, sim_clock, s),
                None => LiveMesh::start(&scenario, engine, sim_clock),
            };
            let mut mesh = match started {
                Ok(mesh) => mesh,
                Err(e) => {
                    let _ = started_tx.send(Err(e.into()));
                    return Ok(0);
                }
            };
            let supply = match LiveSupply::of(&mesh) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    let _ = started_tx.send(Err(ServeError::Supply(e)));
                    return Ok(0);
                }
            };
            let _ = started_tx.send(Ok(supply.clone()));
            let started = Instant::now();
            let resumed_at = mesh.now().as_secs_f64();
            loop {
                let mut group = match rx.recv_timeout(STEP_EVERY) {
                    Ok(job) => vec![job],
                    Err(mpsc::RecvTimeoutError::Timeout) => Vec::new(),
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                };
                while !group.is_empty() && group.len() < max_group {
                    match rx.try_recv() {
                        Ok(job) => group.push(job),
                        Err(_) => break,
                    }
                }
                let now = SimTime::from_secs_f64_rounded(resumed_at + started.elapsed().as_secs_f64() * pacing.speed);
                run_group(&mut mesh, &supply, now, &mut rng, group)?;
            }
            let mut engine = mesh.finish().map_err(|e| LifecycleError::Input(e.to_string()))?;
            engine.checkpoint_now()?;
            Ok(engine.audit_len())
        })
        .expect("spawn the store writer");
    match started_rx.recv() {
        Ok(Ok(supply)) => Ok((KeyStore { jobs: tx, stopped }, StoreWriter { thread }, supply)),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err(ServeError::Lifecycle(thread.join().map_or_else(
            |_| LifecycleError::Input("the store writer panicked".into()),
            |r| r.err().unwrap_or_else(|| LifecycleError::Input("the store writer stopped".into())),
        ))),
    }
}

/// Runs the mesh up to `now`, then a group of jobs, then takes the key the KMEs spent from
/// the mesh's buffers and saves the mesh's snapshot, in one commit, and answers each job; if
/// the commit fails, every job of the group fails (none of them is in the store). A mesh that
/// fails stops the writer (the jobs are answered with its error).
fn run_group(
    mesh: &mut LiveMesh<'_>,
    supply: &LiveSupply,
    now: SimTime,
    rng: &mut ChaCha20Rng,
    group: Vec<Job>,
) -> Result<(), LifecycleError> {
    let mut done = Vec::with_capacity(group.len());
    let mut begun = mesh.engine().begin_batch().map_err(|e| e.to_string());
    let mut mesh_failure = None;
    if begun.is_ok()
        && let Err(e) = mesh.advance_to(now)
    {
        let message = format!("the live mesh stopped: {e}");
        begun = Err(message.clone());
        mesh_failure = Some(LifecycleError::Input(message));
    }
    for job in group {
        match job {
            Job::Issue { groups, reply } => {
                let result = begun.clone().and_then(|()| {
                    let (participants, keys): (Vec<Vec<String>>, Vec<Vec<DeliveredKey>>) = groups.into_iter().unzip();
                    let names: Vec<Vec<&str>> =
                        participants.iter().map(|p| p.iter().map(String::as_str).collect()).collect();
                    let groups = names.iter().map(Vec::as_slice).zip(keys).collect();
                    mesh.engine().issue_delivered_key_groups(groups, rng).map_err(|e| e.to_string())
                });
                done.push(Done::Ids(reply, result));
            }
            Job::Collect { keys, reply } => {
                let result =
                    begun.clone().and_then(|()| mesh.engine().collect_delivered_keys(&keys).map_err(|e| e.to_string()));
                done.push(Done::Collected(reply, result));
            }
            Job::Revoke { keys, reply } => {
                // Each revocation is its own savepoint: one that fails leaves its key as it
                // was (for the next attempt) and the others revoked.
                let result = begun.clone().map(|()| {
                    keys.iter()
                        .filter(|(id, reason)| mesh.engine().revoke(*id, reason).is_ok())
                        .map(|(id, _)| *id)
                        .collect()
                });
                done.push(Done::Ids(reply, result));
            }
            Job::Inject { event, reply } => {
                let result = begun.clone().map(|()| mesh.inject(event).map_err(|e| e.to_string()));
                done.push(Done::Injected(reply, result));
            }
            Job::Expire { keys, reply } => {
                let result = begun.clone().and_then(|()| {
                    if !keys.is_empty() {
                        mesh.engine().expire_delivered_keys(&keys).map_err(|e| e.to_string())?;
                    }
                    // Collected keys whose retention is over are destroyed too. Each destroy
                    // is its own savepoint, so one that fails leaves its key RETIRED for the
                    // next expiry job and fails nothing else.
                    let _ = mesh.engine().tick();
                    Ok(())
                });
                done.push(Done::Expired(reply, result));
            }
        }
    }
    // Key the KMEs reserved leaves the buffers now (conservatively: a reservation whose job is
    // still to come is paid for already), so the snapshot never holds key that was handed out.
    supply.sync(mesh);
    if begun.is_ok() {
        let saved = serde_json::to_vec(&mesh.snapshot())
            .map_err(|e| e.to_string())
            .and_then(|json| mesh.engine().save_driver_state(MESH_SNAPSHOT, &json).map_err(|e| e.to_string()));
        if let Err(e) = saved {
            // Not committed: the writer stops and the open transaction is rolled back with it.
            let message = format!("the live mesh's snapshot could not be saved: {e}");
            begun = Err(message.clone());
            mesh_failure = Some(LifecycleError::Input(message));
        }
    }
    let committed = begun.and_then(|()| mesh.engine().commit_batch().map_err(|e| format!("commit failed: {e}")));
    for d in done {
        // A receiver that has gone (its connection closed) just drops the answer.
        match d {
            Done::Ids(reply, result) => {
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
            Done::Injected(reply, result) => {
                let _ = reply.send(committed.clone().and(result));
            }
        }
    }
    match mesh_failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

impl KeyStore {
    /// Resolves once the writer thread has ended (a failed live mesh or store stops it; the
    /// server then stops too, rather than answering 503 until a signal).
    pub async fn stopped(&self) {
        let mut stopped = self.stopped.clone();
        let _ = stopped.wait_for(|&s| s).await;
    }

    /// Records and activates each group's keys (held by the group's KMEs) for their master,
    /// durably, all groups in one transaction; every group's ids in order.
    pub async fn issue(&self, groups: Vec<(Vec<String>, Vec<DeliveredKey>)>) -> Result<Vec<KeyId>, String> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Issue { groups, reply }).map_err(|_| "the store writer stopped".to_string())?;
        answer.await.map_err(|_| "the store writer stopped".to_string())?
    }

    /// Retires `keys` (with who receives each) durably and returns their material in order.
    pub async fn collect(&self, keys: Vec<(KeyId, String)>) -> Result<Vec<SecretBytes>, String> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Collect { keys, reply }).map_err(|_| "the store writer stopped".to_string())?;
        answer.await.map_err(|_| "the store writer stopped".to_string())?
    }

    /// Injects the operator's `event` into the live mesh now (its times count from now).
    pub async fn inject(&self, event: EventSpec) -> Injected {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Inject { event, reply }).map_err(|_| "the store writer stopped".to_string())?;
        answer.await.map_err(|_| "the store writer stopped".to_string())?
    }

    /// Revokes `keys` (with why each, for the audit record) durably: keys that a compromised
    /// node may have seen. Returns the keys revoked (a key whose revocation failed is not).
    pub async fn revoke(&self, keys: Vec<(KeyId, String)>) -> Result<Vec<KeyId>, String> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Revoke { keys, reply }).map_err(|_| "the store writer stopped".to_string())?;
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
