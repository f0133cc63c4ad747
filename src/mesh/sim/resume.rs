//! A live mesh carried across a restart of its process: [`MeshSnapshot`] is what the physics
//! is at a moment (the simulated time; every link's buffer, the post-processing block it is
//! filling, its mode and the monitor's count towards leaving fallback, the CUSUM statistic,
//! the last QBER, the impairments of the events under way; the crashed nodes and when they
//! return; the operator's injected events), and [`Sim::restore`] starts a run from it.
//!
//! What does not carry over, and why:
//! - the isolated nodes come from the engine's store (audited), never from the snapshot, so
//!   an edited snapshot cannot bring a compromised node back;
//! - the random streams of the physics start again from the scenario's seed and the resumed
//!   time (`derive_rng(seed, [1, link, t])`, `[2, t]` for the messages): a resumed run is
//!   reproducible from its seed and its snapshot, not draw for draw the run that would have
//!   gone on without the restart;
//! - the mesh's own keys (identities, session and group keys, rotations under way) start
//!   afresh, as at the start of a run: the driver revokes the previous process's;
//! - the run's statistics (counts, latencies) start from zero.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::Sim;
use super::link_window::Impairments;
use crate::lifecycle::Clock;
use crate::mesh::error::{MeshError, Result};
use crate::mesh::link::LinkProgress;
use crate::mesh::monitor::{LinkMode, ThresholdMonitor};
use crate::mesh::scenario::{Attack, EventSpec, MeshScenario};
use crate::mesh::topology::Topology;
use crate::rng::derive_rng;
use crate::units::SimTime;

/// The snapshot format's version: a snapshot of another version is refused.
const SNAPSHOT_VERSION: u32 = 1;

/// A live mesh's physics at one moment, to go on from after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeshSnapshot {
    version: u32,
    /// The scenario's seed (a snapshot resumes only the scenario it was taken from).
    seed: u64,
    /// Simulated time (ns).
    sim_ns: u64,
    /// Every link, in the topology's order.
    links: Vec<LinkSnapshot>,
    /// Every node, hub first: its name, and the time it returns if it is down (ns).
    nodes: Vec<(String, Option<u64>)>,
    /// The operator's injected events (absolute simulated times).
    injected: Vec<EventSpec>,
}

/// One link's physics at the snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LinkSnapshot {
    id: String,
    progress: LinkProgress,
    mode: LinkMode,
    good_windows: u32,
    cusum_statistic: Option<f64>,
    last_qber: Option<f64>,
    /// Loss added by the degrade events under way (dB).
    extra_loss_db: f64,
    /// The eavesdropper under way, and its strength.
    eve: Option<(Attack, f64)>,
    /// The last rotation an alarm triggered (ns).
    last_triggered_ns: Option<u64>,
}

impl MeshSnapshot {
    /// Simulated time of the snapshot.
    pub fn time(&self) -> SimTime {
        SimTime(self.sim_ns)
    }

    /// Whether this snapshot can resume `scenario`: refused, naming what differs, when it was
    /// taken from another (its version, seed, nodes or links).
    pub fn check_scenario(&self, scenario: &MeshScenario) -> Result<()> {
        self.check(&scenario.validate()?, scenario.mesh.seed)
    }

    fn check(&self, topology: &Topology, seed: u64) -> Result<()> {
        let refuse = |why: String| Err(MeshError::Resume(why));
        if self.version != SNAPSHOT_VERSION {
            return refuse(format!("its snapshot has version {}, this qecnet reads {SNAPSHOT_VERSION}", self.version));
        }
        if self.seed != seed {
            return refuse(format!(
                "it was served with mesh.seed = {}, the scenario now has {seed} (the physics is reproducible from one seed)",
                self.seed
            ));
        }
        let names: Vec<&str> = topology.nodes.iter().map(|n| n.name.as_str()).collect();
        let saved: Vec<&str> = self.nodes.iter().map(|(n, _)| n.as_str()).collect();
        if names != saved {
            return refuse(format!("it was served with nodes {saved:?}, the scenario now has {names:?}"));
        }
        let ids: Vec<&str> = topology.links.iter().map(|l| l.id.as_str()).collect();
        let saved: Vec<&str> = self.links.iter().map(|l| l.id.as_str()).collect();
        if ids != saved {
            return refuse(format!("it was served with links {saved:?}, the scenario now has {ids:?}"));
        }
        Ok(())
    }
}

impl Sim<'_> {
    /// The physics now.
    pub(super) fn snapshot(&self) -> MeshSnapshot {
        let links = self
            .links
            .iter()
            .map(|l| LinkSnapshot {
                id: l.id.clone(),
                progress: l.qkd.progress(),
                mode: l.monitor.mode(),
                good_windows: l.monitor.good_windows(),
                cusum_statistic: l.cusum.as_ref().map(|c| c.statistic()),
                last_qber: l.stats.last_qber,
                extra_loss_db: l.impairments.extra_loss_db,
                eve: l.impairments.eve,
                last_triggered_ns: l.last_triggered.map(|t| t.0),
            })
            .collect();
        let nodes = self
            .topology
            .nodes
            .iter()
            .zip(&self.nodes.down_until)
            .map(|(n, until)| (n.name.clone(), until.map(|t| t.0)))
            .collect();
        MeshSnapshot {
            version: SNAPSHOT_VERSION,
            seed: self.scenario.mesh.seed,
            sim_ns: self.clock.now().0,
            links,
            nodes,
            injected: self.injected.clone(),
        }
    }

    /// Takes up the physics of `snapshot` (taken from a run of this scenario), with the nodes
    /// the engine holds `isolated` cut off, before the run is started at the snapshot's time.
    /// Refused, naming what differs, when the snapshot is of another scenario.
    pub(super) fn restore(&mut self, snapshot: &MeshSnapshot, isolated: &BTreeSet<String>) -> Result<()> {
        snapshot.check(&self.topology, self.scenario.mesh.seed)?;
        let t = snapshot.time();
        self.clock.set(t);
        let seed = self.scenario.mesh.seed;
        self.message_rng = derive_rng(seed, &[2, t.0]);
        self.injected = snapshot.injected.clone();
        for (n, (_, until)) in snapshot.nodes.iter().enumerate() {
            self.nodes.down_until[n] = until.map(|u| SimTime(u.max(t.0)));
        }
        for (i, saved) in snapshot.links.iter().enumerate() {
            let link = &mut self.links[i];
            link.rng = derive_rng(seed, &[1, i as u64, t.0]);
            link.qkd.resume(saved.progress.clone());
            link.monitor = ThresholdMonitor::resumed(&self.scenario.monitor, saved.mode, saved.good_windows);
            if let (Some(c), Some(s)) = (link.cusum.as_mut(), saved.cusum_statistic) {
                c.resume_from(s);
            }
            link.stats.last_qber = saved.last_qber;
            if saved.mode == LinkMode::Fallback {
                link.stats.fallback_since = Some(t);
                link.stats.ever_fallback = true;
            }
            link.impairments = Impairments { extra_loss_db: saved.extra_loss_db, eve: saved.eve };
            if saved.eve.is_some() {
                link.attack.since = Some(t);
            }
            link.last_triggered = saved.last_triggered_ns.map(SimTime);
            self.set_physics(i)?;
        }
        for name in isolated {
            if let Some(n) = self.topology.node(name) {
                self.cut_off(n);
            }
        }
        Ok(())
    }
}
