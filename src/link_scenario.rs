//! A scenario file: the link's physics and simulation settings plus post-processing settings.
//! Every section is optional and defaults to the GYS link of Ma, Qi, Zhao, Lo (2005) at 50 km
//! with the post-processing parameters of Lim et al. (2014).

use serde::{Deserialize, Serialize};

use crate::photonics::{Channel, Detector, Eve, LinkConfig, Simulation, Source};
use crate::postprocess::PostprocessSettings;
use crate::units::InvalidParameter;

/// A link scenario (`sims/link-*.toml`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkScenario {
    /// Alice's source.
    pub source: Source,
    /// The fibre.
    pub channel: Channel,
    /// Bob's receiver.
    pub detector: Detector,
    /// The eavesdropper.
    pub eve: Eve,
    /// Run settings.
    pub simulation: Simulation,
    /// Post-processing settings.
    pub postprocess: PostprocessSettings,
}

impl LinkScenario {
    /// The link part.
    pub fn link(&self) -> LinkConfig {
        LinkConfig {
            source: self.source.clone(),
            channel: self.channel.clone(),
            detector: self.detector.clone(),
            eve: self.eve.clone(),
            simulation: self.simulation.clone(),
        }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        self.link().validate()?;
        self.postprocess.validate()
    }
}
