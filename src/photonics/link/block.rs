//! The block engine, third rung of the fidelity ladder: the counts of a window of pulses drawn
//! directly from their multinomial distribution over (class × Alice's basis × Bob's basis ×
//! outcome), with no individual pulse or bit. Outcomes: silent, or a click by source photon
//! number (0, 1, ≥2) and kind (right detector only, wrong detector only, double click squashed
//! to a random bit). Cost is independent of the number of pulses (≈ 120 binomial draws).
//!
//! Exact for a memoryless receiver. With dead time or afterpulsing it approximates, to first
//! order as [`crate::photonics::analytic::with_memory`] does: only the live fraction
//! `L = 1/(1 + D·c)` of the gates can click, and afterpulses act as extra dark counts of
//! probability `a/2` per detector and live gate (`a = c·p_ap·r^D`); correlations between
//! consecutive gates are ignored. Its agreement with the event engine is tested.

use rand::Rng;

use crate::photonics::analytic::click_probability;
use crate::photonics::eve::Arrival;
use crate::photonics::link::model::LinkExpectation;
use crate::photonics::link::totals::Totals;
use crate::photonics::source::poisson_photon_numbers;
use crate::rng::binomial;

/// A click outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Right,
    Wrong,
    Double,
}

/// One cell of the multinomial.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cell {
    class: usize,
    alice: usize,
    bob: usize,
    /// None for a silent gate; else (source photon group, kind).
    click: Option<(usize, Kind)>,
}

/// The per-gate cell probabilities of a link, ready to sample windows.
#[derive(Debug, Clone)]
pub struct BlockSampler {
    cells: Vec<Cell>,
    probabilities: Vec<f64>,
    live_fraction: f64,
    class_probabilities: [f64; 3],
    alice_z: f64,
}

/// (right only, wrong only, both) probabilities of a gate receiving `arrival`, with dark-count
/// probability `p_dc` per detector, when a detected photon is misrouted with probability
/// `error`.
fn click_kinds(arrival: &Arrival, error: f64, p_dc: f64) -> [f64; 3] {
    let m = arrival.photons as i32;
    let t = arrival.detection;
    let q = 1.0 - p_dc;
    let right_silent = q * (1.0 - t * (1.0 - error)).powi(m);
    let wrong_silent = q * (1.0 - t * error).powi(m);
    let both_silent = q * q * (1.0 - t).powi(m);
    [wrong_silent - both_silent, right_silent - both_silent, 1.0 - right_silent - wrong_silent + both_silent]
}

impl BlockSampler {
    /// Compiles the block engine for `link`.
    pub fn new(link: &LinkExpectation) -> Self {
        let src = &link.config.source;
        let (pa, pb) = (src.z_basis_probability, link.config.detector.z_basis_probability);
        let memory = link.memory;
        let p_ap = link.config.detector.afterpulse_probability;
        // First-order memory: live fraction and afterpulses as extra dark counts.
        let (live_fraction, p_dc) = if memory.has_memory() {
            let q: f64 = (0..3).map(|k| link.class_probabilities[k] * natural_click(link, k)).sum();
            let reach = p_ap * memory.afterpulse_delay_ratio.powf(memory.dead_gates as f64);
            let c = q / (1.0 - reach);
            let a = c * reach;
            (1.0 / (1.0 + memory.dead_gates as f64 * c), 1.0 - (1.0 - link.dark_count_probability) * (1.0 - a / 2.0))
        } else {
            (1.0, link.dark_count_probability)
        };
        let mut cells = Vec::new();
        let mut probabilities = Vec::new();
        for k in 0..3 {
            let mu = src.intensity(crate::photonics::IntensityClass::from_index(k));
            let photons = poisson_photon_numbers(mu);
            for (alice, p_alice) in [(0, pa), (1, 1.0 - pa)] {
                for (bob, p_bob) in [(0, pb), (1, 1.0 - pb)] {
                    let weight = link.class_probabilities[k] * p_alice * p_bob;
                    let mut kinds = [[0.0; 3]; 3];
                    for (n, pn) in photons.iter().enumerate() {
                        for (w, arrival) in link.eve.branches(n as u32) {
                            let error = if alice == bob { arrival.error } else { 0.5 };
                            let probs = click_kinds(&arrival, error, p_dc);
                            for (slot, p) in kinds[n.min(2)].iter_mut().zip(probs) {
                                *slot += pn * w * p;
                            }
                        }
                    }
                    let clicking: f64 = kinds.iter().flatten().sum();
                    cells.push(Cell { class: k, alice, bob, click: None });
                    probabilities.push(weight * (1.0 - clicking));
                    for (group, probs) in kinds.iter().enumerate() {
                        for (kind, p) in [Kind::Right, Kind::Wrong, Kind::Double].into_iter().zip(probs) {
                            cells.push(Cell { class: k, alice, bob, click: Some((group, kind)) });
                            probabilities.push(weight * p);
                        }
                    }
                }
            }
        }
        BlockSampler { cells, probabilities, live_fraction, class_probabilities: link.class_probabilities, alice_z: pa }
    }

    /// Fraction of gates that can click (1 without detector memory).
    pub fn live_fraction(&self) -> f64 {
        self.live_fraction
    }

    /// Draws the totals of a window of `pulses` pulses.
    pub fn sample<R: Rng + ?Sized>(&self, pulses: u64, rng: &mut R) -> Totals {
        let mut t = Totals::default();
        let live = if self.live_fraction < 1.0 { binomial(pulses, self.live_fraction, rng) } else { pulses };
        let mut remaining = live;
        let mut remaining_p: f64 = self.probabilities.iter().sum();
        for (cell, &p) in self.cells.iter().zip(&self.probabilities) {
            if remaining == 0 {
                break;
            }
            let n = binomial(remaining, (p / remaining_p).clamp(0.0, 1.0), rng);
            remaining -= n;
            remaining_p -= p;
            t.pulses[cell.class][cell.alice] += n;
            let Some((group, kind)) = cell.click else { continue };
            t.detections[cell.class][cell.alice] += n;
            t.detections_by_source_photons[cell.class][group] += n;
            let doubles = if kind == Kind::Double { n } else { 0 };
            t.double_clicks[cell.class] += doubles;
            if cell.alice == cell.bob {
                t.sifted[cell.class][cell.alice] += n;
                t.errors[cell.class][cell.alice] += match kind {
                    Kind::Right => 0,
                    Kind::Wrong => n,
                    Kind::Double => binomial(n, 0.5, rng),
                };
            }
        }
        // Dead gates: sent, never detected.
        let mut dead = pulses - live;
        let mut weight_left = 1.0;
        for k in 0..3 {
            let n = if k == 2 {
                dead
            } else {
                binomial(dead, (self.class_probabilities[k] / weight_left).clamp(0.0, 1.0), rng)
            };
            dead -= n;
            weight_left -= self.class_probabilities[k];
            let z = binomial(n, self.alice_z, rng);
            t.pulses[k][0] += z;
            t.pulses[k][1] += n - z;
        }
        t
    }
}

/// Click probability of a live gate of class `k` without afterpulses.
fn natural_click(link: &LinkExpectation, k: usize) -> f64 {
    let mu = link.config.source.intensity(crate::photonics::IntensityClass::from_index(k));
    poisson_photon_numbers(mu)
        .iter()
        .enumerate()
        .map(|(n, pn)| {
            link.eve
                .branches(n as u32)
                .iter()
                .map(|(w, a)| pn * w * click_probability(a, link.dark_count_probability))
                .sum::<f64>()
        })
        .sum()
}
