//! Engine scenarios: the diagram's transitions, receipts, the three rotation
//! protocols, compromise recovery, usage, and the store's refusals.

use std::path::PathBuf;

use qecnet::crypto::{CryptoError, KeyType, SecretBytes};

use qecnet::lifecycle::{
    Engine, EngineConfig, KeyId, KeyState, LifecycleError, ManualClock, Transition, Trigger, Usage,
};
use qecnet::units::{SimDuration, SimTime};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::util::TempDir;

struct Fixture {
    _dir: TempDir,
    path: PathBuf,
    master: SecretBytes,
    clock: ManualClock,
    rng: ChaCha20Rng,
    engine: Engine,
}

fn fixture(tag: &str, config: EngineConfig) -> Fixture {
    let dir = TempDir::new(tag);
    let path = dir.join("store.db");
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let master = SecretBytes::random(32, "master", &mut rng).unwrap();
    let clock = ManualClock::new(SimTime::from_secs(1_700_000_000));
    let engine = Engine::create(&path, &master, config, Box::new(clock.clone()), &mut rng).unwrap();
    Fixture { _dir: dir, path, master, clock, rng, engine }
}

fn active_key(f: &mut Fixture, kt: KeyType, channel: &str, nodes: &[&str]) -> KeyId {
    let id = f.engine.generate(kt, channel, nodes, &mut f.rng).unwrap();
    f.engine.distribute(id).unwrap();
    for n in nodes {
        f.engine.confirm_receipt(id, n).unwrap();
    }
    let proof = f.engine.receipt_proof(id).unwrap();
    f.engine.activate(proof).unwrap();
    id
}

fn state(f: &Fixture, id: KeyId) -> KeyState {
    f.engine.key(id).unwrap().state
}

fn assert_chain_ok(f: &Fixture) {
    let report = f.engine.verify_audit().unwrap().into_result().expect("audit chain verifies");
    assert_eq!(report.records, f.engine.audit_len());
    let replay = f.engine.replay_audit().unwrap();
    assert_eq!(replay, f.engine.key_states().unwrap());
}

#[test]
fn illegal_transitions_name_key_state_and_transition() {
    let mut f = fixture("illegal", EngineConfig::default());
    let id = f.engine.generate(KeyType::MeshSession, "hub-n1", &["hub", "n1"], &mut f.rng).unwrap();
    let err = f.engine.retire(id).unwrap_err();
    match &err {
        LifecycleError::IllegalTransition { key, state, transition } => {
            assert_eq!((*key, *state, *transition), (id, KeyState::Generated, Transition::Retire));
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&id.to_string()) && msg.contains("GENERATED") && msg.contains("retire"), "{msg}");
    // Receipts only while DISTRIBUTED, activation only with every receipt.
    assert!(matches!(f.engine.confirm_receipt(id, "n1"), Err(LifecycleError::ReceiptNotExpected { .. })));
    f.engine.distribute(id).unwrap();
    assert!(f.engine.distribute(id).is_err());
    f.engine.confirm_receipt(id, "n1").unwrap();
    assert!(matches!(f.engine.confirm_receipt(id, "mallory"), Err(LifecycleError::NotParticipant { .. })));
    match f.engine.receipt_proof(id) {
        Err(LifecycleError::ReceiptsIncomplete { missing, .. }) => assert_eq!(missing, vec!["hub"]),
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(f.engine.use_key(id, Usage::Protect), Err(LifecycleError::NotUsable { .. })));
    f.engine.confirm_receipt(id, "hub").unwrap();
    let proof = f.engine.receipt_proof(id).unwrap();
    f.engine.activate(proof).unwrap();
    assert_eq!(state(&f, id), KeyState::Active);
    // Destroy straight from ACTIVE is not in the diagram.
    assert!(matches!(
        f.engine.destroy(id),
        Err(LifecycleError::IllegalTransition { transition: Transition::Destroy, .. })
    ));
    f.engine.revoke(id, "test").unwrap();
    assert!(matches!(
        f.engine.use_key(id, Usage::Unprotect),
        Err(LifecycleError::NotUsable { state: KeyState::Revoked, .. })
    ));
    assert!(f.engine.revoke(id, "again").is_err());
    assert_chain_ok(&f);
}

#[test]
fn second_active_key_on_a_channel_is_refused() {
    let mut f = fixture("busy", EngineConfig::default());
    let a = active_key(&mut f, KeyType::MeshSession, "hub-n1", &["hub", "n1"]);
    let b = f.engine.generate(KeyType::MeshSession, "hub-n1", &["hub", "n1"], &mut f.rng).unwrap();
    f.engine.distribute(b).unwrap();
    f.engine.confirm_receipt(b, "hub").unwrap();
    f.engine.confirm_receipt(b, "n1").unwrap();
    let proof = f.engine.receipt_proof(b).unwrap();
    match f.engine.activate(proof) {
        Err(LifecycleError::ChannelBusy { active, .. }) => assert_eq!(active, a),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(state(&f, b), KeyState::Distributed);
}

#[test]
fn scheduled_rotation_keeps_old_key_for_decryption_during_overlap() {
    let config = EngineConfig {
        overlap: SimDuration::from_secs(10),
        retention: SimDuration::from_secs(3600),
        ..EngineConfig::default()
    };
    let mut f = fixture("sched", config);
    let old = active_key(&mut f, KeyType::MeshSession, "hub-n1", &["hub", "n1"]);
    assert!(f.engine.due_for_rotation().unwrap().is_empty());
    f.clock.advance(SimDuration::from_secs(5 * 60));
    assert_eq!(f.engine.due_for_rotation().unwrap(), vec![old]);
    let pairs = f.engine.rotate_scheduled(&mut f.rng).unwrap();
    assert_eq!(pairs.len(), 1);
    let new = pairs[0].1;
    assert_eq!(state(&f, old), KeyState::Rotating);
    assert!(f.engine.use_key(old, Usage::Unprotect).is_ok());
    assert!(f.engine.use_key(old, Usage::Protect).is_err());
    assert!(matches!(f.engine.retire(old), Err(LifecycleError::ReplacementNotActive { .. })));
    f.engine.distribute(new).unwrap();
    f.engine.confirm_receipt(new, "hub").unwrap();
    f.engine.confirm_receipt(new, "n1").unwrap();
    let proof = f.engine.receipt_proof(new).unwrap();
    f.engine.activate(proof).unwrap();
    // Overlap: old still decrypts, both on the channel.
    assert_eq!(state(&f, old), KeyState::Rotating);
    assert!(f.engine.use_key(old, Usage::Unprotect).is_ok());
    f.clock.advance(SimDuration::from_secs(5));
    assert!(f.engine.tick().unwrap().retired.is_empty());
    f.clock.advance(SimDuration::from_secs(5));
    assert_eq!(f.engine.tick().unwrap().retired, vec![old]);
    assert_eq!(state(&f, old), KeyState::Retired);
    assert!(matches!(f.engine.destroy(old), Err(LifecycleError::RetentionNotElapsed { .. })));
    f.clock.advance(SimDuration::from_secs(3600));
    assert_eq!(f.engine.tick().unwrap().destroyed, vec![old]);
    let rec = f.engine.key(old).unwrap();
    assert_eq!(rec.state, KeyState::Destroyed);
    assert!(!rec.has_material);
    assert_chain_ok(&f);
}

#[test]
fn usage_limit_makes_a_key_due() {
    let mut config = EngineConfig::default();
    config.specs.set_usage_limit(KeyType::MeshSession, Some(3));
    let mut f = fixture("limit", config);
    let id = active_key(&mut f, KeyType::MeshSession, "c", &["hub"]);
    f.engine.record_use(id, Usage::Protect, 3).unwrap();
    assert!(matches!(f.engine.use_key(id, Usage::Protect), Err(LifecycleError::UsageLimitReached { limit: 3, .. })));
    assert_eq!(f.engine.due_for_rotation().unwrap(), vec![id]);
    assert_eq!(f.engine.key(id).unwrap().usage_count, 3);
}

#[test]
fn triggered_rotation_retires_old_key_on_activation() {
    let mut f = fixture("trig", EngineConfig::default());
    let old = active_key(&mut f, KeyType::NodeIdentity, "n1-id", &["n1"]);
    let new = f.engine.rotate_triggered(old, Trigger::Anomaly, &mut f.rng).unwrap();
    assert!(f.engine.key(old).unwrap().early_retirement);
    f.engine.distribute(new).unwrap();
    f.engine.confirm_receipt(new, "n1").unwrap();
    let proof = f.engine.receipt_proof(new).unwrap();
    f.engine.activate(proof).unwrap();
    assert_eq!(state(&f, old), KeyState::Retired);
    assert_eq!(state(&f, new), KeyState::Active);
    assert!(f.engine.key(new).unwrap().public_hex.is_some());
    assert_chain_ok(&f);
}

#[test]
fn emergency_rotation_revokes_all_instances_and_activates_prestaged() {
    let mut f = fixture("emerg", EngineConfig::default());
    let old = active_key(&mut f, KeyType::MeshSession, "hub-n1", &["hub", "n1"]);
    let pending = f.engine.begin_rotation(old, &mut f.rng).unwrap();
    let staged = f.engine.prestage(KeyType::MeshSession, "hub-n1", &["hub", "n1"], &mut f.rng).unwrap();
    f.engine.confirm_receipt(staged, "hub").unwrap();
    f.engine.confirm_receipt(staged, "n1").unwrap();
    let out = f.engine.rotate_emergency(old, &mut f.rng).unwrap();
    assert_eq!(out.revoked, vec![old, pending]);
    assert_eq!(out.replacement, staged);
    assert!(out.activated);
    assert_eq!(state(&f, old), KeyState::Revoked);
    assert_eq!(state(&f, pending), KeyState::Revoked);
    assert_eq!(state(&f, staged), KeyState::Active);
    // Without pre-staged material the replacement is freshly generated.
    let out2 = f.engine.rotate_emergency(staged, &mut f.rng).unwrap();
    assert!(!out2.activated);
    assert_eq!(state(&f, out2.replacement), KeyState::Generated);
    assert_chain_ok(&f);
}

#[test]
fn compromise_recovery_runs_six_audited_steps() {
    let mut f = fixture("recover", EngineConfig::default());
    let a = active_key(&mut f, KeyType::MeshSession, "mesh", &["hub", "n1", "n2"]);
    let b = active_key(&mut f, KeyType::MeshSession, "hub-n2", &["hub", "n2"]);
    let c = active_key(&mut f, KeyType::MeshSession, "hub-n1", &["hub", "n1"]);
    let report = f.engine.recover_compromise("n2", "QBER spike", &mut f.rng).unwrap();
    assert_eq!(report.revoked, vec![a, b]);
    assert_eq!(state(&f, c), KeyState::Active);
    // "mesh" is re-keyed for hub+n1; "hub-n2" has nobody left but the hub.
    assert_eq!(report.rekeyed.len(), 1);
    for id in &report.rekeyed {
        let k = f.engine.key(*id).unwrap();
        assert_eq!(k.state, KeyState::Distributed);
        assert!(!k.participants.contains(&"n2".to_string()));
    }
    let steps: Vec<u64> = report.audit_steps.to_vec();
    assert!(steps.windows(2).all(|w| w[0] < w[1]));
    assert!(f.engine.isolated_nodes().unwrap().contains("n2"));
    assert!(matches!(
        f.engine.generate(KeyType::MeshSession, "x", &["n2"], &mut f.rng),
        Err(LifecycleError::NodeIsolated { .. })
    ));
    assert_chain_ok(&f);
}

#[test]
fn distribution_failure_destroys_and_retries_with_new_material() {
    let mut f = fixture("distfail", EngineConfig::default());
    let id = f.engine.generate(KeyType::MeshSession, "c", &["hub", "n1"], &mut f.rng).unwrap();
    f.engine.distribute(id).unwrap();
    f.engine.confirm_receipt(id, "hub").unwrap();
    let retry = f.engine.fail_distribution(id, &mut f.rng).unwrap();
    assert_ne!(retry, id);
    let old = f.engine.key(id).unwrap();
    assert_eq!(old.state, KeyState::Destroyed);
    assert!(!old.has_material);
    let new = f.engine.key(retry).unwrap();
    assert_eq!(new.state, KeyState::Generated);
    assert_eq!(new.participants, old.participants);
    assert!(new.receipts.is_empty());
    assert_chain_ok(&f);
}

#[test]
fn a_prepared_replacement_leaves_the_old_key_active_until_it_activates_through_failed_attempts() {
    let mut f = fixture("prepared", EngineConfig { overlap: SimDuration::from_secs(30), ..EngineConfig::default() });
    let old = active_key(&mut f, KeyType::MeshSession, "c", &["hub", "n1"]);
    let material = |f: &mut Fixture| SecretBytes::random(32, "qkd", &mut f.rng).unwrap();
    let m = material(&mut f);
    let first = f.engine.prepare_replacement(old, m, "qkd", None, &mut f.rng).unwrap();
    f.engine.distribute(first).unwrap();
    f.engine.confirm_receipt(first, "hub").unwrap();
    assert_eq!(state(&f, old), KeyState::Active);
    // Two failed attempts: each key DESTROYED with its material and receipts, the old key ACTIVE.
    let m = material(&mut f);
    let second = f.engine.fail_distribution_and_retry(first, "deadline", Some((m, "qkd")), &mut f.rng).unwrap();
    assert_eq!(state(&f, second), KeyState::Distributed);
    f.engine.fail_distribution_without_retry(second, "n1 down").unwrap();
    let m = material(&mut f);
    let third = f.engine.retry_failed_distribution(second, Some((m, "qkd")), &mut f.rng).unwrap();
    for k in [first, second] {
        let rec = f.engine.key(k).unwrap();
        assert_eq!((rec.state, rec.has_material, rec.receipts.len()), (KeyState::Destroyed, false, 0));
    }
    assert_eq!(state(&f, old), KeyState::Active);
    f.engine.use_key(old, Usage::Protect).unwrap();
    let third_rec = f.engine.key(third).unwrap();
    assert_eq!((third_rec.state, third_rec.replaces), (KeyState::Distributed, Some(old)));
    // A key that did not fail is not retried; a DESTROYED key is not used.
    assert!(f.engine.retry_failed_distribution(third, None, &mut f.rng).is_err());
    assert!(f.engine.use_key(first, Usage::Unprotect).is_err());
    // Activation begins the old key's rotation in the same transaction: decrypt-only for the
    // overlap, never two ACTIVE keys.
    for n in ["hub", "n1"] {
        f.engine.confirm_receipt(third, n).unwrap();
    }
    let proof = f.engine.receipt_proof(third).unwrap();
    f.engine.activate(proof).unwrap();
    assert_eq!((state(&f, third), state(&f, old)), (KeyState::Active, KeyState::Rotating));
    assert!(f.engine.use_key(old, Usage::Protect).is_err());
    f.engine.use_key(old, Usage::Unprotect).unwrap();
    let failed = f.engine.failed_distributions().unwrap();
    assert_eq!((failed.destroyed, failed.used, failed.retries), (2, 0, 2));
    assert_chain_ok(&f);
}

#[test]
fn a_second_replacement_of_a_key_whose_replacement_is_in_distribution_is_refused() {
    let mut f = fixture("second-repl", EngineConfig { overlap: SimDuration::from_secs(30), ..EngineConfig::default() });
    let old = active_key(&mut f, KeyType::MeshSession, "c", &["hub", "n1"]);
    let material = |f: &mut Fixture| SecretBytes::random(32, "qkd", &mut f.rng).unwrap();
    let m = material(&mut f);
    let first = f.engine.prepare_replacement(old, m, "qkd", None, &mut f.rng).unwrap();
    let records = f.engine.audit_len();
    // Refused while the first is GENERATED and while it is DISTRIBUTED, naming both keys;
    // nothing is written.
    for distribute in [false, true] {
        if distribute {
            f.engine.distribute(first).unwrap();
        }
        let m = material(&mut f);
        match f.engine.prepare_replacement(old, m, "qkd", Some(Trigger::Anomaly), &mut f.rng) {
            Err(e @ LifecycleError::ReplacementPending { key, pending }) => {
                assert_eq!((key, pending), (old, first));
                let text = e.to_string();
                assert!(text.contains(&old.to_string()) && text.contains(&first.to_string()), "{text}");
            }
            other => panic!("a second replacement was not refused: {other:?}"),
        }
        assert_eq!(f.engine.audit_len(), records + distribute as u64);
    }
    assert!(!f.engine.key(old).unwrap().early_retirement);
    // Once the first has failed (DESTROYED) a new replacement may be prepared.
    f.engine.fail_distribution_without_retry(first, "n1 down").unwrap();
    let m = material(&mut f);
    let second = f.engine.prepare_replacement(old, m, "qkd", None, &mut f.rng).unwrap();
    assert_eq!(f.engine.key(second).unwrap().replaces, Some(old));
    assert_eq!(state(&f, old), KeyState::Active);
    assert_chain_ok(&f);
}

#[test]
fn a_triggered_prepared_replacement_retires_the_old_key_when_it_activates() {
    let mut f =
        fixture("prepared-trig", EngineConfig { overlap: SimDuration::from_secs(30), ..EngineConfig::default() });
    let old = active_key(&mut f, KeyType::MeshSession, "c", &["hub", "n1"]);
    let m = SecretBytes::random(32, "qkd", &mut f.rng).unwrap();
    let new = f.engine.prepare_replacement(old, m, "qkd", Some(Trigger::Anomaly), &mut f.rng).unwrap();
    assert_eq!(state(&f, old), KeyState::Active);
    let wrong = SecretBytes::random(16, "short", &mut f.rng).unwrap();
    assert!(f.engine.prepare_replacement(old, wrong, "qkd", None, &mut f.rng).is_err());
    f.engine.distribute(new).unwrap();
    for n in ["hub", "n1"] {
        f.engine.confirm_receipt(new, n).unwrap();
    }
    let proof = f.engine.receipt_proof(new).unwrap();
    f.engine.activate(proof).unwrap();
    assert_eq!((state(&f, new), state(&f, old)), (KeyState::Active, KeyState::Retired));
    assert_chain_ok(&f);
}

#[test]
fn generation_failure_creates_no_record() {
    struct Stuck;
    impl rand::TryRng for Stuck {
        type Error = std::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(7)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(7)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.fill(7);
            Ok(())
        }
    }
    impl rand::TryCryptoRng for Stuck {}
    let mut f = fixture("genfail", EngineConfig::default());
    let keys_before = f.engine.keys(None).unwrap().len();
    let audit_before = f.engine.audit_len();
    let err = f.engine.generate(KeyType::MeshSession, "c", &["hub"], &mut Stuck).unwrap_err();
    assert!(matches!(err, LifecycleError::GenerationFailed { .. }));
    assert_eq!(f.engine.keys(None).unwrap().len(), keys_before);
    assert_eq!(f.engine.audit_len(), audit_before);
    assert_chain_ok(&f);
}

#[test]
fn one_time_pad_is_consumed_once_through_the_engine() {
    let mut config = EngineConfig::default();
    config.specs.set_pad_len(256);
    let mut f = fixture("otp", config);
    let id = active_key(&mut f, KeyType::QkdTransport, "hub-n1", &["hub", "n1"]);
    let ct = f.engine.otp_encrypt(id, b"hello").unwrap();
    assert_eq!(f.engine.key(id).unwrap().pad_consumed, 5 + 32);
    let ct2 = f.engine.otp_encrypt(id, b"world").unwrap();
    assert!(ct2.offset > ct.offset);
    // Decrypting at an offset already consumed is reuse.
    assert!(matches!(
        f.engine.otp_decrypt(id, &ct),
        Err(LifecycleError::Crypto { source: CryptoError::PadReuse { .. }, .. })
    ));
    // Exhaust the pad: due for rotation, then refused.
    while f.engine.otp_encrypt(id, &[0u8; 40]).is_ok() {}
    while f.engine.otp_encrypt(id, b"x").is_ok() {}
    let left = 256 - f.engine.key(id).unwrap().pad_consumed;
    assert!(left < 33, "pad not exhausted: {left} bytes left");
    assert_eq!(f.engine.due_for_rotation().unwrap(), vec![id]);
    let mesh = active_key(&mut f, KeyType::MeshSession, "m", &["hub"]);
    assert!(matches!(f.engine.otp_encrypt(mesh, b"x"), Err(LifecycleError::WrongKeyType { .. })));
}

#[test]
fn every_key_type_is_usable_with_its_material() {
    use qecnet::crypto::{AuditSigner, HybridKemKey, KemSuite, MasterKey, NodeIdentityKey, SessionKey, encapsulate};
    let mut f = fixture("types", EngineConfig::default());
    let mesh = active_key(&mut f, KeyType::MeshSession, "a", &["hub"]);
    let m = f.engine.use_key(mesh, Usage::Protect).unwrap();
    let s = SessionKey::from_material(&m).unwrap();
    let sealed = s.seal(b"x", b"", &mut f.rng).unwrap();
    assert_eq!(s.open(&sealed, b"").unwrap().expose(), b"x");
    let id = active_key(&mut f, KeyType::NodeIdentity, "b", &["hub"]);
    let k = NodeIdentityKey::from_material(&f.engine.use_key(id, Usage::Protect).unwrap()).unwrap();
    k.public().verify(b"m", &k.sign(b"m")).unwrap();
    let au = active_key(&mut f, KeyType::AuditSigning, "c", &["hub"]);
    AuditSigner::from_material(&f.engine.use_key(au, Usage::Protect).unwrap()).unwrap();
    let eph = active_key(&mut f, KeyType::EphemeralSession, "d", &["hub"]);
    let mat = f.engine.use_key(eph, Usage::Protect).unwrap();
    for suite in [KemSuite::X25519MlKem768, KemSuite::X25519MlKem1024] {
        let kem = HybridKemKey::from_material(&mat, suite).unwrap();
        let (enc, ss) = encapsulate(&kem.public(), &mut f.rng).unwrap();
        assert_eq!(kem.decapsulate(&enc).unwrap().expose(), ss.expose());
    }
    // Ephemeral keys are one-handshake keys.
    assert!(matches!(f.engine.use_key(eph, Usage::Protect), Err(LifecycleError::UsageLimitReached { .. })));
    // The master wraps: its record exists, is ACTIVE and holds no material.
    let masters: Vec<_> = f
        .engine
        .keys(Some(KeyState::Active))
        .unwrap()
        .into_iter()
        .filter(|k| k.key_type == KeyType::SovereignMaster)
        .collect();
    assert_eq!(masters.len(), 1);
    assert!(!masters[0].has_material);
    assert!(MasterKey::from_material(&f.master).is_ok());
}

#[test]
fn store_refuses_wrong_master_foreign_files_newer_schema_and_second_writer() {
    let f = fixture("refuse", EngineConfig::default());
    let clock = || Box::new(ManualClock::new(SimTime(0)));
    // Second writer while the first is open.
    let err = Engine::open(&f.path, &f.master, EngineConfig::default(), clock()).unwrap_err();
    assert!(matches!(err, LifecycleError::StoreLocked { .. }), "{err}");
    // Readers need no lock and no secret, and work while the writer runs.
    let reader = qecnet::lifecycle::open_reader(&f.path).unwrap();
    let report = qecnet::lifecycle::verify(&reader, &Default::default()).unwrap().into_result().unwrap();
    assert_eq!(report.records, f.engine.audit_len());
    drop(reader);
    let Fixture { _dir, path, master, engine, .. } = f;
    drop(engine);
    // Wrong master.
    let wrong = SecretBytes::new(vec![9u8; 32]);
    let err = Engine::open(&path, &wrong, EngineConfig::default(), clock()).unwrap_err();
    assert!(matches!(err, LifecycleError::MasterKeyMismatch { .. }), "{err}");
    // Reopen with the right master works and keeps the chain verifiable.
    let e = Engine::open(&path, &master, EngineConfig::default(), clock()).unwrap();
    assert!(e.verify_audit().unwrap().is_verified());
    drop(e);
    // Create refuses an existing file.
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let err = Engine::create(&path, &master, EngineConfig::default(), clock(), &mut rng).unwrap_err();
    assert!(matches!(err, LifecycleError::AlreadyExists { .. }));
    // A text file is not a store, and is left untouched.
    let junk = _dir.join("junk.txt");
    std::fs::write(&junk, b"not a database at all, just text that is long enough").unwrap();
    let before = std::fs::read(&junk).unwrap();
    let err = Engine::open(&junk, &master, EngineConfig::default(), clock()).unwrap_err();
    assert!(matches!(err, LifecycleError::NotAStore { .. }), "{err}");
    assert_eq!(std::fs::read(&junk).unwrap(), before);
    assert!(!qecnet::lifecycle::lock_path(&junk).exists());
    // An SQLite file of some other program is not a store either.
    let other = _dir.join("other.db");
    {
        let c = rusqlite::Connection::open(&other).unwrap();
        c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();
    }
    let err = Engine::open(&other, &master, EngineConfig::default(), clock()).unwrap_err();
    assert!(matches!(err, LifecycleError::NotAStore { .. }), "{err}");
    // A newer schema is refused, not migrated.
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute("UPDATE meta SET value = 99 WHERE name = 'schema_version'", []).unwrap();
    }
    let err = Engine::open(&path, &master, EngineConfig::default(), clock()).unwrap_err();
    match err {
        LifecycleError::NewerSchema { found, .. } => assert_eq!(found, 99),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn batch_commits_each_operation_atomically() {
    let mut f = fixture("batch", EngineConfig::default());
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let ids = f
        .engine
        .batch(|e| {
            let mut ids = Vec::new();
            for i in 0..50 {
                let id = e.generate(KeyType::MeshSession, &format!("c{i}"), &["hub"], &mut rng)?;
                e.distribute(id)?;
                // An illegal step inside the batch fails alone.
                assert!(e.distribute(id).is_err());
                ids.push(id);
            }
            Ok(ids)
        })
        .unwrap();
    for id in ids {
        assert_eq!(state(&f, id), KeyState::Distributed);
    }
    assert_chain_ok(&f);
}

#[test]
fn master_rotation_rewraps_every_key_and_retires_the_old_master() {
    let f = fixture("master", EngineConfig::default());
    let Fixture { _dir, path, master, clock, mut rng, mut engine } = f;
    let mesh = engine.generate(KeyType::MeshSession, "c", &["hub"], &mut rng).unwrap();
    engine.distribute(mesh).unwrap();
    engine.confirm_receipt(mesh, "hub").unwrap();
    let p = engine.receipt_proof(mesh).unwrap();
    engine.activate(p).unwrap();
    let before = engine.use_key(mesh, Usage::Protect).unwrap();
    let old_master = engine
        .keys(Some(KeyState::Active))
        .unwrap()
        .into_iter()
        .find(|k| k.key_type == KeyType::SovereignMaster)
        .unwrap()
        .id;
    assert!(matches!(engine.use_key(old_master, Usage::Protect), Err(LifecycleError::NoMaterial { .. })));
    clock.advance(SimDuration::from_secs(25 * 3600));
    assert!(engine.due_for_rotation().unwrap().contains(&old_master));
    let new_secret = SecretBytes::random(32, "master", &mut rng).unwrap();
    let new_master = engine.rotate_master(&new_secret, &mut rng).unwrap();
    assert_eq!(engine.key(old_master).unwrap().state, KeyState::Retired);
    assert_eq!(engine.key(new_master).unwrap().state, KeyState::Active);
    drop(engine);
    let clock2 = || Box::new(ManualClock::new(SimTime(0)));
    assert!(matches!(
        Engine::open(&path, &master, EngineConfig::default(), clock2()),
        Err(LifecycleError::MasterKeyMismatch { .. })
    ));
    let mut engine = Engine::open(&path, &new_secret, EngineConfig::default(), clock2()).unwrap();
    let after = engine.use_key(mesh, Usage::Protect).unwrap();
    assert_eq!(before.expose(), after.expose());
    // The audit signer still works after the re-wrap: a new checkpoint verifies.
    engine.checkpoint_now().unwrap();
    let report = engine.verify_audit().unwrap().into_result().unwrap();
    assert_eq!(report.unsigned_tail, 0);
}

#[test]
fn checkpoints_are_written_every_n_records_and_every_t_seconds() {
    let config = EngineConfig {
        checkpoint_every: 1_000_000,
        checkpoint_interval: SimDuration::from_secs(10),
        ..EngineConfig::default()
    };
    let mut f = fixture("cp-time", config);
    let base = f.engine.verify_audit().unwrap().into_result().unwrap();
    let a = f.engine.generate(KeyType::MeshSession, "c", &["hub"], &mut f.rng).unwrap();
    let r = f.engine.verify_audit().unwrap().into_result().unwrap();
    assert_eq!(r.checkpoints, base.checkpoints);
    assert_eq!(r.unsigned_tail, 1);
    f.clock.advance(SimDuration::from_secs(11));
    f.engine.distribute(a).unwrap();
    let r = f.engine.verify_audit().unwrap().into_result().unwrap();
    assert_eq!(r.checkpoints, base.checkpoints + 1);
    assert_eq!(r.unsigned_tail, 0);

    let config = EngineConfig { checkpoint_every: 3, ..EngineConfig::default() };
    let mut f = fixture("cp-count", config);
    let before = f.engine.verify_audit().unwrap().into_result().unwrap().checkpoints;
    for i in 0..9 {
        f.engine.generate(KeyType::MeshSession, &format!("c{i}"), &["hub"], &mut f.rng).unwrap();
    }
    assert_eq!(f.engine.verify_audit().unwrap().into_result().unwrap().checkpoints, before + 3);
}

#[test]
fn master_key_loads_from_a_private_file_or_the_environment() {
    use qecnet::lifecycle::load_master_key;
    let dir = TempDir::new("masterfile");
    let file = dir.join("master.hex");
    let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    std::fs::write(&file, format!("{hex}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_master_key(Some(&file)).is_err(), "world-readable key file accepted");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let key = load_master_key(Some(&file)).unwrap();
    assert_eq!(key.len(), 32);
    assert_eq!(key.expose()[1], 0x11);
    assert_eq!(key.expose()[31], 0xff);
    std::fs::write(&file, "abc").unwrap();
    assert!(load_master_key(Some(&file)).is_err());
}

/// Found by the property test: a ROTATING key whose replacement was activated
/// and later revoked must still retire when its overlap ends.
#[test]
fn overlap_end_retires_even_after_the_replacement_was_revoked() {
    let config = EngineConfig { overlap: SimDuration::from_secs(10), ..EngineConfig::default() };
    let mut f = fixture("overlap-revoked", config);
    let old = active_key(&mut f, KeyType::MeshSession, "c", &["hub", "n1"]);
    let new = f.engine.begin_rotation(old, &mut f.rng).unwrap();
    f.engine.distribute(new).unwrap();
    f.engine.confirm_receipt(new, "hub").unwrap();
    f.engine.confirm_receipt(new, "n1").unwrap();
    let p = f.engine.receipt_proof(new).unwrap();
    f.engine.activate(p).unwrap();
    f.engine.revoke(new, "suspected").unwrap();
    f.clock.advance(SimDuration::from_secs(11));
    assert_eq!(f.engine.tick().unwrap().retired, vec![old]);
    assert_chain_ok(&f);
}

#[test]
fn qkd_material_is_imported_wrapped_and_length_checked() {
    let mut f = fixture("import", EngineConfig::default());
    let pad: Vec<u8> = (0..500u32).map(|i| (i * 7 + 3) as u8).collect();
    let id = f
        .engine
        .import_material(
            KeyType::QkdTransport,
            "hub-n1",
            &["hub", "n1"],
            SecretBytes::new(pad.clone()),
            "BB84 link hub-n1",
            &mut f.rng,
        )
        .unwrap();
    let rec = f.engine.key(id).unwrap();
    assert_eq!((rec.state, rec.material_len), (KeyState::Generated, 500));
    f.engine.distribute(id).unwrap();
    f.engine.confirm_receipt(id, "hub").unwrap();
    f.engine.confirm_receipt(id, "n1").unwrap();
    let p = f.engine.receipt_proof(id).unwrap();
    f.engine.activate(p).unwrap();
    let ct = f.engine.otp_encrypt(id, b"qkd").unwrap();
    // The peer holding the same QKD pad decrypts it.
    let mut peer = qecnet::crypto::OneTimePad::new(SecretBytes::new(pad), 0);
    assert_eq!(peer.decrypt(&ct).unwrap().expose(), b"qkd");
    let short =
        f.engine.import_material(KeyType::QkdTransport, "c", &["hub"], SecretBytes::new(vec![1; 10]), "x", &mut f.rng);
    assert!(matches!(short, Err(LifecycleError::GenerationFailed { .. })));
    let wrong =
        f.engine.import_material(KeyType::MeshSession, "c", &["hub"], SecretBytes::new(vec![1; 31]), "x", &mut f.rng);
    assert!(wrong.is_err());
    let master = f.engine.import_material(
        KeyType::SovereignMaster,
        "c",
        &["hub"],
        SecretBytes::new(vec![1; 32]),
        "x",
        &mut f.rng,
    );
    assert!(master.is_err());
    assert_chain_ok(&f);
}

#[test]
fn audit_signing_key_rotation_keeps_old_checkpoints_verifiable() {
    let config = EngineConfig { checkpoint_every: 5, ..EngineConfig::default() };
    let mut f = fixture("audit-rot", config);
    let old = f
        .engine
        .keys(Some(KeyState::Active))
        .unwrap()
        .into_iter()
        .find(|k| k.key_type == KeyType::AuditSigning)
        .unwrap()
        .id;
    f.clock.advance(SimDuration::from_secs(366 * 24 * 3600));
    let pairs = f.engine.rotate_scheduled(&mut f.rng).unwrap();
    let new = pairs.iter().find(|(o, _)| *o == old).expect("audit key due").1;
    f.engine.distribute(new).unwrap();
    f.engine.confirm_receipt(new, "hub").unwrap();
    let p = f.engine.receipt_proof(new).unwrap();
    f.engine.activate(p).unwrap();
    for i in 0..12 {
        f.engine.generate(KeyType::MeshSession, &format!("c{i}"), &["hub"], &mut f.rng).unwrap();
    }
    let report = f.engine.verify_audit().unwrap().into_result().unwrap();
    let signers: Vec<KeyId> = report.signers.keys().copied().collect();
    assert_eq!(signers, vec![old, new]);
    assert_chain_ok(&f);
}

#[test]
fn a_version_two_store_is_read_with_its_old_indexes_and_given_the_partial_ones_by_its_writer() {
    // Zero overlap: a replaced key retires the moment its successor activates.
    let config = EngineConfig { overlap: SimDuration::from_secs(0), ..EngineConfig::default() };
    let mut f = fixture("upgrade-v2", config.clone());
    let retired = active_key(&mut f, KeyType::MeshSession, "hub-n1", &["hub", "n1"]);
    let active = f.engine.begin_rotation(retired, &mut f.rng).unwrap();
    f.engine.distribute(active).unwrap();
    for n in ["hub", "n1"] {
        f.engine.confirm_receipt(active, n).unwrap();
    }
    let proof = f.engine.receipt_proof(active).unwrap();
    f.engine.activate(proof).unwrap();
    assert_eq!(state(&f, retired), KeyState::Retired);
    let Fixture { _dir, path, master, engine, mut rng, .. } = f;
    drop(engine);
    // Give it the indexes of versions 1 and 2.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "DROP INDEX keys_by_channel_live; DROP INDEX keys_by_overlap_end; \
             CREATE INDEX keys_by_state ON keys(state); \
             CREATE INDEX keys_by_channel ON keys(channel, key_type, state); \
             CREATE INDEX keys_by_overlap ON keys(state, overlap_until_ns); \
             UPDATE meta SET value = 2 WHERE name = 'schema_version';",
        )
        .unwrap();
    let version = |c: &rusqlite::Connection| -> i64 {
        c.query_row("SELECT value FROM meta WHERE name = 'schema_version'", [], |r| r.get(0)).unwrap()
    };
    let indexes = |c: &rusqlite::Connection| -> Vec<String> {
        c.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'keys' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    // A reader works on it as it is and changes nothing.
    let reader = qecnet::lifecycle::open_reader(&path).unwrap();
    qecnet::lifecycle::verify(&reader, &Default::default()).unwrap().into_result().unwrap();
    let listed = qecnet::lifecycle::list_keys(&reader, Some(KeyState::Retired)).unwrap();
    assert_eq!(listed.iter().map(|k| k.id).collect::<Vec<_>>(), vec![retired]);
    assert_eq!(version(&reader), 2);
    assert_eq!(
        indexes(&reader),
        ["keys_by_channel", "keys_by_overlap", "keys_by_replaces", "keys_by_state", "keys_by_state_age"]
    );
    drop(reader);
    // Its writer replaces the state indexes; the RETIRED key, which no channel index holds
    // now, is still found and revoked with the channel's ACTIVE key by an emergency rotation.
    let mut e =
        Engine::open(&path, &master, config, Box::new(ManualClock::new(SimTime::from_secs(1_800_000_000)))).unwrap();
    let out = e.rotate_emergency(active, &mut rng).unwrap();
    assert_eq!(out.revoked, vec![retired, active]);
    assert_eq!(e.key(retired).unwrap().state, KeyState::Revoked);
    assert_eq!(e.key(out.replacement).unwrap().state, KeyState::Generated);
    e.checkpoint_now().unwrap();
    drop(e);
    let reader = qecnet::lifecycle::open_reader(&path).unwrap();
    assert_eq!(version(&reader), qecnet::lifecycle::SCHEMA_VERSION);
    assert_eq!(
        indexes(&reader),
        ["keys_by_channel_live", "keys_by_overlap_end", "keys_by_replaces", "keys_by_state_age"]
    );
    let report = qecnet::lifecycle::verify(&reader, &Default::default()).unwrap().into_result().unwrap();
    assert_eq!(report.unsigned_tail, 0);
}

#[test]
fn version_one_store_is_verified_as_it_is_and_upgraded_by_its_writer() {
    use qecnet::crypto::AuditSigner;
    use qecnet::lifecycle::checkpoint_message;
    let config = EngineConfig { checkpoint_every: 5, ..EngineConfig::default() };
    let mut f = fixture("upgrade", config.clone());
    for i in 0..4 {
        active_key(&mut f, KeyType::MeshSession, &format!("c{i}"), &["hub", "n1"]);
    }
    let Fixture { _dir, path, master, engine, mut rng, .. } = f;
    drop(engine);
    // Turn it into a version-1 store: no root column, checkpoints signing the chain head only
    // (re-signed here by a stand-in audit key registered under its own id).
    let stand_in = AuditSigner::from_material(&SecretBytes::random(32, "v1 audit key", &mut rng).unwrap()).unwrap();
    let old_checkpoints = {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute("INSERT INTO audit_keys(key_id, public) VALUES (9999, ?1)", [&stand_in.public()[..]]).unwrap();
        let cps: Vec<(i64, i64, Vec<u8>)> = c
            .prepare("SELECT seq, at_ns, head FROM checkpoints")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        for (seq, at, head) in &cps {
            let head: [u8; 32] = head.clone().try_into().unwrap();
            let sig = stand_in.sign(&checkpoint_message(*seq as u64, *at as u64, &head, None, KeyId(9999)));
            c.execute(
                "UPDATE checkpoints SET signer = 9999, signature = ?2 WHERE seq = ?1",
                rusqlite::params![seq, &sig[..]],
            )
            .unwrap();
        }
        c.execute_batch(
            "ALTER TABLE checkpoints DROP COLUMN root; UPDATE meta SET value = 1 WHERE name = 'schema_version';",
        )
        .unwrap();
        cps.len() as u64
    };
    assert!(old_checkpoints >= 3);
    // Read as it is, without changing it.
    let reader = qecnet::lifecycle::open_reader(&path).unwrap();
    let report = qecnet::lifecycle::verify(&reader, &Default::default()).unwrap().into_result().unwrap();
    assert_eq!(report.checkpoints, old_checkpoints);
    let version = |c: &rusqlite::Connection| -> i64 {
        c.query_row("SELECT value FROM meta WHERE name = 'schema_version'", [], |r| r.get(0)).unwrap()
    };
    assert_eq!(version(&reader), 1);
    drop(reader);
    // The writer upgrades it; old and new checkpoints then verify together.
    let mut e =
        Engine::open(&path, &master, config, Box::new(ManualClock::new(SimTime::from_secs(1_800_000_000)))).unwrap();
    for i in 0..3 {
        let id = e.generate(KeyType::MeshSession, &format!("new{i}"), &["hub"], &mut rng).unwrap();
        e.distribute(id).unwrap();
    }
    e.checkpoint_now().unwrap();
    drop(e);
    let reader = qecnet::lifecycle::open_reader(&path).unwrap();
    assert_eq!(version(&reader), qecnet::lifecycle::SCHEMA_VERSION);
    let report = qecnet::lifecycle::verify(&reader, &Default::default()).unwrap().into_result().unwrap();
    assert!(report.checkpoints > old_checkpoints, "{report:?}");
    assert_eq!(report.unsigned_tail, 0);
    let with_roots: i64 =
        reader.query_row("SELECT COUNT(*) FROM checkpoints WHERE root IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(with_roots as u64, report.checkpoints - old_checkpoints);
}
