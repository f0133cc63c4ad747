//! Session-key channels (a linked pair, a pair without a direct link, the mesh-wide group)
//! and their refresh: key material from the QKD buffers or the ML-KEM fallback, imported or
//! rotated in the engine and sent for receipts; the uses of each channel's key, recorded in
//! the store; the overlap probes and the rotations of the key types with their own periods.

use rand::Rng;

use super::Sim;
use super::events::RotationKind;
use super::fallback::ml_kem_exchange;
use super::reconfigure::{Plan, Source};
use crate::crypto::{KeyType, SecretBytes};
use crate::lifecycle::{KeyId, Trigger, Usage};
use crate::mesh::error::Result;
use crate::units::SimTime;

/// A session-key channel: a pair with a direct link, or a pair without one (always relayed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Channel {
    Link(usize),
    Relay(usize),
    /// The mesh-wide group key shared by every node (control-plane broadcast).
    Group,
}

/// A channel's keys and their uses.
pub(super) struct ChannelState {
    pub(super) name: String,
    /// Its participants (node indices).
    pub(super) nodes: Vec<usize>,
    pub(super) active: Option<KeyId>,
    /// The key being distributed, waiting for receipts.
    pub(super) pending: Option<KeyId>,
    /// A triggered rotation requested while another was in flight: it starts when that one
    /// activates.
    pub(super) queued_trigger: Option<Trigger>,
    /// Uses of the current key not yet recorded in the store: (encrypt, decrypt-only).
    pub(super) uses: (u64, u64),
    /// Keys activated on this channel so far.
    pub(super) activations: u64,
    /// Where the ACTIVE key's material came from.
    pub(super) active_source: Source,
    /// Where the material of the key being distributed came from.
    pub(super) pending_source: Source,
}

impl ChannelState {
    /// A channel `name` between `nodes`, without keys yet.
    pub(super) fn new(name: String, nodes: Vec<usize>) -> Self {
        ChannelState {
            name,
            nodes,
            active: None,
            pending: None,
            queued_trigger: None,
            uses: (0, 0),
            activations: 0,
            active_source: Source::None,
            pending_source: Source::None,
        }
    }
}

impl Sim<'_> {
    /// Rotates the ACTIVE keys of the types that rotate on their own periods (all but the
    /// MESH_SESSION keys, which the refresh rotates) once they are due.
    pub(super) fn rotate_due_key_types(&mut self, now: SimTime) -> Result<()> {
        if self.nodes.hub_away() {
            return Ok(()); // the hub rotates them: checked again after it returns
        }
        for old in self.engine.due_for_rotation()? {
            let rec = self.engine.key(old)?;
            if rec.key_type == KeyType::MeshSession {
                continue;
            }
            let new = self.engine.begin_rotation(old, &mut self.crypto_rng)?;
            self.engine.distribute(new)?;
            let nodes: Vec<usize> = rec.participants.iter().filter_map(|p| self.topology.node(p)).collect();
            self.stats.other_rotations += 1;
            self.send_for_receipts(now, new, None, RotationKind::Scheduled, &nodes)?;
        }
        Ok(())
    }

    /// Decrypts with the replaced key `key`: within its overlap this must be allowed (unless a
    /// compromise revoked it meanwhile); after it the engine must refuse.
    pub(super) fn overlap_probe(&mut self, key: KeyId, within: bool) -> Result<()> {
        self.stats.overlap_probes += 1;
        let allowed = self.engine.record_use(key, Usage::Unprotect, 1).is_ok();
        if within {
            let revoked = self.engine.key(key)?.state == crate::lifecycle::KeyState::Revoked;
            if !allowed && !revoked {
                self.stats.violations += 1;
            }
        } else if allowed {
            self.stats.violations += 1; // an expired key was accepted
        } else {
            self.stats.late_uses_refused += 1;
        }
        Ok(())
    }

    /// Records the counted uses of `ch`'s current key in the store; a refused use (a key used
    /// after its successor's overlap, or after revocation) is a violation.
    pub(super) fn flush_uses(&mut self, ch: Channel) -> Result<()> {
        let state = self.channels.get_mut(&ch).expect("channel");
        let (Some(key), (protect, unprotect)) = (state.active, std::mem::take(&mut state.uses)) else { return Ok(()) };
        for (usage, n) in [(Usage::Protect, protect), (Usage::Unprotect, unprotect)] {
            if n > 0 && self.engine.record_use(key, usage, n).is_err() {
                self.stats.violations += n;
            }
        }
        Ok(())
    }

    /// Session-key material for `ch` and its origin (recorded in the audit chain): from the
    /// direct link's QKD buffer when it runs on QKD with enough key, else over the cheapest
    /// trusted-node relay path whose every hop can pay (one-time pad on every hop, each hop's
    /// buffer paying `session_key_bits`), else from a real ML-KEM-1024 hybrid exchange between
    /// the two ends. Where it came from is kept as the channel's `pending_source`.
    pub(super) fn material(&mut self, ch: Channel) -> Result<Option<(SecretBytes, String)>> {
        let bits = self.scenario.mesh.session_key_bits;
        if ch == Channel::Group {
            // The hub generates the group key and sends it to each node under that node's
            // (already QKD- or fallback-protected) session key; while the hub is isolated by a
            // compromise, the group's first node (file order) does, without the hub.
            let mut bytes = vec![0u8; 32];
            self.crypto_rng.fill_bytes(&mut bytes);
            let state = self.channels.get_mut(&ch).expect("channel");
            state.pending_source = Source::Local;
            let maker = state.nodes[0];
            let origin = format!("generated by {}", self.topology.nodes[maker].name);
            return Ok(Some((SecretBytes::new(bytes), origin)));
        }
        let (source, origin) = match self.plan(ch, true) {
            Plan::Direct(i) => {
                self.links[i].qkd.take(bits);
                self.links[i].stats.refreshes_qkd += 1;
                self.stats.session_keys[0] += 1;
                (Source::Direct, "qkd".to_string())
            }
            Plan::Relay(route) => {
                for &h in &route.links {
                    self.links[h].qkd.take(bits);
                    self.links[h].stats.refreshes_qkd += 1;
                    self.links[h].stats.relay_hops_carried += 1;
                }
                self.stats.count_relay(route.hops());
                let via: Vec<&str> = route.relays().iter().map(|&n| self.topology.nodes[n].name.as_str()).collect();
                let origin = format!("qkd relay via {} ({} hops, one-time pad on each)", via.join("+"), route.hops());
                (Source::Relay { relays: route.relays().to_vec(), hops: route.hops() }, origin)
            }
            Plan::Fallback | Plan::Cut => {
                if !self.scenario.mesh.fallback_allowed {
                    return Ok(None);
                }
                if let Channel::Link(i) = ch {
                    self.links[i].stats.refreshes_fallback += 1;
                }
                self.stats.session_keys[2] += 1;
                let material = ml_kem_exchange(&mut self.crypto_rng)?;
                self.channels.get_mut(&ch).expect("channel").pending_source = Source::Fallback;
                return Ok(Some((material, "ml-kem-1024 fallback".into())));
            }
        };
        // The block rung tracks key lengths, not bits: the distilled key's bytes are drawn
        // here (for a relay, the XOR of the hop pads with the key is again uniform).
        let mut bytes = vec![0u8; 32];
        self.crypto_rng.fill_bytes(&mut bytes);
        self.channels.get_mut(&ch).expect("channel").pending_source = source;
        Ok(Some((SecretBytes::new(bytes), origin)))
    }

    /// Refreshes `ch`'s session key (a rotation of `kind`, started by `trigger` unless
    /// scheduled): queued if a rotation is in flight, skipped if a participant is isolated or
    /// no material can be had.
    pub(super) fn refresh(
        &mut self,
        now: SimTime,
        ch: Channel,
        kind: RotationKind,
        trigger: Option<Trigger>,
    ) -> Result<()> {
        let state = &self.channels[&ch];
        if state.nodes.iter().any(|n| self.nodes.isolated.contains(n)) {
            return Ok(());
        }
        if ch == Channel::Group && self.nodes.down_until[0].is_some() {
            return Ok(()); // the hub makes the group key: it keeps its key until the hub returns
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
            // The old key stays ACTIVE until its replacement activates (or the rotation fails).
            // The channel's participants now (the group's change when the hub is isolated or
            // re-provisioned).
            Some(old) => self.engine.prepare_replacement_for(
                old,
                Some(&participants),
                material,
                &origin,
                trigger,
                &mut self.crypto_rng,
            )?,
            None => self.engine.import_material(
                KeyType::MeshSession,
                &name,
                &participants,
                material,
                &origin,
                &mut self.crypto_rng,
            )?,
        };
        self.engine.distribute(key)?;
        self.channels.get_mut(&ch).expect("channel").pending = Some(key);
        self.send_for_receipts(now, key, Some(ch), kind, &nodes)
    }
}
