//! The event engine: jumps straight to the next pulse that clicks.
//!
//! Without memory, pulses are independent, so the number of silent live gates before the next
//! natural click is geometric with `p = Σ_k π_k·P(click | k)`; the clicking pulse's class,
//! photon number and Eve branch are drawn with weights `π_k·P(n)·P(branch)·P(click | branch)`
//! and the set of detectors that fire from its exact distribution conditioned on a click
//! ([`crate::photonics::receiver::ReceiverModel::patterns`]). Detector memory is then
//! exact too: dead gates are skipped (they cannot click), and a pending afterpulse at gate `t`
//! interrupts the jump: by memorylessness, gate `t`'s natural outcome is a click iff the drawn
//! gap ends exactly there, and is otherwise drawn from the silent branches. The classes and
//! bases of the gates never simulated one by one are drawn at the end of the chunk from their
//! exact multinomial distribution.

use rand::Rng;

use crate::photonics::link::ChunkOutput;
use crate::photonics::link::model::LinkModel;
use crate::photonics::link::receiver_state::{ReceiverState, detection};
use crate::rng::{binomial, geometric_gap};

/// Simulates pulses `start .. start + len`.
pub(crate) fn run_chunk<R: Rng + ?Sized>(
    model: &LinkModel,
    start: u64,
    len: u64,
    rng: &mut R,
    state: &mut ReceiverState,
) -> ChunkOutput {
    let mut out = ChunkOutput::default();
    let end = start + len;
    let log_silent = (-model.click_probability_total).ln_1p();
    let mut silent_gates = 0u64;
    let mut dead_gates = 0u64;
    let mut gate = start;
    skip_dead(&mut gate, end, state, &mut dead_gates);
    while gate < end {
        let natural = gate.saturating_add(geometric_gap(log_silent, rng));
        let (at, natural_click) = match state.next_afterpulse(gate) {
            Some(t) if t <= natural => (t, t == natural),
            _ => (natural, true),
        };
        if at >= end {
            silent_gates += end - gate;
            break;
        }
        silent_gates += at - gate;
        let mut hits = state.take_afterpulses(at);
        let table = if natural_click { &model.clicking } else { &model.silent };
        let branch = table.pick(rng.next_u64());
        let bases = model.bases.draw(rng.next_u64());
        let (alice_basis, alice_bit, bob_choice) = bases;
        out.totals.pulses[branch.class.index()][alice_basis.index()] += 1;
        if natural_click {
            let table = &branch.patterns[model.receiver.case(alice_basis, bob_choice)];
            hits = hits | table.pick(rng.next_u64(), alice_bit);
        }
        let d = detection(at, branch.class, branch.source_photons, bases, hits, model.receiver.receiver, rng);
        out.totals.add_detection(&d);
        out.detections.push(d);
        state.click(at, hits, &model.memory, rng);
        gate = at + 1;
        skip_dead(&mut gate, end, state, &mut dead_gates);
    }
    let silent_weights: [f64; 3] =
        std::array::from_fn(|k| model.class_probabilities[k] * (1.0 - model.click_probability[k]));
    add_unsimulated_pulses(model, silent_gates, silent_weights, &mut out, rng);
    add_unsimulated_pulses(model, dead_gates, model.class_probabilities, &mut out, rng);
    out
}

/// Advances `gate` past the receiver's dead time (within the chunk), counting the gates.
fn skip_dead(gate: &mut u64, end: u64, state: &ReceiverState, dead_gates: &mut u64) {
    if state.live_from > *gate {
        let to = state.live_from.min(end);
        *dead_gates += to - *gate;
        *gate = to;
    }
}

/// Adds `gates` pulses never simulated individually to the per-class, per-basis totals, drawn
/// from the multinomial with class weights `weights` and Alice's basis choice.
fn add_unsimulated_pulses<R: Rng + ?Sized>(
    model: &LinkModel,
    gates: u64,
    weights: [f64; 3],
    out: &mut ChunkOutput,
    rng: &mut R,
) {
    let p_z = model.bases.alice_z_probability();
    let mut remaining = gates;
    let mut remaining_weight: f64 = weights.iter().sum();
    for (k, &weight) in weights.iter().enumerate() {
        let n = if k == 2 || remaining == 0 {
            remaining
        } else {
            binomial(remaining, (weight / remaining_weight).clamp(0.0, 1.0), rng)
        };
        remaining -= n;
        remaining_weight -= weight;
        let z = binomial(n, p_z, rng);
        out.totals.pulses[k][0] += z;
        out.totals.pulses[k][1] += n - z;
    }
}
