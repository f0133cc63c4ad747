//! Eavesdroppers: intercept-resend adds the QBER derived in `analytic`; photon-number
//! splitting leaves the QBER unchanged while shifting Bob's detections to multi-photon pulses.

use qecnet::photonics::analytic::{intercept_resend_error_rate, intercept_resend_qber_ideal};
use qecnet::photonics::poisson_photon_numbers;
use qecnet::photonics::{Basis, IntensityClass, LinkConfig, LinkEngine, LinkModel, simulate_link};

use crate::stats::assert_binomial;

fn signal_z(run: &qecnet::photonics::LinkRun) -> (u64, u64) {
    let s = IntensityClass::Signal.index();
    (run.totals.errors[s][Basis::Z.index()], run.totals.sifted[s][Basis::Z.index()])
}

#[test]
fn intercept_resend_on_an_ideal_link_adds_a_quarter_of_the_fraction() {
    for (i, p) in [1.0, 0.5, 0.2].into_iter().enumerate() {
        let mut c = LinkConfig::default();
        c.channel.length_km = 0.0;
        c.detector.efficiency = 1.0;
        c.detector.dark_count_probability = 0.0;
        c.detector.misalignment = 0.0;
        c.eve.intercept_resend_fraction = p;
        c.simulation.engine = LinkEngine::Pulse;
        c.simulation.pulses = 2_000_000;
        c.simulation.seed = 10 + i as u64;
        let run = simulate_link(&c, &mut ()).unwrap();
        let (errors, sifted) = signal_z(&run);
        assert_binomial(&format!("ideal link, p = {p}"), errors, sifted, intercept_resend_qber_ideal(p));
    }
}

#[test]
fn intercept_resend_with_misalignment_and_dark_counts_matches_the_derived_expectation() {
    for (i, p) in [1.0, 0.5, 0.2].into_iter().enumerate() {
        let mut c = LinkConfig::default();
        c.channel.length_km = 20.0;
        c.detector.dark_count_probability = 2e-5; // large enough to matter
        c.eve.intercept_resend_fraction = p;
        c.simulation.engine = LinkEngine::Pulse;
        c.simulation.pulses = 20_000_000;
        c.simulation.seed = 20 + i as u64;
        let run = simulate_link(&c, &mut ()).unwrap();
        let eta = c.channel.transmittance() * c.detector.efficiency;
        let closed = intercept_resend_error_rate(p, 0.48, eta, 2e-5, 0.033);
        let (errors, sifted) = signal_z(&run);
        assert_binomial(&format!("GYS 20 km, p = {p}: QBER"), errors, sifted, closed.error_rate);
        let t = &run.totals;
        let signal = IntensityClass::Signal;
        assert_binomial(&format!("p = {p}: gain"), t.class_detections(signal), t.class_pulses(signal), closed.gain);
    }
}

/// P(source pulse had ≥ 2 photons | Bob clicked), computed here from the Poisson law and the
/// per-photon detection probability, for an honest link and for PNS with a lossless channel.
fn multi_photon_share(mu: f64, fibre: f64, eve: Option<(f64, f64)>, p_dc: f64) -> f64 {
    let silent_dark = (1.0 - p_dc).powi(2);
    let (mut multi, mut total) = (0.0, 0.0);
    for (n, pn) in poisson_photon_numbers(mu).into_iter().enumerate() {
        let n = n as i32;
        let click = match eve {
            None => 1.0 - (1.0 - fibre).powi(n) * silent_dark,
            Some((block, eta_bob)) => match n {
                0 => 1.0 - silent_dark,
                1 => block * (1.0 - silent_dark) + (1.0 - block) * (1.0 - (1.0 - eta_bob) * silent_dark),
                _ => 1.0 - (1.0 - eta_bob).powi(n - 1) * silent_dark,
            },
        };
        total += pn * click;
        if n >= 2 {
            multi += pn * click;
        }
    }
    multi / total
}

#[test]
fn photon_number_splitting_keeps_the_qber_and_changes_the_photon_statistics() {
    let mut honest = LinkConfig::default();
    honest.channel.length_km = 25.0; // short enough that Eve can match the gain with multi-photons
    honest.simulation.engine = LinkEngine::Pulse;
    honest.simulation.pulses = 40_000_000;
    honest.simulation.seed = 30;
    let honest_model = LinkModel::new(&honest).unwrap();
    let honest_gain = honest_model.expected[0].gain;

    // Eve replaces the fibre by a lossless one and blocks just enough single photons that
    // Bob's signal gain is what he expects from the honest link.
    let mut pns = honest.clone();
    pns.eve.photon_number_splitting = true;
    pns.eve.lossless_channel = true;
    let (mut low, mut high) = (0.0, 1.0);
    for _ in 0..60 {
        let mid: f64 = 0.5 * (low + high);
        pns.eve.pns_block_single_fraction = mid;
        if LinkModel::new(&pns).unwrap().expected[0].gain > honest_gain { low = mid } else { high = mid }
    }
    pns.eve.pns_block_single_fraction = 0.5 * (low + high);
    let block = pns.eve.pns_block_single_fraction;
    assert!(block > 0.2 && block < 1.0, "PNS blocks a share of single photons at 25 km: {block}");
    pns.simulation.seed = 31;

    let honest_run = simulate_link(&honest, &mut ()).unwrap();
    let pns_run = simulate_link(&pns, &mut ()).unwrap();
    let signal = IntensityClass::Signal;

    // Bob's gain looks normal and the QBER is the honest one.
    let t = &pns_run.totals;
    assert_binomial("PNS signal gain vs honest", t.class_detections(signal), t.class_pulses(signal), honest_gain);
    let (errors, sifted) = signal_z(&pns_run);
    assert_binomial("PNS QBER vs honest expectation", errors, sifted, honest_model.expected_qber());

    // But Bob's detections now come from multi-photon pulses.
    let fibre = honest.channel.transmittance() * honest.detector.efficiency;
    let p_dc = honest.detector.dark_count_probability;
    let honest_share = multi_photon_share(0.48, fibre, None, p_dc);
    let pns_share = multi_photon_share(0.48, fibre, Some((block, honest.detector.efficiency)), p_dc);
    for (label, run, share) in [("honest", &honest_run, honest_share), ("PNS", &pns_run, pns_share)] {
        let by_n = run.totals.detections_by_source_photons[signal.index()];
        assert_binomial(&format!("{label} multi-photon share"), by_n[2], by_n.iter().sum(), share);
    }
    assert!(pns_share > honest_share + 0.3, "PNS share {pns_share} vs honest {honest_share}");
}
