//! A parity-check matrix `H` (m × n over GF(2)) stored as flat edge arrays, check by check,
//! and its random construction from a degree distribution.

use rand::{Rng, RngExt};

use super::distribution::DegreeDistribution;
use crate::postprocess::{BitString, PostprocessError};
use crate::rng::derive_rng;

/// A sparse parity-check matrix: check `c` involves the variables
/// `check_vars[check_start[c]..check_start[c + 1]]`; the transpose, variable `v`'s checks
/// `var_checks[var_start[v]..var_start[v + 1]]`, is kept beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdpcCode {
    variables: usize,
    check_start: Vec<u32>,
    check_vars: Vec<u32>,
    var_start: Vec<u32>,
    var_checks: Vec<u32>,
}

impl LdpcCode {
    /// A code of `n` variables and `m` checks: variable degrees as `dist` prescribes, check
    /// degrees concentrated on ⌊E/m⌋ and ⌈E/m⌉ (E edges). The degree-2 variables (up to m − 1
    /// of them) lie on one path through the checks in a seeded random order, so that no cycle
    /// is made of degree-2 variables alone, and any beyond m − 1 close only long cycles (their
    /// second check lies outside the nearest [`BALL`] checks of their first, the idea of
    /// progressive edge growth, Hu, Eleftheriou, Arnold, IEEE Trans. IT 51, 2005, applied to
    /// the degree-2 subgraph only): in the plain configuration model such cycles are
    /// codewords of weight w, Poisson many with mean (λ'(0)ρ'(1))^w / 2w (Di, Richardson,
    /// Urbanke, "Weight distribution of low-density parity-check codes", IEEE Trans. IT 52,
    /// 2006), and the decoder converges on them as wrong words. The other sockets are matched
    /// by a Fisher–Yates shuffle seeded by `seed`, then the cycles of length 2 and 4 removed by
    /// swapping check sockets of the higher-degree variables (girth ≥ 6). Deterministic from
    /// `seed`.
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
        // Check sockets: check c has ⌊E/m⌋ or ⌈E/m⌉ of them.
        let (low, extra) = (edges / m, edges % m);
        let mut capacity: Vec<usize> = (0..m).map(|c| low + usize::from(c < extra)).collect();
        let mut rng = derive_rng(seed, &[0x1d9c]);
        let mut socket_check = vec![u32::MAX; edges];
        // The degree-2 variables first on a path through the checks in seeded random order
        // (the i-th joins checks π(i) and π(i + 1)), so that they form no cycle among
        // themselves; beyond m − 1 of them, each further one joins a check with a free socket
        // to one outside the ball of [`BALL`] checks nearest to it in the degree-2 graph, so
        // every cycle it closes is long.
        let mut path: Vec<u32> = (0..m as u32).collect();
        for i in (1..m).rev() {
            path.swap(i, rng.random_range(0..=i));
        }
        let mut on_path = vec![false; n];
        let mut adjacent: Vec<Vec<u32>> = vec![Vec::new(); m];
        let mut ball = Ball::new(m);
        let mut next = 0;
        for v in 0..n {
            let (a, b) = (var_start[v] as usize, var_start[v + 1] as usize);
            if b - a != 2 || low < 2 {
                continue;
            }
            let (c, d) = if next + 1 < m {
                next += 1;
                (path[next - 1], path[next])
            } else {
                let c = path[next % m];
                next += 1;
                let far = ball.far_check(c, &adjacent, &capacity, &mut rng);
                match far {
                    Some(d) if capacity[c as usize] > 0 => (c, d),
                    _ => continue,
                }
            };
            for (s, c) in [(a, c), (a + 1, d)] {
                socket_check[s] = c;
                capacity[c as usize] -= 1;
            }
            adjacent[c as usize].push(d);
            adjacent[d as usize].push(c);
            on_path[v] = true;
        }
        // The other sockets: a Fisher–Yates shuffle of the remaining check sockets.
        let mut free: Vec<u32> = (0..m as u32).flat_map(|c| std::iter::repeat_n(c, capacity[c as usize])).collect();
        for i in (1..free.len()).rev() {
            free.swap(i, rng.random_range(0..=i));
        }
        let mut free = free.into_iter();
        for socket in socket_check.iter_mut().filter(|c| **c == u32::MAX) {
            *socket = free.next().expect("one check socket per variable socket");
        }
        remove_short_cycles(&var_start, &mut socket_check, m, &on_path, &mut rng);
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
        Ok(Self::from_checks(n, check_start, check_vars))
    }

    /// The code of `n` variables whose check `c` holds `check_vars[check_start[c]..check_start[c + 1]]`,
    /// with its transpose.
    fn from_checks(n: usize, check_start: Vec<u32>, check_vars: Vec<u32>) -> Self {
        let mut var_start = vec![0u32; n + 1];
        for &v in &check_vars {
            var_start[v as usize + 1] += 1;
        }
        for v in 0..n {
            var_start[v + 1] += var_start[v];
        }
        let mut fill = var_start.clone();
        let mut var_checks = vec![0u32; check_vars.len()];
        for c in 0..check_start.len() - 1 {
            for &v in &check_vars[check_start[c] as usize..check_start[c + 1] as usize] {
                var_checks[fill[v as usize] as usize] = c as u32;
                fill[v as usize] += 1;
            }
        }
        LdpcCode { variables: n, check_start, check_vars, var_start, var_checks }
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

    /// The checks of variable `v`.
    #[inline]
    pub fn variable(&self, v: usize) -> &[u32] {
        &self.var_checks[self.var_start[v] as usize..self.var_start[v + 1] as usize]
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

/// Checks nearest to a degree-2 variable's first check (in the graph of checks joined by
/// degree-2 variables) that its second check avoids: at most this many, or a quarter of them.
const BALL: usize = 4096;

/// A breadth-first search from one check of the degree-2 graph, reused without allocation.
struct Ball {
    stamp: Vec<u32>,
    epoch: u32,
    queue: Vec<u32>,
}

impl Ball {
    fn new(checks: usize) -> Self {
        Ball { stamp: vec![0; checks], epoch: 0, queue: Vec::new() }
    }

    /// A check with a free socket outside the ball of the checks nearest to `from` (seeded
    /// random draws; any check with a free socket other than `from` if 64 draws miss).
    fn far_check(&mut self, from: u32, adjacent: &[Vec<u32>], capacity: &[usize], rng: &mut impl Rng) -> Option<u32> {
        let m = adjacent.len();
        self.epoch += 1;
        self.queue.clear();
        self.queue.push(from);
        self.stamp[from as usize] = self.epoch;
        let limit = BALL.min(m / 4).max(1);
        let mut head = 0;
        while head < self.queue.len() && self.queue.len() < limit {
            let c = self.queue[head] as usize;
            head += 1;
            for &d in &adjacent[c] {
                if self.stamp[d as usize] != self.epoch && self.queue.len() < limit {
                    self.stamp[d as usize] = self.epoch;
                    self.queue.push(d);
                }
            }
        }
        for _ in 0..64 {
            let c = rng.random_range(0..m as u32);
            if capacity[c as usize] > 0 && self.stamp[c as usize] != self.epoch {
                return Some(c);
            }
        }
        (0..m as u32).find(|&c| c != from && capacity[c as usize] > 0)
    }
}

/// Swap attempts per offending socket before the construction leaves a short cycle in place.
const SWAP_ATTEMPTS: usize = 200;

/// Removes the cycles of length 2 (a variable twice on a check, which cancels over GF(2)) and 4
/// (two variables sharing two checks, whose low-weight words make error floors): a socket on
/// such a cycle swaps checks with a random socket of another variable when the swap leaves
/// neither variable on a short cycle. The `fixed` variables (the degree-2 path) keep their
/// checks: a short cycle through one of them is cleared by moving the other variable's socket.
/// Returns the sockets still on one (0 in practice).
fn remove_short_cycles(
    var_start: &[u32],
    socket_check: &mut [u32],
    checks: usize,
    fixed: &[bool],
    rng: &mut impl Rng,
) -> usize {
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
    for v in (0..n).filter(|&v| !fixed[v]) {
        let mut attempts = 0;
        while let Some(s) = offending(v, socket_check, &members) {
            if attempts == SWAP_ATTEMPTS {
                left += 1;
                break;
            }
            attempts += 1;
            let t = rng.random_range(0..socket_check.len());
            let w = var_of(t);
            if w == v || fixed[w] || socket_check[s] == socket_check[t] {
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
    fn the_degree_two_variables_close_no_short_cycle_among_themselves() {
        // The rate-0.75 distribution has more degree-2 variables than checks, so they must
        // close cycles; as edges between their two checks, the shortest cycle (a codeword of
        // that many degree-2 variables) is still long. The plain configuration model has
        // Poisson(≈ (λ'(0)ρ'(1))^w / 2w) of each short length w, some of length 3 or 4.
        let n = 20_000;
        let dist = DegreeDistribution::elkouss_2009(0.75).unwrap();
        let code = LdpcCode::random(n, n / 4, &dist, 11).unwrap();
        let m = code.checks();
        let mut checks_of = vec![Vec::new(); n];
        for c in 0..m {
            for &v in code.check(c) {
                checks_of[v as usize].push(c);
            }
        }
        let mut adjacent: Vec<Vec<(usize, usize)>> = vec![Vec::new(); m];
        for (v, checks) in checks_of.iter().enumerate().filter(|(_, c)| c.len() == 2) {
            adjacent[checks[0]].push((checks[1], v));
            adjacent[checks[1]].push((checks[0], v));
        }
        assert!(adjacent.iter().map(Vec::len).sum::<usize>() / 2 > m, "more degree-2 variables than checks");
        // Girth by a breadth-first search from every check: a non-tree edge (a, b) closes a
        // cycle of at most dist(a) + dist(b) + 1 edges.
        let mut girth = usize::MAX;
        let mut dist = vec![usize::MAX; m];
        let mut via = vec![usize::MAX; m];
        for root in 0..m {
            let mut queue = vec![root];
            dist[root] = 0;
            let mut head = 0;
            while head < queue.len() {
                let a = queue[head];
                head += 1;
                for &(b, v) in &adjacent[a] {
                    if dist[b] == usize::MAX {
                        (dist[b], via[b]) = (dist[a] + 1, v);
                        queue.push(b);
                    } else if via[a] != v {
                        girth = girth.min(dist[a] + dist[b] + 1);
                    }
                }
            }
            for &c in &queue {
                (dist[c], via[c]) = (usize::MAX, usize::MAX);
            }
        }
        assert!(girth >= 8, "a cycle of {girth} degree-2 variables");
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
