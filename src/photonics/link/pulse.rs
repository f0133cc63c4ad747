//! The pulse engine: every pulse simulated, gate by gate. The reference rung of the fidelity
//! ladder.
//!
//! Dark counts, i.i.d. per gate, are drawn as a Bernoulli process through its exact geometric
//! inter-arrival times (one draw per dark event instead of one per gate); everything else is
//! drawn gate by gate and photon by photon: each photon's detection, its arm (passive
//! receiver) and its detector.

use rand::Rng;

use crate::photonics::detector::route_photons;
use crate::photonics::link::ChunkOutput;
use crate::photonics::link::model::LinkModel;
use crate::photonics::link::receiver_state::{ReceiverState, detection};
use crate::photonics::receiver::{Clicks, Receiver};
use crate::photonics::source::Basis;
use crate::rng::{Chance, geometric_gap, pick_cumulative};

/// Simulates pulses `start .. start + len`.
pub(crate) fn run_chunk<R: Rng + ?Sized>(
    model: &LinkModel,
    start: u64,
    len: u64,
    rng: &mut R,
    state: &mut ReceiverState,
) -> ChunkOutput {
    let mut out = ChunkOutput::default();
    let log_no_dark = (-model.darks.any_probability()).ln_1p();
    let to_z_arm = Chance::new(model.receiver.z_probability);
    let mut next_dark = start.saturating_add(geometric_gap(log_no_dark, rng));
    for gate in start..start + len {
        let dark_here = gate == next_dark;
        if dark_here {
            next_dark = gate.saturating_add(1).saturating_add(geometric_gap(log_no_dark, rng));
        }
        let (class, photons) = model.class_photons[pick_cumulative(&model.class_photons_cumulative, rng.next_u64())];
        let bases = model.bases.draw(rng.next_u64());
        let (alice_basis, alice_bit, bob_choice) = bases;
        out.totals.pulses[class.index()][alice_basis.index()] += 1;
        if gate < state.live_from {
            continue; // dead gate: nothing Bob receives can click
        }
        let arrival = model.eve.act(photons, rng);
        let mut hits = Clicks::NONE;
        if arrival.photons > 0 {
            let detect = Chance::new(arrival.detection);
            let detected = (0..arrival.photons).filter(|_| detect.hit(rng.next_u64())).count() as u32;
            // Photons per arm: the active receiver's one arm measures in Bob's chosen basis.
            let (arms, to_z) = match model.receiver.receiver {
                Receiver::Active => ([bob_choice, Basis::Z], detected),
                Receiver::Passive => {
                    ([Basis::Z, Basis::X], (0..detected).filter(|_| to_z_arm.hit(rng.next_u64())).count() as u32)
                }
            };
            for (arm, (basis, count)) in arms.into_iter().zip([to_z, detected - to_z]).enumerate() {
                if count > 0 {
                    let error = if alice_basis == basis { arrival.error } else { 0.5 };
                    hits = hits | Clicks::pair(arm, route_photons(count, alice_bit, error, rng.next_u64()));
                }
            }
        }
        if dark_here {
            hits = hits | model.darks.given_any(rng);
        }
        if state.has_pending() {
            hits = hits | state.take_afterpulses(gate);
        }
        if hits.any() {
            let d = detection(gate, class, photons, bases, hits, model.receiver.receiver, rng);
            out.totals.add_detection(&d);
            out.detections.push(d);
            state.click(gate, hits, &model.memory, rng);
        }
    }
    out
}
