//! `qecnet serve` on the live mesh: the KMEs' keys follow the physics. sims/serve-default.toml
//! runs at 100 simulated seconds per wall second; its intercept-resend episode on hub-n3 (n3's
//! only link) from 180 to 480 simulated seconds pushes that link's QBER over 11 %, so n1-n3
//! keys, relayed through the hub before, come from the ML-KEM-1024 hybrid exchange until the
//! monitor has seen the link clean again, while n1-n2 keeps its direct QKD link throughout.
//! Which source each key came from is judged at its issue time in the store, in simulated
//! time, so the test does not depend on how fast this machine answers.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::serve_util::{Server, key_id};
use crate::util::{OutputText, qecnet};

/// The monitoring window of sims/serve-default.toml (simulated s).
const WINDOW_S: f64 = 10.0;
/// The episode on hub-n3 (simulated s).
const EVE: (f64, f64) = (180.0, 480.0);
/// Clean windows the threshold monitor needs before it returns a link to QKD (its default).
const RECOVERY_WINDOWS: f64 = 2.0;

#[test]
fn a_pair_whose_only_path_is_attacked_gets_fallback_keys_while_the_episode_lasts() {
    let server = Server::start("serve-live-eve", &["--speed", "100"]);
    let started = Instant::now();
    let mut issued: Vec<(String, String, String)> = Vec::new(); // (slave, key_ID, source)
    // 6.5 wall seconds: past the episode's end and the monitor's recovery.
    while started.elapsed() < Duration::from_millis(6500) {
        for (slave, node) in [("sae-carol", "n1"), ("sae-bob", "n1")] {
            let (code, got) = server.get("sae-alice", node, &format!("/api/v1/keys/{slave}/enc_keys"));
            if code == 200 {
                let k = &got["keys"][0];
                issued.push((slave.into(), key_id(k), k["key_extension"]["source"].as_str().unwrap().into()));
            } else {
                // A path on QKD whose buffer is spent for now: the application waits.
                assert_eq!(code, 503, "{got}");
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Issue times in simulated seconds: the store's clock is an epoch plus simulated time, and
    // the nodes' identity keys are made at simulated time 0. (Every answered key is committed.)
    let out = qecnet(&["keys", "list", server.db.to_str().unwrap(), "--json"]);
    assert_eq!(out.code(), 0, "{}", out.text());
    let listed: Value = serde_json::from_str(&out.stdout_text()).unwrap();
    server.stop();
    let keys = listed.as_array().unwrap();
    let created = |k: &Value| k["created_ns"].as_u64().unwrap_or_else(|| panic!("created (ns) in {k}"));
    let epoch = keys.iter().filter(|k| k["channel"] == "identity-n1").map(created).next().expect("identity-n1");
    let sim_s = |id: &str| {
        let k = keys.iter().find(|k| k["channel"].as_str().unwrap().ends_with(id)).expect("issued key in the store");
        (created(k) - epoch) as f64 * 1e-9
    };
    let (mut before, mut during, mut after) = (0, 0, 0);
    for (slave, id, source) in &issued {
        let t = sim_s(id);
        if slave == "sae-bob" {
            assert_eq!(source, "qkd", "n1-n2 keeps its direct link (key at {t:.0} s)");
            continue;
        }
        // The first window wholly under attack ends at 190 s and switches the link; one more
        // window of slack for the route to follow.
        if t < EVE.0 {
            assert_eq!(source, "relay", "before the episode (key at {t:.0} s)");
            before += 1;
        } else if t >= EVE.0 + 2.0 * WINDOW_S && t < EVE.1 {
            assert_eq!(source, "pqc-fallback", "during the episode (key at {t:.0} s)");
            during += 1;
        } else if t >= EVE.1 + (RECOVERY_WINDOWS + 2.0) * WINDOW_S {
            assert_eq!(source, "relay", "after the episode and the recovery (key at {t:.0} s)");
            after += 1;
        }
    }
    eprintln!(
        "n1-n3 keys: {before} relayed before the episode, {during} from the fallback during it, {after} relayed after"
    );
    assert!(before > 0 && during > 0 && after > 0, "keys before {before}, during {during}, after {after}");
}

#[test]
fn a_compromised_nodes_saes_are_cut_off_and_the_keys_it_saw_are_revoked() {
    // The default scenario with n3 compromised at 60 simulated s (3 wall s at --speed 20).
    let dir = crate::util::TempDir::new("serve-live-compromise");
    let scenario = dir.join("serve-compromise.toml");
    let text = std::fs::read_to_string("sims/serve-default.toml").unwrap()
        + "\n[[event]]\nat = \"60s\"\nkind = \"compromise\"\nnode = \"n3\"\n";
    std::fs::write(&scenario, text).unwrap();
    let server = Server::start_scenario("serve-live-compromise-run", &scenario, &["--speed", "20"]);
    let take = |master: &str, node: &str, slave: &str| {
        let (code, got) = server.get(master, node, &format!("/api/v1/keys/{slave}/enc_keys?number=2"));
        assert_eq!(code, 200, "{got}");
        got["keys"].as_array().unwrap().iter().map(key_id).collect::<Vec<String>>()
    };
    let to_carol = take("sae-alice", "n1", "sae-carol");
    let from_carol = take("sae-carol", "n3", "sae-bob");
    let to_bob = take("sae-alice", "n1", "sae-bob");

    // Once n3 is isolated, keys for its SAE are refused, and its SAE is refused at its KME.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, status) = server.get("sae-alice", "n1", "/api/v1/keys/sae-carol/status");
        if code == 503 {
            assert!(status["message"].as_str().unwrap().contains("isolated"), "{status}");
            break;
        }
        assert_eq!(code, 200, "{status}");
        assert!(Instant::now() < deadline, "n3 never isolated");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, refused) = server.get("sae-carol", "n3", "/api/v1/keys/sae-alice/status");
    assert_eq!(code, 503, "{refused}");
    let (code, refused) =
        server.get("sae-bob", "n2", &format!("/api/v1/keys/sae-carol/dec_keys?key_ID={}", from_carol[0]));
    assert!(code == 503 || code == 400, "a key n3's SAE issued is not delivered: {code} {refused}");

    // The keys n3 saw (to and from its SAE) are revoked in the store; the others stay.
    let state_of = |id: &str| {
        let out = qecnet(&["keys", "list", server.db.to_str().unwrap(), "--json"]);
        assert_eq!(out.code(), 0, "{}", out.text());
        let listed: Value = serde_json::from_str(&out.stdout_text()).unwrap();
        let k = listed.as_array().unwrap().iter().find(|k| k["channel"].as_str().unwrap().ends_with(id)).cloned();
        k.expect("issued key in the store")["state"].as_str().unwrap().to_string()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while to_carol.iter().chain(&from_carol).any(|id| state_of(id) != "REVOKED") {
        assert!(Instant::now() < deadline, "the keys n3 saw were not revoked");
        std::thread::sleep(Duration::from_millis(100));
    }
    for id in &to_bob {
        assert_eq!(state_of(id), "ACTIVE", "a key between n1 and n2 waits for its slave");
        let (code, got) = server.get("sae-bob", "n2", &format!("/api/v1/keys/sae-alice/dec_keys?key_ID={id}"));
        assert_eq!(code, 200, "{got}");
    }
    server.stop();
}

#[test]
fn the_operator_injects_an_attack_now_and_the_pair_is_re_routed_while_saes_may_not() {
    let server = Server::start("serve-live-admin", &["--speed", "20"]);
    let events = "/admin/v1/events";
    let eve = r#"{"kind": "eve", "link": "n1-n2", "attack": "intercept-resend", "strength": 1.0, "until": "3600s"}"#;
    let (code, refused) = server.post("sae-alice", "n1", events, eve);
    assert_eq!(code, 401, "an SAE may not inject events: {refused}");
    for (body, message) in [
        (r#"{"kind": "party"}"#, "malformed event"),
        (r#"{"kind": "eve", "link": "n1-n9", "attack": "pns", "strength": 0.5}"#, "unknown link"),
        (r#"{"kind": "compromise", "node": "hub"}"#, "hub"),
    ] {
        let (code, refused) = server.post("operator", "n1", events, body);
        assert_eq!(code, 400, "{body}: {refused}");
        assert!(refused["message"].as_str().unwrap().contains(message), "{body}: {refused}");
    }
    let (_, before) = server.get("sae-alice", "n1", "/api/v1/keys/sae-bob/status");
    assert_eq!(before["status_extension"]["route"]["kind"], "direct", "{before}");
    let (code, injected) = server.post("operator", "n1", events, eve);
    assert_eq!(code, 200, "{injected}");
    assert_eq!(injected["event"]["link"], "n1-n2", "{injected}");
    // Intercept-resend on every pulse: QBER about 25 %, so the monitor takes n1-n2 to fallback
    // after its next window and n1-n2 keys go through the hub.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, status) = server.get("sae-alice", "n1", "/api/v1/keys/sae-bob/status");
        assert_eq!(code, 200, "{status}");
        if status["status_extension"]["route"]["kind"] == "relay" {
            break;
        }
        assert!(Instant::now() < deadline, "n1-n2 never re-routed: {status}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, got) = server.get("sae-alice", "n1", "/api/v1/keys/sae-bob/enc_keys");
    assert_eq!(code, 200, "{got}");
    assert_eq!(got["keys"][0]["key_extension"]["source"], "relay", "{got}");
    server.stop();
}
