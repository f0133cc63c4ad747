//! The mother codes of rate-adaptive reconciliation: one LDPC code per Table I rate of Elkouss,
//! Leverrier, Alléaume, Boutros 2009 (arXiv:0901.2140), built deterministically from a seed,
//! cached per process, with its public puncturing and shortening orders.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rand::RngExt;

use super::{DegreeDistribution, LdpcCode};
use crate::postprocess::PostprocessError;
use crate::rng::derive_rng;

/// A mother code with its public puncturing and shortening orders.
#[derive(Debug)]
pub struct MotherCode {
    /// Design rate R₀ = 1 − m/n.
    pub rate: f64,
    /// The parity-check matrix.
    pub code: LdpcCode,
    /// Positions that may be punctured, in order: no two share a check.
    pub puncture_order: Vec<u32>,
    /// The other positions in a seeded random order: the first `s` are shortened.
    pub shorten_order: Vec<u32>,
}

/// Mother codes by (n, rate in hundredths, seed).
type CodeCache = Mutex<HashMap<(usize, u32, u64), Arc<MotherCode>>>;

/// The process-wide cache of mother codes.
fn cache() -> &'static CodeCache {
    static CACHE: OnceLock<CodeCache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

impl MotherCode {
    /// The mother code of Table I rate `rate` and length `n` built from `seed`, constructed on
    /// first use and cached for the process.
    pub fn get(n: usize, rate: f64, seed: u64) -> Result<Arc<MotherCode>, PostprocessError> {
        let key = (n, (rate * 100.0).round() as u32, seed);
        let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(code) = cache.get(&key) {
            return Ok(code.clone());
        }
        let dist = DegreeDistribution::elkouss_2009(rate).ok_or_else(|| PostprocessError::Size {
            name: "ldpc mother-code rate (hundredths)",
            value: key.1 as usize,
            allowed: "must be one of 50, 55, …, 90 (Elkouss et al. 2009, Table I)".into(),
        })?;
        let checks = ((1.0 - rate) * n as f64).round() as usize;
        let code = LdpcCode::random(n, checks, &dist, seed)?;
        let built = Arc::new(Self::orders(rate, code, seed));
        cache.insert(key, built.clone());
        Ok(built)
    }

    /// The puncturing order (variables by increasing degree, ties in seeded random order,
    /// taken greedily when none of their checks already has a punctured neighbour) and the
    /// shortening order of the rest.
    fn orders(rate: f64, code: LdpcCode, seed: u64) -> MotherCode {
        let n = code.len();
        let mut degree = vec![0u32; n];
        let mut checks_of: Vec<Vec<u32>> = vec![Vec::new(); n];
        for c in 0..code.checks() {
            for &v in code.check(c) {
                degree[v as usize] += 1;
                checks_of[v as usize].push(c as u32);
            }
        }
        let mut rng = derive_rng(seed, &[0x9e7c]);
        let mut order: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        order.sort_by_key(|&v| degree[v as usize]);
        let mut tainted = vec![false; code.checks()];
        let (mut puncture_order, mut rest) = (Vec::new(), Vec::new());
        for v in order {
            let checks = &checks_of[v as usize];
            if checks.iter().all(|&c| !tainted[c as usize]) {
                checks.iter().for_each(|&c| tainted[c as usize] = true);
                puncture_order.push(v);
            } else {
                rest.push(v);
            }
        }
        for i in (1..rest.len()).rev() {
            rest.swap(i, rng.random_range(0..=i));
        }
        MotherCode { rate, code, puncture_order, shorten_order: rest }
    }
}
