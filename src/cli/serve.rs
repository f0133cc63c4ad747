//! `qecnet serve SCENARIO --pki DIR --db FILE`: an ETSI GS QKD 014 KME at every node of the
//! scenario's mesh, over mutual TLS on loopback (see [`crate::serve`] and docs/serve.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::Result;
use crate::mesh::MeshScenario;
use crate::serve::{KmeLimits, ServeOptions, serve};
use crate::units::{InvalidParameter, parse_duration_s};

/// Arguments of `qecnet serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The mesh scenario with its [[sae]] tables (e.g. sims/serve-default.toml).
    pub scenario: PathBuf,
    /// The PKI directory written by `qecnet pki init`.
    #[arg(long, value_name = "DIR")]
    pub pki: PathBuf,
    /// The lifecycle store: created if absent; resumed if it exists (set QECNET_MASTER_KEY to
    /// the master key it was created with), its uncollected keys served again and its live
    /// mesh going on from the physics of its last commit.
    #[arg(long, value_name = "FILE")]
    pub db: PathBuf,
    /// Address of the KMEs: port 0 gives each a free port; port P gives the hub P, the
    /// nodes P+1, P+2... in file order.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Address of the Prometheus metrics listener (plain HTTP, `GET /metrics`); port 0 picks one.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub metrics_listen: SocketAddr,
    /// Write `{"kmes": {"<node>": "ADDR", ...}, "metrics": "ADDR"}` here once all listen.
    #[arg(long, value_name = "FILE")]
    pub ready_file: Option<PathBuf>,
    /// Stop after this much wall-clock time (e.g. 30s, 10m); default: on SIGINT/SIGTERM.
    #[arg(long, value_parser = parse_duration_s)]
    pub duration: Option<f64>,
    /// Seed of the physics (it never reaches a key byte).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override any scenario field, e.g. `--set mesh.window=5s`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Simulated seconds of the mesh per wall-clock second (0.001..=100000).
    #[arg(long, default_value_t = 1.0, value_name = "F")]
    pub speed: f64,
    /// How long (simulated time) a key waits for its slave SAE before it expires and is
    /// erased (e.g. 90s, 1h).
    #[arg(long, default_value = "1h", value_parser = parse_duration_s, value_name = "DURATION")]
    pub key_lifetime: f64,
    /// Record each request in a commit of its own (one fsync per request) instead of group
    /// commit; for measuring what group commit saves.
    #[arg(long)]
    pub commit_per_request: bool,
}

/// Runs `qecnet serve`.
pub fn run(args: &ServeArgs) -> Result<()> {
    let mut overrides = crate::cli::Overrides::new(&args.set);
    overrides.flag("--seed", "mesh.seed", args.seed.map(|s| s.to_string()));
    let scenario: MeshScenario = overrides.load(Some(&args.scenario))?;
    scenario.validate().map_err(|e| overrides.name(e))?;
    if !(args.speed.is_finite() && (0.001..=1e5).contains(&args.speed)) {
        return Err(InvalidParameter::new("--speed", args.speed, "must be in [0.001, 100000]").into());
    }
    let duration = match args.duration {
        Some(d) if !(d.is_finite() && d > 0.0 && d <= 1e9) => {
            return Err(InvalidParameter::new("--duration", d, "must be in (0, 1e9] seconds").into());
        }
        d => d.map(Duration::from_secs_f64),
    };
    if !(args.key_lifetime.is_finite() && args.key_lifetime >= 0.001 && args.key_lifetime <= 1e9) {
        return Err(
            InvalidParameter::new("--key-lifetime", args.key_lifetime, "must be in [0.001, 1e9] seconds").into()
        );
    }
    let options = ServeOptions {
        pki: args.pki.clone(),
        db: args.db.clone(),
        listen: args.listen,
        metrics_listen: args.metrics_listen,
        ready_file: args.ready_file.clone(),
        duration,
        speed: args.speed,
        limits: KmeLimits::default(),
        key_lifetime: Duration::from_secs_f64(args.key_lifetime),
        max_group: if args.commit_per_request { 1 } else { crate::serve::MAX_GROUP },
    };
    let report = serve(&scenario, &options)?;
    let kmes: Vec<String> = report.kmes.iter().map(|(n, a)| format!("{n}={a}")).collect();
    println!(
        "stopped; KMEs were {}, metrics {}; store {} holds {} audit records",
        kmes.join(" "),
        report.metrics,
        args.db.display(),
        report.audit_records
    );
    Ok(())
}
