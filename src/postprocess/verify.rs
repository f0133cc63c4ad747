//! Error verification: do Alice's and Bob's reconciled keys agree?
//!
//! Polynomial universal hashing over GF(2⁶⁴) (Wegman & Carter 1981; the ε-almost-universal
//! polynomial family, e.g. Bernstein, "The Poly1305-AES message-authentication code", §3, or
//! Stinson, "Universal hashing and authentication codes", 1994). The key is cut into L 64-bit
//! words `w₁..w_L` (zero-padded) followed by its length in bits `w_{L+1}`, and for a public
//! uniformly random point `r` the tag is `t(r) = Σᵢ wᵢ·r^(L+2−i)` in GF(2⁶⁴) =
//! GF(2)\[x\]/(x⁶⁴ + x⁴ + x³ + x + 1). Two different keys give the same tag only if `r` is a root
//! of their nonzero difference polynomial, of degree at most L+1, so
//! `P[collision] ≤ (L+1)/2⁶⁴` per tag; `t` tags with independent points give `((L+1)/2⁶⁴)^t`,
//! and [`VerificationHash::new`] picks the smallest `t` reaching the requested ε_cor.
//!
//! Alice draws the points, sends them with her tags; Bob compares with his tags. The tags
//! disclose `64·t` bits about the key ([`VerificationHash::disclosed_bits`]), which the key
//! rate must subtract.

use rand::Rng;

use super::PostprocessError;
use super::bits::BitString;
use super::privacy::clmul::clmul64;

/// x⁶⁴ ≡ x⁴ + x³ + x + 1 modulo the field polynomial.
const REDUCTION: u64 = 0x1B;

/// Product in GF(2⁶⁴) = GF(2)\[x\]/(x⁶⁴ + x⁴ + x³ + x + 1).
#[inline]
pub fn gf64_mul(a: u64, b: u64) -> u64 {
    let p = clmul64(a, b);
    let (lo, hi) = (p as u64, (p >> 64) as u64);
    let q = clmul64(hi, REDUCTION); // at most 68 bits
    let (q_lo, q_hi) = (q as u64, (q >> 64) as u64);
    lo ^ q_lo ^ (clmul64(q_hi, REDUCTION) as u64)
}

/// A set of polynomial hashes (their public evaluation points) for keys of a given length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationHash {
    key_len: usize,
    points: Vec<u64>,
}

/// The result of comparing tags.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct VerifyOutcome {
    /// Whether every tag matched (the keys are equal except with probability ≤ ε_cor).
    pub matched: bool,
    /// Bits of tag disclosed (64 per tag).
    pub disclosed_bits: u64,
    /// The collision probability bound of the hashes used.
    pub epsilon_cor: f64,
}

impl VerificationHash {
    /// Enough independent hashes for keys of `key_len` bits that two different keys collide
    /// with probability at most `epsilon_cor` (in `(0, 1)`); points drawn from `rng`.
    pub fn new(key_len: usize, epsilon_cor: f64, rng: &mut impl Rng) -> Result<Self, PostprocessError> {
        if !(epsilon_cor > 0.0 && epsilon_cor < 1.0) {
            return Err(PostprocessError::Epsilon { name: "epsilon_cor", value: epsilon_cor });
        }
        let per_tag = Self::per_tag_bound(key_len);
        let tags = (epsilon_cor.ln() / per_tag.ln()).ceil().max(1.0) as usize;
        Ok(VerificationHash { key_len, points: (0..tags).map(|_| rng.next_u64()).collect() })
    }

    /// Collision bound of one tag: `(L+1)/2⁶⁴` with `L = ⌈len/64⌉`.
    pub fn per_tag_bound(key_len: usize) -> f64 {
        (key_len.div_ceil(64) as f64 + 1.0) / 18_446_744_073_709_551_616.0
    }

    /// The collision bound of all tags together.
    pub fn epsilon_cor(&self) -> f64 {
        Self::per_tag_bound(self.key_len).powi(self.points.len() as i32)
    }

    /// Number of 64-bit tags.
    pub fn tag_count(&self) -> usize {
        self.points.len()
    }

    /// Bits the tags disclose.
    pub fn disclosed_bits(&self) -> u64 {
        64 * self.points.len() as u64
    }

    /// The tags of `key` (Horner evaluation, one GF(2⁶⁴) product per word).
    pub fn tags(&self, key: &BitString) -> Result<Vec<u64>, PostprocessError> {
        if key.len() != self.key_len {
            return Err(PostprocessError::LengthMismatch {
                what: "verified key",
                left: key.len(),
                right: self.key_len,
            });
        }
        Ok(self
            .points
            .iter()
            .map(|&r| {
                let acc = key.words().iter().fold(0u64, |acc, &w| gf64_mul(acc ^ w, r));
                gf64_mul(acc ^ key.len() as u64, r)
            })
            .collect())
    }

    /// Bob's check: his key's tags against Alice's.
    pub fn check(&self, alice_tags: &[u64], bob: &BitString) -> Result<VerifyOutcome, PostprocessError> {
        let matched = self.tags(bob)? == alice_tags;
        Ok(VerifyOutcome { matched, disclosed_bits: self.disclosed_bits(), epsilon_cor: self.epsilon_cor() })
    }
}

/// Verifies that `alice` and `bob` agree with collision probability at most `epsilon_cor`,
/// with fresh points from `rng` (both parties simulated: Alice's tags, Bob's comparison).
pub fn verify_keys(
    alice: &BitString,
    bob: &BitString,
    epsilon_cor: f64,
    rng: &mut impl Rng,
) -> Result<VerifyOutcome, PostprocessError> {
    if alice.len() != bob.len() {
        return Err(PostprocessError::LengthMismatch { what: "verified keys", left: alice.len(), right: bob.len() });
    }
    let hash = VerificationHash::new(alice.len(), epsilon_cor, rng)?;
    let tags = hash.tags(alice)?;
    hash.check(&tags, bob)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::derive_rng;

    #[test]
    fn field_axioms_on_samples() {
        let mut rng = derive_rng(5, &[0]);
        for _ in 0..200 {
            let (a, b, c) = (rng.next_u64(), rng.next_u64(), rng.next_u64());
            assert_eq!(gf64_mul(a, b), gf64_mul(b, a));
            assert_eq!(gf64_mul(gf64_mul(a, b), c), gf64_mul(a, gf64_mul(b, c)));
            assert_eq!(gf64_mul(a, b ^ c), gf64_mul(a, b) ^ gf64_mul(a, c));
            assert_eq!(gf64_mul(a, 1), a);
        }
        // x^63 · x = x^64 = x^4 + x^3 + x + 1.
        assert_eq!(gf64_mul(1 << 63, 2), 0x1B);
    }

    #[test]
    fn tag_count_reaches_epsilon() {
        let mut rng = derive_rng(5, &[1]);
        // 10^5 bits: L + 1 = 1564, per tag ≈ 8.5e-17: one tag for 1e-10, two for 1e-20.
        let h = VerificationHash::new(100_000, 1e-10, &mut rng).unwrap();
        assert_eq!(h.tag_count(), 1);
        assert!(h.epsilon_cor() <= 1e-10);
        let h = VerificationHash::new(100_000, 1e-20, &mut rng).unwrap();
        assert_eq!(h.tag_count(), 2);
        assert!(h.epsilon_cor() <= 1e-20);
        for e in [0.0, 1.0, -1.0, f64::NAN] {
            assert!(VerificationHash::new(10, e, &mut rng).unwrap_err().to_string().contains("(0, 1)"));
        }
    }

    #[test]
    fn detects_every_single_bit_flip() {
        let mut rng = derive_rng(5, &[2]);
        let alice = BitString::random(1000, &mut rng);
        let hash = VerificationHash::new(1000, 1e-12, &mut rng).unwrap();
        let tags = hash.tags(&alice).unwrap();
        assert!(hash.check(&tags, &alice).unwrap().matched);
        for i in 0..1000 {
            let mut bob = alice.clone();
            bob.flip(i);
            assert!(!hash.check(&tags, &bob).unwrap().matched, "flip of bit {i} not caught");
        }
    }
}
