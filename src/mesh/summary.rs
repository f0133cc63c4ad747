//! What a mesh run reports: key delivered, fallback time, rotations by kind with their
//! convergence latencies against the spec's promises, detections, false alarms, depletions.

use serde::Serialize;

/// Percentiles of a latency distribution (ms).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

impl Latency {
    /// The percentiles of `samples` (nearest rank); zeros when empty.
    pub fn of(samples: &[f64]) -> Self {
        if samples.is_empty() {
            return Latency::default();
        }
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Latency { p50: rank(0.5), p99: rank(0.99), max: v[v.len() - 1] }
    }
}

/// Rotations of one kind.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RotationStats {
    /// Rotations that converged.
    pub count: u64,
    /// Time from the first attempt's start to every node knowing the new key is ACTIVE (ms).
    pub convergence_ms: Latency,
    /// The same from the start of the attempt that succeeded (ms): equal to
    /// `convergence_ms` when no distribution failed.
    pub convergence_from_success_ms: Latency,
    /// The spec's promise (ms), against the latency from the first attempt.
    pub promise_ms: f64,
    /// Whether the maximum is within the promise.
    pub within_promise: bool,
    /// Distributions that missed their deadline (each key DESTROYED).
    pub distribution_failures: u64,
    /// Retries with new material.
    pub retries: u64,
    /// Rotations given up (attempts spent, or no new material): the old key stayed ACTIVE.
    pub exhausted: u64,
}

impl RotationStats {
    /// Stats of `samples` (ms, from the first attempt) against `promise_ms`, without retries.
    pub fn new(samples: &[f64], promise_ms: f64) -> Self {
        let convergence_ms = Latency::of(samples);
        RotationStats {
            count: samples.len() as u64,
            convergence_ms,
            convergence_from_success_ms: convergence_ms,
            promise_ms,
            within_promise: convergence_ms.max < promise_ms,
            ..RotationStats::default()
        }
    }

    /// With the latencies from the successful attempt (ms) and the failure counts.
    pub fn with_retries(self, from_success: &[f64], failures: u64, retries: u64, exhausted: u64) -> Self {
        RotationStats {
            convergence_from_success_ms: Latency::of(from_success),
            distribution_failures: failures,
            retries,
            exhausted,
            ..self
        }
    }
}

/// Failed distributions and their retries beyond the per-kind counts of [`Rotations`].
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DistributionSummary {
    /// The deadline for every receipt of a distribution (ms).
    pub deadline_ms: f64,
    /// Attempts of one distribution before it is given up.
    pub max_attempts: u32,
    /// Failures, retries and give-ups of the first keys (node identities at the start).
    pub setup_failures: u64,
    /// See `setup_failures`.
    pub setup_retries: u64,
    /// See `setup_failures`.
    pub setup_exhausted: u64,
    /// Rotations still waiting for a participant to come back when the run ended.
    pub waiting_at_end: u64,
    /// Read back from the store: keys DESTROYED by a failed distribution, and how many of them
    /// the store shows used (must be 0).
    pub store: crate::lifecycle::FailedDistributions,
}

/// Rotations by kind.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Rotations {
    /// Timer-driven (the 300 s refresh): promise < 5 s ([`SCHEDULED_ROTATION_S`](crate::mesh::promises::SCHEDULED_ROTATION_S)).
    pub scheduled: RotationStats,
    /// Decision engine or operator: promise < 2 s ([`TRIGGERED_ROTATION_S`](crate::mesh::promises::TRIGGERED_ROTATION_S)).
    pub triggered: RotationStats,
    /// Compromise re-key: promise < 3 s ([`EMERGENCY_REKEY_S`](crate::mesh::promises::EMERGENCY_REKEY_S)).
    pub emergency: RotationStats,
}

/// Per-link figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeshLinkSummary {
    /// `a-b`.
    pub id: String,
    /// Fibre length (km).
    pub length_km: f64,
    /// Mean window QBER.
    pub qber_mean: f64,
    /// Secret bits produced by QKD.
    pub key_delivered_bits: u64,
    /// Time in ML-KEM-1024 fallback (s).
    pub fallback_seconds: f64,
    /// Mean key-buffer level over the windows (bits).
    pub buffer_mean_bits: f64,
    /// Session keys refreshed from QKD key.
    pub refreshes_qkd: u64,
    /// Session keys refreshed by the fallback exchange.
    pub refreshes_fallback: u64,
    /// Relayed session keys that took a hop over this link (each also in `refreshes_qkd`).
    pub relay_hops_carried: u64,
}

/// Key relay and reconfiguration: where the pairs' session keys came from, the relay paths'
/// hop counts and key consumed, and the re-plannings (routes by hops, then latency; docs/mesh.md).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RoutingSummary {
    /// Pair session keys paid by the pair's direct QKD link.
    pub session_keys_direct: u64,
    /// Pair session keys relayed over trusted nodes (one-time pad on every hop).
    pub session_keys_relayed: u64,
    /// Pair session keys from the ML-KEM-1024 fallback (no QKD path could pay).
    pub session_keys_fallback: u64,
    /// Relayed session keys by hop count: `relay_hops[h]` went over `h` hops.
    pub relay_hops: Vec<u64>,
    /// Mean hops of a relayed session key.
    pub relay_hops_mean: f64,
    /// QKD key each hop of a relay spends (bits): one session key.
    pub relay_key_bits_per_hop: u64,
    /// QKD key spent by all relays (bits): hops × bits per hop.
    pub relay_key_bits_consumed: u64,
    /// Route re-plannings run (a link changed mode, a node crashed, returned or was isolated).
    pub reconfigure_runs: u64,
    /// Those that changed a route (each an audit record `mesh:reconfigure`).
    pub reconfigurations: u64,
    /// Pair routes they changed.
    pub route_changes: u64,
    /// Shortest-path searches (re-plannings, and refreshes without a usable direct link).
    pub route_computations: u64,
    /// Wall-clock time those searches took (s, on the machine that ran): the cost of path
    /// computation. A timing, not reproduced by the seed ([`MeshSummary::reproducible`]).
    pub route_computation_s: f64,
    /// Wall-clock time of the re-plannings (s): their searches, comparing every pair's route
    /// and recording the changes (trace rows, audit record). A timing, as above.
    pub reconfigure_s: f64,
    /// Keys relayed through a node that was then compromised: revoked, or destroyed in
    /// distribution, and re-keyed over a new route.
    pub relayed_keys_revoked: u64,
    /// Rotations started while their pair was on another route than at the start (ms from
    /// the first attempt, against the scheduled promise).
    pub rerouted_rotations: RotationStats,
    /// Hub outages (crashes).
    pub hub_outages: u64,
    /// SOVEREIGN_MASTER rotations due while the hub was down, run when it returned.
    pub master_rotations_deferred: u64,
}

/// A compromise of the sovereign hub and its recovery: the six-step recovery isolates it and
/// revokes every key it shared (its SOVEREIGN_MASTER included); the operator re-provisions it
/// `recover_after` later with a new master that re-wraps every stored key; it rejoins with
/// fresh keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HubCompromiseSummary {
    /// When the hub was isolated (s).
    pub compromised_at_s: f64,
    /// Keys revoked because the hub shared them: its pair session keys, the group key, the
    /// NODE_IDENTITY keys, its AUDIT_SIGNING key and the SOVEREIGN_MASTER record (keys it had
    /// relayed are in `routing.relayed_keys_revoked`).
    pub keys_revoked: u64,
    /// Of those, SOVEREIGN_MASTER records (1).
    pub masters_revoked: u64,
    /// When the operator re-provisioned it (s), if within the run.
    pub reprovisioned_at_s: Option<f64>,
    /// Stored keys re-wrapped under the new SOVEREIGN_MASTER (archived ones included).
    pub keys_rewrapped: u64,
    /// When the last of the hub's channels and the group had a fresh ACTIVE key that includes
    /// the hub (s).
    pub recovered_at_s: Option<f64>,
    /// From the compromise to that (s).
    pub time_to_recovery_s: Option<f64>,
    /// From the re-provisioning to that (s): the rejoin's re-keying.
    pub rejoin_s: Option<f64>,
    /// The hub's channels still without such a key at the end of the run.
    pub channels_not_rejoined: u64,
}

/// The summary of a mesh run (`qecnet mesh --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeshSummary {
    /// Simulated time (s).
    pub duration_s: f64,
    /// Nodes including the hub.
    pub nodes: u64,
    /// Direct quantum links.
    pub links: u64,
    /// Pairs without a direct link (always relayed).
    pub relayed_pairs: u64,
    /// Secret bits produced by all links.
    pub key_delivered_bits: u64,
    /// Link-seconds in fallback.
    pub fallback_seconds_total: f64,
    /// Links that were ever in fallback.
    pub links_in_fallback_ever: u64,
    /// Rotations by kind.
    pub rotations: Rotations,
    /// Deadlines, attempts, and the failed distributions as the store records them.
    pub distribution: DistributionSummary,
    /// Revocation latency of compromises: every node told (ms); promise < 500 ms
    /// ([`EMERGENCY_REVOCATION_S`](crate::mesh::promises::EMERGENCY_REVOCATION_S)).
    pub revocation_ms: RotationStats,
    /// Key relay over trusted nodes and the mesh's reconfigurations.
    pub routing: RoutingSummary,
    /// Rotations with a participant down when an attempt was sent or failed (not in the
    /// latencies above: they wait for the restart and are retried with new material then).
    pub delayed_by_crash: u64,
    /// The longest of those from the first attempt (ms).
    pub delayed_by_crash_max_ms: f64,
    /// The longest of those from the successful attempt, after the restart (ms).
    pub delayed_by_crash_max_from_success_ms: f64,
    /// Attack episodes detected by the decision engine (first alarm of each).
    pub detections: u64,
    /// Mean delay from attack start to detection (s).
    pub detection_delay_s_mean: f64,
    /// Decision-engine alarms on honest links.
    pub false_alarms: u64,
    /// Honest link-windows watched by the decision engine (false alarms per window = ratio).
    pub honest_windows: u64,
    /// Refreshes the QKD buffer could not pay for.
    pub buffer_depletions: u64,
    /// Compromise recoveries run (six audited steps each).
    pub recoveries: u64,
    /// Of those, the ones the decision engine started (alarms on `escalate_links` links of a
    /// node within `escalate_within`).
    pub escalations: u64,
    /// Bound on false compromise signals per node and day of that rule (0 when it is off).
    pub escalation_false_signal_bound_per_node_day: f64,
    /// Uses the engine judged wrongly (must be 0): an allowed use refused, or a replaced key
    /// accepted after its overlap.
    pub key_use_violations: u64,
    /// Probes of replaced keys (decryption within and after the overlap).
    pub overlap_probes: u64,
    /// Decryptions with a replaced key after its overlap, refused by the engine as they must be.
    pub late_uses_refused: u64,
    /// SOVEREIGN_MASTER rotations (every stored key re-wrapped), one per master period.
    pub master_rotations: u64,
    /// Rotations of the other key types on their own periods (NODE_IDENTITY, AUDIT_SIGNING).
    pub other_key_rotations: u64,
    /// A compromise of the hub and its recovery (absent when the run had none).
    pub hub_compromise: Option<HubCompromiseSummary>,
    /// Audit records in the store.
    pub audit_records: u64,
    /// Events processed by the simulator.
    pub events: u64,
    /// Per link.
    pub per_link: Vec<MeshLinkSummary>,
}

impl MeshSummary {
    /// The summary without its wall-clock timings (`routing.route_computation_s`,
    /// `routing.reconfigure_s`, set to 0): what the same seed reproduces byte for byte.
    pub fn reproducible(&self) -> MeshSummary {
        let mut s = self.clone();
        s.routing = s.routing.reproducible();
        s
    }
}

impl RoutingSummary {
    /// The routing summary without its wall-clock timings (see [`MeshSummary::reproducible`]).
    pub fn reproducible(&self) -> RoutingSummary {
        RoutingSummary { route_computation_s: 0.0, reconfigure_s: 0.0, ..self.clone() }
    }
}
