//! The block engine, third rung of the fidelity ladder: the counts of a window of pulses drawn
//! directly from their multinomial distribution over (class × Alice's basis × outcome), with
//! no individual pulse or bit. Outcomes: silent, or a click by Bob's basis, source photon
//! number (0, 1, ≥2) and kind (right bit, wrong bit, double click squashed to a random bit),
//! from the receiver's exact gate statistics. Cost is independent of the number of pulses
//! (≈ 110 binomial draws).
//!
//! Exact for a memoryless receiver. With dead time or afterpulsing it approximates, to first
//! order as [`crate::photonics::analytic::with_memory`] does: only the live fraction
//! `L = 1/(1 + D·c)` of the gates can click, and afterpulses act as extra dark counts of
//! probability `a/n` per detector and live gate (`a = c·p_ap·r^D`, n detectors); correlations between
//! consecutive gates are ignored. Its agreement with the event engine is tested.

use rand::Rng;

use crate::photonics::link::model::LinkExpectation;
use crate::photonics::link::totals::Totals;
use crate::photonics::receiver::{ClickKind, ReceiverModel};
use crate::photonics::source::{Basis, poisson_photon_numbers};
use crate::rng::binomial;

/// A click of one cell: Bob's basis, the source photon group (0, 1, ≥2) and the kind.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Click {
    bob: usize,
    group: usize,
    kind: ClickKind,
}

/// One cell of the multinomial.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cell {
    class: usize,
    alice: usize,
    /// None for a silent gate.
    click: Option<Click>,
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

impl BlockSampler {
    /// Compiles the block engine for `link`.
    pub fn new(link: &LinkExpectation) -> Self {
        let src = &link.config.source;
        let pa = src.z_basis_probability;
        let memory = link.memory;
        let p_ap = link.config.detector.afterpulse_probability;
        // First-order memory: live fraction and afterpulses as extra dark counts.
        let mut receiver = link.receiver;
        let live_fraction = if memory.has_memory() {
            let q: f64 = (0..3).map(|k| link.class_probabilities[k] * natural_click(link, k)).sum();
            let reach = p_ap * memory.afterpulse_delay_ratio.powf(memory.dead_gates as f64);
            let c = q / (1.0 - reach);
            let a = c * reach;
            let per_detector = a / receiver.detectors() as f64;
            receiver.dark_count_probability = 1.0 - (1.0 - receiver.dark_count_probability) * (1.0 - per_detector);
            1.0 / (1.0 + memory.dead_gates as f64 * c)
        } else {
            1.0
        };
        let mut cells = Vec::new();
        let mut probabilities = Vec::new();
        for k in 0..3 {
            let mu = src.intensity(crate::photonics::IntensityClass::from_index(k));
            let photons = poisson_photon_numbers(mu);
            for (alice, p_alice) in [(Basis::Z, pa), (Basis::X, 1.0 - pa)] {
                let weight = link.class_probabilities[k] * p_alice;
                let outcomes = click_outcomes(link, &receiver, &photons, alice);
                let clicking: f64 = outcomes.iter().flatten().flatten().sum();
                cells.push(Cell { class: k, alice: alice.index(), click: None });
                probabilities.push(weight * (1.0 - clicking));
                for (group, by_bob) in outcomes.iter().enumerate() {
                    for (bob, by_kind) in by_bob.iter().enumerate() {
                        for (kind, p) in ClickKind::ALL.into_iter().zip(by_kind) {
                            cells.push(Cell {
                                class: k,
                                alice: alice.index(),
                                click: Some(Click { bob, group, kind }),
                            });
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
            let Some(Click { bob, group, kind }) = cell.click else { continue };
            t.detections[cell.class][cell.alice] += n;
            t.detections_by_source_photons[cell.class][group] += n;
            let doubles = if kind == ClickKind::Double { n } else { 0 };
            t.double_clicks[cell.class] += doubles;
            if cell.alice == bob {
                t.sifted[cell.class][cell.alice] += n;
                t.errors[cell.class][cell.alice] += match kind {
                    ClickKind::Right => 0,
                    ClickKind::Wrong => n,
                    ClickKind::Double => binomial(n, 0.5, rng),
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

/// Probability of each click outcome of a live gate of a class with photon-number
/// distribution `photons`, sent in Alice's basis `alice`, indexed
/// `[photon group 0, 1, ≥2][Bob's basis][kind]`.
fn click_outcomes(
    link: &LinkExpectation,
    receiver: &ReceiverModel,
    photons: &[f64],
    alice: Basis,
) -> [[[f64; 3]; 2]; 3] {
    let mut out = [[[0.0; 3]; 2]; 3];
    for (n, pn) in photons.iter().enumerate() {
        for (w, arrival) in link.eve.branches(n as u32) {
            let outcomes = receiver.outcomes(&arrival, alice);
            for (slot, p) in out[n.min(2)].iter_mut().flatten().zip(outcomes.iter().flatten()) {
                *slot += pn * w * p;
            }
        }
    }
    out
}

/// Click probability of a live gate of class `k` without afterpulses.
fn natural_click(link: &LinkExpectation, k: usize) -> f64 {
    let mu = link.config.source.intensity(crate::photonics::IntensityClass::from_index(k));
    poisson_photon_numbers(mu)
        .iter()
        .enumerate()
        .map(|(n, pn)| {
            link.eve.branches(n as u32).iter().map(|(w, a)| pn * w * link.receiver.click_probability(a)).sum::<f64>()
        })
        .sum()
}
