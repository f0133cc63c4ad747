//! What happens in a mesh run: the simulator's events, and the kinds of rotation whose
//! convergence latencies it measures.

use super::channels::Channel;
use crate::lifecycle::KeyId;
use crate::units::SimTime;

/// An event on the simulator's queue.
#[derive(Debug)]
pub(super) enum SimEvent {
    /// The end of a monitoring window of link `.0`.
    Window(usize),
    /// The scheduled refresh of a channel's session key.
    Refresh(Channel),
    /// `node`'s receipt for `key` reaches the hub; the key reached `node` at `at_node`.
    Receipt { key: KeyId, node: String, at_node: SimTime },
    /// The deadline of the distribution of `key`: unless every receipt is in, it fails.
    DistributionDeadline { key: KeyId },
    /// Scenario event `.0` starts.
    Start(usize),
    /// Scenario event `.0` ends.
    End(usize),
    /// Crashed node `.0` is up again.
    Restart(usize),
    /// The operator re-provisions compromised node `.0` (the hub: a new SOVEREIGN_MASTER).
    Reprovision(usize),
    /// The engine's periodic tick (expiries), once per window.
    Tick,
    /// Rotate the key types with their own periods (NODE_IDENTITY, AUDIT_SIGNING...) that are due.
    KeyTypes,
    /// The operator supplies a new SOVEREIGN_MASTER (every key is re-wrapped).
    MasterRotation,
    /// Use a replaced key for decryption: `within` its overlap (must be allowed) or after it
    /// (must be refused).
    OverlapProbe { key: KeyId, within: bool, channel: Channel, activations: u64 },
}

/// Why a key is distributed; each kind of rotation has its own latency promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RotationKind {
    /// Timer-driven (the refresh interval, or a key type's own period).
    Scheduled,
    /// Started by a CUSUM alarm or an operator's command.
    Triggered,
    /// Re-keying after a compromise.
    Emergency,
    /// A first key (node identities at the start): not a rotation.
    Setup,
}

impl RotationKind {
    /// How many kinds there are (the length of a per-kind table).
    pub(super) const COUNT: usize = 4;

    /// The kind's place in a per-kind table.
    pub(super) fn index(self) -> usize {
        match self {
            RotationKind::Scheduled => 0,
            RotationKind::Triggered => 1,
            RotationKind::Emergency => 2,
            RotationKind::Setup => 3,
        }
    }

    /// The kind as written in the rotations CSV.
    pub(super) fn name(self) -> &'static str {
        match self {
            RotationKind::Scheduled => "scheduled",
            RotationKind::Triggered => "triggered",
            RotationKind::Emergency => "emergency",
            RotationKind::Setup => "setup",
        }
    }
}
