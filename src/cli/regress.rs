//! `qecnet regress`: the key-rate regression gate against a committed baseline.

use std::path::PathBuf;

use crate::regress::Baseline;
use crate::{Error, Result};

/// Arguments of `qecnet regress`.
#[derive(Debug, clap::Args)]
pub struct RegressArgs {
    /// The baseline file.
    #[arg(long, default_value = "datasets/baselines/link-keyrate.json")]
    pub baseline: PathBuf,
    /// Rewrite the baseline with the figures measured now (review the diff!).
    #[arg(long)]
    pub update: bool,
}

/// Runs `qecnet regress`.
pub fn run(args: &RegressArgs) -> Result<()> {
    let mut baseline = Baseline::read(&args.baseline)?;
    let measured = baseline.measure()?;
    if args.update {
        for (point, figures) in baseline.points.iter_mut().zip(measured) {
            point.figures = figures;
        }
        let text = serde_json::to_string_pretty(&baseline).expect("JSON serialises") + "\n";
        crate::atomic_file::write_text_atomically(&args.baseline, &text)?;
        println!("baseline {} rewritten ({} points)", args.baseline.display(), baseline.points.len());
        return Ok(());
    }
    if baseline.points.iter().any(|p| p.figures.is_empty()) {
        return Err(Error::Usage(format!(
            "{}: no figures recorded yet; run `qecnet regress --update`",
            args.baseline.display()
        )));
    }
    let deviations = baseline.compare(&measured);
    let checked: usize = baseline.points.iter().map(|p| p.figures.len()).sum();
    if deviations.is_empty() {
        println!(
            "regress: {checked} figures at {} points within {}σ of the baseline",
            baseline.points.len(),
            baseline.tolerance_sigma
        );
        return Ok(());
    }
    for d in &deviations {
        eprintln!(
            "regress: {} {}: baseline {:.6e}, now {:.6e} ({:.1}σ)",
            d.point, d.figure, d.baseline, d.measured, d.sigmas
        );
    }
    Err(Error::Usage(format!("{} of {checked} figures moved beyond {}σ", deviations.len(), baseline.tolerance_sigma)))
}
