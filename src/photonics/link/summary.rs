//! The figures of a link run beside their analytic expectation, as printed by `qecnet link`
//! and serialised by `--json` (snake_case names, units in names).

use serde::Serialize;

use crate::photonics::analytic::Expected;
use crate::photonics::link::{LinkRun, ratio};
use crate::photonics::source::{Basis, IntensityClass};

/// Measured and expected figures of one intensity class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassSummary {
    /// Mean photon number.
    pub intensity: f64,
    /// Pulses sent.
    pub pulses: u64,
    /// Detections.
    pub detections: u64,
    /// Measured gain Q_k.
    pub gain: f64,
    /// Binomial standard error of the gain.
    pub gain_std_error: f64,
    /// Sifted detections (both bases).
    pub sifted: u64,
    /// Measured error rate E_k over sifted detections.
    pub error_rate: f64,
    /// Binomial standard error of the error rate.
    pub error_rate_std_error: f64,
    /// Double clicks.
    pub double_clicks: u64,
    /// The analytic expectation.
    pub expected: Expected,
    /// Detections by photons in the source pulse (simulation ground truth).
    pub detections_by_source_photons: SourcePhotons,
}

/// Detections split by photon number at the source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourcePhotons {
    /// From empty pulses (dark counts, afterpulses).
    #[serde(rename = "0")]
    pub zero: u64,
    /// From single-photon pulses.
    #[serde(rename = "1")]
    pub one: u64,
    /// From multi-photon pulses.
    #[serde(rename = "2+")]
    pub many: u64,
}

/// QBER per basis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerBasis {
    /// Z basis (key).
    pub z: f64,
    /// X basis (test).
    pub x: f64,
}

/// Everything `qecnet link` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkSummary {
    /// Engine used.
    pub engine: &'static str,
    /// Receiver architecture: `active` or `passive`.
    pub receiver: &'static str,
    /// Seed.
    pub seed: u64,
    /// Pulses sent.
    pub pulses: u64,
    /// Fibre length (km).
    pub distance_km: f64,
    /// Total channel loss (dB).
    pub channel_loss_db: f64,
    /// Duration of the simulated transmission at the repetition rate (s).
    pub duration_s: f64,
    /// All detections.
    pub detections: u64,
    /// All detections with matching bases.
    pub sifted_bits: u64,
    /// Sifted signal bits in the Z basis (the key before reconciliation).
    pub sifted_key_bits: u64,
    /// All double clicks.
    pub double_clicks: u64,
    /// QBER of the sifted signal pulses in the key (Z) basis.
    pub qber: f64,
    /// Binomial standard error of `qber`.
    pub qber_std_error: f64,
    /// Analytic expectation of `qber`.
    pub expected_qber: f64,
    /// QBER of all sifted detections, per basis.
    pub qber_by_basis: PerBasis,
    /// Analytic expectation of `qber_by_basis`.
    pub expected_qber_by_basis: PerBasis,
    /// Signal class.
    pub signal: ClassSummary,
    /// Decoy class.
    pub decoy: ClassSummary,
    /// Vacuum class.
    pub vacuum: ClassSummary,
    /// Blocks in the QBER stream.
    pub qber_blocks: u64,
}

fn std_error(p: f64, n: u64) -> f64 {
    if n == 0 { 0.0 } else { (p * (1.0 - p) / n as f64).sqrt() }
}

/// Expected QBER over the sifted detections of every class, per basis: the classes weighted by
/// their sifted gains.
fn expected_qber_by_basis(expected: &[Expected; 3], class_probabilities: &[f64; 3]) -> PerBasis {
    let in_basis = |b: usize| {
        let sifted: f64 = (0..3).map(|k| class_probabilities[k] * expected[k].sifted_gain[b]).sum();
        let errors: f64 = (0..3)
            .map(|k| class_probabilities[k] * expected[k].sifted_gain[b] * expected[k].error_rate_by_basis[b])
            .sum();
        if sifted > 0.0 { errors / sifted } else { 0.0 }
    };
    PerBasis { z: in_basis(0), x: in_basis(1) }
}

impl LinkSummary {
    /// The summary of `run`.
    pub fn new(run: &LinkRun) -> Self {
        let t = &run.totals;
        let config = &run.model.config;
        let class = |c: IntensityClass| {
            let k = c.index();
            let sifted: u64 = t.sifted[k].iter().sum();
            let gain = t.gain(c);
            let error_rate = t.error_rate(c);
            let by_n = t.detections_by_source_photons[k];
            ClassSummary {
                intensity: config.source.intensity(c),
                pulses: t.class_pulses(c),
                detections: t.class_detections(c),
                gain,
                gain_std_error: std_error(gain, t.class_pulses(c)),
                sifted,
                error_rate,
                error_rate_std_error: std_error(error_rate, sifted),
                double_clicks: t.double_clicks[k],
                expected: run.model.expected[k],
                detections_by_source_photons: SourcePhotons { zero: by_n[0], one: by_n[1], many: by_n[2] },
            }
        };
        let signal_z = t.sifted[0][Basis::Z.index()];
        let qber = t.qber();
        LinkSummary {
            engine: config.simulation.engine.name(),
            receiver: config.detector.receiver.name(),
            seed: config.simulation.seed,
            pulses: t.pulses(),
            distance_km: config.channel.length_km,
            channel_loss_db: config.channel.loss_db(),
            duration_s: t.pulses() as f64 / config.source.repetition_rate_hz,
            detections: t.detections(),
            sifted_bits: t.sifted(),
            sifted_key_bits: signal_z,
            double_clicks: t.double_clicks(),
            qber,
            qber_std_error: std_error(qber, signal_z),
            expected_qber: run.model.expected_qber(),
            qber_by_basis: PerBasis { z: t.qber_in_basis(Basis::Z), x: t.qber_in_basis(Basis::X) },
            expected_qber_by_basis: expected_qber_by_basis(&run.model.expected, &run.model.class_probabilities),
            signal: class(IntensityClass::Signal),
            decoy: class(IntensityClass::Decoy),
            vacuum: class(IntensityClass::Vacuum),
            qber_blocks: run.qber_blocks.len() as u64,
        }
    }

    /// The class summaries in index order.
    pub fn classes(&self) -> [(&'static str, &ClassSummary); 3] {
        [("signal", &self.signal), ("decoy", &self.decoy), ("vacuum", &self.vacuum)]
    }

    /// Sifted key bits per second of simulated transmission.
    pub fn sifted_key_rate_bps(&self) -> f64 {
        ratio(self.sifted_key_bits, 1) / self.duration_s
    }
}
