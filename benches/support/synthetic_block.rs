//! A post-processing block without a simulation, shared by `benches/pipeline.rs` and
//! `examples/pipeline_timing.rs`: the 1 GHz decoy link both use and a stream of the detection
//! records it would produce.

use qecnet::photonics::{Basis, Detection, IntensityClass, LinkConfig, LinkEngine};
use qecnet::rng::{SimRng, derive_rng};
use rand::Rng;

/// The link of the integration tests at 50 km as the pipeline sees it: 1 GHz, signal 0.5,
/// decoy 0.1 (probabilities 0.6, 0.25, 0.15 with the vacuum), event engine.
pub fn link() -> LinkConfig {
    let mut link = LinkConfig::default();
    link.source.repetition_rate_hz = 1e9;
    link.source.signal_intensity = 0.5;
    link.source.decoy_intensity = 0.1;
    link.source.signal_probability = 0.6;
    link.source.decoy_probability = 0.25;
    link.source.vacuum_probability = 0.15;
    link.simulation.engine = LinkEngine::Event;
    link
}

/// Detections as [`link`] at 50 km would produce them (signal and decoy detections in the
/// ratio of their gains, errors at `qber`, vacuum detections at the dark-count rate with 50 %
/// errors, about one detection in 52 pulses, a 50/50 basis choice), each handed to `sink`
/// until it returns false.
pub fn detections(qber: f64, seed: u64, mut sink: impl FnMut(&Detection) -> bool) {
    let mut rng = derive_rng(seed, &[0]);
    let uniform = |rng: &mut SimRng| rng.next_u64() as f64 / u64::MAX as f64;
    let mut pulse = 0u64;
    loop {
        pulse += 1 + rng.next_u64() % 103;
        let u = uniform(&mut rng);
        let (class, qber) = if u < 0.922 {
            (IntensityClass::Signal, qber)
        } else if u < 1.0 - 1.5e-7 {
            (IntensityClass::Decoy, qber)
        } else {
            (IntensityClass::Vacuum, 0.5)
        };
        let basis = if rng.next_u64() & 1 == 0 { Basis::Z } else { Basis::X };
        let alice_bit = (rng.next_u64() & 1) as u8;
        let error = uniform(&mut rng) < qber;
        let more = sink(&Detection {
            pulse,
            class,
            alice_basis: basis,
            alice_bit,
            bob_basis: basis,
            bob_bit: alice_bit ^ u8::from(error),
            double_click: false,
            source_photons: 1,
        });
        if !more {
            return;
        }
    }
}
