//! Post-processing: from sifted key to secret key.
//!
//! - [`estimation`]: decoy-state bounds (vacuum + weak, asymptotic; Lim et al. 2014 finite
//!   size) and QBER sampling;
//! - [`keyrate`]: binary entropy, Shor–Preskill, GLLP, decoy-state and finite-key rates, the
//!   intensity optimiser and the maximum distance;
//! - [`settings`]: the `[postprocess]` section of a scenario.

pub mod estimation;
pub mod keyrate;
pub mod settings;

pub use keyrate::{KeyRate, KeyRateModel, binary_entropy, key_rate};
pub use settings::{PostprocessSettings, Security};
