//! Bad input exits non-zero with one message naming the field, the value and what is allowed,
//! and leaves no output file behind.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Outcome {
    code: i32,
    stderr: String,
}

fn qecnet(dir: &Path, args: &[&str]) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_qecnet"))
        .args(args)
        .arg("--qber-stream")
        .arg(dir.join("stream.csv"))
        .arg("--records")
        .arg(dir.join("records.csv"))
        .args(["--pulses", "1e6"])
        .output()
        .unwrap();
    Outcome { code: out.status.code().unwrap_or(-1), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qecnet-bad-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn assert_refused(name: &str, args: &[&str], message: &str) {
    let dir = scratch(name);
    let out = qecnet(&dir, args);
    assert_eq!(out.code, 2, "{name}: exit code, stderr: {}", out.stderr);
    assert!(out.stderr.contains(message), "{name}: expected `{message}` in stderr:\n{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{name}: one line of error:\n{}", out.stderr);
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "{name}: files left behind: {left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn probability_outside_unit_interval() {
    assert_refused(
        "probability",
        &["link", "--set", "detector.efficiency=1.5"],
        "error: detector.efficiency = 1.5: must be a probability in [0, 1]",
    );
    assert_refused(
        "intercept",
        &["link", "--intercept-resend", "-0.1"],
        "error: eve.intercept_resend_fraction = -0.1: must be a probability in [0, 1]",
    );
}

#[test]
fn negative_length() {
    assert_refused(
        "length",
        &["link", "--distance-km", "-5"],
        "error: channel.length_km = -5: must be finite and >= 0",
    );
}

#[test]
fn non_positive_signal_intensity() {
    assert_refused(
        "mu",
        &["link", "--set", "source.signal_intensity=0"],
        "error: source.signal_intensity = 0: must be finite and > 0",
    );
}

#[test]
fn unknown_field_in_set() {
    assert_refused(
        "unknown",
        &["link", "--set", "channel.lenght_km=3"],
        "error: --set channel.lenght_km: unknown field; known fields here: attenuation_db_per_km, insertion_loss_db, length_km",
    );
}

#[test]
fn unknown_receiver() {
    assert_refused(
        "receiver",
        &["link", "--set", "detector.receiver=hybrid"],
        "error: --set: unknown variant `hybrid`, expected `active` or `passive` in `detector.receiver`",
    );
}

#[test]
fn decoy_intensities_out_of_order() {
    assert_refused(
        "order",
        &["link", "--set", "source.decoy_intensity=0.9"],
        "error: source.decoy_intensity = 0.9: must be below source.signal_intensity = 0.48",
    );
    assert_refused(
        "vacuum-order",
        &["link", "--set", "source.vacuum_intensity=0.06"],
        "error: source.vacuum_intensity = 0.06: must be below source.decoy_intensity = 0.05",
    );
}

#[test]
fn malformed_toml() {
    let dir = scratch("toml-input");
    let file = dir.join("broken.toml");
    std::fs::write(&file, "[channel]\nlength_km = = 3\n").unwrap();
    assert_refused("toml", &["link", "--config", file.to_str().unwrap()], "broken.toml: TOML parse error at line 2");
    std::fs::write(&file, "[channel]\nlength = 3\n").unwrap();
    assert_refused("toml-key", &["link", "--config", file.to_str().unwrap()], "unknown field `length`");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_time_write_failure_leaves_nothing() {
    let dir = scratch("io");
    let out = Command::new(env!("CARGO_BIN_EXE_qecnet"))
        .args(["link", "--pulses", "1e6", "--qber-stream"])
        .arg(dir.join("stream.csv"))
        .arg("--records")
        .arg(dir.join("missing-dir/records.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing-dir/records.csv"));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no partial output");
    std::fs::remove_dir_all(&dir).unwrap();
}
