//! The photon-level BB84 link: physics models and the engines that simulate them.
//!
//! - [`source`]: weak coherent pulses with signal/decoy/vacuum intensities and basis bias;
//! - [`channel`]: fibre attenuation and insertion loss;
//! - [`eve`]: intercept-resend, photon-number splitting, depolarising noise;
//! - [`detector`]: Bob's detectors with efficiency, dark counts, afterpulsing, dead time and
//!   misalignment;
//! - [`receiver`]: the active (two detectors) and passive (four detectors) basis choice, and
//!   the exact click-pattern statistics of one gate;
//! - [`analytic`]: the expected gains and error rates of that model, and the literature's
//!   closed forms;
//! - [`link`]: the scenario, the `pulse`, `event` and `block` engines, sifting and the QBER
//!   stream.

pub mod analytic;
pub mod channel;
pub mod detector;
pub mod eve;
pub mod link;
pub mod receiver;
pub mod source;

pub use channel::Channel;
pub use detector::Detector;
pub use eve::Eve;
pub use link::{Detection, LinkConfig, LinkEngine, LinkModel, LinkObserver, LinkRun, Simulation, simulate_link};
pub use receiver::Receiver;
pub use source::{Basis, IntensityClass, Source};
