//! `qecnet serve` over real sockets: the built binary serves sims/serve-default.toml, and a
//! real HTTPS client with client certificates (reqwest over rustls, and curl) talks ETSI GS
//! QKD 014 v1.1.1 to its KMEs: status, both Get key forms, both Get key with key IDs forms,
//! identical bytes at master and slave, every error with its status and JSON body, refused
//! handshakes, key IDs bound to their slave, fresh bytes on every run of one seed, a clean
//! stop on SIGTERM and a store whose audit chain verifies. Every server runs with a bounded
//! `--duration`.

use serde_json::{Value, json};

use crate::serve_util::{Server, key_bytes, key_id, pki_init};

#[test]
fn a_master_and_its_slave_get_identical_bytes_through_every_form_of_the_api() {
    let server = Server::start("serve-api", &[]);

    // Get status: every field of the standard, integers as integers.
    let (code, status) = server.get("sae-alice", "n1", "/api/v1/keys/sae-bob/status");
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["source_KME_ID"], "n1");
    assert_eq!(status["target_KME_ID"], "n2");
    assert_eq!(status["master_SAE_ID"], "sae-alice");
    assert_eq!(status["slave_SAE_ID"], "sae-bob");
    assert_eq!(status["key_size"], 256);
    for field in ["stored_key_count", "max_key_count", "max_key_per_request", "max_key_size", "min_key_size"] {
        assert!(status[field].as_u64().is_some_and(|n| n > 0), "{field}: {status}");
    }
    assert_eq!(status["max_SAE_ID_count"], 8);
    assert!(status["stored_key_count"].as_u64() <= status["max_key_count"].as_u64());
    assert_eq!(status["status_extension"]["mode"], "qkd");
    assert_eq!(status["status_extension"]["route"]["kind"], "direct");

    // Get key by GET and by POST.
    let (code, got) = server.get("sae-alice", "n1", "/api/v1/keys/sae-bob/enc_keys?number=3&size=512");
    assert_eq!(code, 200, "{got}");
    let by_get = got["keys"].as_array().unwrap().clone();
    assert_eq!(by_get.len(), 3);
    let (code, got) = server.post(
        "sae-alice",
        "n1",
        "/api/v1/keys/sae-bob/enc_keys",
        r#"{"number": 2, "extension_optional": [{"x": 1}]}"#,
    );
    assert_eq!(code, 200, "{got}");
    let by_post = got["keys"].as_array().unwrap().clone();
    assert_eq!(by_post.len(), 2);
    for k in &by_get {
        assert_eq!(key_bytes(k).len(), 64);
        assert_eq!(k["key_extension"]["source"], "qkd");
    }
    for k in &by_post {
        assert_eq!(key_bytes(k).len(), 32, "default key_size 256 bits");
    }
    let mut ids: Vec<String> = by_get.iter().chain(&by_post).map(key_id).collect();
    for id in &ids {
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4, "{id}");
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "key IDs are unique");

    // Get key with key IDs by GET (one) and by POST (several): the same bytes at the slave.
    let (code, got) =
        server.get("sae-bob", "n2", &format!("/api/v1/keys/sae-alice/dec_keys?key_ID={}", key_id(&by_get[0])));
    assert_eq!(code, 200, "{got}");
    assert_eq!(key_id(&got["keys"][0]), key_id(&by_get[0]));
    assert_eq!(key_bytes(&got["keys"][0]), key_bytes(&by_get[0]));
    let wanted: Vec<Value> = by_get[1..].iter().chain(&by_post).map(|k| json!({"key_ID": key_id(k)})).collect();
    let (code, got) =
        server.post("sae-bob", "n2", "/api/v1/keys/sae-alice/dec_keys", &json!({"key_IDs": wanted}).to_string());
    assert_eq!(code, 200, "{got}");
    let collected = got["keys"].as_array().unwrap();
    assert_eq!(collected.len(), 4);
    for (c, m) in collected.iter().zip(by_get[1..].iter().chain(&by_post)) {
        assert_eq!(key_id(c), key_id(m));
        assert_eq!(key_bytes(c), key_bytes(m));
    }

    // Only once.
    let (code, again) =
        server.get("sae-bob", "n2", &format!("/api/v1/keys/sae-alice/dec_keys?key_ID={}", key_id(&by_get[0])));
    assert_eq!(code, 400, "{again}");
    assert!(again["message"].as_str().unwrap().contains("unknown key_ID"), "{again}");

    // A relayed pair (n1-n3 through the hub) says so, and its ends agree too.
    let (code, status) = server.get("sae-alice", "n1", "/api/v1/keys/sae-carol/status");
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["status_extension"]["route"]["kind"], "relay");
    let (_, got) = server.get("sae-alice", "n1", "/api/v1/keys/sae-carol/enc_keys");
    let relayed = &got["keys"][0];
    assert_eq!(relayed["key_extension"]["source"], "relay");
    let (code, got) =
        server.get("sae-carol", "n3", &format!("/api/v1/keys/sae-alice/dec_keys?key_ID={}", key_id(relayed)));
    assert_eq!(code, 200, "{got}");
    assert_eq!(key_bytes(&got["keys"][0]), key_bytes(relayed));
    let uncollected = {
        let (_, got) = server.get("sae-alice", "n1", "/api/v1/keys/sae-bob/enc_keys");
        key_id(&got["keys"][0])
    };

    // The store: the 6 collected keys RETIRED, the uncollected one ACTIVE, all QKD_TRANSPORT.
    let keys = server.stop();
    let lines: Vec<&str> = keys.lines().filter(|l| l.contains("etsi014/")).collect();
    assert_eq!(lines.len(), 7, "{keys}");
    assert!(lines.iter().all(|l| l.contains("QKD_TRANSPORT")), "{keys}");
    assert_eq!(lines.iter().filter(|l| l.contains("RETIRED")).count(), 6, "{keys}");
    let active: Vec<&&str> = lines.iter().filter(|l| l.contains("ACTIVE")).collect();
    assert_eq!(active.len(), 1, "{keys}");
    assert!(active[0].contains(&uncollected), "{keys}");
}

#[test]
fn a_multicast_key_reaches_every_slave_once_with_the_same_bytes() {
    let server = Server::start("serve-multicast", &[]);
    let body = r#"{"number": 2, "size": 512, "additional_slave_SAE_IDs": ["sae-carol"]}"#;
    let (code, got) = server.post("sae-alice", "n1", "/api/v1/keys/sae-bob/enc_keys", body);
    assert_eq!(code, 200, "{got}");
    let keys = got["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2);
    for k in &keys {
        // n1-n2 is a direct link, n1-n3 relayed through the hub: the key is as strong as the relay.
        assert_eq!(k["key_extension"]["source"], "relay", "{k}");
        assert_eq!(k["key_extension"]["slave_sources"], json!({"sae-bob": "qkd", "sae-carol": "relay"}), "{k}");
    }
    let ids: Vec<Value> = keys.iter().map(|k| json!({"key_ID": key_id(k)})).collect();
    let collect = |slave: &str, node: &str| {
        server.post(slave, node, "/api/v1/keys/sae-alice/dec_keys", &json!({"key_IDs": ids}).to_string())
    };
    for (slave, node) in [("sae-bob", "n2"), ("sae-carol", "n3")] {
        let (code, got) = collect(slave, node);
        assert_eq!(code, 200, "{slave}: {got}");
        for (c, m) in got["keys"].as_array().unwrap().iter().zip(&keys) {
            assert_eq!(key_id(c), key_id(m));
            assert_eq!(key_bytes(c), key_bytes(m), "{slave} gets the master's bytes");
        }
        // Once per slave: a second collection is refused, whatever the other slave has done.
        let (code, again) = collect(slave, node);
        assert!(code == 400 || code == 401, "{slave} again: {code} {again}");
    }
    // One lifecycle key per slave and key, all collected (RETIRED).
    let keys = server.stop();
    let lines: Vec<&str> = keys.lines().filter(|l| l.contains("etsi014/")).collect();
    assert_eq!(lines.len(), 4, "{keys}");
    assert!(lines.iter().all(|l| l.contains("RETIRED")), "{keys}");
    assert_eq!(lines.iter().filter(|l| l.contains("/sae-carol/relay/")).count(), 2, "{keys}");
}

#[test]
fn every_error_has_its_status_and_a_json_body_with_a_message() {
    // Buffers of 1024 bytes (32 keys of 256 bits): a request for 64 keys is more than any link holds.
    let server = Server::start("serve-errors", &["--set", "mesh.buffer_capacity_bits=8192"]);
    let enc = "/api/v1/keys/sae-bob/enc_keys";
    let (_, issued) = server.get("sae-alice", "n1", &format!("{enc}?number=1"));
    let issued_id = key_id(&issued["keys"][0]);
    // (caller, node, method, path, body, status, message contains)
    type Case<'a> = (&'a str, &'a str, &'a str, String, Option<&'a str>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("sae-alice", "n1", "GET", format!("{enc}?size=100"), None, 400, "multiple of 8"),
        ("sae-alice", "n1", "GET", format!("{enc}?size=32"), None, 400, "min_key_size"),
        ("sae-alice", "n1", "GET", format!("{enc}?size=65544"), None, 400, "max_key_size"),
        ("sae-alice", "n1", "GET", format!("{enc}?number=129"), None, 400, "max_key_per_request"),
        ("sae-alice", "n1", "GET", format!("{enc}?number=0"), None, 400, "number 0"),
        ("sae-alice", "n1", "GET", format!("{enc}?number=two"), None, 400, "integer"),
        ("sae-alice", "n1", "GET", "/api/v1/keys/sae-dave/enc_keys".into(), None, 400, "unknown SAE"),
        ("sae-alice", "n1", "GET", "/api/v1/keys/sae-dave/status".into(), None, 400, "unknown SAE"),
        (
            "sae-alice",
            "n1",
            "POST",
            enc.into(),
            Some(r#"{"extension_mandatory": [{"route": "fast"}]}"#),
            400,
            "extension_mandatory",
        ),
        (
            "sae-alice",
            "n1",
            "POST",
            enc.into(),
            Some(r#"{"additional_slave_SAE_IDs": ["a", "b", "c", "d", "e", "f", "g", "h", "i"]}"#),
            400,
            "max_SAE_ID_count",
        ),
        ("sae-alice", "n1", "POST", enc.into(), Some(r#"{"additional_slave_SAE_IDs": ["sae-bob"]}"#), 400, "twice"),
        (
            "sae-alice",
            "n1",
            "POST",
            enc.into(),
            Some(r#"{"additional_slave_SAE_IDs": ["sae-dave"]}"#),
            400,
            "unknown SAE",
        ),
        (
            "sae-alice",
            "n1",
            "POST",
            enc.into(),
            Some(r#"{"additional_slave_SAE_IDs": ["sae-alice"]}"#),
            400,
            "are the same",
        ),
        ("sae-alice", "n1", "POST", enc.into(), Some("{\"number\": 1,"), 400, "malformed"),
        (
            "sae-bob",
            "n2",
            "GET",
            "/api/v1/keys/sae-alice/dec_keys?key_ID=3fa85f64-5717-4562-b3fc-2c963f66afa6".into(),
            None,
            400,
            "unknown key_ID",
        ),
        ("sae-bob", "n2", "GET", "/api/v1/keys/sae-alice/dec_keys?key_ID=not-a-uuid".into(), None, 400, "not a UUID"),
        ("sae-bob", "n2", "POST", "/api/v1/keys/sae-alice/dec_keys".into(), Some("[]"), 400, "malformed"),
        // 401: a caller at another node's KME; a slave asking for a key not addressed to it;
        // the master asking for its own key as if it were the slave; the operator as an SAE.
        ("sae-alice", "n2", "GET", "/api/v1/keys/sae-bob/status".into(), None, 401, "belongs to the KME of n1"),
        (
            "sae-carol",
            "n3",
            "GET",
            format!("/api/v1/keys/sae-alice/dec_keys?key_ID={issued_id}"),
            None,
            401,
            "not issued",
        ),
        (
            "sae-alice",
            "n1",
            "GET",
            format!("/api/v1/keys/sae-alice/dec_keys?key_ID={issued_id}"),
            None,
            401,
            "not issued",
        ),
        ("operator", "n1", "GET", "/api/v1/keys/sae-bob/status".into(), None, 401, "not an SAE"),
        // 503: more than the link holds.
        ("sae-alice", "n1", "GET", format!("{enc}?number=64"), None, 503, "not enough key"),
    ];
    for (caller, node, method, path, body, status, message) in cases {
        let client = server.client(caller);
        let url = server.url(node, &path);
        let request = if method == "GET" { client.get(url) } else { client.post(url).body(body.unwrap().to_string()) };
        let response = request.send().unwrap();
        let code = response.status().as_u16();
        let text = response.text().unwrap();
        let json: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: body {text:?}"));
        assert_eq!(code, status, "{caller} {method} {path}: {text}");
        let m = json["message"].as_str().unwrap_or_else(|| panic!("{method} {path}: no message in {text}"));
        assert!(m.contains(message), "{method} {path}: {m:?} lacks {message:?}");
        if let Some(details) = json.get("details") {
            assert!(details.as_array().unwrap().iter().all(Value::is_object), "{text}");
        }
    }
    // The refused requests took nothing: the issued key is still collectable, once, by its slave.
    let (code, got) = server.get("sae-bob", "n2", &format!("/api/v1/keys/sae-alice/dec_keys?key_ID={issued_id}"));
    assert_eq!(code, 200, "{got}");
    assert_eq!(key_bytes(&got["keys"][0]), key_bytes(&issued["keys"][0]));
    let (_, status) = server.get("sae-alice", "n1", "/api/v1/keys/sae-bob/status");
    assert_eq!(status["max_key_count"], 32, "a 1024-byte buffer: {status}");
    server.stop();
}

#[test]
fn handshakes_without_a_certificate_or_with_another_cas_are_refused() {
    let server = Server::start("serve-tls", &[]);
    let status = "/api/v1/keys/sae-bob/status";
    // TLS 1.3 (the client's default) and TLS 1.2 both work.
    for tls12_only in [false, true] {
        let client = Server::client_from(&server.pki, &server.pki, Some("sae-alice"), tls12_only);
        let r = client.get(server.url("n1", status)).send().unwrap();
        assert_eq!(r.status().as_u16(), 200, "TLS 1.2 only: {tls12_only}");
    }
    // No client certificate: the handshake fails, no HTTP status ever comes back.
    let bare = Server::client_from(&server.pki, &server.pki, None, false);
    let e = bare.get(server.url("n1", status)).send().unwrap_err();
    assert!(e.status().is_none(), "{e}");
    // A certificate with the right name from another CA: refused in the handshake as well.
    let other = server.dir.join("other-pki");
    pki_init(&other);
    let foreign = Server::client_from(&other, &server.pki, Some("sae-alice"), false);
    let e = foreign.get(server.url("n1", status)).send().unwrap_err();
    assert!(e.status().is_none(), "{e}");
    // The server is unharmed.
    assert_eq!(server.get("sae-alice", "n1", status).0, 200);
    server.stop();
}

#[test]
fn curl_with_client_certificates_fetches_a_key_pair() {
    let server = Server::start("serve-curl", &[]);
    let curl = |sae: &str, url: String| {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--fail-with-body", "--cacert"])
            .arg(server.pki.join("ca.crt"))
            .arg("--cert")
            .arg(server.pki.join(format!("{sae}.crt")))
            .arg("--key")
            .arg(server.pki.join(format!("{sae}.key")))
            .arg(url)
            .output()
            .expect("curl is installed (the README's example uses it)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let master = curl("sae-alice", server.url("n1", "/api/v1/keys/sae-bob/enc_keys?number=1&size=256"));
    let id = key_id(&master["keys"][0]);
    let slave = curl("sae-bob", server.url("n2", &format!("/api/v1/keys/sae-alice/dec_keys?key_ID={id}")));
    assert_eq!(key_bytes(&slave["keys"][0]), key_bytes(&master["keys"][0]));
    assert_eq!(key_bytes(&master["keys"][0]).len(), 32);
    server.stop();
}

#[test]
fn two_runs_with_the_same_seed_serve_different_bytes() {
    let fetch = |tag: &str| {
        let server = Server::start(tag, &["--seed", "7"]);
        let (code, got) = server.get("sae-alice", "n1", "/api/v1/keys/sae-bob/enc_keys?number=4");
        assert_eq!(code, 200, "{got}");
        let bytes: Vec<Vec<u8>> = got["keys"].as_array().unwrap().iter().map(key_bytes).collect();
        server.stop();
        bytes
    };
    let (first, second) = (fetch("serve-seed-a"), fetch("serve-seed-b"));
    // 4 × 256 bits from the OS: equal keys would mean the seed (or nothing random) made them.
    for a in &first {
        assert!(!second.contains(a), "a key byte string repeated across runs of one seed");
    }
    assert!(first.iter().all(|k| k.len() == 32 && k.iter().any(|&b| b != k[0])));
}

#[test]
fn the_metrics_listener_counts_keys_by_source_and_requests_by_kind() {
    let server = Server::start("serve-metrics", &[]);
    let (code, direct) = server.get("sae-alice", "n1", "/api/v1/keys/sae-bob/enc_keys?number=3");
    assert_eq!(code, 200, "{direct}");
    let (code, relayed) = server.get("sae-alice", "n1", "/api/v1/keys/sae-carol/enc_keys");
    assert_eq!(code, 200, "{relayed}");
    let id = key_id(&relayed["keys"][0]);
    let (code, _) = server.get("sae-carol", "n3", &format!("/api/v1/keys/sae-alice/dec_keys?key_ID={id}"));
    assert_eq!(code, 200);
    let (code, _) = server.get("sae-alice", "n1", "/api/v1/keys/sae-bob/enc_keys?size=7");
    assert_eq!(code, 400);
    let text = server.scrape();
    for line in [
        "qecnet_serve_keys_delivered_total{source=\"qkd\"} 3",
        "qecnet_serve_keys_delivered_total{source=\"relay\"} 1",
        "qecnet_serve_keys_collected_total{source=\"relay\"} 1",
        "qecnet_serve_keys_outstanding 3",
        "qecnet_serve_request_seconds_count{kind=\"enc_keys\",status=\"200\"} 2",
        "qecnet_serve_request_seconds_count{kind=\"enc_keys\",status=\"400\"} 1",
        "qecnet_serve_request_seconds_count{kind=\"dec_keys\",status=\"200\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} missing from\n{text}");
    }
    // Every QKD link's buffer is reported; no line carries a key ID.
    assert!(text.contains("qecnet_serve_link_buffer_bits{link=\"n1-n2\"}"), "{text}");
    assert!(!text.contains(&id), "a key ID leaked into the metrics");
    let r = reqwest::blocking::get(format!("http://{}/other", server.metrics)).unwrap();
    assert_eq!(r.status().as_u16(), 404);
    server.stop();
}
