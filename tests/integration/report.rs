//! The main job: a run file runs its sweeps, draws SVG and PNG charts with the bundled font and
//! writes an HTML report referencing them.

use std::process::Command;

#[test]
fn a_run_file_writes_charts_and_the_report() {
    let dir = std::env::temp_dir().join(format!("qecnet-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sims")).unwrap();
    let sims = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sims");
    for f in ["sweep-intercept-resend.toml", "link-intercept-resend.toml"] {
        std::fs::copy(sims.join(f), dir.join("sims").join(f)).unwrap();
    }
    std::fs::write(
        dir.join("sims/run.toml"),
        r#"
[report]
title = "test report"
output = "../out/report.html"
datasets = "../data"

[[job]]
sweep = "sweep-intercept-resend.toml"
recipe = "intercept-resend"
set = ["simulation.pulses=2e6"]
replicates = 1
"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_qecnet")).arg("run").arg(dir.join("sims/run.toml")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(dir.join("out/report.html")).unwrap();
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
    let qber_svg = std::fs::read_to_string(dir.join("out/intercept-resend-qber.svg")).unwrap();
    assert!(qber_svg.contains("11 % threshold"), "the QBER chart draws the threshold");
    let csv = std::fs::read_to_string(dir.join("data/intercept-resend.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 21);
    std::fs::remove_dir_all(&dir).unwrap();
}
