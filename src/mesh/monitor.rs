//! Channel verification: the hard QBER threshold and minimum key rate with hysteresis, which
//! move a link to the ML-KEM-1024 fallback and back, and the decision engine, a CUSUM test on
//! the per-block error counts that detects eavesdropping before the hard threshold.

use serde::{Deserialize, Serialize};

use crate::photonics::LinkConfig;
use crate::photonics::link::LinkExpectation;
use crate::units::{InvalidParameter, check_positive, check_probability};

/// Monitor settings (`[monitor]` in a mesh scenario).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorSettings {
    /// QBER at or above which a link falls back (the BB84 limit of the spec: 11 %).
    pub qber_threshold: f64,
    /// Secret key rate below which a link falls back (bits/s; the spec: 1 kbps).
    pub min_key_rate_bps: f64,
    /// A link returns from fallback once its QBER is below `qber_threshold − qber_hysteresis`
    /// and its rate above `min_key_rate_bps · (1 + rate_hysteresis)` ...
    pub qber_hysteresis: f64,
    /// ... (relative rate margin) ...
    pub rate_hysteresis: f64,
    /// ... for this many consecutive windows.
    pub recovery_windows: u32,
    /// Whether the CUSUM decision engine runs.
    pub decision_engine: bool,
    /// QBER increase the CUSUM is tuned to detect (absolute, e.g. 0.02).
    pub cusum_shift: f64,
    /// Bound on the CUSUM's false-alarm probability per block (e.g. 1e-6).
    pub cusum_false_alarm_per_block: f64,
    /// Decision-engine alarms on this many distinct links of one node within
    /// `escalate_within` validate a compromise of the node and start the six-step recovery
    /// (0: never; compromises then come from scenario events only). See
    /// [`crate::mesh::escalation`].
    pub escalate_links: u32,
    /// The span within which those alarms must fall (s).
    #[serde(deserialize_with = "crate::units::deserialize_duration_s", rename = "escalate_within")]
    pub escalate_within_s: f64,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        MonitorSettings {
            qber_threshold: crate::lifecycle::QBER_THRESHOLD,
            min_key_rate_bps: 1000.0,
            qber_hysteresis: 0.01,
            rate_hysteresis: 0.1,
            recovery_windows: 2,
            decision_engine: true,
            cusum_shift: 0.02,
            cusum_false_alarm_per_block: 1e-6,
            escalate_links: 0,
            escalate_within_s: 300.0,
        }
    }
}

impl MonitorSettings {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        if !(self.qber_threshold > 0.0 && self.qber_threshold < 0.5) {
            return Err(InvalidParameter::new(
                "monitor.qber_threshold",
                self.qber_threshold,
                "must be in (0, 0.5) (at 0 every window falls back, at 50 % the key is random)",
            ));
        }
        if !(self.min_key_rate_bps >= 0.0 && self.min_key_rate_bps.is_finite()) {
            return Err(InvalidParameter::new(
                "monitor.min_key_rate_bps",
                self.min_key_rate_bps,
                "must be finite and >= 0",
            ));
        }
        check_probability("monitor.qber_hysteresis", self.qber_hysteresis)?;
        check_probability("monitor.rate_hysteresis", self.rate_hysteresis)?;
        check_positive("monitor.cusum_shift", self.cusum_shift)?;
        check_probability("monitor.cusum_false_alarm_per_block", self.cusum_false_alarm_per_block)?;
        if self.cusum_false_alarm_per_block == 0.0 {
            return Err(InvalidParameter::new("monitor.cusum_false_alarm_per_block", 0, "must be > 0"));
        }
        if self.escalate_links > 0 && !self.decision_engine {
            return Err(InvalidParameter::new(
                "monitor.escalate_links",
                self.escalate_links,
                "needs monitor.decision_engine = true (escalation counts its alarms)",
            ));
        }
        check_positive("monitor.escalate_within", self.escalate_within_s)?;
        Ok(())
    }
}

/// Whether a link runs on QKD key or on the fallback exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkMode {
    /// QKD key.
    Qkd,
    /// ML-KEM-1024 hybrid exchange.
    Fallback,
}

/// A change of mode, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct ModeChange {
    /// The new mode.
    pub mode: LinkMode,
    /// Why (names the figure and the limit).
    pub reason: String,
}

/// The hard threshold with hysteresis for one link.
#[derive(Debug, Clone)]
pub struct ThresholdMonitor {
    settings: MonitorSettings,
    mode: LinkMode,
    good_windows: u32,
}

impl ThresholdMonitor {
    /// A monitor starting in QKD mode.
    pub fn new(settings: &MonitorSettings) -> Self {
        ThresholdMonitor { settings: settings.clone(), mode: LinkMode::Qkd, good_windows: 0 }
    }

    /// The current mode.
    pub fn mode(&self) -> LinkMode {
        self.mode
    }

    /// Consecutive good windows counted towards leaving fallback (0 in QKD mode).
    pub fn good_windows(&self) -> u32 {
        self.good_windows
    }

    /// A monitor that goes on from `mode` with `good_windows` already counted (a live mesh
    /// resumed after a restart).
    pub fn resumed(settings: &MonitorSettings, mode: LinkMode, good_windows: u32) -> Self {
        let good_windows = if mode == LinkMode::Qkd { 0 } else { good_windows };
        ThresholdMonitor { settings: settings.clone(), mode, good_windows }
    }

    /// Feeds one monitoring window (its QBER and secret key rate); returns a change of mode.
    pub fn window(&mut self, qber: f64, key_rate_bps: f64) -> Option<ModeChange> {
        let s = &self.settings;
        match self.mode {
            LinkMode::Qkd => {
                let reason = if qber >= s.qber_threshold {
                    format!("QBER {:.4} >= threshold {}", qber, s.qber_threshold)
                } else if key_rate_bps < s.min_key_rate_bps {
                    format!("key rate {key_rate_bps:.1} bps < minimum {} bps", s.min_key_rate_bps)
                } else {
                    return None;
                };
                self.mode = LinkMode::Fallback;
                self.good_windows = 0;
                Some(ModeChange { mode: LinkMode::Fallback, reason })
            }
            LinkMode::Fallback => {
                let good = qber < s.qber_threshold - s.qber_hysteresis
                    && key_rate_bps >= s.min_key_rate_bps * (1.0 + s.rate_hysteresis);
                self.good_windows = if good { self.good_windows + 1 } else { 0 };
                if self.good_windows < s.recovery_windows.max(1) {
                    return None;
                }
                self.mode = LinkMode::Qkd;
                self.good_windows = 0;
                Some(ModeChange {
                    mode: LinkMode::Qkd,
                    reason: format!("QBER {qber:.4} and key rate {key_rate_bps:.1} bps back within limits"),
                })
            }
        }
    }
}

/// CUSUM of the log-likelihood ratio of the per-block error counts, Binomial(n, p1) against
/// Binomial(n, p0) (Page 1954): `S_k = max(0, S_{k−1} + e·ln(p1/p0) + (n − e)·ln((1−p1)/(1−p0)))`,
/// alarm when `S_k ≥ h`. Under H0, `exp(S)` restarted at each zero is a non-negative
/// supermartingale started at 1, so by Ville's inequality each excursion reaches `h` with
/// probability at most `e^(−h)`; with `h = ln(1/α)` the false-alarm probability per block is at
/// most α. (The bound is conservative; the measured rate is reported by the tests.)
#[derive(Debug, Clone, PartialEq)]
pub struct Cusum {
    up: f64,
    down: f64,
    threshold: f64,
    statistic: f64,
}

impl Cusum {
    /// A CUSUM for QBER `p0` (honest) against `p1 > p0`, alarming with false-alarm
    /// probability per block at most `alpha`.
    pub fn new(p0: f64, p1: f64, alpha: f64) -> Self {
        // p0 at (or, NaN, beyond) 0.5 — validation refuses such an honest link, but an attack
        // may push it there — keeps p1 in (p0, 0.5] without a panic.
        let p0 = if p0.is_nan() { 0.5 } else { p0 }.clamp(1e-9, 0.5 - 1e-9);
        let p1 = p1.max(p0 + 1e-9).min(0.5);
        Cusum {
            up: (p1 / p0).ln(),
            down: ((1.0 - p1) / (1.0 - p0)).ln(),
            threshold: (1.0 / alpha).ln(),
            statistic: 0.0,
        }
    }

    /// The CUSUM of a link whose honest physics is `honest`: `p0` its expected signal QBER in
    /// the key basis (the error counts the mesh feeds it), `p1 = p0 + cusum_shift`.
    pub fn for_honest_link(honest: &LinkConfig, settings: &MonitorSettings) -> Result<Self, InvalidParameter> {
        Ok(Self::for_expectation(&LinkExpectation::new(honest)?, settings))
    }

    /// [`Cusum::for_honest_link`] from the honest link's expectation, computed already.
    pub fn for_expectation(honest: &LinkExpectation, settings: &MonitorSettings) -> Self {
        let p0 = honest.expected_qber();
        Cusum::new(p0, p0 + settings.cusum_shift, settings.cusum_false_alarm_per_block)
    }

    /// The current statistic.
    pub fn statistic(&self) -> f64 {
        self.statistic
    }

    /// The alarm threshold h.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Goes on from `statistic` (a live mesh resumed after a restart), kept in `[0, h)`: a
    /// value at or past the threshold would have alarmed and restarted.
    pub fn resume_from(&mut self, statistic: f64) {
        self.statistic = if statistic.is_finite() && statistic < self.threshold { statistic.max(0.0) } else { 0.0 };
    }

    /// Feeds a block of `bits` with `errors`; true on alarm (the statistic then restarts).
    pub fn block(&mut self, bits: u64, errors: u64) -> bool {
        let llr = errors as f64 * self.up + (bits - errors) as f64 * self.down;
        self.statistic = (self.statistic + llr).max(0.0);
        if self.statistic >= self.threshold {
            self.statistic = 0.0;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Binomial, Distribution};

    #[test]
    fn threshold_with_hysteresis() {
        let mut m = ThresholdMonitor::new(&MonitorSettings::default());
        assert_eq!(m.window(0.05, 5000.0), None);
        assert_eq!(m.window(0.12, 5000.0).map(|c| c.mode), Some(LinkMode::Fallback));
        assert_eq!(m.window(0.105, 5000.0), None, "inside the hysteresis band");
        assert_eq!(m.window(0.05, 5000.0), None, "one good window is not enough");
        assert_eq!(m.window(0.05, 5000.0).map(|c| c.mode), Some(LinkMode::Qkd));
        assert!(m.window(0.05, 500.0).unwrap().reason.contains("key rate"));
    }

    #[test]
    fn a_cusum_for_an_honest_qber_at_or_beyond_one_half_does_not_panic() {
        for p0 in [0.5, 0.5 - 1e-12, 0.7, f64::NAN] {
            let mut c = Cusum::new(p0, p0 + 0.01, 1e-6);
            assert!(c.statistic().is_finite() && c.threshold().is_finite());
            c.block(1000, 500);
            assert!(c.statistic().is_finite(), "p0 = {p0}: {c:?}");
        }
    }

    #[test]
    fn cusum_false_alarms_stay_below_the_bound_and_a_shift_is_caught() {
        // Honest blocks of 10,000 bits at 3.3 % QBER: 200,000 blocks; the bound is alpha = 1e-4
        // per block, so at most ~20 alarms expected under the bound (Ville), and the measured
        // rate is far below it.
        let mut rng = crate::rng::derive_rng(9, &[0]);
        let (p0, n, alpha) = (0.033, 10_000, 1e-4);
        let mut c = Cusum::new(p0, p0 + 0.01, alpha);
        let honest = Binomial::new(n, p0).unwrap();
        let blocks = 200_000u64;
        let alarms = (0..blocks).filter(|_| c.block(n, honest.sample(&mut rng))).count() as f64;
        // Poisson upper tail: even at the bound (mean 20) more than 40 alarms has p < 1e-4.
        assert!(alarms <= 40.0, "{alarms} false alarms in {blocks} blocks");
        // A +1 % QBER attack is detected within a few blocks.
        let mut c = Cusum::new(p0, p0 + 0.01, alpha);
        let attacked = Binomial::new(n, p0 + 0.01).unwrap();
        let delay = (1..).find(|_| c.block(n, attacked.sample(&mut rng))).unwrap();
        assert!(delay <= 10, "detection took {delay} blocks");
    }
}
