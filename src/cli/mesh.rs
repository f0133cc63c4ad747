//! `qecnet mesh`: run a mesh scenario (the links, the monitor and decision engine, the real
//! lifecycle engine on the simulated clock) and report.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

use crate::mesh::sim::MeshOutputs;
use crate::mesh::summary::MeshSummary;
use crate::units::parse_duration_s;
use crate::{Error, Result};

/// Arguments of `qecnet mesh`.
#[derive(Debug, clap::Args)]
pub struct MeshArgs {
    /// The mesh scenario (e.g. sims/mesh-default.toml).
    pub scenario: PathBuf,
    /// Override any scenario field, e.g. `--set monitor.qber_threshold=0.09`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Simulated time (e.g. 24h, 90m, 3600s).
    #[arg(long, value_parser = parse_duration_s)]
    pub duration: Option<f64>,
    /// The SQLite store to create (default: datasets/mesh/<scenario>.db).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Replace the store and CSVs of an earlier run instead of refusing (only qecnet's own
    /// files, and never a store another writer holds).
    #[arg(long)]
    pub overwrite: bool,
    /// Seed of every random stream.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `qecnet mesh`.
pub fn run(args: &MeshArgs) -> Result<()> {
    let mut overrides = crate::cli::Overrides::new(&args.set);
    overrides.flag("--duration", "mesh.duration", args.duration.map(crate::cli::toml_float));
    overrides.flag("--seed", "mesh.seed", args.seed.map(|s| s.to_string()));
    // Validated before the progress bar is drawn: the duration is the bar's length.
    let valid = crate::api::load_mesh_scenario(&args.scenario, &overrides)?;
    let scenario = valid.scenario();
    static STOP: AtomicBool = AtomicBool::new(false);
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
    let bar = ProgressBar::new(scenario.mesh.duration_s as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} simulated s  ETA {eta}").expect("static template"),
    );
    let started = std::time::Instant::now();
    let run = crate::api::run_loaded_mesh_scenario(
        &args.scenario,
        &valid,
        args.db.clone(),
        args.overwrite,
        &|done, _| bar.set_position(done as u64),
        &STOP,
    );
    bar.finish_and_clear();
    let crate::api::MeshRun { summary, outputs } = run?;
    let db = outputs.db.clone();
    let elapsed = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &summary).map_err(std::io::Error::other).and_then(|_| writeln!(out))
    } else {
        print_summary(&mut out, &summary, &outputs)
    };
    written.map_err(|e| Error::io("<stdout>", e))?;
    eprintln!(
        "simulated {} s in {elapsed:.1} s ({:.0} events/s)",
        summary.duration_s,
        summary.events as f64 / elapsed.max(1e-9)
    );
    print_audit_head(&db)
}

/// Verifies the store just written and prints what an auditor must keep to verify it later
/// with `--pin` and `--known-head`: its secrets come from the operating system, so the
/// scenario file cannot tell anyone the signing key, and the store alone cannot vouch for it.
fn print_audit_head(db: &std::path::Path) -> Result<()> {
    let conn = crate::lifecycle::open_reader(db)?;
    match crate::lifecycle::verify(&conn, &crate::lifecycle::VerifyOptions::default())? {
        crate::lifecycle::Verdict::Verified(r) => {
            // Every signer of the chain is pinned (a re-provisioned hub signs with a new key).
            let pins: Vec<String> = r.signers.values().map(|public| format!("--pin {public}")).collect();
            eprintln!(
                "audit: {} records verified; keep the signing key{} and signed head to check this store later: \
                 qecnet audit verify {} {} --known-head {}:{}",
                r.records,
                if pins.len() > 1 { "s" } else { "" },
                db.display(),
                pins.join(" "),
                r.signed_size,
                r.signed_root_hex
            );
            Ok(())
        }
        crate::lifecycle::Verdict::Failed(f) => {
            Err(Error::Usage(format!("{}: the store just written does not verify: {f}", db.display())))
        }
    }
}

fn print_summary(out: &mut impl Write, s: &MeshSummary, o: &MeshOutputs) -> std::io::Result<()> {
    writeln!(
        out,
        "mesh: {} nodes, {} links, {} pairs relayed via the hub, {} h simulated",
        s.nodes,
        s.links,
        s.relayed_pairs,
        s.duration_s / 3600.0
    )?;
    writeln!(
        out,
        "key delivered {} bits; fallback {:.0} link-s total, {} links ever in fallback; {} buffer depletions",
        s.key_delivered_bits, s.fallback_seconds_total, s.links_in_fallback_ever, s.buffer_depletions
    )?;
    writeln!(
        out,
        "{:<12} {:>7} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "rotation", "count", "p50 ms", "p99 ms", "max ms", "promise", "kept"
    )?;
    for (name, r) in [
        ("scheduled", &s.rotations.scheduled),
        ("triggered", &s.rotations.triggered),
        ("emergency", &s.rotations.emergency),
        ("revocation", &s.revocation_ms),
    ] {
        writeln!(
            out,
            "{:<12} {:>7} {:>10.2} {:>10.2} {:>10.2} {:>10} {:>8}",
            name,
            r.count,
            r.convergence_ms.p50,
            r.convergence_ms.p99,
            r.convergence_ms.max,
            format!("< {}", r.promise_ms),
            if r.count == 0 {
                "-"
            } else if r.within_promise {
                "yes"
            } else {
                "NO"
            }
        )?;
    }
    let (r, d) = (&s.rotations, &s.distribution);
    writeln!(
        out,
        "distributions (deadline {:.1} ms, up to {} attempts): failed {}/{}/{}/{}, retried {}/{}/{}/{}, given up \
         {}/{}/{}/{} (scheduled/triggered/emergency/setup); store: {} DESTROYED by a failure, {} of them used",
        d.deadline_ms,
        d.max_attempts,
        r.scheduled.distribution_failures,
        r.triggered.distribution_failures,
        r.emergency.distribution_failures,
        d.setup_failures,
        r.scheduled.retries,
        r.triggered.retries,
        r.emergency.retries,
        d.setup_retries,
        r.scheduled.exhausted,
        r.triggered.exhausted,
        r.emergency.exhausted,
        d.setup_exhausted,
        d.store.destroyed,
        d.store.used
    )?;
    writeln!(
        out,
        "rotations a crashed participant delayed: {} (max {:.0} ms from the first attempt, {:.2} ms from the successful one)",
        s.delayed_by_crash, s.delayed_by_crash_max_ms, s.delayed_by_crash_max_from_success_ms
    )?;
    writeln!(
        out,
        "decision engine: {} detections (mean delay {:.1} s), {} false alarms in {} honest link-windows",
        s.detections, s.detection_delay_s_mean, s.false_alarms, s.honest_windows
    )?;
    writeln!(
        out,
        "recoveries {} ({} started by the decision engine); key-use violations {}; audit records {}",
        s.recoveries, s.escalations, s.key_use_violations, s.audit_records
    )?;
    if let Some(h) = &s.hub_compromise {
        let secs = |v: Option<f64>| v.map(|v| format!("{v:.3} s")).unwrap_or_else(|| "never".into());
        writeln!(
            out,
            "hub compromised at {:.0} s: {} keys revoked (SOVEREIGN_MASTER included); re-provisioned at {}, {} keys \
             re-wrapped under the new master; recovered at {} (rejoin {} ms)",
            h.compromised_at_s,
            h.keys_revoked,
            secs(h.reprovisioned_at_s),
            h.keys_rewrapped,
            secs(h.recovered_at_s),
            h.rejoin_s.map(|v| format!("{:.2}", v * 1e3)).unwrap_or_else(|| "never".into())
        )?;
    }
    writeln!(
        out,
        "store {}; trace {}; time series {}",
        o.db.display(),
        o.trace.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        o.timeseries.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
    )?;
    Ok(())
}
