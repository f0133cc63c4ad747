//! `qecnet serve` restarted on its store goes on with its live mesh where the last commit left
//! it: the simulated time, every link's buffer and mode, the eavesdropper under way, and the
//! nodes a compromise isolated (read from the audited store). Each first run is SIGKILLed, so
//! what the second run sees is what the last group commit saved. The second run is slow
//! (`--speed 1`: its first monitoring window ends 10 wall seconds after its start), so what it
//! serves at once comes from the resumed physics, not from a window of its own.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::serve_faults::MASTER;
use crate::serve_util::{Server, pki_init};
use crate::util::{OutputText, TempDir, qecnet, qecnet_command};

/// Run `run` of `scenario` on the PKI and store in `dir`, resumed with the test master key.
fn launch(dir: &Path, scenario: &Path, run: usize, speed: &str) -> Server {
    let (pki, db, ready) = (dir.join("pki"), dir.join("store.db"), dir.join(format!("ready-{run}.json")));
    let args = ["--speed", speed, "--key-lifetime", "10000h"];
    Server::launch(scenario, &pki, &db, &ready, &args, &[("QECNET_MASTER_KEY", MASTER)], None, dir)
}

/// `sae-alice`'s status for `slave` at n1.
fn status(server: &Server, slave: &str) -> (u16, Value) {
    server.get("sae-alice", "n1", &format!("/api/v1/keys/{slave}/status"))
}

/// Polls `sae-alice`'s status for `slave` (up to 60 s) until `done` holds.
fn wait_for(server: &Server, slave: &str, what: &str, done: impl Fn(u16, &Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, got) = status(server, slave);
        if done(code, &got) {
            return;
        }
        assert!(Instant::now() < deadline, "{what} after 60 s: {code} {got}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_restarted_server_goes_on_with_the_buffers_modes_and_attack_of_its_mesh() {
    let dir = TempDir::new("serve-resume-physics");
    pki_init(&dir.join("pki"));
    let scenario = Path::new("sims/serve-default.toml");
    // The episode on hub-n3 runs from 180 to 480 simulated s: 1.8 to 4.8 wall s at --speed 100.
    let first = launch(&dir, scenario, 0, "100");
    wait_for(&first, "sae-carol", "n1-n3 never in fallback", |code, s| {
        code == 200 && s["status_extension"]["route"]["kind"] == "fallback"
    });
    let (code, before) = status(&first, "sae-bob");
    assert_eq!(code, 200, "{before}");
    first.kill();

    let second = launch(&dir, scenario, 1, "1");
    // At once (the second run's own first window is 10 wall s away): n1-n3 is still under
    // attack, so in fallback with the last QBER over the threshold, and n1-n2 has key.
    let (code, carol) = status(&second, "sae-carol");
    assert_eq!(code, 200, "{carol}");
    assert_eq!(carol["status_extension"]["route"]["kind"], "fallback", "n1-n3 after the restart: {carol}");
    let (code, bob) = status(&second, "sae-bob");
    assert_eq!(code, 200, "{bob}");
    assert_eq!(bob["status_extension"]["mode"], "qkd", "{bob}");
    assert!(bob["stored_key_count"].as_u64().unwrap() > 0, "n1-n2's buffer came back: {bob} (before: {before})");
    let (code, got) = second.get("sae-alice", "n1", "/api/v1/keys/sae-bob/enc_keys");
    assert_eq!(code, 200, "{got}");
    assert_eq!(got["keys"][0]["key_extension"]["source"], "qkd", "{got}");
    let (code, got) = second.get("sae-alice", "n1", "/api/v1/keys/sae-carol/enc_keys");
    assert_eq!(code, 200, "{got}");
    assert_eq!(got["keys"][0]["key_extension"]["source"], "pqc-fallback", "{got}");
    second.stop();
}

#[test]
fn a_node_compromised_before_a_restart_stays_cut_off_after_it() {
    let dir = TempDir::new("serve-resume-compromise");
    pki_init(&dir.join("pki"));
    let scenario = dir.join("serve-compromise.toml");
    let text = std::fs::read_to_string("sims/serve-default.toml").unwrap()
        + "\n[[event]]\nat = \"60s\"\nkind = \"compromise\"\nnode = \"n3\"\n";
    std::fs::write(&scenario, text).unwrap();
    let isolated = |code: u16, s: &Value| code == 503 && s["message"].as_str().is_some_and(|m| m.contains("isolated"));
    let first = launch(&dir, &scenario, 0, "20");
    wait_for(&first, "sae-carol", "n3 never isolated", isolated);
    // The KMEs see the isolation just before the writer commits it; a key answered after
    // that was committed by a later group of the same writer, so the isolation is on disk
    // when this answer arrives (without it, a kill can land between the two under load).
    let (code, got) = first.get("sae-alice", "n1", "/api/v1/keys/sae-bob/enc_keys");
    assert_eq!(code, 200, "n1-n2 serves while n3 is isolated: {got}");
    first.kill();

    let second = launch(&dir, &scenario, 1, "20");
    let (code, got) = status(&second, "sae-carol");
    assert!(isolated(code, &got), "n3 is still isolated after the restart: {code} {got}");
    let (code, got) = second.get("sae-carol", "n3", "/api/v1/keys/sae-alice/status");
    assert_eq!(code, 503, "n3's own SAE is refused: {got}");
    // The rest of the mesh serves on: n1-n2 keys come from their link.
    wait_for(&second, "sae-bob", "no n1-n2 key", |code, s| code == 200 && s["stored_key_count"].as_u64() > Some(0));
    second.stop();
}

#[test]
fn a_store_is_not_resumed_with_another_seed_and_is_left_as_it_was() {
    let dir = TempDir::new("serve-resume-seed");
    pki_init(&dir.join("pki"));
    let scenario = Path::new("sims/serve-default.toml");
    let first = launch(&dir, scenario, 0, "100");
    first.wait_for_key("sae-alice", "n1", "sae-bob");
    let db = first.db.clone();
    first.stop();
    let listed = |db: &Path| {
        let out = qecnet(&["keys", "list", db.to_str().unwrap(), "--json"]);
        assert_eq!(out.code(), 0, "{}", out.text());
        out.stdout_text()
    };
    let before = listed(&db);
    let out = qecnet_command()
        .args(["serve", "sims/serve-default.toml", "--seed", "2", "--pki"])
        .arg(dir.join("pki"))
        .arg("--db")
        .arg(&db)
        .env("QECNET_MASTER_KEY", MASTER)
        .output()
        .unwrap();
    assert_eq!(out.code(), 2, "{}", out.text());
    assert!(out.text().contains("mesh.seed") && out.text().contains("--db"), "{}", out.text());
    assert_eq!(listed(&db), before, "a refused resume writes nothing");
    let verify = qecnet(&["audit", "verify", db.to_str().unwrap()]);
    assert_eq!(verify.code(), 0, "{}", verify.text());
}
