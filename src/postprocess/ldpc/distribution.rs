//! Degree distributions of irregular LDPC codes (Richardson, Shokrollahi, Urbanke, IEEE Trans.
//! Inf. Theory 47, 619 (2001)): the edge-perspective variable-node distribution
//! `λ(x) = Σ λ_i x^(i−1)`, λ_i the fraction of edges attached to variable nodes of degree i.

/// An edge-perspective variable-node degree distribution; the check-node degrees are left to
/// the construction, which concentrates them on two neighbouring values (known to be close to
/// optimal for a given λ).
#[derive(Debug, Clone, PartialEq)]
pub struct DegreeDistribution {
    /// (degree i ≥ 2, λ_i) pairs, the λ_i summing to 1.
    pub variable: Vec<(usize, f64)>,
}

impl DegreeDistribution {
    /// The rate-½ distribution with maximum variable degree 8 of Richardson, Shokrollahi and
    /// Urbanke 2001 (Table I): `λ(x) = 0.30013x + 0.28395x² + 0.41592x⁷`.
    pub fn rsu_half_rate() -> Self {
        DegreeDistribution { variable: vec![(2, 0.30013), (3, 0.28395), (8, 0.41592)] }
    }

    /// Number of variable nodes of each degree for `n` nodes: `n·(λ_i/i)/Σ_k(λ_k/k)`, rounded
    /// so that they add up to `n` (largest remainders first).
    pub fn node_counts(&self, n: usize) -> Vec<(usize, usize)> {
        let total: f64 = self.variable.iter().map(|&(d, l)| l / d as f64).sum();
        let exact: Vec<f64> = self.variable.iter().map(|&(d, l)| n as f64 * (l / d as f64) / total).collect();
        let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
        let mut order: Vec<usize> = (0..exact.len()).collect();
        order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
        let missing = n - counts.iter().sum::<usize>();
        for &i in order.iter().take(missing) {
            counts[i] += 1;
        }
        self.variable.iter().zip(counts).map(|(&(d, _), c)| (d, c)).collect()
    }

    /// Mean variable-node degree.
    pub fn mean_variable_degree(&self) -> f64 {
        1.0 / self.variable.iter().map(|&(d, l)| l / d as f64).sum::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_counts_add_up_and_follow_the_edge_fractions() {
        let dist = DegreeDistribution::rsu_half_rate();
        let counts = dist.node_counts(10_001);
        assert_eq!(counts.iter().map(|c| c.1).sum::<usize>(), 10_001);
        let edges: usize = counts.iter().map(|&(d, c)| d * c).sum();
        for (&(d, c), &(_, lambda)) in counts.iter().zip(&dist.variable) {
            let share = (d * c) as f64 / edges as f64;
            assert!((share - lambda).abs() < 1e-3, "degree {d}: {share} vs λ = {lambda}");
        }
        let mean = edges as f64 / 10_001.0;
        assert!((mean - dist.mean_variable_degree()).abs() < 1e-2);
    }
}
