//! The post-processing pipeline on simulated links: final keys agree, the secret key rate
//! matches the analytic finite-key rate of the same bound, intercept-resend leaves no key,
//! every disclosed bit is accounted for, and `qecnet link --postprocess` reports it.

use qecnet::photonics::LinkExpectation;
use qecnet::photonics::{LinkConfig, simulate_link};
use qecnet::postprocess::VerificationHash;
use qecnet::postprocess::cascade::CascadeVariant;
use qecnet::postprocess::ldpc::{BlindReconciler, LdpcReconciler};
use qecnet::postprocess::{AbortReason, BlockReport, Pipeline, PipelineConfig, PipelineReport, Reconciliation};
use qecnet::postprocess::{BasisCounts, Lim2014};
use qecnet::postprocess::{KeyRateModel, binary_entropy, key_rate};
use qecnet::postprocess::{PostprocessSettings, Security};
use qecnet::rng::derive_rng;

use crate::stats::Z_TOLERANCE;
use crate::util::{OutputText, TempDir, qecnet};

/// A modern memoryless link (1 GHz, 60 % detectors, 10⁻⁸ dark counts, 1 % misalignment) with
/// the event engine.
fn modern_link(km: f64, pulses: u64, seed: u64) -> LinkConfig {
    let mut c = LinkConfig::modern(km);
    c.simulation.pulses = pulses;
    c.simulation.seed = seed;
    c
}

fn settings(block_size: u64, security: Security) -> PostprocessSettings {
    PostprocessSettings { block_size, security, ..PostprocessSettings::default() }
}

/// Key-basis detections expected per pulse (all classes).
fn key_per_pulse(link: &LinkConfig) -> f64 {
    let model = LinkExpectation::new(link).unwrap();
    let share = link.source.z_basis_probability * link.detector.z_basis_probability;
    (0..3).map(|k| model.class_probabilities[k] * share * model.expected[k].gain).sum()
}

/// Pulses for about `blocks` blocks of `block_size` key bits.
fn pulses_for(link: &LinkConfig, block_size: u64, blocks: f64) -> u64 {
    (blocks * block_size as f64 / key_per_pulse(link)) as u64
}

/// What a key sink saw of one block: index, length of Alice's and Bob's keys, whether equal.
type SeenKey = (u64, usize, usize, bool);

fn run(link: &LinkConfig, config: PipelineConfig) -> (PipelineReport, Vec<SeenKey>) {
    let mut seen = Vec::new();
    let mut pipeline = Pipeline::new(config, link)
        .unwrap()
        .with_key_sink(|r: &BlockReport, a, b| seen.push((r.index, a.len(), b.len(), a == b)));
    let run = simulate_link(link, &mut pipeline).unwrap();
    let report = pipeline.finish(&run).unwrap();
    (report, seen)
}

#[test]
fn final_keys_agree_at_several_qbers() {
    let block = 200_000;
    for (i, qber) in [0.015, 0.03, 0.05].into_iter().enumerate() {
        let mut link = modern_link(10.0, 1, 40 + i as u64);
        link.eve.target_qber = qber;
        link.simulation.pulses = pulses_for(&link, block, 3.0);
        // Asymptotic bound: key at every one of these QBERs with blocks this small.
        let config = PipelineConfig::new(settings(block, Security::Asymptotic), 7);
        let (report, seen) = run(&link, config);
        let produced: Vec<&BlockReport> = report.blocks.iter().filter(|b| b.produced_key()).collect();
        assert!(!produced.is_empty(), "QBER {qber}: no block gave key: {:?}", report.summary);
        assert_eq!(seen.len(), produced.len(), "QBER {qber}: every key block reaches the sink");
        for (b, &(index, alice_len, bob_len, equal)) in produced.iter().zip(&seen) {
            assert_eq!(index, b.index);
            assert!(equal, "QBER {qber}, block {index}: final keys differ");
            assert_eq!((alice_len, bob_len), (b.final_bits as usize, b.final_bits as usize));
            assert_eq!(b.residual_errors, 0, "QBER {qber}, block {index}: verified with residual errors");
        }
        assert_eq!(report.summary.final_key_mismatches, 0);
        // The sample estimate is within Z_TOLERANCE binomial standard deviations of the block.
        for b in &report.blocks {
            if b.abort_reason == AbortReason::Dropped {
                continue;
            }
            let sd = (b.qber_true * (1.0 - b.qber_true) / b.sample_bits as f64).sqrt();
            assert!((b.qber_estimated - b.qber_true).abs() < Z_TOLERANCE * sd, "QBER {qber}: {b:?}");
            assert!((b.qber_true - qber).abs() < 0.1 * qber, "target {qber}, block {}", b.qber_true);
        }
    }
}

/// Expected key- and test-basis counts of a block of `n` key bits, and its pulses (the same
/// model as `key_rate(Lim2014)`).
fn expected_block(link: &LinkConfig, n: f64) -> (BasisCounts, BasisCounts, f64, f64) {
    let model = LinkExpectation::new(link).unwrap();
    let (pa, pb) = (link.source.z_basis_probability, link.detector.z_basis_probability);
    let pulses = n / key_per_pulse(link);
    let counts = |share: f64| {
        let mut c = BasisCounts::default();
        for k in 0..3 {
            c.detections[k] = pulses * model.class_probabilities[k] * share * model.expected[k].gain;
            c.errors[k] = c.detections[k] * model.expected[k].error_rate;
        }
        c
    };
    let key = counts(pa * pb);
    let e_key = key.total_errors() / key.total_detections();
    (key, counts((1.0 - pa) * (1.0 - pb)), pulses, e_key)
}

#[test]
fn secret_key_rate_matches_the_finite_key_analysis_at_three_distances() {
    let block = 1_000_000u64;
    let s = settings(block, Security::Finite);
    for (i, km) in [25.0, 50.0, 75.0].into_iter().enumerate() {
        let mut link = modern_link(km, 1, 60 + i as u64);
        link.simulation.pulses = pulses_for(&link, block, 4.5);
        let (report, _) = run(&link, PipelineConfig::new(s.clone(), 9));
        let full: Vec<&BlockReport> = report.blocks.iter().filter(|b| b.n_sifted == block).collect();
        assert!(full.len() >= 3, "{km} km: {} full blocks", full.len());
        assert!(full.iter().all(|b| b.produced_key()), "{km} km: {:?}", report.blocks);

        // Everything disclosed per block, and the analytic rate with f_EC replaced by it.
        let disclosed = |b: &BlockReport| (b.sample_bits + b.leak_ec_bits + b.verification_bits) as f64;
        let mean_disclosed = full.iter().map(|b| disclosed(b)).sum::<f64>() / full.len() as f64;
        let (key, test, pulses, e_key) = expected_block(&link, block as f64);
        let f_eff = mean_disclosed / (block as f64 * binary_entropy(e_key));
        let analytic_settings = PostprocessSettings { error_correction_efficiency: f_eff, ..s.clone() };
        let analytic = key_rate(KeyRateModel::Lim2014, &link, &analytic_settings, None).unwrap().rate_per_pulse;

        // Each block's length at the mean disclosure, per pulse of the block.
        let rates: Vec<f64> =
            full.iter().map(|b| (b.final_bits as f64 + disclosed(b) - mean_disclosed) / b.pulses as f64).collect();
        let measured = rates.iter().sum::<f64>() / rates.len() as f64;

        // Standard deviation of one block's length: the bound's response to a one-sigma
        // (Poisson, sqrt(count): above the multinomial spread at fixed n) change of each count,
        // added in quadrature; plus the spread of the pulses a block of n key bits spans.
        let lim = Lim2014 {
            intensities: [link.source.signal_intensity, link.source.decoy_intensity, link.source.vacuum_intensity],
            probabilities: [
                link.source.signal_probability,
                link.source.decoy_probability,
                link.source.vacuum_probability,
            ],
            epsilon_sec: s.epsilon_sec,
        };
        let length = |key: &BasisCounts, test: &BasisCounts| lim.key_length(key, test, mean_disclosed, s.epsilon_cor);
        let base = length(&key, &test);
        let mut variance = 0.0;
        for k in 0..3 {
            let mut kk = key;
            kk.detections[k] += key.detections[k].sqrt();
            variance += (length(&kk, &test) - base).powi(2);
            let mut tt = test;
            tt.detections[k] += test.detections[k].sqrt();
            variance += (length(&key, &tt) - base).powi(2);
            let mut te = test;
            te.errors[k] += test.errors[k].sqrt();
            variance += (length(&key, &te) - base).powi(2);
        }
        let sd_rate = ((variance + 1.0) / (pulses * pulses) + analytic * analytic / block as f64).sqrt();
        let tolerance = Z_TOLERANCE * sd_rate / (rates.len() as f64).sqrt();
        let spread = (rates.iter().map(|r| (r - measured).powi(2)).sum::<f64>() / (rates.len() - 1) as f64).sqrt();
        eprintln!(
            "{km} km: measured {measured:.5e}/pulse, analytic {analytic:.5e} (f_eff {f_eff:.4}, efficiency {:?}), \
             tolerance {tolerance:.3e}, block-to-block sd {spread:.3e} vs predicted {sd_rate:.3e}",
            report.summary.reconciliation_efficiency
        );
        assert!(
            (measured - analytic).abs() < tolerance,
            "{km} km: measured {measured:e} vs analytic {analytic:e} per pulse, tolerance {tolerance:e}"
        );
        // And the total rate of the run (the tail included) is of the same size.
        let total = report.summary.secret_key_rate_per_pulse;
        assert!((total - analytic).abs() < 0.2 * analytic, "{km} km: total {total:e} vs {analytic:e}");
    }
}

#[test]
fn intercept_resend_on_every_pulse_leaves_no_key() {
    let block = 200_000;
    let mut link = modern_link(10.0, 1, 80);
    link.eve.intercept_resend_fraction = 1.0;
    link.simulation.pulses = pulses_for(&link, block, 3.0);
    for security in [Security::Finite, Security::Asymptotic] {
        let (report, seen) = run(&link, PipelineConfig::new(settings(block, security), 11));
        let processed: Vec<&BlockReport> =
            report.blocks.iter().filter(|b| b.abort_reason != AbortReason::Dropped).collect();
        assert!(processed.len() >= 2, "{security:?}: {} blocks", processed.len());
        for b in &processed {
            assert_eq!(b.abort_reason, AbortReason::NoKey, "{security:?}: {b:?}");
            assert_eq!(b.final_bits, 0);
            // The finite-key bound is zero before reconciliation: nothing else is disclosed. (The
            // asymptotic bound, single photons at e1 ≈ 25 %, only falls to zero once the leak
            // of reconciling a 25 % QBER is subtracted.)
            if security == Security::Finite {
                assert_eq!(b.leak_ec_bits, 0, "reconciled a block that cannot give key");
            }
            // The QBER is that of intercept-resend (about 25 %).
            assert!((b.qber_true - 0.25).abs() < 0.03, "{security:?}: QBER {}", b.qber_true);
        }
        assert!(seen.is_empty(), "{security:?}: a key reached the sink");
        assert_eq!(report.summary.secret_bits, 0);
        assert_eq!(report.summary.blocks_aborted, report.summary.blocks);
    }
}

#[test]
fn every_disclosed_bit_is_accounted_for() {
    let block = 300_000;
    // Every Cascade variant, rate-adaptive LDPC and blind LDPC (syndromes and every revealed
    // value counted at Alice's side of the channel).
    let reconcilers = CascadeVariant::ALL.into_iter().map(Reconciliation::from).chain([
        Reconciliation::Ldpc(LdpcReconciler::default()),
        Reconciliation::LdpcBlind(BlindReconciler::default()),
    ]);
    for (i, variant) in reconcilers.enumerate() {
        let mut link = modern_link(20.0, 1, 90 + i as u64);
        link.simulation.pulses = pulses_for(&link, block, 2.0);
        let s = settings(block, Security::Finite);
        let config = PipelineConfig { reconciler: variant, ..PipelineConfig::new(s.clone(), 13) };
        let (report, _) = run(&link, config);
        let src = &link.source;
        let lim = Lim2014 {
            intensities: [src.signal_intensity, src.decoy_intensity, src.vacuum_intensity],
            probabilities: [src.signal_probability, src.decoy_probability, src.vacuum_probability],
            epsilon_sec: s.epsilon_sec,
        };
        let mut reconciled = 0;
        for b in report.blocks.iter().filter(|b| b.abort_reason != AbortReason::Dropped) {
            // The parities counted at Alice's side of the channel are Cascade's leak.
            assert_eq!(b.leak_ec_bits, b.reconciler_reported_bits, "{variant:?}: {b:?}");
            if b.leak_ec_bits == 0 {
                continue;
            }
            reconciled += 1;
            // Verification discloses 64 bits per tag, as many tags as ε_cor needs.
            let kept = (b.n_sifted - b.sample_bits) as usize;
            let tags = VerificationHash::new(kept, s.epsilon_cor, &mut derive_rng(0, &[0])).unwrap().tag_count();
            assert_eq!(b.verification_bits, 64 * tags as u64);
            // The final length is the bound with exactly sample + leak_EC + tags subtracted.
            let disclosed = (b.sample_bits + b.leak_ec_bits + b.verification_bits) as f64;
            let expected = lim.key_length(&b.counts.key, &b.counts.test, disclosed, s.epsilon_cor).min(kept as f64);
            assert_eq!(b.final_bits as f64, expected, "{variant:?}: block {}", b.index);
            // The efficiency is a sane one: above the Shannon limit, below 1.5 for Cascade and 2
            // for LDPC (whose rate is planned from the sampled QBER estimate, per 10⁵-bit frame).
            let f = b.reconciliation_efficiency.unwrap();
            let ceiling = if matches!(variant, Reconciliation::Cascade(_)) { 1.5 } else { 2.0 };
            assert!((1.0..ceiling).contains(&f), "{variant:?}: efficiency {f}");
        }
        assert!(reconciled >= 1, "{variant:?}: no block reconciled");
        let total: u64 = report.blocks.iter().map(|b| b.leak_ec_bits).sum();
        assert_eq!(report.summary.leak_ec_bits, total);
        let tags: u64 = report.blocks.iter().map(|b| b.verification_bits).sum();
        assert_eq!(report.summary.verification_bits, tags);
    }
}

#[test]
fn qber_of_one_half_aborts_blocks_without_a_crash() {
    let block = 50_000;
    let mut link = modern_link(10.0, 1, 100);
    link.detector.misalignment = 0.5;
    link.simulation.pulses = pulses_for(&link, block, 8.0);
    let (report, seen) = run(&link, PipelineConfig::new(settings(block, Security::Finite), 17));
    let processed: Vec<&BlockReport> =
        report.blocks.iter().filter(|b| b.abort_reason != AbortReason::Dropped).collect();
    assert!(processed.len() >= 6);
    assert!(seen.is_empty());
    for b in &processed {
        assert!(matches!(b.abort_reason, AbortReason::QberTooHigh | AbortReason::NoKey), "{b:?}");
    }
    // Each block's sample shows QBER >= 0.5 with probability about 1/2: with this many blocks
    // at least one does (all fail to with probability 2^-6 or less; the seed is fixed).
    assert!(processed.iter().any(|b| b.abort_reason == AbortReason::QberTooHigh));
}

#[test]
fn cli_reports_the_pipeline_in_json_and_csv() {
    let dir = TempDir::new("cli");
    let blocks = dir.join("blocks.csv");
    let common = ["link", "--pulses", "2e8", "--seed", "5", "--set", "postprocess.block_size=20000", "--json"];
    let (code, plain, err) = qecnet(&common).parts();
    assert_eq!(code, 0, "{err}");
    let mut args = common.to_vec();
    args.extend(["--postprocess", "--reconciler", "cascade-yan", "--security", "asymptotic"]);
    args.extend(["--blocks", blocks.to_str().unwrap()]);
    let (code, with, err) = qecnet(&args).parts();
    assert_eq!(code, 0, "{err}");
    let plain: serde_json::Value = serde_json::from_str(&plain).unwrap();
    let with: serde_json::Value = serde_json::from_str(&with).unwrap();
    // Every field of the plain report is there, unchanged.
    for (key, value) in plain.as_object().unwrap() {
        assert_eq!(with.get(key), Some(value), "field {key}");
    }
    for key in [
        "secret_bits",
        "secret_key_rate_bps",
        "secret_key_rate_per_pulse",
        "leak_ec_bits",
        "reconciliation_efficiency",
        "blocks",
        "blocks_aborted",
    ] {
        assert!(with.get(key).is_some() && plain.get(key).is_none(), "field {key}");
    }
    assert_eq!(with["reconciler"], "yan");
    assert_eq!(with["security"], "asymptotic");
    let blocks_count = with["blocks"].as_u64().unwrap();
    assert!(blocks_count >= 2, "{with}");
    assert!(with["secret_bits"].as_u64().unwrap() > 0, "{with}");
    let secret = with["secret_bits"].as_f64().unwrap();
    let duration = with["duration_s"].as_f64().unwrap();
    assert!((with["secret_key_rate_bps"].as_f64().unwrap() - secret / duration).abs() < 1e-9 * secret / duration);
    // The CSV: the header and one line per block (the dropped tail, if any, included).
    let csv = std::fs::read_to_string(&blocks).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(BlockReport::CSV_HEADER));
    let rows: Vec<&str> = lines.collect();
    let dropped = rows.iter().filter(|r| r.ends_with(",dropped")).count() as u64;
    assert_eq!(rows.len() as u64, blocks_count + dropped);
    let finals: u64 = rows.iter().map(|r| r.split(',').nth(14).unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(finals, with["secret_bits"].as_u64().unwrap());
}

#[test]
fn cli_bad_input_names_the_parameter() {
    let dir = TempDir::new("bad");
    let blocks = dir.join("blocks.csv");
    let cases: [(&[&str], &str); 4] = [
        (&["--set", "postprocess.epsilon_sec=1.5"], "postprocess.epsilon_sec = 1.5: must be in (0, 1)"),
        (&["--set", "postprocess.epsilon_cor=0"], "postprocess.epsilon_cor = 0: must be in (0, 1)"),
        (
            &["--set", "postprocess.block_size=800"],
            "postprocess.block_size = 800: must exceed the QBER sample of 1000 bits",
        ),
        (&["--engine", "block"], "simulation.engine = block: post-processing needs individual detections"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["link", "--pulses", "1e6", "--postprocess", "--blocks", blocks.to_str().unwrap()];
        args.extend_from_slice(extra);
        let (code, _, err) = qecnet(&args).parts();
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(err.contains(message), "{extra:?}: expected `{message}` in:\n{err}");
        assert_eq!(err.lines().count(), 1, "{extra:?}: one line:\n{err}");
        assert!(!blocks.exists(), "{extra:?}: left a blocks file");
    }
    // --blocks and --reconciler need --postprocess.
    let (code, _, err) = qecnet(&["link", "--pulses", "1e6", "--blocks", blocks.to_str().unwrap()]).parts();
    assert_ne!(code, 0);
    assert!(err.contains("--postprocess"), "{err}");
}

#[test]
fn cli_pipeline_output_depends_only_on_the_seed() {
    let dir = TempDir::new("determinism");
    let run_with = |threads: &str| {
        let blocks = dir.join(format!("blocks-{threads}.csv"));
        let (code, json, err) = qecnet(&[
            "--threads",
            threads,
            "link",
            "--pulses",
            "1e8",
            "--seed",
            "3",
            "--distance-km",
            "10",
            "--set",
            "postprocess.block_size=20000",
            "--postprocess",
            "--json",
            "--blocks",
            blocks.to_str().unwrap(),
        ])
        .parts();
        assert_eq!(code, 0, "{err}");
        (json, std::fs::read(&blocks).unwrap())
    };
    let one = run_with("1");
    let two = run_with("2");
    assert!(one.1.len() > BlockReport::CSV_HEADER.len() + 100, "a few blocks");
    assert_eq!(one, two, "same seed, same JSON and blocks CSV on 1 and 2 threads");
}

#[test]
fn asymptotic_rate_matches_the_vacuum_weak_decoy_analysis() {
    use qecnet::postprocess::{BlockCounts, BlockProcessor};
    let block = 200_000u64;
    let s = settings(block, Security::Asymptotic);
    for (i, km) in [25.0, 50.0].into_iter().enumerate() {
        let mut link = modern_link(km, 1, 120 + i as u64);
        let model = LinkExpectation::new(&link).unwrap();
        let (pa, pb) = (link.source.z_basis_probability, link.detector.z_basis_probability);
        let p = model.class_probabilities;
        let signal = model.expected[0];
        // A block is `block` signal key bits: N pulses with N·p_μ·pa·pb·Q_μ = block.
        let pulses = block as f64 / (p[0] * pa * pb * signal.gain);
        link.simulation.pulses = (4.5 * pulses) as u64;
        let (report, _) = run(&link, PipelineConfig::new(s.clone(), 21));
        let full: Vec<&BlockReport> = report.blocks.iter().filter(|b| b.n_sifted == block).collect();
        assert!(full.len() >= 3 && full.iter().all(|b| b.produced_key()), "{km} km: {:?}", report.blocks);

        let disclosed = |b: &BlockReport| (b.sample_bits + b.leak_ec_bits + b.verification_bits) as f64;
        let mean_disclosed = full.iter().map(|b| disclosed(b)).sum::<f64>() / full.len() as f64;
        let f_eff = mean_disclosed / (block as f64 * binary_entropy(signal.error_rate));
        let analytic_settings = PostprocessSettings { error_correction_efficiency: f_eff, ..s.clone() };
        // key_rate's GLLP rate counts key from both bases and every pulse as a signal pulse
        // (q·Q_μ); the pipeline's key is the signal pulses' Z-basis bits: scale by p_μ·pa·pb/q.
        let q = pa * pb + (1.0 - pa) * (1.0 - pb);
        let analytic = key_rate(KeyRateModel::DecoyVacuumWeak, &link, &analytic_settings, None).unwrap().rate_per_pulse
            * p[0]
            * pa
            * pb
            / q;
        let rates: Vec<f64> =
            full.iter().map(|b| (b.final_bits as f64 + disclosed(b) - mean_disclosed) / b.pulses as f64).collect();
        let measured = rates.iter().sum::<f64>() / rates.len() as f64;

        // One block's standard deviation: the bound's response to a one-sigma (Poisson) change
        // of each count it reads, in quadrature, plus the spread of the pulses per block.
        let processor = BlockProcessor::new(PipelineConfig::new(s.clone(), 0), &link).unwrap();
        let mut expected = BlockCounts { pulses: pulses.round() as u64, key_bits: block, ..BlockCounts::default() };
        for (k, (&pk, e)) in p.iter().zip(&model.expected).enumerate() {
            expected.detections[k] = (pulses * pk * e.gain).round() as u64;
            for (counts, share) in [(&mut expected.key, pa * pb), (&mut expected.test, (1.0 - pa) * (1.0 - pb))] {
                counts.detections[k] = pulses * pk * share * e.gain;
                counts.errors[k] = counts.detections[k] * e.error_rate;
            }
        }
        let base = processor.bound(&expected, mean_disclosed);
        let mut variance = 0.0;
        for k in 0..3 {
            let mut c = expected;
            c.detections[k] += (expected.detections[k] as f64).sqrt().ceil() as u64;
            variance += (processor.bound(&c, mean_disclosed) - base).powi(2);
            for basis in 0..2 {
                let mut c = expected;
                let counts = if basis == 0 { &mut c.key } else { &mut c.test };
                counts.errors[k] += counts.errors[k].sqrt();
                variance += (processor.bound(&c, mean_disclosed) - base).powi(2);
            }
        }
        let sd_rate = ((variance + 1.0) / (pulses * pulses) + analytic * analytic / block as f64).sqrt();
        let tolerance = Z_TOLERANCE * sd_rate / (rates.len() as f64).sqrt();
        eprintln!(
            "asymptotic {km} km: measured {measured:.5e}/pulse, analytic {analytic:.5e} (f_eff {f_eff:.4}), \
             tolerance {tolerance:.3e}"
        );
        assert!(
            (measured - analytic).abs() < tolerance,
            "{km} km: measured {measured:e} vs analytic {analytic:e} per pulse, tolerance {tolerance:e}"
        );
    }
}
