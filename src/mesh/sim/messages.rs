//! Control messages between the hub and the nodes: a key sent for receipts with its deadline,
//! the receipts' way back (fibre propagation, processing, losses resent after a timeout up to
//! the resend budget, beyond which a message is lost for good; a node that is down loses what
//! reaches it), and the activation of a key once every receipt is in.

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
    /// One-way delay of a message between any two nodes (ns): a pair's ends coordinate its
    /// distributions while the hub is down.
    pub(super) pair_delay_ns: Vec<Vec<u64>>,
    /// A crashed node's restart time.
    pub(super) down_until: Vec<Option<SimTime>>,
    /// Every outage of each node so far: (crash, restart).
    pub(super) outages: Vec<Vec<(SimTime, SimTime)>>,
    /// Nodes isolated by a compromise.
    pub(super) isolated: BTreeSet<usize>,
}

impl NodeStates {
    /// Every node up, with its message delay from the hub: over the direct link if there is
    /// one, else over the route factor times the straight distance.
    pub(super) fn new(scenario: &MeshScenario, topology: &Topology) -> Self {
        let n_nodes = topology.nodes.len();
        let hub_delay_ns = (0..n_nodes).map(|n| scenario.hub_delay_ns(topology, n)).collect();
        let pair_delay_ns =
            (0..n_nodes).map(|a| (0..n_nodes).map(|b| scenario.control_delay_ns(topology, a, b)).collect()).collect();
        let (down_until, outages) = (vec![None; n_nodes], vec![Vec::new(); n_nodes]);
        NodeStates { hub_delay_ns, pair_delay_ns, down_until, outages, isolated: BTreeSet::new() }
    }

    /// Whether the hub is away: crashed, or isolated by a compromise until it is re-provisioned
    /// (pair distributions are then coordinated by the pair's first end).
    pub(super) fn hub_away(&self) -> bool {
        self.down_until[0].is_some() || self.isolated.contains(&0)
    }

    /// Whether node `n` was down at `t` (a message reaching it then is lost).
    pub(super) fn was_down(&self, n: usize, t: SimTime) -> bool {
        self.outages[n].iter().any(|&(from, until)| from <= t && t < until)
    }
}

/// A distribution waiting for receipts (one attempt of a rotation).
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub(super) channel: Option<Channel>,
    pub(super) kind: RotationKind,
    /// When the rotation's first attempt was sent.
    pub(super) first_started: SimTime,
    /// When this attempt was sent.
    pub(super) started: SimTime,
    /// This attempt's number (1 for the first).
    pub(super) attempt: u32,
    /// The participants (node indices).
    pub(super) nodes: Vec<usize>,
    /// The nodes whose receipts are still missing.
    pub(super) waiting: BTreeSet<String>,
    /// Who sends this attempt and collects its receipts: the hub, or while the hub is down or
    /// isolated the first participant of a pair (or of the group) that does not include it.
    pub(super) coordinator: usize,
    /// The rotation started while its channel was re-routed (its route differs from the
    /// run's initial one).
    pub(super) rerouted: bool,
    /// The longest coordinator-to-node delay of the final notification (ns).
    pub(super) notify_ns: u64,
    /// A participant was down when an attempt was sent or failed: the latency from the first
    /// attempt measures the outage.
    pub(super) delayed_by_crash: bool,
}

impl Sim<'_> {
    /// Sends `key` to each of `nodes` (the first attempt of a rotation of `kind`).
    pub(super) fn send_for_receipts(
        &mut self,
        now: SimTime,
        key: KeyId,
        ch: Option<Channel>,
        kind: RotationKind,
        nodes: &[usize],
    ) -> Result<()> {
        let p = Pending {
            channel: ch,
            kind,
            first_started: now,
            started: now,
            attempt: 1,
            nodes: nodes.to_vec(),
            waiting: BTreeSet::new(),
            coordinator: 0,
            rerouted: ch.is_some_and(|c| self.is_rerouted(c)),
            notify_ns: 0,
            delayed_by_crash: false,
        };
        self.send_attempt(now, key, p)
    }

    /// Sends `key` at `at` to each participant of `p`, schedules the receipts that will make
    /// it back to the hub and the attempt's deadline (`SimEvent::DistributionDeadline`).
    pub(super) fn send_attempt(&mut self, at: SimTime, key: KeyId, mut p: Pending) -> Result<()> {
        p.started = at;
        p.waiting.clear();
        p.notify_ns = 0;
        p.coordinator = if self.nodes.hub_away() && !p.nodes.contains(&0) { p.nodes[0] } else { 0 };
        for &n in &p.nodes {
            let name = self.topology.nodes[n].name.clone();
            let delay = self.nodes.pair_delay_ns[p.coordinator][n];
            p.notify_ns = p.notify_ns.max(delay);
            p.waiting.insert(name.clone());
            // The key's way out, then the receipt's way back; either may be lost for good.
            let Some(out) = self.resend_delay_ns(true) else { continue };
            let at_node = SimTime(at.0 + delay + out);
            let Some(back) = self.resend_delay_ns(true) else { continue };
            self.queue.schedule(SimTime(at_node.0 + delay + back), SimEvent::Receipt { key, node: name, at_node })?;
        }
        p.delayed_by_crash |= p.nodes.iter().any(|&n| self.nodes.down_until[n].is_some());
        self.queue.schedule(SimTime(at.0 + self.deadline_ns), SimEvent::DistributionDeadline { key })?;
        self.pending.insert(key, p);
        Ok(())
    }

    /// When a message sent now from the hub reaches node `n`: losses are resent until one
    /// arrives (a revocation is repeated until it is acknowledged), and a crashed node receives
    /// it once it restarts.
    pub(super) fn one_way(&mut self, now: SimTime, n: usize) -> SimTime {
        let mut t = now.0 + self.nodes.hub_delay_ns[n] + self.resend_delay_ns(false).expect("unbounded");
        if let Some(up) = self.nodes.down_until[n] {
            t = t.max(up.0 + self.nodes.hub_delay_ns[n]);
        }
        SimTime(t)
    }

    /// Extra delay from lost messages (ns): each attempt fails with the loss probability and
    /// is resent after the retry timeout; with `bounded`, a message lost `max_resends + 1`
    /// times is lost for good (`None`).
    fn resend_delay_ns(&mut self, bounded: bool) -> Option<u64> {
        let msg = &self.scenario.messages;
        let mut extra = 0;
        let mut resends = 0;
        let lost = crate::rng::Chance::new(msg.loss_probability);
        while lost.hit(self.message_rng.next_u64()) {
            if bounded && resends == msg.max_resends {
                return None;
            }
            resends += 1;
            extra += (msg.retry_timeout_ms * 1e6) as u64;
        }
        Some(extra)
    }

    /// `node`'s receipt for `key` reaches the hub (`node` got the key at `at_node`, unless it
    /// was down then): once every receipt is in, the key activates, its convergence is
    /// recorded, and the replaced key's overlap probes are scheduled.
    pub(super) fn receipt(&mut self, now: SimTime, key: KeyId, node: &str, at_node: SimTime) -> Result<()> {
        let Some(n) = self.topology.node(node) else { return Ok(()) };
        if self.nodes.was_down(n, at_node) {
            return Ok(()); // the key reached a node that was down: lost
        }
        let Some(p) = self.pending.get_mut(&key) else { return Ok(()) };
        if self.nodes.was_down(p.coordinator, now) {
            return Ok(()); // the receipt reached a coordinator that was down: lost
        }
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
            // Record the old key's uses while it is still ACTIVE (a triggered rotation
            // retires it the moment its successor activates).
            self.flush_uses(ch)?;
        }
        let proof = self.engine.receipt_proof(key)?;
        self.engine.activate(proof)?;
        if let Some(ch) = p.channel
            && self.stats.hub.as_ref().is_some_and(|h| h.recovered_at.is_none() && h.rejoin_waiting.contains(&ch))
        {
            let participants = self.engine.key(key)?.participants;
            self.rejoined(now, ch, &participants);
        }
        let from_first_ms = (now.0 - p.first_started.0 + p.notify_ns) as f64 / 1e6;
        let from_success_ms = (now.0 - p.started.0 + p.notify_ns) as f64 / 1e6;
        let channel = p.channel.map(|c| self.channels[&c].name.as_str()).unwrap_or_default();
        let source = match p.channel {
            Some(c) => self.channels[&c].pending_source.label(&self.topology.nodes),
            None => "local".to_string(), // a key type made by the engine (NODE_IDENTITY...)
        };
        let row = (from_first_ms, from_success_ms, p.attempt);
        self.csv.rotation(p.first_started, (channel, p.kind.name(), &source), row, p.delayed_by_crash)?;
        self.stats.push_latency(p.kind, p.delayed_by_crash, from_first_ms, from_success_ms);
        if p.rerouted && !p.delayed_by_crash {
            self.stats.rerouted_ms.push(from_first_ms);
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
            state.active_source = std::mem::take(&mut state.pending_source);
            if let Some(trigger) = state.queued_trigger.take() {
                self.refresh(now, ch, RotationKind::Triggered, Some(trigger))?;
            }
        }
        Ok(())
    }
}
