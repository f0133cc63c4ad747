//! Incidents of a mesh run: the scenario's events (an eavesdropper, a degraded link, an
//! operator's rotation, a crash, a compromise) as they start and end, and the six-step
//! compromise recovery (of a node or of the hub; the hub's re-provisioning is in
//! `reprovision`).

use super::Sim;
use super::channels::Channel;
use super::events::{RotationKind, SimEvent};
use super::reconfigure::Source;
use super::statistics::HubIncident;
use crate::crypto::KeyType;
use crate::lifecycle::Trigger;
use crate::mesh::error::Result;
use crate::mesh::scenario::{Attack, EventKind, EventSpec};
use crate::units::{SimDuration, SimTime};

impl Sim<'_> {
    /// Applies link `i`'s current impairments (extra loss, eavesdropper) to its physics.
    pub(super) fn set_physics(&mut self, i: usize) -> Result<()> {
        let link = &mut self.links[i];
        let mut config = link.base.clone();
        config.channel.insertion_loss_db += link.impairments.extra_loss_db;
        if let Some((attack, strength)) = link.impairments.eve {
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

    /// Node `n` is isolated: its links are severed (no more windows) and the decision engine
    /// forgets their alarms.
    pub(super) fn cut_off(&mut self, n: usize) {
        self.nodes.isolated.insert(n);
        let mut severed = Vec::new();
        for (i, l) in self.links.iter_mut().enumerate().filter(|(_, l)| l.a == n || l.b == n) {
            l.severed = true;
            severed.push(i);
        }
        self.escalation.forget_links(&severed);
    }

    /// Scenario event `idx` starts.
    pub(super) fn start_event(&mut self, now: SimTime, idx: usize) -> Result<()> {
        let e = self.event_spec(idx);
        let link_index = e.link.as_deref().and_then(|name| self.links.iter().position(|l| l.id == name));
        let node_index = e.node.as_deref().and_then(|name| self.topology.node(name));
        match e.kind {
            EventKind::Eve => {
                let i = link_index.expect("validated");
                self.links[i].impairments.eve = Some((e.attack.expect("validated"), e.strength));
                self.links[i].attack.since = Some(now);
                self.links[i].attack.detected = false;
                self.set_physics(i)?;
                let id = self.links[i].id.clone();
                self.csv.trace(
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
                self.links[i].impairments.extra_loss_db += e.extra_loss_db;
                self.set_physics(i)?;
                let id = self.links[i].id.clone();
                self.csv.trace(
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
                self.refresh(now, Channel::Link(i), RotationKind::Triggered, Some(Trigger::OperatorCommand))
            }
            EventKind::Crash => {
                let n = node_index.expect("validated");
                let up = now + SimDuration::from_secs_f64(e.restart_after_s.unwrap_or(60.0));
                self.nodes.down_until[n] = Some(up);
                self.nodes.outages[n].push((now, up));
                self.queue.schedule(up, SimEvent::Restart(n))?;
                if n == 0 {
                    self.stats.hub_outages += 1;
                }
                let name = self.topology.nodes[n].name.clone();
                self.csv.trace(now, &name, "node:crash", "down", (0.0, 0), "")?;
                self.reconfigure(now, &format!("node {name} crashed"))
            }
            EventKind::Compromise => {
                let n = node_index.expect("validated");
                self.compromise(now, n, "scenario: node compromised")?;
                if let Some(after) = e.recover_after_s {
                    // Validated: only the hub is re-provisioned.
                    self.queue.schedule(now + SimDuration::from_secs_f64(after), SimEvent::Reprovision(n))?;
                }
                Ok(())
            }
        }
    }

    /// Event `idx`: the scenario's, then the injected ones.
    pub(super) fn event_spec(&self, idx: usize) -> EventSpec {
        let n = self.scenario.event.len();
        if idx < n { self.scenario.event[idx].clone() } else { self.injected[idx - n].clone() }
    }

    /// Scenario event `idx` ends (eve and degrade; the others have no end).
    pub(super) fn end_event(&mut self, now: SimTime, idx: usize) -> Result<()> {
        let e = self.event_spec(idx);
        let Some(i) = e.link.as_deref().and_then(|name| self.links.iter().position(|l| l.id == name)) else {
            return Ok(());
        };
        match e.kind {
            EventKind::Eve => {
                self.links[i].impairments.eve = None;
                self.links[i].attack.since = None;
            }
            EventKind::Degrade => self.links[i].impairments.extra_loss_db -= e.extra_loss_db,
            _ => return Ok(()),
        }
        self.set_physics(i)?;
        let id = self.links[i].id.clone();
        self.csv.trace(now, &id, "event:end", "restored", (0.0, 0), "")
    }

    /// The six-step recovery: the engine runs DETECT → ISOLATE → REVOKE → RE-KEY → VERIFY →
    /// REPORT in one audited transaction; revocation reaches every other node after its
    /// message delay; the re-keyed channels converge when their receipts are in.
    /// Runs the six-step recovery for node `n`; `reason` is the validated compromise signal
    /// (recorded in the DETECT step).
    pub(super) fn compromise(&mut self, now: SimTime, n: usize, reason: &str) -> Result<()> {
        let name = self.topology.nodes[n].name.clone();
        let channels: Vec<Channel> = self.channels.keys().copied().collect();
        for ch in channels {
            self.flush_uses(ch)?;
        }
        let report = self.engine.recover_compromise(&name, reason, &mut self.crypto_rng)?;
        self.stats.recoveries += 1;
        if n == 0 {
            let mut masters = 0;
            for &k in &report.revoked {
                masters += u64::from(self.engine.key(k)?.key_type == KeyType::SovereignMaster);
            }
            self.stats.hub = Some(HubIncident {
                compromised_at: now,
                revoked: report.revoked.len() as u64,
                masters_revoked: masters,
                ..HubIncident::default()
            });
        }
        self.cut_off(n);
        let others: Vec<usize> =
            (0..self.topology.nodes.len()).filter(|&m| m != n && !self.nodes.isolated.contains(&m)).collect();
        let revocation_ns = others.iter().map(|&m| self.one_way(now, m).0 - now.0).max().unwrap_or(0);
        self.stats.revocations_ms.push(revocation_ns as f64 / 1e6);
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
                let state = self.channels.get_mut(&c).expect("channel");
                state.pending = Some(*key);
                state.pending_source = Source::Local; // the recovery's pre-staged material
            }
            self.send_for_receipts(now, *key, ch, RotationKind::Emergency, &nodes)?;
        }
        self.csv.trace(
            now,
            &name,
            "recovery",
            "isolated",
            (0.0, 0),
            &format!("revoked={} rekeyed={}", report.revoked.len(), report.rekeyed.len()),
        )?;
        // The mesh rebuilds without the node: routes avoid it, and what it relayed is re-keyed.
        self.reconfigure(now, &format!("node {name} isolated"))?;
        self.rekey_relayed_through(now, n)
    }
}
