//! Running the KMEs: one HTTPS listener per node of the mesh (hub included) on loopback,
//! each connection's client certificate checked in the handshake and mapped to its SAE, the
//! requests parsed ([`super::api::parse_request`]) and answered ([`super::kme::Kmes`]), the
//! keys recorded through the group-committing store writer ([`super::store`]). Once every
//! listener is bound the ready file is written; SIGINT, SIGTERM or the end of `--duration`
//! stop the accepting, let in-flight requests finish (up to [`DRAIN_TIMEOUT`]), commit and
//! sign a checkpoint. A key its slave has not collected within the key lifetime expires.
//! An existing store is resumed: its uncollected keys are served again, and the live mesh
//! goes on from the physics its last commit saved.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::api::{ApiError, ApiRequest, MAX_BODY_BYTES, parse_request};
use super::clock::ServeClock;
use super::directory::OPERATOR;
use super::directory::SaeDirectory;
use super::error::ServeError;
use super::issued::{CHANNEL_PREFIX, IssuedKeys};
use super::kme::{KmeLimits, Kmes};
use super::store::{KeyStore, MESH_SNAPSHOT, Pacing, start_writer};
use super::tls::{identity, server_config};
use crate::crypto::SecretBytes;
use crate::lifecycle::{
    Clock, Engine, EngineConfig, KeyState, MASTER_KEY_ENV, ManualClock, WallClock, load_master_key,
};
use crate::mesh::{MeshScenario, MeshSnapshot};
use crate::units::{InvalidParameter, SimDuration, SimTime};

/// How often the served store's write-ahead log is folded into its file, off the commit path.
const WAL_CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);
/// The served store's page cache, KiB (2 MiB, SQLite's default; the store opens with 64).
const SERVE_PAGE_CACHE_KIB: u32 = 2048;

/// How long in-flight requests may take to finish after a stop signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a collected key's material stays in the store (then it is destroyed).
pub const SERVED_KEY_RETENTION: SimDuration = SimDuration::from_secs(60);
/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of a served mesh.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The PKI directory of `qecnet pki init`.
    pub pki: PathBuf,
    /// The lifecycle store: created if absent; if present, resumed (its master key must be in
    /// `QECNET_MASTER_KEY`), its uncollected keys served again.
    pub db: PathBuf,
    /// Address of the first KME; port 0 gives every KME a free port, port P gives the i-th
    /// KME (hub first) port P + i.
    pub listen: SocketAddr,
    /// Address of the metrics listener (plain HTTP, `GET /metrics`; port 0: a free port).
    pub metrics_listen: SocketAddr,
    /// Where to write `{"kmes": {...}, "metrics": "ADDR"}` once all listen (refused if it exists).
    pub ready_file: Option<PathBuf>,
    /// Stop after this much wall-clock time (else on SIGINT/SIGTERM only).
    pub duration: Option<Duration>,
    /// Simulated seconds of the live mesh per wall-clock second.
    pub speed: f64,
    /// The KMEs' limits.
    pub limits: KmeLimits,
    /// How long (simulated time) a key waits for its slave before it expires (its material
    /// erased).
    pub key_lifetime: Duration,
    /// Requests recorded in one commit at most (1: one commit, so one fsync, per request).
    pub max_group: usize,
}

/// What a served run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeReport {
    /// Each KME's address.
    pub kmes: BTreeMap<String, SocketAddr>,
    /// The metrics listener's address.
    pub metrics: SocketAddr,
    /// Audit records in the store at the end.
    pub audit_records: u64,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> ServeError + '_ {
    move |e| ServeError::File(crate::atomic_file::FileError::new(path, e))
}

/// Serves `scenario` until a stop signal or the end of `options.duration`.
pub fn serve(scenario: &MeshScenario, options: &ServeOptions) -> Result<ServeReport, ServeError> {
    let directory = SaeDirectory::from_scenario(scenario)?;
    if let Some(ready) = &options.ready_file
        && ready.symlink_metadata().is_ok()
    {
        return Err(io_err(ready)(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "the ready file exists; serve writes a new one",
        )));
    }
    // TLS before the store, so a bad PKI leaves no store behind.
    let mut tls = Vec::new();
    for node in directory.nodes() {
        tls.push((node.clone(), server_config(&options.pki, node)?));
    }
    // Listeners next, still before the store: a port in use leaves nothing behind either.
    let mut bound = Vec::new();
    for (i, (node, config)) in tls.into_iter().enumerate() {
        let mut addr = options.listen;
        if addr.port() != 0 {
            let port = addr.port().checked_add(i as u16).ok_or_else(|| ServeError::Listen {
                addr: addr.to_string(),
                source: std::io::Error::other("port out of range"),
            })?;
            addr.set_port(port);
        }
        let listen_err = |source| ServeError::Listen { addr: addr.to_string(), source };
        let listener = std::net::TcpListener::bind(addr).map_err(listen_err)?;
        listener.set_nonblocking(true).map_err(listen_err)?;
        bound.push((node, listener, config));
    }
    let metrics_err = |source| ServeError::Listen { addr: options.metrics_listen.to_string(), source };
    let metrics_listener = std::net::TcpListener::bind(options.metrics_listen).map_err(metrics_err)?;
    metrics_listener.set_nonblocking(true).map_err(metrics_err)?;
    let mut rng = ChaCha20Rng::try_from_rng(&mut rand::rngs::SysRng)
        .map_err(|e| io_err(Path::new("<operating-system entropy>"))(std::io::Error::other(e.to_string())))?;
    let resuming = options.db.symlink_metadata().is_ok();
    let master = match std::env::var_os(MASTER_KEY_ENV) {
        Some(_) => load_master_key(None)?,
        None if resuming => {
            return Err(ServeError::Invalid(InvalidParameter::new(
                "--db",
                options.db.display(),
                format!("exists; resuming it needs {MASTER_KEY_ENV}, the master key it was created with"),
            )));
        }
        None => SecretBytes::random(32, "master", &mut rng)
            .map_err(|e| crate::lifecycle::LifecycleError::Input(e.to_string()))?,
    };
    // Collected keys are erased a minute after collection (a served key has no later use).
    let config = EngineConfig {
        actor: "kme".into(),
        retention: SERVED_KEY_RETENTION,
        overlap: SimDuration::from_secs_f64(scenario.mesh.overlap_s),
        ..EngineConfig::default()
    };
    let clock = ServeClock::new(WallClock.now(), ManualClock::new(SimTime(0)));
    let mut engine = if resuming {
        Engine::open(&options.db, &master, config, Box::new(clock.clone()))?
    } else {
        Engine::create(&options.db, &master, config, Box::new(clock.clone()), &mut rng)?
    };
    let snapshot = if resuming { resume_store(&mut engine, &clock, scenario)? } else { None };
    // Hundreds of small commits a second: each one's page-cache truncation costs in
    // proportion to the pages cached (see `Engine::limit_page_cache`).
    engine.limit_page_cache(SERVE_PAGE_CACHE_KIB)?;
    // A request's commit never carries a WAL checkpoint (8–25 ms of copying and fsync).
    engine.checkpoint_in_background(WAL_CHECKPOINT_EVERY)?;
    let issued = IssuedKeys::resume_records(&engine.outstanding_deliveries(CHANNEL_PREFIX)?)
        .map_err(crate::lifecycle::LifecycleError::Input)?;
    let pacing = Pacing { speed: options.speed };
    let (store, writer, supply) = start_writer(
        Arc::new(scenario.clone()),
        engine,
        clock.sim().clone(),
        snapshot,
        rng,
        options.max_group,
        pacing,
    )?;
    let kmes = Arc::new(Kmes::new(directory, supply, store, options.limits, issued, clock));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io_err(Path::new("<tokio runtime>")))?;
    let served = runtime.block_on(run(kmes.clone(), bound, metrics_listener, options));
    runtime.shutdown_timeout(DRAIN_TIMEOUT);
    drop(kmes);
    let audit_records = writer.finish()?;
    let (kmes, metrics) = served?;
    Ok(ServeReport { kmes, metrics, audit_records })
}

/// Prepares a resumed store for its live mesh: the mesh goes on from the snapshot the last
/// commit saved ([`MESH_SNAPSHOT`]; a store without one starts the mesh at simulated time 0),
/// which must be of `scenario`; the clock reads after the store's last record; and the
/// previous run's mesh keys still live (identity, session and group keys) are revoked, since
/// the mesh issues new ones; the delivered keys waiting for their slaves stay. Nothing is
/// written when the snapshot is refused.
fn resume_store(
    engine: &mut Engine,
    clock: &ServeClock,
    scenario: &MeshScenario,
) -> Result<Option<MeshSnapshot>, ServeError> {
    let snapshot: Option<MeshSnapshot> = match engine.driver_state(MESH_SNAPSHOT)? {
        Some(json) => Some(serde_json::from_slice(&json).map_err(|e| {
            crate::lifecycle::LifecycleError::Corrupt(format!("the live mesh's snapshot ({MESH_SNAPSHOT}): {e}"))
        })?),
        None => None,
    };
    if let Some(s) = &snapshot {
        s.check_scenario(scenario)?;
    }
    let keys = engine.keys(None)?;
    let last = keys.iter().map(|k| k.state_changed).max().unwrap_or(SimTime(0));
    clock.resume_at(snapshot.as_ref().map_or(SimTime(0), MeshSnapshot::time), last);
    let live = [KeyState::Generated, KeyState::Distributed, KeyState::Active, KeyState::Rotating];
    engine.begin_batch()?;
    for k in keys.iter().filter(|k| !k.channel.starts_with(CHANNEL_PREFIX) && live.contains(&k.state)) {
        engine.revoke(k.id, "serve restarted: the live mesh issues new keys")?;
    }
    engine.commit_batch()?;
    Ok(snapshot)
}

async fn run(
    kmes: Arc<Kmes>,
    bound: Vec<(String, std::net::TcpListener, Arc<rustls::ServerConfig>)>,
    metrics_listener: std::net::TcpListener,
    options: &ServeOptions,
) -> Result<(BTreeMap<String, SocketAddr>, SocketAddr), ServeError> {
    let mut listeners = Vec::new();
    let mut addrs = BTreeMap::new();
    for (node, listener, config) in bound {
        let local = listener.local_addr().map_err(|source| ServeError::Listen { addr: node.clone(), source })?;
        let listener =
            TcpListener::from_std(listener).map_err(|source| ServeError::Listen { addr: local.to_string(), source })?;
        addrs.insert(node.clone(), local);
        listeners.push((node, listener, TlsAcceptor::from(config)));
    }
    let metrics_addr =
        metrics_listener.local_addr().map_err(|source| ServeError::Listen { addr: "metrics".into(), source })?;
    let metrics_listener = TcpListener::from_std(metrics_listener)
        .map_err(|source| ServeError::Listen { addr: metrics_addr.to_string(), source })?;
    if let Some(ready) = &options.ready_file {
        let kmes_json: serde_json::Map<String, serde_json::Value> =
            addrs.iter().map(|(n, a)| (n.clone(), serde_json::Value::String(a.to_string()))).collect();
        let text = serde_json::json!({ "kmes": kmes_json, "metrics": metrics_addr.to_string() }).to_string() + "\n";
        crate::atomic_file::write_text_atomically(ready, &text)?;
    }

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let graceful = Arc::new(hyper_util::server::graceful::GracefulShutdown::new());
    let mut accepting = Vec::new();
    for (node, listener, acceptor) in listeners {
        let mut stop = stop_rx.clone();
        let kmes = kmes.clone();
        let graceful = graceful.clone();
        accepting.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    accepted = listener.accept() => {
                        let Ok((tcp, _)) = accepted else { continue };
                        let _ = tcp.set_nodelay(true);
                        tokio::spawn(connection(tcp, acceptor.clone(), kmes.clone(), node.clone(), graceful.watcher()));
                    }
                }
            }
        }));
    }
    let scraping = {
        let (kmes, mut stop, graceful) = (kmes.clone(), stop_rx.clone(), graceful.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    accepted = metrics_listener.accept() => {
                        let Ok((tcp, _)) = accepted else { continue };
                        tokio::spawn(metrics_connection(tcp, kmes.clone(), graceful.watcher()));
                    }
                }
            }
        })
    };
    let expiring = {
        let (kmes, mut stop) = (kmes.clone(), stop_rx.clone());
        let lifetime = SimDuration(u64::try_from(options.key_lifetime.as_nanos()).unwrap_or(u64::MAX));
        // A quarter of the lifetime in wall-clock time, within 10 ms..1 s.
        let every = Duration::from_secs_f64(options.key_lifetime.as_secs_f64() / options.speed / 4.0)
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        tokio::spawn(async move {
            let mut timer = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = timer.tick() => {
                        // A failed expiry or revocation leaves its keys waiting; the next tick
                        // tries again.
                        let _ = kmes.expire(lifetime).await;
                        let _ = kmes.revoke_isolated().await;
                    }
                }
            }
        })
    };
    wait_for_stop(options.duration, kmes.store()).await;
    let _ = stop_tx.send(true);
    for task in accepting.into_iter().chain([scraping, expiring]) {
        let _ = task.await;
    }
    // Every accepting task has ended, so this is the last handle.
    if let Ok(graceful) = Arc::try_unwrap(graceful) {
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
    }
    Ok((addrs, metrics_addr))
}

/// Until SIGINT, SIGTERM, the end of `duration`, or the store writer's end (a failed live
/// mesh: the run then stops with its error instead of answering 503 until a signal).
async fn wait_for_stop(duration: Option<Duration>, store: &KeyStore) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return;
    };
    let timer = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
        _ = timer => {}
        _ = store.stopped() => {}
    }
}

/// One TLS connection: the handshake (a missing or foreign client certificate ends it
/// there), the caller's identity, then HTTP/1.1 requests until it closes.
async fn connection(
    tcp: tokio::net::TcpStream,
    acceptor: TlsAcceptor,
    kmes: Arc<Kmes>,
    node: String,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await else { return };
    let caller = {
        let (_, session) = stream.get_ref();
        let ids = kmes.directory().sae_ids();
        session
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(|leaf| identity(leaf, ids.iter().map(String::as_str).chain([OPERATOR])).map(str::to_string))
    };
    let caller = Arc::new(caller);
    let node = Arc::new(node);
    let service = hyper::service::service_fn(move |request| {
        let (kmes, node, caller) = (kmes.clone(), node.clone(), caller.clone());
        async move { Ok::<_, std::convert::Infallible>(answer(&kmes, &node, caller.as_deref(), request).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    let _ = watcher.watch(conn).await;
}

/// One plain-HTTP connection to the metrics listener: `GET /metrics` gets the OpenMetrics
/// text, anything else 404.
async fn metrics_connection(
    tcp: tokio::net::TcpStream,
    kmes: Arc<Kmes>,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let kmes = kmes.clone();
        async move {
            let response = if request.method() == hyper::Method::GET && request.uri().path() == "/metrics" {
                let mut r = Response::new(Full::new(Bytes::from(kmes.metrics_text())));
                r.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                );
                r
            } else {
                let mut r = Response::new(Full::new(Bytes::from_static(b"only GET /metrics is served here\n")));
                *r.status_mut() = StatusCode::NOT_FOUND;
                r
            };
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service);
    let _ = watcher.watch(conn).await;
}

/// One HTTP request to its response.
async fn answer(kmes: &Kmes, node: &str, caller: Option<&str>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let mut kind = "other";
    let result = async {
        let caller =
            caller.ok_or_else(|| ApiError::unauthorized("the client certificate names no SAE of this mesh"))?;
        let method = request.method().as_str().to_string();
        let path = request.uri().path().to_string();
        let query = request.uri().query().map(str::to_string);
        let body = Limited::new(request.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|_| ApiError::bad_request(format!("request body unreadable or over {MAX_BODY_BYTES} bytes")))?
            .to_bytes();
        let parsed = parse_request(&method, &path, query.as_deref(), &body)?;
        kind = match parsed {
            ApiRequest::Status { .. } => "status",
            ApiRequest::EncKeys { .. } => "enc_keys",
            ApiRequest::DecKeys { .. } => "dec_keys",
            ApiRequest::Event(_) => "event",
        };
        kmes.handle(node, caller, parsed).await
    }
    .await;
    let (status, body) = match result {
        // The body owns its buffer, which erases itself once the response is written.
        Ok(json) => (StatusCode::OK, Bytes::from_owner(json)),
        Err(e) => (StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST), Bytes::from(e.body())),
    };
    kmes.metrics().request(kind, status.as_u16(), started.elapsed().as_secs_f64());
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    response
}
