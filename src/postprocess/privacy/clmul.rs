//! Middle products of polynomials over GF(2) packed in 64-bit words (bit `i` of word `w` is the
//! coefficient of `x^(64w+i)`), i.e. Toeplitz matrix–vector products: carry-less 64×64-bit word
//! products, the schoolbook method for short operands and the transposed Karatsuba recursion
//! (Karatsuba & Ofman 1962; Hanrot, Quercia, Zimmermann 2004) above, `O(N^1.585)` word
//! products for `N` words.
//!
//! The word product uses the x86-64 `PCLMULQDQ` instruction when the CPU has it (checked at
//! run time) and a portable 4-bit-window table method otherwise; both give identical results.
//! (A 256-bit `VPCLMULQDQ` base case, as the additive FFT's butterflies have since session 13,
//! is not written here.)

use zeroize::Zeroize;

/// Operand length (words) at and below which the schoolbook method is used (measured best on
/// this project's machine).
const SCHOOLBOOK_WORDS: usize = 24;

/// Carry-less product of two words, portable: the 128-bit polynomial product `a·b`.
#[inline]
pub fn clmul64_soft(a: u64, b: u64) -> u128 {
    let mut table = [0u128; 16];
    for i in 1..16 {
        table[i] = if i % 2 == 0 { table[i / 2] << 1 } else { table[i - 1] ^ u128::from(a) };
    }
    let mut r = 0u128;
    for k in (0..16).rev() {
        r = (r << 4) ^ table[((b >> (4 * k)) & 15) as usize];
    }
    r
}

/// Carry-less product of two words with `PCLMULQDQ`.
///
/// # Safety
/// The CPU must support `pclmulqdq`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
unsafe fn clmul64_hw(a: u64, b: u64) -> u128 {
    // SAFETY (all intrinsics): pclmulqdq is enabled by the caller's contract; sse2 is baseline.
    #[allow(unused_unsafe)]
    unsafe {
        use core::arch::x86_64::{_mm_clmulepi64_si128, _mm_cvtsi64_si128, _mm_cvtsi128_si64, _mm_unpackhi_epi64};
        let r = _mm_clmulepi64_si128(_mm_cvtsi64_si128(a as i64), _mm_cvtsi64_si128(b as i64), 0);
        let lo = _mm_cvtsi128_si64(r) as u64;
        let hi = _mm_cvtsi128_si64(_mm_unpackhi_epi64(r, r)) as u64;
        u128::from(lo) | (u128::from(hi) << 64)
    }
}

/// Whether the hardware carry-less multiply is available.
#[inline]
pub fn has_hardware_clmul() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Carry-less product of two words (hardware when available).
#[inline]
pub fn clmul64(a: u64, b: u64) -> u128 {
    #[cfg(target_arch = "x86_64")]
    if has_hardware_clmul() {
        // SAFETY: the CPU supports pclmulqdq (checked above).
        return unsafe { clmul64_hw(a, b) };
    }
    clmul64_soft(a, b)
}

/// The middle product, instantiated once per word product so that the hardware version is
/// compiled with `pclmulqdq` enabled throughout (and the word product inlined). `$unsafety`
/// is `unsafe` for the instantiation that needs a CPU feature.
macro_rules! middle_product_impl {
    ($(#[$attr:meta])*; $($unsafety:ident)?; $ops:ident) => {
        /// `out` = words `N..2N` of the product `s·x`, for `x` of `N` words and `s` of `2N`
        /// words; `scratch.len() >= scratch_words(N)`.
        ///
        /// This is the Toeplitz matrix–vector product `out_i = ⊕_j s[64N + i − j]·x_j` (bits),
        /// computed by the 2×2 block splitting of a Toeplitz matrix
        /// `[[A, B], [C, A]]·[x₀, x₁] = [P + (A+B)·x₁, P + (A+C)·x₀]` with `P = A·(x₀ + x₁)`:
        /// three half-size products (transposed Karatsuba; Hanrot, Quercia, Zimmermann, "The
        /// middle product algorithm I", AAECC 14 (2004)), so `O(N^1.585)` word products.
        $(#[$attr])*
        pub $($unsafety)? fn middle_product(s: &[u64], x: &[u64], out: &mut [u64], scratch: &mut [u64]) {
            let n = x.len();
            debug_assert!(s.len() == 2 * n && out.len() == n && scratch.len() >= scratch_words(n));
            if n <= SCHOOLBOOK_WORDS {
                #[allow(unused_unsafe)]
                unsafe {
                    schoolbook(s, x, out)
                };
                return;
            }
            if n % 2 == 1 {
                // Peel the last word of x (and the last output word) to get an even size.
                let n1 = n - 1;
                #[allow(unused_unsafe)]
                unsafe {
                    middle_product(&s[1..1 + 2 * n1], &x[..n1], &mut out[..n1], scratch);
                    let (mut lo, mut hi) = ($ops::zero(), $ops::zero());
                    for b in 0..n1 {
                        lo = $ops::mul_add(lo, s[2 * n - 1 - b], x[b]);
                        hi = $ops::mul_add(hi, s[2 * n - 2 - b], x[b]);
                    }
                    out[n1] = $ops::lo(lo) ^ $ops::hi(hi);
                    let top = x[n1];
                    for k in n..2 * n {
                        let lo = $ops::mul_add($ops::zero(), s[k - n1], top);
                        let hi = $ops::mul_add($ops::zero(), s[k - n], top);
                        out[k - n] ^= $ops::lo(lo) ^ $ops::hi(hi);
                    }
                }
                return;
            }
            let h = n / 2;
            let (x0, x1) = x.split_at(h);
            let (t, rest) = scratch.split_at_mut(h);
            let (sigma, rest) = rest.split_at_mut(2 * h);
            let (p, rest) = rest.split_at_mut(h);
            for i in 0..h {
                t[i] = x0[i] ^ x1[i];
            }
            #[allow(unused_unsafe)]
            unsafe {
                middle_product(&s[h..3 * h], t, p, rest)
            };
            for i in 0..2 * h {
                sigma[i] = s[i] ^ s[h + i];
            }
            #[allow(unused_unsafe)]
            unsafe {
                middle_product(sigma, x1, &mut out[..h], rest)
            };
            for i in 0..2 * h {
                sigma[i] = s[2 * h + i] ^ s[h + i];
            }
            #[allow(unused_unsafe)]
            unsafe {
                middle_product(sigma, x0, &mut out[h..], rest)
            };
            for i in 0..h {
                out[i] ^= p[i];
                out[h + i] ^= p[i];
            }
        }

        /// The middle product by the schoolbook method: `N·(N+1)` word products, summed per
        /// diagonal in a register.
        $(#[$attr])*
        $($unsafety)? fn schoolbook(s: &[u64], x: &[u64], out: &mut [u64]) {
            let n = x.len();
            let mut carry = 0u64;
            for d in n - 1..2 * n {
                // Diagonal d: Σ_b s[d − b]·x[b]; low word to output d − n, high word to d + 1 − n.
                #[allow(unused_unsafe)]
                let (lo, hi) = unsafe {
                    let mut acc = $ops::zero();
                    for (&sa, &xb) in s[d + 1 - n..=d].iter().rev().zip(x) {
                        acc = $ops::mul_add(acc, sa, xb);
                    }
                    ($ops::lo(acc), $ops::hi(acc))
                };
                if d >= n {
                    out[d - n] = lo ^ carry;
                }
                carry = hi;
            }
        }
    };
}

/// Scratch words [`middle_product`] needs for `n` words.
pub fn scratch_words(n: usize) -> usize {
    4 * n + 4 * SCHOOLBOOK_WORDS
}

/// Word products accumulated in a 128-bit value, portable.
mod soft_ops {
    /// A 128-bit sum of word products.
    pub type Acc = u128;
    #[inline(always)]
    pub fn zero() -> Acc {
        0
    }
    #[inline(always)]
    pub fn mul_add(acc: Acc, a: u64, b: u64) -> Acc {
        acc ^ super::clmul64_soft(a, b)
    }
    #[inline(always)]
    pub fn lo(acc: Acc) -> u64 {
        acc as u64
    }
    #[inline(always)]
    pub fn hi(acc: Acc) -> u64 {
        (acc >> 64) as u64
    }
}

/// Word products accumulated in an SSE register with `PCLMULQDQ`. Every function requires a
/// CPU with `pclmulqdq` (safety contract of all of them).
#[cfg(target_arch = "x86_64")]
#[allow(unused_unsafe)]
mod hw_ops {
    use core::arch::x86_64::*;
    /// A 128-bit sum of word products.
    pub type Acc = __m128i;
    #[inline]
    #[target_feature(enable = "pclmulqdq")]
    pub unsafe fn zero() -> Acc {
        // SAFETY: sse2 is baseline on x86-64.
        unsafe { _mm_setzero_si128() }
    }
    #[inline]
    #[target_feature(enable = "pclmulqdq")]
    pub unsafe fn mul_add(acc: Acc, a: u64, b: u64) -> Acc {
        // SAFETY: pclmulqdq by the caller's contract.
        unsafe { _mm_xor_si128(acc, _mm_clmulepi64_si128(_mm_cvtsi64_si128(a as i64), _mm_cvtsi64_si128(b as i64), 0)) }
    }
    #[inline]
    #[target_feature(enable = "pclmulqdq")]
    pub unsafe fn lo(acc: Acc) -> u64 {
        // SAFETY: sse2 is baseline on x86-64.
        unsafe { _mm_cvtsi128_si64(acc) as u64 }
    }
    #[inline]
    #[target_feature(enable = "pclmulqdq")]
    pub unsafe fn hi(acc: Acc) -> u64 {
        // SAFETY: sse2 is baseline on x86-64.
        unsafe { _mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc)) as u64 }
    }
}

/// The recursion with `PCLMULQDQ` (every function requires a CPU that has it).
#[cfg(target_arch = "x86_64")]
mod hw {
    use super::{SCHOOLBOOK_WORDS, hw_ops, scratch_words};
    middle_product_impl!(#[target_feature(enable = "pclmulqdq")]; unsafe; hw_ops);
}

/// Portable instantiation (also the reference of the hardware one in tests).
pub mod soft {
    use super::{SCHOOLBOOK_WORDS, scratch_words, soft_ops};
    middle_product_impl!(; ; soft_ops);
}

/// Words `N..2N` of `s·x` over GF(2) for `x` of `N` words and `s` of `2N` words (hardware
/// carry-less multiply when available): the Toeplitz product `out_i = ⊕_j s[64N + i − j]·x_j`.
pub fn middle_product(s: &[u64], x: &[u64]) -> Vec<u64> {
    assert_eq!(s.len(), 2 * x.len(), "middle product operand lengths");
    let mut out = vec![0u64; x.len()];
    let mut scratch = vec![0u64; scratch_words(x.len())];
    #[cfg(target_arch = "x86_64")]
    let done = has_hardware_clmul() && {
        // SAFETY: the CPU supports pclmulqdq (checked here).
        unsafe { hw::middle_product(s, x, &mut out, &mut scratch) };
        true
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = false;
    if !done {
        soft::middle_product(s, x, &mut out, &mut scratch);
    }
    // The scratch holds sums of key words: wipe it.
    scratch.zeroize();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::derive_rng;
    use rand::Rng;

    /// Bit-by-bit product, the definition.
    fn naive(a: &[u64], b: &[u64]) -> Vec<u64> {
        let mut out = vec![0u64; a.len() + b.len()];
        for i in 0..a.len() * 64 {
            if (a[i / 64] >> (i % 64)) & 1 == 1 {
                for j in 0..b.len() * 64 {
                    if (b[j / 64] >> (j % 64)) & 1 == 1 {
                        out[(i + j) / 64] ^= 1 << ((i + j) % 64);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn word_products_agree() {
        let mut rng = derive_rng(3, &[0]);
        for _ in 0..1000 {
            let (a, b) = (rng.next_u64(), rng.next_u64());
            let expected = naive(&[a], &[b]);
            let soft = clmul64_soft(a, b);
            assert_eq!((soft as u64, (soft >> 64) as u64), (expected[0], expected[1]));
            assert_eq!(clmul64(a, b), soft);
        }
    }

    #[test]
    fn middle_product_equals_naive_and_soft() {
        let mut rng = derive_rng(3, &[1]);
        for n in [1, 2, 5, 24, 25, 31, 48, 49, 50, 97, 130, 200] {
            let s: Vec<u64> = (0..2 * n).map(|_| rng.next_u64()).collect();
            let x: Vec<u64> = (0..n).map(|_| rng.next_u64()).collect();
            let fast = middle_product(&s, &x);
            let mut portable = vec![0; n];
            soft::middle_product(&s, &x, &mut portable, &mut vec![0; scratch_words(n)]);
            assert_eq!(fast, portable, "n = {n}");
            #[cfg(target_arch = "x86_64")]
            if has_hardware_clmul() {
                let mut sse = vec![0; n];
                // SAFETY: pclmulqdq present (checked).
                unsafe { hw::middle_product(&s, &x, &mut sse, &mut vec![0; scratch_words(n)]) };
                assert_eq!(sse, portable, "n = {n}");
            }
            if n <= 50 {
                assert_eq!(fast, naive(&s, &x)[n..2 * n].to_vec(), "n = {n}");
            }
        }
    }
}
