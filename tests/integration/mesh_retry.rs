//! Failed distributions in the mesh (the spec: GENERATED/DISTRIBUTED ──[distribution_failure]──>
//! DESTROYED, "failed distributions trigger automatic retry with new key material"): a
//! participant that crashes mid-distribution leaves a DESTROYED key and a retry with material
//! drawn after its restart; messages lost beyond the resend budget exhaust the attempts at the
//! rate the loss model predicts while the old key stays ACTIVE; every check reads the store.

use std::collections::BTreeMap;
use std::path::Path;

use qecnet::mesh::{MeshOutputs, MeshScenario, MeshSummary, run_mesh};

use crate::util::{MESH_TEST_TABLES, OutputText, TempDir, qecnet};

/// A mesh of the hub and nodes at `lengths_km` (one direct link each), modern 1 GHz links,
/// with `extra` TOML appended.
fn scenario(lengths_km: &[f64], extra: &str) -> MeshScenario {
    let mut text = format!(
        r#"
[mesh]
window = "10s"
seed = 5
{MESH_TEST_TABLES}
"#,
    );
    for (i, km) in lengths_km.iter().enumerate() {
        let n = i + 1;
        text.push_str(&format!("[[node]]\nname = \"n{n}\"\n[[link]]\na = \"hub\"\nb = \"n{n}\"\nlength_km = {km:?}\n"));
    }
    text.push_str(extra);
    toml::from_str(&text).unwrap()
}

/// Runs `s` into a fresh directory: the summary, the trace and rotations CSVs, the directory.
fn run(name: &str, s: &MeshScenario) -> (MeshSummary, String, String, TempDir) {
    let dir = TempDir::new(&format!("mesh-retry-{name}"));
    let outputs = MeshOutputs {
        db: dir.join("store.db"),
        trace: Some(dir.join("trace.csv")),
        timeseries: None,
        rotations: Some(dir.join("rotations.csv")),
        coverage: None,
        overwrite: false,
    };
    let summary = run_mesh(s, &outputs, &|_, _| {}).unwrap();
    let trace = std::fs::read_to_string(dir.join("trace.csv")).unwrap();
    let rotations = std::fs::read_to_string(dir.join("rotations.csv")).unwrap();
    (summary, trace, rotations, dir)
}

/// One audit record: (at_ns, event, key, detail).
type Record = (i64, String, Option<i64>, String);

fn audit(db: &Path) -> Vec<Record> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT at_ns, event, key_id, detail FROM audit ORDER BY seq").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(|r| r.unwrap()).collect()
}

/// A key row: (state, channel, replaces, wrapped material present, usage count, activated).
fn key_row(db: &Path, id: i64) -> (String, String, Option<i64>, bool, i64, bool) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT state, channel, replaces, wrapped IS NOT NULL, usage_count, activated_ns IS NOT NULL FROM keys WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
    )
    .unwrap()
}

/// The first record of `event` for `key`.
fn record<'a>(log: &'a [Record], event: &str, key: i64) -> &'a Record {
    log.iter().find(|r| r.1 == event && r.2 == Some(key)).unwrap_or_else(|| panic!("no {event} record for key {key}"))
}

fn audit_verify_passes(db: &Path) {
    let out = qecnet(&["audit", "verify", db.to_str().unwrap()]);
    assert_eq!(out.code(), 0, "{}", out.stdout_text());
}

/// Refreshes of the channels start at 10 s + j·0.625 s (j: the channel's place: hub-n1,
/// hub-n2, the group) and then every 300 s: hub-n2's third starts at 610.625 s. n2 crashes
/// 0.2 ms later, before the key (425 µs away) reaches it, and is down for 120 s.
const CRASH: &str = r#"
[[event]]
at = 610.6252
kind = "crash"
node = "n2"
restart_after = "120s"
"#;

#[test]
fn a_crashed_participant_gets_a_destroyed_key_and_fresh_material_after_restart() {
    let mut s = scenario(&[15.0, 45.0], CRASH);
    s.mesh.duration_s = 1200.0;
    let (summary, trace, rotations, dir) = run("crash", &s);
    let db = dir.join("store.db");
    let log = audit(&db);
    let restart_ns = ((610.6252 + 120.0) * 1e9) as i64;
    // The distribution of hub-n2's key failed at its deadline, n2 being down...
    let failure = log
        .iter()
        .find(|r| r.1 == "distribution_failure" && r.3.contains("n2 down"))
        .expect("a distribution failure while n2 is down");
    let failed = failure.2.unwrap();
    let (state, channel, old, has_material, uses, activated) = key_row(&db, failed);
    assert_eq!(channel, "hub-n2");
    assert_eq!((state.as_str(), has_material, uses, activated), ("DESTROYED", false, 0, false));
    let deadline_ns = (summary.distribution.deadline_ms * 1e6).round() as i64;
    assert_eq!(failure.0, (610.625e9 as i64) + deadline_ns, "the failure comes at the deadline");
    // ...and was retried after the restart with material drawn then: a new key.
    let retry = log
        .iter()
        .find(|r| r.1 == "distribution_retry" && r.3 == format!("retry of key#{failed}"))
        .expect("a retry of the failed key");
    let new = retry.2.unwrap();
    assert_ne!(new, failed);
    let generated = record(&log, "generate", new);
    assert!(generated.0 > restart_ns, "material drawn at {} ns, before the restart", generated.0);
    assert!(generated.3.contains("source=qkd"), "{}", generated.3);
    let activate = record(&log, "activate", new);
    let (state, _, new_replaces, ..) = key_row(&db, new);
    assert_ne!(state, "DESTROYED");
    // The old key stayed ACTIVE throughout: its rotation began as its replacement activated.
    assert_eq!(new_replaces, old);
    let old = old.expect("a rotation of hub-n2's key");
    assert_eq!(record(&log, "begin_rotation", old).0, activate.0);
    assert!(record(&log, "activate", old).0 < failure.0);
    // The rotation converged after the restart, on its second attempt, within the promise.
    let row =
        rotations.lines().find(|l| l.starts_with("610.625,hub-n2,")).expect("hub-n2's rotation of 610.625 s converged");
    let f: Vec<&str> = row.split(',').collect();
    assert_eq!((f[4], f[5]), ("true", "2"), "{row}");
    let (from_first, from_success): (f64, f64) = (f[3].parse().unwrap(), f[6].parse().unwrap());
    assert!(from_first > 120e3 - 1.0 && from_success < 5e3, "{row}");
    assert!(trace.contains("hub-n2,distribution:retry,DISTRIBUTED"));
    // The group (refreshed at 611.25 s, n2 down) failed and was retried the same way; no
    // DESTROYED key was ever used, as the store shows.
    let failures = summary.rotations.scheduled.distribution_failures + summary.distribution.setup_failures;
    assert!(failures >= 2, "{failures}");
    assert_eq!(summary.distribution.store.destroyed, failures);
    assert_eq!(summary.distribution.store.retries, summary.rotations.scheduled.retries);
    assert_eq!(summary.distribution.store.used, 0);
    assert_eq!(summary.rotations.scheduled.exhausted, 0);
    assert_eq!(summary.key_use_violations, 0);
    audit_verify_passes(&db);
    // Same seed, same run.
    let (again, trace_again, rotations_again, _dir) = run("crash-again", &s);
    assert_eq!((again.reproducible(), trace_again, rotations_again), (summary.reproducible(), trace, rotations));
}

/// Message loss probability of the exhaustion test, with no resends: each message is lost
/// for good with this probability.
const LOSS: f64 = 0.3;

#[test]
fn messages_lost_for_good_exhaust_the_retries_at_the_predicted_rate_and_the_old_key_stays_active() {
    let extra = format!("[messages]\nloss_probability = {LOSS}\nmax_resends = 0\n");
    let mut s = scenario(&[20.0], &extra);
    s.mesh.duration_s = 43_200.0;
    let (summary, trace, _rotations, dir) = run("loss", &s);
    let db = dir.join("store.db");
    let r = &summary.rotations.scheduled;
    let attempts_allowed = summary.distribution.max_attempts;
    // Every channel (hub-n1, the group) has two participants, the hub and n1: an attempt
    // succeeds when the key reaches both and both receipts come back, (1 - p)^4.
    let fail = 1.0 - (1.0 - LOSS).powi(4);
    let attempts = (r.count + r.distribution_failures) as f64;
    let sigma = (fail * (1.0 - fail) / attempts).sqrt();
    let rate = r.distribution_failures as f64 / attempts;
    assert!((rate - fail).abs() < 4.0 * sigma, "failure rate {rate} vs {fail} ± 4·{sigma} over {attempts} attempts");
    // A rotation is given up when all its attempts fail: fail^A.
    let rotations = (r.count + r.exhausted) as f64;
    let give_up = fail.powi(attempts_allowed as i32);
    let sigma = (give_up * (1.0 - give_up) / rotations).sqrt();
    let rate = r.exhausted as f64 / rotations;
    assert!((rate - give_up).abs() < 4.0 * sigma, "give-up rate {rate} vs {give_up} ± 4·{sigma}");
    // Every failure was either retried or ended its rotation; the trace reports each give-up.
    assert_eq!(r.distribution_failures, r.retries + r.exhausted);
    let reported = trace.lines().filter(|l| l.contains(",distribution:exhausted,") && !l.contains("identity-")).count();
    assert_eq!(reported as u64, r.exhausted);
    // From the store: every failed key DESTROYED and never used, and once a session channel
    // has an ACTIVE key it always has one (the old key stays ACTIVE through every failure).
    let d = &summary.distribution;
    assert_eq!(d.store.destroyed, r.distribution_failures + d.setup_failures);
    assert_eq!(d.store.used, 0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let channel_of: BTreeMap<i64, String> = conn
        .prepare("SELECT id, channel FROM keys WHERE key_type = 'MESH_SESSION'")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(|x| x.unwrap())
        .collect();
    let mut active: BTreeMap<String, i64> = BTreeMap::new();
    let mut ever: BTreeMap<String, bool> = BTreeMap::new();
    let mut checked = 0u64;
    let mut stmt =
        conn.prepare("SELECT key_id, from_state, to_state FROM audit WHERE to_state IS NOT NULL ORDER BY seq").unwrap();
    let transitions = stmt
        .query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Option<String>>(1)?, row.get::<_, String>(2)?)))
        .unwrap();
    for t in transitions {
        let (key, from, to) = t.unwrap();
        let Some(channel) = channel_of.get(&key) else { continue };
        let n = active.entry(channel.clone()).or_default();
        if from.as_deref() == Some("ACTIVE") {
            *n -= 1;
        }
        if to == "ACTIVE" {
            *n += 1;
            ever.insert(channel.clone(), true);
        }
        // Within one transaction the old key leaves ACTIVE just before its successor arrives:
        // check after each activation and each failure.
        if to == "DESTROYED" || to == "ACTIVE" {
            assert!(!ever.get(channel).copied().unwrap_or(false) || *n == 1, "{channel}: {n} ACTIVE keys");
            checked += 1;
        }
    }
    assert!(checked > 100 && r.exhausted > 0, "{checked} checks, {} given up", r.exhausted);
    audit_verify_passes(&db);
}

#[test]
fn bad_retry_settings_are_refused_naming_the_field() {
    let mut s = scenario(&[20.0], "");
    s.rotation.max_distribution_attempts = 0;
    let e = s.validate().unwrap_err().to_string();
    assert!(e.contains("rotation.max_distribution_attempts") && e.contains("1 to 100"), "{e}");
    let mut s = scenario(&[20.0], "");
    s.rotation.distribution_deadline_s = Some(1e-4);
    let e = s.validate().unwrap_err().to_string();
    assert!(e.contains("rotation.distribution_deadline") && e.contains("round trip"), "{e}");
    let mut s = scenario(&[20.0], "");
    s.rotation.retry_backoff_s = 1e4;
    let e = s.validate().unwrap_err().to_string();
    assert!(e.contains("rotation.retry_backoff"), "{e}");
}
