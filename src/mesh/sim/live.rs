//! The mesh run live, paced from outside (`qecnet serve`): [`LiveMesh`] is the same run as
//! `qecnet mesh` — links on the block rung, monitor, decision engine, fallback, refreshes,
//! rotations, relay routing and recovery on the real lifecycle engine — but its driver
//! decides how far simulated time goes (the wall clock times a speed), runs other work on the
//! same engine between steps (the KMEs' delivered keys), reads every link's state, and spends
//! key from a link's buffer for the keys it hands out.

use std::sync::atomic::AtomicBool;

use super::Sim;
use super::events::{RotationKind, SimEvent};
use super::resume::MeshSnapshot;
use crate::lifecycle::{Clock, Engine, ManualClock};
use crate::mesh::error::Result;
use crate::mesh::monitor::LinkMode;
use crate::mesh::routing::Graph;
use crate::mesh::scenario::{EventSpec, MeshScenario, check_event};
use crate::units::{InvalidParameter, SimDuration, SimTime};

/// A mesh run driven step by step.
pub struct LiveMesh<'a> {
    sim: Sim<'a>,
}

/// One link as a live run sees it now.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveLink {
    /// Its id (`a-b`).
    pub id: String,
    /// One end (node index, hub = 0).
    pub a: usize,
    /// The other end.
    pub b: usize,
    /// In QKD mode (else in fallback).
    pub qkd_mode: bool,
    /// Cut off by a compromise of one of its ends.
    pub severed: bool,
    /// The latest window's QBER (`None` before the first window or while an end is down).
    pub qber: Option<f64>,
    /// The secret key rate of its latest post-processing block (bit/s).
    pub key_rate_bps: f64,
    /// Secret bits in its buffer.
    pub buffer_bits: u64,
    /// Its buffer's capacity (bits).
    pub capacity_bits: u64,
    /// Switches from QKD to fallback so far.
    pub fallback_switches: u64,
}

/// What a live run's nodes are now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveNode {
    /// Its name.
    pub name: String,
    /// Crashed and not yet back.
    pub down: bool,
    /// Isolated by a compromise.
    pub isolated: bool,
}

impl<'a> LiveMesh<'a> {
    /// Starts `scenario` on `engine` (new or resumed; its clock must read `clock`, plus any
    /// fixed offset) at simulated time 0: schedules the first events, plans the routes and
    /// issues the nodes' identity keys (committed).
    pub fn start(scenario: &'a MeshScenario, engine: Engine, clock: ManualClock) -> Result<Self> {
        let mut sim = Self::prepare(scenario, engine, clock)?;
        sim.start()?;
        Ok(LiveMesh { sim })
    }

    /// Goes on from `snapshot` (taken by [`LiveMesh::snapshot`] from a run of `scenario` on
    /// this store): the physics as it was, at the snapshot's simulated time, the nodes the
    /// engine holds isolated cut off, and the mesh's own keys issued afresh (see the `resume`
    /// module for what carries over). Refused when the snapshot is of another scenario.
    pub fn resume(
        scenario: &'a MeshScenario,
        engine: Engine,
        clock: ManualClock,
        snapshot: &MeshSnapshot,
    ) -> Result<Self> {
        let mut sim = Self::prepare(scenario, engine, clock)?;
        let isolated = sim.engine.isolated_nodes()?;
        sim.restore(snapshot, &isolated)?;
        sim.start_at(snapshot.time())?;
        Ok(LiveMesh { sim })
    }

    /// The run of `scenario` on `engine`, checked, with nothing scheduled yet.
    fn prepare(scenario: &'a MeshScenario, engine: Engine, clock: ManualClock) -> Result<Sim<'a>> {
        let topology = scenario.validate()?;
        for (i, e) in scenario.event.iter().enumerate() {
            refuse_hub_compromise(&topology, &format!("event[{i}]"), e)?;
        }
        Sim::with_engine(scenario, topology, engine, clock)
    }

    /// The physics now, to resume from after a restart ([`LiveMesh::resume`]).
    pub fn snapshot(&self) -> MeshSnapshot {
        self.sim.snapshot()
    }

    /// Runs every event due up to simulated time `t` in the engine's open batch (the caller
    /// begins and commits it), then sets the clock to `t`.
    pub fn advance_to(&mut self, t: SimTime) -> Result<()> {
        self.sim.run_until(t, &AtomicBool::new(false))?;
        if t > self.sim.clock.now() {
            self.sim.clock.set(t);
        }
        Ok(())
    }

    /// Simulated time now.
    pub fn now(&self) -> SimTime {
        self.sim.clock.now()
    }

    /// The time of the next event, if any.
    pub fn next_event(&self) -> Option<SimTime> {
        self.sim.queue.peek_time()
    }

    /// The lifecycle engine, for work between steps (its clock reads [`LiveMesh::now`]).
    pub fn engine(&mut self) -> &mut Engine {
        &mut self.sim.engine
    }

    /// Every link now, in the topology's order.
    pub fn links(&self) -> Vec<LiveLink> {
        let mut links: Vec<LiveLink> = self
            .sim
            .links
            .iter()
            .map(|l| LiveLink {
                id: l.id.clone(),
                a: l.a,
                b: l.b,
                qkd_mode: false,
                severed: false,
                qber: None,
                key_rate_bps: 0.0,
                buffer_bits: 0,
                capacity_bits: 0,
                fallback_switches: 0,
            })
            .collect();
        self.refresh_links(&mut links);
        links
    }

    /// Updates `links` (from [`LiveMesh::links`]) to now, in place: mode, QBER, rate, buffer.
    pub fn refresh_links(&self, links: &mut [LiveLink]) {
        for (live, l) in links.iter_mut().zip(&self.sim.links) {
            live.qkd_mode = l.monitor.mode() == LinkMode::Qkd;
            live.severed = l.severed;
            live.qber = l.stats.last_qber;
            live.key_rate_bps = l.qkd.key_rate_bps;
            live.buffer_bits = l.qkd.buffer_bits;
            live.capacity_bits = l.qkd.capacity_bits;
            live.fallback_switches = l.stats.fallback_switches;
        }
    }

    /// Rotations converged so far, per kind: scheduled, triggered, emergency.
    pub fn rotations(&self) -> [(&'static str, u64); 3] {
        [RotationKind::Scheduled, RotationKind::Triggered, RotationKind::Emergency]
            .map(|k| (k.name(), self.sim.stats.converged[k.index()]))
    }

    /// Every node now, hub first.
    pub fn nodes(&self) -> Vec<LiveNode> {
        let s = &self.sim;
        let mut nodes: Vec<LiveNode> =
            s.topology.nodes.iter().map(|n| LiveNode { name: n.name.clone(), down: false, isolated: false }).collect();
        self.refresh_nodes(&mut nodes);
        nodes
    }

    /// Updates `nodes` (from [`LiveMesh::nodes`]) to now, in place: down, isolated.
    pub fn refresh_nodes(&self, nodes: &mut [LiveNode]) {
        let s = &self.sim;
        for (n, live) in nodes.iter_mut().enumerate() {
            live.down = s.nodes.down_until[n].is_some();
            live.isolated = s.nodes.isolated.contains(&n);
        }
    }

    /// The fibre graph the run routes relayed key over.
    pub fn graph(&self) -> &Graph {
        &self.sim.graph
    }

    /// Spends up to `bits` from link `i`'s buffer (key handed out beside the run's own session
    /// keys); returns the bits spent (fewer when the buffer holds fewer).
    pub fn spend(&mut self, i: usize, bits: u64) -> u64 {
        let q = &mut self.sim.links[i].qkd;
        let spent = bits.min(q.buffer_bits);
        q.buffer_bits -= spent;
        spent
    }

    /// Injects `event` now (an operator's): its `at` and `until` count from now. It takes
    /// effect at the next step, as the scenario's own events do. Returns the event as
    /// scheduled (absolute simulated times).
    pub fn inject(&mut self, mut event: EventSpec) -> std::result::Result<EventSpec, InvalidParameter> {
        let now = self.now().as_secs_f64();
        let (at, until) = (event.at_s, event.until_s);
        if !(at.is_finite() && at >= 0.0) {
            return Err(InvalidParameter::new("event.at", at, "must be a delay >= 0 from now"));
        }
        event.at_s = now + at;
        event.until_s = until.map(|u| now + u);
        check_event(&self.sim.topology, "event", &event)?;
        refuse_hub_compromise(&self.sim.topology, "event", &event)?;
        let idx = self.sim.scenario.event.len() + self.sim.injected.len();
        let start = Sim::at(event.at_s) + SimDuration(1);
        let past = |e: crate::mesh::PastSchedule| InvalidParameter::new("event.at", at, e.to_string());
        self.sim.queue.schedule(start, SimEvent::Start(idx)).map_err(past)?;
        if let Some(u) = event.until_s {
            self.sim.queue.schedule(Sim::at(u) + SimDuration(1), SimEvent::End(idx)).map_err(past)?;
        }
        self.sim.injected.push(event.clone());
        Ok(event)
    }

    /// Ends the run: records the last key uses (committed) and gives the engine back.
    pub fn finish(mut self) -> Result<Engine> {
        self.sim.engine.begin_batch()?;
        let channels: Vec<_> = self.sim.channels.keys().copied().collect();
        for ch in channels {
            self.sim.flush_uses(ch)?;
        }
        self.sim.engine.commit_batch()?;
        Ok(self.sim.engine)
    }
}

/// A live mesh takes no compromise of the hub: its recovery revokes the master the serving
/// operator supplied, and the re-provisioning re-wraps the store under a new one the operator
/// does not hold (a `qecnet mesh` run only).
fn refuse_hub_compromise(
    topology: &crate::mesh::topology::Topology,
    label: &str,
    e: &EventSpec,
) -> std::result::Result<(), InvalidParameter> {
    let hub = topology.nodes[0].name.as_str();
    if e.kind == crate::mesh::scenario::EventKind::Compromise && e.node.as_deref() == Some(hub) {
        return Err(InvalidParameter::new(
            format!("{label}.node"),
            hub,
            "a live mesh does not take a compromise of the hub (its re-provisioning re-wraps the store under a \
             new SOVEREIGN_MASTER); run it with qecnet mesh (sims/mesh-hub-compromise.toml)",
        ));
    }
    Ok(())
}
