//! The quantum channel: standard fibre with attenuation per km plus a fixed insertion loss.
//!
//! Each photon survives independently with the channel transmittance
//! `t = 10^(−(α·L + IL)/10)`, which turns a Poisson photon number of mean μ into a Poisson
//! number of mean `t·μ` (thinning).

use serde::{Deserialize, Serialize};

use crate::units::{InvalidParameter, check_non_negative, transmittance_from_db};

/// The largest total channel loss (dB): the transmittance `10^(−loss/10)` is then 1e-300,
/// still a normal double whose products with an efficiency and a mean photon number stay
/// representable; near 3080 dB it underflows, and a link beyond would silently carry nothing.
pub const MAX_LOSS_DB: f64 = 3000.0;

/// Fibre channel parameters (`[channel]` in a scenario file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Channel {
    /// Fibre length (km).
    pub length_km: f64,
    /// Fibre attenuation coefficient α (dB/km); 0.21 for the GYS link, 0.2 for modern fibre.
    pub attenuation_db_per_km: f64,
    /// Fixed loss of connectors, filters and Bob's optics before the detectors (dB).
    pub insertion_loss_db: f64,
}

impl Default for Channel {
    fn default() -> Self {
        Channel { length_km: 50.0, attenuation_db_per_km: 0.21, insertion_loss_db: 0.0 }
    }
}

impl Channel {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        check_non_negative("channel.length_km", self.length_km)?;
        check_non_negative("channel.attenuation_db_per_km", self.attenuation_db_per_km)?;
        check_non_negative("channel.insertion_loss_db", self.insertion_loss_db)?;
        if self.insertion_loss_db > MAX_LOSS_DB {
            return Err(InvalidParameter::new(
                "channel.insertion_loss_db",
                self.insertion_loss_db,
                format!("must be at most {MAX_LOSS_DB} dB (the transmittance 10^(−loss/10) underflows beyond)"),
            ));
        }
        if self.loss_db() > MAX_LOSS_DB {
            let max_km = (MAX_LOSS_DB - self.insertion_loss_db) / self.attenuation_db_per_km;
            return Err(InvalidParameter::new(
                "channel.length_km",
                self.length_km,
                format!(
                    "must be at most {max_km:.6} km at {} dB/km and {} dB insertion loss (a total loss above \
                     {MAX_LOSS_DB} dB underflows the transmittance 10^(−loss/10))",
                    self.attenuation_db_per_km, self.insertion_loss_db
                ),
            ));
        }
        Ok(())
    }

    /// Total loss (dB).
    pub fn loss_db(&self) -> f64 {
        self.attenuation_db_per_km * self.length_km + self.insertion_loss_db
    }

    /// Probability that one photon reaches Bob's detectors.
    pub fn transmittance(&self) -> f64 {
        transmittance_from_db(self.loss_db())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifty_km_of_gys_fibre() {
        let c = Channel::default();
        assert!((c.loss_db() - 10.5).abs() < 1e-12);
        assert!((c.transmittance() - 10f64.powf(-1.05)).abs() < 1e-15);
    }

    #[test]
    fn a_channel_whose_loss_underflows_the_transmittance_is_refused() {
        let at_limit = Channel { length_km: (MAX_LOSS_DB - 1.0) / 0.21, insertion_loss_db: 1.0, ..Channel::default() };
        at_limit.validate().unwrap();
        assert!(at_limit.transmittance() > 0.0 && (at_limit.transmittance() * 1e-3).is_normal());
        for km in [1e9, 1e308] {
            let e = Channel { length_km: km, ..Channel::default() }.validate().unwrap_err();
            assert_eq!(e.field, "channel.length_km");
            assert!(e.allowed.starts_with("must be at most 14285.714286 km at 0.21 dB/km"), "{e}");
        }
        let e = Channel { insertion_loss_db: 1e4, ..Channel::default() }.validate().unwrap_err();
        assert_eq!(e.field, "channel.insertion_loss_db");
    }

    #[test]
    fn negative_length_is_refused() {
        let c = Channel { length_km: -3.0, ..Channel::default() };
        assert_eq!(c.validate().unwrap_err().to_string(), "channel.length_km = -3: must be finite and >= 0");
    }
}
