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
//! Two implementations that agree bit for bit:
//! - [`toeplitz_hash_reference`]: the definition, `O(n·m)` bit operations;
//! - [`ToeplitzHash::hash`]: `y_i` is the coefficient of `z^(n−1+i)` in the GF(2) polynomial
//!   product `S(z)·X(z)` (`S = Σ s_k z^k`, `X = Σ x_j z^j`), a *middle product*: the columns
//!   are cut into square blocks of ⌈m/64⌉ words and each block's Toeplitz product is computed
//!   by the transposed Karatsuba recursion of `clmul::middle_product` in `O(N^1.585)` 64-bit
//!   carry-less word products, computing only the m output bits. Chosen over an FFT/NTT
//!   convolution because it is exact with no rounding or modulus to reason about, needs no
//!   dependency, and with the hardware carry-less multiply its constant is small enough for
//!   10⁶-bit blocks; a 10⁸-bit block is `100^1.585 ≈ 1500×` the work of a 10⁶-bit one.

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
        if self.output_len >= FFT_MIN_OUTPUT_BITS { Ok(self.hash_fft(input)) } else { Ok(self.hash_karatsuba(input)) }
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

/// Output length (bits) from which [`ToeplitzHash::hash`] uses the additive FFT.
pub const FFT_MIN_OUTPUT_BITS: usize = 1 << 20;

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
    fn rejects_bad_lengths() {
        let e = ToeplitzHash::new(10, 11, BitString::zeros(20)).unwrap_err();
        assert!(e.to_string().contains("must be in 1..=10"), "{e}");
        let e = ToeplitzHash::new(10, 5, BitString::zeros(13)).unwrap_err();
        assert!(e.to_string().contains("n + m − 1 = 14"), "{e}");
    }
}
