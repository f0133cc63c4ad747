//! Crash consistency: a child process doing a burst of transitions is killed
//! with SIGKILL at random points; every time, the store must open, its audit
//! chain must verify, and replaying the chain must give exactly the stored
//! states (a transition without its audit record, or the reverse, would
//! show up as a difference).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use qecnet::crypto::{KeyType, SecretBytes};

use qecnet::lifecycle::{Durability, Engine, EngineConfig, KeyState, ManualClock, Usage, WallClock};
use qecnet::units::{SimDuration, SimTime};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::util::{TempDir, qecnet_command};

fn master() -> SecretBytes {
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    SecretBytes::random(32, "master", &mut rng).unwrap()
}

fn config() -> EngineConfig {
    EngineConfig {
        checkpoint_every: 25,
        overlap: SimDuration(0),
        durability: Durability::Normal,
        ..EngineConfig::default()
    }
}

/// One burst step: a key through its whole life, in single transactions or a batch.
fn burst(engine: &mut Engine, rng: &mut ChaCha20Rng, round: u64) {
    let channel = format!("ch{}", round % 7);
    let step = |e: &mut Engine, rng: &mut ChaCha20Rng| -> Result<(), qecnet::lifecycle::LifecycleError> {
        let id = e.generate(
            KeyType::MeshSession,
            &format!("{channel}-{}", rng.random_range(0..1000u32)),
            &["hub", "n1", "n2"],
            rng,
        )?;
        e.distribute(id)?;
        if rng.random_range(0..5u32) == 0 {
            e.fail_distribution(id, rng)?;
            return Ok(());
        }
        for n in ["hub", "n1", "n2"] {
            e.confirm_receipt(id, n)?;
        }
        let p = e.receipt_proof(id)?;
        e.activate(p)?;
        e.record_use(id, Usage::Protect, 3)?;
        let new = e.begin_rotation(id, rng)?;
        e.distribute(new)?;
        for n in ["hub", "n1", "n2"] {
            e.confirm_receipt(new, n)?;
        }
        let p = e.receipt_proof(new)?;
        e.activate(p)?;
        if rng.random_range(0..3u32) == 0 {
            e.rotate_emergency(new, rng)?;
        }
        Ok(())
    };
    if round.is_multiple_of(3) {
        engine
            .batch(|e| {
                for _ in 0..10 {
                    step(e, rng)?;
                }
                Ok(())
            })
            .unwrap();
    } else {
        step(engine, rng).unwrap();
    }
}

/// The child test's full name in the integration binary, for `--exact`.
const CHILD_TEST: &str = "lifecycle_crash::crash_child_burst";

/// Child side: runs only when spawned by the parent test below.
#[test]
#[ignore = "helper process for crash_consistency_under_sigkill"]
fn crash_child_burst() {
    let Ok(db) = std::env::var("QECNET_CRASH_DB") else {
        eprintln!("QECNET_CRASH_DB not set: this is a helper process, nothing to do");
        return;
    };
    let seed: u64 = std::env::var("QECNET_CRASH_SEED").unwrap().parse().unwrap();
    let mut engine = Engine::open(Path::new(&db), &master(), config(), Box::new(WallClock)).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let start = Instant::now();
    let mut round = 0;
    while start.elapsed() < Duration::from_secs(20) {
        burst(&mut engine, &mut rng, round);
        round += 1;
    }
}

fn check_store(path: &Path) -> u64 {
    let engine = Engine::open(path, &master(), config(), Box::new(ManualClock::new(SimTime(0))))
        .expect("store opens after SIGKILL");
    let report = engine.verify_audit().unwrap().into_result().expect("audit chain verifies after SIGKILL");
    assert_eq!(report.records, engine.audit_len());
    let states = engine.key_states().unwrap();
    assert_eq!(engine.replay_audit().unwrap(), states, "store and audit chain disagree");
    let keys = engine.keys(None).unwrap();
    for k in &keys {
        // Composite operations land whole: a ROTATING key always has its replacement.
        if k.state == KeyState::Rotating {
            assert!(
                keys.iter().any(|r| r.replaces == Some(k.id)),
                "{} ROTATING without a replacement (partial rotation)",
                k.id
            );
        }
        if k.state == KeyState::Active {
            assert_eq!(k.receipts.len(), k.participants.len(), "{} ACTIVE without receipts", k.id);
        }
        if k.state == KeyState::Destroyed {
            assert!(!k.has_material);
        }
    }
    report.records
}

#[test]
fn crash_consistency_under_sigkill() {
    let dir = TempDir::new("crash");
    let path: PathBuf = dir.join("store.db");
    {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        Engine::create(&path, &master(), config(), Box::new(ManualClock::new(SimTime::from_secs(1))), &mut rng)
            .unwrap();
    }
    let mut rng = ChaCha20Rng::seed_from_u64(2024);
    let mut records = check_store(&path);
    let initial = records;
    let exe = std::env::current_exe().unwrap();
    for round in 0..8u64 {
        let mut child = Command::new(&exe)
            .args(["--ignored", "--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
            .env("QECNET_CRASH_DB", &path)
            .env("QECNET_CRASH_SEED", round.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(150..700u64)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        if round % 2 == 0 {
            // The secret-free reader copes with the WAL the killed writer left.
            let out = qecnet_command().args(["audit", "verify"]).arg(&path).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        }
        let now = check_store(&path);
        assert!(now >= records, "records lost: {records} -> {now}");
        records = now;
    }
    assert!(records > initial + 100, "the children made too little progress ({initial} -> {records})");
}
