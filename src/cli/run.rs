//! `qecnet run FILE`: the main job of a scenario file. For now the file is a link scenario and
//! the job is its link simulation; sweeps and the report will extend the same command.

use std::path::PathBuf;

use crate::Result;
use crate::cli::link::{ScenarioArgs, simulate_and_report};
use crate::scenario::Scenario;

/// Arguments of `qecnet run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The scenario file (e.g. sims/quickstart.toml).
    pub file: PathBuf,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

/// Runs `qecnet run`.
pub fn run(args: &RunArgs) -> Result<()> {
    let scenario: Scenario = crate::config::load(Some(&args.file), &args.scenario.overrides())?;
    scenario.validate()?;
    simulate_and_report(&scenario.link(), &args.scenario)
}
