//! `qecnet run FILE`: the main job. A run file (with `[[job]]`s) runs its sweeps and writes the
//! report; a scenario file runs its link simulation.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

use crate::Result;
use crate::cli::link::{ScenarioArgs, simulate_and_report};
use crate::link_scenario::LinkScenario;

static STOP: AtomicBool = AtomicBool::new(false);

/// Arguments of `qecnet run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A run file (e.g. sims/quickstart.toml) or a link scenario.
    pub file: PathBuf,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

/// Runs `qecnet run`.
pub fn run(args: &RunArgs) -> Result<()> {
    if crate::report::is_run_file(&args.file) {
        let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{msg:<24} {bar:40} {pos}/{len} points  ETA {eta}").expect("static template"),
        );
        let started = std::time::Instant::now();
        let report = crate::report::run(&args.file, &STOP, &|name, done, total| {
            bar.set_message(name.to_owned());
            bar.set_length(total);
            bar.set_position(done);
        })?;
        bar.finish_and_clear();
        println!("report written to {} in {:.1} s", report.display(), started.elapsed().as_secs_f64());
        return Ok(());
    }
    args.scenario.check_outputs(Some(&args.file))?;
    let overrides = args.scenario.overrides();
    let scenario: LinkScenario = overrides.load(Some(&args.file))?;
    scenario.validate().map_err(|e| overrides.name(e))?;
    simulate_and_report(&scenario.link(), &scenario.postprocess, &args.scenario)
}
