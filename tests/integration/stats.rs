//! Statistical helpers: every Monte-Carlo assertion compares with an expectation and a
//! tolerance in standard deviations, on a fixed seed.

use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Tolerance of single comparisons, in standard deviations. With a few dozen comparisons per
/// test the chance of a false failure for a correct engine is below 1e-3 (and fixed seeds make
/// every run identical).
pub const Z_TOLERANCE: f64 = 4.0;

/// z-score of `successes` out of `trials` against probability `p`.
pub fn z_binomial(successes: u64, trials: u64, p: f64) -> f64 {
    let n = trials as f64;
    let sd = (n * p * (1.0 - p)).sqrt();
    if sd == 0.0 {
        return if successes as f64 == n * p { 0.0 } else { f64::INFINITY };
    }
    (successes as f64 - n * p) / sd
}

/// Asserts `successes/trials` agrees with `p` within [`Z_TOLERANCE`] standard deviations.
pub fn assert_binomial(what: &str, successes: u64, trials: u64, p: f64) {
    let z = z_binomial(successes, trials, p);
    assert!(
        z.abs() < Z_TOLERANCE,
        "{what}: measured {successes}/{trials} = {:.6e}, expected {p:.6e}, z = {z:.2}",
        successes as f64 / trials as f64
    );
}

/// Two-sample z-score of the proportions `x1/n1` and `x2/n2` (pooled variance).
pub fn z_two_sample(x1: u64, n1: u64, x2: u64, n2: u64) -> f64 {
    let (a, b) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let pooled = (x1 + x2) as f64 / (n1 + n2) as f64;
    let sd = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    if sd == 0.0 { 0.0 } else { (a - b) / sd }
}

/// p-value of the chi-square test of homogeneity of two histograms over the same bins (bins
/// with fewer than 5 expected counts in total are merged into their neighbour).
pub fn chi_square_homogeneity(a: &[u64], b: &[u64]) -> f64 {
    assert_eq!(a.len(), b.len());
    // Merge sparse bins from the tail.
    let mut bins: Vec<(u64, u64)> = Vec::new();
    let mut acc = (0u64, 0u64);
    for (&x, &y) in a.iter().zip(b) {
        acc = (acc.0 + x, acc.1 + y);
        if acc.0 + acc.1 >= 10 {
            bins.push(acc);
            acc = (0, 0);
        }
    }
    if acc.0 + acc.1 > 0 {
        match bins.last_mut() {
            Some(last) => *last = (last.0 + acc.0, last.1 + acc.1),
            None => bins.push(acc),
        }
    }
    let (na, nb) = (bins.iter().map(|b| b.0).sum::<u64>() as f64, bins.iter().map(|b| b.1).sum::<u64>() as f64);
    let total = na + nb;
    let mut chi2 = 0.0;
    for &(x, y) in &bins {
        let col = (x + y) as f64;
        let (ea, eb) = (col * na / total, col * nb / total);
        chi2 += (x as f64 - ea).powi(2) / ea + (y as f64 - eb).powi(2) / eb;
    }
    let dof = (bins.len() - 1).max(1) as f64;
    1.0 - ChiSquared::new(dof).unwrap().cdf(chi2)
}
