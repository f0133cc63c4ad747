//! Property test: random operation sequences against the engine, checked
//! after every step against a small reference model of the spec:
//! - every state change is an edge of the spec's diagram, and the simple
//!   operations succeed exactly when the model says they may;
//! - no ACTIVE key lacks a receipt from any participant;
//! - a REVOKED or DESTROYED key is never used or changed again;
//! - per channel and type: at most one ACTIVE key, and at most one more
//!   (the ROTATING predecessor) usable during the overlap;
//! - a ROTATING key always has its replacement;
//! - the audit chain verifies and replays to the store's states.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use qecnet::crypto::{KeyType, SecretBytes};
use qecnet::lifecycle::{Engine, EngineConfig, KeyId, KeyState, ManualClock, Trigger, Usage};
use qecnet::units::{SimDuration, SimTime};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::util::TempDir;

const NODES: [&str; 4] = ["hub", "n1", "n2", "n3"];
const CHANNELS: [&str; 2] = ["ch-a", "ch-b"];

#[derive(Clone, Debug)]
enum Op {
    Generate {
        ch: usize,
        mask: u8,
    },
    Prestage {
        ch: usize,
        mask: u8,
    },
    Distribute(usize),
    FailDistribution(usize),
    Confirm(usize, usize),
    Activate(usize),
    BeginRotation(usize),
    Triggered(usize),
    Emergency(usize),
    Revoke(usize),
    Retire(usize),
    Destroy(usize),
    Use(usize, bool),
    Advance(u64),
    Recover(usize),
    /// Drive a key along the happy path: complete a pending key (distribute,
    /// all receipts, activate) or rotate an ACTIVE one and complete its replacement.
    Cycle(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, 0..8u8).prop_map(|(ch, mask)| Op::Generate { ch, mask }),
        1 => (0..2usize, 0..8u8).prop_map(|(ch, mask)| Op::Prestage { ch, mask }),
        4 => any::<usize>().prop_map(Op::Distribute),
        1 => any::<usize>().prop_map(Op::FailDistribution),
        8 => (any::<usize>(), 0..4usize).prop_map(|(k, n)| Op::Confirm(k, n)),
        5 => any::<usize>().prop_map(Op::Activate),
        2 => any::<usize>().prop_map(Op::BeginRotation),
        1 => any::<usize>().prop_map(Op::Triggered),
        1 => any::<usize>().prop_map(Op::Emergency),
        1 => any::<usize>().prop_map(Op::Revoke),
        1 => any::<usize>().prop_map(Op::Retire),
        1 => any::<usize>().prop_map(Op::Destroy),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(k, p)| Op::Use(k, p)),
        2 => (0..90u64).prop_map(Op::Advance),
        1 => (1..4usize).prop_map(Op::Recover),
        4 => any::<usize>().prop_map(Op::Cycle),
    ]
}

/// The spec's edges, written independently of the engine's table.
fn legal_edge(from: KeyState, to: KeyState) -> bool {
    use KeyState::*;
    matches!(
        (from, to),
        (Generated, Distributed)
            | (Generated, Destroyed)
            | (Distributed, Destroyed)
            | (Distributed, Active)
            | (Active, Rotating)
            | (Rotating, Retired)
            | (Retired, Destroyed)
    ) || (to == Revoked && !matches!(from, Revoked | Destroyed))
}

/// `to` can be reached from `from` along legal edges (for the multi-step `Cycle`).
fn reachable(from: KeyState, to: KeyState) -> bool {
    let mut seen = vec![from];
    let mut i = 0;
    while i < seen.len() {
        let s = seen[i];
        for t in KeyState::ALL {
            if legal_edge(s, t) && !seen.contains(&t) {
                seen.push(t);
            }
        }
        i += 1;
    }
    seen.contains(&to)
}

#[derive(Clone, Debug)]
struct ModelKey {
    state: KeyState,
    channel: String,
    participants: BTreeSet<String>,
    receipts: BTreeSet<String>,
}

struct Model {
    keys: BTreeMap<KeyId, ModelKey>,
    isolated: BTreeSet<String>,
    /// Keys seen REVOKED or DESTROYED.
    dead: BTreeSet<KeyId>,
}

fn participants(mask: u8) -> Vec<&'static str> {
    let mut v = vec!["hub"];
    for (i, n) in NODES[1..].iter().enumerate() {
        if mask & (1 << i) != 0 {
            v.push(n);
        }
    }
    v
}

fn run(seed: u64, ops: Vec<Op>) -> Result<(), TestCaseError> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = TempDir::new(&format!("model-{n}"));
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let master = SecretBytes::random(32, "master", &mut rng).unwrap();
    let clock = ManualClock::new(SimTime::from_secs(1_000));
    let config = EngineConfig {
        overlap: SimDuration::from_secs(20),
        retention: SimDuration::from_secs(60),
        checkpoint_every: 7,
        ..EngineConfig::default()
    };
    let mut e = Engine::create(&dir.join("s.db"), &master, config, Box::new(clock.clone()), &mut rng).unwrap();
    let mut model = Model { keys: BTreeMap::new(), isolated: BTreeSet::new(), dead: BTreeSet::new() };
    // Keys the operations may address (the bootstrap keys are left alone).
    let mut ids: Vec<KeyId> = Vec::new();
    let pick = |ids: &[KeyId], i: usize| (!ids.is_empty()).then(|| ids[i % ids.len()]);

    for (step, op) in ops.into_iter().enumerate() {
        let before = e.key_states().unwrap();
        match &op {
            Op::Generate { ch, mask } | Op::Prestage { ch, mask } => {
                let parts = participants(*mask);
                let expect_ok = parts.iter().all(|p| !model.isolated.contains(*p));
                let r = if matches!(op, Op::Generate { .. }) {
                    e.generate(KeyType::MeshSession, CHANNELS[*ch], &parts, &mut rng)
                } else {
                    e.prestage(KeyType::MeshSession, CHANNELS[*ch], &parts, &mut rng)
                };
                prop_assert_eq!(r.is_ok(), expect_ok, "step {} {:?}: {:?}", step, op, r);
                if let Ok(id) = r {
                    ids.push(id);
                }
            }
            Op::Distribute(i) => {
                if let Some(k) = pick(&ids, *i) {
                    let expect = model.keys[&k].state == KeyState::Generated;
                    let r = e.distribute(k);
                    prop_assert_eq!(r.is_ok(), expect, "step {} {:?}: {:?}", step, op, r);
                }
            }
            Op::FailDistribution(i) => {
                if let Some(k) = pick(&ids, *i) {
                    let mk = &model.keys[&k];
                    let expect = matches!(mk.state, KeyState::Generated | KeyState::Distributed)
                        && mk.participants.iter().all(|p| !model.isolated.contains(p));
                    let r = e.fail_distribution(k, &mut rng);
                    prop_assert_eq!(r.is_ok(), expect, "step {} {:?}: {:?}", step, op, r);
                    if let Ok(new) = r {
                        ids.push(new);
                    }
                }
            }
            Op::Confirm(i, node) => {
                if let Some(k) = pick(&ids, *i) {
                    let mk = &model.keys[&k];
                    let node = NODES[*node];
                    let expect = mk.state == KeyState::Distributed
                        && mk.participants.contains(node)
                        && !model.isolated.contains(node);
                    let r = e.confirm_receipt(k, node);
                    prop_assert_eq!(r.is_ok(), expect, "step {} {:?}: {:?}", step, op, r);
                }
            }
            Op::Activate(i) => {
                if let Some(k) = pick(&ids, *i) {
                    let mk = model.keys[&k].clone();
                    let all = mk.state == KeyState::Distributed && mk.receipts == mk.participants;
                    let busy = model
                        .keys
                        .iter()
                        .any(|(id, o)| *id != k && o.channel == mk.channel && o.state == KeyState::Active);
                    match e.receipt_proof(k) {
                        Ok(proof) => {
                            prop_assert!(all, "step {}: proof without all receipts", step);
                            let r = e.activate(proof);
                            prop_assert_eq!(r.is_ok(), !busy, "step {} {:?}: {:?}", step, op, r);
                        }
                        Err(_) => {
                            prop_assert!(!all, "step {}: proof refused with all receipts", step)
                        }
                    }
                }
            }
            Op::BeginRotation(i) | Op::Triggered(i) => {
                if let Some(k) = pick(&ids, *i) {
                    let mk = &model.keys[&k];
                    let expect =
                        mk.state == KeyState::Active && mk.participants.iter().all(|p| !model.isolated.contains(p));
                    let r = if matches!(op, Op::BeginRotation(_)) {
                        e.begin_rotation(k, &mut rng)
                    } else {
                        e.rotate_triggered(k, Trigger::OperatorCommand, &mut rng)
                    };
                    prop_assert_eq!(r.is_ok(), expect, "step {} {:?}: {:?}", step, op, r);
                    if let Ok(new) = r {
                        ids.push(new);
                    }
                }
            }
            Op::Emergency(i) => {
                if let Some(k) = pick(&ids, *i) {
                    let live = model.keys[&k].state.is_live();
                    let r = e.rotate_emergency(k, &mut rng);
                    if !live {
                        prop_assert!(r.is_err(), "step {}: emergency on dead key", step);
                    }
                    if let Ok(out) = r {
                        prop_assert!(out.revoked.contains(&k));
                        if !ids.contains(&out.replacement) {
                            ids.push(out.replacement);
                        }
                    }
                }
            }
            Op::Revoke(i) => {
                if let Some(k) = pick(&ids, *i) {
                    let expect = model.keys[&k].state.is_live();
                    let r = e.revoke(k, "test");
                    prop_assert_eq!(r.is_ok(), expect, "step {} {:?}: {:?}", step, op, r);
                }
            }
            Op::Retire(i) => {
                if let Some(k) = pick(&ids, *i) {
                    let r = e.retire(k);
                    if model.keys[&k].state != KeyState::Rotating {
                        prop_assert!(r.is_err(), "step {}: retire from non-ROTATING", step);
                    }
                }
            }
            Op::Destroy(i) => {
                if let Some(k) = pick(&ids, *i) {
                    let r = e.destroy(k);
                    if model.keys[&k].state != KeyState::Retired {
                        prop_assert!(r.is_err(), "step {}: destroy from non-RETIRED", step);
                    }
                }
            }
            Op::Use(i, protect) => {
                if let Some(k) = pick(&ids, *i) {
                    let usage = if *protect { Usage::Protect } else { Usage::Unprotect };
                    let st = model.keys[&k].state;
                    let expect = st == KeyState::Active || (!*protect && st == KeyState::Rotating);
                    let r = e.use_key(k, usage);
                    prop_assert_eq!(r.is_ok(), expect, "step {} {:?}: {:?}", step, op, r.map(|_| ()));
                    if model.dead.contains(&k) {
                        prop_assert!(r.is_err(), "dead key used");
                    }
                }
            }
            Op::Advance(s) => {
                clock.advance(SimDuration::from_secs(*s));
                e.tick().unwrap();
            }
            Op::Cycle(i) => {
                if let Some(k) = pick(&ids, *i) {
                    let target = match model.keys[&k].state {
                        KeyState::Active => e.begin_rotation(k, &mut rng).ok(),
                        KeyState::Generated | KeyState::Distributed => Some(k),
                        _ => None,
                    };
                    if let Some(t) = target {
                        if t != k {
                            ids.push(t);
                        }
                        let _ = e.distribute(t);
                        for node in NODES {
                            let _ = e.confirm_receipt(t, node);
                        }
                        if let Ok(proof) = e.receipt_proof(t) {
                            let _ = e.activate(proof);
                        }
                    }
                }
            }
            Op::Recover(n) => {
                let node = NODES[*n];
                let r = e.recover_compromise(node, "test", &mut rng).unwrap();
                model.isolated.insert(node.to_string());
                for id in r.rekeyed {
                    ids.push(id);
                }
            }
        }

        // ---- invariants ------------------------------------------------
        let after = e.key_states().unwrap();
        for (id, to) in &after {
            match before.get(id) {
                Some(from) if from != to => {
                    let ok = if matches!(op, Op::Cycle(_)) { reachable(*from, *to) } else { legal_edge(*from, *to) };
                    prop_assert!(ok, "step {} {:?}: {} {:?} -> {:?}", step, op, id, from, to);
                    prop_assert!(!model.dead.contains(id), "dead {} changed", id);
                }
                None => prop_assert!(
                    matches!(to, KeyState::Generated | KeyState::Distributed | KeyState::Active),
                    "new key {} appeared as {:?}",
                    id,
                    to
                ),
                _ => {}
            }
        }
        let records = e.keys(None).unwrap();
        let mut per_channel: BTreeMap<(String, KeyType), (u32, u32)> = BTreeMap::new();
        for k in &records {
            if k.state == KeyState::Active {
                let got: BTreeSet<_> = k.receipts.iter().collect();
                prop_assert!(k.participants.iter().all(|p| got.contains(p)), "{} ACTIVE without all receipts", k.id);
            }
            let c = per_channel.entry((k.channel.clone(), k.key_type)).or_default();
            match k.state {
                KeyState::Active => c.0 += 1,
                KeyState::Rotating => c.1 += 1,
                _ => {}
            }
            if matches!(k.state, KeyState::Revoked | KeyState::Destroyed) {
                model.dead.insert(k.id);
            }
            model.keys.insert(
                k.id,
                ModelKey {
                    state: k.state,
                    channel: k.channel.clone(),
                    participants: k.participants.iter().cloned().collect(),
                    receipts: k.receipts.iter().cloned().collect(),
                },
            );
        }
        for k in records.iter().filter(|k| k.state == KeyState::Rotating) {
            prop_assert!(
                records.iter().any(|r| r.replaces == Some(k.id)),
                "step {}: {} ROTATING without a replacement",
                step,
                k.id
            );
        }
        for ((ch, kt), (active, rotating)) in per_channel {
            prop_assert!(active <= 1, "step {}: {} ACTIVE {} keys on {}", step, active, kt, ch);
            prop_assert!(active + rotating <= 2, "step {}: {} usable {} keys on {}", step, active + rotating, kt, ch);
        }
        let report = e.verify_audit().unwrap();
        prop_assert!(report.is_verified(), "step {}: audit fails: {:?}", step, report);
        prop_assert_eq!(e.replay_audit().unwrap(), after);
    }
    Ok(())
}

/// 256 cases by default (what CI runs); `QECNET_MODEL_CASES=N` runs more.
fn cases() -> u32 {
    std::env::var("QECNET_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_operation_sequences_keep_the_invariants(
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        run(seed, ops)?;
    }
}
