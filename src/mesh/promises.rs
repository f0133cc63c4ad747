//! The spec's latency promises for key rotation in the mesh (the key-management spec's
//! "Rotation Protocols"), against which a run's convergence latencies are judged.
//!
//! Each is an upper bound in seconds, met when a run's maximum stays strictly below it.

/// Scheduled (timer-driven) rotation: total mesh convergence below 5 s.
pub const SCHEDULED_ROTATION_S: f64 = 5.0;

/// Triggered rotation (an anomaly or an operator's command): total mesh convergence below 2 s.
pub const TRIGGERED_ROTATION_S: f64 = 2.0;

/// Emergency rotation after a compromise: every other node told of the revocation within
/// 500 ms.
pub const EMERGENCY_REVOCATION_S: f64 = 0.5;

/// Emergency rotation after a compromise: the mesh re-keyed (the recovery's RE-KEY step
/// converged) below 3 s.
pub const EMERGENCY_REKEY_S: f64 = 3.0;

/// Milliseconds per second, for the promises in the summary's milliseconds.
pub const MS_PER_S: f64 = 1e3;
