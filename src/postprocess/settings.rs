//! Post-processing settings (`[postprocess]` in a scenario file).

use serde::{Deserialize, Serialize};

use crate::units::{InvalidParameter, check_positive};

/// Which security analysis sets the secret key length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Infinite-key decoy-state rate (vacuum + weak decoy bounds).
    Asymptotic,
    /// Finite-key length of Lim et al. 2014.
    #[default]
    Finite,
}

/// Parameters of reconciliation, verification, privacy amplification and security.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostprocessSettings {
    /// Error-correction inefficiency f_EC ≥ 1 used by the analytic key rates (leak = f·n·h(E)).
    pub error_correction_efficiency: f64,
    /// Secrecy parameter ε_sec of the finite-key analysis.
    pub epsilon_sec: f64,
    /// Correctness parameter ε_cor (collision probability of verification).
    pub epsilon_cor: f64,
    /// Key-basis detections per block, n_X of the finite-key analysis.
    #[serde(deserialize_with = "crate::units::deserialize_count")]
    pub block_size: u64,
    /// Security analysis.
    pub security: Security,
}

impl Default for PostprocessSettings {
    /// The values of Lim et al. 2014's simulations: f_EC = 1.16, ε_cor = 1e-15, ε_sec = 1e-10.
    fn default() -> Self {
        PostprocessSettings {
            error_correction_efficiency: 1.16,
            epsilon_sec: 1e-10,
            epsilon_cor: 1e-15,
            block_size: 1_000_000,
            security: Security::Finite,
        }
    }
}

impl PostprocessSettings {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        check_positive("postprocess.error_correction_efficiency", self.error_correction_efficiency)?;
        if self.error_correction_efficiency < 1.0 {
            return Err(InvalidParameter::new(
                "postprocess.error_correction_efficiency",
                self.error_correction_efficiency,
                "must be >= 1 (no code beats the Shannon limit)",
            ));
        }
        for (field, value) in
            [("postprocess.epsilon_sec", self.epsilon_sec), ("postprocess.epsilon_cor", self.epsilon_cor)]
        {
            if !(value > 0.0 && value < 1.0) {
                return Err(InvalidParameter::new(field, value, "must be in (0, 1)"));
            }
        }
        if self.block_size == 0 {
            return Err(InvalidParameter::new("postprocess.block_size", 0, "must be at least 1"));
        }
        Ok(())
    }
}
