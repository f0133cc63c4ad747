//! A parity-check matrix `H` (m × n over GF(2)) stored as flat edge arrays, check by check,
//! and its random construction from a degree distribution.

use rand::{Rng, RngExt};

use super::distribution::DegreeDistribution;
use crate::postprocess::{BitString, PostprocessError};
use crate::rng::derive_rng;

/// A sparse parity-check matrix: check `c` involves the variables
/// `check_vars[check_start[c]..check_start[c + 1]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdpcCode {
    variables: usize,
    check_start: Vec<u32>,
    check_vars: Vec<u32>,
}

impl LdpcCode {
    /// A code of `n` variables and `m` checks from the configuration model: variable degrees
    /// as `dist` prescribes, check degrees concentrated on ⌊E/m⌋ and ⌈E/m⌉ (E edges), sockets
    /// matched by a Fisher–Yates shuffle seeded by `seed`, then the cycles of length 2 and 4
    /// removed by swapping check sockets (girth ≥ 6). Deterministic from `seed`.
    pub fn random(n: usize, m: usize, dist: &DegreeDistribution, seed: u64) -> Result<Self, PostprocessError> {
        let max_degree = dist.variable.iter().map(|v| v.0).max().unwrap_or(0);
        if n == 0 || m == 0 || m >= n || max_degree > m || dist.variable.iter().any(|v| v.0 < 2) {
            return Err(PostprocessError::Size {
                name: "ldpc checks",
                value: m,
                allowed: format!(
                    "must be in 1..{n} (the frame length) and at least the largest variable degree {max_degree}, \
                     with every variable degree ≥ 2"
                ),
            });
        }
        // Variable sockets, variable by variable: socket s belongs to variable var_of[s].
        let mut var_start = Vec::with_capacity(n + 1);
        var_start.push(0u32);
        for (degree, count) in dist.node_counts(n) {
            for _ in 0..count {
                var_start.push(var_start.last().unwrap() + degree as u32);
            }
        }
        let edges = *var_start.last().unwrap() as usize;
        // Check sockets, shuffled.
        let (low, extra) = (edges / m, edges % m);
        let mut socket_check: Vec<u32> =
            (0..m as u32).flat_map(|c| std::iter::repeat_n(c, low + usize::from((c as usize) < extra))).collect();
        let mut rng = derive_rng(seed, &[0x1d9c]);
        for i in (1..edges).rev() {
            let j = rng.random_range(0..=i);
            socket_check.swap(i, j);
        }
        remove_short_cycles(&var_start, &mut socket_check, m, &mut rng);
        // Transpose to check-major order.
        let mut check_start = vec![0u32; m + 1];
        for &c in &socket_check {
            check_start[c as usize + 1] += 1;
        }
        for c in 0..m {
            check_start[c + 1] += check_start[c];
        }
        let mut fill = check_start.clone();
        let mut check_vars = vec![0u32; edges];
        for v in 0..n {
            for s in var_start[v]..var_start[v + 1] {
                let c = socket_check[s as usize] as usize;
                check_vars[fill[c] as usize] = v as u32;
                fill[c] += 1;
            }
        }
        Ok(LdpcCode { variables: n, check_start, check_vars })
    }

    /// Frame length n (variables).
    pub fn len(&self) -> usize {
        self.variables
    }

    /// Whether the code has no variables (never, for a constructed code).
    pub fn is_empty(&self) -> bool {
        self.variables == 0
    }

    /// Number of checks m: the syndrome's length, the bits a frame discloses.
    pub fn checks(&self) -> usize {
        self.check_start.len() - 1
    }

    /// Number of edges (ones of `H`).
    pub fn edges(&self) -> usize {
        self.check_vars.len()
    }

    /// Largest check degree.
    pub fn max_check_degree(&self) -> usize {
        self.check_start.windows(2).map(|w| (w[1] - w[0]) as usize).max().unwrap_or(0)
    }

    /// The variables of check `c`.
    #[inline]
    pub fn check(&self, c: usize) -> &[u32] {
        &self.check_vars[self.check_start[c] as usize..self.check_start[c + 1] as usize]
    }

    /// Edge index range of check `c` (positions in the edge arrays).
    #[inline]
    pub(super) fn check_edges(&self, c: usize) -> std::ops::Range<usize> {
        self.check_start[c] as usize..self.check_start[c + 1] as usize
    }

    /// The flat arrays: check `c`'s variables are `vars[starts[c]..starts[c + 1]]`.
    #[inline]
    pub(super) fn raw(&self) -> (&[u32], &[u32]) {
        (&self.check_start, &self.check_vars)
    }

    /// The syndrome `H·x` of a frame of [`len`](Self::len) bits.
    ///
    /// # Panics
    /// If `x` is not [`len`](Self::len) bits long.
    pub fn syndrome(&self, x: &BitString) -> BitString {
        assert_eq!(x.len(), self.variables, "frame length");
        let mut s = BitString::zeros(self.checks());
        for c in 0..self.checks() {
            if self.check(c).iter().fold(false, |p, &v| p ^ x.get(v as usize)) {
                s.set(c, true);
            }
        }
        s
    }
}

/// Swap attempts per offending socket before the construction leaves a short cycle in place.
const SWAP_ATTEMPTS: usize = 200;

/// Removes the cycles of length 2 (a variable twice on a check, which cancels over GF(2)) and 4
/// (two variables sharing two checks, whose low-weight words make error floors): a socket on
/// such a cycle swaps checks with a random socket of another variable when the swap leaves
/// neither variable on a short cycle. Returns the sockets still on one (0 in practice).
fn remove_short_cycles(var_start: &[u32], socket_check: &mut [u32], checks: usize, rng: &mut impl Rng) -> usize {
    let n = var_start.len() - 1;
    let var_of = |s: usize| var_start.partition_point(|&start| start as usize <= s) - 1;
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); checks];
    for v in 0..n {
        for s in var_start[v]..var_start[v + 1] {
            members[socket_check[s as usize] as usize].push(v as u32);
        }
    }
    let mut stamp = vec![0u32; n];
    let mut epoch = 0u32;
    // The first socket of `v` on a short cycle, if any.
    let mut offending = |v: usize, socket_check: &[u32], members: &[Vec<u32>]| -> Option<usize> {
        epoch += 1;
        let (a, b) = (var_start[v] as usize, var_start[v + 1] as usize);
        for s in a..b {
            let c = socket_check[s];
            if socket_check[a..s].contains(&c) {
                return Some(s);
            }
            // Another variable already seen on an earlier check of `v` closes a 4-cycle.
            let others = members[c as usize].iter().filter(|&&w| w as usize != v);
            if others.clone().any(|&w| stamp[w as usize] == epoch) {
                return Some(s);
            }
            for &w in others {
                stamp[w as usize] = epoch;
            }
        }
        None
    };
    let swap = |s: usize, t: usize, v: usize, w: usize, socket_check: &mut [u32], members: &mut [Vec<u32>]| {
        let (cs, ct) = (socket_check[s] as usize, socket_check[t] as usize);
        let at = members[cs].iter().position(|&x| x as usize == v).unwrap();
        members[cs][at] = w as u32;
        let at = members[ct].iter().position(|&x| x as usize == w).unwrap();
        members[ct][at] = v as u32;
        socket_check.swap(s, t);
    };
    let mut left = 0;
    for v in 0..n {
        let mut attempts = 0;
        while let Some(s) = offending(v, socket_check, &members) {
            if attempts == SWAP_ATTEMPTS {
                left += 1;
                break;
            }
            attempts += 1;
            let t = rng.random_range(0..socket_check.len());
            let w = var_of(t);
            if w == v || socket_check[s] == socket_check[t] {
                continue;
            }
            swap(s, t, v, w, socket_check, &mut members);
            // Keep the swap only if it cleared this socket and left `w` clean.
            let cleared = offending(v, socket_check, &members).is_none_or(|s2| s2 > s);
            if !cleared || offending(w, socket_check, &members).is_some() {
                swap(s, t, v, w, socket_check, &mut members);
            }
        }
    }
    left
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_random_code_has_the_prescribed_degrees_and_no_repeated_edge() {
        let dist = DegreeDistribution::rsu_half_rate();
        let code = LdpcCode::random(2000, 1000, &dist, 7).unwrap();
        assert_eq!((code.len(), code.checks()), (2000, 1000));
        let mut degree = vec![0usize; 2000];
        for c in 0..code.checks() {
            let vars = code.check(c);
            let mut sorted = vars.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), vars.len(), "check {c} repeats a variable");
            for &v in vars {
                degree[v as usize] += 1;
            }
        }
        let mut expected: Vec<usize> =
            dist.node_counts(2000).into_iter().flat_map(|(d, count)| std::iter::repeat_n(d, count)).collect();
        expected.sort_unstable();
        degree.sort_unstable();
        assert_eq!(degree, expected);
        let (lo, hi) = (code.edges() / 1000, code.edges().div_ceil(1000));
        assert!((0..1000).all(|c| (lo..=hi).contains(&code.check(c).len())));
    }

    #[test]
    fn no_two_variables_share_two_checks() {
        // Girth ≥ 6: every pair of variables meets in at most one check.
        let code = LdpcCode::random(3000, 1500, &DegreeDistribution::rsu_half_rate(), 9).unwrap();
        let mut pairs = std::collections::HashSet::new();
        for c in 0..code.checks() {
            let vars = code.check(c);
            for (i, &a) in vars.iter().enumerate() {
                for &b in &vars[i + 1..] {
                    assert!(pairs.insert((a.min(b), a.max(b))), "variables {a} and {b} share two checks");
                }
            }
        }
    }

    #[test]
    fn the_construction_is_deterministic_from_its_seed() {
        let dist = DegreeDistribution::rsu_half_rate();
        let a = LdpcCode::random(1000, 500, &dist, 3).unwrap();
        assert_eq!(a, LdpcCode::random(1000, 500, &dist, 3).unwrap());
        assert_ne!(a, LdpcCode::random(1000, 500, &dist, 4).unwrap());
    }

    #[test]
    fn the_syndrome_is_linear() {
        let code = LdpcCode::random(1000, 400, &DegreeDistribution::rsu_half_rate(), 1).unwrap();
        let mut rng = derive_rng(5, &[]);
        let (x, y) = (BitString::random(1000, &mut rng), BitString::random(1000, &mut rng));
        assert_eq!(code.syndrome(&x.xor(&y)), code.syndrome(&x).xor(&code.syndrome(&y)));
        assert_eq!(code.syndrome(&BitString::zeros(1000)), BitString::zeros(400));
    }
}
