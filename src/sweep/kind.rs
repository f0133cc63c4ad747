//! What each point of a sweep computes: the sweep's kind.

use serde::{Deserialize, Serialize};

/// What each point of a sweep computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SweepKind {
    /// Simulate the link (the scenario's engine and pulses) and report measured figures.
    Link,
    /// Evaluate analytic key rates.
    Keyrate,
    /// Run a mesh scenario (base: a mesh scenario) and report its summary figures.
    Mesh,
    /// The decision engine alone on the first link of a mesh scenario: false-alarm rate on
    /// honest windows, detection probability and delay under `link_defaults.eve`.
    Decision,
}

impl SweepKind {
    /// Whether points are mesh scenarios (else link scenarios).
    pub fn uses_mesh(self) -> bool {
        matches!(self, SweepKind::Mesh | SweepKind::Decision)
    }
}
