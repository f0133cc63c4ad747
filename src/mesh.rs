//! The QKD mesh: a discrete-event simulation of links whose key and QBER come from the
//! photon-level model, watched by the channel monitor and the decision engine, driving the real
//! key-lifecycle engine.
//!
//! - [`scenario`]: mesh scenario files (`sims/mesh-*.toml`): nodes, links, monitor,
//!   post-processing, messages and the run's events;
//! - [`topology`]: hub, nodes, links (full mesh, explicit, or from coordinates), hub relays;
//! - [`link`]: one QKD link on the block rung: windows, buffer, finite-key blocks;
//! - [`monitor`]: the QBER threshold / minimum rate with hysteresis, and the CUSUM decision
//!   engine;
//! - [`escalation`]: CUSUM alarms on several links of one node validate its compromise;
//! - [`des`]: the event queue on integer-nanosecond simulated time;
//! - [`sim`]: the run itself (events, link windows, channels and refresh, the ML-KEM
//!   fallback, messages and receipts, incidents, statistics, CSV outputs);
//! - [`summary`]: what a run reports;
//! - [`promises`]: the spec's latency promises for rotation and revocation;
//! - [`error`]: [`MeshError`], why a run was refused or stopped.

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
