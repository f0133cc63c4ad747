//! The lifecycle side of key delivery: one-time keys issued ACTIVE for their master and
//! collected (RETIRED) once for their slave, all-or-none per request, through the
//! group-committing store writer the KMEs share; the audit chain verifies.

use qecnet::crypto::SecretBytes;
use qecnet::lifecycle::{DeliveredKey, Engine, EngineConfig, KeyState, ManualClock, list_keys, open_reader};
use std::sync::Arc;

use qecnet::mesh::MeshScenario;
use qecnet::serve::{MAX_GROUP, Pacing, start_writer};
use qecnet::units::SimTime;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::util::TempDir;

fn engine(dir: &TempDir) -> Engine {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let master = SecretBytes::random(32, "master", &mut rng).unwrap();
    let clock = ManualClock::new(SimTime::from_secs(1_700_000_000));
    Engine::create(&dir.join("store.db"), &master, EngineConfig::default(), Box::new(clock), &mut rng).unwrap()
}

fn key(i: usize, bytes: &[u8]) -> DeliveredKey {
    DeliveredKey {
        channel: format!("etsi014/test-{i}"),
        material: SecretBytes::new(bytes.to_vec()),
        origin: "qkd n1-n2".into(),
        handed_to: format!("key_ID=test-{i}; master_SAE_ID=sae-alice; slave_SAE_ID=sae-bob"),
    }
}

#[test]
fn a_delivered_key_is_active_for_its_master_and_retired_once_its_slave_collects_it() {
    let dir = TempDir::new("serve-delivery");
    let mut e = engine(&dir);
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    let ids = e.issue_delivered_keys(&["n2", "n1"], vec![key(0, &[7; 32]), key(1, &[9; 8])], &mut rng).unwrap();
    for &id in &ids {
        let rec = e.key(id).unwrap();
        assert_eq!(rec.state, KeyState::Active);
        assert_eq!(rec.participants, vec!["n1".to_string(), "n2".to_string()]);
        assert_eq!(rec.receipts.len(), 2);
    }
    let got = e.collect_delivered_keys(&[(ids[1], "slave_SAE_ID=sae-bob".into())]).unwrap();
    assert_eq!(got[0].expose(), &[9; 8]);
    assert_eq!(e.key(ids[1]).unwrap().state, KeyState::Retired);
    assert_eq!(e.key(ids[0]).unwrap().state, KeyState::Active);
    // A second collection is refused and changes nothing.
    assert!(e.collect_delivered_keys(&[(ids[1], "slave_SAE_ID=sae-bob".into())]).is_err());
    // All or none: one collectable key and one already collected leave both as they were.
    assert!(e.collect_delivered_keys(&[(ids[0], "x".into()), (ids[1], "x".into())]).is_err());
    assert_eq!(e.key(ids[0]).unwrap().state, KeyState::Active);
    let report = e.verify_audit().unwrap().into_result().unwrap();
    assert_eq!(report.records, e.audit_len());
    assert!(e.issue_delivered_keys(&["n1", "n2"], vec![key(2, &[])], &mut rng).is_err(), "an empty key is refused");
}

#[test]
fn concurrent_requests_through_the_store_writer_are_each_durable_when_answered() {
    let dir = TempDir::new("serve-group-commit");
    // The writer drives the live mesh of the default serve scenario on the same engine.
    let text = std::fs::read_to_string("sims/serve-default.toml").unwrap();
    let scenario: Arc<MeshScenario> = Arc::new(toml::from_str(&text).unwrap());
    let sim_clock = ManualClock::new(SimTime(0));
    let rng = ChaCha20Rng::seed_from_u64(8);
    let (store, writer, _supply) =
        start_writer(scenario, engine(&dir), sim_clock, None, rng, MAX_GROUP, Pacing { speed: 1.0 }).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let db = dir.join("store.db");
    let requests = 64;
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..requests {
            let store = store.clone();
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let ids = store
                    .issue(vec![(vec!["n1".into(), "n2".into()], vec![key(i, &[i as u8 + 1; 32])])])
                    .await
                    .unwrap();
                // Answered means committed: a separate reader sees the key ACTIVE.
                let conn = open_reader(&db).unwrap();
                let rec = qecnet::lifecycle::get_key(&conn, ids[0]).unwrap();
                assert_eq!(rec.state, KeyState::Active);
                let got = store.collect(vec![(ids[0], "slave_SAE_ID=sae-bob".into())]).await.unwrap();
                assert_eq!(got[0].expose(), &[i as u8 + 1; 32]);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    drop(store);
    let records = writer.finish().unwrap();
    let conn = open_reader(&db).unwrap();
    let keys = list_keys(&conn, Some(KeyState::Retired)).unwrap();
    assert_eq!(keys.len(), requests);
    assert!(records > 0);
}
