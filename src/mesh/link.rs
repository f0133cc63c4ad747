//! A QKD link of the mesh on the block rung: each monitoring window's counts are drawn from
//! their multinomial distribution; the counts accumulate into post-processing blocks of
//! `n_X` key-basis detections, each of which adds the finite-key length of Lim et al. 2014
//! (or the asymptotic vacuum + weak decoy length) to the link's key buffer.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::photonics::link::{BlockSampler, LinkExpectation, Totals};
use crate::photonics::{IntensityClass, LinkConfig};
use crate::postprocess::entropy::binary_entropy;
use crate::postprocess::estimation::{BasisCounts, Lim2014, vacuum_weak_bounds};
use crate::postprocess::{PostprocessSettings, Security};
use crate::units::InvalidParameter;

/// What one monitoring window of a link produced.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WindowStats {
    /// Sifted signal bits in the key basis.
    pub sifted_bits: u64,
    /// Errors among them.
    pub errors: u64,
    /// Secret bits added to the buffer in this window (a post-processing block completed).
    pub secret_bits: u64,
}

impl WindowStats {
    /// The window's QBER (0 when nothing was sifted).
    pub fn qber(&self) -> f64 {
        if self.sifted_bits == 0 { 0.0 } else { self.errors as f64 / self.sifted_bits as f64 }
    }
}

/// A link's key production as it stands: its buffer and the post-processing block it is
/// filling, carried across a restart of a live mesh ([`QkdLink::progress`], [`QkdLink::resume`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkProgress {
    /// Secret bits in the buffer.
    pub buffer_bits: u64,
    /// Secret bits produced so far.
    pub produced_bits: u64,
    /// Secret key rate of the last completed block (bits/s).
    pub key_rate_bps: f64,
    /// Counts of the block in progress.
    pub block: Totals,
    /// Windows in the block in progress.
    pub block_windows: u64,
}

/// One quantum link's key production.
#[derive(Debug, Clone)]
pub struct QkdLink {
    config: LinkConfig,
    sampler: BlockSampler,
    settings: PostprocessSettings,
    pulses_per_window: u64,
    window_s: f64,
    pending: Totals,
    pending_windows: u64,
    /// Secret bits available.
    pub buffer_bits: u64,
    /// Buffer capacity (bits).
    pub capacity_bits: u64,
    /// Secret bits produced since the start.
    pub produced_bits: u64,
    /// Secret key rate of the last completed post-processing block (bits/s).
    pub key_rate_bps: f64,
}

impl QkdLink {
    /// A link with physics `config`, windows of `window_s` seconds, post-processing
    /// `settings` and a key buffer of `capacity_bits`.
    pub fn new(
        config: &LinkConfig,
        window_s: f64,
        settings: &PostprocessSettings,
        capacity_bits: u64,
    ) -> Result<Self, InvalidParameter> {
        config.detector.check_simulable()?;
        Self::with_expectation(config, &LinkExpectation::new(config)?, window_s, settings, capacity_bits)
    }

    /// [`QkdLink::new`] with the expectation of `config` computed already (the mesh shares
    /// it with the link's CUSUM: building one solves the whole link model).
    pub fn with_expectation(
        config: &LinkConfig,
        expectation: &LinkExpectation,
        window_s: f64,
        settings: &PostprocessSettings,
        capacity_bits: u64,
    ) -> Result<Self, InvalidParameter> {
        config.detector.check_simulable()?;
        let sampler = BlockSampler::counts_only(expectation);
        settings.validate()?;
        Ok(QkdLink {
            pulses_per_window: (config.source.repetition_rate_hz * window_s).round() as u64,
            config: config.clone(),
            sampler,
            settings: settings.clone(),
            window_s,
            pending: Totals::default(),
            pending_windows: 0,
            buffer_bits: 0,
            capacity_bits,
            produced_bits: 0,
            key_rate_bps: 0.0,
        })
    }

    /// The physics in force.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Changes the physics (an eavesdropper appears, the fibre degrades...).
    pub fn set_config(&mut self, config: &LinkConfig) -> Result<(), InvalidParameter> {
        config.detector.check_simulable()?;
        self.sampler = BlockSampler::counts_only(&LinkExpectation::new(config)?);
        self.config = config.clone();
        Ok(())
    }

    /// Simulates one monitoring window.
    pub fn window<R: Rng + ?Sized>(&mut self, rng: &mut R) -> WindowStats {
        let t = self.sampler.sample(self.pulses_per_window, rng);
        let s = IntensityClass::Signal.index();
        let mut stats = WindowStats { sifted_bits: t.sifted[s][0], errors: t.errors[s][0], secret_bits: 0 };
        self.pending.merge(&t);
        self.pending_windows += 1;
        let key_detections: u64 = (0..3).map(|k| self.pending.sifted[k][0]).sum();
        if key_detections >= self.settings.block_size {
            let length = self.secret_length(&self.pending);
            let seconds = self.pending_windows as f64 * self.window_s;
            self.key_rate_bps = length as f64 / seconds;
            stats.secret_bits = length;
            self.produced_bits += length;
            self.buffer_bits = (self.buffer_bits + length).min(self.capacity_bits);
            self.pending = Totals::default();
            self.pending_windows = 0;
        }
        stats
    }

    /// Throws away the buffered secret key and the post-processing block in progress (a
    /// compromised end knew them): the link starts afresh. Returns the bits discarded.
    pub fn discard_key(&mut self) -> u64 {
        let bits = self.buffer_bits;
        self.buffer_bits = 0;
        self.pending = Totals::default();
        self.pending_windows = 0;
        bits
    }

    /// Where its key production stands now.
    pub fn progress(&self) -> LinkProgress {
        LinkProgress {
            buffer_bits: self.buffer_bits,
            produced_bits: self.produced_bits,
            key_rate_bps: self.key_rate_bps,
            block: self.pending.clone(),
            block_windows: self.pending_windows,
        }
    }

    /// Goes on from `progress` (taken from a link with the same physics); the buffer is kept
    /// within this link's capacity.
    pub fn resume(&mut self, progress: LinkProgress) {
        self.buffer_bits = progress.buffer_bits.min(self.capacity_bits);
        self.produced_bits = progress.produced_bits;
        self.key_rate_bps = if progress.key_rate_bps.is_finite() { progress.key_rate_bps.max(0.0) } else { 0.0 };
        self.pending = progress.block;
        self.pending_windows = progress.block_windows;
    }

    /// Takes `bits` from the buffer; false (and nothing taken) if there are not enough.
    pub fn take(&mut self, bits: u64) -> bool {
        if self.buffer_bits < bits {
            return false;
        }
        self.buffer_bits -= bits;
        true
    }

    /// Secret key length of a post-processing block with counts `t`.
    fn secret_length(&self, t: &Totals) -> u64 {
        let src = &self.config.source;
        let counts = |basis: usize| {
            let mut c = BasisCounts::default();
            for k in 0..3 {
                c.detections[k] = t.sifted[k][basis] as f64;
                c.errors[k] = t.errors[k][basis] as f64;
            }
            c
        };
        let (key, test) = (counts(0), counts(1));
        let n = key.total_detections();
        let e = if n > 0.0 { key.total_errors() / n } else { 0.5 };
        let leak = self.settings.error_correction_efficiency * n * binary_entropy(e);
        let length = match self.settings.security {
            Security::Finite => {
                let lim = Lim2014 {
                    intensities: [src.signal_intensity, src.decoy_intensity, src.vacuum_intensity],
                    probabilities: [src.signal_probability, src.decoy_probability, src.vacuum_probability],
                    epsilon_sec: self.settings.epsilon_sec,
                };
                self.settings.lim_key_length(&lim, &key, &test, leak).0
            }
            Security::Asymptotic => {
                let ratio = |num: u64, den: u64| if den == 0 { 0.0 } else { num as f64 / den as f64 };
                let gain = |k: usize| ratio(t.detections[k].iter().sum(), t.pulses[k].iter().sum());
                let err = |k: usize| ratio(t.errors[k].iter().sum(), t.sifted[k].iter().sum());
                let b =
                    vacuum_weak_bounds(src.signal_intensity, src.decoy_intensity, gain(0), gain(1), err(1), gain(2));
                let mu = src.signal_intensity;
                let signal_key = t.sifted[0][0] as f64;
                let single = b.yield_lower * mu * (-mu).exp() / gain(0).max(f64::MIN_POSITIVE) * signal_key;
                (single * (1.0 - binary_entropy(b.error_upper)) - leak).max(0.0).floor()
            }
        };
        length as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postprocess::keyrate::{KeyRateModel, key_rate};

    #[test]
    fn finite_key_production_matches_the_analytic_rate() {
        let config = LinkConfig::modern(50.0);
        let settings = PostprocessSettings { block_size: 1_000_000, ..PostprocessSettings::default() };
        // Windows of 1 ms (~3e4 key detections each) overshoot the block size by < 3 %.
        let mut link = QkdLink::new(&config, 0.001, &settings, u64::MAX).unwrap();
        let mut rng = crate::rng::derive_rng(3, &[0]);
        while link.produced_bits == 0 {
            link.window(&mut rng);
        }
        let analytic = key_rate(KeyRateModel::Lim2014, &config, &settings, None).unwrap().rate_bps;
        let rel = (link.key_rate_bps - analytic).abs() / analytic;
        assert!(rel < 0.05, "block rate {} bps vs analytic {analytic} bps", link.key_rate_bps);
    }

    #[test]
    fn intercept_resend_shows_in_the_window_qber() {
        let mut config = LinkConfig::modern(20.0);
        config.eve.intercept_resend_fraction = 0.6;
        let mut link = QkdLink::new(&config, 0.01, &PostprocessSettings::default(), 1 << 30).unwrap();
        let w = link.window(&mut crate::rng::derive_rng(4, &[0]));
        assert!(w.sifted_bits > 10_000 && w.qber() > 0.11, "{w:?}");
    }
}
