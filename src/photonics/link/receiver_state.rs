//! Detector memory carried from gate to gate: the end of the current dead time and the
//! afterpulses waiting to fire. Shared by both engines so they model memory identically.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::Rng;

use crate::photonics::detector::DetectorMemory;
use crate::photonics::link::record::Detection;
use crate::photonics::receiver::{Clicks, Receiver};
use crate::photonics::source::{Basis, IntensityClass};
use crate::rng::unit_open0;

/// The receiver's memory between gates.
#[derive(Debug, Clone, Default)]
pub struct ReceiverState {
    /// First gate at which the receiver is live again.
    pub live_from: u64,
    /// Pending afterpulses: (gate, detector), earliest first.
    pending: BinaryHeap<Reverse<(u64, u8)>>,
}

impl ReceiverState {
    /// Whether any afterpulse is pending.
    #[inline]
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The earliest pending afterpulse at or after `gate`; earlier ones fell in dead time
    /// and are dropped.
    pub fn next_afterpulse(&mut self, gate: u64) -> Option<u64> {
        while let Some(&Reverse((t, _))) = self.pending.peek() {
            if t >= gate {
                return Some(t);
            }
            self.pending.pop();
        }
        None
    }

    /// Removes the afterpulses due at `gate` (and stale earlier ones) and returns which
    /// detectors they fire.
    pub fn take_afterpulses(&mut self, gate: u64) -> Clicks {
        let mut hits = Clicks::NONE;
        while let Some(&Reverse((t, det))) = self.pending.peek() {
            if t > gate {
                break;
            }
            if t == gate {
                hits = hits | Clicks::detector(det as usize);
            }
            self.pending.pop();
        }
        hits
    }

    /// Records a click at `gate` where detectors `hits` avalanched: each may trap a carrier
    /// (afterpulse later) and the receiver goes dead for the following gates.
    pub fn click<R: Rng + ?Sized>(&mut self, gate: u64, hits: Clicks, memory: &DetectorMemory, rng: &mut R) {
        if !memory.afterpulse.is_impossible() {
            for det in 0..4 {
                if hits.contains(det) && memory.afterpulse.hit(rng.next_u64()) {
                    let delay = memory.afterpulse_delay(unit_open0(rng.next_u64()));
                    let at = gate.saturating_add(delay);
                    if at > gate + memory.dead_gates {
                        self.pending.push(Reverse((at, det as u8)));
                    }
                }
            }
        }
        self.live_from = gate + 1 + memory.dead_gates;
    }
}

/// The detection of pulse `pulse` whose gate fired detectors `hits` (at least one), read by
/// `receiver` (`bob_choice` is the basis an active receiver was set to); double clicks are
/// squashed as [`Receiver::read`] says.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn detection<R: Rng + ?Sized>(
    pulse: u64,
    class: IntensityClass,
    source_photons: u32,
    (alice_basis, alice_bit, bob_choice): (Basis, u8, Basis),
    hits: Clicks,
    receiver: Receiver,
    rng: &mut R,
) -> Detection {
    let (bob_basis, bob_bit, double_click) = receiver.read(hits, bob_choice, || rng.next_u64());
    Detection {
        pulse,
        class,
        alice_basis,
        alice_bit,
        bob_basis,
        bob_bit,
        double_click,
        source_photons: source_photons.min(255) as u8,
    }
}
