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
pub(crate) mod channel;
pub(crate) mod detector;
pub(crate) mod eve;
pub(crate) mod link;
pub(crate) mod receiver;
pub(crate) mod source;

pub use channel::{Channel, MAX_LOSS_DB};
pub use detector::{AfterpulseModel, DarkCounts, Detector, DetectorMemory};
pub use eve::{Arrival, Eve, EveAction, PhotonPaths};
pub use link::{
    BasisChoice, BlockSampler, Branch, BranchTable, ClassSummary, Detection, LinkConfig, LinkEngine, LinkExpectation,
    LinkModel, LinkObserver, LinkRun, LinkSummary, PerBasis, QberBlock, QberStream, ReceiverState, SiftedKey, Sifter,
    Simulation, SourcePhotons, Totals, ratio, simulate_link, write_qber_stream_csv,
};
pub use receiver::{ClickKind, Clicks, GateOutcomes, Receiver, ReceiverModel};
pub use source::{Basis, IntensityClass, MAX_INTENSITY, MAX_PHOTONS, Source, poisson_photon_numbers};
