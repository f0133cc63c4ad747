//! A compromised sovereign hub: the six-step recovery isolates it and revokes every key it
//! shared (its session keys, the group key, the NODE_IDENTITY keys, its AUDIT_SIGNING key and
//! the SOVEREIGN_MASTER), pairs with a fibre path that avoids it stay on QKD key and no relay
//! uses it, the group is re-keyed by n1; the operator's re-provisioning brings a new master
//! that re-wraps every stored key (the old one then opens nothing), and the hub rejoins with
//! fresh keys; the audit chain verifies throughout.

use qecnet::crypto::{KeyType, MasterKey, SecretBytes};
use qecnet::lifecycle::{Engine, EngineConfig, KeyRecord, KeyState, ManualClock, list_keys};
use qecnet::units::SimTime;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::mesh_reconfigure::{rotations, route_changes, run, scenario, sources};
use crate::util::{TempDir, qecnet_command};

/// The hub compromised at `at` s, re-provisioned `recover` s later (or never).
fn hub_compromise(at: f64, recover: Option<f64>) -> String {
    let mut e = format!("[[event]]\nat = \"{at}s\"\nkind = \"compromise\"\nnode = \"hub\"\n");
    if let Some(r) = recover {
        e.push_str(&format!("recover_after = \"{r}s\"\n"));
    }
    e
}

fn keys_of(db: &std::path::Path) -> Vec<KeyRecord> {
    let conn = rusqlite::Connection::open(db).unwrap();
    list_keys(&conn, None).unwrap()
}

fn audit_verifies(db: &std::path::Path) {
    let out = qecnet_command().arg("audit").arg("verify").arg(db).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

/// The audit records named `event`, as (seq, key id, detail).
fn audit_rows(db: &std::path::Path, event: &str) -> Vec<(i64, Option<i64>, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut st = conn.prepare("SELECT seq, key_id, detail FROM audit WHERE event = ?1 ORDER BY seq").unwrap();
    st.query_map([event], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
}

#[test]
fn after_a_hub_compromise_no_key_shared_with_the_hub_is_active_and_its_master_is_revoked() {
    let r = run("hub-compromise-only", &scenario("40m", &hub_compromise(1200.0, None)));
    let keys = keys_of(&r.db);
    let with_hub: Vec<&KeyRecord> = keys.iter().filter(|k| k.participants.iter().any(|p| p == "hub")).collect();
    // Session keys, the group key, NODE_IDENTITY keys, AUDIT_SIGNING and the master record.
    for kt in [KeyType::MeshSession, KeyType::NodeIdentity, KeyType::AuditSigning, KeyType::SovereignMaster] {
        assert!(with_hub.iter().any(|k| k.key_type == kt), "no {kt:?} key with the hub");
    }
    for k in &with_hub {
        assert!(matches!(k.state, KeyState::Revoked | KeyState::Destroyed), "{} {:?} {:?}", k.id, k.key_type, k.state);
    }
    let master = keys.iter().find(|k| k.key_type == KeyType::SovereignMaster).unwrap();
    let revokes = audit_rows(&r.db, "revoke");
    let reason = revokes.iter().find(|x| x.1 == Some(master.id.0)).map(|x| x.2.clone()).unwrap();
    assert!(reason.contains("compromise of node hub") && reason.contains("SOVEREIGN_MASTER"), "{reason}");
    // The group is re-keyed without the hub, coordinated by n1, and stays keyed.
    let group: Vec<&KeyRecord> = keys.iter().filter(|k| k.channel == "mesh-group").collect();
    let live: Vec<&&KeyRecord> = group.iter().filter(|k| k.state == KeyState::Active).collect();
    assert_eq!(live.len(), 1, "{group:?}");
    assert_eq!(live[0].participants, ["n1", "n2", "n3", "n4", "n5"]);
    let h = r.summary.hub_compromise.as_ref().unwrap();
    assert_eq!(h.masters_revoked, 1);
    assert_eq!(h.keys_revoked, with_hub.iter().filter(|k| k.state == KeyState::Revoked).count() as u64);
    assert!(h.reprovisioned_at_s.is_none() && h.recovered_at_s.is_none());
    assert_eq!(r.summary.key_use_violations, 0);
    audit_verifies(&r.db);
}

#[test]
fn while_the_hub_is_isolated_pairs_with_a_fibre_path_stay_on_qkd_key_and_no_relay_uses_the_hub() {
    let (at, back) = (1800.0, 3600.0);
    let r = run("hub-compromise-routes", &scenario("90m", &hub_compromise(at, Some(back - at))));
    let rows = rotations(&r.rotations);
    // The pairs whose fibres avoid the hub keep QKD key (direct, or relayed over n1..n4).
    for ch in ["n1-n2", "n1-n3", "n1-n4", "n3-n2", "n4-n2", "n3-n4"] {
        let s = sources(&rows, ch, at + 1.0, back);
        assert!(s.len() >= 5, "{ch}: {s:?}");
        assert!(s.iter().all(|x| x == "direct" || (x.starts_with("relay:") && !x.contains("hub"))), "{ch}: {s:?}");
    }
    // No key of the isolation relays through the hub; n5's pairs have no other path.
    let inside: Vec<_> = rows.iter().filter(|x| x.0 > at && x.0 < back).collect();
    assert!(inside.iter().all(|x| !x.4.contains("hub")), "{inside:?}");
    for ch in ["n1-n5", "n2-n5", "n3-n5", "n4-n5"] {
        let s = sources(&rows, ch, at + 1.0, back);
        assert!(!s.is_empty() && s.iter().all(|x| x == "fallback"), "{ch}: {s:?}");
    }
    // The hub's own pairs have no key at all while it is isolated (the coverage's "none").
    assert!(rows.iter().filter(|x| x.0 > at + 1.0 && x.0 < back).all(|x| !x.1.starts_with("hub-")), "{rows:?}");
    let changes = route_changes(&r.trace);
    assert!(changes.iter().any(|c| c.1 == "hub-n1" && c.2 == "cut" && (c.0 - at).abs() < 1e-6), "{changes:?}");
    // The group's re-key (emergency) and its refreshes during the isolation are made by n1.
    let group = sources(&rows, "mesh-group", at, back);
    assert!(!group.is_empty(), "{rows:?}");
    let made: Vec<_> = audit_rows(&r.db, "generate")
        .into_iter()
        .filter(|x| x.2.contains("channel=mesh-group") && !x.2.contains("participants=hub"))
        .collect();
    assert!(made.iter().skip(1).all(|x| x.2.contains("generated by n1")), "{made:?}");
    // Once the hub returns (fresh links: its pairs start on the fallback), they come back to
    // QKD through it.
    for ch in ["n1-n5", "hub-n1"] {
        let after = sources(&rows, ch, back + 600.0, 5400.0);
        assert!(!after.is_empty() && after.iter().all(|x| x == "direct" || x.contains("hub")), "{ch}: {after:?}");
    }
    assert_eq!(r.summary.key_use_violations, 0);
}

#[test]
fn after_recovery_the_hub_has_fresh_keys_a_new_master_replaces_the_revoked_one_and_the_audit_verifies() {
    let (at, recover) = (1800.0, 1800.0);
    let r = run("hub-compromise-recovery", &scenario("90m", &hub_compromise(at, Some(recover))));
    let h = r.summary.hub_compromise.clone().unwrap();
    let back = at + recover;
    assert!((h.reprovisioned_at_s.unwrap() - back).abs() < 1e-6, "{h:?}");
    assert_eq!(h.channels_not_rejoined, 0, "{h:?}");
    // Re-keying every channel of the hub takes a few round trips, well within one window.
    assert!(h.rejoin_s.unwrap() > 0.0 && h.rejoin_s.unwrap() < 10.0, "{h:?}");
    let keys = keys_of(&r.db);
    assert!(h.keys_rewrapped > 0 && h.keys_rewrapped <= keys.len() as u64, "{h:?}");
    let masters: Vec<&KeyRecord> = keys.iter().filter(|k| k.key_type == KeyType::SovereignMaster).collect();
    assert_eq!(masters.len(), 2, "{masters:?}");
    assert_eq!(masters[0].state, KeyState::Revoked);
    assert_eq!((masters[1].state, masters[1].replaces), (KeyState::Active, Some(masters[0].id)));
    // No master rotation ran between the compromise and the re-provisioning.
    assert_eq!(r.summary.master_rotations, 0);
    let signers: Vec<&KeyRecord> = keys.iter().filter(|k| k.key_type == KeyType::AuditSigning).collect();
    assert_eq!(signers.iter().map(|k| k.state).collect::<Vec<_>>(), [KeyState::Revoked, KeyState::Active]);
    // Every pair of the hub, the group and every node identity has an ACTIVE key with the hub.
    for ch in ["hub-n1", "hub-n2", "hub-n5", "mesh-group", "identity-n3"] {
        let active: Vec<_> = keys.iter().filter(|k| k.channel == ch && k.state == KeyState::Active).collect();
        assert_eq!(active.len(), 1, "{ch}: {active:?}");
        assert!(active[0].participants.iter().any(|p| p == "hub"), "{ch}: {active:?}");
    }
    // The re-provisioning is one audit record; the chain and its checkpoints verify, signed
    // by the old signing key before the compromise and the new one after.
    let rows = audit_rows(&r.db, "recovery:reprovision");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].2.contains("node=hub") && rows[0].2.contains("new SOVEREIGN_MASTER"), "{rows:?}");
    let conn = rusqlite::Connection::open(&r.db).unwrap();
    let report = qecnet::lifecycle::verify(&conn, &Default::default()).unwrap().into_result().unwrap();
    assert_eq!(report.signers.len(), 2, "{:?}", report.signers);
    drop(conn);
    audit_verifies(&r.db);
    assert_eq!(r.summary.key_use_violations, 0);
}

#[test]
fn the_old_sovereign_master_opens_nothing_after_the_hub_is_re_provisioned() {
    let dir = TempDir::new("hub-compromise-master");
    let path = dir.join("store.db");
    let mut rng = ChaCha20Rng::seed_from_u64(14);
    let old = SecretBytes::random(32, "master", &mut rng).unwrap();
    let new = SecretBytes::random(32, "master", &mut rng).unwrap();
    let clock = ManualClock::new(SimTime::from_secs(1_000));
    let mut e = Engine::create(&path, &old, EngineConfig::default(), Box::new(clock.clone()), &mut rng).unwrap();
    let active = |e: &mut Engine, rng: &mut ChaCha20Rng, channel: &str, nodes: &[&str]| {
        let id = e.generate(KeyType::MeshSession, channel, nodes, rng).unwrap();
        e.distribute(id).unwrap();
        for n in nodes {
            e.confirm_receipt(id, n).unwrap();
        }
        let proof = e.receipt_proof(id).unwrap();
        e.activate(proof).unwrap();
        id
    };
    let hub_n1 = active(&mut e, &mut rng, "hub-n1", &["hub", "n1"]);
    let n1_n2 = active(&mut e, &mut rng, "n1-n2", &["n1", "n2"]);
    let _group = active(&mut e, &mut rng, "group", &["hub", "n1", "n2"]);
    clock.set(SimTime::from_secs(2_000));
    let recovery = e.recover_compromise("hub", "test", &mut rng).unwrap();
    assert!(recovery.revoked.contains(&hub_n1));
    // While isolated nothing new includes the hub, and re-provisioning a node that is not
    // isolated is refused.
    assert!(e.generate(KeyType::MeshSession, "hub-n2", &["hub", "n2"], &mut rng).is_err());
    assert!(e.reprovision_node("n1", &new, &mut rng).is_err());
    clock.set(SimTime::from_secs(3_000));
    let report = e.reprovision_node("hub", &new, &mut rng).unwrap();
    assert_eq!(report.old_masters.len(), 1);
    assert!(report.new_master.is_some() && report.new_audit_key.is_some());
    // The hub rejoins with a fresh key, wrapped under the new master.
    let fresh = active(&mut e, &mut rng, "hub-n1", &["hub", "n1"]);
    assert_eq!(e.key(n1_n2).unwrap().state, KeyState::Active);
    e.checkpoint_now().unwrap();
    drop(e);
    // Every stored wrapped key opens under the new master and none under the old one.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut st = conn.prepare("SELECT id, key_type, wrapped FROM keys WHERE wrapped IS NOT NULL").unwrap();
    let blobs: Vec<(i64, String, Vec<u8>)> =
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
    assert_eq!(report.rewrapped + 2, blobs.len() as u64, "re-wrapped, the new signing key and the fresh key");
    assert!(blobs.iter().any(|b| b.0 == fresh.0));
    let (old_key, new_key) = (MasterKey::from_material(&old).unwrap(), MasterKey::from_material(&new).unwrap());
    for (id, kt, wrapped) in &blobs {
        let aad = format!("qecnet/key/v1/{id}/{kt}");
        assert!(new_key.unwrap(wrapped, aad.as_bytes()).is_ok(), "key {id} does not open under the new master");
        assert!(old_key.unwrap(wrapped, aad.as_bytes()).is_err(), "key {id} still opens under the old master");
    }
    drop(st);
    let verdict = qecnet::lifecycle::verify(&conn, &Default::default()).unwrap().into_result().unwrap();
    assert_eq!(verdict.signers.len(), 2);
    drop(conn);
    let open = |m: &SecretBytes| Engine::open(&path, m, EngineConfig::default(), Box::new(clock.clone()));
    assert!(open(&old).is_err(), "the old master still opens the store");
    let reopened = open(&new).unwrap();
    assert_eq!(reopened.key(fresh).unwrap().state, KeyState::Active);
    assert!(reopened.isolated_nodes().unwrap().is_empty());
    drop(reopened);
    // The chain's reprovision record is what ended the isolation: a hub put back on the
    // isolated list behind the engine's back fails verification.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("INSERT INTO nodes(node, isolated_ns) VALUES ('hub', 0)", []).unwrap();
    let verdict = qecnet::lifecycle::verify(&conn, &Default::default()).unwrap().into_result();
    let err = verdict.expect_err("a tampered nodes table verifies").to_string();
    assert!(err.contains("hub") && err.contains("no audit record isolated it"), "{err}");
}

#[test]
fn a_recover_after_on_anything_but_a_hub_compromise_is_refused_naming_the_field() {
    for (events, field) in [
        ("[[event]]\nat = \"60s\"\nkind = \"compromise\"\nnode = \"n1\"\nrecover_after = \"60s\"\n", "recover_after"),
        ("[[event]]\nat = \"60s\"\nkind = \"crash\"\nnode = \"hub\"\nrecover_after = \"60s\"\n", "recover_after"),
        (
            "[[event]]\nat = \"60s\"\nkind = \"compromise\"\nnode = \"hub\"\nrecover_after = \"0s\"\n",
            "must be a duration > 0",
        ),
    ] {
        let err = scenario("10m", events).validate().unwrap_err().to_string();
        assert!(err.contains("event[0].recover_after") && err.contains(field), "{err}");
    }
    assert!(scenario("10m", &hub_compromise(60.0, Some(60.0))).validate().is_ok());
}
