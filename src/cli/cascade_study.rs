//! `qecnet reconcile-study` (alias `cascade-study`): efficiency, frame error rate, round trips,
//! messages and throughput of any reconciler on a binary symmetric channel, one row per
//! reconciler × QBER. Frames whose keys still differ after reconciliation (those verification
//! rejects) count in `frame_error_rate` and are left out of `efficiency_mean`/`efficiency_std`;
//! `throughput_bits_per_s` (sifted bits per CPU second of the one thread that reconciled each
//! frame, see [`crate::postprocess::study`]) is the one field that is a timing rather than a
//! function of the seed.

use std::io::Write;
use std::path::PathBuf;

use super::link::Reconciler;
use crate::api::write_study_csv;
use crate::atomic_file::write_atomically;
use crate::config::parse_count;
use crate::postprocess::Reconciliation;
use crate::postprocess::cascade::CascadeVariant;
use crate::{Error, Result};

/// Arguments of `qecnet cascade-study`.
#[derive(Debug, clap::Args)]
pub struct CascadeStudyArgs {
    /// QBERs to simulate, comma-separated (each in (0, 0.5)), e.g. `0.01,0.02,0.05`.
    #[arg(long, value_delimiter = ',', required = true, allow_negative_numbers = true)]
    pub qber: Vec<f64>,
    /// Frame length n in bits (accepts 1e4).
    #[arg(long, value_parser = parse_count)]
    pub block_size: u64,
    /// Frames per variant and QBER.
    #[arg(long, value_parser = parse_count)]
    pub runs: u64,
    /// Variants to run (repeat or comma-separate); all when omitted. `biconf` is BICONF as
    /// Martinez-Mateo et al. 2015 run it (corrections not cascaded); `biconf-cascading` is our
    /// modification that cascades them. Option 8 is defined for n = 2^14 bits (their Fig. 13).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub variant: Vec<CascadeVariant>,
    /// Reconcilers to run, named as `qecnet link --reconciler` names them (repeat or
    /// comma-separate), added to `--variant`. LDPC frames are one mother-code frame holding
    /// the whole block (length ⌈n/(1 − δ)⌉), tuned with the channel QBER.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub reconciler: Vec<Reconciler>,
    /// BICONF rounds (consecutive clean rounds to stop after) for every variant, overriding
    /// the variant's own (10 for `biconf` and `biconf-cascading`, 0 for the others); only
    /// `biconf-cascading` cascades their corrections.
    #[arg(long, value_name = "ROUNDS")]
    pub biconf: Option<u32>,
    /// Seed of the random streams.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print one JSON array instead of CSV.
    #[arg(long)]
    pub json: bool,
    /// Also write the rows to this CSV file (atomically).
    #[arg(long, value_name = "FILE.csv")]
    pub output: Option<PathBuf>,
}

/// The reconcilers of `--variant` (Cascade variants) followed by those of `--reconciler`.
pub fn study_reconcilers(variant: &[CascadeVariant], reconciler: &[Reconciler]) -> Vec<Reconciliation> {
    variant.iter().map(|&v| Reconciliation::from(v)).chain(reconciler.iter().map(|r| r.reconciliation())).collect()
}

/// Runs `qecnet reconcile-study` (alias `cascade-study`).
pub fn run(args: &CascadeStudyArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let chosen = study_reconcilers(&args.variant, &args.reconciler);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let rows = crate::api::reconcile_study(
        &args.qber,
        args.block_size,
        args.runs,
        &chosen,
        args.biconf,
        args.seed,
        &|_, _| {},
        &stop,
    )?;
    let n = args.block_size;
    let variants = if chosen.is_empty() { CascadeVariant::ALL.len() } else { chosen.len() };
    if let Some(path) = &args.output {
        write_atomically(path, |w| write_study_csv(&rows, w))?;
    }
    let mut stdout = std::io::stdout().lock();
    let out = if args.json {
        serde_json::to_writer_pretty(&mut stdout, &rows).map_err(std::io::Error::other).and_then(|_| writeln!(stdout))
    } else {
        write_study_csv(&rows, &mut stdout)
    };
    out.map_err(|e| Error::io("<stdout>", e))?;
    eprintln!(
        "{} reconcilers × {} QBERs × {} frames of {n} bits in {:.2} s",
        variants,
        args.qber.len(),
        args.runs,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
