//! The main job: a run file runs its sweeps, draws SVG and PNG charts with the bundled font and
//! writes an HTML report referencing them.

use qecnet::postprocess::{KeyRateModel, key_rate};

use crate::util::{TempDir, qecnet_command};

/// Runs `qecnet run` on a run file with one `job` (TOML) over copies of the sims `files`, in a
/// fresh directory named after `name`; returns the directory and the report's HTML.
fn run_report(name: &str, files: &[&str], job: &str) -> (TempDir, String) {
    let dir = TempDir::new(name);
    std::fs::create_dir_all(dir.join("sims")).unwrap();
    let sims = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sims");
    for f in files {
        std::fs::copy(sims.join(f), dir.join("sims").join(f)).unwrap();
    }
    let run = format!(
        "[report]\ntitle = \"{name}\"\noutput = \"../out/report.html\"\ndatasets = \"../data\"\n\n[[job]]\n{job}"
    );
    std::fs::write(dir.join("sims/run.toml"), run).unwrap();
    let out = qecnet_command().arg("run").arg(dir.join("sims/run.toml")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(dir.join("out/report.html")).unwrap();
    (dir, html)
}

#[test]
fn a_run_file_writes_charts_and_the_report() {
    let (dir, html) = run_report(
        "report",
        &["sweep-intercept-resend.toml", "link-intercept-resend.toml"],
        r#"
sweep = "sweep-intercept-resend.toml"
recipe = "intercept-resend"
set = ["simulation.pulses=2e6"]
replicates = 1
"#,
    );
    for stem in ["intercept-resend-qber", "intercept-resend-keyrate"] {
        assert!(html.contains(&format!("{stem}.svg")), "report must reference {stem}.svg");
        let png = std::fs::read(dir.join(format!("out/{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png is a PNG");
        let svg = std::fs::read_to_string(dir.join(format!("out/{stem}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("ML-KEM-1024 fallback"),
            "{stem}.svg shades the fallback region"
        );
    }
    assert!(html.contains("intercept-resend fraction where the QBER reaches 11 %"));
    // The key-rate chart shades where the analytic rate is 0 below the fallback, from the
    // fraction the report names, which is where the rate on the sweep's base link ends.
    let rate_svg = std::fs::read_to_string(dir.join("out/intercept-resend-keyrate.svg")).unwrap();
    assert!(rate_svg.contains("no key: analytic rate 0"), "the key-rate chart shades the no-key region");
    let name = "intercept-resend fraction where the vacuum+weak key rate reaches 0</td><td>";
    let at = html.find(name).expect("the report names the key-rate cutoff") + name.len();
    let cutoff: f64 = html[at..].split('<').next().unwrap().parse().unwrap();
    let base: qecnet::link_scenario::LinkScenario =
        qecnet::config::load(Some(&dir.join("sims/link-intercept-resend.toml")), &[]).unwrap();
    let rate = |p: f64| {
        let mut config = base.link();
        config.eve.intercept_resend_fraction = p;
        key_rate(KeyRateModel::DecoyVacuumWeak, &config, &base.postprocess, None).unwrap().rate_per_pulse
    };
    assert!(rate(cutoff - 1e-3) > 0.0 && rate(cutoff + 1e-3) == 0.0, "the rate ends at {cutoff}");
    let qber_svg = std::fs::read_to_string(dir.join("out/intercept-resend-qber.svg")).unwrap();
    assert!(qber_svg.contains("11 % threshold"), "the QBER chart draws the threshold");
    let csv = std::fs::read_to_string(dir.join("data/intercept-resend.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 21);
}

#[test]
fn the_receivers_recipe_shows_the_passive_qber_penalty() {
    // Active vs passive receiver on the SNSPD link: at 0 km the passive receiver's clicks in
    // both bases raise the QBER well beyond the noise; every simulated QBER sits within 4
    // standard errors of its analytic expectation.
    let (dir, html) = run_report(
        "receivers",
        &["sweep-receivers.toml", "link-snspd.toml"],
        r#"
sweep = "sweep-receivers.toml"
recipe = "receivers"
set = ["simulation.pulses=5e7"]
replicates = 1
"#,
    );
    for stem in ["receivers-qber", "receivers-keyrate"] {
        assert!(html.contains(&format!("{stem}.svg")), "report must reference {stem}.svg");
    }
    assert!(html.contains("QBER at 0 km: active / passive"));
    let csv = std::fs::read_to_string(dir.join("data/receivers.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (receiver, km, qber, se, expected) =
        (col("detector.receiver"), col("channel.length_km"), col("qber"), col("qber_std_error"), col("expected_qber"));
    let mut at_zero = std::collections::BTreeMap::new();
    let mut rows = 0;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let (q, s, e): (f64, f64, f64) =
            (f[qber].parse().unwrap(), f[se].parse().unwrap(), f[expected].parse().unwrap());
        assert!((q - e).abs() < 4.0 * s, "{} at {} km: QBER {q} vs expected {e} (se {s})", f[receiver], f[km]);
        if f[km] == "0" {
            at_zero.insert(f[receiver].to_string(), (q, s));
        }
        rows += 1;
    }
    assert_eq!(rows, 22);
    let ((qa, sa), (qp, sp)) = (at_zero["active"], at_zero["passive"]);
    assert!(qp - qa > 4.0 * (sa * sa + sp * sp).sqrt(), "passive {qp} vs active {qa}");
}

#[test]
fn the_reconcile_study_figure_draws_efficiency_and_round_trips_per_block_size_from_study_csvs() {
    let dir = TempDir::new("plot-reconcile");
    // Two small studies (two block sizes), as `qecnet reconcile-study --output` writes them.
    let mut csvs = Vec::new();
    for n in ["1000", "2000"] {
        let csv = dir.join(format!("n{n}.csv"));
        let out = qecnet_command()
            .args(["reconcile-study", "--reconciler", "cascade-option7,ldpc", "--qber", "0.02,0.05"])
            .args(["--block-size", n, "--runs", "2", "--output"])
            .arg(&csv)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        csvs.push(csv.to_str().unwrap().to_owned());
    }
    let out = qecnet_command()
        .args(["plot", "--recipe", "reconcile-study", "--csv", &csvs.join(","), "--out"])
        .arg(dir.join("charts"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for n in ["1000", "2000"] {
        let efficiency = std::fs::read_to_string(dir.join(format!("charts/reconcile-efficiency-n{n}.svg"))).unwrap();
        assert!(efficiency.contains("Shannon limit f = 1"), "the efficiency chart draws f = 1");
        assert!(efficiency.contains("cascade-option7") && efficiency.contains("ldpc"), "one line per reconciler");
        let trips = std::fs::read_to_string(dir.join(format!("charts/reconcile-round-trips-n{n}.svg"))).unwrap();
        assert!(trips.contains("round trips per frame"));
        let png = std::fs::read(dir.join(format!("charts/reconcile-round-trips-n{n}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(stdout.contains(&format!("ldpc, n = {n} bits, QBER 2–5 %: f ")), "{stdout}");
    }
    // The figures are the CSV's: Cascade's round trips at n = 1000 are its rows' range.
    let text = std::fs::read_to_string(&csvs[0]).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let trips: Vec<f64> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[col("reconciler")] == "cascade-option7")
        .map(|f| f[col("round_trips")].parse().unwrap())
        .collect();
    let (lo, hi) = (trips.iter().copied().fold(f64::INFINITY, f64::min), trips.iter().copied().fold(0.0, f64::max));
    assert!(stdout.contains(&format!("round trips {lo:.1}–{hi:.1}")), "{stdout}");
}

#[test]
fn a_run_file_draws_the_reconcile_study_figure_from_csv_files_side_by_side() {
    let dir = TempDir::new("report-reconcile");
    std::fs::create_dir_all(dir.join("sims")).unwrap();
    let csv = dir.join("study.csv");
    let out = qecnet_command()
        .args(["reconcile-study", "--reconciler", "cascade-yan", "--qber", "0.03", "--block-size", "1000"])
        .args(["--runs", "2", "--output"])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = "[report]\ntitle = \"r\"\noutput = \"../out/report.html\"\ndatasets = \"../data\"\n\n\
               [[job]]\ncsv = [\"../study.csv\"]\nrecipe = \"reconcile-study\"\n";
    std::fs::write(dir.join("sims/run.toml"), run).unwrap();
    let out = qecnet_command().arg("run").arg(dir.join("sims/run.toml")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(dir.join("out/report.html")).unwrap();
    let pair = html.find("<div style=\"display:flex").expect("the pair sits in one row");
    let row = &html[pair..html[pair..].find("</div>").unwrap() + pair];
    assert!(row.contains("reconcile-efficiency-n1000.svg") && row.contains("reconcile-round-trips-n1000.svg"));
    assert!(html.contains("cascade-yan, n = 1000 bits, QBER 3–3 %"));
    assert!(!dir.join("data").exists(), "a csv job runs nothing and writes no dataset");
}
