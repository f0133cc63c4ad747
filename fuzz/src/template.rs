//! The store every audit fuzz target mutates: built once per process by the real engine
//! from a fixed seed (so its signing key, records and proofs are the same in every run and
//! the committed corpus stays valid), with rotations, a failed distribution, a compromise
//! recovery and checkpoints every ten records; and what the verifier vouches for in it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use qecnet::crypto::{KeyType, SecretBytes};

use qecnet::lifecycle::audit_proof::{AuditProof, parse_hex32};
use qecnet::lifecycle::{AuditRecord, Engine, EngineConfig, KeyId, ManualClock};
use qecnet::units::{SimDuration, SimTime};
use rand::SeedableRng;
use rusqlite::Connection;

/// The template store and what is known about it.
pub struct Template {
    /// The store file's bytes (one file: the write-ahead log folded in).
    pub bytes: Vec<u8>,
    /// The AUDIT_SIGNING public key.
    pub pin: [u8; 32],
    /// What the verifier vouches for.
    pub vouched: Vouched,
    /// Chained hash of every record, by sequence number − 1.
    pub hashes: Vec<[u8; 32]>,
    /// (tree size, Merkle root) of every signed head.
    pub heads: Vec<(u64, [u8; 32])>,
    /// Real proofs, for the corpus.
    pub proofs: Vec<AuditProof>,
}

/// One audit record: seq, time (ns), event, key id, from and to state, actor, detail,
/// previous hash, hash.
type AuditRow = (i64, i64, String, Option<i64>, Option<String>, Option<String>, String, String, Vec<u8>, Vec<u8>);

/// One key: id, type, channel, state, participants, and for a DESTROYED key whether its
/// material is erased.
type KeyRow = (i64, String, String, String, Vec<String>, Option<bool>);

/// The content an authenticated verification vouches for.
#[derive(Debug, PartialEq, Eq)]
pub struct Vouched {
    audit: Vec<AuditRow>,
    keys: Vec<KeyRow>,
    receipts: Vec<(i64, String)>,
    nodes: Vec<String>,
}

impl Vouched {
    /// Reads it from a store.
    pub fn read(conn: &Connection) -> rusqlite::Result<Vouched> {
        let audit = conn
            .prepare(
                "SELECT seq, at_ns, event, key_id, from_state, to_state, actor, detail, prev_hash, hash FROM audit ORDER BY seq",
            )?
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let keys = conn
            .prepare("SELECT id, key_type, channel, state, participants, wrapped IS NULL FROM keys ORDER BY id")?
            .query_map([], |r| {
                let state: String = r.get(3)?;
                let participants: String = r.get(4)?;
                let erased: bool = r.get(5)?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    state.clone(),
                    serde_json::from_str(&participants).unwrap_or_default(),
                    (state == "DESTROYED").then_some(erased),
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let receipts = conn
            .prepare("SELECT key_id, node FROM receipts ORDER BY key_id, node")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let nodes = conn
            .prepare("SELECT node FROM nodes ORDER BY node")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Vouched { audit, keys, receipts, nodes })
    }
}

impl Template {
    /// Whether an accepted proof speaks of the genuine log.
    pub fn is_genuine(&self, proof: &AuditProof) -> bool {
        let genuine_head = |size: u64, root: &str| {
            parse_hex32("root", root).is_ok_and(|r| self.heads.iter().any(|&(s, g)| s == size && g == r))
        };
        match proof {
            AuditProof::Inclusion { record, head, .. } => {
                let state = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(|s| s.parse().unwrap());
                let rec = AuditRecord {
                    seq: record.seq,
                    at_ns: record.at_ns,
                    event: record.event.clone(),
                    key_id: record.key_id.map(KeyId),
                    from: state(&record.from),
                    to: state(&record.to),
                    actor: record.actor.clone(),
                    detail: record.detail.clone(),
                };
                let Ok(prev) = parse_hex32("prev_hash", &record.prev_hash) else { return false };
                let index = record.seq as usize;
                index >= 1
                    && index <= self.hashes.len()
                    && rec.hash(&prev) == self.hashes[index - 1]
                    && genuine_head(head.tree_size, &head.root)
            }
            AuditProof::Consistency { first, second, .. } => {
                genuine_head(first.tree_size, &first.root) && genuine_head(second.tree_size, &second.root)
            }
        }
    }
}

/// A file of this process for the mutated copy.
pub fn scratch_file() -> PathBuf {
    std::env::temp_dir().join(format!("qecnet-fuzz-{}.db", std::process::id()))
}

/// The template, built on first use.
pub fn store() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(build)
}

fn build() -> Template {
    let dir = std::env::temp_dir().join(format!("qecnet-fuzz-template-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.db");
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2026);
    let master = SecretBytes::new(vec![0x42; 32]);
    let clock = ManualClock::new(SimTime::from_secs(1_000));
    let config = EngineConfig { checkpoint_every: 10, ..EngineConfig::default() };
    let mut e = Engine::create(&path, &master, config, Box::new(clock.clone()), &mut rng).unwrap();
    let activate = |e: &mut Engine, id: KeyId, nodes: &[&str]| {
        e.distribute(id).unwrap();
        for n in nodes {
            e.confirm_receipt(id, n).unwrap();
        }
        let proof = e.receipt_proof(id).unwrap();
        e.activate(proof).unwrap();
    };
    for (i, nodes) in [["hub", "n1"], ["hub", "n2"], ["n1", "n2"]].iter().enumerate() {
        clock.advance(SimDuration::from_secs(1));
        let id = e.generate(KeyType::MeshSession, &format!("ch{i}"), nodes, &mut rng).unwrap();
        activate(&mut e, id, nodes);
        clock.advance(SimDuration::from_secs(1));
        let next = e.begin_rotation(id, &mut rng).unwrap();
        activate(&mut e, next, nodes);
    }
    let failing = e.generate(KeyType::MeshSession, "ch9", &["hub", "n1"], &mut rng).unwrap();
    e.distribute(failing).unwrap();
    e.confirm_receipt(failing, "hub").unwrap();
    let retry = e.fail_distribution(failing, &mut rng).unwrap();
    activate(&mut e, retry, &["hub", "n1"]);
    clock.advance(SimDuration::from_secs(1));
    e.recover_compromise("n2", "fuzz template", &mut rng).unwrap();
    e.checkpoint_now().unwrap();
    drop(e);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;").unwrap();
    let vouched = Vouched::read(&conn).unwrap();
    let hashes = conn
        .prepare("SELECT hash FROM audit ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|h| h.unwrap().try_into().unwrap())
        .collect();
    let heads: Vec<(u64, [u8; 32])> = conn
        .prepare("SELECT seq, root FROM checkpoints ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?)))
        .unwrap()
        .map(|row| {
            let (s, root) = row.unwrap();
            (s, root.try_into().unwrap())
        })
        .collect();
    let public: Vec<u8> = conn.query_row("SELECT public FROM audit_keys", [], |r| r.get(0)).unwrap();
    let mut proofs = Vec::new();
    let records = heads.last().unwrap().0;
    for seq in [1, 5, records / 2, records] {
        proofs.push(qecnet::lifecycle::audit_proof::prove_inclusion(&conn, seq, None).unwrap());
    }
    proofs.push(qecnet::lifecycle::audit_proof::prove_consistency(&conn, heads[0].0, None).unwrap());
    proofs.push(qecnet::lifecycle::audit_proof::prove_consistency(&conn, heads[1].0, Some(heads[2].0)).unwrap());
    drop(conn);
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    Template { bytes, pin: public.try_into().unwrap(), vouched, hashes, heads, proofs }
}

/// Tables and columns a cell edit may touch.
const TABLES: [(&str, &[&str]); 7] = [
    ("audit", &["seq", "at_ns", "event", "key_id", "from_state", "to_state", "actor", "detail", "prev_hash", "hash"]),
    ("keys", &["id", "key_type", "channel", "state", "participants", "wrapped", "usage_count", "replaces"]),
    ("receipts", &["key_id", "node", "at_ns"]),
    ("nodes", &["node", "isolated_ns"]),
    ("checkpoints", &["seq", "at_ns", "head", "signer", "signature", "root"]),
    ("audit_keys", &["key_id", "public"]),
    ("meta", &["name", "value"]),
];

/// Words an edit may write.
const WORDS: [&str; 10] =
    ["ACTIVE", "REVOKED", "DESTROYED", "RETIRED", "hub", "n1", "n2", "[\"hub\",\"n1\"]", "", "activate"];

/// One edit of the store through SQL, chosen by up to six bytes: table, column, row, what to
/// write, and an operand.
pub fn cell_edit(conn: &Connection, op: &[u8]) -> rusqlite::Result<usize> {
    let byte = |i: usize| op.get(i).copied().unwrap_or(0);
    let (table, columns) = TABLES[byte(0) as usize % TABLES.len()];
    let column = columns[byte(1) as usize % columns.len()];
    let row = byte(2) as i64 % 48 + 1;
    let operand = byte(4);
    let target = format!("rowid = (SELECT rowid FROM {table} ORDER BY rowid LIMIT 1 OFFSET {})", row - 1);
    match byte(3) % 7 {
        0 => conn.execute(&format!("UPDATE {table} SET {column} = NULL WHERE {target}"), []),
        1 => conn.execute(&format!("UPDATE {table} SET {column} = ?1 WHERE {target}"), [operand as i64]),
        2 => conn.execute(
            &format!("UPDATE {table} SET {column} = ?1 WHERE {target}"),
            [WORDS[operand as usize % WORDS.len()]],
        ),
        3 => conn.execute(
            &format!(
                "UPDATE {table} SET {column} = (SELECT {column} FROM {table} ORDER BY rowid LIMIT 1 OFFSET {}) WHERE {target}",
                operand % 48
            ),
            [],
        ),
        4 => conn.execute(&format!("DELETE FROM {table} WHERE {target}"), []),
        5 => conn.execute(
            &format!("UPDATE {table} SET {column} = {column} || x'{operand:02x}' WHERE {target}"),
            [],
        ),
        _ => conn.execute(&format!("UPDATE {table} SET {column} = {column} + 1 WHERE {target}"), []),
    }
}
