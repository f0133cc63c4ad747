//! Entropy functions shared by parameter estimation, the key-rate models and the pipeline:
//! the binary (Shannon) entropy `h(x)` in bits.

/// Binary entropy `h(x) = −x log2 x − (1 − x) log2(1 − x)`, with `h(0) = h(1) = 0`.
pub fn binary_entropy(x: f64) -> f64 {
    if x <= 0.0 || x >= 1.0 {
        return 0.0;
    }
    -x * x.log2() - (1.0 - x) * (1.0 - x).log2()
}

#[cfg(test)]
mod tests {
    #[test]
    fn binary_entropy_values() {
        assert_eq!(super::binary_entropy(0.5), 1.0);
        assert!((super::binary_entropy(0.11) - 0.4999).abs() < 1e-3);
        assert_eq!(super::binary_entropy(0.0), 0.0);
    }
}
