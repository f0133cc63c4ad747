//! The lab's main job: a run file lists canonical sweeps (with overrides for a quick version)
//! and their plots; running it runs every sweep, draws the plots to `notebooks-out/` and
//! gathers them, with the key figures and the parameters used, into one HTML report.
//!
//! ```toml
//! [report]
//! title = "qecnet quick start"
//! output = "../notebooks-out/report.html"   # relative to the run file
//! datasets = "../datasets/quickstart"        # where the sweeps' CSVs go
//!
//! [[job]]
//! sweep = "sweep-keyrate-vs-distance.toml"
//! recipe = "keyrate-vs-distance"
//! set = ["simulation.pulses=2e8"]            # overrides of the sweep's base scenario
//! replicates = 2
//!
//! [[job]]                                    # a recipe that draws from CSVs alone
//! csv = ["../datasets/reconcile-study/n1e4.csv", "../datasets/reconcile-study/n1e5.csv"]
//! recipe = "reconcile-study"
//! ```

pub(crate) mod recipes;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::Deserialize;

use crate::config::{ConfigError, apply_override};
use crate::mesh::scenario::MeshScenario;
use crate::mesh::sim::{MeshOutputs, run_mesh_until};
use crate::plot::data::Table;
use crate::sweep::{RunOptions, Sweep};
use crate::{Error, Result};
pub use recipes::{Recipe, RecipeOutput};

/// A run file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunFile {
    /// Report settings.
    pub report: ReportSection,
    /// The sweeps to run, in order.
    #[serde(rename = "job")]
    pub jobs: Vec<Job>,
}

/// `[report]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSection {
    /// Page title.
    pub title: String,
    /// The HTML file (charts go beside it).
    pub output: PathBuf,
    /// Directory of the sweeps' CSVs.
    pub datasets: PathBuf,
}

/// One `[[job]]`: a sweep, a mesh run (for the lifecycle diagrams), or CSV files drawn as
/// they are (the reconciliation figure from `datasets/reconcile-study/`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// The sweep file, relative to the run file.
    pub sweep: Option<PathBuf>,
    /// A mesh scenario to run once, relative to the run file.
    pub mesh: Option<PathBuf>,
    /// CSV files, relative to the run file, for a recipe that draws from CSVs alone
    /// (`reconcile-study`); nothing is run.
    #[serde(default)]
    pub csv: Vec<PathBuf>,
    /// Its plot.
    pub recipe: Recipe,
    /// Overrides of the sweep's base scenario.
    #[serde(default)]
    pub set: Vec<String>,
    /// Replicates instead of the sweep's.
    pub replicates: Option<u32>,
}

/// Whether the TOML at `path` is a run file (has `[[job]]`) rather than a scenario.
pub fn is_run_file(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| toml::from_str::<toml::Table>(&t).ok())
        .is_some_and(|t| t.contains_key("job"))
}

/// Runs every job of the run file at `path` and writes the report; returns its path.
pub fn run(path: &Path, stop: &AtomicBool, progress: &(dyn Fn(&str, u64, u64) + Sync)) -> Result<PathBuf> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    let file: RunFile = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string().split_whitespace().collect::<Vec<_>>().join(" "),
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let out = dir.join(&file.report.output);
    let charts_dir = out.parent().unwrap_or(Path::new(".")).to_owned();
    std::fs::create_dir_all(&charts_dir).map_err(|e| Error::io(&charts_dir, e))?;
    let mut sections = String::new();
    for job in &file.jobs {
        let sweep_file = match (&job.sweep, &job.mesh) {
            (None, None) if !job.csv.is_empty() => {
                sections.push_str(&csv_section(path, dir, job, &charts_dir)?);
                continue;
            }
            (Some(s), None) if job.csv.is_empty() => s,
            (None, Some(m)) if job.csv.is_empty() => {
                sections.push_str(&mesh_section(
                    &dir.join(m),
                    job,
                    &dir.join(&file.report.datasets),
                    &charts_dir,
                    stop,
                )?);
                continue;
            }
            _ => {
                return Err(Error::Usage(format!(
                    "{}: each [[job]] names one of `sweep`, `mesh` or `csv`",
                    path.display()
                )));
            }
        };
        let mut sweep = Sweep::load(&dir.join(sweep_file))?;
        for item in &job.set {
            apply_override(&mut sweep.base, item)?;
        }
        if let Some(r) = job.replicates {
            sweep.replicates = r;
        }
        let csv = dir.join(&file.report.datasets).join(format!("{}.csv", sweep.name));
        let options = RunOptions { output: Some(csv.clone()), ..RunOptions::default() };
        let outcome = crate::sweep::run(&sweep, &options, stop, &|d, t| progress(&sweep.name, d, t))?;
        if outcome.interrupted {
            return Err(Error::Interrupted(format!(
                "interrupted during {}; partial rows kept in {}",
                sweep.name,
                outcome.path.display()
            )));
        }
        let drawn = recipes::draw(job.recipe, &Table::read(&csv)?, &sweep.base)?;
        let _ = writeln!(sections, "<h2>{}</h2>", html_escape(&sweep.name));
        sections.push_str(&charts_html(&drawn.charts, &charts_dir)?);
        let mut rows = drawn.figures.clone();
        rows.push((
            "points × replicates".into(),
            format!("{} × {} ({} failed)", sweep.points(), sweep.replicates, outcome.failed),
        ));
        rows.push(("data".into(), csv.display().to_string()));
        sections.push_str(&table_html(&rows));
        let _ = writeln!(
            sections,
            "<details><summary>parameters</summary><pre>{}\n# overrides: {:?}</pre><pre>{}</pre></details>",
            html_escape(&sweep.source_text),
            job.set,
            html_escape(&toml::to_string(&sweep.base).unwrap_or_default())
        );
    }
    let page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>body{{font-family:sans-serif;max-width:960px;margin:auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px}}pre{{background:#f6f6f6;padding:8px;overflow:auto}}</style></head>\n<body><h1>{title}</h1>\n<p>qecnet {version}; run file <code>{file}</code>.</p>\n{sections}</body></html>\n",
        title = html_escape(&file.report.title),
        version = env!("CARGO_PKG_VERSION"),
        file = html_escape(&path.display().to_string()),
    );
    crate::atomic_file::write_text_atomically(&out, &page)?;
    Ok(out)
}

/// Draws the CSVs of a `csv =` job (paths relative to `dir`, the run file's) with its recipe,
/// each chart pair side by side.
fn csv_section(run_file: &Path, dir: &Path, job: &Job, charts_dir: &Path) -> Result<String> {
    if !job.recipe.draws_from_csv_alone() {
        return Err(Error::Usage(format!(
            "{}: recipe {} draws from a sweep or mesh run: `csv =` is for reconcile-study",
            run_file.display(),
            job.recipe.name()
        )));
    }
    if !job.set.is_empty() || job.replicates.is_some() {
        return Err(Error::Usage(format!(
            "{}: a `csv =` job runs nothing: it takes no `set` or `replicates`",
            run_file.display()
        )));
    }
    let paths: Vec<PathBuf> = job.csv.iter().map(|p| dir.join(p)).collect();
    let drawn = recipes::draw_csv(job.recipe, &Table::read_all(&paths)?)?;
    let mut out = String::new();
    let _ = writeln!(out, "<h2>{}</h2>", html_escape(job.recipe.name()));
    out.push_str(&chart_pairs_html(&drawn.charts, charts_dir)?);
    let mut rows = drawn.figures;
    rows.push(("data".into(), paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")));
    out.push_str(&table_html(&rows));
    Ok(out)
}

/// [`charts_html`] two by two, each pair side by side at half width.
fn chart_pairs_html(charts: &[(String, crate::plot::Chart)], charts_dir: &Path) -> Result<String> {
    let mut out = String::new();
    for pair in charts.chunks(2) {
        let figures = charts_html(pair, charts_dir)?.replace("width=\"900\"", "width=\"470\"");
        let _ = writeln!(out, "<div style=\"display:flex;gap:8px\">{figures}</div>");
    }
    Ok(out)
}

/// Runs the mesh scenario of a `mesh =` job and draws its lifecycle diagrams.
fn mesh_section(
    scenario_path: &Path,
    job: &Job,
    datasets: &Path,
    charts_dir: &Path,
    stop: &AtomicBool,
) -> Result<String> {
    let scenario: MeshScenario = crate::config::load(Some(scenario_path), &job.set)?;
    std::fs::create_dir_all(datasets).map_err(|e| Error::io(datasets, e))?;
    let stem = scenario_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "mesh".into());
    let db = datasets.join(format!("{stem}.db"));
    // The report's own outputs of an earlier run are replaced (checked to be qecnet's).
    let outputs = MeshOutputs {
        db: db.clone(),
        trace: Some(datasets.join(format!("{stem}-trace.csv"))),
        timeseries: Some(datasets.join(format!("{stem}-links.csv"))),
        rotations: Some(datasets.join(format!("{stem}-rotations.csv"))),
        coverage: Some(datasets.join(format!("{stem}-coverage.csv"))),
        overwrite: true,
    };
    let summary = run_mesh_until(&scenario, &outputs, &|_, _| {}, stop)?;
    let drawn = match job.recipe {
        Recipe::LifecycleDiagrams => {
            recipes::lifecycle_diagrams(&db, outputs.rotations.as_deref().expect("set above"))?
        }
        other => return Err(Error::Usage(format!("recipe {other:?} draws from a sweep: use it with `sweep =`"))),
    };
    let mut out = String::new();
    let _ = writeln!(out, "<h2>mesh: {}</h2>", html_escape(&stem));
    let mut charts = drawn.charts;
    if let Some(coverage) = outputs.coverage.as_deref() {
        charts.push(("mesh-coverage".into(), recipes::coverage_chart(coverage)?));
    }
    out.push_str(&charts_html(&charts, charts_dir)?);
    let r = &summary.rotations;
    let mut rows = vec![
        (
            "nodes / links / relayed pairs".to_string(),
            format!("{} / {} / {}", summary.nodes, summary.links, summary.relayed_pairs),
        ),
        ("simulated time (h)".into(), format!("{}", summary.duration_s / 3600.0)),
        ("key delivered (bits)".into(), summary.key_delivered_bits.to_string()),
        (
            "fallback (link-s), links ever in fallback".into(),
            format!("{:.0}, {}", summary.fallback_seconds_total, summary.links_in_fallback_ever),
        ),
    ];
    for (name, s) in [
        ("scheduled", &r.scheduled),
        ("triggered", &r.triggered),
        ("emergency re-key", &r.emergency),
        ("revocation", &summary.revocation_ms),
    ] {
        rows.push((
            format!("{name}: count, p50 / p99 / max ms (promise)"),
            format!(
                "{}, {:.2} / {:.2} / {:.2} (< {} ms: {})",
                s.count,
                s.convergence_ms.p50,
                s.convergence_ms.p99,
                s.convergence_ms.max,
                s.promise_ms,
                if s.within_promise { "kept" } else { "NOT kept" }
            ),
        ));
    }
    let routing = &summary.routing;
    rows.push((
        "pair session keys: direct / relayed / fallback".into(),
        format!(
            "{} / {} / {}",
            routing.session_keys_direct, routing.session_keys_relayed, routing.session_keys_fallback
        ),
    ));
    rows.push((
        "relay hops: mean, key consumed (bits, one session key per hop)".into(),
        format!("{:.2}, {}", routing.relay_hops_mean, routing.relay_key_bits_consumed),
    ));
    rows.push((
        "reconfigurations (routes changed)".into(),
        format!("{} ({})", routing.reconfigurations, routing.route_changes),
    ));
    rows.push((
        "detections (mean delay s), false alarms".into(),
        format!("{} ({:.1}), {}", summary.detections, summary.detection_delay_s_mean, summary.false_alarms),
    ));
    rows.push((
        "compromise recoveries (started by the decision engine)".into(),
        format!("{} ({})", summary.recoveries, summary.escalations),
    ));
    rows.push((
        "audit records, key-use violations".into(),
        format!("{}, {}", summary.audit_records, summary.key_use_violations),
    ));
    rows.extend(drawn.figures);
    out.push_str(&table_html(&rows));
    Ok(out)
}

/// Renders `charts` (SVG and PNG beside the report) and returns their `<figure>` elements.
fn charts_html(charts: &[(String, crate::plot::Chart)], charts_dir: &Path) -> Result<String> {
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut out = String::new();
    for (stem, chart) in charts {
        let (svg, png) = crate::plot::render(chart, &charts_dir.join(stem))?;
        let _ = writeln!(
            out,
            "<figure><img src=\"{}\" alt=\"{}\" width=\"900\"><figcaption>{} (<a href=\"{}\">PNG</a>)</figcaption></figure>",
            name(&svg),
            html_escape(&chart.title),
            html_escape(&chart.title),
            name(&png)
        );
    }
    Ok(out)
}

/// A two-column table of (figure, value) rows.
fn table_html(rows: &[(String, String)]) -> String {
    let mut out = String::from("<table><tr><th>figure</th><th>value</th></tr>\n");
    for (k, v) in rows {
        let _ = writeln!(out, "<tr><td>{}</td><td>{}</td></tr>", html_escape(k), html_escape(v));
    }
    out.push_str("</table>\n");
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
