//! The photon-level BB84 link: physics models and the engines that simulate them.
//!
//! - [`source`]: weak coherent pulses with signal/decoy/vacuum intensities and basis bias;
//! - [`channel`]: fibre attenuation and insertion loss;
//! - [`eve`]: intercept-resend, photon-number splitting, depolarising noise;
//! - [`detector`]: Bob's two-detector receiver with efficiency, dark counts, afterpulsing,
//!   dead time and misalignment;
//! - [`analytic`]: the expected gains and error rates of that model, and the literature's
//!   closed forms;
//! - [`link`]: the scenario, the `pulse` and `event` engines, sifting and the QBER stream.

pub mod analytic;
pub mod channel;
pub mod detector;
pub mod eve;
pub mod link;
pub mod source;

pub use channel::Channel;
pub use detector::Detector;
pub use eve::Eve;
pub use link::{Detection, Engine, LinkConfig, LinkModel, LinkObserver, LinkRun, Simulation, simulate_link};
pub use source::{Basis, IntensityClass, Source};
