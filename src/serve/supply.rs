//! Where the KMEs' key bytes come from: the [`KeySupply`] trait (the route between two nodes
//! now; take N bytes over it; say whether they are QKD, relayed or post-quantum fallback key;
//! how many are stored). The live mesh implements it (`LiveSupply`).

use super::directory::Route;
use crate::crypto::SecretBytes;

/// Where a delivered key's bytes came from (the `source` of its container entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The direct QKD link's key buffer.
    Qkd,
    /// Relayed through the hub, consuming key on every hop.
    Relay,
    /// Derived from the X25519 + ML-KEM-1024 hybrid exchange while the link is in fallback.
    PqcFallback,
}

impl KeySource {
    /// Every source.
    pub const ALL: [KeySource; 3] = [KeySource::Qkd, KeySource::Relay, KeySource::PqcFallback];

    /// The source named `name` (as [`KeySource::as_str`] gives it).
    pub fn from_name(name: &str) -> Option<KeySource> {
        KeySource::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The name used in the API (`qkd`, `relay`, `pqc-fallback`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeySource::Qkd => "qkd",
            KeySource::Relay => "relay",
            KeySource::PqcFallback => "pqc-fallback",
        }
    }
}

/// Key taken for a route: the bytes both ends now hold, and their source.
pub struct SuppliedKey {
    /// The key bytes (zeroized on drop).
    pub material: SecretBytes,
    /// Where they came from.
    pub source: KeySource,
}

/// What a KME reports about a route in its status extension.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteView {
    /// `qkd` or `fallback`.
    pub mode: &'static str,
    /// The link's latest QBER, where one is measured.
    pub qber: Option<f64>,
    /// The link's secret key rate (bit/s), where one is measured.
    pub key_rate_bps: Option<f64>,
}

/// Why no key could be had.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SupplyError {
    /// Fewer bytes stored than asked for.
    #[error("not enough key stored on {link}: {stored} bytes, {wanted} asked for")]
    Exhausted {
        /// The link short of key.
        link: String,
        /// Bytes stored.
        stored: u64,
        /// Bytes asked for.
        wanted: u64,
    },
    /// The route names a link the supply does not have.
    #[error("no key buffer for link {0}")]
    UnknownLink(String),
    /// The operating system's generator failed.
    #[error("operating-system entropy: {0}")]
    Entropy(String),
    /// No path at all between the two nodes.
    #[error("no path from {from} to {to}")]
    NoPath {
        /// One end.
        from: String,
        /// The other end.
        to: String,
    },
    /// An end is isolated after a compromise: its SAEs are cut off.
    #[error("node {0} is isolated (compromised): its SAEs are cut off")]
    Isolated(String),
    /// An end has crashed and is not back yet.
    #[error("node {0} is down")]
    Down(String),
    /// The hybrid exchange of the fallback failed.
    #[error("the ML-KEM-1024 fallback exchange failed: {0}")]
    Fallback(String),
}

/// A source of key for the KMEs. Implementations are shared by every KME's connections.
pub trait KeySupply: Send + Sync {
    /// The route key of `bytes` bytes between nodes `a` and `b` takes now.
    fn route(&self, a: &str, b: &str, bytes: usize) -> Result<Route, SupplyError>;
    /// The nodes isolated after a compromise now: their SAEs are cut off.
    fn isolated_nodes(&self) -> Vec<String>;
    /// Whether `node` is isolated after a compromise now (per request; no allocation).
    fn is_isolated(&self, node: &str) -> bool;
    /// Takes `bytes` bytes of key for `route`, all or none; both ends hold the same bytes.
    fn take(&self, route: &Route, bytes: usize) -> Result<SuppliedKey, SupplyError>;
    /// Bytes of key stored for `route` now (the least over its hops).
    fn stored_bytes(&self, route: &Route) -> u64;
    /// The most bytes `route` can store (the least over its hops).
    fn capacity_bytes(&self, route: &Route) -> u64;
    /// Mode, QBER and key rate for the status extension.
    fn view(&self, route: &Route) -> RouteView;
    /// Switches of `link` from QKD to fallback so far (0 for an unknown link).
    fn fallback_switches(&self, link: &str) -> u64;
    /// The mesh's rotations converged so far, per kind (scheduled, triggered, emergency).
    fn rotations(&self) -> [(&'static str, u64); 3];
}
