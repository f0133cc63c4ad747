//! `qecnet link`: load a link scenario, simulate it (post-processing block by block if asked),
//! and the `--json` object.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::link_scenario::LinkScenario;
use crate::photonics::{Detection, LinkConfig, LinkObserver, LinkRun, LinkSummary, simulate_link};
use crate::postprocess::pipeline::Reconciliation;
use crate::postprocess::{Pipeline, PipelineConfig, PipelineReport, PipelineSummary, PostprocessSettings};
use crate::{Error, Result};

use super::Overrides;

/// Reads the link scenario at `path` (the built-in GYS link when `None`) with `overrides`, and
/// validates it, naming the option that set a bad field.
pub fn load_link_scenario(path: Option<&Path>, overrides: &Overrides) -> Result<LinkScenario> {
    let scenario: LinkScenario = overrides.load(path)?;
    scenario.validate().map_err(|e| overrides.name(e))?;
    Ok(scenario)
}

/// A finished link simulation.
#[derive(Debug)]
pub struct LinkOutcome {
    /// The raw run (totals, QBER stream).
    pub run: LinkRun,
    /// What `qecnet link` reports.
    pub summary: LinkSummary,
    /// The post-processing report, when asked for.
    pub processed: Option<PipelineReport>,
    /// Wall-clock time of the simulation (without post-processing's finish).
    pub elapsed: Duration,
}

/// `qecnet link --json` with post-processing: the link's fields, then the pipeline's.
#[derive(serde::Serialize)]
struct WithPostprocess<'a> {
    #[serde(flatten)]
    link: &'a LinkSummary,
    #[serde(flatten)]
    postprocess: &'a PipelineSummary,
}

impl LinkOutcome {
    /// The object `qecnet link --json` prints (pretty, without the final newline).
    pub fn to_json(&self) -> String {
        let text = match &self.processed {
            Some(report) => {
                serde_json::to_string_pretty(&WithPostprocess { link: &self.summary, postprocess: &report.summary })
            }
            None => serde_json::to_string_pretty(&self.summary),
        };
        text.expect("the summary serialises")
    }
}

/// Feeds the pipeline (if any) and the caller's observer.
struct Both<'a> {
    pipeline: Option<Pipeline<'static>>,
    inner: &'a mut dyn LinkObserver,
}

impl LinkObserver for Both<'_> {
    fn detection(&mut self, d: &Detection) {
        if let Some(p) = &mut self.pipeline {
            p.detection(d);
        }
        self.inner.detection(d);
    }

    fn progress(&mut self, done: u64, total: u64) {
        self.inner.progress(done, total);
    }

    fn cancelled(&self) -> bool {
        self.inner.cancelled()
    }
}

/// Simulates `config`, post-processing with `postprocess` and the `reconciler` when
/// that is given; `observer` sees every detection and the progress, and its
/// [`LinkObserver::cancelled`] ends the run with [`Error::Interrupted`].
pub fn run_link(
    config: &LinkConfig,
    postprocess: &PostprocessSettings,
    reconciler: Option<Reconciliation>,
    observer: &mut dyn LinkObserver,
) -> Result<LinkOutcome> {
    config.validate()?;
    let pipeline = match reconciler {
        Some(reconciliation) => {
            let mut pipeline_config = PipelineConfig::new(postprocess.clone(), config.simulation.seed);
            pipeline_config.reconciler = reconciliation;
            Some(Pipeline::new(pipeline_config, config)?)
        }
        None => None,
    };
    let mut both = Both { pipeline, inner: observer };
    let started = Instant::now();
    let run = simulate_link(config, &mut both)?;
    let elapsed = started.elapsed();
    if both.cancelled() {
        return Err(Error::Interrupted(format!(
            "interrupted after {} of {} pulses",
            run.totals.pulses(),
            config.simulation.pulses
        )));
    }
    let processed = both.pipeline.take().map(|p| p.finish(&run)).transpose()?;
    let summary = LinkSummary::new(&run);
    Ok(LinkOutcome { run, summary, processed, elapsed })
}
