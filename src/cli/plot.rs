//! `qecnet plot`: draw a canonical chart from a sweep CSV (SVG and PNG), without rerunning it.

use std::path::PathBuf;

use crate::plot::data::Table;
use crate::report::Recipe;
use crate::sweep::Sweep;
use crate::{Error, Result};

/// Arguments of `qecnet plot`.
#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    /// The sweep file whose CSV to draw (its base scenario feeds the analytic curves).
    pub sweep: PathBuf,
    /// Which chart: keyrate-vs-distance, intercept-resend, threshold, refresh, roc, receivers.
    #[arg(long, value_parser = parse_recipe)]
    pub recipe: Recipe,
    /// The CSV (default: the sweep's `output`).
    #[arg(long, value_name = "FILE.csv")]
    pub csv: Option<PathBuf>,
    /// Directory for the SVG and PNG files.
    #[arg(long, default_value = "notebooks-out")]
    pub out: PathBuf,
}

fn parse_recipe(text: &str) -> std::result::Result<Recipe, String> {
    toml::Value::String(text.to_owned()).try_into().map_err(|_| {
        format!("`{text}`: one of keyrate-vs-distance, intercept-resend, threshold, refresh, roc, receivers")
    })
}

/// Runs `qecnet plot`.
pub fn run(args: &PlotArgs) -> Result<()> {
    let sweep = Sweep::load(&args.sweep)?;
    let csv = args.csv.clone().unwrap_or_else(|| sweep.output.clone());
    let table = Table::read(&csv)?;
    if table.is_empty() {
        return Err(Error::Usage(format!(
            "{}: no data rows (a header alone): must hold at least one point of the sweep",
            csv.display()
        )));
    }
    let drawn = crate::report::recipes::draw(args.recipe, &table, &sweep.base)?;
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    for (stem, chart) in &drawn.charts {
        let (svg, png) = crate::plot::render(chart, &args.out.join(stem))?;
        println!("{}  {}", svg.display(), png.display());
    }
    for (k, v) in &drawn.figures {
        println!("{k}: {v}");
    }
    Ok(())
}
