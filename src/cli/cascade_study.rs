//! `qecnet cascade-study`: efficiency, channel uses and frame error rate of Cascade variants
//! on a binary symmetric channel, one row per variant × QBER.

use std::io::Write;
use std::path::PathBuf;

use crate::atomic_file::write_atomically;
use crate::config::parse_count;
use crate::postprocess::cascade::CascadeVariant;
use crate::postprocess::cascade::study::{StudyRow, study};
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

/// Runs `qecnet cascade-study`.
pub fn run(args: &CascadeStudyArgs) -> Result<()> {
    let n = usize::try_from(args.block_size).ok().filter(|&n| (1..=u32::MAX as usize).contains(&n));
    let n = n.ok_or_else(|| Error::Usage(format!("--block-size {}: must be in 1..=4294967295", args.block_size)))?;
    if args.runs == 0 {
        return Err(Error::Usage("--runs 0: must be at least 1".into()));
    }
    for &q in &args.qber {
        if !(q > 0.0 && q < 0.5) {
            return Err(crate::postprocess::PostprocessError::Qber(q).into());
        }
    }
    let variants: Vec<CascadeVariant> =
        if args.variant.is_empty() { CascadeVariant::ALL.to_vec() } else { args.variant.clone() };
    let started = std::time::Instant::now();
    let mut rows = Vec::new();
    for &variant in &variants {
        for (qi, &q) in args.qber.iter().enumerate() {
            rows.push(study(variant, q, qi, n, args.runs as usize, args.seed, args.biconf)?);
        }
    }
    if let Some(path) = &args.output {
        write_atomically(path, |w| write_csv(&rows, w))?;
    }
    let mut stdout = std::io::stdout().lock();
    let out = if args.json {
        serde_json::to_writer_pretty(&mut stdout, &rows).map_err(std::io::Error::other).and_then(|_| writeln!(stdout))
    } else {
        write_csv(&rows, &mut stdout)
    };
    out.map_err(|e| Error::io("<stdout>", e))?;
    eprintln!(
        "{} variants × {} QBERs × {} frames of {n} bits in {:.2} s",
        variants.len(),
        args.qber.len(),
        args.runs,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The rows as CSV with a header line.
fn write_csv(rows: &[StudyRow], w: &mut dyn Write) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(w);
    for row in rows {
        writer.serialize(row).map_err(std::io::Error::other)?;
    }
    writer.flush()
}
