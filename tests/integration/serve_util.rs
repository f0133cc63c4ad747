//! The harness of the `qecnet serve` tests: the built binary serving sims/serve-default.toml
//! on loopback (a fresh PKI and store, or a given store to resume), its ready file read, and
//! real HTTPS clients (reqwest over rustls) presenting an SAE's client certificate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use crate::util::{OutputText, TempDir, qecnet, qecnet_command};

/// A running `qecnet serve` with its PKI and store.
pub(crate) struct Server {
    child: Option<Child>,
    /// Each KME's address, from the ready file.
    pub(crate) kmes: BTreeMap<String, String>,
    /// The metrics listener's address.
    pub(crate) metrics: String,
    pub(crate) pki: PathBuf,
    pub(crate) db: PathBuf,
    /// The folder of the PKI and store.
    pub(crate) dir: PathBuf,
    _owned: Option<TempDir>,
}

/// `qecnet pki init` for sims/serve-default.toml into `pki`.
pub(crate) fn pki_init(pki: &Path) {
    let out = qecnet(&["pki", "init", pki.to_str().unwrap(), "--scenario", "sims/serve-default.toml"]);
    assert_eq!(out.code(), 0, "{}", out.text());
}

impl Server {
    /// A new PKI and store in a new temporary folder, served with `extra` arguments.
    pub(crate) fn start(tag: &str, extra: &[&str]) -> Server {
        Server::start_scenario(tag, Path::new("sims/serve-default.toml"), extra)
    }

    /// [`Server::start`] of another `scenario` with the SAEs of sims/serve-default.toml.
    pub(crate) fn start_scenario(tag: &str, scenario: &Path, extra: &[&str]) -> Server {
        let dir = TempDir::new(tag);
        let pki = dir.join("pki");
        pki_init(&pki);
        let (db, ready) = (dir.join("store.db"), dir.join("ready.json"));
        let path = dir.to_path_buf();
        let server = Server::launch(scenario, &pki, &db, &ready, extra, &[], Some(dir), &path);
        server.wait_for_key("sae-alice", "n1", "sae-bob");
        server.wait_for_key("sae-alice", "n1", "sae-carol");
        server
    }

    /// Waits (up to 60 s) until the KME of `node` holds key from `master` to `slave`: the live
    /// mesh's links fill their buffers in their first monitoring window.
    pub(crate) fn wait_for_key(&self, master: &str, node: &str, slave: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (code, status) = self.get(master, node, &format!("/api/v1/keys/{slave}/status"));
            assert_eq!(code, 200, "{status}");
            if status["stored_key_count"].as_u64().is_some_and(|n| n > 0) {
                return;
            }
            assert!(Instant::now() < deadline, "no key from {master} to {slave} after 60 s: {status}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `qecnet serve` of `scenario` on the PKI `pki` and the store `db` (created or resumed) in `dir`, its
    /// ready file at `ready` (which must not exist), with `extra` arguments and environment
    /// `env`; returns once every KME listens. The mesh runs at `--speed 10` unless `extra` says
    /// otherwise.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn launch(
        scenario: &Path,
        pki: &Path,
        db: &Path,
        ready: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
        owned: Option<TempDir>,
        dir: &Path,
    ) -> Server {
        let child = qecnet_command()
            .args(["serve", scenario.to_str().unwrap(), "--pki", pki.to_str().unwrap(), "--db", db.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0", "--ready-file", ready.to_str().unwrap(), "--duration", "300s"])
            .args(if extra.contains(&"--speed") { &[][..] } else { &["--speed", "10"][..] })
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut server = Server {
            child: Some(child),
            kmes: BTreeMap::new(),
            metrics: String::new(),
            pki: pki.to_path_buf(),
            db: db.to_path_buf(),
            dir: dir.to_path_buf(),
            _owned: owned,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let text = loop {
            if let Ok(text) = std::fs::read_to_string(ready)
                && text.ends_with('\n')
            {
                break text;
            }
            if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("qecnet serve exited early ({status}): {}", server.finish_output().text());
            }
            assert!(Instant::now() < deadline, "no ready file after 60 s");
            std::thread::sleep(Duration::from_millis(5));
        };
        let ready: Value = serde_json::from_str(&text).unwrap();
        server.metrics = ready["metrics"].as_str().unwrap_or_else(|| panic!("no metrics address: {text}")).to_string();
        for (node, addr) in ready["kmes"].as_object().unwrap() {
            server.kmes.insert(node.clone(), addr.as_str().unwrap().to_string());
        }
        assert_eq!(server.kmes.keys().collect::<Vec<_>>(), ["hub", "n1", "n2", "n3"]);
        server
    }

    /// The metrics scrape: the OpenMetrics text of `GET /metrics` (plain HTTP).
    pub(crate) fn scrape(&self) -> String {
        let r = reqwest::blocking::get(format!("http://{}/metrics", self.metrics)).unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.text().unwrap()
    }

    /// The server's process ID.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGKILL (unless it was sent already): the server dies at once, wherever it is.
    pub(crate) fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        let _ = child.kill();
        child.wait().unwrap();
    }

    pub(crate) fn url(&self, node: &str, path: &str) -> String {
        format!("https://{}{path}", self.kmes[node])
    }

    /// A client presenting `identity` (a certificate name in `pki`) and trusting `pki`'s CA.
    pub(crate) fn client_from(
        pki: &Path,
        trust: &Path,
        identity: Option<&str>,
        tls12_only: bool,
    ) -> reqwest::blocking::Client {
        let ca = reqwest::Certificate::from_pem(&std::fs::read(trust.join("ca.crt")).unwrap()).unwrap();
        let mut builder = reqwest::blocking::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .timeout(Duration::from_secs(30));
        if let Some(name) = identity {
            let mut pem = std::fs::read(pki.join(format!("{name}.crt"))).unwrap();
            pem.extend(std::fs::read(pki.join(format!("{name}.key"))).unwrap());
            builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
        }
        if tls12_only {
            builder = builder.max_tls_version(reqwest::tls::Version::TLS_1_2);
        }
        builder.build().unwrap()
    }

    pub(crate) fn client(&self, sae: &str) -> reqwest::blocking::Client {
        Server::client_from(&self.pki, &self.pki, Some(sae), false)
    }

    /// GET as `sae` at the KME of `node`: status and JSON body.
    pub(crate) fn get(&self, sae: &str, node: &str, path: &str) -> (u16, Value) {
        let r = self.client(sae).get(self.url(node, path)).send().unwrap();
        (r.status().as_u16(), r.json().unwrap())
    }

    /// POST `body` as `sae` at the KME of `node`.
    pub(crate) fn post(&self, sae: &str, node: &str, path: &str, body: &str) -> (u16, Value) {
        let r = self
            .client(sae)
            .post(self.url(node, path))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap())
    }

    pub(crate) fn finish_output(&mut self) -> std::process::Output {
        self.child.take().unwrap().wait_with_output().unwrap()
    }

    /// SIGTERM, then: exit 0 and a store whose audit chain verifies.
    pub(crate) fn stop(mut self) -> String {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let out = self.finish_output();
        assert_eq!(out.code(), 0, "{}", out.text());
        let verify = qecnet(&["audit", "verify", self.db.to_str().unwrap()]);
        assert_eq!(verify.code(), 0, "{}", verify.text());
        let keys = qecnet(&["keys", "list", self.db.to_str().unwrap()]);
        assert_eq!(keys.code(), 0, "{}", keys.text());
        keys.stdout_text()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub(crate) fn key_bytes(entry: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(entry["key"].as_str().unwrap()).unwrap()
}

pub(crate) fn key_id(entry: &Value) -> String {
    entry["key_ID"].as_str().unwrap().to_string()
}
