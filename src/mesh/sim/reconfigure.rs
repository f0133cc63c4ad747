//! The mesh reconfiguring itself (the spec: "the mesh topology is dynamically reconfigured in
//! response to node status changes"): every pair's route — its direct QKD link, a trusted-node
//! relay path chosen by [`Graph::shortest`](crate::mesh::routing::Graph::shortest), or the
//! ML-KEM-1024 fallback — is planned from the links' modes and the nodes' states, re-planned
//! whenever a link changes mode or a node crashes, returns or is isolated, and every change is
//! an audit record (`mesh:reconfigure`) and a `route:change` trace row. A relay is never a
//! node that is isolated (compromised) or down. Keys relayed through a node that is then
//! compromised were seen by it: they are revoked (or, still in distribution, destroyed) and
//! the pair is re-keyed at once over its new route. The coverage (where each pair's ACTIVE
//! session key came from) is sampled once per window for the coverage CSV.

use std::collections::BTreeMap;

use super::Sim;
use super::channels::Channel;
use super::events::RotationKind;
use crate::mesh::error::Result;
use crate::mesh::monitor::LinkMode;
use crate::mesh::routing::{Graph, Route};
use crate::mesh::topology::NodeSpec;
use crate::units::SimTime;

/// Where a channel's key material came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) enum Source {
    /// No key.
    #[default]
    None,
    /// The pair's direct QKD link.
    Direct,
    /// A trusted-node relay path (`relays` strictly between the ends).
    Relay { relays: Vec<usize>, hops: usize },
    /// The ML-KEM-1024 hybrid exchange.
    Fallback,
    /// Made by the engine or the hub (the group key, a recovery's pre-staged re-key).
    Local,
}

impl Source {
    /// How the rotations CSV names it: `direct`, `relay:n1+n3`, `fallback`, `local`, `none`.
    pub(super) fn label(&self, nodes: &[NodeSpec]) -> String {
        match self {
            Source::None => "none".into(),
            Source::Direct => "direct".into(),
            Source::Relay { relays, .. } => {
                let via: Vec<&str> = relays.iter().map(|&n| nodes[n].name.as_str()).collect();
                format!("relay:{}", via.join("+"))
            }
            Source::Fallback => "fallback".into(),
            Source::Local => "local".into(),
        }
    }

    /// The coverage CSV's column of this source.
    fn column(&self) -> usize {
        match self {
            Source::Direct => 0,
            Source::Relay { .. } => 1,
            Source::Fallback => 2,
            Source::Local => 3,
            Source::None => 4,
        }
    }
}

/// The route planned for a pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Plan {
    /// Over its direct link (index).
    Direct(usize),
    /// Over a relay path.
    Relay(Route),
    /// No QKD path: the fallback exchange.
    Fallback,
    /// An end is isolated: no key at all.
    Cut,
}

impl Plan {
    /// How the plan reads in the trace and the audit chain.
    fn describe(&self, names: &[String]) -> String {
        match self {
            Plan::Direct(_) => "direct".into(),
            Plan::Relay(r) => {
                let via: Vec<&str> = r.relays().iter().map(|&n| names[n].as_str()).collect();
                format!("relay via {} ({} hops)", via.join("+"), r.hops())
            }
            Plan::Fallback => "fallback".into(),
            Plan::Cut => "cut".into(),
        }
    }
}

/// The fibre graph of `links` (node indices and control-message latency per hop, ns).
pub(super) fn fibre_graph(nodes: usize, links: &[(usize, usize, u64)]) -> Graph {
    Graph::new(nodes, links)
}

/// The planned routes of every pair, and those of the run's start.
#[derive(Debug, Default)]
pub(super) struct Routes {
    pub(super) now: BTreeMap<Channel, Plan>,
    pub(super) initial: BTreeMap<Channel, Plan>,
}

impl Sim<'_> {
    /// Whether link `i` can carry key: QKD mode, not severed, and (with `need_key`) enough
    /// key in its buffer for one session key.
    fn usable(&self, i: usize, need_key: bool) -> bool {
        let l = &self.links[i];
        l.monitor.mode() == LinkMode::Qkd
            && !l.severed
            && (!need_key || l.qkd.buffer_bits >= self.scenario.mesh.session_key_bits)
    }

    /// Whether node `n` may relay key: trusted (not isolated) and up.
    fn can_relay(&self, n: usize) -> bool {
        !self.nodes.isolated.contains(&n) && self.nodes.down_until[n].is_none()
    }

    /// The route of pair channel `ch` now: its direct link if usable, else the cheapest relay
    /// path, else the fallback; with `need_key`, only over links whose buffers can pay now.
    pub(super) fn plan(&mut self, ch: Channel, need_key: bool) -> Plan {
        let nodes = &self.channels[&ch].nodes;
        let (a, b) = (nodes[0], nodes[1]);
        if self.nodes.isolated.contains(&a) || self.nodes.isolated.contains(&b) {
            return Plan::Cut;
        }
        let direct = match ch {
            Channel::Link(i) => Some(i),
            _ => None,
        };
        if let Some(i) = direct {
            if self.usable(i, need_key) {
                return Plan::Direct(i);
            }
            if need_key && self.usable(i, false) {
                self.stats.depletions += 1; // on QKD, but its buffer cannot pay
            }
        }
        self.stats.route_computations += 1;
        let started = std::time::Instant::now();
        let route = self.graph.shortest(a, b, |l| self.usable(l, need_key), |n| self.can_relay(n));
        self.stats.route_computation_time += started.elapsed();
        match route {
            Some(r) => Plan::Relay(r),
            None => Plan::Fallback,
        }
    }

    /// Whether `ch` is on another route than at the start of the run.
    pub(super) fn is_rerouted(&self, ch: Channel) -> bool {
        self.routes.now.get(&ch) != self.routes.initial.get(&ch)
    }

    /// The pair channels (all but the group), in order.
    fn pairs(&self) -> Vec<Channel> {
        self.channels.keys().copied().filter(|&c| c != Channel::Group).collect()
    }

    /// Plans every pair's route at the start of the run (one audit record).
    pub(super) fn initial_routes(&mut self) -> Result<()> {
        let mut counts = [0u64; 4];
        for ch in self.pairs() {
            let plan = self.plan(ch, false);
            counts[match plan {
                Plan::Direct(_) => 0,
                Plan::Relay(_) => 1,
                Plan::Fallback => 2,
                Plan::Cut => 3,
            }] += 1;
            self.routes.now.insert(ch, plan.clone());
            self.routes.initial.insert(ch, plan);
        }
        let detail = format!(
            "initial routes: {} direct, {} relayed, {} fallback (cost: hops, then latency)",
            counts[0], counts[1], counts[2]
        );
        self.engine.record_event("mesh:routes", &detail)?;
        Ok(())
    }

    /// Re-plans every pair's route after `cause`; each change is a trace row, and a
    /// reconfiguration that changed any route is one audit record.
    pub(super) fn reconfigure(&mut self, now: SimTime, cause: &str) -> Result<()> {
        let started = std::time::Instant::now();
        let result = self.replan(now, cause);
        self.stats.reconfigure_time += started.elapsed();
        result
    }

    /// [`Sim::reconfigure`] without its timing.
    fn replan(&mut self, now: SimTime, cause: &str) -> Result<()> {
        let names: Vec<String> = self.topology.nodes.iter().map(|n| n.name.clone()).collect();
        let mut changes = Vec::new();
        for ch in self.pairs() {
            let plan = self.plan(ch, false);
            if self.routes.now.get(&ch) != Some(&plan) {
                let old = self.routes.now.insert(ch, plan.clone()).expect("planned at the start");
                changes.push((ch, old, plan));
            }
        }
        self.stats.reconfigure_runs += 1;
        if changes.is_empty() {
            return Ok(());
        }
        self.stats.reconfigurations += 1;
        self.stats.route_changes += changes.len() as u64;
        const LISTED: usize = 12;
        let mut listed = Vec::new();
        for (ch, old, new) in &changes {
            let name = self.channels[ch].name.clone();
            let (from, to) = (old.describe(&names), new.describe(&names));
            self.csv.trace(now, &name, "route:change", &to, (0.0, 0), &format!("{cause}; was {from}"))?;
            if listed.len() < LISTED {
                listed.push(format!("{name}: {from} -> {to}"));
            }
        }
        let more = changes.len().saturating_sub(LISTED);
        let detail = format!(
            "{cause}; {} pairs re-routed: {}{}",
            changes.len(),
            listed.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        );
        self.engine.record_event("mesh:reconfigure", &detail)?;
        Ok(())
    }

    /// After node `n` was isolated: the keys that were relayed through it are revoked (ACTIVE)
    /// or destroyed (in distribution), and their pairs re-keyed at once over their new route.
    pub(super) fn rekey_relayed_through(&mut self, now: SimTime, n: usize) -> Result<()> {
        let through = |s: &Source| matches!(s, Source::Relay { relays, .. } if relays.contains(&n));
        let name = self.topology.nodes[n].name.clone();
        for ch in self.pairs() {
            let state = &self.channels[&ch];
            let (active, pending) = (state.active, state.pending);
            let (hit_active, hit_pending) = (through(&state.active_source), through(&state.pending_source));
            if !hit_active && !hit_pending {
                continue;
            }
            let reason = format!("relayed through {name}, which was compromised");
            if let (true, Some(k)) = (hit_active, active) {
                self.flush_uses(ch)?;
                self.engine.revoke(k, &reason)?;
                self.stats.relayed_keys_revoked += 1;
                let state = self.channels.get_mut(&ch).expect("channel");
                state.active = None;
                state.active_source = Source::None;
            }
            if let (true, Some(k)) = (hit_pending, pending) {
                // A rotation parked for a participant that is down was destroyed already.
                if self.parked.remove(&k).is_none() {
                    self.engine.fail_distribution_without_retry(k, &reason)?;
                }
                self.pending.remove(&k);
                self.stats.relayed_keys_revoked += 1;
                let state = self.channels.get_mut(&ch).expect("channel");
                state.pending = None;
                state.pending_source = Source::None;
            }
            if self.channels[&ch].pending.is_none() {
                self.refresh(now, ch, RotationKind::Emergency, None)?;
            }
        }
        Ok(())
    }

    /// One row of the coverage CSV: the share of node pairs whose ACTIVE session key came
    /// directly from QKD, from a relay path, from the fallback, from local material, or that
    /// have none.
    pub(super) fn sample_coverage(&mut self, now: SimTime) -> Result<()> {
        if !self.csv.has_coverage() {
            return Ok(());
        }
        let mut counts = [0u64; 5];
        let mut total = 0u64;
        for (ch, state) in &self.channels {
            if *ch == Channel::Group {
                continue;
            }
            total += 1;
            let column = if state.active.is_some() { state.active_source.column() } else { Source::None.column() };
            counts[column] += 1;
        }
        let share = |c: u64| if total > 0 { c as f64 / total as f64 } else { 0.0 };
        let row = format!(
            "{},{},{},{},{},{}",
            now.as_secs_f64(),
            share(counts[0]),
            share(counts[1]),
            share(counts[2]),
            share(counts[3]),
            share(counts[4])
        );
        self.csv.coverage(&row)
    }
}
