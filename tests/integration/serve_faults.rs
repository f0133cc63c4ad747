//! `qecnet serve` on a store it resumes: SIGKILLed at random moments while SAEs fetch and
//! collect keys, restarted on the same `--db` each time. Across all the kills no key is
//! delivered twice to a slave or with other bytes than its master got, every key a master
//! received and whose slave never asked for it can still be collected, and the audit chain
//! verifies. A key its slave leaves uncollected past the key lifetime expires, its material
//! erased.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::serve_util::{Server, key_bytes, key_id, pki_init};
use crate::util::{OutputText, TempDir, qecnet};

/// A fixed test master key (64 hex digits): the store is resumed with it after every kill.
pub(crate) const MASTER: &str = "5ec0d5ec0d5ec0d5ec0d5ec0d5ec0d5ec0d5ec0d5ec0d5ec0d5ec0d5ec0d5ec0";
/// Kills in the test (the issue asks for at least 50 in the suite's longest test); the fault
/// loops script asks for more through `QECNET_SERVE_KILLS`.
fn kills() -> usize {
    match std::env::var("QECNET_SERVE_KILLS") {
        Ok(n) => n.parse().unwrap_or_else(|_| panic!("QECNET_SERVE_KILLS={n:?}: not a count")),
        Err(_) => 50,
    }
}

/// (master SAE, its node, slave SAE, its node): a direct pair both ways and a relayed pair.
const PAIRS: [(&str, &str, &str, &str); 3] = [
    ("sae-alice", "n1", "sae-bob", "n2"),
    ("sae-bob", "n2", "sae-alice", "n1"),
    ("sae-alice", "n1", "sae-carol", "n3"),
];

/// What the SAEs saw, across every run of the server.
#[derive(Default)]
struct Seen {
    /// key_ID → (master, slave, the bytes the master received).
    issued: HashMap<String, (usize, Vec<u8>)>,
    /// key_IDs whose slave got them, with how many times.
    collected: HashMap<String, usize>,
    /// key_IDs whose collection was sent but got no answer (the kill may or may not have
    /// come after its commit).
    unanswered: HashSet<String>,
}

/// One SAE pair's load until `stop`: Get key (1–4 keys), then half the time Get key with key
/// IDs for them at once, a quarter of the time for up to 3 older ones, else not yet; every
/// answer recorded in `seen`.
fn load(server: &Server, pair: usize, seed: u64, stop: &AtomicBool, seen: &Mutex<Seen>) {
    let (master, master_node, slave, slave_node) = PAIRS[pair];
    let (m, s) = (server.client(master), server.client(slave));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    while !stop.load(Ordering::Relaxed) {
        let number = rng.random_range(1..=4);
        let url = server.url(master_node, &format!("/api/v1/keys/{slave}/enc_keys?number={number}"));
        let Ok(r) = m.get(url).timeout(Duration::from_secs(5)).send() else { return };
        let Ok(body) = r.json::<Value>() else { return };
        let Some(keys) = body["keys"].as_array() else { continue };
        {
            let mut seen = seen.lock().unwrap();
            for k in keys {
                assert!(seen.issued.insert(key_id(k), (pair, key_bytes(k))).is_none(), "a key ID handed out twice");
            }
        }
        let ids: Vec<String> = if rng.random_bool(0.5) {
            keys.iter().map(key_id).collect()
        } else if rng.random_bool(0.5) {
            // Left for later: some of these wait across a kill.
            continue;
        } else {
            let seen = seen.lock().unwrap();
            let backlog = seen.issued.iter().filter(|(id, (p, _))| {
                *p == pair && !seen.collected.contains_key(*id) && !seen.unanswered.contains(*id)
            });
            backlog.map(|(id, _)| id.clone()).take(3).collect()
        };
        if ids.is_empty() {
            continue;
        }
        let body = serde_json::json!({ "key_IDs": ids.iter().map(|id| serde_json::json!({ "key_ID": id })).collect::<Vec<_>>() });
        let url = server.url(slave_node, &format!("/api/v1/keys/{master}/dec_keys"));
        seen.lock().unwrap().unanswered.extend(ids.iter().cloned());
        let Ok(r) = s.post(url).json(&body).timeout(Duration::from_secs(5)).send() else { return };
        let (code, Ok(body)) = (r.status().as_u16(), r.json::<Value>()) else { return };
        let mut seen = seen.lock().unwrap();
        if code == 200 {
            for k in body["keys"].as_array().unwrap() {
                let id = key_id(k);
                assert_eq!(key_bytes(k), seen.issued[&id].1, "the slave got the master's bytes");
                seen.unanswered.remove(&id);
                *seen.collected.entry(id).or_default() += 1;
            }
        } else {
            // Refused whole (e.g. 503 while the store stops): none of them was collected.
            assert!(code == 503, "dec_keys answered {code}: {body}");
            for id in &ids {
                seen.unanswered.remove(id);
            }
        }
    }
}

fn launch(dir: &Path, run: usize, extra: &[&str]) -> Server {
    let (pki, db, ready) = (dir.join("pki"), dir.join("store.db"), dir.join(format!("ready-{run}.json")));
    // Each run's mesh goes on from the physics of the last commit before the kill (its
    // buffers, modes, the attack under way); keys live long in simulated time, so none
    // expires across the runs unless a test asks for it.
    let mut args = vec!["--speed", "1000"];
    if !extra.contains(&"--key-lifetime") {
        args.extend(["--key-lifetime", "10000h"]);
    }
    args.extend(extra);
    let scenario = Path::new("sims/serve-default.toml");
    Server::launch(scenario, &pki, &db, &ready, &args, &[("QECNET_MASTER_KEY", MASTER)], None, dir)
}

#[test]
fn sigkill_at_random_moments_under_load_loses_no_key_and_delivers_none_twice() {
    let dir = TempDir::new("serve-faults");
    pki_init(&dir.join("pki"));
    let seen = Mutex::new(Seen::default());
    let mut rng = ChaCha8Rng::seed_from_u64(50);
    let kills = kills();
    for run in 0..kills {
        let server = launch(&dir, run, &[]);
        let stop = Arc::new(AtomicBool::new(false));
        let lifetime_ms = rng.random_range(5..120);
        std::thread::scope(|scope| {
            for pair in 0..PAIRS.len() {
                let (server, stop, seen) = (&server, &stop, &seen);
                let seed = (run * PAIRS.len() + pair) as u64;
                scope.spawn(move || load(server, pair, seed, stop, seen));
            }
            std::thread::sleep(Duration::from_millis(lifetime_ms));
            // SIGKILL while the load runs; the clients see their connections die and stop.
            let pid = server.pid();
            assert!(std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap().success());
            stop.store(true, Ordering::Relaxed);
        });
        server.kill();
    }

    // A last run: every key's fate is what the answers said.
    let server = launch(&dir, kills, &[]);
    let seen = seen.into_inner().unwrap();
    assert!(seen.issued.len() > kills, "the load issued keys between the kills: {}", seen.issued.len());
    let (mut collectable, mut lost_with_answer) = (0, 0);
    for (id, (pair, bytes)) in &seen.issued {
        let (master, _, slave, slave_node) = PAIRS[*pair];
        let (code, body) = server.get(slave, slave_node, &format!("/api/v1/keys/{master}/dec_keys?key_ID={id}"));
        match seen.collected.get(id) {
            Some(n) => {
                assert_eq!(*n, 1, "key {id} delivered to its slave {n} times");
                assert_eq!(code, 400, "key {id} was collected, yet: {body}");
            }
            None if seen.unanswered.contains(id) => {
                // Its collection was in flight at a kill: committed (gone) or not (still there).
                match code {
                    200 => assert_eq!(&key_bytes(&body["keys"][0]), bytes),
                    400 => lost_with_answer += 1,
                    _ => panic!("key {id}: {code} {body}"),
                }
            }
            None => {
                assert_eq!(code, 200, "key {id} was received by its master and never asked for: {body}");
                assert_eq!(&key_bytes(&body["keys"][0]), bytes, "key {id} kept its bytes across the restarts");
                collectable += 1;
            }
        }
    }
    assert!(collectable > 0, "some keys were left for their slave across a kill");
    let keys = server.stop();
    eprintln!(
        "{} keys issued, {} collected, {collectable} collected after the restarts, \
         {lost_with_answer} committed with their answer lost",
        seen.issued.len(),
        seen.collected.len()
    );
    assert!(keys.contains("RETIRED"), "{keys}");
}

#[test]
fn a_key_its_slave_leaves_past_the_key_lifetime_expires_and_is_erased() {
    let dir = TempDir::new("serve-expiry");
    pki_init(&dir.join("pki"));
    let server = launch(&dir, 0, &["--key-lifetime", "300ms"]);
    server.wait_for_key("sae-alice", "n1", "sae-bob");
    let (code, got) = server.get("sae-alice", "n1", "/api/v1/keys/sae-bob/enc_keys");
    assert_eq!(code, 200, "{got}");
    let id = key_id(&got["keys"][0]);
    std::thread::sleep(Duration::from_millis(1200));
    let (code, refused) = server.get("sae-bob", "n2", &format!("/api/v1/keys/sae-alice/dec_keys?key_ID={id}"));
    assert_eq!(code, 400, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("expired"), "{refused}");
    let db = server.db.clone();
    server.stop();
    let show = qecnet(&["keys", "list", db.to_str().unwrap(), "--json"]);
    assert_eq!(show.code(), 0, "{}", show.text());
    let listed: Value = serde_json::from_str(&show.stdout_text()).unwrap();
    let key = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["channel"].as_str().unwrap().ends_with(&id))
        .unwrap_or_else(|| panic!("key {id} in {listed}"));
    assert_eq!(key["state"], "DESTROYED", "{key}");
    assert_eq!(key["has_material"], false, "{key}");
}

#[test]
fn a_restarted_server_serves_the_keys_its_slaves_had_not_collected() {
    let dir = TempDir::new("serve-resume");
    pki_init(&dir.join("pki"));
    let first = launch(&dir, 0, &[]);
    first.wait_for_key("sae-alice", "n1", "sae-carol");
    let (code, got) = first.get("sae-alice", "n1", "/api/v1/keys/sae-carol/enc_keys?number=2");
    assert_eq!(code, 200, "{got}");
    first.stop();
    let second = launch(&dir, 1, &[]);
    let ids: Vec<String> = got["keys"].as_array().unwrap().iter().map(key_id).collect();
    let request = format!(r#"{{"key_IDs": [{{"key_ID": "{}"}}, {{"key_ID": "{}"}}]}}"#, ids[0], ids[1]);
    let (code, body) = second.post("sae-carol", "n3", "/api/v1/keys/sae-alice/dec_keys", &request);
    assert_eq!(code, 200, "{body}");
    for (sent, received) in got["keys"].as_array().unwrap().iter().zip(body["keys"].as_array().unwrap()) {
        assert_eq!(key_bytes(sent), key_bytes(received));
        assert_eq!(received["key_extension"]["source"], "relay", "{received}");
    }
    second.stop();
    // Without the master key an existing store is refused, naming the flag.
    let out = crate::util::qecnet_command()
        .args(["serve", "sims/serve-default.toml", "--pki"])
        .arg(dir.join("pki"))
        .arg("--db")
        .arg(dir.join("store.db"))
        .env_remove("QECNET_MASTER_KEY")
        .output()
        .unwrap();
    assert_eq!(out.code(), 2, "{}", out.text());
    assert!(out.text().contains("--db") && out.text().contains("QECNET_MASTER_KEY"), "{}", out.text());
}
