//! The event engine is statistically indistinguishable from the pulse engine: per-class and
//! per-basis counts (two-sample z-tests), the photon numbers behind the detections and the gaps
//! between detections (chi-square homogeneity), with and without detector memory and
//! eavesdroppers, for the active and the passive receiver.

use qecnet::photonics::{Detection, LinkConfig, LinkEngine, LinkObserver, LinkRun, Receiver, simulate_link};

use crate::stats::{Z_TOLERANCE, chi_square_homogeneity, z_two_sample};

/// Histogram of the gates between consecutive detections: bins 1..=40, then > 40.
#[derive(Default)]
struct Gaps {
    last: Option<u64>,
    histogram: Vec<u64>,
}

impl LinkObserver for Gaps {
    fn detection(&mut self, d: &Detection) {
        if self.histogram.is_empty() {
            self.histogram = vec![0; 41];
        }
        if let Some(last) = self.last {
            let gap = (d.pulse - last).min(41) as usize;
            self.histogram[gap - 1] += 1;
        }
        self.last = Some(d.pulse);
    }
}

fn run(config: &LinkConfig, engine: LinkEngine, seed: u64) -> (LinkRun, Vec<u64>) {
    let mut c = config.clone();
    c.simulation.engine = engine;
    c.simulation.seed = seed;
    let mut gaps = Gaps::default();
    let run = simulate_link(&c, &mut gaps).unwrap();
    (run, gaps.histogram)
}

fn assert_engines_agree(label: &str, config: &LinkConfig) {
    let (pulse, pulse_gaps) = run(config, LinkEngine::Pulse, 1);
    let (event, event_gaps) = run(config, LinkEngine::Event, 2);
    assert_totals_agree(label, &pulse.totals, &event.totals);
    let p = chi_square_homogeneity(&pulse_gaps, &event_gaps);
    assert!(p > 1e-4, "{label}: gap distributions differ (p = {p:.2e})\npulse {pulse_gaps:?}\nevent {event_gaps:?}");
}

/// Names of the per-basis figures.
const BASES: [(&str, &str); 2] =
    [("Z sifted/detections", "Z errors/sifted"), ("X sifted/detections", "X errors/sifted")];

fn assert_totals_agree(label: &str, a: &qecnet::photonics::Totals, b: &qecnet::photonics::Totals) {
    for k in 0..3 {
        let figures = [
            (
                "detections/pulses",
                a.detections[k].iter().sum(),
                a.pulses[k].iter().sum(),
                b.detections[k].iter().sum(),
                b.pulses[k].iter().sum(),
            ),
            (
                "errors/sifted",
                a.errors[k].iter().sum(),
                a.sifted[k].iter().sum(),
                b.errors[k].iter().sum(),
                b.sifted[k].iter().sum(),
            ),
            (
                "double clicks/detections",
                a.double_clicks[k],
                a.detections[k].iter().sum(),
                b.double_clicks[k],
                b.detections[k].iter().sum(),
            ),
            ("Z pulses/pulses", a.pulses[k][0], a.pulses[k].iter().sum(), b.pulses[k][0], b.pulses[k].iter().sum()),
        ];
        let by_basis = [0, 1].into_iter().flat_map(|i| {
            [
                (BASES[i].0, a.sifted[k][i], a.detections[k][i], b.sifted[k][i], b.detections[k][i]),
                (BASES[i].1, a.errors[k][i], a.sifted[k][i], b.errors[k][i], b.sifted[k][i]),
            ]
        });
        for (name, x1, n1, x2, n2) in figures.into_iter().chain(by_basis) {
            if n1 == 0 || n2 == 0 {
                continue;
            }
            let z = z_two_sample(x1, n1, x2, n2);
            assert!(
                z.abs() < Z_TOLERANCE,
                "{label}, class {k}, {name}: pulse {x1}/{n1} vs event {x2}/{n2}, z = {z:.2}"
            );
        }
        let p = chi_square_homogeneity(&a.detections_by_source_photons[k], &b.detections_by_source_photons[k]);
        assert!(p > 1e-4, "{label}, class {k}: photon numbers differ (p = {p:.2e})");
    }
}

fn bright_link() -> LinkConfig {
    let mut c = LinkConfig::default();
    c.channel.length_km = 10.0;
    c.detector.efficiency = 0.2;
    c.detector.dark_count_probability = 1e-4;
    c.simulation.pulses = 10_000_000;
    c
}

#[test]
fn engines_agree_without_memory() {
    assert_engines_agree("memoryless", &bright_link());
}

#[test]
fn engines_agree_with_dead_time_and_afterpulsing() {
    let mut c = bright_link();
    c.detector.dead_time_ns = 1000.0; // 2 gates at 2 MHz
    c.detector.afterpulse_probability = 0.2;
    c.detector.afterpulse_time_constant_ns = 5000.0; // 10 gates
    assert_engines_agree("dead time + afterpulsing", &c);
}

#[test]
fn engines_agree_with_long_dead_time() {
    let mut c = bright_link();
    c.detector.dead_time_ns = 10_000.0; // 20 gates
    c.detector.afterpulse_probability = 0.05;
    c.detector.afterpulse_time_constant_ns = 20_000.0;
    assert_engines_agree("long dead time", &c);
}

#[test]
fn engines_agree_under_attack() {
    let mut c = bright_link();
    c.eve.intercept_resend_fraction = 0.3;
    c.eve.photon_number_splitting = true;
    c.eve.pns_block_single_fraction = 0.4;
    c.eve.lossless_channel = true;
    c.eve.depolarising = 0.05;
    assert_engines_agree("intercept-resend + PNS + noise", &c);
}

#[test]
fn block_engine_agrees_with_event_engine_without_memory() {
    // Exact in distribution without memory: same tolerance as pulse vs event.
    for (label, config) in [
        ("bright", bright_link()),
        ("gys 50 km", {
            let mut c = LinkConfig::default();
            c.simulation.pulses = 4_000_000_000;
            c
        }),
    ] {
        let (event, _) = run(&config, LinkEngine::Event, 3);
        let (block, _) = run(&config, LinkEngine::Block, 4);
        assert_totals_agree(&format!("block vs event, {label}"), &event.totals, &block.totals);
    }
}

#[test]
fn block_engine_approximates_weak_detector_memory() {
    // First-order memory: at 50 km (click probability ~2e-3 per gate) with 10 dead gates and
    // 2 % afterpulsing the neglected terms are O((D·c)², p_ap·D·c) ~ 4e-4 relative, below the
    // statistical resolution of 1e9 pulses (~7e-4 relative on the signal gain).
    let mut c = LinkConfig::default();
    c.simulation.pulses = 1_000_000_000;
    c.detector.dead_time_ns = 5000.0;
    c.detector.afterpulse_probability = 0.02;
    let (event, _) = run(&c, LinkEngine::Event, 5);
    let (block, _) = run(&c, LinkEngine::Block, 6);
    assert_totals_agree("block vs event with weak memory", &event.totals, &block.totals);
}

/// The bright link with a passive receiver and an unbalanced beam splitter.
fn bright_passive_link() -> LinkConfig {
    let mut c = bright_link();
    c.detector.receiver = Receiver::Passive;
    c.detector.z_basis_probability = 0.7;
    c
}

#[test]
fn engines_agree_with_a_passive_receiver() {
    assert_engines_agree("passive", &bright_passive_link());
}

#[test]
fn engines_agree_with_a_passive_receiver_with_memory_under_attack() {
    let mut c = bright_passive_link();
    c.detector.dead_time_ns = 1000.0;
    c.detector.afterpulse_probability = 0.2;
    c.detector.afterpulse_time_constant_ns = 5000.0;
    c.eve.intercept_resend_fraction = 0.3;
    c.eve.photon_number_splitting = true;
    c.eve.pns_block_single_fraction = 0.4;
    c.eve.lossless_channel = true;
    assert_engines_agree("passive, memory, intercept-resend + PNS", &c);
}

#[test]
fn block_engine_approximates_weak_detector_memory_of_a_passive_receiver() {
    // As for the active receiver above, with an 80:20 beam splitter (the block engine counts
    // afterpulses in Bob's bases as the beam splitter shares the light; whether they follow
    // that share or split evenly is below the resolution of 1e9 pulses here).
    let mut c = LinkConfig::default();
    c.simulation.pulses = 1_000_000_000;
    c.detector.receiver = Receiver::Passive;
    c.detector.z_basis_probability = 0.8;
    c.detector.dead_time_ns = 5000.0;
    c.detector.afterpulse_probability = 0.02;
    let (event, _) = run(&c, LinkEngine::Event, 9);
    let (block, _) = run(&c, LinkEngine::Block, 10);
    assert_totals_agree("block vs event, passive, weak memory", &event.totals, &block.totals);
}

#[test]
fn block_engine_agrees_with_event_engine_for_a_passive_receiver() {
    let config = bright_passive_link();
    let (event, _) = run(&config, LinkEngine::Event, 7);
    let (block, _) = run(&config, LinkEngine::Block, 8);
    assert_totals_agree("block vs event, passive", &event.totals, &block.totals);
}
