//! Key-rate formulas against values computed here from the papers' equations, and the trends
//! of the finite-key analysis.

use qecnet::photonics::LinkConfig;
use qecnet::postprocess::PostprocessSettings;
use qecnet::postprocess::{KeyRateModel, MaxDistance, binary_entropy, key_rate, max_distance, optimise, shor_preskill};

fn gys(km: f64) -> LinkConfig {
    let mut c = LinkConfig::default();
    c.channel.length_km = km;
    c
}

fn ma_settings() -> PostprocessSettings {
    // Ma, Qi, Zhao, Lo 2005 use f(E) = 1.22.
    PostprocessSettings { error_correction_efficiency: 1.22, ..PostprocessSettings::default() }
}

#[test]
fn shor_preskill_vanishes_at_the_bb84_threshold() {
    // 1 − 2h(Q) = 0 at Q = 0.110028 (Shor, Preskill 2000: "about 11 %").
    let (mut low, mut high) = (0.01, 0.4);
    for _ in 0..100 {
        let mid = 0.5 * (low + high);
        if shor_preskill(mid) > 0.0 { low = mid } else { high = mid }
    }
    assert!((low - 0.110_028).abs() < 1e-6, "root at {low}");
    assert!((binary_entropy(0.5) - 1.0).abs() < 1e-15);
    assert_eq!(binary_entropy(0.0), 0.0);
}

#[test]
fn decoy_rates_follow_the_gys_equations() {
    // Infinite-decoy GLLP rate from the closed forms of Ma, Qi, Zhao, Lo 2005 (eqs. 2, 3, 8):
    // Q_μ = Y0 + 1 − e^(−ημ), E_μ Q_μ = e0 Y0 + e_d(1 − e^(−ημ)), Y1 = Y0 + η,
    // e1 = (e0 Y0 + e_d η)/Y1, R = ½{−Q_μ f h(E_μ) + Q_1[1 − h(e1)]}.
    let (y0, e_d, mu, f) = (1.7e-6, 0.033, 0.48, 1.22);
    for km in [10.0, 50.0, 100.0, 130.0] {
        let eta = 0.045 * 10f64.powf(-0.021 * km);
        let q = y0 + 1.0 - (-eta * mu).exp();
        let e = (0.5 * y0 + e_d * (1.0 - (-eta * mu).exp())) / q;
        let y1 = y0 + eta;
        let e1 = (0.5 * y0 + e_d * eta) / y1;
        let expected = 0.5 * (-q * f * binary_entropy(e) + y1 * mu * (-mu).exp() * (1.0 - binary_entropy(e1)));
        let got = key_rate(KeyRateModel::DecoyInfinite, &gys(km), &ma_settings(), None).unwrap().rate_per_pulse;
        assert!((got - expected).abs() / expected < 2e-3, "{km} km: {got} vs {expected}");
    }
}

#[test]
fn model_ordering_and_distances_on_gys() {
    let s = ma_settings();
    for km in [20.0, 60.0, 100.0] {
        let rate = |m| key_rate(m, &gys(km), &s, None).unwrap().rate_per_pulse;
        let (inf, vw) = (rate(KeyRateModel::DecoyInfinite), rate(KeyRateModel::DecoyVacuumWeak));
        assert!(vw <= inf && vw > 0.8 * inf, "{km} km: vacuum+weak {vw} vs infinite {inf}");
    }
    let d = |m, opt| max_distance(m, &gys(0.0), &s, opt).unwrap().km().unwrap();
    let infinite = d(KeyRateModel::DecoyInfinite, true);
    let vacuum_weak = d(KeyRateModel::DecoyVacuumWeak, true);
    let gllp = d(KeyRateModel::Gllp, true);
    // Ma et al. 2005 report about 142 km for GYS with decoys and a few tens of km without.
    assert!((135.0..150.0).contains(&infinite), "infinite decoy: {infinite} km");
    assert!(vacuum_weak <= infinite && vacuum_weak > infinite - 5.0, "vacuum+weak: {vacuum_weak} km");
    assert!(gllp > 10.0 && gllp < 0.5 * infinite, "GLLP: {gllp} km");
}

#[test]
fn finite_key_grows_with_the_block() {
    let scenario: qecnet::link_scenario::LinkScenario =
        qecnet::config::load(Some(std::path::Path::new("sims/link-lim2014.toml")), &[]).unwrap();
    let mut c = scenario.link();
    c.source.z_basis_probability = 0.7;
    c.detector.z_basis_probability = 0.7;
    let mut previous = 0.0;
    for n in [1e4, 1e6, 1e8, 1e10] {
        let s = PostprocessSettings { block_size: n as u64, ..PostprocessSettings::default() };
        let r = key_rate(KeyRateModel::Lim2014, &c, &s, None).unwrap().rate_per_pulse;
        assert!(r >= previous, "block {n}: {r} < {previous}");
        previous = r;
    }
    let small = PostprocessSettings { block_size: 1000, ..PostprocessSettings::default() };
    assert_eq!(key_rate(KeyRateModel::Lim2014, &c, &small, None).unwrap().rate_per_pulse, 0.0);
    // Longer blocks reach further.
    let reach = |n: f64| {
        let s = PostprocessSettings { block_size: n as u64, ..PostprocessSettings::default() };
        max_distance(KeyRateModel::Lim2014, &c, &s, false).unwrap().km().unwrap_or(0.0)
    };
    let (near, far) = (reach(1e6), reach(1e9));
    assert!(far > near + 10.0, "max distance {near} km at 1e6 vs {far} km at 1e9");
    let s = PostprocessSettings::default();
    // Optimising never loses.
    let (_, best) = optimise(KeyRateModel::Lim2014, &c, &PostprocessSettings { block_size: 1e7 as u64, ..s }).unwrap();
    let plain =
        key_rate(KeyRateModel::Lim2014, &c, &PostprocessSettings { block_size: 1e7 as u64, ..s }, None).unwrap();
    assert!(best.rate_per_pulse >= plain.rate_per_pulse);
}

#[test]
fn a_link_with_key_at_every_length_reports_no_maximum_rather_than_no_key() {
    // A lossless fibre: the rate is the same at every length, so the search runs out first.
    let mut c = gys(0.0);
    c.channel.attenuation_db_per_km = 0.0;
    let reach = max_distance(KeyRateModel::ShorPreskill, &c, &ma_settings(), false).unwrap();
    let MaxDistance::BeyondSearch { searched_km } = reach else { panic!("{reach:?}") };
    assert!(searched_km >= 2000.0, "{searched_km}");
    assert_eq!(reach.km(), None);
    let keyrate = |set: &str| {
        let out =
            crate::util::qecnet(&["keyrate", "--model", "shor-preskill", "--set", set, "--max-distance", "--json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let json = keyrate("channel.attenuation_db_per_km=0");
    assert_eq!(json["max_distance_unbounded"], true, "{json}");
    assert_eq!(json["max_distance_km"].as_f64(), Some(searched_km), "{json}");
    // A link with no key at all: `null`, and no `max_distance_unbounded`.
    let json = keyrate("detector.misalignment=0.2");
    assert!(json["max_distance_km"].is_null() && json.get("max_distance_unbounded").is_none(), "{json}");
}
