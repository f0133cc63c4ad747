//! Post-processing settings (`[postprocess]` in a scenario file).

use serde::{Deserialize, Serialize};

use crate::postprocess::estimation::{BasisCounts, Lim2014};
use crate::units::{InvalidParameter, check_positive};

/// Shortest allowed Cascade frame, in bits: frames hold many top-level blocks even at 0.5 % QBER.
pub const MIN_CASCADE_FRAME_BITS: u64 = 4_096;

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
    /// Secrecy parameter ε_sec of the finite-key analysis (ignored when
    /// `epsilon_sec_per_bit` is set).
    pub epsilon_sec: f64,
    /// κ of Lim et al. 2014, Sec. IV: when set, the secrecy is proportional to the key length,
    /// `ε_sec = κ·ℓ` (the paper uses κ = 1e-15), solved self-consistently with ℓ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epsilon_sec_per_bit: Option<f64>,
    /// Correctness parameter ε_cor (collision probability of verification).
    pub epsilon_cor: f64,
    /// Key-basis detections per block, n_X of the finite-key analysis.
    #[serde(deserialize_with = "crate::units::deserialize_count")]
    pub block_size: u64,
    /// Security analysis.
    pub security: Security,
    /// Longest Cascade frame, in bits: a longer block is reconciled in near-equal frames of at
    /// most about this many bits, each its own Cascade run (`pipeline::reconcile_in_frames`).
    #[serde(deserialize_with = "crate::units::deserialize_count")]
    pub cascade_frame_bits: u64,
}

impl Default for PostprocessSettings {
    /// f_EC = 1.16 and ε_cor = 1e-15 as in Lim et al. 2014's simulations, and a fixed
    /// ε_sec = 1e-10 (the paper instead scales the secrecy with the key length, ε_sec = κ·ℓ
    /// with κ = 1e-15: set `epsilon_sec_per_bit` for that), blocks of n_X = 10⁶, Cascade frames
    /// of at most 10⁶ bits (so a block of the default size is one frame).
    fn default() -> Self {
        PostprocessSettings {
            error_correction_efficiency: 1.16,
            epsilon_sec: 1e-10,
            epsilon_sec_per_bit: None,
            epsilon_cor: 1e-15,
            block_size: 1_000_000,
            security: Security::Finite,
            cascade_frame_bits: 1_000_000,
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
        if let Some(kappa) = self.epsilon_sec_per_bit
            && !(kappa > 0.0 && kappa * self.block_size as f64 <= 0.5)
        {
            return Err(InvalidParameter::new(
                "postprocess.epsilon_sec_per_bit",
                kappa,
                format!("must be > 0 with κ·block_size <= 0.5 (block_size = {})", self.block_size),
            ));
        }
        if self.block_size == 0 {
            return Err(InvalidParameter::new("postprocess.block_size", 0, "must be at least 1"));
        }
        if self.cascade_frame_bits < MIN_CASCADE_FRAME_BITS {
            return Err(InvalidParameter::new(
                "postprocess.cascade_frame_bits",
                self.cascade_frame_bits,
                format!("must be at least {MIN_CASCADE_FRAME_BITS}"),
            ));
        }
        Ok(())
    }

    /// The finite-key bound of Lim et al. 2014 with these settings' secrecy: `lim` evaluated at
    /// the fixed `epsilon_sec`, or, with `epsilon_sec_per_bit` = κ, at `ε_sec = κ·ℓ` solved
    /// self-consistently with ℓ ([`Lim2014::key_length_per_bit`]). Returns (ℓ, ε_sec used).
    pub fn lim_key_length(&self, lim: &Lim2014, key: &BasisCounts, test: &BasisCounts, leak_ec: f64) -> (f64, f64) {
        match self.epsilon_sec_per_bit {
            None => {
                let lim = Lim2014 { epsilon_sec: self.epsilon_sec, ..*lim };
                (lim.key_length(key, test, leak_ec, self.epsilon_cor), self.epsilon_sec)
            }
            Some(kappa) => lim.key_length_per_bit(key, test, leak_ec, self.epsilon_cor, kappa),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cascade_frame_below_the_minimum_is_refused_naming_the_field() {
        let short = PostprocessSettings { cascade_frame_bits: MIN_CASCADE_FRAME_BITS - 1, ..Default::default() };
        let error = short.validate().unwrap_err().to_string();
        assert!(error.contains("postprocess.cascade_frame_bits"), "{error}");
        let shortest = PostprocessSettings { cascade_frame_bits: MIN_CASCADE_FRAME_BITS, ..Default::default() };
        assert!(shortest.validate().is_ok());
    }

    #[test]
    fn the_cascade_frame_reads_from_toml_as_a_count() {
        let s: PostprocessSettings = toml::from_str("cascade_frame_bits = 2e6").unwrap();
        assert_eq!(s.cascade_frame_bits, 2_000_000);
        assert_eq!(s.block_size, PostprocessSettings::default().block_size);
    }
}
