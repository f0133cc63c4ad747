//! What a mesh run counts (convergence latencies, detections, false alarms, violations...),
//! and the [`MeshSummary`] made of it at the end.

use std::collections::BTreeSet;

use super::Sim;
use super::channels::Channel;
use super::events::RotationKind;
use crate::lifecycle::FailedDistributions;
use crate::mesh::promises::{
    EMERGENCY_REKEY_S, EMERGENCY_REVOCATION_S, MS_PER_S, SCHEDULED_ROTATION_S, TRIGGERED_ROTATION_S,
};
use crate::mesh::summary::{
    DistributionSummary, HubCompromiseSummary, MeshLinkSummary, MeshSummary, RotationStats, Rotations, RoutingSummary,
};
use crate::units::SimTime;

/// The run's counters and samples (the per-link ones are in each link's state).
#[derive(Debug, Default)]
pub(super) struct Statistics {
    /// Convergence latencies (ms) from the first attempt of the rotations not delayed by a
    /// crash, per kind.
    latencies_ms: [Vec<f64>; RotationKind::COUNT],
    /// The same rotations' latencies (ms) from their successful attempt.
    from_success_ms: [Vec<f64>; RotationKind::COUNT],
    /// Rotations converged, per kind.
    pub(super) converged: [u64; RotationKind::COUNT],
    /// Distributions that missed their deadline (keys DESTROYED), per kind.
    pub(super) failures: [u64; RotationKind::COUNT],
    /// Retries drawn with new material, per kind.
    pub(super) retries: [u64; RotationKind::COUNT],
    /// Rotations given up (attempts spent or no material), per kind; the old key stays ACTIVE.
    pub(super) exhausted: [u64; RotationKind::COUNT],
    /// Latencies (ms) from the successful attempt of the rotations a crash delayed.
    crash_delayed_from_success_ms: Vec<f64>,
    /// How long each compromise's revocation took to reach every other node (ms).
    pub(super) revocations_ms: Vec<f64>,
    /// Convergence latencies (ms) of rotations a crashed participant delayed.
    pub(super) crash_delayed_ms: Vec<f64>,
    /// Attack episodes the decision engine detected.
    pub(super) detections: u64,
    /// Delay from each detected attack's start to its detection (s).
    pub(super) detection_delays_s: Vec<f64>,
    /// CUSUM alarms on honest links.
    pub(super) false_alarms: u64,
    /// Link windows without an attack.
    pub(super) honest_windows: u64,
    /// Refreshes on QKD links whose buffers could not pay for the key.
    pub(super) depletions: u64,
    /// Compromise recoveries run.
    pub(super) recoveries: u64,
    /// Recoveries started by the decision engine's escalation.
    pub(super) escalations: u64,
    /// Key uses the engine should have refused but allowed, or allowed but refused.
    pub(super) violations: u64,
    /// Uses of expired keys the engine refused.
    pub(super) late_uses_refused: u64,
    /// Overlap probes made.
    pub(super) overlap_probes: u64,
    /// SOVEREIGN_MASTER rotations.
    pub(super) master_rotations: u64,
    /// Rotations of the key types with their own periods.
    pub(super) other_rotations: u64,
    /// Pair session keys drawn directly from QKD, over a relay path, from the fallback.
    pub(super) session_keys: [u64; 3],
    /// Relayed session keys by hop count (index = hops).
    pub(super) relay_hops: Vec<u64>,
    /// Route re-plannings run (after a mode change, crash, restart or isolation).
    pub(super) reconfigure_runs: u64,
    /// Those that changed at least one route (each an audit record).
    pub(super) reconfigurations: u64,
    /// Routes changed by them.
    pub(super) route_changes: u64,
    /// Shortest-path searches (re-plannings and refreshes without a usable direct link).
    pub(super) route_computations: u64,
    /// Wall-clock time of those searches.
    pub(super) route_computation_time: std::time::Duration,
    /// Wall-clock time of the re-plannings (searches included).
    pub(super) reconfigure_time: std::time::Duration,
    /// Keys relayed through a node that was then compromised (revoked or destroyed).
    pub(super) relayed_keys_revoked: u64,
    /// Convergence latencies (ms, from the first attempt) of rotations started while their
    /// channel was re-routed, not delayed by a crash.
    pub(super) rerouted_ms: Vec<f64>,
    /// Hub outages, and SOVEREIGN_MASTER rotations deferred to the hub's return.
    pub(super) hub_outages: u64,
    pub(super) master_deferred: u64,
    /// A compromise of the hub and its recovery, when the run had one.
    pub(super) hub: Option<HubIncident>,
}

/// A compromise of the hub as the run saw it.
#[derive(Debug, Default)]
pub(super) struct HubIncident {
    /// When it was isolated.
    pub(super) compromised_at: SimTime,
    /// Keys the recovery revoked because the hub shared them, and of those the
    /// SOVEREIGN_MASTER records.
    pub(super) revoked: u64,
    pub(super) masters_revoked: u64,
    /// When the operator re-provisioned it, and the stored keys then re-wrapped.
    pub(super) reprovisioned_at: Option<SimTime>,
    pub(super) rewrapped: u64,
    /// The hub's channels (and the group) still without a fresh ACTIVE key that includes it.
    pub(super) rejoin_waiting: BTreeSet<Channel>,
    /// When the last of them activated.
    pub(super) recovered_at: Option<SimTime>,
}

impl Statistics {
    /// Counts a session key relayed over `hops` hops.
    pub(super) fn count_relay(&mut self, hops: usize) {
        self.session_keys[1] += 1;
        if self.relay_hops.len() <= hops {
            self.relay_hops.resize(hops + 1, 0);
        }
        self.relay_hops[hops] += 1;
    }

    /// Records a converged rotation of `kind`: its latencies (ms) from the first and from
    /// the successful attempt, apart when a crash delayed it.
    pub(super) fn push_latency(
        &mut self,
        kind: RotationKind,
        delayed_by_crash: bool,
        from_first: f64,
        from_success: f64,
    ) {
        self.converged[kind.index()] += 1;
        if delayed_by_crash {
            self.crash_delayed_ms.push(from_first);
            self.crash_delayed_from_success_ms.push(from_success);
        } else {
            self.latencies_ms[kind.index()].push(from_first);
            self.from_success_ms[kind.index()].push(from_success);
        }
    }

    /// The stats of `kind` against `promise_ms`.
    fn rotation_stats(&self, kind: RotationKind, promise_ms: f64) -> RotationStats {
        let i = kind.index();
        RotationStats::new(&self.latencies_ms[i], promise_ms).with_retries(
            &self.from_success_ms[i],
            self.failures[i],
            self.retries[i],
            self.exhausted[i],
        )
    }
}

impl Sim<'_> {
    /// Routes, relays and reconfigurations of the run.
    fn routing_summary(&self) -> RoutingSummary {
        let s = &self.stats;
        let bits = self.scenario.mesh.session_key_bits;
        let hop_sum: u64 = s.relay_hops.iter().enumerate().map(|(h, &n)| h as u64 * n).sum();
        RoutingSummary {
            session_keys_direct: s.session_keys[0],
            session_keys_relayed: s.session_keys[1],
            session_keys_fallback: s.session_keys[2],
            relay_hops: s.relay_hops.clone(),
            relay_hops_mean: if s.session_keys[1] > 0 { hop_sum as f64 / s.session_keys[1] as f64 } else { 0.0 },
            relay_key_bits_per_hop: bits,
            relay_key_bits_consumed: hop_sum * bits,
            reconfigure_runs: s.reconfigure_runs,
            reconfigurations: s.reconfigurations,
            route_changes: s.route_changes,
            route_computations: s.route_computations,
            route_computation_s: s.route_computation_time.as_secs_f64(),
            reconfigure_s: s.reconfigure_time.as_secs_f64(),
            relayed_keys_revoked: s.relayed_keys_revoked,
            rerouted_rotations: RotationStats::new(&s.rerouted_ms, SCHEDULED_ROTATION_S * MS_PER_S),
            hub_outages: s.hub_outages,
            master_rotations_deferred: s.master_deferred,
        }
    }

    /// The summary of the finished run (its escalation bound is filled in by the caller);
    /// `failed` is what the store says about the failed distributions.
    pub(super) fn summary(&self, failed: FailedDistributions) -> MeshSummary {
        let m = &self.scenario.mesh;
        let s = &self.stats;
        let per_link: Vec<MeshLinkSummary> = self
            .links
            .iter()
            .map(|l| MeshLinkSummary {
                id: l.id.clone(),
                length_km: l.length_km,
                qber_mean: if l.stats.windows > 0 { l.stats.qber_sum / l.stats.windows as f64 } else { 0.0 },
                key_delivered_bits: l.qkd.produced_bits,
                buffer_mean_bits: if l.stats.windows > 0 { l.stats.buffer_sum / l.stats.windows as f64 } else { 0.0 },
                fallback_seconds: l.stats.fallback.as_secs_f64(),
                refreshes_qkd: l.stats.refreshes_qkd,
                refreshes_fallback: l.stats.refreshes_fallback,
                relay_hops_carried: l.stats.relay_hops_carried,
            })
            .collect();
        MeshSummary {
            duration_s: m.duration_s,
            nodes: self.topology.nodes.len() as u64,
            links: self.links.len() as u64,
            relayed_pairs: self.topology.relayed.len() as u64,
            key_delivered_bits: per_link.iter().map(|l| l.key_delivered_bits).sum(),
            fallback_seconds_total: per_link.iter().map(|l| l.fallback_seconds).sum(),
            links_in_fallback_ever: self.links.iter().filter(|l| l.stats.ever_fallback).count() as u64,
            rotations: Rotations {
                scheduled: s.rotation_stats(RotationKind::Scheduled, SCHEDULED_ROTATION_S * MS_PER_S),
                triggered: s.rotation_stats(RotationKind::Triggered, TRIGGERED_ROTATION_S * MS_PER_S),
                emergency: s.rotation_stats(RotationKind::Emergency, EMERGENCY_REKEY_S * MS_PER_S),
            },
            distribution: DistributionSummary {
                deadline_ms: self.deadline_ns as f64 / 1e6,
                max_attempts: self.scenario.rotation.max_distribution_attempts,
                setup_failures: s.failures[RotationKind::Setup.index()],
                setup_retries: s.retries[RotationKind::Setup.index()],
                setup_exhausted: s.exhausted[RotationKind::Setup.index()],
                waiting_at_end: self.parked.len() as u64,
                store: failed,
            },
            revocation_ms: RotationStats::new(&s.revocations_ms, EMERGENCY_REVOCATION_S * MS_PER_S),
            routing: self.routing_summary(),
            delayed_by_crash: s.crash_delayed_ms.len() as u64,
            delayed_by_crash_max_ms: s.crash_delayed_ms.iter().copied().fold(0.0, f64::max),
            delayed_by_crash_max_from_success_ms: s.crash_delayed_from_success_ms.iter().copied().fold(0.0, f64::max),
            detections: s.detections,
            detection_delay_s_mean: if s.detection_delays_s.is_empty() {
                0.0
            } else {
                s.detection_delays_s.iter().sum::<f64>() / s.detection_delays_s.len() as f64
            },
            false_alarms: s.false_alarms,
            honest_windows: s.honest_windows,
            buffer_depletions: s.depletions,
            recoveries: s.recoveries,
            escalations: s.escalations,
            escalation_false_signal_bound_per_node_day: 0.0,
            key_use_violations: s.violations,
            overlap_probes: s.overlap_probes,
            late_uses_refused: s.late_uses_refused,
            master_rotations: s.master_rotations,
            other_key_rotations: s.other_rotations,
            hub_compromise: s.hub.as_ref().map(|h| {
                let secs = |t: Option<SimTime>| t.map(|t| t.as_secs_f64());
                let since = |t: Option<SimTime>, from: SimTime| t.map(|t| t.saturating_since(from).as_secs_f64());
                HubCompromiseSummary {
                    compromised_at_s: h.compromised_at.as_secs_f64(),
                    keys_revoked: h.revoked,
                    masters_revoked: h.masters_revoked,
                    reprovisioned_at_s: secs(h.reprovisioned_at),
                    keys_rewrapped: h.rewrapped,
                    recovered_at_s: secs(h.recovered_at),
                    time_to_recovery_s: since(h.recovered_at, h.compromised_at),
                    rejoin_s: h.reprovisioned_at.and_then(|r| since(h.recovered_at, r)),
                    channels_not_rejoined: h.rejoin_waiting.len() as u64,
                }
            }),
            audit_records: self.engine.audit_len(),
            events: self.queue.popped(),
            per_link,
        }
    }
}
