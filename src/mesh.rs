//! The QKD mesh: a discrete-event simulation of links whose key and QBER come from the
//! photon-level model, watched by the channel monitor and the decision engine.
//!
//! - [`des`]: the event queue on integer-nanosecond simulated time;
//! - [`error`]: [`MeshError`], why a run was refused or stopped;
//! - [`topology`]: hub, nodes, links (full mesh, explicit, or from coordinates), hub relays;
//! - [`monitor`]: the QBER threshold / minimum rate with hysteresis, and the CUSUM decision
//!   engine;
//! - [`promises`]: the spec's latency promises for rotation and revocation.

pub mod des;
pub mod error;
pub mod escalation;
pub mod link;
pub mod monitor;
pub mod promises;
pub mod scenario;
pub mod sim;
pub mod summary;
pub mod topology;

pub use error::MeshError;
