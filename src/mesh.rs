//! The QKD mesh: a discrete-event simulation of links whose key and QBER come from the
//! photon-level model, watched by the channel monitor and the decision engine, driving the real
//! key-lifecycle engine.
//!
//! - [`scenario`]: mesh scenario files (`sims/mesh-*.toml`): nodes, links, monitor,
//!   post-processing, messages and the run's events;
//! - [`validated`]: a scenario checked once, with its resolved topology;
//! - [`topology`]: hub, nodes, links (full mesh, explicit, or from coordinates), the pairs
//!   without a direct link;
//! - [`routing`]: the shortest trusted-node relay path (hops, then latency);
//! - [`link`]: one QKD link on the block rung: windows, buffer, finite-key blocks;
//! - [`monitor`]: the QBER threshold / minimum rate with hysteresis, and the CUSUM decision
//!   engine;
//! - [`escalation`]: CUSUM alarms on several links of one node validate its compromise;
//! - [`des`]: the event queue on integer-nanosecond simulated time;
//! - [`sim`]: the run itself (events, link windows, channels and refresh, the ML-KEM
//!   fallback, messages and receipts, incidents, reconfiguration, statistics, CSV outputs);
//! - [`summary`]: what a run reports;
//! - [`promises`]: the spec's latency promises for rotation and revocation;
//! - [`error`]: [`MeshError`], why a run was refused or stopped.

pub(crate) mod des;
pub(crate) mod error;
pub(crate) mod escalation;
pub(crate) mod link;
pub(crate) mod monitor;
pub(crate) mod promises;
pub(crate) mod routing;
pub(crate) mod scenario;
pub(crate) mod sim;
pub(crate) mod summary;
pub(crate) mod topology;
pub(crate) mod validated;

pub use des::{EventQueue, PastSchedule};
pub use error::MeshError;
pub use escalation::{CompromiseDetector, MAX_FALSE_SIGNALS_PER_NODE_DAY, false_signal_bound_per_node_day};
pub use link::{LinkProgress, QkdLink, WindowStats};
pub use monitor::{Cusum, LinkMode, ModeChange, MonitorSettings, ThresholdMonitor};
pub use promises::{EMERGENCY_REKEY_S, EMERGENCY_REVOCATION_S, SCHEDULED_ROTATION_S, TRIGGERED_ROTATION_S};
pub use routing::{Graph, PathCost, Route};
pub use scenario::{
    Attack, EventKind, EventSpec, MAX_DISTRIBUTION_ATTEMPTS, MAX_DURATION_S, MeshScenario, MeshSettings,
    MessageSettings, RotationSettings, check_event,
};
pub use sim::{LiveLink, LiveMesh, LiveNode, MeshOutputs, MeshSnapshot, run_mesh, run_mesh_until, run_validated_mesh};
pub use summary::{
    DistributionSummary, HubCompromiseSummary, Latency, MeshLinkSummary, MeshSummary, RotationStats, Rotations,
    RoutingSummary,
};
pub use topology::{Link, LinkSpec, MAX_COORDINATE_KM, MAX_ROUTE_FACTOR, NodeSpec, Topology, TopologySettings};
pub use validated::ValidatedScenario;
