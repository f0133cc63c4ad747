//! The mesh simulation: links on the block rung feed their key buffers and QBER windows to the
//! monitor and the decision engine; the real lifecycle engine (real crypto, SQLite store,
//! signed audit chain) runs on the simulator's clock and carries every session key through
//! generate/import → distribute → receipts → activate, with control messages that take
//! simulated time (fibre propagation, processing, loss and retries).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::atomic_file::AtomicFile;
use crate::crypto::{HybridKemKey, KemSuite, KeyType, SecretBytes, encapsulate};
use crate::lifecycle::{
    Durability, Engine, EngineConfig, KeyId, MASTER_KEY_ENV, ManualClock, Trigger, Usage, load_master_key,
};
use crate::mesh::des::EventQueue;
use crate::mesh::escalation::{self, CompromiseDetector};
use crate::mesh::link::QkdLink;
use crate::mesh::monitor::{Cusum, LinkMode, ThresholdMonitor};
use crate::mesh::scenario::{Attack, EventKind, MeshScenario};
use crate::mesh::summary::{MeshLinkSummary, MeshSummary, RotationStats, Rotations};
use crate::mesh::topology::Topology;
use crate::photonics::LinkConfig;
use crate::rng::{SimRng, derive_rng};
use crate::units::{SimDuration, SimTime};
use crate::{Error, Result};

const NS: f64 = 1e9;

/// How often the key types with their own rotation periods are checked (ns).
const KEY_TYPE_CHECK_NS: u64 = 600_000_000_000;

/// Where a mesh run writes.
#[derive(Debug, Clone)]
pub struct MeshOutputs {
    /// The SQLite store (created; must not exist unless `overwrite`).
    pub db: PathBuf,
    /// Event trace CSV.
    pub trace: Option<PathBuf>,
    /// Per-link time series CSV (one row per link and refresh interval).
    pub timeseries: Option<PathBuf>,
    /// One row per converged rotation: start, channel, kind, convergence.
    pub rotations: Option<PathBuf>,
    /// Replace an existing store and CSVs written by an earlier run (checked to be
    /// qecnet's, and the store not held by another writer) instead of refusing.
    pub overwrite: bool,
}

/// CSV headers of the mesh's outputs.
const TRACE_HEADER: &str = "time_s,subject,event,state,qber,buffer_bits,detail";
const TIMESERIES_HEADER: &str = "time_s,link,qber,sifted_bits,secret_bits,buffer_bits,mode";
const ROTATIONS_HEADER: &str = "start_s,channel,kind,convergence_ms,delayed_by_crash";

impl MeshOutputs {
    /// The CSVs with their headers.
    fn csvs(&self) -> [(Option<&Path>, &'static str); 3] {
        [
            (self.trace.as_deref(), TRACE_HEADER),
            (self.timeseries.as_deref(), TIMESERIES_HEADER),
            (self.rotations.as_deref(), ROTATIONS_HEADER),
        ]
    }

    /// Refuses, before anything runs, outputs that would replace a file: an existing CSV
    /// unless `overwrite` (and then only one with the mesh's own header), and two outputs
    /// (or an output and `scenario`) naming one file.
    pub fn check(&self, scenario: Option<&Path>) -> Result<()> {
        let mut outputs: Vec<(&str, &Path)> = vec![("the store", self.db.as_path())];
        for (path, header) in self.csvs() {
            let Some(path) = path else { continue };
            outputs.push(("a mesh CSV", path));
            if !path.exists() {
                continue;
            }
            if !self.overwrite {
                return Err(Error::Usage(format!(
                    "{} already exists: pass --overwrite to replace the outputs of an earlier run, or another --db",
                    path.display()
                )));
            }
            let first = std::fs::read_to_string(path).ok().and_then(|t| t.lines().next().map(str::to_owned));
            if std::fs::metadata(path).is_ok_and(|m| m.is_file()) && first.as_deref() != Some(header) {
                return Err(Error::Usage(format!(
                    "{}: not a CSV of a qecnet mesh run (its first line is not `{header}`); refusing to replace it",
                    path.display()
                )));
            }
        }
        if self.db.exists() && !self.overwrite {
            return Err(Error::Usage(format!(
                "{} already exists: pass --overwrite or another --db",
                self.db.display()
            )));
        }
        let inputs: Vec<(&str, &Path)> = scenario.map(|p| ("scenario", p)).into_iter().collect();
        crate::atomic_file::check_distinct(&inputs, &outputs).map_err(Into::into)
    }
}

/// A session-key channel: a direct link, or a pair relayed through the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Channel {
    Link(usize),
    Relay(usize),
    /// The mesh-wide group key shared by every node (control-plane broadcast).
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scheduled,
    Triggered,
    Emergency,
    /// A first key (node identities at the start): not a rotation.
    Setup,
}

/// A rotation waiting for receipts.
#[derive(Debug, Clone)]
struct Pending {
    channel: Option<Channel>,
    kind: Kind,
    started: SimTime,
    waiting: BTreeSet<String>,
    notify_ns: u64,
    /// A participant was down when the rotation started: its latency measures the outage.
    delayed_by_crash: bool,
}

#[derive(Debug)]
enum Ev {
    Window(usize),
    Refresh(Channel),
    Receipt {
        key: KeyId,
        node: String,
    },
    Start(usize),
    End(usize),
    Restart(usize),
    Tick,
    /// Rotate the key types with their own periods (NODE_IDENTITY, AUDIT_SIGNING...) that are due.
    KeyTypes,
    /// The operator supplies a new SOVEREIGN_MASTER (every key is re-wrapped).
    MasterRotation,
    /// Use a replaced key for decryption: `within` its overlap (must be allowed) or after it
    /// (must be refused).
    OverlapProbe {
        key: KeyId,
        within: bool,
        channel: Channel,
        activations: u64,
    },
}

struct LinkState {
    id: String,
    a: usize,
    b: usize,
    length_km: f64,
    base: LinkConfig,
    qkd: QkdLink,
    rng: SimRng,
    monitor: ThresholdMonitor,
    cusum: Option<Cusum>,
    attack_since: Option<SimTime>,
    attack_detected: bool,
    last_triggered: Option<SimTime>,
    extra_loss_db: f64,
    eve: Option<(Attack, f64)>,
    severed: bool,
    // statistics
    qber_sum: f64,
    buffer_sum: f64,
    windows: u64,
    fallback_since: Option<SimTime>,
    fallback_ns: u64,
    ever_fallback: bool,
    refreshes_qkd: u64,
    refreshes_fallback: u64,
    interval_secret: u64,
    interval_sifted: u64,
    interval_errors: u64,
}

struct ChannelState {
    name: String,
    nodes: Vec<usize>,
    active: Option<KeyId>,
    pending: Option<KeyId>,
    /// A triggered rotation requested while another was in flight: it starts when that one
    /// activates.
    queued_trigger: Option<Trigger>,
    /// Uses of the current key not yet recorded in the store: (encrypt, decrypt-only).
    uses: (u64, u64),
    /// Keys activated on this channel so far.
    activations: u64,
}

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
    let topology = scenario.validate()?;
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

/// The generator of every secret of a run (master, signing, session and fallback keys),
/// seeded from the operating system, never from the scenario's seed: the seed reproduces
/// the physics and the event trace, and whoever holds the scenario file must not be able to
/// recompute the master or the audit signing key. No simulated decision depends on it.
fn secret_rng() -> Result<ChaCha20Rng> {
    ChaCha20Rng::try_from_rng(&mut rand::rngs::SysRng)
        .map_err(|e| Error::io("<operating-system entropy>", std::io::Error::other(e.to_string())))
}

struct Sim<'a> {
    scenario: &'a MeshScenario,
    topology: Topology,
    engine: Engine,
    clock: ManualClock,
    queue: EventQueue<Ev>,
    links: Vec<LinkState>,
    channels: BTreeMap<Channel, ChannelState>,
    pending: BTreeMap<KeyId, Pending>,
    key_channel: BTreeMap<KeyId, Channel>,
    hub_delay_ns: Vec<u64>,
    down_until: Vec<Option<SimTime>>,
    isolated: BTreeSet<usize>,
    crypto_rng: ChaCha20Rng,
    message_rng: SimRng,
    trace: Option<AtomicFile>,
    timeseries: Option<AtomicFile>,
    rotation_log: Option<AtomicFile>,
    latencies: [Vec<f64>; 4],
    revocations: Vec<f64>,
    crash_delayed: Vec<f64>,
    detections: u64,
    detection_delays: Vec<f64>,
    false_alarms: u64,
    honest_windows: u64,
    depletions: u64,
    recoveries: u64,
    escalation: CompromiseDetector,
    escalations: u64,
    violations: u64,
    late_uses_refused: u64,
    overlap_probes: u64,
    master_rotations: u64,
    other_rotations: u64,
}

/// A CSV output with its header written, renamed into place when the run finishes.
fn csv_file(path: &Path, header: &str) -> Result<AtomicFile> {
    let mut file = AtomicFile::create(path)?;
    writeln!(file.writer(), "{header}").map_err(|e| Error::io(path, e))?;
    Ok(file)
}

impl<'a> Sim<'a> {
    fn new(scenario: &'a MeshScenario, topology: Topology, outputs: &MeshOutputs) -> Result<Self> {
        let m = &scenario.mesh;
        let seed = m.seed;
        let mut crypto_rng = secret_rng()?;
        let master = match std::env::var_os(MASTER_KEY_ENV) {
            Some(_) => load_master_key(None)?,
            None => SecretBytes::random(32, "master", &mut crypto_rng).map_err(|e| Error::Usage(e.to_string()))?,
        };
        let clock = ManualClock::new(0);
        let config = EngineConfig {
            overlap_ns: (m.overlap_s * NS) as u64,
            durability: Durability::Normal,
            checkpoint_interval_ns: 3600 * 1_000_000_000,
            ..EngineConfig::default()
        };
        let mut links = Vec::new();
        for (i, l) in topology.links.iter().enumerate() {
            let base = scenario.link_config(l)?;
            let qkd = QkdLink::new(&base, m.window_s, &scenario.postprocess, m.buffer_capacity_bits)?;
            if !m.fallback_allowed
                && crate::postprocess::keyrate::key_rate(
                    crate::postprocess::KeyRateModel::Lim2014,
                    &base,
                    &scenario.postprocess,
                    None,
                )?
                .rate_per_pulse
                    <= 0.0
            {
                return Err(Error::Usage(format!(
                    "link {} ({:.1} km) cannot produce secret key and mesh.fallback_allowed = false",
                    l.id, l.length_km
                )));
            }
            let cusum = if scenario.monitor.decision_engine {
                Some(Cusum::for_honest_link(&base, &scenario.monitor)?)
            } else {
                None
            };
            links.push(LinkState {
                id: l.id.clone(),
                a: l.a,
                b: l.b,
                length_km: l.length_km,
                base,
                qkd,
                rng: derive_rng(seed, &[1, i as u64]),
                monitor: ThresholdMonitor::new(&scenario.monitor),
                cusum,
                attack_since: None,
                attack_detected: false,
                last_triggered: None,
                extra_loss_db: 0.0,
                eve: None,
                severed: false,
                qber_sum: 0.0,
                buffer_sum: 0.0,
                windows: 0,
                fallback_since: None,
                fallback_ns: 0,
                ever_fallback: false,
                refreshes_qkd: 0,
                refreshes_fallback: 0,
                interval_secret: 0,
                interval_sifted: 0,
                interval_errors: 0,
            });
        }
        let mut channels = BTreeMap::new();
        for (i, l) in topology.links.iter().enumerate() {
            channels.insert(
                Channel::Link(i),
                ChannelState {
                    name: l.id.clone(),
                    nodes: vec![l.a, l.b],
                    active: None,
                    pending: None,
                    queued_trigger: None,
                    uses: (0, 0),
                    activations: 0,
                },
            );
        }
        for (i, &(a, b)) in topology.relayed.iter().enumerate() {
            let name = format!("{}-{}", topology.nodes[a].name, topology.nodes[b].name);
            channels.insert(
                Channel::Relay(i),
                ChannelState {
                    name,
                    nodes: vec![a, b],
                    active: None,
                    pending: None,
                    queued_trigger: None,
                    uses: (0, 0),
                    activations: 0,
                },
            );
        }
        let everyone = (0..topology.nodes.len()).collect();
        channels.insert(
            Channel::Group,
            ChannelState {
                name: "mesh-group".into(),
                nodes: everyone,
                active: None,
                pending: None,
                queued_trigger: None,
                uses: (0, 0),
                activations: 0,
            },
        );
        let msg = &scenario.messages;
        let hub_delay_ns = (0..topology.nodes.len())
            .map(|n| {
                let km = if n == 0 {
                    0.0
                } else {
                    topology.link_between(0, n).map(|l| topology.links[l].length_km).unwrap_or_else(|| {
                        let (p, q) = (&topology.nodes[0], &topology.nodes[n]);
                        ((p.x_km - q.x_km).powi(2) + (p.y_km - q.y_km).powi(2)).sqrt() * scenario.topology.route_factor
                    })
                };
                ((km * msg.fibre_us_per_km + msg.processing_us) * 1e3) as u64
            })
            .collect();
        let [trace, timeseries, rotation_log] =
            outputs.csvs().map(|(path, header)| path.map(|p| csv_file(p, header)).transpose());
        let (trace, timeseries, rotation_log) = (trace?, timeseries?, rotation_log?);
        // The store last: until the run is kept, dropping the engine removes it.
        let engine = Engine::create_provisional(
            &outputs.db,
            &master,
            config,
            Box::new(clock.clone()),
            outputs.overwrite,
            &mut crypto_rng,
        )?;
        let n_nodes = topology.nodes.len();
        Ok(Sim {
            scenario,
            topology,
            engine,
            clock,
            queue: EventQueue::new(),
            links,
            channels,
            pending: BTreeMap::new(),
            key_channel: BTreeMap::new(),
            hub_delay_ns,
            down_until: vec![None; n_nodes],
            isolated: BTreeSet::new(),
            crypto_rng,
            message_rng: derive_rng(seed, &[2]),
            trace,
            timeseries,
            rotation_log,
            latencies: [Vec::new(), Vec::new(), Vec::new(), Vec::new()],
            revocations: Vec::new(),
            crash_delayed: Vec::new(),
            detections: 0,
            detection_delays: Vec::new(),
            false_alarms: 0,
            honest_windows: 0,
            depletions: 0,
            recoveries: 0,
            escalation: CompromiseDetector::new(
                n_nodes,
                scenario.monitor.escalate_links,
                scenario.monitor.escalate_within_s,
            ),
            escalations: 0,
            violations: 0,
            late_uses_refused: 0,
            overlap_probes: 0,
            master_rotations: 0,
            other_rotations: 0,
        })
    }

    fn at(s: f64) -> SimTime {
        SimTime((s * NS).round() as u64)
    }

    fn run(&mut self, progress: &dyn Fn(f64, f64), stop: &AtomicBool) -> Result<()> {
        let m = &self.scenario.mesh;
        let window = SimDuration((m.window_s * NS) as u64);
        let refresh = SimDuration((m.refresh_interval_s * NS) as u64);
        let end = Self::at(m.duration_s);
        let q = &mut self.queue;
        for i in 0..self.links.len() {
            q.schedule(SimTime(0) + window, Ev::Window(i)).expect("future");
        }
        // Every channel gets its first session key after the first window (when QKD key
        // exists), then every refresh interval; starts are staggered by a fixed fraction of the
        // window to spread the load.
        for (j, &ch) in self.channels.keys().enumerate() {
            let offset = SimDuration(window.0 + window.0 * (j as u64 % 16) / 16);
            q.schedule(SimTime(0) + offset, Ev::Refresh(ch)).expect("future");
        }
        let _ = refresh;
        // Scenario events take effect 1 ns after their time, so a window ending exactly then
        // still belongs to the state before.
        for (i, e) in self.scenario.event.iter().enumerate() {
            q.schedule(Self::at(e.at_s) + SimDuration(1), Ev::Start(i)).expect("future");
            if let Some(u) = e.until_s {
                q.schedule(Self::at(u) + SimDuration(1), Ev::End(i)).expect("future");
            }
        }
        q.schedule(SimTime(0) + window, Ev::Tick).expect("future");
        q.schedule(SimTime(0) + SimDuration(KEY_TYPE_CHECK_NS), Ev::KeyTypes).expect("future");
        if let Some(period) = self.engine.config().specs.get(KeyType::SovereignMaster).rotation_period_ns {
            let mut t = period;
            while t <= end.0 {
                q.schedule(SimTime(t), Ev::MasterRotation).expect("future");
                t += period;
            }
        }
        // Every node gets its NODE_IDENTITY key (Ed25519 + ML-DSA-65) at the start.
        self.engine.begin_batch()?;
        for n in 1..self.topology.nodes.len() {
            let name = self.topology.nodes[n].name.clone();
            let key = self.engine.generate(
                KeyType::NodeIdentity,
                &format!("identity-{name}"),
                &["hub", &name],
                &mut self.crypto_rng,
            )?;
            self.engine.distribute(key)?;
            self.send_for_receipts(SimTime(0), key, None, Kind::Setup, &[0, n])?;
        }
        self.engine.commit_batch()?;
        let slice = SimDuration((600.0 * NS) as u64);
        let mut slice_end = SimTime(0) + slice;
        loop {
            let mut failure = None;
            let mut reached_end = false;
            // One commit per slice of simulated time; each operation stays atomic on its own.
            self.engine.begin_batch()?;
            while let Some(t) = self.queue.peek_time() {
                if stop.load(Ordering::Relaxed) {
                    failure = Some(Error::Interrupted(format!(
                        "interrupted at {:.0} simulated s: the run's store and CSVs were removed",
                        self.engine.now_ns() as f64 / NS
                    )));
                    break;
                }
                if t > end {
                    reached_end = true;
                    break;
                }
                if t > slice_end {
                    break;
                }
                let (now, ev) = self.queue.pop().expect("peeked");
                self.clock.set(now.0);
                if let Err(e) = self.handle(now, ev) {
                    failure = Some(e);
                    break;
                }
            }
            if let Some(e) = failure {
                return Err(e);
            }
            self.engine.commit_batch()?;
            progress(slice_end.0.min(end.0) as f64 / NS, m.duration_s);
            if reached_end || self.queue.is_empty() {
                break;
            }
            slice_end = slice_end + slice;
        }
        // Close open fallback periods at the end of the run.
        for l in &mut self.links {
            if let Some(since) = l.fallback_since.take() {
                l.fallback_ns += end.0.saturating_sub(since.0);
            }
        }
        Ok(())
    }

    fn trace(
        &mut self,
        now: SimTime,
        subject: &str,
        event: &str,
        state: &str,
        (qber, buffer): (f64, u64),
        detail: &str,
    ) -> Result<()> {
        if let Some(w) = &mut self.trace {
            writeln!(
                w.writer(),
                "{},{},{},{},{},{},\"{}\"",
                now.0 as f64 / NS,
                subject,
                event,
                state,
                qber,
                buffer,
                detail.replace('"', "'")
            )
            .map_err(|e| Error::io("trace", e))?;
        }
        Ok(())
    }

    fn handle(&mut self, now: SimTime, ev: Ev) -> Result<()> {
        match ev {
            Ev::Window(i) => self.window(now, i),
            Ev::Refresh(ch) => {
                let refresh = SimDuration((self.scenario.mesh.refresh_interval_s * NS) as u64);
                self.queue.schedule(now + refresh, Ev::Refresh(ch)).map_err(|e| Error::Usage(e.to_string()))?;
                self.refresh(now, ch, Kind::Scheduled, None)
            }
            Ev::Receipt { key, node } => self.receipt(now, key, &node),
            Ev::Start(i) => self.start_event(now, i),
            Ev::End(i) => self.end_event(now, i),
            Ev::Restart(n) => {
                self.down_until[n] = None;
                let name = self.topology.nodes[n].name.clone();
                self.trace(now, &name, "node:restart", "up", (0.0, 0), "")
            }
            Ev::KeyTypes => {
                self.queue
                    .schedule(now + SimDuration(KEY_TYPE_CHECK_NS), Ev::KeyTypes)
                    .map_err(|e| Error::Usage(e.to_string()))?;
                self.rotate_due_key_types(now)
            }
            Ev::MasterRotation => {
                let master =
                    SecretBytes::random(32, "master", &mut self.crypto_rng).map_err(|e| Error::Usage(e.to_string()))?;
                self.engine.rotate_master(&master, &mut self.crypto_rng)?;
                self.master_rotations += 1;
                self.trace(now, "hub", "master:rotated", "SOVEREIGN_MASTER", (0.0, 0), "every stored key re-wrapped")
            }
            Ev::OverlapProbe { key, within, channel, activations } => {
                // A newer activation on the channel supersedes the probed key early (at most
                // two keys are usable): nothing to check within its overlap then.
                let superseded = self.channels[&channel].activations != activations;
                if within && superseded { Ok(()) } else { self.overlap_probe(key, within) }
            }
            Ev::Tick => {
                self.engine.tick()?;
                let window = SimDuration((self.scenario.mesh.window_s * NS) as u64);
                self.queue.schedule(now + window, Ev::Tick).map_err(|e| Error::Usage(e.to_string()))?;
                Ok(())
            }
        }
    }

    fn window(&mut self, now: SimTime, i: usize) -> Result<()> {
        let window = SimDuration((self.scenario.mesh.window_s * NS) as u64);
        let link = &mut self.links[i];
        if link.severed {
            return Ok(());
        }
        self.queue.schedule(now + window, Ev::Window(i)).map_err(|e| Error::Usage(e.to_string()))?;
        if self.down_until[link.a].is_some() || self.down_until[link.b].is_some() {
            return Ok(()); // a crashed end produces nothing
        }
        let stats = link.qkd.window(&mut link.rng);
        let qber = stats.qber();
        link.windows += 1;
        link.qber_sum += qber;
        link.buffer_sum += link.qkd.buffer_bits as f64;
        link.interval_secret += stats.secret_bits;
        link.interval_sifted += stats.sifted_bits;
        link.interval_errors += stats.errors;
        let rate = if link.qkd.produced_bits > 0 || link.windows as f64 * self.scenario.mesh.window_s > 60.0 {
            link.qkd.key_rate_bps
        } else {
            f64::INFINITY // no post-processing block finished yet: judge by QBER only
        };
        let change = link.monitor.window(qber, rate);
        let alarm = match &mut link.cusum {
            Some(c) => c.block(stats.sifted_bits, stats.errors),
            None => false,
        };
        let (id, buffer) = (link.id.clone(), link.qkd.buffer_bits);
        if link.attack_since.is_none() {
            self.honest_windows += 1;
        }
        if let Some(change) = change {
            let link = &mut self.links[i];
            let (event, state) = match change.mode {
                LinkMode::Fallback => {
                    link.fallback_since = Some(now);
                    link.ever_fallback = true;
                    ("link:fallback", "fallback")
                }
                LinkMode::Qkd => {
                    if let Some(since) = link.fallback_since.take() {
                        link.fallback_ns += now.0 - since.0;
                    }
                    ("link:qkd", "qkd")
                }
            };
            self.engine.record_event(event, &format!("link={id}; {}", change.reason))?;
            self.trace(now, &id, event, state, (qber, buffer), &change.reason)?;
        }
        if alarm {
            // The first alarm of an attack episode is its detection; later ones are not
            // counted again. An alarm on an honest link is a false alarm.
            let link = &mut self.links[i];
            match link.attack_since {
                Some(since) if !link.attack_detected => {
                    link.attack_detected = true;
                    self.detections += 1;
                    self.detection_delays.push((now.0 - since.0) as f64 / NS);
                }
                Some(_) => {}
                None => self.false_alarms += 1,
            }
            // The alarm triggers a rotation, at most one per refresh interval per link.
            let refresh_ns = (self.scenario.mesh.refresh_interval_s * NS) as u64;
            let rotate = link.last_triggered.is_none_or(|t| now.0 - t.0 >= refresh_ns);
            if rotate {
                link.last_triggered = Some(now);
            }
            self.engine.record_event("decision:alarm", &format!("link={id}; CUSUM above threshold"))?;
            self.trace(now, &id, "decision:alarm", "alarm", (qber, buffer), "CUSUM")?;
            if rotate {
                self.refresh(now, Channel::Link(i), Kind::Triggered, Some(Trigger::Anomaly))?;
            }
            let ends = [self.links[i].a, self.links[i].b];
            for (node, links) in self.escalation.alarm(now.0, i, ends) {
                if self.isolated.contains(&node) {
                    continue;
                }
                let names: Vec<&str> = links.iter().map(|&l| self.links[l].id.as_str()).collect();
                let reason = format!(
                    "decision engine: CUSUM alarms on {} links of {} within {} s ({})",
                    links.len(),
                    self.topology.nodes[node].name,
                    self.scenario.monitor.escalate_within_s,
                    names.join(", ")
                );
                self.escalations += 1;
                self.compromise(now, node, &reason)?;
            }
        }
        // The session key carries traffic this window. While a rotation is in flight the old
        // key is ROTATING: it may only decrypt; otherwise the ACTIVE key encrypts. Uses are
        // counted here and recorded in the store (which refuses any use of a key that is no
        // longer allowed) whenever the channel's key changes, and at the end.
        if let Some(state) = self.channels.get_mut(&Channel::Link(i))
            && state.active.is_some()
        {
            if state.pending.is_some() { state.uses.1 += 1 } else { state.uses.0 += 1 }
        }
        let interval = (self.scenario.mesh.refresh_interval_s / self.scenario.mesh.window_s).round().max(1.0) as u64;
        let link = &mut self.links[i];
        if link.windows.is_multiple_of(interval) {
            let q =
                if link.interval_sifted > 0 { link.interval_errors as f64 / link.interval_sifted as f64 } else { 0.0 };
            let mode = match link.monitor.mode() {
                LinkMode::Qkd => "qkd",
                LinkMode::Fallback => "fallback",
            };
            let row = format!(
                "{},{},{},{},{},{},{}",
                now.0 as f64 / NS,
                link.id,
                q,
                link.interval_sifted,
                link.interval_secret,
                link.qkd.buffer_bits,
                mode
            );
            link.interval_secret = 0;
            link.interval_sifted = 0;
            link.interval_errors = 0;
            if let Some(w) = &mut self.timeseries {
                writeln!(w.writer(), "{row}").map_err(|e| Error::io("timeseries", e))?;
            }
        }
        Ok(())
    }

    /// Rotates the ACTIVE keys of the types that rotate on their own periods (all but the
    /// MESH_SESSION keys, which the refresh rotates) once they are due.
    fn rotate_due_key_types(&mut self, now: SimTime) -> Result<()> {
        for old in self.engine.due_for_rotation()? {
            let rec = self.engine.key(old)?;
            if rec.key_type == KeyType::MeshSession {
                continue;
            }
            let new = self.engine.begin_rotation(old, &mut self.crypto_rng)?;
            self.engine.distribute(new)?;
            let nodes: Vec<usize> = rec.participants.iter().filter_map(|p| self.topology.node(p)).collect();
            self.other_rotations += 1;
            self.send_for_receipts(now, new, None, Kind::Scheduled, &nodes)?;
        }
        Ok(())
    }

    /// Decrypts with the replaced key `key`: within its overlap this must be allowed (unless a
    /// compromise revoked it meanwhile); after it the engine must refuse.
    fn overlap_probe(&mut self, key: KeyId, within: bool) -> Result<()> {
        self.overlap_probes += 1;
        let allowed = self.engine.record_use(key, Usage::Unprotect, 1).is_ok();
        if within {
            let revoked = self.engine.key(key)?.state == crate::lifecycle::KeyState::Revoked;
            if !allowed && !revoked {
                self.violations += 1;
            }
        } else if allowed {
            self.violations += 1; // an expired key was accepted
        } else {
            self.late_uses_refused += 1;
        }
        Ok(())
    }

    /// Records the counted uses of `ch`'s current key in the store; a refused use (a key used
    /// after its successor's overlap, or after revocation) is a violation.
    fn flush_uses(&mut self, ch: Channel) -> Result<()> {
        let state = self.channels.get_mut(&ch).expect("channel");
        let (Some(key), (protect, unprotect)) = (state.active, std::mem::take(&mut state.uses)) else { return Ok(()) };
        for (usage, n) in [(Usage::Protect, protect), (Usage::Unprotect, unprotect)] {
            if n > 0 && self.engine.record_use(key, usage, n).is_err() {
                self.violations += n;
            }
        }
        Ok(())
    }

    /// Session-key material for `ch`: from the QKD buffer(s) when the link(s) run on QKD and
    /// can pay, else from a real ML-KEM-1024 hybrid exchange between the two ends.
    fn material(&mut self, ch: Channel) -> Result<Option<(SecretBytes, &'static str)>> {
        let bits = self.scenario.mesh.session_key_bits;
        let hops: Vec<usize> = match ch {
            Channel::Group => {
                // The hub generates the group key and sends it to each node under that node's
                // (already QKD- or fallback-protected) session key.
                let mut bytes = vec![0u8; 32];
                self.crypto_rng.fill_bytes(&mut bytes);
                return Ok(Some((SecretBytes::new(bytes), "generated by the hub")));
            }
            Channel::Link(i) => vec![i],
            Channel::Relay(r) => {
                let (a, b) = self.topology.relayed[r];
                vec![
                    self.topology.link_between(0, a).expect("relay hop"),
                    self.topology.link_between(0, b).expect("relay hop"),
                ]
            }
        };
        let qkd_ok = hops.iter().all(|&h| self.links[h].monitor.mode() == LinkMode::Qkd && !self.links[h].severed);
        if qkd_ok && hops.iter().all(|&h| self.links[h].qkd.buffer_bits >= bits) {
            for &h in &hops {
                self.links[h].qkd.take(bits);
                self.links[h].refreshes_qkd += 1;
            }
            // The block rung tracks key lengths, not bits: the distilled key's bytes are drawn
            // here (for a relay, the XOR of the two hop keys is again uniform).
            let mut bytes = vec![0u8; 32];
            self.crypto_rng.fill_bytes(&mut bytes);
            return Ok(Some((SecretBytes::new(bytes), if hops.len() == 2 { "qkd relay via hub" } else { "qkd" })));
        }
        if qkd_ok {
            self.depletions += 1;
        }
        if !self.scenario.mesh.fallback_allowed {
            return Ok(None);
        }
        for &h in &hops {
            self.links[h].refreshes_fallback += 1;
        }
        // Real ML-KEM-1024 + X25519 exchange: one end publishes a fresh key, the other
        // encapsulates, both derive the same secret.
        let seed = SecretBytes::random(96, "fallback KEM key", &mut self.crypto_rng)
            .map_err(|e| Error::Usage(e.to_string()))?;
        let responder =
            HybridKemKey::from_material(&seed, KemSuite::X25519MlKem1024).map_err(|e| Error::Usage(e.to_string()))?;
        let (enc, initiator_secret) =
            encapsulate(&responder.public(), &mut self.crypto_rng).map_err(|e| Error::Usage(e.to_string()))?;
        let responder_secret = responder.decapsulate(&enc).map_err(|e| Error::Usage(e.to_string()))?;
        if initiator_secret.expose() != responder_secret.expose() {
            return Err(Error::Usage("ML-KEM-1024 fallback: the two ends derived different secrets".into()));
        }
        Ok(Some((SecretBytes::new(initiator_secret.expose()[..32].to_vec()), "ml-kem-1024 fallback")))
    }

    fn refresh(&mut self, now: SimTime, ch: Channel, kind: Kind, trigger: Option<Trigger>) -> Result<()> {
        let state = &self.channels[&ch];
        if state.nodes.iter().any(|n| self.isolated.contains(n)) {
            return Ok(());
        }
        if state.pending.is_some() {
            if trigger.is_some() {
                self.channels.get_mut(&ch).expect("channel").queued_trigger = trigger;
            }
            return Ok(());
        }
        let (name, nodes, active) = (state.name.clone(), state.nodes.clone(), state.active);
        let Some((material, origin)) = self.material(ch)? else { return Ok(()) };
        self.flush_uses(ch)?;
        let participants: Vec<&str> = nodes.iter().map(|&n| self.topology.nodes[n].name.as_str()).collect();
        let key = match active {
            Some(old) => self.engine.rotate_with_material(old, material, origin, trigger, &mut self.crypto_rng)?,
            None => self.engine.import_material(
                KeyType::MeshSession,
                &name,
                &participants,
                material,
                origin,
                &mut self.crypto_rng,
            )?,
        };
        self.engine.distribute(key)?;
        self.channels.get_mut(&ch).expect("channel").pending = Some(key);
        self.key_channel.insert(key, ch);
        self.send_for_receipts(now, key, Some(ch), kind, &nodes)
    }

    /// Sends `key` to each of `nodes` and schedules their receipts back at the hub.
    fn send_for_receipts(
        &mut self,
        now: SimTime,
        key: KeyId,
        ch: Option<Channel>,
        kind: Kind,
        nodes: &[usize],
    ) -> Result<()> {
        let mut waiting = BTreeSet::new();
        let mut notify_ns = 0;
        for &n in nodes {
            let name = self.topology.nodes[n].name.clone();
            let out = self.one_way(now, n);
            let back = self.hub_delay_ns[n] + self.retries();
            notify_ns = notify_ns.max(self.hub_delay_ns[n]);
            self.queue
                .schedule(SimTime(out.0 + back), Ev::Receipt { key, node: name.clone() })
                .map_err(|e| Error::Usage(e.to_string()))?;
            waiting.insert(name);
        }
        let delayed_by_crash = nodes.iter().any(|&n| self.down_until[n].is_some());
        self.pending.insert(key, Pending { channel: ch, kind, started: now, waiting, notify_ns, delayed_by_crash });
        Ok(())
    }

    /// When a message sent now from the hub reaches node `n` (losses retried; a crashed node
    /// receives it once it restarts).
    fn one_way(&mut self, now: SimTime, n: usize) -> SimTime {
        let mut t = now.0 + self.hub_delay_ns[n] + self.retries();
        if let Some(up) = self.down_until[n] {
            t = t.max(up.0 + self.hub_delay_ns[n]);
        }
        SimTime(t)
    }

    /// Extra delay from lost messages: each attempt fails with the loss probability and is
    /// resent after the retry timeout.
    fn retries(&mut self) -> u64 {
        let msg = &self.scenario.messages;
        let mut extra = 0;
        let lost = crate::rng::Chance::new(msg.loss_probability);
        while lost.hit(self.message_rng.next_u64()) {
            extra += (msg.retry_timeout_ms * 1e6) as u64;
        }
        extra
    }

    fn receipt(&mut self, now: SimTime, key: KeyId, node: &str) -> Result<()> {
        let Some(p) = self.pending.get_mut(&key) else { return Ok(()) };
        if !p.waiting.remove(node) {
            return Ok(());
        }
        if self.engine.confirm_receipt(key, node).is_err() {
            // The key was revoked meanwhile (compromise): the rotation is abandoned.
            self.pending.remove(&key);
            return Ok(());
        }
        if !p.waiting.is_empty() {
            return Ok(());
        }
        let p = self.pending.remove(&key).expect("present");
        if let Some(ch) = p.channel {
            // Record the old key's uses while it may still decrypt (a triggered rotation
            // retires it the moment its successor activates).
            self.flush_uses(ch)?;
        }
        let proof = self.engine.receipt_proof(key)?;
        self.engine.activate(proof)?;
        let converged_ms = (now.0 - p.started.0 + p.notify_ns) as f64 / 1e6;
        if let Some(w) = &mut self.rotation_log {
            let channel = p.channel.map(|c| self.channels[&c].name.clone()).unwrap_or_default();
            let kind = ["scheduled", "triggered", "emergency", "setup"][p.kind as usize];
            writeln!(w.writer(), "{},{channel},{kind},{converged_ms},{}", p.started.0 as f64 / NS, p.delayed_by_crash)
                .map_err(|e| Error::io("rotations", e))?;
        }
        if p.delayed_by_crash {
            self.crash_delayed.push(converged_ms);
        } else {
            self.latencies[p.kind as usize].push(converged_ms);
        }
        if let Some(ch) = p.channel {
            let activations = self.channels[&ch].activations + 1;
            if let (Channel::Link(_), Some(old)) = (ch, self.channels[&ch].active) {
                let overlap = (self.scenario.mesh.overlap_s * NS) as u64;
                let window = (self.scenario.mesh.window_s * NS) as u64;
                let probe = |within| Ev::OverlapProbe { key: old, within, channel: ch, activations };
                if p.kind == Kind::Scheduled && overlap > 1 {
                    self.queue
                        .schedule(SimTime(now.0 + overlap / 2), probe(true))
                        .map_err(|e| Error::Usage(e.to_string()))?;
                }
                self.queue
                    .schedule(SimTime(now.0 + overlap + 2 * window), probe(false))
                    .map_err(|e| Error::Usage(e.to_string()))?;
            }
            let state = self.channels.get_mut(&ch).expect("channel");
            state.activations = activations;
            state.active = Some(key);
            state.pending = None;
            if let Some(trigger) = state.queued_trigger.take() {
                self.refresh(now, ch, Kind::Triggered, Some(trigger))?;
            }
        }
        Ok(())
    }

    fn set_physics(&mut self, i: usize) -> Result<()> {
        let link = &mut self.links[i];
        let mut config = link.base.clone();
        config.channel.insertion_loss_db += link.extra_loss_db;
        if let Some((attack, strength)) = link.eve {
            match attack {
                Attack::InterceptResend => config.eve.intercept_resend_fraction = strength,
                Attack::Pns => {
                    config.eve.photon_number_splitting = true;
                    config.eve.pns_block_single_fraction = strength;
                    config.eve.lossless_channel = true;
                }
                Attack::Noise => config.eve.depolarising = strength,
            }
        }
        link.qkd.set_config(&config)?;
        Ok(())
    }

    fn start_event(&mut self, now: SimTime, idx: usize) -> Result<()> {
        let e = self.scenario.event[idx].clone();
        let link_index = e.link.as_deref().and_then(|name| self.links.iter().position(|l| l.id == name));
        let node_index = e.node.as_deref().and_then(|name| self.topology.node(name));
        match e.kind {
            EventKind::Eve => {
                let i = link_index.expect("validated");
                self.links[i].eve = Some((e.attack.expect("validated"), e.strength));
                self.links[i].attack_since = Some(now);
                self.links[i].attack_detected = false;
                self.set_physics(i)?;
                let id = self.links[i].id.clone();
                self.trace(
                    now,
                    &id,
                    "eve:start",
                    &format!("{:?}", e.attack.expect("validated")),
                    (0.0, 0),
                    &format!("strength={}", e.strength),
                )
            }
            EventKind::Degrade => {
                let i = link_index.expect("validated");
                self.links[i].extra_loss_db += e.extra_loss_db;
                self.set_physics(i)?;
                let id = self.links[i].id.clone();
                self.trace(
                    now,
                    &id,
                    "degrade:start",
                    "degraded",
                    (0.0, 0),
                    &format!("extra_loss_db={}", e.extra_loss_db),
                )
            }
            EventKind::OperatorRotation => {
                let i = link_index.expect("validated");
                self.refresh(now, Channel::Link(i), Kind::Triggered, Some(Trigger::OperatorCommand))
            }
            EventKind::Crash => {
                let n = node_index.expect("validated");
                let up = now + SimDuration((e.restart_after_s.unwrap_or(60.0) * NS) as u64);
                self.down_until[n] = Some(up);
                self.queue.schedule(up, Ev::Restart(n)).map_err(|e| Error::Usage(e.to_string()))?;
                let name = self.topology.nodes[n].name.clone();
                self.trace(now, &name, "node:crash", "down", (0.0, 0), "")
            }
            EventKind::Compromise => self.compromise(now, node_index.expect("validated"), "scenario: node compromised"),
        }
    }

    fn end_event(&mut self, now: SimTime, idx: usize) -> Result<()> {
        let e = self.scenario.event[idx].clone();
        let Some(i) = e.link.as_deref().and_then(|name| self.links.iter().position(|l| l.id == name)) else {
            return Ok(());
        };
        match e.kind {
            EventKind::Eve => {
                self.links[i].eve = None;
                self.links[i].attack_since = None;
            }
            EventKind::Degrade => self.links[i].extra_loss_db -= e.extra_loss_db,
            _ => return Ok(()),
        }
        self.set_physics(i)?;
        let id = self.links[i].id.clone();
        self.trace(now, &id, "event:end", "restored", (0.0, 0), "")
    }

    /// The six-step recovery: the engine runs DETECT → ISOLATE → REVOKE → RE-KEY → VERIFY →
    /// REPORT in one audited transaction; revocation reaches every other node after its
    /// message delay; the re-keyed channels converge when their receipts are in.
    /// Runs the six-step recovery for node `n`; `reason` is the validated compromise signal
    /// (recorded in the DETECT step).
    fn compromise(&mut self, now: SimTime, n: usize, reason: &str) -> Result<()> {
        let name = self.topology.nodes[n].name.clone();
        let channels: Vec<Channel> = self.channels.keys().copied().collect();
        for ch in channels {
            self.flush_uses(ch)?;
        }
        let report = self.engine.recover_compromise(&name, reason, &mut self.crypto_rng)?;
        self.recoveries += 1;
        self.isolated.insert(n);
        let mut severed = Vec::new();
        for (i, l) in self.links.iter_mut().enumerate().filter(|(_, l)| l.a == n || l.b == n) {
            l.severed = true;
            severed.push(i);
        }
        self.escalation.forget_links(&severed);
        let others: Vec<usize> =
            (0..self.topology.nodes.len()).filter(|&m| m != n && !self.isolated.contains(&m)).collect();
        let revocation_ns = others.iter().map(|&m| self.one_way(now, m).0 - now.0).max().unwrap_or(0);
        self.revocations.push(revocation_ns as f64 / 1e6);
        for state in self.channels.values_mut() {
            if state.nodes.len() > 2 && state.nodes.contains(&n) {
                // The group is re-keyed without the node (RE-KEY step): its new key follows.
                state.nodes.retain(|&m| m != n);
                state.active = None;
                state.pending = None;
            } else if state.nodes.contains(&n) {
                state.active = None;
                state.pending = None;
            } else if state.active.is_some_and(|k| report.revoked.contains(&k)) {
                state.active = None;
            }
        }
        self.pending.retain(|k, _| !report.revoked.contains(k));
        for key in &report.rekeyed {
            let rec = self.engine.key(*key)?;
            let nodes: Vec<usize> = rec.participants.iter().filter_map(|p| self.topology.node(p)).collect();
            let ch = self.channels.iter().find(|(_, s)| s.name == rec.channel).map(|(c, _)| *c);
            if let Some(c) = ch {
                self.channels.get_mut(&c).expect("channel").pending = Some(*key);
            }
            self.send_for_receipts(now, *key, ch, Kind::Emergency, &nodes)?;
        }
        self.trace(
            now,
            &name,
            "recovery",
            "isolated",
            (0.0, 0),
            &format!("revoked={} rekeyed={}", report.revoked.len(), report.rekeyed.len()),
        )
    }

    fn finish(mut self) -> Result<MeshSummary> {
        self.engine.begin_batch()?;
        let channels: Vec<Channel> = self.channels.keys().copied().collect();
        for ch in channels {
            self.flush_uses(ch)?;
        }
        self.engine.commit_batch()?;
        self.engine.checkpoint_now()?;
        for csv in [self.trace.take(), self.timeseries.take(), self.rotation_log.take()].into_iter().flatten() {
            csv.commit()?;
        }
        self.engine.keep();
        let m = &self.scenario.mesh;
        let per_link: Vec<MeshLinkSummary> = self
            .links
            .iter()
            .map(|l| MeshLinkSummary {
                id: l.id.clone(),
                length_km: l.length_km,
                qber_mean: if l.windows > 0 { l.qber_sum / l.windows as f64 } else { 0.0 },
                key_delivered_bits: l.qkd.produced_bits,
                buffer_mean_bits: if l.windows > 0 { l.buffer_sum / l.windows as f64 } else { 0.0 },
                fallback_seconds: l.fallback_ns as f64 / NS,
                refreshes_qkd: l.refreshes_qkd,
                refreshes_fallback: l.refreshes_fallback,
            })
            .collect();
        Ok(MeshSummary {
            duration_s: m.duration_s,
            nodes: self.topology.nodes.len() as u64,
            links: self.links.len() as u64,
            relayed_pairs: self.topology.relayed.len() as u64,
            key_delivered_bits: per_link.iter().map(|l| l.key_delivered_bits).sum(),
            fallback_seconds_total: per_link.iter().map(|l| l.fallback_seconds).sum(),
            links_in_fallback_ever: self.links.iter().filter(|l| l.ever_fallback).count() as u64,
            rotations: Rotations {
                scheduled: RotationStats::new(&self.latencies[Kind::Scheduled as usize], 5000.0),
                triggered: RotationStats::new(&self.latencies[Kind::Triggered as usize], 2000.0),
                emergency: RotationStats::new(&self.latencies[Kind::Emergency as usize], 3000.0),
            },
            revocation_ms: RotationStats::new(&self.revocations, 500.0),
            delayed_by_crash: self.crash_delayed.len() as u64,
            delayed_by_crash_max_ms: self.crash_delayed.iter().copied().fold(0.0, f64::max),
            detections: self.detections,
            detection_delay_s_mean: if self.detection_delays.is_empty() {
                0.0
            } else {
                self.detection_delays.iter().sum::<f64>() / self.detection_delays.len() as f64
            },
            false_alarms: self.false_alarms,
            honest_windows: self.honest_windows,
            buffer_depletions: self.depletions,
            recoveries: self.recoveries,
            escalations: self.escalations,
            escalation_false_signal_bound_per_node_day: 0.0,
            key_use_violations: self.violations,
            overlap_probes: self.overlap_probes,
            late_uses_refused: self.late_uses_refused,
            master_rotations: self.master_rotations,
            other_key_rotations: self.other_rotations,
            audit_records: self.engine.audit_len(),
            events: self.queue.popped(),
            per_link,
        })
    }
}
