//! The operator re-provisions a compromised hub `recover_after` its compromise: the engine
//! takes it off the isolated list, revokes nothing more, and re-wraps every stored key under
//! a new SOVEREIGN_MASTER (the old one was REVOKED by the recovery and opens nothing from now
//! on), with a new AUDIT_SIGNING key ([`Engine::reprovision_node`](crate::lifecycle::Engine::reprovision_node)).
//! The mesh then takes the hub back: its links start afresh (the key in their buffers was
//! known to the compromised hub and is discarded), every node gets a new NODE_IDENTITY key
//! with the hub, every pair of the hub a fresh session key (the fallback exchange while the
//! fresh links have no key yet), the group key is replaced by one that includes the hub, and
//! the routes are re-planned. The recovery is complete when all of those keys are ACTIVE.

use super::Sim;
use super::channels::Channel;
use super::events::{RotationKind, SimEvent};
use crate::crypto::{KeyType, SecretBytes};
use crate::lifecycle::Trigger;
use crate::mesh::error::Result;
use crate::units::{SimDuration, SimTime};

impl Sim<'_> {
    /// The operator re-provisions isolated node `n` (the hub; validated by the scenario).
    pub(super) fn reprovision(&mut self, now: SimTime, n: usize) -> Result<()> {
        let name = self.topology.nodes[n].name.clone();
        let channels: Vec<Channel> = self.channels.keys().copied().collect();
        for &ch in &channels {
            self.flush_uses(ch)?;
        }
        let master = SecretBytes::random(32, "master", &mut self.crypto_rng)?;
        let report = self.engine.reprovision_node(&name, &master, &mut self.crypto_rng)?;
        self.nodes.isolated.remove(&n);
        if report.new_master.is_some() {
            // The new master is the rotation that was deferred while the hub was isolated.
            self.master_due = false;
        }
        // Its links come back with empty buffers, windows aligned with the others'.
        let window = SimDuration::from_secs_f64(self.scenario.mesh.window_s).as_nanos();
        let next_window = SimTime((now.0 / window + 1) * window);
        let mut discarded = 0;
        for i in 0..self.links.len() {
            let l = &mut self.links[i];
            if (l.a == n || l.b == n) && l.severed {
                l.severed = false;
                discarded += l.qkd.discard_key();
                self.queue.schedule(next_window, SimEvent::Window(i))?;
            }
        }
        self.csv.trace(
            now,
            &name,
            "recovery:reprovisioned",
            "rejoined",
            (0.0, 0),
            &format!(
                "new SOVEREIGN_MASTER; rewrapped={}; key discarded from its links={discarded} bits",
                report.rewrapped
            ),
        )?;
        self.reconfigure(now, &format!("node {name} re-provisioned"))?;
        // The group again includes every node that is not isolated.
        let everyone: Vec<usize> =
            (0..self.topology.nodes.len()).filter(|m| !self.nodes.isolated.contains(m)).collect();
        self.channels.get_mut(&Channel::Group).expect("group").nodes = everyone;
        let mut waiting = std::collections::BTreeSet::new();
        // Fresh NODE_IDENTITY keys shared with the hub (the compromise revoked the old ones).
        if n == 0 {
            for m in 1..self.topology.nodes.len() {
                if self.nodes.isolated.contains(&m) {
                    continue;
                }
                let other = self.topology.nodes[m].name.clone();
                let key = self.engine.generate(
                    KeyType::NodeIdentity,
                    &format!("identity-{other}"),
                    &[&name, &other],
                    &mut self.crypto_rng,
                )?;
                self.engine.distribute(key)?;
                self.send_for_receipts(now, key, None, RotationKind::Setup, &[0, m])?;
            }
        }
        for ch in channels {
            let state = &self.channels[&ch];
            if !state.nodes.contains(&n) || state.nodes.iter().any(|m| self.nodes.isolated.contains(m)) {
                continue;
            }
            waiting.insert(ch);
            if ch == Channel::Group {
                // Replaces the group key made without the hub (queued if one is in flight).
                self.refresh(now, ch, RotationKind::Triggered, Some(Trigger::OperatorCommand))?;
            } else if state.pending.is_none() {
                self.refresh(now, ch, RotationKind::Emergency, None)?;
            }
        }
        if let Some(h) = self.stats.hub.as_mut().filter(|_| n == 0) {
            h.reprovisioned_at = Some(now);
            h.rewrapped = report.rewrapped;
            h.rejoin_waiting = waiting;
        }
        self.retry_parked(now)
    }

    /// After `key` activated on `ch`: a channel the re-provisioned hub was waiting for is done
    /// when its new key includes the hub; the last one completes the recovery.
    pub(super) fn rejoined(&mut self, now: SimTime, ch: Channel, participants: &[String]) {
        let hub = &self.topology.nodes[0].name;
        let Some(h) = self.stats.hub.as_mut() else { return };
        if h.recovered_at.is_some() || !participants.contains(hub) {
            return;
        }
        if h.rejoin_waiting.remove(&ch) && h.rejoin_waiting.is_empty() {
            h.recovered_at = Some(now);
        }
    }
}
