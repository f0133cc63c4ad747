//! The mesh simulation: links on the block rung feed their key buffers and QBER windows to the
//! monitor and the decision engine; the real lifecycle engine (real crypto, SQLite store,
//! signed audit chain) runs on the simulator's clock and carries every session key through
//! generate/import → distribute → receipts → activate, with control messages that take
//! simulated time (fibre propagation, processing, loss and retries).
//!
//! This file holds the run loop; the mesh's parts are its submodules:
//! - `events`: the simulator's events and the kinds of rotation;
//! - `setup`: building a run (links, channels, message delays, the store);
//! - `link_window`: one monitoring window of a link (monitor, CUSUM, escalation);
//! - `channels`: session-key channels, their refresh and key uses;
//! - `fallback`: the ML-KEM-1024 hybrid exchange when QKD cannot pay;
//! - `messages`: control messages, receipts, resends and activation;
//! - `retries`: a distribution that misses its deadline fails (DESTROYED) and is retried
//!   with new material, after a back-off or when a participant that was down returns;
//! - `incidents`: scenario events (eve, degrade, crash...) and the compromise recovery;
//! - `reprovision`: a compromised hub re-provisioned by the operator (new SOVEREIGN_MASTER,
//!   every stored key re-wrapped, fresh keys for the hub's channels, the group with the hub);
//! - `reconfigure`: every pair's route (direct, trusted-node relay, fallback), re-planned
//!   when a link changes mode or a node crashes, returns or is isolated, and the coverage;
//! - `live`: the run driven step by step from outside (`qecnet serve`);
//! - `resume`: a live run's physics carried across a restart of its process;
//! - `statistics`: what the run counts, turned into the [`MeshSummary`];
//! - `outputs`: the CSV outputs, written through the atomic writer.

mod channels;
mod events;
mod fallback;
mod incidents;
mod link_window;
mod live;
mod messages;
mod outputs;
mod reconfigure;
mod reprovision;
mod resume;
mod retries;
mod setup;
mod statistics;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use rand_chacha::ChaCha20Rng;

use self::channels::{Channel, ChannelState};
use self::events::{RotationKind, SimEvent};
use self::link_window::LinkState;
pub use self::live::{LiveLink, LiveMesh, LiveNode};
use self::messages::{NodeStates, Pending};
use self::outputs::CsvWriters;
pub use self::outputs::MeshOutputs;
pub use self::resume::MeshSnapshot;
use self::statistics::Statistics;
use crate::crypto::{KeyType, SecretBytes};
use crate::lifecycle::{Engine, KeyId, ManualClock};
use crate::mesh::des::EventQueue;
use crate::mesh::error::{MeshError, Result};
use crate::mesh::escalation::{self, CompromiseDetector};
use crate::mesh::routing::Graph;
use crate::mesh::scenario::{EventSpec, MeshScenario};
use crate::mesh::summary::MeshSummary;
use crate::mesh::topology::Topology;
use crate::mesh::validated::ValidatedScenario;
use crate::rng::SimRng;
use crate::units::{SimDuration, SimTime};

/// How often the key types with their own rotation periods are checked.
const KEY_TYPE_CHECK: SimDuration = SimDuration::from_secs(600);

/// Runs `scenario`, writing the store and CSVs of `outputs`; `progress(simulated_s, total_s)`.
pub fn run_mesh(scenario: &MeshScenario, outputs: &MeshOutputs, progress: &dyn Fn(f64, f64)) -> Result<MeshSummary> {
    run_mesh_until(scenario, outputs, progress, &AtomicBool::new(false))
}

/// [`run_mesh`] that stops when `stop` is set (Ctrl-C, SIGTERM). A run that fails, is
/// stopped or panics leaves nothing behind: its store (under its writer lock) and its CSVs
/// (written to temporary files, renamed into place only at the end) are removed, and no file
/// it did not create is touched.
pub fn run_mesh_until(
    scenario: &MeshScenario,
    outputs: &MeshOutputs,
    progress: &dyn Fn(f64, f64),
    stop: &AtomicBool,
) -> Result<MeshSummary> {
    run_validated_mesh(&ValidatedScenario::new(scenario.clone())?, outputs, progress, stop)
}

/// [`run_mesh_until`] on a scenario validated already (by whoever built `valid`): not checked
/// again.
pub fn run_validated_mesh(
    valid: &ValidatedScenario,
    outputs: &MeshOutputs,
    progress: &dyn Fn(f64, f64),
    stop: &AtomicBool,
) -> Result<MeshSummary> {
    let (scenario, topology) = (valid.scenario(), valid.topology().clone());
    let mon = &scenario.monitor;
    let escalation_bound = if mon.escalate_links > 0 {
        let mut degree = vec![0u64; topology.nodes.len()];
        for l in &topology.links {
            degree[l.a] += 1;
            degree[l.b] += 1;
        }
        let busiest = degree.into_iter().max().unwrap_or(0);
        let (m, within, window) = (mon.escalate_links, mon.escalate_within_s, scenario.mesh.window_s);
        escalation::check_bound(busiest, m, within, window, mon.cusum_false_alarm_per_block)?
    } else {
        0.0
    };
    outputs.check(None)?;
    let mut sim = Sim::new(scenario, topology, outputs)?;
    sim.run(progress, stop)?;
    let mut summary = sim.finish()?;
    summary.escalation_false_signal_bound_per_node_day = escalation_bound;
    Ok(summary)
}

/// A running mesh: the scenario, the engine on the simulated clock, the event queue, and the
/// state of every link, channel, node and pending rotation.
struct Sim<'a> {
    scenario: &'a MeshScenario,
    topology: Topology,
    engine: Engine,
    clock: ManualClock,
    queue: EventQueue<SimEvent>,
    links: Vec<LinkState>,
    channels: BTreeMap<Channel, ChannelState>,
    /// Rotations waiting for receipts.
    pending: BTreeMap<KeyId, Pending>,
    /// Rotations whose last attempt failed while a participant was down, by the failed
    /// (DESTROYED) key: retried with new material when every participant is up.
    parked: BTreeMap<KeyId, Pending>,
    /// The deadline for every receipt of a distribution (ns).
    deadline_ns: u64,
    /// Message delays and the crashed and isolated nodes.
    nodes: NodeStates,
    /// Every secret of the run (see [`setup::secret_rng`]).
    crypto_rng: ChaCha20Rng,
    /// Message losses (seeded from the scenario).
    message_rng: SimRng,
    csv: CsvWriters,
    stats: Statistics,
    escalation: CompromiseDetector,
    /// The fibre graph (control-message latency per link) for key relay.
    graph: Graph,
    /// Every pair's planned route, now and at the start.
    routes: reconfigure::Routes,
    /// A SOVEREIGN_MASTER rotation came due while the hub was down: run when it returns.
    master_due: bool,
    /// Events injected while running (a live mesh's operator), numbered after the scenario's.
    injected: Vec<EventSpec>,
}

impl<'a> Sim<'a> {
    /// Simulated time `s` seconds after the start, rounded to the nanosecond.
    fn at(s: f64) -> SimTime {
        SimTime::from_secs_f64_rounded(s)
    }

    fn run(&mut self, progress: &dyn Fn(f64, f64), stop: &AtomicBool) -> Result<()> {
        let m = &self.scenario.mesh;
        let end = Self::at(m.duration_s);
        self.start()?;
        let slice = SimDuration::from_secs(600);
        let mut slice_end = SimTime(0) + slice;
        loop {
            // One commit per slice of simulated time; each operation stays atomic on its own.
            let until = slice_end.min(end);
            self.engine.begin_batch()?;
            self.run_until(until, stop)?;
            self.engine.commit_batch()?;
            progress(until.as_secs_f64(), m.duration_s);
            if until >= end || self.queue.is_empty() {
                break;
            }
            slice_end += slice;
        }
        // Close open fallback periods at the end of the run.
        for l in &mut self.links {
            if let Some(since) = l.stats.fallback_since.take() {
                l.stats.fallback += end.saturating_since(since);
            }
        }
        Ok(())
    }

    /// Schedules the run's first events (windows, refreshes, the scenario's events, ticks,
    /// master rotations within the scenario's duration) and, in one commit, plans the routes and
    /// gives every node its NODE_IDENTITY key.
    fn start(&mut self) -> Result<()> {
        self.start_at(SimTime(0))
    }

    /// [`Sim::start`] at simulated time `t0` (0, or the time of a resumed live run's snapshot):
    /// the events of the scenario and of the operator that are still to come (an event under
    /// way gets only its end: its impairments came with the snapshot), the returns of crashed
    /// nodes, and an identity key for every node that is not isolated.
    fn start_at(&mut self, t0: SimTime) -> Result<()> {
        let m = &self.scenario.mesh;
        let window = SimDuration::from_secs_f64(m.window_s);
        let end = Self::at(m.duration_s);
        let q = &mut self.queue;
        for i in 0..self.links.len() {
            q.schedule(t0 + window, SimEvent::Window(i))?;
        }
        // Every channel gets its first session key after the first window (when QKD key
        // exists), then every refresh interval; starts are staggered by a fixed fraction of the
        // window to spread the load.
        for (j, &ch) in self.channels.keys().enumerate() {
            let offset = SimDuration(window.0 + window.0 * (j as u64 % 16) / 16);
            q.schedule(t0 + offset, SimEvent::Refresh(ch))?;
        }
        // Scenario events take effect 1 ns after their time, so a window ending exactly then
        // still belongs to the state before.
        for (i, e) in self.scenario.event.iter().chain(&self.injected).enumerate() {
            let start = Self::at(e.at_s) + SimDuration(1);
            if start > t0 {
                q.schedule(start, SimEvent::Start(i))?;
            }
            if let Some(u) = e.until_s
                && Self::at(u) + SimDuration(1) > t0
            {
                q.schedule(Self::at(u) + SimDuration(1), SimEvent::End(i))?;
            }
        }
        for (n, until) in self.nodes.down_until.iter().enumerate() {
            if let Some(up) = *until {
                q.schedule(up, SimEvent::Restart(n))?;
            }
        }
        q.schedule(t0 + window, SimEvent::Tick)?;
        q.schedule(t0 + KEY_TYPE_CHECK, SimEvent::KeyTypes)?;
        if let Some(period) = self.engine.config().specs.get(KeyType::SovereignMaster).rotation_period {
            let mut t = SimTime(0) + period;
            while t <= end {
                if t > t0 {
                    q.schedule(t, SimEvent::MasterRotation)?;
                }
                t += period;
            }
        }
        // Every node gets its NODE_IDENTITY key (Ed25519 + ML-DSA-65) at the start.
        self.engine.begin_batch()?;
        self.initial_routes()?;
        for n in 1..self.topology.nodes.len() {
            if self.nodes.isolated.contains(&n) {
                continue;
            }
            let name = self.topology.nodes[n].name.clone();
            let key = self.engine.generate(
                KeyType::NodeIdentity,
                &format!("identity-{name}"),
                &["hub", &name],
                &mut self.crypto_rng,
            )?;
            self.engine.distribute(key)?;
            self.send_for_receipts(t0, key, None, RotationKind::Setup, &[0, n])?;
        }
        self.engine.commit_batch()?;
        Ok(())
    }

    /// Handles every event due at or before `until`, in the caller's batch, and leaves the
    /// clock at the last event's time; stops with [`MeshError::Interrupted`] when `stop` is set.
    fn run_until(&mut self, until: SimTime, stop: &AtomicBool) -> Result<()> {
        while let Some(t) = self.queue.peek_time() {
            if t > until {
                break;
            }
            if stop.load(Ordering::Relaxed) {
                return Err(MeshError::Interrupted { simulated_s: self.engine.now().as_secs_f64() });
            }
            let (now, ev) = self.queue.pop().expect("peeked");
            self.clock.set(now);
            self.handle(now, ev)?;
        }
        Ok(())
    }

    fn handle(&mut self, now: SimTime, ev: SimEvent) -> Result<()> {
        match ev {
            SimEvent::Window(i) => self.window(now, i),
            SimEvent::Refresh(ch) => {
                let refresh = SimDuration::from_secs_f64(self.scenario.mesh.refresh_interval_s);
                self.queue.schedule(now + refresh, SimEvent::Refresh(ch))?;
                self.refresh(now, ch, RotationKind::Scheduled, None)
            }
            SimEvent::Receipt { key, node, at_node } => self.receipt(now, key, &node, at_node),
            SimEvent::DistributionDeadline { key } => self.distribution_deadline(now, key),
            SimEvent::Start(i) => self.start_event(now, i),
            SimEvent::End(i) => self.end_event(now, i),
            SimEvent::Restart(n) => {
                self.nodes.down_until[n] = None;
                let name = self.topology.nodes[n].name.clone();
                self.csv.trace(now, &name, "node:restart", "up", (0.0, 0), "")?;
                self.reconfigure(now, &format!("node {name} returned"))?;
                if n == 0 && !self.nodes.isolated.contains(&0) && std::mem::take(&mut self.master_due) {
                    self.rotate_master(now, "deferred while the hub was down")?;
                }
                self.retry_parked(now)
            }
            SimEvent::Reprovision(n) => self.reprovision(now, n),
            SimEvent::KeyTypes => {
                self.queue.schedule(now + KEY_TYPE_CHECK, SimEvent::KeyTypes)?;
                self.rotate_due_key_types(now)
            }
            SimEvent::MasterRotation => {
                if self.nodes.hub_away() {
                    // The master never leaves the hub: its rotation waits for the hub (a
                    // compromised hub's re-provisioning brings a new master instead).
                    self.master_due = true;
                    self.stats.master_deferred += 1;
                    let hub = self.topology.nodes[0].name.clone();
                    let why = if self.nodes.isolated.contains(&0) { "hub compromised" } else { "hub down" };
                    return self.csv.trace(now, &hub, "master:deferred", "SOVEREIGN_MASTER", (0.0, 0), why);
                }
                self.rotate_master(now, "")
            }
            SimEvent::OverlapProbe { key, within, channel, activations } => {
                // A newer activation on the channel supersedes the probed key early (at most
                // two keys are usable): nothing to check within its overlap then.
                let superseded = self.channels[&channel].activations != activations;
                if within && superseded { Ok(()) } else { self.overlap_probe(key, within) }
            }
            SimEvent::Tick => {
                self.engine.tick()?;
                self.sample_coverage(now)?;
                let window = SimDuration::from_secs_f64(self.scenario.mesh.window_s);
                self.queue.schedule(now + window, SimEvent::Tick)?;
                Ok(())
            }
        }
    }

    /// The operator supplies a new SOVEREIGN_MASTER at the hub: every stored key is re-wrapped.
    fn rotate_master(&mut self, now: SimTime, note: &str) -> Result<()> {
        let master = SecretBytes::random(32, "master", &mut self.crypto_rng)?;
        self.engine.rotate_master(&master, &mut self.crypto_rng)?;
        self.stats.master_rotations += 1;
        let detail = if note.is_empty() {
            "every stored key re-wrapped".to_string()
        } else {
            format!("every stored key re-wrapped; {note}")
        };
        let hub = self.topology.nodes[0].name.clone();
        self.csv.trace(now, &hub, "master:rotated", "SOVEREIGN_MASTER", (0.0, 0), &detail)
    }

    /// Ends the run: records the last key uses, commits the store and the CSVs, and keeps them.
    fn finish(mut self) -> Result<MeshSummary> {
        self.engine.begin_batch()?;
        let channels: Vec<Channel> = self.channels.keys().copied().collect();
        for ch in channels {
            self.flush_uses(ch)?;
        }
        self.engine.commit_batch()?;
        self.engine.checkpoint_now()?;
        std::mem::take(&mut self.csv).commit()?;
        let failed = self.engine.failed_distributions()?;
        self.engine.keep();
        Ok(self.summary(failed))
    }
}
