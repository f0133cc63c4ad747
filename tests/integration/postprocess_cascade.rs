//! Cascade against its published behaviour: keys agree except in a small measured fraction of
//! frames, the disclosed parities counted independently at the channel equal the reported
//! leak, efficiencies are in line with the published studies, and the study is deterministic.

use qecnet::postprocess::BitString;
use qecnet::postprocess::cascade::{
    AliceParities, CascadeConfig, CascadeVariant, ParityOracle, PassLayout, RangeRequest, binary_symmetric_pair,
    reconcile,
};
use qecnet::postprocess::study::{simulate_frame, study};
use qecnet::rng::derive_rng;
use std::rc::Rc;

use crate::stats::Z_TOLERANCE;
use crate::util::{TempDir, qecnet_command};

/// A wrapper over Alice's side of the channel that counts what crosses it and checks every
/// answer against Alice's key read through the public permutation.
struct CountingChannel<'a> {
    inner: AliceParities<'a>,
    key: &'a BitString,
    layouts: Vec<Rc<PassLayout>>,
    messages: u64,
    parity_bits: u64,
}

impl ParityOracle for CountingChannel<'_> {
    fn begin_pass(&mut self, layout: &Rc<PassLayout>) {
        self.layouts.push(Rc::clone(layout));
        self.inner.begin_pass(layout);
    }

    fn parities(&mut self, requests: &[RangeRequest], answers: &mut Vec<bool>) {
        let before = answers.len();
        self.inner.parities(requests, answers);
        self.messages += 1;
        self.parity_bits += (answers.len() - before) as u64;
        for (r, &a) in requests.iter().zip(&answers[before..]) {
            let layout = &self.layouts[r.pass as usize];
            let direct = (r.start..r.end).fold(false, |p, pos| p ^ self.key.get(layout.original(pos as usize)));
            assert_eq!(a, direct, "answer to {r:?}");
        }
    }
}

#[test]
fn leak_and_channel_uses_match_an_independent_count() {
    let n = 5_000;
    for (i, variant) in CascadeVariant::ALL.into_iter().enumerate() {
        for (j, qber) in [0.01, 0.04].into_iter().enumerate() {
            let mut rng = derive_rng(21, &[i as u64, j as u64]);
            let (alice, mut bob) = binary_symmetric_pair(n, qber, &mut rng);
            let errors = alice.hamming_distance(&bob) as u64;
            let config = CascadeConfig::new(variant, qber, n).unwrap();
            let mut channel = CountingChannel {
                inner: AliceParities::new(&alice),
                key: &alice,
                layouts: Vec::new(),
                messages: 0,
                parity_bits: 0,
            };
            let outcome = reconcile(&mut bob, &mut channel, &config, 77).unwrap();
            assert_eq!(outcome.leaked_bits, channel.parity_bits, "{variant:?} at {qber}: leak");
            assert_eq!(outcome.channel_uses, channel.messages, "{variant:?} at {qber}: channel uses");
            assert_eq!(outcome.passes as usize, channel.layouts.len());
            // Every pass discloses its block parities; every correction costs a binary search.
            let first_pass_blocks = n.div_ceil(config.block_sizes[0]) as u64;
            assert!(outcome.leaked_bits >= first_pass_blocks + outcome.corrected_bits);
            // Bob flipped exactly the bits that now differ from before (errors fixed or made).
            let residual = alice.hamming_distance(&bob) as u64;
            assert!(outcome.corrected_bits >= errors - residual);
        }
    }
}

/// Mean efficiency of `runs` frames and its standard error.
fn efficiency(variant: CascadeVariant, qber: f64, qi: usize, n: usize, runs: usize) -> (f64, f64, f64) {
    let row = study(&variant.into(), qber, qi, n, runs, 2015, None).unwrap();
    (row.efficiency_mean, row.efficiency_std / (runs as f64).sqrt(), row.frame_error_rate)
}

/// Efficiency at n = 10⁴ bits, QBER 1–5 %, compared with Martinez-Mateo, Pacher, Peev, Ciurana,
/// Martin, "Demystifying the information reconciliation protocol Cascade", QIC 15 (2015),
/// arXiv:1407.3257, whose efficiency-versus-QBER figures for 10⁴-bit frames put the original
/// protocol at roughly f ≈ 1.1–1.2 (worse than for long frames) and their options 7 and 8 near
/// 1.05, below every earlier variant. Those values are as recalled from the paper, not re-read
/// for this test, so the bands are wide: original in [1.08, 1.30], option 7 in [1.0, 1.10]
/// (also the project's target); the ordering is asserted with the crate's z tolerance.
#[test]
fn efficiency_in_line_with_published_studies() {
    let (n, runs) = (10_000, 120);
    for (qi, qber) in [0.01, 0.03, 0.05].into_iter().enumerate() {
        let (f_orig, se_orig, fer_orig) = efficiency(CascadeVariant::Original, qber, qi, n, runs);
        let (f_opt7, se_opt7, fer_opt7) = efficiency(CascadeVariant::Option7, qber, qi, n, runs);
        assert!((1.08..=1.30).contains(&f_orig), "original at {qber}: f = {f_orig:.4} ± {se_orig:.4}");
        assert!((1.0..=1.10).contains(&f_opt7), "option7 at {qber}: f = {f_opt7:.4} ± {se_opt7:.4}");
        let z = (f_orig - f_opt7) / (se_orig.powi(2) + se_opt7.powi(2)).sqrt();
        assert!(z > Z_TOLERANCE, "option7 must beat the original at {qber}: z = {z:.2}");
        // Frame errors: measured small (at most 3 of 120 frames).
        assert!(fer_orig <= 0.025 && fer_opt7 <= 0.025, "frame error rates {fer_orig}, {fer_opt7} at {qber}");
    }
}

#[test]
fn keys_agree_except_in_few_frames_for_every_variant() {
    let (n, runs, qber) = (4_000, 100, 0.03);
    for variant in CascadeVariant::ALL {
        let row = study(&variant.into(), qber, 0, n, runs, 5, None).unwrap();
        assert!(row.frame_error_rate <= 0.05, "{variant:?}: frame error rate {}", row.frame_error_rate);
    }
    // BICONF as an option on another variant: more parities, no more frame errors than without.
    let plain = study(&CascadeVariant::Original.into(), qber, 0, n, runs, 5, None).unwrap();
    let with_biconf = study(&CascadeVariant::Original.into(), qber, 0, n, runs, 5, Some(10)).unwrap();
    assert!(with_biconf.efficiency_mean > plain.efficiency_mean);
    assert!(with_biconf.frame_error_rate <= plain.frame_error_rate);
    assert!(with_biconf.channel_uses_mean > plain.channel_uses_mean);
}

#[test]
fn study_is_independent_of_thread_count() {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut row = pool.install(|| study(&CascadeVariant::Option8.into(), 0.02, 1, 3_000, 24, 99, None).unwrap());
        // The one timing in the row.
        row.throughput_bits_per_s = 0.0;
        row
    };
    assert_eq!(run(1), run(2));
    // LDPC frames too, whose decoders run parallel loops of their own (kept on the frame's thread).
    let blind = qecnet::api::reconciliation_named("ldpc-blind").unwrap();
    let ldpc_run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut row = pool.install(|| study(&blind, 0.03, 2, 2_000, 5, 99, None).unwrap());
        assert!(row.throughput_bits_per_s.is_finite() && row.throughput_bits_per_s > 0.0);
        row.throughput_bits_per_s = 0.0;
        row
    };
    assert_eq!(ldpc_run(1), ldpc_run(2));
    let a = simulate_frame(&CascadeVariant::Yan.into(), 0.02, 3_000, 99, 1, 7, None).unwrap();
    let b = simulate_frame(&CascadeVariant::Yan.into(), 0.02, 3_000, 99, 1, 7, None).unwrap();
    assert_eq!((a.efficiency, a.round_trips, a.frame_error), (b.efficiency, b.round_trips, b.frame_error));
}

#[test]
fn cli_writes_one_row_per_variant_and_qber() {
    let dir = TempDir::new("cascade-study");
    let csv = dir.join("study.csv");
    let out = qecnet_command()
        .args(["cascade-study", "--qber", "0.02,0.04", "--block-size", "2000", "--runs", "4", "--json"])
        .args(["--variant", "original", "--variant", "option7", "--output"])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["variant"], "original");
    assert_eq!(rows[3]["variant"], "option7");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "variant,reconciler,qber,block_size,runs,efficiency_mean,efficiency_std,channel_uses_mean,frame_error_rate,\
         round_trips,messages,throughput_bits_per_s"
    );
    assert_eq!(lines.count(), 4);
    let bad = qecnet_command()
        .args(["cascade-study", "--qber", "0.6", "--block-size", "2000", "--runs", "4", "--output"])
        .arg(dir.join("bad.csv"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("qber = 0.6: must be in (0, 0.5)"));
    assert!(!dir.join("bad.csv").exists());
}

#[test]
fn reconcile_study_with_reconciler_names_gives_the_same_rows_as_cascade_study_with_variants() {
    let study = |args: &[&str]| {
        let out = qecnet_command()
            .args(args)
            .args(["--qber", "0.03", "--block-size", "2000", "--runs", "3", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut rows = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
        // The one timing in a row.
        for row in rows.as_array_mut().unwrap() {
            row["throughput_bits_per_s"] = serde_json::Value::Null;
        }
        rows
    };
    let new = study(&["reconcile-study", "--reconciler", "cascade-yan,cascade-option7"]);
    let old = study(&["cascade-study", "--variant", "yan,option7"]);
    assert_eq!(new, old);
    let ldpc = study(&["reconcile-study", "--reconciler", "ldpc"]);
    assert_eq!(ldpc[0]["reconciler"], "ldpc");
    assert!(ldpc[0]["round_trips"].as_f64().unwrap() >= 1.0);
    let bad = qecnet_command()
        .args([
            "reconcile-study",
            "--reconciler",
            "ldpc-nonsense",
            "--qber",
            "0.03",
            "--block-size",
            "2000",
            "--runs",
            "3",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--reconciler"));
}

#[test]
fn an_ldpc_study_row_takes_one_message_per_decoded_frame_where_cascade_takes_dozens_of_round_trips() {
    use qecnet::postprocess::Reconciliation;
    use qecnet::postprocess::ldpc::LdpcReconciler;
    let ldpc = Reconciliation::Ldpc(LdpcReconciler::default());
    let (qber, n, runs) = (0.05, 10_000, 6);
    let row = study(&ldpc, qber, 0, n, runs, 3, None).unwrap();
    assert_eq!((row.variant, row.reconciler.as_str(), row.runs), ("ldpc", "ldpc", runs));
    // Round trips are 1 (the syndrome) plus one per reveal round, at most 1 + max_rounds.
    assert!(row.round_trips >= 1.0 && row.round_trips <= 9.0, "{row:?}");
    assert!(row.efficiency_mean >= 1.0, "{row:?}");
    let cascade = study(&CascadeVariant::Option7.into(), qber, 0, n, runs, 3, None).unwrap();
    assert!(cascade.round_trips >= 24.0, "{cascade:?}");
    // Each frame's efficiency is its leak as the pipeline counts it over n·h(Q).
    for run in 0..runs {
        let frame = simulate_frame(&ldpc, qber, n, 3, 0, run, None).unwrap();
        let shannon = n as f64 * qecnet::postprocess::binary_entropy(qber);
        assert_eq!(frame.efficiency, frame.leaked_bits as f64 / shannon);
        assert!(frame.round_trips >= 1);
    }
}

#[test]
fn a_blind_ldpc_study_row_counts_one_round_trip_per_reveal_round_and_its_leak() {
    use qecnet::postprocess::Reconciliation;
    use qecnet::postprocess::ldpc::BlindReconciler;
    let blind = Reconciliation::LdpcBlind(BlindReconciler::default());
    let (qber, n, runs) = (0.03, 10_000, 4);
    let row = study(&blind, qber, 0, n, runs, 3, None).unwrap();
    assert_eq!((row.reconciler.as_str(), row.runs), ("ldpc-blind", runs));
    // The syndrome, then at most max_rounds reveal rounds.
    let most = 1.0 + f64::from(BlindReconciler::default().max_rounds);
    assert!(row.round_trips >= 1.0 && row.round_trips <= most, "{row:?}");
    assert!(row.efficiency_mean >= 1.0, "{row:?}");
    for run in 0..runs {
        let frame = simulate_frame(&blind, qber, n, 3, 0, run, None).unwrap();
        let shannon = n as f64 * qecnet::postprocess::binary_entropy(qber);
        assert_eq!(frame.efficiency, frame.leaked_bits as f64 / shannon);
    }
}
