//! `qecnet link`: simulate one link and print measured figures beside the analytic ones.

use std::io::Write;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};

use crate::api::run_link;
use crate::atomic_file::{AtomicFile, write_atomically};
use crate::cli::{Overrides, toml_float};
use crate::config::parse_count;
use crate::photonics::link::{Detection, LinkObserver, LinkSummary, write_qber_stream_csv};
use crate::photonics::{LinkConfig, LinkEngine, Receiver};
use crate::postprocess::cascade::CascadeVariant;
use crate::postprocess::ldpc::{BlindReconciler, LdpcReconciler};
use crate::postprocess::pipeline::{AbortReason, PipelineReport, Reconciliation, write_blocks_csv};
use crate::postprocess::{PostprocessSettings, Security};
use crate::{Error, Result};

/// Arguments of `qecnet link`.
#[derive(Debug, clap::Args)]
pub struct LinkArgs {
    /// Scenario file (TOML); the built-in GYS link at 50 km when omitted.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub scenario: ScenarioArgs,
}

/// Overrides and outputs shared by `link` and `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScenarioArgs {
    /// Override any scenario field, e.g. `--set detector.dark_count_probability=1e-6`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Simulation engine.
    #[arg(long, value_enum)]
    pub engine: Option<LinkEngine>,
    /// Bob's receiver: active basis choice (two detectors) or passive (a beam splitter and
    /// two detectors per basis).
    #[arg(long, value_enum)]
    pub receiver: Option<Receiver>,
    /// Pulses to send (accepts 1e9).
    #[arg(long, value_parser = parse_count)]
    pub pulses: Option<u64>,
    /// Seed of the random streams.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Fibre length (km).
    #[arg(long, allow_negative_numbers = true)]
    pub distance_km: Option<f64>,
    /// Fraction of pulses Eve intercepts and resends.
    #[arg(long, allow_negative_numbers = true, value_name = "P")]
    pub intercept_resend: Option<f64>,
    /// Sifted key bits per block of the QBER stream.
    #[arg(long, value_parser = parse_count)]
    pub qber_block_bits: Option<u64>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Write the per-block QBER stream to this CSV file.
    #[arg(long, value_name = "FILE.csv")]
    pub qber_stream: Option<PathBuf>,
    /// Write detection records to this CSV file (at most --max-records of them).
    #[arg(long, value_name = "FILE.csv")]
    pub records: Option<PathBuf>,
    /// Upper bound on the records written by --records.
    #[arg(long, default_value = "1000000", value_parser = parse_count)]
    pub max_records: u64,
    /// Post-process the sifted key block by block: QBER sample, security bound, Cascade,
    /// verification, privacy amplification (blocks of postprocess.block_size key bits).
    #[arg(long)]
    pub postprocess: bool,
    /// Reconciler of --postprocess.
    #[arg(long, value_enum, requires = "postprocess", default_value = "cascade-option7")]
    pub reconciler: Reconciler,
    /// Security analysis setting the key length (postprocess.security).
    #[arg(long, value_enum)]
    pub security: Option<Security>,
    /// Write the per-block post-processing report to this CSV file.
    #[arg(long, value_name = "FILE.csv", requires = "postprocess")]
    pub blocks: Option<PathBuf>,
}

/// The reconcilers of `--postprocess`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Reconciler {
    /// Cascade of Brassard and Salvail 1993.
    CascadeOriginal,
    /// Cascade with BICONF passes (Sugimoto and Yamazaki 2000), as Martinez-Mateo et al. 2015
    /// run it: BICONF corrections are not cascaded into earlier passes.
    CascadeBiconf,
    /// Cascade as tuned by Yan et al. 2008.
    CascadeYan,
    /// Cascade option 7 of Martinez-Mateo et al. 2015 (the most efficient here at 1–5 % QBER).
    #[default]
    CascadeOption7,
    /// Cascade option 8 of Martinez-Mateo et al. 2015 (defined for 2^14-bit blocks).
    CascadeOption8,
    /// Ours: `cascade-biconf` with its BICONF corrections cascaded into earlier passes.
    CascadeBiconfCascading,
    /// Rate-adaptive LDPC syndrome coding (one message; Elkouss et al. 2009 codes, puncturing
    /// and shortening of Elkouss et al. 2010).
    Ldpc,
    /// Blind LDPC (Martinez-Mateo et al. 2012): frames start fully punctured and reveal
    /// punctured values round by round.
    LdpcBlind,
}

impl Reconciler {
    /// The pipeline's reconciler.
    pub fn reconciliation(self) -> Reconciliation {
        match self {
            Reconciler::Ldpc => Reconciliation::Ldpc(LdpcReconciler::default()),
            Reconciler::LdpcBlind => Reconciliation::LdpcBlind(BlindReconciler::default()),
            cascade => Reconciliation::Cascade(cascade.variant()),
        }
    }

    /// The Cascade variant (option 7 for `ldpc`, which has none).
    pub fn variant(self) -> CascadeVariant {
        match self {
            Reconciler::Ldpc | Reconciler::LdpcBlind => CascadeVariant::Option7,
            Reconciler::CascadeOriginal => CascadeVariant::Original,
            Reconciler::CascadeBiconf => CascadeVariant::Biconf,
            Reconciler::CascadeYan => CascadeVariant::Yan,
            Reconciler::CascadeOption7 => CascadeVariant::Option7,
            Reconciler::CascadeOption8 => CascadeVariant::Option8,
            Reconciler::CascadeBiconfCascading => CascadeVariant::BiconfCascading,
        }
    }
}

impl ScenarioArgs {
    /// The `--set` overrides followed by the dedicated flags (which take precedence).
    pub(crate) fn overrides(&self) -> Overrides {
        let mut all = Overrides::new(&self.set);
        all.flag("--engine", "simulation.engine", self.engine.map(|e| format!("\"{}\"", e.name())));
        all.flag("--receiver", "detector.receiver", self.receiver.map(|r| format!("\"{}\"", r.name())));
        all.flag("--pulses", "simulation.pulses", self.pulses.map(|n| n.to_string()));
        all.flag("--seed", "simulation.seed", self.seed.map(|n| n.to_string()));
        all.flag("--qber-block-bits", "simulation.qber_block_bits", self.qber_block_bits.map(|n| n.to_string()));
        all.flag("--distance-km", "channel.length_km", self.distance_km.map(toml_float));
        all.flag("--intercept-resend", "eve.intercept_resend_fraction", self.intercept_resend.map(toml_float));
        all.flag(
            "--security",
            "postprocess.security",
            self.security.map(|s| match s {
                Security::Asymptotic => "\"asymptotic\"".to_owned(),
                Security::Finite => "\"finite\"".to_owned(),
            }),
        );
        all
    }
}

impl ScenarioArgs {
    /// Refuses outputs that name the scenario file or each other, before anything runs.
    pub fn check_outputs(&self, scenario: Option<&std::path::Path>) -> Result<()> {
        let inputs: Vec<(&str, &std::path::Path)> = scenario.map(|p| ("scenario", p)).into_iter().collect();
        let outputs: Vec<(&str, &std::path::Path)> =
            [("--records", &self.records), ("--qber-stream", &self.qber_stream), ("--blocks", &self.blocks)]
                .into_iter()
                .filter_map(|(option, path)| path.as_deref().map(|p| (option, p)))
                .collect();
        crate::atomic_file::check_distinct(&inputs, &outputs).map_err(Into::into)
    }
}

/// Runs `qecnet link`.
pub fn run(args: &LinkArgs) -> Result<()> {
    args.scenario.check_outputs(args.config.as_deref())?;
    let overrides = args.scenario.overrides();
    let scenario = crate::api::load_link_scenario(args.config.as_deref(), &overrides)?;
    simulate_and_report(&scenario.link(), &scenario.postprocess, &args.scenario)
}

/// Simulates `config` and reports as `args` asks, post-processing with `postprocess` when
/// `args.postprocess` (shared with `qecnet run`).
pub fn simulate_and_report(config: &LinkConfig, postprocess: &PostprocessSettings, args: &ScenarioArgs) -> Result<()> {
    config.validate()?;
    let mut observer = Observer {
        records: args.records.as_deref().map(|p| RecordWriter::create(p, args.max_records)).transpose()?,
        progress: progress_bar(config.simulation.pulses),
    };
    let reconciler = args.postprocess.then(|| args.reconciler.reconciliation());
    let outcome = run_link(config, postprocess, reconciler, &mut observer);
    observer.progress.finish_and_clear();
    let outcome = outcome?;
    let elapsed = outcome.elapsed.as_secs_f64();
    let processed = &outcome.processed;
    if let Some(stream_path) = &args.qber_stream {
        write_atomically(stream_path, |w| write_qber_stream_csv(&outcome.run.qber_blocks, w))?;
    }
    if let (Some(path), Some(report)) = (&args.blocks, processed) {
        write_atomically(path, |w| write_blocks_csv(&report.blocks, w))?;
    }
    let records_written = match observer.records.take() {
        Some(records) => Some(records.commit()?),
        None => None,
    };
    let summary = &outcome.summary;
    let mut stdout = std::io::stdout().lock();
    let out = if args.json {
        writeln!(stdout, "{}", outcome.to_json())
    } else {
        print_table(&mut stdout, summary, records_written).and_then(|_| match processed {
            Some(report) => print_postprocess(&mut stdout, report),
            None => Ok(()),
        })
    };
    out.map_err(|e| Error::io("<stdout>", e))?;
    eprintln!(
        "simulated {} pulses in {:.2} s ({:.3e} pulses/s)",
        summary.pulses,
        elapsed,
        summary.pulses as f64 / elapsed.max(1e-9)
    );
    if let Some(report) = processed {
        let seconds = report.elapsed.as_secs_f64();
        eprintln!(
            "post-processed {} blocks in {:.2} s ({:.3} s per block)",
            report.summary.blocks,
            seconds,
            seconds / report.summary.blocks.max(1) as f64
        );
    }
    Ok(())
}

fn print_postprocess(out: &mut impl Write, report: &PipelineReport) -> std::io::Result<()> {
    let s = &report.summary;
    let security = match s.security {
        Security::Finite => "finite key (Lim et al. 2014)",
        Security::Asymptotic => "asymptotic (vacuum + weak decoy)",
    };
    let reconciler =
        if s.reconciler.starts_with("ldpc") { s.reconciler.to_string() } else { format!("cascade-{}", s.reconciler) };
    writeln!(out, "post-processing: {reconciler}, {security}, blocks of {} key bits", s.block_size)?;
    let mut reasons: Vec<(&str, usize)> = Vec::new();
    for b in report.blocks.iter().filter(|b| !b.produced_key() && b.abort_reason != AbortReason::Dropped) {
        match reasons.iter_mut().find(|(name, _)| *name == b.abort_reason.name()) {
            Some((_, n)) => *n += 1,
            None => reasons.push((b.abort_reason.name(), 1)),
        }
    }
    let reasons: Vec<String> = reasons.iter().map(|(name, n)| format!("{n} {name}")).collect();
    writeln!(
        out,
        "blocks {}, aborted {}{}{}",
        s.blocks,
        s.blocks_aborted,
        if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(", ")) },
        if s.dropped_bits > 0 {
            format!("; last partial block of {} bits dropped", s.dropped_bits)
        } else {
            String::new()
        }
    )?;
    let efficiency = s.reconciliation_efficiency.map(|f| format!("{f:.4}")).unwrap_or_else(|| "-".into());
    writeln!(
        out,
        "disclosed: leak_EC {} bits (efficiency f = {}), QBER samples {} bits, verification tags {} bits",
        s.leak_ec_bits, efficiency, s.sample_bits, s.verification_bits
    )?;
    writeln!(
        out,
        "secret key: {} bits, {:.4e} bits/s, {:.4e} bits/pulse",
        s.secret_bits, s.secret_key_rate_bps, s.secret_key_rate_per_pulse
    )
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {bar:40} {percent:>3}% {human_pos}/{human_len} pulses  ETA {eta}")
            .expect("static template"),
    );
    bar
}

/// Writes at most `max` detection records to a CSV file, atomically.
struct RecordWriter {
    file: AtomicFile,
    max: u64,
    written: u64,
    error: Option<std::io::Error>,
}

impl RecordWriter {
    fn create(path: &std::path::Path, max: u64) -> Result<Self> {
        let mut file = AtomicFile::create(path)?;
        writeln!(file.writer(), "{}", Detection::CSV_HEADER).map_err(|e| Error::io(path, e))?;
        Ok(RecordWriter { file, max, written: 0, error: None })
    }

    fn commit(self) -> Result<u64> {
        if let Some(e) = self.error {
            return Err(Error::io(self.file.target(), e));
        }
        let written = self.written;
        self.file.commit()?;
        Ok(written)
    }
}

struct Observer {
    records: Option<RecordWriter>,
    progress: ProgressBar,
}

impl LinkObserver for Observer {
    fn detection(&mut self, d: &Detection) {
        if let Some(r) = &mut self.records
            && r.written < r.max
            && r.error.is_none()
        {
            match d.write_csv(r.file.writer()) {
                Ok(()) => r.written += 1,
                Err(e) => r.error = Some(e),
            }
        }
    }

    fn progress(&mut self, done: u64, _total: u64) {
        self.progress.set_position(done);
    }
}

fn print_table(out: &mut impl Write, s: &LinkSummary, records: Option<u64>) -> std::io::Result<()> {
    writeln!(
        out,
        "qecnet link: {} engine, {} receiver, {} pulses ({:.3} s at the repetition rate), seed {}, {} km ({:.2} dB)",
        s.engine, s.receiver, s.pulses, s.duration_s, s.seed, s.distance_km, s.channel_loss_db
    )?;
    writeln!(
        out,
        "{:<7} {:>9} {:>14} {:>12} {:>12} {:>12} {:>9} {:>9} {:>9}",
        "class", "mean n", "pulses", "detections", "gain", "expected", "E", "expected", "double"
    )?;
    for (name, c) in s.classes() {
        writeln!(
            out,
            "{:<7} {:>9.4} {:>14} {:>12} {:>12.4e} {:>12.4e} {:>8.3}% {:>8.3}% {:>9}",
            name,
            c.intensity,
            c.pulses,
            c.detections,
            c.gain,
            c.expected.gain,
            100.0 * c.error_rate,
            100.0 * c.expected.error_rate,
            c.double_clicks
        )?;
    }
    writeln!(
        out,
        "detections {}, sifted bits {}, sifted key bits (signal, Z) {}",
        s.detections, s.sifted_bits, s.sifted_key_bits
    )?;
    writeln!(
        out,
        "QBER (signal, Z) {:.4}% ± {:.4}%   expected {:.4}%",
        100.0 * s.qber,
        100.0 * s.qber_std_error,
        100.0 * s.expected_qber
    )?;
    writeln!(
        out,
        "QBER by basis (all classes): Z {:.4}% (expected {:.4}%)  X {:.4}% (expected {:.4}%)   double clicks {}   QBER blocks {}",
        100.0 * s.qber_by_basis.z,
        100.0 * s.expected_qber_by_basis.z,
        100.0 * s.qber_by_basis.x,
        100.0 * s.expected_qber_by_basis.x,
        s.double_clicks,
        s.qber_blocks
    )?;
    if let Some(n) = records {
        writeln!(out, "detection records written: {n}")?;
    }
    Ok(())
}
