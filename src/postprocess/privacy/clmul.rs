//! Multiplication of polynomials over GF(2) packed in 64-bit words (bit `i` of word `w` is the
//! coefficient of `x^(64w+i)`): carry-less 64×64-bit products, schoolbook for short operands,
//! Karatsuba (Karatsuba & Ofman 1962) above, `O(N^1.585)` word products for `N` words.
//!
//! The word product uses the x86-64 `PCLMULQDQ` instruction when the CPU has it (checked at
//! run time) and a portable 4-bit-window table method otherwise; both give identical results.

/// Operand length (words) at and below which the schoolbook method is used.
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
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
fn clmul64_hw(a: u64, b: u64) -> u128 {
    use core::arch::x86_64::{_mm_clmulepi64_si128, _mm_cvtsi64_si128, _mm_storeu_si128};
    let r = _mm_clmulepi64_si128(_mm_cvtsi64_si128(a as i64), _mm_cvtsi64_si128(b as i64), 0);
    let mut out = [0u64; 2];
    // SAFETY: `out` is 16 writable bytes; the unaligned store has no alignment requirement.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), r) };
    u128::from(out[0]) | (u128::from(out[1]) << 64)
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

/// The polynomial multiplication, instantiated once per word product so that the hardware
/// version is compiled with `pclmulqdq` enabled throughout (and the word product inlined).
macro_rules! poly_mul {
    ($(#[$attr:meta])*; $clmul:path) => {
        /// `out = a·b`; `out.len()` must be `a.len() + b.len()`.
        $(#[$attr])*
        pub fn mul(a: &[u64], b: &[u64], out: &mut [u64]) {
            assert_eq!(out.len(), a.len() + b.len(), "product length");
            let (a, b) = if a.len() >= b.len() { (a, b) } else { (b, a) };
            if b.len() <= SCHOOLBOOK_WORDS {
                schoolbook(a, b, out);
                return;
            }
            // a is at least as long as b: multiply b by a's chunks of b's length.
            let lb = b.len();
            out.fill(0);
            let mut product = vec![0u64; 2 * lb];
            let mut scratch = vec![0u64; 8 * lb + 64];
            for (c, chunk) in a.chunks(lb).enumerate() {
                let part = &mut product[..chunk.len() + lb];
                if chunk.len() == lb {
                    karatsuba(chunk, b, part, &mut scratch);
                } else {
                    mul(chunk, b, part);
                }
                for (o, p) in out[c * lb..].iter_mut().zip(part.iter()) {
                    *o ^= p;
                }
            }
        }

        /// `out = a·b` by the schoolbook method.
        $(#[$attr])*
        fn schoolbook(a: &[u64], b: &[u64], out: &mut [u64]) {
            out.fill(0);
            for (i, &x) in a.iter().enumerate() {
                let row = &mut out[i..i + b.len() + 1];
                let mut carry = 0u64;
                for (j, &y) in b.iter().enumerate() {
                    #[allow(unused_unsafe)]
                    let p = unsafe { $clmul(x, y) };
                    row[j] ^= (p as u64) ^ carry;
                    carry = (p >> 64) as u64;
                }
                row[b.len()] ^= carry;
            }
        }

        /// `out = a·b` for operands of equal length `n` (`out.len() == 2n`), with
        /// `scratch.len() >= 8n + 64`.
        $(#[$attr])*
        fn karatsuba(a: &[u64], b: &[u64], out: &mut [u64], scratch: &mut [u64]) {
            let n = a.len();
            debug_assert_eq!(b.len(), n);
            if n <= SCHOOLBOOK_WORDS {
                schoolbook(a, b, out);
                return;
            }
            let h = n / 2;
            let k = n - h; // k >= h
            let (a0, a1) = a.split_at(h);
            let (b0, b1) = b.split_at(h);
            {
                let (lo, hi) = out.split_at_mut(2 * h);
                karatsuba(a0, b0, lo, scratch);
                karatsuba(a1, b1, hi, scratch);
            }
            let (t1, rest) = scratch.split_at_mut(k);
            let (t2, rest) = rest.split_at_mut(k);
            let (mid, rest) = rest.split_at_mut(2 * k);
            t1.copy_from_slice(a1);
            t2.copy_from_slice(b1);
            for i in 0..h {
                t1[i] ^= a0[i];
                t2[i] ^= b0[i];
            }
            karatsuba(t1, t2, mid, rest);
            // mid = (a0+a1)(b0+b1) − a0b0 − a1b1, added at word offset h.
            for i in 0..2 * k {
                let lo = if i < 2 * h { out[i] } else { 0 };
                mid[i] ^= lo ^ out[2 * h + i];
            }
            for (o, m) in out[h..h + 2 * k].iter_mut().zip(mid.iter()) {
                *o ^= m;
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod hw {
    use super::{SCHOOLBOOK_WORDS, clmul64_hw};
    poly_mul!(#[target_feature(enable = "pclmulqdq")]; clmul64_hw);
}

/// Portable instantiation (also the reference of the hardware one in tests).
pub mod soft {
    use super::{SCHOOLBOOK_WORDS, clmul64_soft};
    poly_mul!(; clmul64_soft);
}

/// `a·b` over GF(2), `a.len() + b.len()` words (hardware carry-less multiply when available).
pub fn poly_mul(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = vec![0u64; a.len() + b.len()];
    #[cfg(target_arch = "x86_64")]
    if has_hardware_clmul() {
        // SAFETY: the CPU supports pclmulqdq (checked above).
        unsafe { hw::mul(a, b, &mut out) };
        return out;
    }
    soft::mul(a, b, &mut out);
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
    fn karatsuba_equals_naive_and_soft() {
        let mut rng = derive_rng(3, &[1]);
        for (la, lb) in [(1, 1), (3, 70), (25, 25), (49, 49), (100, 37), (130, 61), (200, 200)] {
            let a: Vec<u64> = (0..la).map(|_| rng.next_u64()).collect();
            let b: Vec<u64> = (0..lb).map(|_| rng.next_u64()).collect();
            let fast = poly_mul(&a, &b);
            let mut portable = vec![0; la + lb];
            soft::mul(&a, &b, &mut portable);
            assert_eq!(fast, portable, "{la}x{lb}");
            if la * lb <= 2500 {
                assert_eq!(fast, naive(&a, &b), "{la}x{lb}");
            }
        }
    }
}
