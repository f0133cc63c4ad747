//! `qecnet keyrate`: analytic secret key rates of a link, optimal intensities and the maximum
//! secure distance.

use std::io::Write;
use std::path::PathBuf;

use crate::api::KeyRateReport;
use crate::config::parse_count;
use crate::link_scenario::LinkScenario;
use crate::postprocess::keyrate::KeyRateModel;
use crate::{Error, Result};

/// Arguments of `qecnet keyrate`.
#[derive(Debug, clap::Args)]
pub struct KeyrateArgs {
    /// Key-rate model.
    #[arg(long, value_enum)]
    pub model: KeyRateModel,
    /// Scenario file (TOML); the built-in GYS link when omitted.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override any scenario field.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Fibre length (km).
    #[arg(long, allow_negative_numbers = true)]
    pub distance_km: Option<f64>,
    /// Signal QBER to use instead of the link's expected one (e.g. for shor-preskill).
    #[arg(long, allow_negative_numbers = true)]
    pub qber: Option<f64>,
    /// Signal intensity μ.
    #[arg(long, allow_negative_numbers = true)]
    pub mu: Option<f64>,
    /// Decoy intensity ν.
    #[arg(long, allow_negative_numbers = true)]
    pub nu: Option<f64>,
    /// Key-basis detections per block n_X (lim2014).
    #[arg(long, value_parser = parse_count)]
    pub block_size: Option<u64>,
    /// Optimise the model's free parameters: μ (and ν) for the asymptotic models; μ1, μ2, the
    /// class probabilities and the basis bias for lim2014.
    #[arg(long, alias = "optimize")]
    pub optimise: bool,
    /// Also find the maximum distance with a positive rate.
    #[arg(long)]
    pub max_distance: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `qecnet keyrate`.
pub fn run(args: &KeyrateArgs) -> Result<()> {
    let mut overrides = crate::cli::Overrides::new(&args.set);
    let float = crate::cli::toml_float;
    overrides.flag("--distance-km", "channel.length_km", args.distance_km.map(float));
    overrides.flag("--mu", "source.signal_intensity", args.mu.map(float));
    overrides.flag("--nu", "source.decoy_intensity", args.nu.map(float));
    overrides.flag("--block-size", "postprocess.block_size", args.block_size.map(|n| n.to_string()));
    let scenario: LinkScenario = overrides.load(args.config.as_deref())?;
    scenario.validate().map_err(|e| overrides.name(e))?;
    let report = crate::api::key_rate_report(args.model, &scenario, args.qber, args.optimise, args.max_distance)?;
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::other).and_then(|_| writeln!(out))
    } else {
        print_report(&mut out, &report)
    };
    written.map_err(|e| Error::io("<stdout>", e))
}

fn print_report(out: &mut impl Write, r: &KeyRateReport) -> std::io::Result<()> {
    writeln!(
        out,
        "model {:?} at {} km: mu {:.4}, nu {:.4}, Z-basis probability {:.3}",
        r.model, r.distance_km, r.mu, r.nu, r.z_basis_probability
    )?;
    writeln!(out, "rate {:.4e} bits/pulse = {:.4e} bits/s", r.rate.rate_per_pulse, r.rate.rate_bps)?;
    writeln!(
        out,
        "signal QBER {:.4}%, single-photon yield {:.4e}, single-photon error {:.4}%",
        100.0 * r.rate.qber,
        r.rate.single_photon_yield,
        100.0 * r.rate.single_photon_error
    )?;
    match r.max_distance_km {
        Some(Some(d)) if r.max_distance_unbounded => {
            writeln!(out, "maximum distance with a positive rate: none found, key at every length up to {d:.0} km")?
        }
        Some(Some(d)) => writeln!(out, "maximum distance with a positive rate: {d:.2} km")?,
        Some(None) => writeln!(out, "maximum distance with a positive rate: no key at any distance")?,
        None => {}
    }
    Ok(())
}
