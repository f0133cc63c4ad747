//! The passive receiver (a beam splitter and two detectors per basis) in every engine: the
//! pulse engine, photon by photon, against the hand-derived closed form
//! [`passive_coherent`]; the event and block engines against the pulse engine; per basis,
//! since an unbalanced beam splitter makes the two bases' error rates differ.

use qecnet::photonics::Totals;
use qecnet::photonics::analytic::passive_coherent;
use qecnet::photonics::{IntensityClass, LinkConfig, LinkEngine, Receiver, simulate_link};

use crate::stats::assert_binomial;

/// A bright passive link with an unbalanced beam splitter (80 % to the Z arm), dark counts
/// and misalignment large enough for clicks in both arms to matter.
fn bright_passive() -> LinkConfig {
    let mut c = LinkConfig::default();
    c.channel.length_km = 10.0;
    c.detector.receiver = Receiver::Passive;
    c.detector.efficiency = 0.3;
    c.detector.dark_count_probability = 1e-3;
    c.detector.misalignment = 0.02;
    c.detector.z_basis_probability = 0.8;
    c.source.z_basis_probability = 0.6;
    c.source.signal_intensity = 0.8;
    c.source.decoy_intensity = 0.2;
    c.source.signal_probability = 0.5;
    c.source.decoy_probability = 0.3;
    c.source.vacuum_probability = 0.2;
    c.simulation.pulses = 20_000_000;
    c
}

/// Every class and basis of `totals` against the closed form of `config`.
fn assert_matches_closed_form(label: &str, config: &LinkConfig, t: &Totals) {
    let eta = config.channel.transmittance() * config.detector.efficiency;
    let d = &config.detector;
    for class in IntensityClass::ALL {
        let k = class.index();
        let mu = config.source.intensity(class);
        let expected = passive_coherent(mu, eta, d.dark_count_probability, d.misalignment, d.z_basis_probability);
        let what = |figure: &str| format!("{label}, {}: {figure}", class.name());
        assert_binomial(&what("gain"), t.class_detections(class), t.class_pulses(class), expected.gain);
        let alice_z = config.source.z_basis_probability;
        let doubles = alice_z * expected.double_click[0] + (1.0 - alice_z) * expected.double_click[1];
        assert_binomial(&what("double clicks"), t.double_clicks[k], t.class_detections(class), doubles / expected.gain);
        for (b, basis) in ["Z", "X"].into_iter().enumerate() {
            let sifted = expected.sifted[b];
            assert_binomial(&what(&format!("sifted {basis}")), t.sifted[k][b], t.pulses[k][b], sifted);
            let error_rate = expected.errors[b] / sifted;
            assert_binomial(&what(&format!("error rate {basis}")), t.errors[k][b], t.sifted[k][b], error_rate);
        }
    }
}

#[test]
fn pulse_engine_agrees_with_the_passive_closed_form() {
    let mut c = bright_passive();
    c.simulation.engine = LinkEngine::Pulse;
    c.simulation.seed = 31;
    let run = simulate_link(&c, &mut ()).unwrap();
    assert_matches_closed_form("pulse engine, bright passive", &c, &run.totals);
    // The bases really differ: the X arm sees 20 % of the light, so a larger share of its
    // detections are dark counts and clicks in both arms.
    let e = run.expected()[0].error_rate_by_basis;
    assert!(e[1] > e[0] + 0.01, "expected X error rate {} vs Z {}", e[1], e[0]);
}

#[test]
fn event_and_block_engines_agree_with_the_passive_closed_form() {
    for (engine, pulses, seed) in [(LinkEngine::Event, 200_000_000, 32), (LinkEngine::Block, 1_000_000_000, 33)] {
        let mut c = bright_passive();
        c.simulation.engine = engine;
        c.simulation.pulses = pulses;
        c.simulation.seed = seed;
        let run = simulate_link(&c, &mut ()).unwrap();
        assert_matches_closed_form(&format!("{} engine, bright passive", engine.name()), &c, &run.totals);
    }
}

#[test]
fn gys_link_with_a_passive_receiver_agrees_with_the_closed_form() {
    // The GYS link with a balanced passive receiver whose four detectors add up to the same
    // dark-count yield Y0 = 1.7e-6, at 0 and 50 km.
    for (i, km) in [0.0, 50.0].into_iter().enumerate() {
        let mut c = LinkConfig::default();
        c.channel.length_km = km;
        c.detector.receiver = Receiver::Passive;
        c.detector.dark_count_probability = 1.0 - (1.0 - 1.7e-6f64).powf(0.25);
        c.source.signal_probability = 0.5;
        c.source.decoy_probability = 0.25;
        c.source.vacuum_probability = 0.25;
        c.simulation.engine = LinkEngine::Event;
        c.simulation.pulses = 4_000_000_000;
        c.simulation.seed = 40 + i as u64;
        let run = simulate_link(&c, &mut ()).unwrap();
        assert!((c.detector.dark_yield() - 1.7e-6).abs() < 1e-15);
        assert_matches_closed_form(&format!("GYS passive at {km} km"), &c, &run.totals);
    }
}
