//! Privacy amplification by Toeplitz hashing.
//!
//! A random m×n Toeplitz matrix `T` over GF(2) with `T[i][j] = s[i − j + n − 1]`, defined by a
//! seed `s` of `n + m − 1` uniform bits, maps the reconciled n-bit key `x` to the m-bit final
//! key `y = T·x`. Toeplitz matrices form a 2-universal family (Carter & Wegman 1979; Krawczyk,
//! CRYPTO '94, LNCS 839), so by the leftover hash lemma the output is ε-close to uniform and
//! independent of Eve's information when m is below the smooth min-entropy by 2·log₂(1/ε)
//! (Tomamichel, Lim, Gisin, Renner, Nat. Commun. 3, 634 (2012), eq. 2); choosing m is the key
//! rate's job, not this module's. The seed must be fresh for every block and is public.
//!
//! Three implementations that agree bit for bit:
//! - [`toeplitz_hash_reference`]: the definition, `O(n·m)` bit operations;
//! - [`ToeplitzHash::hash_karatsuba`]: `y_i` is the coefficient of `z^(n−1+i)` in the GF(2)
//!   polynomial product `S(z)·X(z)` (`S = Σ s_k z^k`, `X = Σ x_j z^j`), a *middle product*: the
//!   columns are cut into square blocks of ⌈m/64⌉ words and each block's Toeplitz product is
//!   computed by the transposed Karatsuba recursion of `clmul::middle_product` in
//!   `O(N^1.585)` 64-bit carry-less word products, computing only the m output bits;
//! - [`ToeplitzHash::hash_fft`]: the same coefficients read off the whole product `S·X`,
//!   computed by the additive FFT over GF(2⁶⁴) of `additive_fft` (Lin, Chung, Han 2014; Cantor
//!   basis of Gao & Mateer 2010) on 32-bit pieces: `O(N log N)` GF(2⁶⁴) products and
//!   `O(N log^1.585 N)` word XORs for the basis change (N = (2n + m)/32). It is exact by
//!   construction — a product of two 32-bit pieces has degree ≤ 62, so no field reduction or
//!   rounding ever touches a coefficient of the result (the argument is in `additive_fft`) — and
//!   needs no dependency. Working memory: two arrays of `2^K` words, `2^K` the power of two at
//!   or above `(2n + m)/32` — or at or above `(1.5n + m)/32` when the key is cut into two
//!   halves, which the FFT does when that is the cheaper (`additive_fft::product_window`) —,
//!   at most `(2n + m)/2` bytes: 0.13 GiB for n = 10⁸, m = 5·10⁷ and 1 GiB for n = 10⁹,
//!   m = 5·10⁸ (two halves; peaks measured in BENCHMARKS.md).
//!
//! [`ToeplitzHash::hash`] picks the faster of the two fast methods from a cost model fitted to
//! the criterion bench `privacy` on this project's 2-core machine (one core):
//! Karatsuba ≈ `KARATSUBA_SECONDS · ⌈n/L⌉ · L^1.585` with `L` the block size in bits (≈ m), FFT
//! ≈ `FFT_SECONDS · 2^K · K`. With m = n/2 the model puts the FFT 1.7× faster at n = 10⁶
//! (measured in session 13 with the `VPCLMULQDQ` kernels: 2.7× by the minima of alternated
//! runs) and Karatsuba faster at n = 10⁵; the switch falls between n = 10⁵ and 2·10⁵. Both
//! paths zeroize their key-dependent scratch and split their work across rayon threads only over independent exact pieces, so
//! the output does not depend on the number of threads.

pub(crate) mod additive_fft;
pub(crate) mod clmul;
pub(crate) mod gf64;

use rand::Rng;
use rayon::prelude::*;
use zeroize::Zeroize;

use super::PostprocessError;
use super::bits::{BitString, extract_bits, words_for};

/// A Toeplitz hash from `n` to `m` bits with its seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToeplitzHash {
    input_len: usize,
    output_len: usize,
    seed: BitString,
}

impl ToeplitzHash {
    /// The hash from `input_len` to `output_len` bits (`1 <= output_len <= input_len`) with the
    /// given seed of `input_len + output_len − 1` bits.
    pub fn new(input_len: usize, output_len: usize, seed: BitString) -> Result<Self, PostprocessError> {
        check_lengths(input_len, output_len)?;
        let expected = input_len + output_len - 1;
        if seed.len() != expected {
            return Err(PostprocessError::Size {
                name: "Toeplitz seed length",
                value: seed.len(),
                allowed: format!("must be n + m − 1 = {expected}"),
            });
        }
        Ok(ToeplitzHash { input_len, output_len, seed })
    }

    /// A hash with a fresh uniform seed drawn from `rng`.
    pub fn random(input_len: usize, output_len: usize, rng: &mut impl Rng) -> Result<Self, PostprocessError> {
        check_lengths(input_len, output_len)?;
        let seed = BitString::random(input_len + output_len - 1, rng);
        Self::new(input_len, output_len, seed)
    }

    /// Input length n (bits).
    pub fn input_len(&self) -> usize {
        self.input_len
    }

    /// Output length m (bits).
    pub fn output_len(&self) -> usize {
        self.output_len
    }

    /// The seed (public: Alice sends it to Bob).
    pub fn seed(&self) -> &BitString {
        &self.seed
    }

    /// `T·x` by the faster exact method for this size (see the module doc).
    pub fn hash(&self, input: &BitString) -> Result<BitString, PostprocessError> {
        self.check_input(input)?;
        if fft_is_faster(self.input_len, self.output_len) {
            Ok(self.hash_fft(input))
        } else {
            Ok(self.hash_karatsuba(input))
        }
    }

    /// `T·x` as the middle product computed with the additive FFT over GF(2⁶⁴).
    pub fn hash_fft(&self, input: &BitString) -> BitString {
        debug_assert_eq!(input.len(), self.input_len);
        let (n, m) = (self.input_len, self.output_len);
        let out = additive_fft::product_window(self.seed.words(), n + m - 1, input.words(), n, n - 1, m);
        BitString::from_words(out, m)
    }

    /// `T·x` with the blocked carry-less Karatsuba middle product.
    pub fn hash_karatsuba(&self, input: &BitString) -> BitString {
        debug_assert_eq!(input.len(), self.input_len);
        // Square blocks of L = 64·⌈m/64⌉ columns: y = Σ_c T_c·x_c, each T_c an L×L Toeplitz
        // matrix, i.e. a middle product with the seed window starting at bit n − 1 − c·L of the
        // seed preceded by L zero bits (the window's first bit is never used).
        let (n, m) = (self.input_len, self.output_len);
        let block_words = words_for(m);
        let block_bits = 64 * block_words;
        let mut padded_seed = vec![0u64; block_words];
        padded_seed.extend_from_slice(self.seed.words());
        // Column blocks run in parallel (rayon); XOR is associative and commutative, so the
        // result does not depend on the number of threads.
        let xor_into = |mut acc: Vec<u64>, part: &[u64]| {
            for (o, y) in acc.iter_mut().zip(part) {
                *o ^= y;
            }
            acc
        };
        let out = input
            .words()
            .par_chunks(block_words)
            .enumerate()
            .fold(
                || vec![0u64; block_words],
                |acc, (c, chunk)| {
                    let sigma = extract_bits(&padded_seed, n - 1 - c * block_bits, 2 * block_bits);
                    let mut x = chunk.to_vec();
                    x.resize(block_words, 0);
                    let mut part = clmul::middle_product(&sigma, &x);
                    let acc = xor_into(acc, &part);
                    x.zeroize();
                    part.zeroize();
                    acc
                },
            )
            .reduce(
                || vec![0u64; block_words],
                |a, mut b| {
                    let a = xor_into(a, &b);
                    b.zeroize();
                    a
                },
            );
        BitString::from_words(out, m)
    }

    /// `T·x` by the definition (slow; for tests and small blocks).
    pub fn hash_reference(&self, input: &BitString) -> Result<BitString, PostprocessError> {
        self.check_input(input)?;
        Ok(toeplitz_hash_reference(input, &self.seed, self.output_len))
    }

    fn check_input(&self, input: &BitString) -> Result<(), PostprocessError> {
        if input.len() != self.input_len {
            return Err(PostprocessError::LengthMismatch {
                what: "Toeplitz input and hash",
                left: input.len(),
                right: self.input_len,
            });
        }
        Ok(())
    }
}

/// Seconds per `L^1.585` unit of a Karatsuba column block (fitted: 32.7 ms at n = 10⁶ and
/// 1.13 s at n = 10⁷, m = n/2, one core).
const KARATSUBA_SECONDS: f64 = 1.45e-11;
/// Seconds per `2^K · K` unit of the additive-FFT product (fitted before session 12: 76 ms at
/// n = 10⁶ and 0.59 s at n = 10⁷, m = n/2, one core, 3.1e-8; session 12's tile kernels took
/// it to 1.7e-8; session 13's `VPCLMULQDQ` kernels to 8e-9: at n = 10⁶ the example gave the
/// FFT 14–37 ms against Karatsuba's 38–83 ms, 6 alternated runs each at load 8 — 5.2e-9 by the
/// ratio of the minima —, rounded up so that n = 10⁵, where Karatsuba measured faster, keeps it).
const FFT_SECONDS: f64 = 8e-9;

/// Whether the additive FFT is expected to be faster than Karatsuba for an n → m hash.
pub fn fft_is_faster(n: usize, m: usize) -> bool {
    let block_bits = 64 * words_for(m);
    let karatsuba = KARATSUBA_SECONDS * n.div_ceil(block_bits) as f64 * (block_bits as f64).powf(1.585);
    let size = ((n + m - 1).div_ceil(32) + n.div_ceil(32)).next_power_of_two().max(4);
    let fft = FFT_SECONDS * size as f64 * f64::from(size.trailing_zeros());
    fft < karatsuba
}

fn check_lengths(n: usize, m: usize) -> Result<(), PostprocessError> {
    if n == 0 {
        return Err(PostprocessError::Size {
            name: "Toeplitz input length n",
            value: 0,
            allowed: "must be >= 1".into(),
        });
    }
    if m == 0 || m > n {
        return Err(PostprocessError::Size {
            name: "Toeplitz output length m",
            value: m,
            allowed: format!("must be in 1..={n}"),
        });
    }
    Ok(())
}

/// The reference Toeplitz product: `y_i = ⊕_j s[i − j + n − 1]·x_j` for `i < m`, bit by bit.
///
/// # Panics
/// If `seed` does not have `n + m − 1` bits.
pub fn toeplitz_hash_reference(input: &BitString, seed: &BitString, output_len: usize) -> BitString {
    let n = input.len();
    assert_eq!(seed.len(), n + output_len - 1, "seed must have n + m − 1 bits");
    let mut out = BitString::zeros(output_len);
    for i in 0..output_len {
        let mut acc = false;
        for j in 0..n {
            acc ^= seed.get(i + n - 1 - j) & input.get(j);
        }
        out.set(i, acc);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::derive_rng;

    #[test]
    fn fast_equals_reference_on_awkward_sizes() {
        let mut rng = derive_rng(11, &[0]);
        for (n, m) in [(1, 1), (2, 1), (63, 17), (64, 64), (65, 1), (130, 65), (1000, 500), (1601, 1599), (3000, 7)] {
            let x = BitString::random(n, &mut rng);
            let h = ToeplitzHash::random(n, m, &mut rng).unwrap();
            assert_eq!(h.hash(&x).unwrap(), h.hash_reference(&x).unwrap(), "n = {n}, m = {m}");
        }
    }

    #[test]
    fn matrix_definition_on_a_tiny_case() {
        // n = 3, m = 2, s = s0..s3: T = [[s2 s1 s0], [s3 s2 s1]].
        let seed = BitString::from_bytes(&[1, 0, 1, 1]);
        let x = BitString::from_bytes(&[1, 1, 0]);
        // y0 = s2·x0 ⊕ s1·x1 ⊕ s0·x2 = 1; y1 = s3·x0 ⊕ s2·x1 ⊕ s1·x2 = 0.
        assert_eq!(toeplitz_hash_reference(&x, &seed, 2).to_bytes(), vec![1, 0]);
    }

    #[test]
    fn the_method_switches_between_the_measured_sizes() {
        // Measured (session 13, with VPCLMULQDQ): Karatsuba faster at n = 10⁵, the FFT at
        // n = 10⁶ and above (m = n/2).
        assert!(!fft_is_faster(100_000, 50_000));
        assert!(fft_is_faster(1_000_000, 500_000));
        assert!(fft_is_faster(10_000_000, 5_000_000));
        assert!(fft_is_faster(100_000_000, 50_000_000));
        // A short output keeps Karatsuba's cost linear in n: no switch.
        assert!(!fft_is_faster(100_000_000, 1_000));
    }

    #[test]
    fn rejects_bad_lengths() {
        let e = ToeplitzHash::new(10, 11, BitString::zeros(20)).unwrap_err();
        assert!(e.to_string().contains("must be in 1..=10"), "{e}");
        let e = ToeplitzHash::new(10, 5, BitString::zeros(13)).unwrap_err();
        assert!(e.to_string().contains("n + m − 1 = 14"), "{e}");
    }
}
