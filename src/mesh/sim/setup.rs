//! Building a mesh run: the secret generator, the master key, every link with its monitor
//! and decision engine, the session-key channels, the nodes' message delays, the CSVs and,
//! last, the store.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::Sim;
use super::channels::{Channel, ChannelState};
use super::link_window::{AttackEpisode, Impairments, IntervalCounts, LinkState, LinkStats};
use super::messages::NodeStates;
use super::outputs::{CsvWriters, MeshOutputs};
use super::statistics::Statistics;
use crate::atomic_file::FileError;
use crate::crypto::SecretBytes;
use crate::lifecycle::{Durability, Engine, EngineConfig, MASTER_KEY_ENV, ManualClock, load_master_key};
use crate::mesh::des::EventQueue;
use crate::mesh::error::{MeshError, Result};
use crate::mesh::escalation::CompromiseDetector;
use crate::mesh::link::QkdLink;
use crate::mesh::monitor::{Cusum, ThresholdMonitor};
use crate::mesh::scenario::MeshScenario;
use crate::mesh::topology::Topology;
use crate::photonics::link::LinkExpectation;
use crate::rng::derive_rng;
use crate::units::{SimDuration, SimTime};

/// The generator of every secret of a run (master, signing, session and fallback keys),
/// seeded from the operating system, never from the scenario's seed: the seed reproduces
/// the physics and the event trace, and whoever holds the scenario file must not be able to
/// recompute the master or the audit signing key. No simulated decision depends on it.
fn secret_rng() -> Result<ChaCha20Rng> {
    ChaCha20Rng::try_from_rng(&mut rand::rngs::SysRng)
        .map_err(|e| FileError::new("<operating-system entropy>", std::io::Error::other(e.to_string())).into())
}

impl<'a> Sim<'a> {
    /// A run of `scenario` on its resolved `topology`, writing `outputs` (the store is
    /// created provisionally: dropped unless the run is kept).
    pub(super) fn new(scenario: &'a MeshScenario, topology: Topology, outputs: &MeshOutputs) -> Result<Self> {
        let m = &scenario.mesh;
        let mut crypto_rng = secret_rng()?;
        let master = match std::env::var_os(MASTER_KEY_ENV) {
            Some(_) => load_master_key(None)?,
            None => SecretBytes::random(32, "master", &mut crypto_rng)?,
        };
        let clock = ManualClock::new(SimTime(0));
        let config = EngineConfig {
            overlap: SimDuration::from_secs_f64(m.overlap_s),
            durability: Durability::Normal,
            checkpoint_interval: SimDuration::from_secs(3600),
            ..EngineConfig::default()
        };
        let (links, channels) = Self::links_and_channels(scenario, &topology)?;
        let csv = CsvWriters::create(outputs)?;
        // The store last: until the run is kept, dropping the engine removes it.
        let mut engine = Engine::create_provisional(
            &outputs.db,
            &master,
            config,
            Box::new(clock.clone()),
            outputs.overwrite,
            &mut crypto_rng,
        )?;
        // The simulation's commits never wait for a WAL checkpoint: a thread of its own folds
        // the log into the store (on the other core).
        engine.checkpoint_in_background(std::time::Duration::from_millis(100))?;
        Ok(Self::assemble(scenario, topology, links, channels, engine, clock, csv, crypto_rng))
    }

    /// A run of `scenario` on `engine`, whose clock must read `clock` (plus any fixed offset),
    /// writing no CSVs: the live mesh behind `qecnet serve`.
    pub(super) fn with_engine(
        scenario: &'a MeshScenario,
        topology: Topology,
        engine: Engine,
        clock: ManualClock,
    ) -> Result<Self> {
        let crypto_rng = secret_rng()?;
        let (links, channels) = Self::links_and_channels(scenario, &topology)?;
        Ok(Self::assemble(scenario, topology, links, channels, engine, clock, CsvWriters::default(), crypto_rng))
    }

    /// Every link with its monitor and decision engine, and the session-key channels.
    fn links_and_channels(
        scenario: &MeshScenario,
        topology: &Topology,
    ) -> Result<(Vec<LinkState>, BTreeMap<Channel, ChannelState>)> {
        let m = &scenario.mesh;
        let seed = m.seed;
        let mut links = Vec::new();
        for (i, l) in topology.links.iter().enumerate() {
            let base = scenario.link_config(l)?;
            // One expectation per link (the whole link model solved) for the sampler and the CUSUM.
            let expectation = LinkExpectation::new(&base)?;
            let qkd = QkdLink::with_expectation(
                &base,
                &expectation,
                m.window_s,
                &scenario.postprocess,
                m.buffer_capacity_bits,
            )?;
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
                return Err(MeshError::NoSecretKey { link: l.id.clone(), length_km: l.length_km });
            }
            let cusum = if scenario.monitor.decision_engine {
                Some(Cusum::for_expectation(&expectation, &scenario.monitor))
            } else {
                None
            };
            links.push(LinkState {
                id: l.id.clone(),
                a: l.a,
                b: l.b,
                length_km: l.length_km,
                base,
                impairments: Impairments::default(),
                qkd,
                rng: derive_rng(seed, &[1, i as u64]),
                monitor: ThresholdMonitor::new(&scenario.monitor),
                cusum,
                attack: AttackEpisode::default(),
                last_triggered: None,
                severed: false,
                stats: LinkStats::default(),
                interval: IntervalCounts::default(),
            });
        }
        let mut channels = BTreeMap::new();
        for (i, l) in topology.links.iter().enumerate() {
            channels.insert(Channel::Link(i), ChannelState::new(l.id.clone(), vec![l.a, l.b]));
        }
        for (i, &(a, b)) in topology.relayed.iter().enumerate() {
            let name = format!("{}-{}", topology.nodes[a].name, topology.nodes[b].name);
            channels.insert(Channel::Relay(i), ChannelState::new(name, vec![a, b]));
        }
        let everyone = (0..topology.nodes.len()).collect();
        channels.insert(Channel::Group, ChannelState::new("mesh-group".into(), everyone));
        Ok((links, channels))
    }

    /// The run from its parts, with nothing scheduled yet.
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        scenario: &'a MeshScenario,
        topology: Topology,
        links: Vec<LinkState>,
        channels: BTreeMap<Channel, ChannelState>,
        engine: Engine,
        clock: ManualClock,
        csv: CsvWriters,
        crypto_rng: ChaCha20Rng,
    ) -> Self {
        let seed = scenario.mesh.seed;
        let nodes = NodeStates::new(scenario, &topology);
        let n_nodes = topology.nodes.len();
        let deadline_ns = scenario.distribution_deadline_ns(&topology);
        let hops: Vec<(usize, usize, u64)> =
            topology.links.iter().map(|l| (l.a, l.b, scenario.control_delay_ns(&topology, l.a, l.b))).collect();
        let graph = super::reconfigure::fibre_graph(n_nodes, &hops);
        Sim {
            scenario,
            topology,
            engine,
            clock,
            queue: EventQueue::new(),
            links,
            channels,
            pending: BTreeMap::new(),
            parked: BTreeMap::new(),
            deadline_ns,
            nodes,
            crypto_rng,
            message_rng: derive_rng(seed, &[2]),
            csv,
            stats: Statistics::default(),
            escalation: CompromiseDetector::new(
                n_nodes,
                scenario.monitor.escalate_links,
                scenario.monitor.escalate_within_s,
            ),
            graph,
            routes: Default::default(),
            master_due: false,
            injected: Vec::new(),
        }
    }
}
