//! A sweep run as a Slurm job array on a real (single-node) Slurm, against a local run.
//!
//! Needs a running cluster, so the test is ignored by `cargo test`: start one with
//! `tests/slurm/slurm-local.sh start DIR`, export the `SLURM_CONF` it prints and run
//! `cargo test --release --test integration slurm -- --ignored` (`.ci/run` does). Run that way
//! where Slurm is not running, the test fails saying so.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{TempDir, qecnet_in};

fn slurm_available() -> bool {
    Command::new("sinfo").arg("-h").output().is_ok_and(|o| o.status.success())
}

/// Waits until none of `jobs` is in the queue (bounded).
fn wait_for(jobs: &[String]) {
    let started = Instant::now();
    loop {
        let out = Command::new("squeue").args(["-h", "-j", &jobs.join(",")]).output().unwrap();
        if String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "jobs {jobs:?} still queued after 120 s");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Submits and returns the (array, merge) job ids.
fn submit(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["sweep", "submit", "sweep.toml", "--shards", "3", "--output", "out/result.csv"];
    args.extend_from_slice(extra);
    let out = qecnet_in(dir, &args);
    assert!(out.status.success(), "submit: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let ids: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("array job ") || l.starts_with("merge job "))
        .map(|l| l.split_whitespace().nth(2).unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2, "{text}");
    ids
}

#[test]
#[ignore = "needs a Slurm cluster: run with --ignored where one is started (.ci/run does)"]
fn a_sweep_on_slurm_equals_the_local_run_and_recovers_from_a_failed_shard() {
    assert!(
        slurm_available(),
        "Slurm is not running here: start it with tests/slurm/slurm-local.sh start DIR and export the SLURM_CONF it prints"
    );
    let dir = TempDir::new("slurm");
    std::fs::write(
        dir.join("sweep.toml"),
        r#"
[sweep]
name = "slurm-test"
kind = "link"
seed = 5
replicates = 2

[base.simulation]
pulses = 3e6

[[axis]]
field = "channel.length_km"
linspace = [0.0, 60.0, 7]
"#,
    )
    .unwrap();
    let local = qecnet_in(&dir, &["sweep", "run", "sweep.toml", "--output", "local.csv"]);
    assert!(local.status.success(), "{}", String::from_utf8_lossy(&local.stderr));
    let reference = std::fs::read(dir.join("local.csv")).unwrap();

    // All shards through Slurm, merged by the dependent job.
    wait_for(&submit(&dir, &[]));
    assert_eq!(std::fs::read(dir.join("out/result.csv")).unwrap(), reference, "Slurm result vs local run");

    // Shard 1 fails: a directory sits where its file must go.
    std::fs::remove_dir_all(dir.join("out")).unwrap();
    std::fs::create_dir_all(dir.join("out/result.shard-1-of-3.csv")).unwrap();
    wait_for(&submit(&dir, &[]));
    assert!(!dir.join("out/result.csv").exists(), "the merge job must not run after a failed shard");
    let merge =
        qecnet_in(&dir, &["merge", "out/manual.csv", "out/result.shard-0-of-3.csv", "out/result.shard-2-of-3.csv"]);
    assert_eq!(merge.status.code(), Some(2));
    let err = String::from_utf8_lossy(&merge.stderr);
    assert!(err.contains("shards missing or unfinished: 1 (resubmit with --array=1)"), "{err}");
    let status = String::from_utf8_lossy(
        &qecnet_in(&dir, &["sweep", "status", "sweep.toml", "--shards", "3", "--output", "out/result.csv"]).stdout,
    )
    .into_owned();
    assert!(status.contains("1 shards to (re)submit: --array=1"), "{status}");

    // Resubmitting only that shard completes the CSV.
    std::fs::remove_dir_all(dir.join("out/result.shard-1-of-3.csv")).unwrap();
    wait_for(&submit(&dir, &["--array", "1"]));
    assert_eq!(std::fs::read(dir.join("out/result.csv")).unwrap(), reference, "after resubmitting shard 1");
}
