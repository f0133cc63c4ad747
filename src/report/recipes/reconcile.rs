//! The canonical reconciliation figure of issue 16, drawn from a `qecnet reconcile-study` CSV:
//! for each block size, the efficiency `f = leak_EC / (n·h(Q))` vs QBER with one line per
//! reconciler (error bars one standard deviation over the frames; the Shannon limit f = 1
//! drawn), and beside it the mean round trips per frame vs QBER on a logarithmic axis — the
//! axes of Elkouss et al. 2010 (arXiv:1006.2660, Fig. 3) and Martinez-Mateo et al. 2015 for
//! Cascade, so LDPC's one or few round trips stand against Cascade's dozens.

use super::{PERCENT, RecipeOutput, styled};
use crate::Result;
use crate::plot::data::Table;
use crate::plot::{Chart, Series, SeriesKind};

/// The columns the figure reads (all written by `qecnet reconcile-study`).
pub const COLUMNS: [&str; 7] =
    ["reconciler", "qber", "block_size", "efficiency_mean", "efficiency_std", "round_trips", "frame_error_rate"];

/// `n` bits as a power of ten (`10⁴`) when it is one, else in digits.
fn bits_label(n: u64) -> String {
    const SUPERSCRIPT: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut k = 0u32;
    let mut rest = n;
    while rest >= 10 && rest.is_multiple_of(10) {
        rest /= 10;
        k += 1;
    }
    if rest == 1 && k > 0 {
        let exponent: String = k.to_string().bytes().map(|b| SUPERSCRIPT[usize::from(b - b'0')]).collect();
        format!("10{exponent}")
    } else {
        n.to_string()
    }
}

/// Smallest and largest of `values` (NaN for none).
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::NAN, f64::NAN), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// Efficiency and round trips vs QBER, one pair of charts per block size of `table` (in
/// increasing size), each reconciler in the same style in every chart (its order of first
/// appearance in the CSV); the figures give each reconciler's ranges at each size.
pub(super) fn reconcile_study(table: &Table) -> Result<RecipeOutput> {
    table.require(&COLUMNS)?;
    let reconcilers = table.distinct("reconciler")?;
    let mut sizes: Vec<(u64, String)> =
        table.distinct("block_size")?.into_iter().filter_map(|s| Some((s.parse().ok()?, s))).collect();
    sizes.sort();
    if sizes.is_empty() {
        return Err(crate::Error::Usage(
            "reconcile-study: no row with a block_size: draws from `qecnet reconcile-study --output` rows".into(),
        ));
    }
    let mut charts = Vec::new();
    let mut figures = Vec::new();
    for (n, text) in &sizes {
        let at_n = table.filter_eq("block_size", text)?;
        let (mut efficiency, mut trips) = (Vec::new(), Vec::new());
        for (style, name) in reconcilers.iter().enumerate() {
            let rows = at_n.filter_eq("reconciler", name)?;
            if rows.is_empty() {
                continue;
            }
            let f = rows.points_with_err("qber", "efficiency_mean", "efficiency_std", PERCENT)?;
            let rt = rows.points("qber", "round_trips", PERCENT)?;
            let fer = rows.points("qber", "frame_error_rate", PERCENT)?;
            let (f_lo, f_hi) = range(f.iter().map(|p| p.y));
            let (rt_lo, rt_hi) = range(rt.iter().map(|p| p.y));
            // Rounded so that 0.11 · 100 reads 11, not 11.000000000000002.
            let (q_lo, q_hi) = range(rt.iter().map(|p| (p.x * 1e6).round() / 1e6));
            let fer_max = fer.iter().map(|p| p.y).fold(0.0, f64::max);
            figures.push((
                format!("{name}, n = {n} bits, QBER {q_lo}–{q_hi} %"),
                format!("f {f_lo:.3}–{f_hi:.3}, round trips {rt_lo:.1}–{rt_hi:.1}, frame error rate ≤ {fer_max:.3}"),
            ));
            let series = |points| Series { label: name.clone(), points, kind: SeriesKind::MarkedLine, style: None };
            efficiency.push(styled(style, series(f)));
            trips.push(styled(style, series(rt)));
        }
        let n_label = bits_label(*n);
        charts.push((
            format!("reconcile-efficiency-n{n}"),
            Chart {
                title: format!("Reconciliation efficiency vs QBER, n = {n_label} bits"),
                x_label: "QBER (%)".into(),
                y_label: "efficiency f = leak / (n·h(QBER))".into(),
                series: efficiency,
                hlines: vec![(1.0, "Shannon limit f = 1".into())],
                ..Chart::default()
            },
        ));
        charts.push((
            format!("reconcile-round-trips-n{n}"),
            Chart {
                title: format!("Round trips per frame vs QBER, n = {n_label} bits"),
                x_label: "QBER (%)".into(),
                y_label: "round trips per frame".into(),
                log_y: true,
                series: trips,
                ..Chart::default()
            },
        ));
    }
    Ok(RecipeOutput { charts, figures })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_ten_are_written_with_a_superscript() {
        assert_eq!(bits_label(10_000), "10⁴");
        assert_eq!(bits_label(100_000), "10⁵");
        assert_eq!(bits_label(16_384), "16384");
        assert_eq!(bits_label(20_000), "20000");
        assert_eq!(bits_label(1), "1");
    }
}
