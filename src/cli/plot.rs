//! `qecnet plot`: draw a canonical chart from a sweep CSV (SVG and PNG), without rerunning it,
//! or, for the recipes that need no sweep (`reconcile-study`), from CSV files alone.

use std::path::PathBuf;

use crate::plot::data::Table;
use crate::report::Recipe;
use crate::sweep::Sweep;
use crate::{Error, Result};

/// Arguments of `qecnet plot`.
#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    /// The sweep file whose CSV to draw (its base scenario feeds the analytic curves); not
    /// given for `--recipe reconcile-study`, which draws from `--csv` alone.
    pub sweep: Option<PathBuf>,
    /// Which chart: keyrate-vs-distance, intercept-resend, threshold, refresh, roc, receivers
    /// (from a sweep), or reconcile-study (efficiency and round trips vs QBER from
    /// `qecnet reconcile-study --output` files).
    #[arg(long, value_parser = parse_recipe)]
    pub recipe: Recipe,
    /// The CSV (default: the sweep's `output`). `reconcile-study` takes one or more (repeat or
    /// comma-separate, e.g. the 10⁴- and 10⁵-bit studies), drawn as one table.
    #[arg(long, value_name = "FILE.csv", value_delimiter = ',')]
    pub csv: Vec<PathBuf>,
    /// Directory for the SVG and PNG files.
    #[arg(long, default_value = "notebooks-out")]
    pub out: PathBuf,
}

fn parse_recipe(text: &str) -> std::result::Result<Recipe, String> {
    toml::Value::String(text.to_owned()).try_into().map_err(|_| {
        format!(
            "`{text}`: one of keyrate-vs-distance, intercept-resend, threshold, refresh, roc, receivers, reconcile-study"
        )
    })
}

/// Reads `paths` as one table (same columns in each); an error if none has a data row.
fn read_tables(paths: &[PathBuf]) -> Result<Table> {
    let table = Table::read_all(paths)?;
    if table.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::Usage(format!(
            "{}: no data rows (a header alone): must hold at least one row",
            names.join(", ")
        )));
    }
    Ok(table)
}

/// Runs `qecnet plot`.
pub fn run(args: &PlotArgs) -> Result<()> {
    let recipe = args.recipe.name();
    let drawn = if args.recipe.draws_from_csv_alone() {
        if let Some(sweep) = &args.sweep {
            return Err(Error::Usage(format!(
                "{}: --recipe {recipe} draws from its CSV alone, not a sweep file: \
                 qecnet plot --recipe {recipe} --csv FILE.csv",
                sweep.display()
            )));
        }
        if args.csv.is_empty() {
            return Err(Error::Usage(format!(
                "--recipe {recipe} needs --csv FILE.csv (the output of `qecnet reconcile-study --output`)"
            )));
        }
        crate::report::recipes::draw_csv(args.recipe, &read_tables(&args.csv)?)?
    } else {
        let Some(sweep_path) = &args.sweep else {
            return Err(Error::Usage(format!(
                "--recipe {recipe} draws a sweep's CSV beside its base scenario: \
                 qecnet plot SWEEP.toml --recipe {recipe} [--csv FILE.csv]"
            )));
        };
        let sweep = Sweep::load(sweep_path)?;
        let csv = match args.csv.as_slice() {
            [] => sweep.output.clone(),
            [one] => one.clone(),
            _ => {
                return Err(Error::Usage(format!(
                    "--recipe {recipe} draws one CSV: --csv given {} times",
                    args.csv.len()
                )));
            }
        };
        crate::report::recipes::draw(args.recipe, &read_tables(&[csv])?, &sweep.base)?
    };
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
