//! Load on `qecnet serve`: the KMEs of sims/serve-default.toml served in this process, and C
//! concurrent SAE connections (mutual TLS, keep-alive, reqwest over rustls) asking Get key
//! for K keys of 256 bits in a loop for S seconds. Prints keys delivered per second (each
//! recorded durably in the lifecycle store and its audit chain before its answer) and the
//! request latency percentiles. The clients run on the same cores as the server, so the
//! figures are a lower bound for the server alone.
//!
//! Closed loop (the default): each connection sends its next request when the last is
//! answered, so the figures are the most the server gives, and the latency follows from
//! Little's law (connections / requests per second). Open loop (`RATE` keys/s in all): each
//! connection sends on a fixed schedule, and a request's latency counts from its scheduled
//! time, so a server that falls behind is charged for the wait (no coordinated omission).
//!
//!   cargo run --release --example serve_load -- [CONNECTIONS] [KEYS_PER_REQUEST] [SECONDS] [group|per-request] [RATE]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use qecnet::mesh::MeshScenario;
use qecnet::serve::{KmeLimits, MAX_GROUP, SaeDirectory, ServeOptions, init_pki, serve};

/// (master, its node, slave): the direct pair both ways and the relayed pair.
const PAIRS: [(&str, &str, &str); 3] =
    [("sae-alice", "n1", "sae-bob"), ("sae-bob", "n2", "sae-alice"), ("sae-alice", "n1", "sae-carol")];

fn client(pki: &Path, sae: &str) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(pki.join("ca.crt")).unwrap()).unwrap();
    let mut pem = std::fs::read(pki.join(format!("{sae}.crt"))).unwrap();
    pem.extend(std::fs::read(pki.join(format!("{sae}.key"))).unwrap());
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .identity(reqwest::Identity::from_pem(&pem).unwrap())
        .pool_max_idle_per_host(1)
        .build()
        .unwrap()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let connections: usize = args.first().map_or(64, |a| a.parse().expect("CONNECTIONS"));
    let per_request: usize = args.get(1).map_or(1, |a| a.parse().expect("KEYS_PER_REQUEST"));
    let seconds: f64 = args.get(2).map_or(10.0, |a| a.parse().expect("SECONDS"));
    let group = args.get(3).is_none_or(|a| a == "group");
    let rate: Option<f64> = args.get(4).map(|a| a.parse().expect("RATE (keys/s)"));
    // Open loop: each connection's requests are this far apart.
    let interval = rate.map(|r| Duration::from_secs_f64(connections as f64 * per_request as f64 / r));

    let dir = std::env::temp_dir().join(format!("qecnet-serve-load-{}", std::process::id()));
    std::fs::create_dir(&dir).expect("a new temporary folder");
    let text = std::fs::read_to_string("sims/serve-default.toml").expect("run from the repository root");
    let mut scenario: MeshScenario = toml::from_str(&text).unwrap();
    // Load on the live mesh without its Eve episode (fallback keys cost a hybrid exchange each),
    // fast enough and with buffers large enough that key production never limits the load.
    scenario.event.clear();
    scenario.mesh.buffer_capacity_bits = 1 << 34;
    let directory = SaeDirectory::from_scenario(&scenario).unwrap();
    let pki = dir.join("pki");
    init_pki(&pki, directory.nodes(), &directory.sae_ids()).unwrap();
    let ready = dir.join("ready.json");
    let options = ServeOptions {
        pki: pki.clone(),
        db: dir.join("store.db"),
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: "127.0.0.1:0".parse().unwrap(),
        ready_file: Some(ready.clone()),
        duration: Some(Duration::from_secs_f64(seconds + 5.0)),
        speed: 1000.0,
        limits: KmeLimits::default(),
        // No key expires during the run (at speed 1000 an hour passes in 3.6 s): the figures are
        // for delivery alone, not for erasing the keys no slave collects here.
        key_lifetime: Duration::from_secs(10_000 * 3600),
        max_group: if group { MAX_GROUP } else { 1 },
    };
    let server = std::thread::spawn(move || serve(&scenario, &options).unwrap());
    let kmes: serde_json::Value = loop {
        if let Ok(t) = std::fs::read_to_string(&ready)
            && t.ends_with('\n')
        {
            break serde_json::from_str(&t).unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Two wall seconds are 2,000 simulated seconds: the links' buffers fill first.
    std::thread::sleep(Duration::from_secs(2));

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // Every connection makes its TLS handshake (and a first request) before the clock starts:
    // the figures are for 64 established connections, not for 64 handshakes at once.
    let ready = Arc::new(tokio::sync::Barrier::new(connections + 1));
    let (started, latencies): (Instant, Vec<Vec<f64>>) = runtime.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..connections {
            let (master, node, slave) = PAIRS[c % PAIRS.len()];
            let url = format!(
                "https://{}/api/v1/keys/{slave}/enc_keys?number={per_request}",
                kmes["kmes"][node].as_str().unwrap()
            );
            let http = client(&pki, master);
            let (stop, ready) = (stop.clone(), ready.clone());
            tasks.push(tokio::spawn(async move {
                let warm_up = http.get(&url).send().await.unwrap();
                assert_eq!(warm_up.status().as_u16(), 200, "{}", warm_up.text().await.unwrap());
                warm_up.bytes().await.unwrap();
                ready.wait().await;
                let mut seen = Vec::new();
                // Open loop: the connections' schedules are spread evenly over one interval.
                let mut due = interval.map(|i| tokio::time::Instant::now() + i.mul_f64(c as f64 / connections as f64));
                while !stop.load(Ordering::Relaxed) {
                    let t = match (&mut due, interval) {
                        (Some(due), Some(interval)) => {
                            tokio::time::sleep_until(*due).await;
                            let scheduled = due.into_std();
                            *due += interval;
                            scheduled
                        }
                        _ => Instant::now(),
                    };
                    let r = http.get(&url).send().await.unwrap();
                    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
                    r.bytes().await.unwrap();
                    seen.push(t.elapsed().as_secs_f64());
                }
                seen
            }));
        }
        ready.wait().await;
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        (started, out)
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut all: Vec<f64> = latencies.into_iter().flatten().collect();
    all.sort_by(f64::total_cmp);
    let requests = all.len();
    let keys = requests * per_request;
    println!(
        "{connections} connections, {per_request} keys/request, {}, {}: {requests} requests, {keys} keys in \
         {elapsed:.1} s = {:.0} keys/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        if group { "group commit" } else { "one commit per request" },
        rate.map_or("closed loop".to_string(), |r| format!("open loop at {r:.0} keys/s")),
        keys as f64 / elapsed,
        1e3 * percentile(&all, 0.5),
        1e3 * percentile(&all, 0.99),
        1e3 * all.last().copied().unwrap_or(0.0),
    );
    let report = server.join().unwrap();
    println!("store: {} audit records", report.audit_records);
    std::fs::remove_dir_all(&dir).unwrap();
}
