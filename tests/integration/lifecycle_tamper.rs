//! Tampering with the audit chain is detected at the right record: edits,
//! deletions, reorderings, rewritten chains, truncation and checkpoint
//! signatures; both through the library and through `qecnet audit verify`.

use std::path::{Path, PathBuf};

use qecnet::crypto::{KeyType, SecretBytes};

use qecnet::lifecycle::{
    AuditFailure, AuditRecord, Engine, EngineConfig, KeyId, KeyState, ManualClock, VerifyOptions, verify,
};
use qecnet::units::{NANOS_PER_SECOND, SimDuration, SimTime};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rusqlite::Connection;

use crate::util::{OutputText, TempDir, qecnet, qecnet_command};

/// A closed store with a few hundred records and a checkpoint every 40.
fn build_store(dir: &Path) -> (PathBuf, u64) {
    let path = dir.join("store.db");
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let master = SecretBytes::random(32, "master", &mut rng).unwrap();
    let clock = ManualClock::new(SimTime::from_secs(1_000));
    let config = EngineConfig { checkpoint_every: 40, ..EngineConfig::default() };
    let mut e = Engine::create(&path, &master, config, Box::new(clock.clone()), &mut rng).unwrap();
    for i in 0..60 {
        clock.advance(SimDuration(NANOS_PER_SECOND / 10));
        let id = e.generate(KeyType::MeshSession, &format!("c{i}"), &["hub", "n1"], &mut rng).unwrap();
        e.distribute(id).unwrap();
        e.confirm_receipt(id, "hub").unwrap();
        e.confirm_receipt(id, "n1").unwrap();
        let p = e.receipt_proof(id).unwrap();
        e.activate(p).unwrap();
    }
    // A finished run ends with a signed checkpoint.
    e.checkpoint_now().unwrap();
    let n = e.audit_len();
    drop(e);
    (path, n)
}

fn copy(src: &Path, dir: &Path, name: &str) -> PathBuf {
    let dst = dir.join(name);
    std::fs::copy(src, &dst).unwrap();
    dst
}

fn records_verified(path: &Path) -> Result<u64, AuditFailure> {
    let c = Connection::open(path).unwrap();
    verified(&c).map(|r| r.records)
}

/// The store's verdict with its own keys (nothing authenticated), as a `Result`.
fn verified(c: &Connection) -> Result<qecnet::lifecycle::VerifyReport, AuditFailure> {
    verify(c, &VerifyOptions::default()).unwrap().into_result()
}

fn cli_verify(path: &Path) -> (i32, String) {
    let out = qecnet_command().args(["audit", "verify"]).arg(path).output().unwrap();
    (out.code(), out.stdout_text())
}

fn checkpoint_seqs(path: &Path) -> Vec<u64> {
    let c = Connection::open(path).unwrap();
    let mut st = c.prepare("SELECT seq FROM checkpoints ORDER BY seq").unwrap();
    st.query_map([], |r| r.get::<_, i64>(0)).unwrap().map(|r| r.unwrap() as u64).collect()
}

#[test]
fn intact_store_verifies_in_library_and_cli() {
    let dir = TempDir::new("tamper-ok");
    let (path, n) = build_store(&dir);
    assert_eq!(records_verified(&path), Ok(n));
    let (code, out) = cli_verify(&path);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("OK: {n} records")), "{out}");
    let cps = checkpoint_seqs(&path);
    assert!(cps.len() >= n as usize / 40, "{cps:?}");
}

#[test]
fn edited_records_are_found_at_their_sequence_number() {
    let dir = TempDir::new("tamper-edit");
    let (path, n) = build_store(&dir);
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let edits = [
        "UPDATE audit SET detail = detail || ' ' WHERE seq = ?1",
        "UPDATE audit SET to_state = CASE WHEN to_state = 'REVOKED' THEN 'ACTIVE' ELSE 'REVOKED' END WHERE seq = ?1",
        "UPDATE audit SET at_ns = at_ns + 1 WHERE seq = ?1",
        "UPDATE audit SET actor = 'mallory' WHERE seq = ?1",
        "UPDATE audit SET key_id = coalesce(key_id, 0) + 1 WHERE seq = ?1",
    ];
    for (i, sql) in edits.iter().enumerate() {
        let seq = rng.random_range(1..=n);
        let p = copy(&path, &dir, &format!("edit{i}.db"));
        Connection::open(&p).unwrap().execute(sql, [seq as i64]).unwrap();
        assert_eq!(records_verified(&p), Err(AuditFailure::Edited { seq }), "{sql} at {seq}");
        let (code, out) = cli_verify(&p);
        assert_eq!(code, 1);
        assert!(out.contains(&format!("record {seq}:")) && out.contains("edited"), "{out}");
    }
}

#[test]
fn deleted_and_reordered_records_are_found() {
    let dir = TempDir::new("tamper-del");
    let (path, n) = build_store(&dir);
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    for i in 0..4 {
        let seq = rng.random_range(1..n);
        let p = copy(&path, &dir, &format!("del{i}.db"));
        Connection::open(&p).unwrap().execute("DELETE FROM audit WHERE seq = ?1", [seq as i64]).unwrap();
        assert_eq!(records_verified(&p), Err(AuditFailure::Missing { seq }));
        let (code, out) = cli_verify(&p);
        assert_eq!(code, 1);
        assert!(out.contains(&format!("record {seq}: missing")), "{out}");
    }
    // Delete and renumber so there is no gap: the link breaks there.
    let seq = n / 2;
    let p = copy(&path, &dir, "renumber.db");
    {
        let c = Connection::open(&p).unwrap();
        c.execute("DELETE FROM audit WHERE seq = ?1", [seq as i64]).unwrap();
        c.execute("UPDATE audit SET seq = -seq WHERE seq > ?1", [seq as i64]).unwrap();
        c.execute("UPDATE audit SET seq = -seq - 1 WHERE seq < 0", []).unwrap();
    }
    assert_eq!(records_verified(&p), Err(AuditFailure::BrokenLink { seq }));
    // Swap two neighbouring records (content moved, sequence numbers kept).
    for i in 0..4 {
        let a = rng.random_range(1..n);
        let p = copy(&path, &dir, &format!("swap{i}.db"));
        {
            let c = Connection::open(&p).unwrap();
            c.execute_batch(&format!(
                "UPDATE audit SET seq = -1 WHERE seq = {a};
                 UPDATE audit SET seq = {a} WHERE seq = {b};
                 UPDATE audit SET seq = {b} WHERE seq = -1;",
                b = a + 1
            ))
            .unwrap();
        }
        assert_eq!(records_verified(&p), Err(AuditFailure::BrokenLink { seq: a }), "swap {a}");
        let (code, out) = cli_verify(&p);
        assert_eq!(code, 1);
        assert!(out.contains(&format!("record {a}:")) && out.contains("reordered"), "{out}");
    }
}

/// Recompute every hash from `from` on, as an attacker without the signing key could.
fn rehash_from(c: &Connection, from: u64) {
    let mut rows: Vec<(u64, AuditRecord)> = Vec::new();
    {
        let mut st = c
            .prepare("SELECT seq, at_ns, event, key_id, from_state, to_state, actor, detail FROM audit ORDER BY seq")
            .unwrap();
        let it = st
            .query_map([], |r| {
                let st = |v: Option<String>| v.filter(|s| !s.is_empty()).map(|s| s.parse::<KeyState>().unwrap());
                Ok(AuditRecord {
                    seq: r.get::<_, i64>(0)? as u64,
                    at_ns: r.get::<_, i64>(1)? as u64,
                    event: r.get(2)?,
                    key_id: r.get::<_, Option<i64>>(3)?.map(KeyId),
                    from: st(r.get(4)?),
                    to: st(r.get(5)?),
                    actor: r.get(6)?,
                    detail: r.get(7)?,
                })
            })
            .unwrap();
        for rec in it {
            let rec = rec.unwrap();
            rows.push((rec.seq, rec));
        }
    }
    let mut prev = [0u8; 32];
    for (seq, rec) in rows {
        let h = rec.hash(&prev);
        if seq >= from {
            c.execute(
                "UPDATE audit SET prev_hash = ?2, hash = ?3 WHERE seq = ?1",
                rusqlite::params![seq as i64, &prev[..], &h[..]],
            )
            .unwrap();
        }
        prev = h;
    }
}

#[test]
fn rewritten_chain_truncation_and_signatures_are_caught_by_checkpoints() {
    let dir = TempDir::new("tamper-cp");
    let (path, n) = build_store(&dir);
    let cps = checkpoint_seqs(&path);
    // Edit a record and re-hash everything after it: the next checkpoint catches it.
    let seq = cps[1] - 3;
    let p = copy(&path, &dir, "rewrite.db");
    {
        let c = Connection::open(&p).unwrap();
        c.execute("UPDATE audit SET actor = 'mallory' WHERE seq = ?1", [seq as i64]).unwrap();
        rehash_from(&c, seq);
    }
    assert_eq!(records_verified(&p), Err(AuditFailure::CheckpointMismatch { seq: cps[1] }));
    // Flip a bit of every checkpoint signature in turn.
    for (i, cp) in cps.iter().enumerate().take(4) {
        let p = copy(&path, &dir, &format!("sig{i}.db"));
        // Flip one bit of the stored signature.
        let c = Connection::open(&p).unwrap();
        let mut sig: Vec<u8> =
            c.query_row("SELECT signature FROM checkpoints WHERE seq = ?1", [*cp as i64], |r| r.get(0)).unwrap();
        sig[i * 7 % 64] ^= 0x10;
        c.execute("UPDATE checkpoints SET signature = ?2 WHERE seq = ?1", rusqlite::params![*cp as i64, sig]).unwrap();
        drop(c);
        match records_verified(&p) {
            Err(AuditFailure::BadSignature { seq, .. }) => assert_eq!(seq, *cp),
            other => panic!("flipped signature at {cp} gave {other:?}"),
        }
        let (code, out) = cli_verify(&p);
        assert_eq!(code, 1);
        assert!(out.contains(&format!("checkpoint at record {cp}: bad signature")), "{out}");
    }
    // A checkpoint's Merkle root altered, or removed (a downgrade to the version-1 message).
    let p = copy(&path, &dir, "root.db");
    {
        let c = Connection::open(&p).unwrap();
        let mut root: Vec<u8> =
            c.query_row("SELECT root FROM checkpoints WHERE seq = ?1", [cps[2] as i64], |r| r.get(0)).unwrap();
        root[3] ^= 1;
        c.execute("UPDATE checkpoints SET root = ?2 WHERE seq = ?1", rusqlite::params![cps[2] as i64, root]).unwrap();
    }
    assert_eq!(records_verified(&p), Err(AuditFailure::CheckpointMismatch { seq: cps[2] }));
    let p = copy(&path, &dir, "no-root.db");
    Connection::open(&p)
        .unwrap()
        .execute("UPDATE checkpoints SET root = NULL WHERE seq = ?1", [cps[1] as i64])
        .unwrap();
    match records_verified(&p) {
        Err(AuditFailure::BadSignature { seq, .. }) => assert_eq!(seq, cps[1]),
        other => panic!("checkpoint without its root gave {other:?}"),
    }
    // Truncate the chain below the last checkpoint.
    let last = *cps.last().unwrap();
    let p = copy(&path, &dir, "trunc.db");
    Connection::open(&p).unwrap().execute("DELETE FROM audit WHERE seq >= ?1", [last as i64]).unwrap();
    assert_eq!(records_verified(&p), Err(AuditFailure::CheckpointBeyondChain { seq: last }));
    assert_eq!(n, last, "the store ends with a signed checkpoint");
}

#[test]
fn cli_refuses_foreign_files_and_lists_keys_without_bytes() {
    let dir = TempDir::new("tamper-cli");
    let (path, _) = build_store(&dir);
    let junk = dir.join("junk");
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    let (code, _) = cli_verify(&junk);
    assert_eq!(code, 2);
    let out =
        qecnet_command().args(["keys", "list"]).arg(&path).args(["--state", "ACTIVE", "--json"]).output().unwrap();
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let arr = list.as_array().unwrap();
    assert_eq!(arr.len(), 60 + 2); // 60 session keys + master + audit signer
    assert!(arr.iter().all(|k| k["state"] == "ACTIVE"));
    // No stored wrapped blob appears in any output.
    let c = Connection::open(&path).unwrap();
    let wrapped: Vec<u8> =
        c.query_row("SELECT wrapped FROM keys WHERE key_type = 'MESH_SESSION' LIMIT 1", [], |r| r.get(0)).unwrap();
    let hex: String = wrapped.iter().map(|b| format!("{b:02x}")).collect();
    let show = qecnet_command().args(["keys", "show"]).arg(&path).arg("key#3").output().unwrap();
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success() && text.contains("MESH_SESSION"), "{text}");
    assert!(!text.contains(&hex[..16]) && !String::from_utf8_lossy(&out.stdout).contains(&hex[..16]));
}

#[test]
fn pinned_audit_key_catches_a_chain_re_signed_with_a_substituted_key() {
    let dir = TempDir::new("tamper-pin");
    let (path, _) = build_store(&dir);
    let genuine = {
        let c = Connection::open(&path).unwrap();
        verified(&c).unwrap().signers
    };
    assert_eq!(genuine.len(), 1);
    let genuine_hex = genuine.values().next().unwrap().clone();
    let mut pin = [0u8; 32];
    for (i, b) in pin.iter_mut().enumerate() {
        *b = u8::from_str_radix(&genuine_hex[2 * i..2 * i + 2], 16).unwrap();
    }
    // Attacker: edit record 5, re-hash the chain, replace the audit key, re-sign every
    // checkpoint with recomputed Merkle roots.
    let p = copy(&path, &dir, "resigned.db");
    forge_history(&p);
    let c = Connection::open(&p).unwrap();
    // Without a pin the forgery is self-consistent, but the reported signer differs.
    let report = verified(&c).unwrap();
    assert_ne!(report.signers.values().next().unwrap(), &genuine_hex);
    // With the pin it is refused at the first checkpoint.
    let first_cp = checkpoint_seqs(&p)[0];
    match verify(&c, &VerifyOptions::pinned_to(&[pin])).unwrap().into_result() {
        Err(AuditFailure::BadSignature { seq, .. }) => assert_eq!(seq, first_cp),
        other => panic!("forgery accepted with pin: {other:?}"),
    }
    let out = qecnet_command().args(["audit", "verify"]).arg(&p).args(["--pin", &genuine_hex]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = qecnet_command().args(["audit", "verify"]).arg(&path).args(["--pin", &genuine_hex]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

/// The attacker who can write the store: edits record 5, re-hashes the chain, substitutes
/// their own audit key and re-signs every checkpoint with recomputed Merkle roots.
fn forge_history(p: &Path) {
    use qecnet::crypto::{AuditSigner, SecretBytes};
    use qecnet::lifecycle::merkle;
    use qecnet::lifecycle::{checkpoint_message, record_leaf};
    let c = Connection::open(p).unwrap();
    c.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 5", []).unwrap();
    rehash_from(&c, 5);
    let mut rng = ChaCha20Rng::seed_from_u64(666);
    let fake = AuditSigner::from_material(&SecretBytes::random(32, "fake", &mut rng).unwrap()).unwrap();
    c.execute("UPDATE audit_keys SET public = ?1", [&fake.public()[..]]).unwrap();
    let cps: Vec<(i64, i64, i64)> = c
        .prepare("SELECT seq, at_ns, signer FROM checkpoints")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let leaves: Vec<merkle::Hash> = c
        .prepare("SELECT hash FROM audit ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|h| record_leaf(&h.unwrap().try_into().unwrap()))
        .collect();
    for (seq, at, signer) in cps {
        let head: Vec<u8> = c.query_row("SELECT hash FROM audit WHERE seq = ?1", [seq], |r| r.get(0)).unwrap();
        let head: [u8; 32] = head.try_into().unwrap();
        let root = merkle::root(&leaves[..seq as usize]);
        let sig = fake.sign(&checkpoint_message(seq as u64, at as u64, &head, Some(&root), KeyId(signer)));
        c.execute(
            "UPDATE checkpoints SET head = ?2, signature = ?3, root = ?4 WHERE seq = ?1",
            rusqlite::params![seq, &head[..], &sig[..], &root[..]],
        )
        .unwrap();
    }
}

fn genuine_signer(path: &Path) -> String {
    let c = Connection::open(path).unwrap();
    verified(&c).unwrap().signers.values().next().unwrap().clone()
}

#[test]
fn inclusion_proofs_hold_for_every_kind_of_record_and_fail_when_altered() {
    let dir = TempDir::new("proof-incl");
    let (path, _) = build_store(&dir);
    let db = path.to_str().unwrap();
    let cps = checkpoint_seqs(&path);
    let key = genuine_signer(&path);
    // The first record, records inside and at the end of a checkpoint, the last signed one.
    let last = *cps.last().unwrap();
    for record in [1, cps[0], cps[0] + 1, cps[1] - 1, last] {
        let file = dir.join(format!("proof-{record}.json"));
        let f = file.to_str().unwrap();
        let (code, _, err) = qecnet(&["audit", "prove", db, "--record", &record.to_string(), "--out", f]).parts();
        assert_eq!(code, 0, "prove {record}: {err}");
        let (code, out, _) = qecnet(&["audit", "check-proof", f, "--pin", &key]).parts();
        assert_eq!(code, 0, "record {record}: {out}");
        assert!(out.starts_with(&format!("OK: record {record} (")), "{out}");
        // Against every later signed head too.
        for head in cps.iter().filter(|&&c| c >= record) {
            let proof =
                qecnet::lifecycle::audit_proof::prove_inclusion(&Connection::open(&path).unwrap(), record, Some(*head))
                    .unwrap();
            assert!(proof.verify(None).is_ok(), "record {record} in head {head}");
        }
    }
    // Alter the proof of record cps[0] + 1: its content, a path hash, the head's signature,
    // or check it against another key.
    let file = dir.join(format!("proof-{}.json", cps[0] + 1));
    let text = std::fs::read_to_string(&file).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut cases: Vec<(&str, serde_json::Value, &str)> = Vec::new();
    let mut edited = json.clone();
    edited["record"]["actor"] = "mallory".into();
    cases.push(("content", edited, "is not in the signed head"));
    let mut edited = json.clone();
    let h = edited["path"][1].as_str().unwrap().to_string();
    edited["path"][1] = format!("{}{}", if h.starts_with('0') { "1" } else { "0" }, &h[1..]).into();
    cases.push(("path", edited, "is not in the signed head"));
    let mut edited = json.clone();
    let sig = edited["head"]["signature"].as_str().unwrap().to_string();
    edited["head"]["signature"] = format!("{}{}", if sig.starts_with('0') { "1" } else { "0" }, &sig[1..]).into();
    cases.push(("signature", edited, "bad signature"));
    let mut edited = json.clone();
    edited["head"]["tree_size"] = (cps[1] + 1).into();
    cases.push(("tree size", edited, "bad signature"));
    for (what, value, message) in cases {
        let bad = dir.join(format!("bad-{}.json", what.replace(' ', "-")));
        std::fs::write(&bad, serde_json::to_string_pretty(&value).unwrap()).unwrap();
        let (code, out, _) = qecnet(&["audit", "check-proof", bad.to_str().unwrap()]).parts();
        assert_eq!(code, 1, "{what}: {out}");
        assert!(out.starts_with("FAILED: ") && out.contains(message), "{what}: {out}");
    }
    let other = "11".repeat(32);
    let (code, out, _) = qecnet(&["audit", "check-proof", file.to_str().unwrap(), "--pin", &other]).parts();
    assert_eq!(code, 1);
    assert!(out.contains("is not one of the pinned audit keys"), "{out}");
    // Records beyond the signed log, or not at all, are refused with a message.
    let n =
        Connection::open(&path).unwrap().query_row("SELECT MAX(seq) FROM audit", [], |r| r.get::<_, i64>(0)).unwrap();
    if n as u64 > last {
        let (code, _, err) = qecnet(&["audit", "prove", db, "--record", &n.to_string()]).parts();
        assert_eq!(code, 2);
        assert!(err.contains("is not covered by a signed checkpoint yet"), "{err}");
    }
    let (code, _, err) = qecnet(&["audit", "prove", db, "--record", "0", "--head", &cps[0].to_string()]).parts();
    assert_eq!(code, 2);
    assert!(err.contains("record 0 is not in a log"), "{err}");
}

#[test]
fn consistency_proofs_show_the_log_is_append_only_and_catch_rewritten_history() {
    use qecnet::lifecycle::audit_proof::{AuditProof, prove_consistency};
    let dir = TempDir::new("proof-cons");
    let (path, _) = build_store(&dir);
    let db = path.to_str().unwrap();
    let cps = checkpoint_seqs(&path);
    let genuine = Connection::open(&path).unwrap();
    // Every pair of signed heads, through the library; one through the CLI.
    for (i, &from) in cps.iter().enumerate() {
        for &to in &cps[i..] {
            let proof = prove_consistency(&genuine, from, Some(to)).unwrap();
            assert!(proof.verify(None).is_ok(), "{from} -> {to}");
        }
    }
    let file = dir.join("consistency.json");
    let (code, _, err) =
        qecnet(&["audit", "consistency", db, "--from", &cps[0].to_string(), "--out", file.to_str().unwrap()]).parts();
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = qecnet(&["audit", "check-proof", file.to_str().unwrap()]).parts();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("extends the log signed at {} records", cps[0])), "{out}");
    // Unpinned, the output names the keys and roots to compare and says so.
    let key = genuine_signer(&path);
    assert!(out.contains(&key) && out.contains("note: no --pin given"), "{out}");
    let (code, out, _) = qecnet(&["audit", "check-proof", file.to_str().unwrap(), "--pin", &key]).parts();
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("note: no --pin given"), "{out}");
    // An auditor kept the genuine head at cps[0]. Someone able to write the store and to sign
    // rewrites record 5 and re-signs everything: the store verifies on its own, but no
    // consistency proof links the new log to the auditor's head.
    let AuditProof::Consistency { first: kept, .. } = prove_consistency(&genuine, cps[0], None).unwrap() else {
        unreachable!()
    };
    let forged = copy(&path, &dir, "forged.db");
    forge_history(&forged);
    let forged = Connection::open(&forged).unwrap();
    assert!(verified(&forged).is_ok());
    let AuditProof::Consistency { first, second, path } = prove_consistency(&forged, cps[0], None).unwrap() else {
        unreachable!()
    };
    assert_ne!(first.root, kept.root, "the forged log has another history");
    let against_kept = AuditProof::Consistency { first: kept, second, path };
    let failure = against_kept.verify(None).unwrap_err().to_string();
    assert!(failure.contains("does not extend"), "{failure}");
}

fn pin_of(path: &Path) -> [u8; 32] {
    let hex = genuine_signer(path);
    qecnet::lifecycle::audit_proof::parse_hex32("pin", &hex).unwrap()
}

fn verify_with(path: &Path, options: &qecnet::lifecycle::VerifyOptions) -> Result<u64, AuditFailure> {
    let c = Connection::open(path).unwrap();
    verify(&c, options).unwrap().into_result().map(|r| r.records)
}

fn pinned(path: &Path) -> qecnet::lifecycle::VerifyOptions {
    qecnet::lifecycle::VerifyOptions { pinned: vec![pin_of(path)], known_head: None }
}

#[test]
fn pinned_verify_fails_when_the_checkpoints_of_a_rewritten_chain_are_deleted() {
    let dir = TempDir::new("tamper-no-cp");
    let (path, n) = build_store(&dir);
    let options = pinned(&path);
    let p = copy(&path, &dir, "no-checkpoints.db");
    {
        let c = Connection::open(&p).unwrap();
        c.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 7", []).unwrap();
        rehash_from(&c, 7);
        c.execute("DELETE FROM checkpoints", []).unwrap();
    }
    // Self-consistent without a pin, and said to be unauthenticated.
    assert_eq!(records_verified(&p), Ok(n));
    let (code, out) = cli_verify(&p);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing was authenticated"), "{out}");
    // With the pin: refused, naming record 1 as the first unsigned one.
    assert_eq!(verify_with(&p, &options), Err(AuditFailure::NoSignedCheckpoint { records: n }));
    let (code, out, _) = qecnet(&["audit", "verify", p.to_str().unwrap(), "--pin", &genuine_signer(&path)]).parts();
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("FAILED: record 1: not covered by any checkpoint signed by a pinned key"), "{out}");
}

#[test]
fn pinned_verify_names_the_first_record_after_the_last_signed_checkpoint() {
    let dir = TempDir::new("tamper-tail");
    let (path, _) = build_store(&dir);
    let options = pinned(&path);
    let cps = checkpoint_seqs(&path);
    // Cut the log a few records after a checkpoint, with the checkpoints beyond the cut.
    let cut = cps[1] + 3;
    let p = copy(&path, &dir, "cut.db");
    {
        let c = Connection::open(&p).unwrap();
        c.execute("DELETE FROM audit WHERE seq > ?1", [cut as i64]).unwrap();
        c.execute("DELETE FROM checkpoints WHERE seq > ?1", [cut as i64]).unwrap();
    }
    assert_eq!(
        verify_with(&p, &options),
        Err(AuditFailure::UnsignedRecords { first: cps[1] + 1, last_signed: cps[1] })
    );
    let (code, out, _) = qecnet(&["audit", "verify", p.to_str().unwrap(), "--pin", &genuine_signer(&path)]).parts();
    assert_eq!(code, 1);
    assert!(out.starts_with(&format!("FAILED: record {}: not covered by a signed checkpoint", cps[1] + 1)), "{out}");
}

#[test]
fn a_known_head_catches_a_log_truncated_at_a_checkpoint_and_a_re_signed_history() {
    let dir = TempDir::new("tamper-known");
    let (path, n) = build_store(&dir);
    let db = path.to_str().unwrap();
    let key = genuine_signer(&path);
    // The auditor keeps the signed head printed by an earlier verification.
    let (code, out, _) = qecnet(&["audit", "verify", db, "--pin", &key]).parts();
    assert_eq!(code, 0, "{out}");
    let head = out.lines().find_map(|l| l.strip_prefix("signed head: ")).expect("a signed head line").to_string();
    assert!(head.starts_with(&format!("{n}:")), "{head}");
    let (code, out, _) = qecnet(&["audit", "verify", db, "--pin", &key, "--known-head", &head]).parts();
    assert_eq!(code, 0, "{out}");
    // The tail removed with its checkpoints: a valid, signed prefix, but shorter than the head.
    let cps = checkpoint_seqs(&path);
    let p = copy(&path, &dir, "prefix.db");
    {
        let c = Connection::open(&p).unwrap();
        c.execute("DELETE FROM audit WHERE seq > ?1", [cps[1] as i64]).unwrap();
        c.execute("DELETE FROM checkpoints WHERE seq > ?1", [cps[1] as i64]).unwrap();
    }
    // The keys table is ahead of the shortened chain...
    let (code, out, _) = qecnet(&["audit", "verify", p.to_str().unwrap(), "--pin", &key]).parts();
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("FAILED: key#"), "{out}");
    // ... and the known head names the first missing record.
    let (code, out, _) =
        qecnet(&["audit", "verify", p.to_str().unwrap(), "--pin", &key, "--known-head", &head]).parts();
    assert_eq!(code, 1);
    assert!(
        out.starts_with(&format!("FAILED: record {}: missing", cps[1] + 1)) && out.contains("rolled back"),
        "{out}"
    );
    // A history rewritten and re-signed with a substituted key: without a pin its own
    // signatures hold, but its root at the known size does not.
    let p = copy(&path, &dir, "resigned.db");
    forge_history(&p);
    let (code, out, _) = qecnet(&["audit", "verify", p.to_str().unwrap(), "--known-head", &head]).parts();
    assert_eq!(code, 1);
    assert!(out.starts_with(&format!("FAILED: record {n}: the Merkle root")), "{out}");
    // A malformed head is a usage error.
    let (code, _, err) = qecnet(&["audit", "verify", db, "--known-head", "12:xyz"]).parts();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--known-head"), "{err}");
}

#[test]
fn keys_table_changes_behind_the_engine_fail_verification_naming_the_key() {
    let dir = TempDir::new("tamper-keys");
    let (path, _) = build_store(&dir);
    let cases: [(&str, &str); 7] = [
        ("UPDATE keys SET state = 'REVOKED' WHERE id = 10", "key#10 (last set by record"),
        ("UPDATE keys SET participants = '[\"hub\",\"mallory\"]' WHERE id = 11", "key#11"),
        ("DELETE FROM receipts", "key#1 (last set by record"),
        ("DELETE FROM receipts WHERE key_id = 12 AND node = 'n1'", "key#12"),
        ("DELETE FROM keys WHERE id = 13", "key#13 (last set by record"),
        (
            "INSERT INTO keys(key_type, channel, state, participants, material_len, created_ns, state_changed_ns) \
             VALUES ('MESH_SESSION', 'c0', 'ACTIVE', '[\"hub\",\"n1\"]', 32, 0, 0)",
            "in the keys table but never generated",
        ),
        ("INSERT INTO nodes(node, isolated_ns) VALUES ('n1', 0)", "node n1 is isolated in the nodes table"),
    ];
    for (i, (sql, message)) in cases.iter().enumerate() {
        let p = copy(&path, &dir, &format!("keys{i}.db"));
        Connection::open(&p).unwrap().execute(sql, []).unwrap();
        let (code, out) = cli_verify(&p);
        assert_eq!(code, 1, "{sql}: {out}");
        assert!(out.starts_with("FAILED: ") && out.contains(message), "{sql}: {out}");
    }
    let p = copy(&path, &dir, "dropped.db");
    Connection::open(&p).unwrap().execute_batch("DROP TABLE receipts; DROP TABLE keys;").unwrap();
    let (code, out) = cli_verify(&p);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("keys table") && out.contains("no such table"), "{out}");
}

#[test]
fn a_revoked_key_set_back_to_active_by_sql_fails_verification() {
    let dir = TempDir::new("tamper-revoked");
    let path = dir.join("store.db");
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    let master = SecretBytes::random(32, "master", &mut rng).unwrap();
    let clock = ManualClock::new(SimTime::from_secs(1_000));
    let mut e = Engine::create(&path, &master, EngineConfig::default(), Box::new(clock.clone()), &mut rng).unwrap();
    let id = e.generate(KeyType::MeshSession, "c", &["hub", "n1"], &mut rng).unwrap();
    e.distribute(id).unwrap();
    e.confirm_receipt(id, "hub").unwrap();
    e.confirm_receipt(id, "n1").unwrap();
    let proof = e.receipt_proof(id).unwrap();
    e.activate(proof).unwrap();
    e.recover_compromise("n1", "test", &mut rng).unwrap();
    e.checkpoint_now().unwrap();
    assert_eq!(e.key(id).unwrap().state, KeyState::Revoked);
    drop(e);
    assert!(records_verified(&path).is_ok());
    Connection::open(&path).unwrap().execute("UPDATE keys SET state = 'ACTIVE' WHERE id = ?1", [id.0]).unwrap();
    match records_verified(&path) {
        Err(AuditFailure::KeyMismatch { key, reason, .. }) => {
            assert_eq!(key, id);
            assert!(reason.contains("says ACTIVE") && reason.contains("REVOKED"), "{reason}");
        }
        other => panic!("a revoked key made active again gave {other:?}"),
    }
}

#[test]
fn a_truncated_store_file_names_the_last_record_that_verified() {
    let dir = TempDir::new("tamper-truncate");
    let (path, n) = build_store(&dir);
    // Fold the WAL into the file, then cut the file short.
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;")
        .unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    let page = 4096;
    for cut in [len - page, len / 2] {
        let p = copy(&path, &dir, &format!("cut-{cut}.db"));
        std::fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(cut / page * page).unwrap();
        let (code, out) = cli_verify(&p);
        assert_eq!(code, 1, "cut at {cut}: {out}");
        let verified: u64 = out
            .strip_prefix("FAILED: store unreadable after record ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("cut at {cut}: {out}"));
        assert!(verified < n, "{out}");
    }
}

#[test]
fn a_state_spelled_otherwise_than_the_engine_writes_it_is_refused() {
    // Found by fuzzing: an empty from_state (for NULL) or a lower-case state hashes the same
    // as the engine's spelling, so the verifier accepted a store the engine never wrote.
    let dir = TempDir::new("tamper-spelling");
    let (path, _) = build_store(&dir);
    let first_generate: i64 = Connection::open(&path)
        .unwrap()
        .query_row("SELECT MIN(seq) FROM audit WHERE event = 'generate'", [], |r| r.get(0))
        .unwrap();
    for (i, sql) in [
        "UPDATE audit SET from_state = '' WHERE seq = ?1",
        "UPDATE audit SET to_state = lower(to_state) WHERE seq = ?1",
    ]
    .iter()
    .enumerate()
    {
        let p = copy(&path, &dir, &format!("spelling{i}.db"));
        Connection::open(&p).unwrap().execute(sql, [first_generate]).unwrap();
        match records_verified(&p) {
            Err(AuditFailure::Malformed { seq, .. }) => assert_eq!(seq, first_generate as u64, "{sql}"),
            other => panic!("{sql}: {other:?}"),
        }
    }
}
