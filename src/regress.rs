//! The key-rate regression gate: reference points of the link simulator, each run with a few
//! replicates, whose figures (key rate, QBER, gains, detections) are compared with a committed
//! baseline. A figure whose replicate mean moves by more than the tolerance, in standard
//! deviations of the difference of two means, fails the gate and is named with its deviation.
//! Updating the baseline is an explicit command that rewrites the file, so a change to the
//! physics shows up in review.

use std::collections::BTreeMap;
use std::path::Path;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::config::apply_override;
use crate::link_scenario::LinkScenario;
use crate::sweep::figure_names::LINK_FIGURES;
use crate::sweep::figures::link_figures;
use crate::{Error, Result};

/// The figures the gate watches.
pub const WATCHED: &[&str] =
    &["detections", "qber", "signal_gain", "decoy_gain", "vacuum_gain", "key_rate_vacuum_weak_per_pulse"];

/// Mean and standard deviation of a figure over the replicates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Mean over replicates.
    pub mean: f64,
    /// Sample standard deviation over replicates.
    pub std: f64,
}

/// One reference point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferencePoint {
    /// A name for messages.
    pub name: String,
    /// Overrides of the default scenario (the GYS link).
    pub set: Vec<String>,
    /// Watched figures (filled by `--update`).
    #[serde(default)]
    pub figures: BTreeMap<String, Stat>,
}

/// The baseline file (`datasets/baselines/link-keyrate.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Seed of the replicates.
    pub seed: u64,
    /// Replicates per point.
    pub replicates: u32,
    /// Allowed deviation, in standard deviations of the difference of the means.
    pub tolerance_sigma: f64,
    /// The points.
    pub points: Vec<ReferencePoint>,
}

/// A figure outside its tolerance.
#[derive(Debug, Clone, PartialEq)]
pub struct Deviation {
    /// Point name.
    pub point: String,
    /// Figure name.
    pub figure: String,
    /// Baseline mean.
    pub baseline: f64,
    /// New mean.
    pub measured: f64,
    /// Deviation in standard deviations.
    pub sigmas: f64,
}

impl Baseline {
    /// Reads a baseline file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))
    }

    /// Recomputes every point's figures.
    pub fn measure(&self) -> Result<Vec<BTreeMap<String, Stat>>> {
        self.points.iter().enumerate().map(|(i, p)| self.measure_point(i as u64, p)).collect()
    }

    fn measure_point(&self, index: u64, point: &ReferencePoint) -> Result<BTreeMap<String, Stat>> {
        let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in 0..self.replicates {
            let mut value = toml::Value::try_from(LinkScenario::default()).expect("a scenario serialises");
            for item in &point.set {
                apply_override(&mut value, item)?;
            }
            let seed = crate::rng::derive_rng(self.seed, &[index, r as u64]).next_u64() >> 1;
            apply_override(&mut value, &format!("simulation.seed={seed}"))?;
            let scenario: LinkScenario = value.try_into().map_err(|e: toml::de::Error| Error::Usage(e.to_string()))?;
            let figures = link_figures(&scenario).map_err(|e| Error::Usage(format!("{}: {e}", point.name)))?;
            for name in WATCHED {
                let i = LINK_FIGURES.iter().position(|f| f == name).expect("watched figures exist");
                samples.entry(name.to_string()).or_default().push(figures[i].parse().unwrap_or(f64::NAN));
            }
        }
        Ok(samples
            .into_iter()
            .map(|(name, xs)| {
                let n = xs.len() as f64;
                let mean = xs.iter().sum::<f64>() / n;
                let std = if xs.len() > 1 {
                    (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
                } else {
                    0.0
                };
                (name, Stat { mean, std })
            })
            .collect())
    }

    /// The figures of `measured` that deviate from the baseline by more than the tolerance:
    /// `|m_new − m_base| / sqrt((s_new² + s_base²)/R)`. A figure with no spread in either run
    /// must match exactly.
    pub fn compare(&self, measured: &[BTreeMap<String, Stat>]) -> Vec<Deviation> {
        let r = self.replicates as f64;
        let mut out = Vec::new();
        for (point, now) in self.points.iter().zip(measured) {
            for (name, base) in &point.figures {
                let Some(new) = now.get(name) else { continue };
                let sd = ((new.std.powi(2) + base.std.powi(2)) / r).sqrt();
                let diff = (new.mean - base.mean).abs();
                let sigmas = if sd > 0.0 {
                    diff / sd
                } else if diff == 0.0 {
                    0.0
                } else {
                    f64::INFINITY
                };
                if sigmas > self.tolerance_sigma || sigmas.is_nan() {
                    out.push(Deviation {
                        point: point.name.clone(),
                        figure: name.clone(),
                        baseline: base.mean,
                        measured: new.mean,
                        sigmas,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline(mean: f64, std: f64) -> Baseline {
        let mut figures = BTreeMap::new();
        figures.insert("qber".to_string(), Stat { mean, std });
        Baseline {
            seed: 1,
            replicates: 4,
            tolerance_sigma: 5.0,
            points: vec![ReferencePoint { name: "p".into(), set: vec![], figures }],
        }
    }

    #[test]
    fn a_shift_beyond_the_tolerance_is_named_with_its_deviation() {
        let b = baseline(0.0330, 0.0002);
        // σ of the difference of means: sqrt(2·0.0002²/4) = 1.414e-4.
        let within = BTreeMap::from([("qber".to_string(), Stat { mean: 0.0330 + 6e-4, std: 0.0002 })]);
        assert!(b.compare(&[within]).is_empty());
        let beyond = BTreeMap::from([("qber".to_string(), Stat { mean: 0.0330 + 8e-4, std: 0.0002 })]);
        let d = b.compare(&[beyond]);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].point.as_str(), d[0].figure.as_str()), ("p", "qber"));
        assert!((d[0].sigmas - 8e-4 / (2.0 * 0.0002f64.powi(2) / 4.0).sqrt()).abs() < 1e-9);
    }

    #[test]
    fn figures_without_spread_must_match_exactly() {
        let b = baseline(5.0, 0.0);
        assert!(b.compare(&[BTreeMap::from([("qber".to_string(), Stat { mean: 5.0, std: 0.0 })])]).is_empty());
        assert_eq!(b.compare(&[BTreeMap::from([("qber".to_string(), Stat { mean: 5.5, std: 0.0 })])]).len(), 1);
    }
}
