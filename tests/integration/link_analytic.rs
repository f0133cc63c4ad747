//! Both engines against the analytic gains and error rates of the GYS link (Ma, Qi, Zhao, Lo
//! 2005) at 0, 50 and 100 km, for every intensity class.

use qecnet::photonics::analytic::{gys_error_rate, gys_gain};
use qecnet::photonics::{IntensityClass, LinkConfig, LinkEngine, LinkRun, simulate_link};

use crate::stats::assert_binomial;

fn gys(length_km: f64, engine: LinkEngine, pulses: u64, seed: u64) -> LinkConfig {
    let mut c = LinkConfig::default();
    c.channel.length_km = length_km;
    // More decoy and vacuum pulses than the default, so every class has counts to test.
    c.source.signal_probability = 0.5;
    c.source.decoy_probability = 0.25;
    c.source.vacuum_probability = 0.25;
    c.simulation.engine = engine;
    c.simulation.pulses = pulses;
    c.simulation.seed = seed;
    c
}

fn assert_matches_expectation(run: &LinkRun, label: &str) {
    let t = &run.totals;
    for class in IntensityClass::ALL {
        let k = class.index();
        let expected = run.expected()[k];
        let what = format!("{label} {} gain", class.name());
        assert_binomial(&what, t.class_detections(class), t.class_pulses(class), expected.gain);
        let sifted: u64 = t.sifted[k].iter().sum();
        let errors: u64 = t.errors[k].iter().sum();
        assert_binomial(&format!("{label} {} error rate", class.name()), errors, sifted, expected.error_rate);
    }
}

#[test]
fn pulse_engine_agrees_with_analytic_gains_and_error_rates() {
    for (i, km) in [0.0, 50.0, 100.0].into_iter().enumerate() {
        let config = gys(km, LinkEngine::Pulse, 40_000_000, 100 + i as u64);
        let run = simulate_link(&config, &mut ()).unwrap();
        assert_matches_expectation(&run, &format!("pulse engine at {km} km"));
    }
}

#[test]
fn event_engine_agrees_with_analytic_gains_and_error_rates() {
    for (i, km) in [0.0, 50.0, 100.0].into_iter().enumerate() {
        let config = gys(km, LinkEngine::Event, 4_000_000_000, 200 + i as u64);
        let run = simulate_link(&config, &mut ()).unwrap();
        assert_matches_expectation(&run, &format!("event engine at {km} km"));
    }
}

#[test]
fn expectation_is_the_papers_closed_form() {
    // The engines are tested against the exact model; the exact model against Ma et al.'s
    // eqs. (2)-(3) with Y0 = 1.7e-6, eta = 0.045 * 10^(-0.021 L), e_d = 3.3 %.
    for km in [0.0, 50.0, 100.0] {
        let run = simulate_link(&gys(km, LinkEngine::Event, 1, 1), &mut ()).unwrap();
        let eta = 0.045 * 10f64.powf(-0.21 * km / 10.0);
        for class in IntensityClass::ALL {
            let mu = run.model.config.source.intensity(class);
            let e = run.expected()[class.index()];
            let q = gys_gain(1.7e-6, eta, mu);
            assert!((e.gain - q).abs() / q < 1e-4, "{km} km {}: {} vs {q}", class.name(), e.gain);
            let err = gys_error_rate(1.7e-6, eta, mu, 0.033);
            assert!((e.error_rate - err).abs() / err < 1e-3, "{km} km {}", class.name());
        }
    }
}
