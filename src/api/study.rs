//! `qecnet reconcile-study` (alias `cascade-study`): any reconciler on a binary symmetric
//! channel, one row per reconciler × QBER, and the rows as CSV.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::postprocess::Reconciliation;
use crate::postprocess::cascade::CascadeVariant;
use crate::postprocess::ldpc::{BlindReconciler, LdpcReconciler};
use crate::postprocess::study::{StudyRow, study};
use crate::{Error, Result};

/// The reconciler named as `--reconciler` names it (`cascade-option7`, …, `ldpc`), with the
/// pipeline's default settings; `None` for an unknown name.
pub fn reconciliation_named(name: &str) -> Option<Reconciliation> {
    for ldpc in [Reconciliation::Ldpc(LdpcReconciler::default()), Reconciliation::LdpcBlind(BlindReconciler::default())]
    {
        if name == ldpc.label() {
            return Some(ldpc);
        }
    }
    let variant = name.strip_prefix("cascade-")?;
    CascadeVariant::ALL.iter().find(|v| v.name() == variant).map(|&v| Reconciliation::Cascade(v))
}

/// The study of `reconcilers` (every Cascade variant when empty) at each QBER of `qber` (each
/// in (0, 0.5)) over `runs` frames of `block_size` bits, seeded by `seed`; `biconf` overrides
/// every Cascade variant's BICONF rounds. Frames whose keys still differ count in the frame
/// error rate, not in the efficiency. `progress` gets (rows done, rows total); `stop` ends it
/// between rows with [`Error::Interrupted`].
#[allow(clippy::too_many_arguments)]
pub fn reconcile_study(
    qber: &[f64],
    block_size: u64,
    runs: u64,
    reconcilers: &[Reconciliation],
    biconf: Option<u32>,
    seed: u64,
    progress: &dyn Fn(u64, u64),
    stop: &AtomicBool,
) -> Result<Vec<StudyRow>> {
    let n = usize::try_from(block_size).ok().filter(|&n| (1..=u32::MAX as usize).contains(&n));
    let n = n.ok_or_else(|| Error::Usage(format!("--block-size {block_size}: must be in 1..=4294967295")))?;
    if runs == 0 {
        return Err(Error::Usage("--runs 0: must be at least 1".into()));
    }
    for &q in qber {
        if !(q > 0.0 && q < 0.5) {
            return Err(crate::postprocess::PostprocessError::Qber(q).into());
        }
    }
    let reconcilers: Vec<Reconciliation> = if reconcilers.is_empty() {
        CascadeVariant::ALL.iter().map(|&v| v.into()).collect()
    } else {
        reconcilers.to_vec()
    };
    let total = (reconcilers.len() * qber.len()) as u64;
    let mut rows = Vec::new();
    for reconciler in &reconcilers {
        for (qi, &q) in qber.iter().enumerate() {
            if stop.load(Ordering::SeqCst) {
                return Err(Error::Interrupted(format!("interrupted after {} of {total} rows", rows.len())));
            }
            rows.push(study(reconciler, q, qi, n, runs as usize, seed, biconf)?);
            progress(rows.len() as u64, total);
        }
    }
    Ok(rows)
}

/// [`reconcile_study`] of Cascade variants (the name of earlier versions).
#[allow(clippy::too_many_arguments)]
pub fn cascade_study(
    qber: &[f64],
    block_size: u64,
    runs: u64,
    variants: &[CascadeVariant],
    biconf: Option<u32>,
    seed: u64,
    progress: &dyn Fn(u64, u64),
    stop: &AtomicBool,
) -> Result<Vec<StudyRow>> {
    let reconcilers: Vec<Reconciliation> = variants.iter().map(|&v| v.into()).collect();
    reconcile_study(qber, block_size, runs, &reconcilers, biconf, seed, progress, stop)
}

/// The rows as CSV with a header line.
pub fn write_study_csv(rows: &[StudyRow], w: &mut dyn Write) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(w);
    for row in rows {
        writer.serialize(row).map_err(std::io::Error::other)?;
    }
    writer.flush()
}
