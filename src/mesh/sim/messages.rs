//! Control messages between the hub and the nodes: a key sent for receipts, the receipts'
//! way back (fibre propagation, processing, losses resent after a timeout, a crashed node
//! answering once it restarts), and the activation of a key once every receipt is in.

use std::collections::BTreeSet;

use rand::Rng;

use super::Sim;
use super::channels::Channel;
use super::events::{RotationKind, SimEvent};
use crate::lifecycle::KeyId;
use crate::mesh::error::Result;
use crate::mesh::scenario::MeshScenario;
use crate::mesh::topology::Topology;
use crate::units::{SimDuration, SimTime};

/// What a message to each node meets.
pub(super) struct NodeStates {
    /// One-way delay of a message between the hub and each node (ns).
    pub(super) hub_delay_ns: Vec<u64>,
    /// A crashed node's restart time.
    pub(super) down_until: Vec<Option<SimTime>>,
    /// Nodes isolated by a compromise.
    pub(super) isolated: BTreeSet<usize>,
}

impl NodeStates {
    /// Every node up, with its message delay from the hub: over the direct link if there is
    /// one, else over the route factor times the straight distance.
    pub(super) fn new(scenario: &MeshScenario, topology: &Topology) -> Self {
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
        let n_nodes = topology.nodes.len();
        NodeStates { hub_delay_ns, down_until: vec![None; n_nodes], isolated: BTreeSet::new() }
    }
}

/// A rotation waiting for receipts.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub(super) channel: Option<Channel>,
    pub(super) kind: RotationKind,
    pub(super) started: SimTime,
    /// The nodes whose receipts are still missing.
    pub(super) waiting: BTreeSet<String>,
    /// The longest hub-to-node delay of the final notification (ns).
    pub(super) notify_ns: u64,
    /// A participant was down when the rotation started: its latency measures the outage.
    pub(super) delayed_by_crash: bool,
}

impl Sim<'_> {
    /// Sends `key` to each of `nodes` and schedules their receipts back at the hub.
    pub(super) fn send_for_receipts(
        &mut self,
        now: SimTime,
        key: KeyId,
        ch: Option<Channel>,
        kind: RotationKind,
        nodes: &[usize],
    ) -> Result<()> {
        let mut waiting = BTreeSet::new();
        let mut notify_ns = 0;
        for &n in nodes {
            let name = self.topology.nodes[n].name.clone();
            let out = self.one_way(now, n);
            let back = self.nodes.hub_delay_ns[n] + self.retry_delays_ns();
            notify_ns = notify_ns.max(self.nodes.hub_delay_ns[n]);
            self.queue.schedule(SimTime(out.0 + back), SimEvent::Receipt { key, node: name.clone() })?;
            waiting.insert(name);
        }
        let delayed_by_crash = nodes.iter().any(|&n| self.nodes.down_until[n].is_some());
        self.pending.insert(key, Pending { channel: ch, kind, started: now, waiting, notify_ns, delayed_by_crash });
        Ok(())
    }

    /// When a message sent now from the hub reaches node `n` (losses retried; a crashed node
    /// receives it once it restarts).
    pub(super) fn one_way(&mut self, now: SimTime, n: usize) -> SimTime {
        let mut t = now.0 + self.nodes.hub_delay_ns[n] + self.retry_delays_ns();
        if let Some(up) = self.nodes.down_until[n] {
            t = t.max(up.0 + self.nodes.hub_delay_ns[n]);
        }
        SimTime(t)
    }

    /// Extra delay from lost messages (ns): each attempt fails with the loss probability and
    /// is resent after the retry timeout.
    fn retry_delays_ns(&mut self) -> u64 {
        let msg = &self.scenario.messages;
        let mut extra = 0;
        let lost = crate::rng::Chance::new(msg.loss_probability);
        while lost.hit(self.message_rng.next_u64()) {
            extra += (msg.retry_timeout_ms * 1e6) as u64;
        }
        extra
    }

    /// `node`'s receipt for `key` is in: once every receipt is, the key activates, its
    /// convergence is recorded, and the replaced key's overlap probes are scheduled.
    pub(super) fn receipt(&mut self, now: SimTime, key: KeyId, node: &str) -> Result<()> {
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
        let channel = p.channel.map(|c| self.channels[&c].name.as_str()).unwrap_or_default();
        self.csv.rotation(p.started, channel, p.kind.name(), converged_ms, p.delayed_by_crash)?;
        if p.delayed_by_crash {
            self.stats.crash_delayed_ms.push(converged_ms);
        } else {
            self.stats.push_latency(p.kind, converged_ms);
        }
        if let Some(ch) = p.channel {
            let activations = self.channels[&ch].activations + 1;
            if let (Channel::Link(_), Some(old)) = (ch, self.channels[&ch].active) {
                let overlap = SimDuration::from_secs_f64(self.scenario.mesh.overlap_s).as_nanos();
                let window = SimDuration::from_secs_f64(self.scenario.mesh.window_s).as_nanos();
                let probe = |within| SimEvent::OverlapProbe { key: old, within, channel: ch, activations };
                if p.kind == RotationKind::Scheduled && overlap > 1 {
                    self.queue.schedule(SimTime(now.0 + overlap / 2), probe(true))?;
                }
                self.queue.schedule(SimTime(now.0 + overlap + 2 * window), probe(false))?;
            }
            let state = self.channels.get_mut(&ch).expect("channel");
            state.activations = activations;
            state.active = Some(key);
            state.pending = None;
            if let Some(trigger) = state.queued_trigger.take() {
                self.refresh(now, ch, RotationKind::Triggered, Some(trigger))?;
            }
        }
        Ok(())
    }
}
