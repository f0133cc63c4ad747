//! What a mesh run counts (convergence latencies, detections, false alarms, violations...),
//! and the [`MeshSummary`] made of it at the end.

use super::Sim;
use super::events::RotationKind;
use crate::mesh::promises::{
    EMERGENCY_REKEY_S, EMERGENCY_REVOCATION_S, MS_PER_S, SCHEDULED_ROTATION_S, TRIGGERED_ROTATION_S,
};
use crate::mesh::summary::{MeshLinkSummary, MeshSummary, RotationStats, Rotations};

/// The run's counters and samples (the per-link ones are in each link's state).
#[derive(Debug, Default)]
pub(super) struct Statistics {
    /// Convergence latencies (ms) of the rotations not delayed by a crash, per kind.
    latencies_ms: [Vec<f64>; RotationKind::COUNT],
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
}

impl Statistics {
    /// Records a converged rotation of `kind` (not delayed by a crash).
    pub(super) fn push_latency(&mut self, kind: RotationKind, converged_ms: f64) {
        self.latencies_ms[kind.index()].push(converged_ms);
    }

    /// The convergence latencies (ms) of `kind`.
    fn latencies(&self, kind: RotationKind) -> &[f64] {
        &self.latencies_ms[kind.index()]
    }
}

impl Sim<'_> {
    /// The summary of the finished run (its escalation bound is filled in by the caller).
    pub(super) fn summary(&self) -> MeshSummary {
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
                scheduled: RotationStats::new(s.latencies(RotationKind::Scheduled), SCHEDULED_ROTATION_S * MS_PER_S),
                triggered: RotationStats::new(s.latencies(RotationKind::Triggered), TRIGGERED_ROTATION_S * MS_PER_S),
                emergency: RotationStats::new(s.latencies(RotationKind::Emergency), EMERGENCY_REKEY_S * MS_PER_S),
            },
            revocation_ms: RotationStats::new(&s.revocations_ms, EMERGENCY_REVOCATION_S * MS_PER_S),
            delayed_by_crash: s.crash_delayed_ms.len() as u64,
            delayed_by_crash_max_ms: s.crash_delayed_ms.iter().copied().fold(0.0, f64::max),
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
            audit_records: self.engine.audit_len(),
            events: self.queue.popped(),
            per_link,
        }
    }
}
