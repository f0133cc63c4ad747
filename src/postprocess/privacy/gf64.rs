//! The field GF(2⁶⁴) = GF(2)[z]/(z⁶⁴ + z⁴ + z³ + z + 1) (bit `i` of a `u64` is the coefficient
//! of `z^i`) and its Cantor basis, the arithmetic of the additive FFT in `additive_fft`.
//!
//! The Cantor basis (Cantor, "On arithmetical algorithms over finite fields", J. Comb. Theory A
//! 50 (1989); Gao & Mateer, "Additive fast Fourier transforms over finite fields", IEEE Trans.
//! Inf. Theory 56 (2010), §III) is `β₀ = 1`, `β_{i+1}² + β_{i+1} = β_i`; it exists in GF(2^(2^k))
//! for all 2^k elements, and with it the subspace vanishing polynomials `s_i` of
//! `V_i = span(β₀…β_{i−1})` are `s_i = (x² + x)^∘i` with coefficients in GF(2) and `s_i(β_i) = 1`.

use std::sync::OnceLock;

use super::clmul;

/// `lo + hi·z⁶⁴` reduced modulo `z⁶⁴ + z⁴ + z³ + z + 1`.
#[inline(always)]
pub fn reduce(lo: u64, hi: u64) -> u64 {
    // hi·z⁶⁴ ≡ hi·(1 + z + z³ + z⁴); the bits shifted out above z⁶³ (at most 4) fold once more
    // without overflowing.
    let h = hi ^ (hi >> 63) ^ (hi >> 61) ^ (hi >> 60);
    lo ^ h ^ (h << 1) ^ (h << 3) ^ (h << 4)
}

/// Product in GF(2⁶⁴), portable.
#[inline]
pub fn mul_soft(a: u64, b: u64) -> u64 {
    let p = clmul::clmul64_soft(a, b);
    reduce(p as u64, (p >> 64) as u64)
}

/// Product in GF(2⁶⁴) with `PCLMULQDQ`.
///
/// # Safety
/// The CPU must support `pclmulqdq`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
pub unsafe fn mul_hw(a: u64, b: u64) -> u64 {
    use core::arch::x86_64::{_mm_clmulepi64_si128, _mm_cvtsi64_si128, _mm_cvtsi128_si64, _mm_unpackhi_epi64};
    // SAFETY: pclmulqdq by the caller's contract; sse2 is baseline on x86-64.
    #[allow(unused_unsafe)]
    let (lo, hi) = unsafe {
        let r = _mm_clmulepi64_si128(_mm_cvtsi64_si128(a as i64), _mm_cvtsi64_si128(b as i64), 0);
        (_mm_cvtsi128_si64(r) as u64, _mm_cvtsi128_si64(_mm_unpackhi_epi64(r, r)) as u64)
    };
    reduce(lo, hi)
}

/// Two products in GF(2⁶⁴) at once with `PCLMULQDQ` and a shared SSE2 reduction: lane `i` of
/// the result is `v[i]·w` with `w` the low lane of `w`. The reduction is [`reduce`] on both
/// lanes (shifts and XORs, no further carry-less product), so the result equals two calls of
/// [`mul_soft`] bit for bit.
///
/// # Safety
/// The CPU must support `pclmulqdq`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
pub unsafe fn mul2_hw(v: core::arch::x86_64::__m128i, w: core::arch::x86_64::__m128i) -> core::arch::x86_64::__m128i {
    use core::arch::x86_64::{_mm_clmulepi64_si128, _mm_unpackhi_epi64, _mm_unpacklo_epi64};
    // SAFETY: pclmulqdq by the caller's contract; sse2 is baseline on x86-64.
    #[allow(unused_unsafe)]
    unsafe {
        let p0 = _mm_clmulepi64_si128(v, w, 0x00);
        let p1 = _mm_clmulepi64_si128(v, w, 0x01);
        reduce2(_mm_unpacklo_epi64(p0, p1), _mm_unpackhi_epi64(p0, p1))
    }
}

/// Two lanewise products in GF(2⁶⁴) with `PCLMULQDQ`: lane `i` is `a[i]·b[i]`.
///
/// # Safety
/// The CPU must support `pclmulqdq`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
pub unsafe fn mul2_lanes_hw(
    a: core::arch::x86_64::__m128i,
    b: core::arch::x86_64::__m128i,
) -> core::arch::x86_64::__m128i {
    use core::arch::x86_64::{_mm_clmulepi64_si128, _mm_unpackhi_epi64, _mm_unpacklo_epi64};
    // SAFETY: pclmulqdq by the caller's contract; sse2 is baseline on x86-64.
    #[allow(unused_unsafe)]
    unsafe {
        let p0 = _mm_clmulepi64_si128(a, b, 0x00);
        let p1 = _mm_clmulepi64_si128(a, b, 0x11);
        reduce2(_mm_unpacklo_epi64(p0, p1), _mm_unpackhi_epi64(p0, p1))
    }
}

/// [`reduce`] on two lanes: `lo[i] + hi[i]·z⁶⁴` modulo the field polynomial.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn reduce2(lo: core::arch::x86_64::__m128i, hi: core::arch::x86_64::__m128i) -> core::arch::x86_64::__m128i {
    use core::arch::x86_64::{_mm_slli_epi64, _mm_srli_epi64, _mm_xor_si128};
    // SAFETY: sse2 is baseline on x86-64.
    #[allow(unused_unsafe)]
    unsafe {
        let h = _mm_xor_si128(
            _mm_xor_si128(hi, _mm_srli_epi64(hi, 63)),
            _mm_xor_si128(_mm_srli_epi64(hi, 61), _mm_srli_epi64(hi, 60)),
        );
        let t = _mm_xor_si128(
            _mm_xor_si128(h, _mm_slli_epi64(h, 1)),
            _mm_xor_si128(_mm_slli_epi64(h, 3), _mm_slli_epi64(h, 4)),
        );
        _mm_xor_si128(lo, t)
    }
}

/// Whether the CPU has the 256-bit carry-less multiply `VPCLMULQDQ` (with AVX2 and
/// `PCLMULQDQ`), i.e. two 64×64-bit products per instruction: checked once at run time.
#[inline]
pub fn has_wide_clmul() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("vpclmulqdq")
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Four products in GF(2⁶⁴) at once with `VPCLMULQDQ` (two per instruction) and a shared AVX2
/// reduction: lane `i` of the result is `v[i]·w` with `w` the low word of each 128-bit half of
/// `w` (a broadcast twist). The reduction is [`reduce`] on every lane, so the result equals
/// four calls of [`mul_soft`] bit for bit.
///
/// # Safety
/// The CPU must support `vpclmulqdq`, `avx2` and `pclmulqdq`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "vpclmulqdq,avx2,pclmulqdq")]
#[inline]
pub unsafe fn mul4_hw(v: core::arch::x86_64::__m256i, w: core::arch::x86_64::__m256i) -> core::arch::x86_64::__m256i {
    use core::arch::x86_64::{_mm256_clmulepi64_epi128, _mm256_unpackhi_epi64, _mm256_unpacklo_epi64};
    // Per 128-bit half: p0 = v.lo·w, p1 = v.hi·w; the unpacks regroup the low and high words
    // of the products in lane order (they act within each half).
    let p0 = _mm256_clmulepi64_epi128(v, w, 0x00);
    let p1 = _mm256_clmulepi64_epi128(v, w, 0x01);
    reduce4(_mm256_unpacklo_epi64(p0, p1), _mm256_unpackhi_epi64(p0, p1))
}

/// Four lanewise products in GF(2⁶⁴) with `VPCLMULQDQ`: lane `i` is `a[i]·b[i]`.
///
/// # Safety
/// The CPU must support `vpclmulqdq`, `avx2` and `pclmulqdq`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "vpclmulqdq,avx2,pclmulqdq")]
#[inline]
pub unsafe fn mul4_lanes_hw(
    a: core::arch::x86_64::__m256i,
    b: core::arch::x86_64::__m256i,
) -> core::arch::x86_64::__m256i {
    use core::arch::x86_64::{_mm256_clmulepi64_epi128, _mm256_unpackhi_epi64, _mm256_unpacklo_epi64};
    let p0 = _mm256_clmulepi64_epi128(a, b, 0x00);
    let p1 = _mm256_clmulepi64_epi128(a, b, 0x11);
    reduce4(_mm256_unpacklo_epi64(p0, p1), _mm256_unpackhi_epi64(p0, p1))
}

/// [`reduce`] on four lanes: `lo[i] + hi[i]·z⁶⁴` modulo the field polynomial.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn reduce4(lo: core::arch::x86_64::__m256i, hi: core::arch::x86_64::__m256i) -> core::arch::x86_64::__m256i {
    use core::arch::x86_64::{_mm256_slli_epi64, _mm256_srli_epi64, _mm256_xor_si256};
    let h = _mm256_xor_si256(
        _mm256_xor_si256(hi, _mm256_srli_epi64(hi, 63)),
        _mm256_xor_si256(_mm256_srli_epi64(hi, 61), _mm256_srli_epi64(hi, 60)),
    );
    let t = _mm256_xor_si256(
        _mm256_xor_si256(h, _mm256_slli_epi64(h, 1)),
        _mm256_xor_si256(_mm256_slli_epi64(h, 3), _mm256_slli_epi64(h, 4)),
    );
    _mm256_xor_si256(lo, t)
}

/// Product in GF(2⁶⁴) (hardware carry-less multiply when available).
#[inline]
pub fn mul(a: u64, b: u64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if clmul::has_hardware_clmul() {
        // SAFETY: the CPU supports pclmulqdq (checked above).
        return unsafe { mul_hw(a, b) };
    }
    mul_soft(a, b)
}

/// The Cantor basis `β₀ … β₆₃` of GF(2⁶⁴) (computed once).
pub fn cantor_basis() -> &'static [u64; 64] {
    static BASIS: OnceLock<[u64; 64]> = OnceLock::new();
    BASIS.get_or_init(|| {
        let mut basis = [0u64; 64];
        basis[0] = 1;
        for i in 1..64 {
            basis[i] = solve_artin_schreier(basis[i - 1]).expect("Cantor basis exists in GF(2^64) (Cantor 1989)");
        }
        basis
    })
}

/// A root `x` of `x² + x = c` (the other is `x + 1`), or `None` when the trace of `c` is 1.
fn solve_artin_schreier(c: u64) -> Option<u64> {
    // x ↦ x² + x is GF(2)-linear: Gaussian elimination on the images of z^i, keeping for each
    // pivot the combination of z^i that produced it.
    let mut pivots: [Option<(u64, u64)>; 64] = [None; 64];
    for i in 0..64 {
        let zi = 1u64 << i;
        let (mut v, mut combo) = (mul(zi, zi) ^ zi, zi);
        for b in (0..64).rev() {
            if (v >> b) & 1 == 0 {
                continue;
            }
            match pivots[b] {
                Some((pv, pc)) => {
                    v ^= pv;
                    combo ^= pc;
                }
                None => {
                    pivots[b] = Some((v, combo));
                    break;
                }
            }
        }
    }
    let (mut rest, mut x) = (c, 0u64);
    for b in (0..64).rev() {
        if (rest >> b) & 1 == 1 {
            let (pv, pc) = pivots[b]?;
            rest ^= pv;
            x ^= pc;
        }
    }
    Some(x)
}

/// `Σ β_{u+offset}` over the set bits `u` of `index`: an element of the subspace spanned by the
/// Cantor basis from `β_offset` on.
#[inline]
pub fn span_element(index: usize, offset: usize) -> u64 {
    let basis = cantor_basis();
    let mut acc = 0u64;
    let mut rest = index;
    while rest != 0 {
        let u = rest.trailing_zeros() as usize;
        acc ^= basis[u + offset];
        rest &= rest - 1;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::derive_rng;
    use rand::Rng;

    /// Low word of the field polynomial without `z⁶⁴` (`z⁴ + z³ + z + 1`).
    const POLY_LOW: u64 = 0x1b;

    /// Remainder of a polynomial of degree < 128 modulo the field polynomial, bit by bit.
    fn reduce_naive(mut p: u128) -> u64 {
        let f = (1u128 << 64) | u128::from(POLY_LOW);
        for d in (64..128).rev() {
            if (p >> d) & 1 == 1 {
                p ^= f << (d - 64);
            }
        }
        p as u64
    }

    #[test]
    fn products_agree_with_the_bitwise_reduction() {
        let mut rng = derive_rng(5, &[0]);
        for _ in 0..2000 {
            let (a, b) = (rng.next_u64(), rng.next_u64());
            let expected = reduce_naive(clmul::clmul64_soft(a, b));
            assert_eq!(mul_soft(a, b), expected);
            assert_eq!(mul(a, b), expected);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn two_lane_products_agree_with_the_portable_product() {
        use core::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_storeu_si128};
        if !clmul::has_hardware_clmul() {
            return;
        }
        let mut rng = derive_rng(5, &[1]);
        for _ in 0..2000 {
            let (a, b, w) = ([rng.next_u64(), rng.next_u64()], [rng.next_u64(), rng.next_u64()], rng.next_u64());
            let (mut by_w, mut lanes) = ([0u64; 2], [0u64; 2]);
            // SAFETY: pclmulqdq present (checked); the loads and stores are of two-word arrays.
            unsafe {
                let (va, vb) = (_mm_loadu_si128(a.as_ptr().cast()), _mm_loadu_si128(b.as_ptr().cast()));
                let vw = _mm_loadu_si128([w, rng.next_u64()].as_ptr().cast());
                _mm_storeu_si128(by_w.as_mut_ptr().cast::<__m128i>(), mul2_hw(va, vw));
                _mm_storeu_si128(lanes.as_mut_ptr().cast::<__m128i>(), mul2_lanes_hw(va, vb));
            }
            assert_eq!(by_w, [mul_soft(a[0], w), mul_soft(a[1], w)]);
            assert_eq!(lanes, [mul_soft(a[0], b[0]), mul_soft(a[1], b[1])]);
        }
    }

    /// The 4-lane products against the portable one. Ignored by default: a machine without
    /// `VPCLMULQDQ` cannot run them (it fails there, rather than passing untested); run with
    /// `--ignored` on one that has it. The dispatch itself is tested by
    /// `additive_fft::tests::every_kernel_this_cpu_supports_equals_the_portable_one`.
    #[cfg(target_arch = "x86_64")]
    #[test]
    #[ignore = "needs VPCLMULQDQ"]
    fn four_lane_products_agree_with_the_portable_product() {
        use core::arch::x86_64::{__m256i, _mm256_loadu_si256, _mm256_storeu_si256};
        assert!(has_wide_clmul(), "this CPU lacks VPCLMULQDQ/AVX2: the 4-lane products cannot run");
        let mut rng = derive_rng(5, &[2]);
        for _ in 0..2000 {
            let a: [u64; 4] = std::array::from_fn(|_| rng.next_u64());
            let b: [u64; 4] = std::array::from_fn(|_| rng.next_u64());
            let w = rng.next_u64();
            let ws = [w, rng.next_u64(), w, rng.next_u64()];
            let (mut by_w, mut lanes) = ([0u64; 4], [0u64; 4]);
            // SAFETY: vpclmulqdq, avx2, pclmulqdq present (asserted); four-word arrays.
            unsafe {
                let (va, vb) = (_mm256_loadu_si256(a.as_ptr().cast()), _mm256_loadu_si256(b.as_ptr().cast()));
                let vw = _mm256_loadu_si256(ws.as_ptr().cast());
                _mm256_storeu_si256(by_w.as_mut_ptr().cast::<__m256i>(), mul4_hw(va, vw));
                _mm256_storeu_si256(lanes.as_mut_ptr().cast::<__m256i>(), mul4_lanes_hw(va, vb));
            }
            assert_eq!(by_w, a.map(|x| mul_soft(x, w)));
            assert_eq!(lanes, std::array::from_fn(|i| mul_soft(a[i], b[i])));
        }
    }

    #[test]
    fn the_field_polynomial_is_irreducible() {
        // Rabin's test for degree 64 (its only prime divisor is 2): z^(2^64) ≡ z and
        // gcd(z^(2^32) − z, f) = 1.
        let frob = |k: usize| (0..k).fold(2u64, |x, _| mul(x, x));
        assert_eq!(frob(64), 2, "z^(2^64) = z");
        let (mut a, mut b) = ((1u128 << 64) | u128::from(POLY_LOW), u128::from(frob(32) ^ 2));
        let deg = |p: u128| 127 - p.leading_zeros() as i32;
        while b != 0 {
            while a != 0 && deg(a) >= deg(b) {
                a ^= b << (deg(a) - deg(b));
            }
            std::mem::swap(&mut a, &mut b);
        }
        assert_eq!(a, 1, "gcd(z^(2^32) − z, f) = 1");
    }

    #[test]
    fn the_cantor_basis_satisfies_its_recurrence_and_is_independent() {
        let basis = cantor_basis();
        assert_eq!(basis[0], 1);
        for i in 1..64 {
            assert_eq!(mul(basis[i], basis[i]) ^ basis[i], basis[i - 1], "β_{i}");
        }
        // Linear independence: the span of all 64 elements has full rank.
        let mut rows: Vec<u64> = basis.to_vec();
        let mut rank = 0;
        for bit in (0..64).rev() {
            if let Some(p) = (rank..64).find(|&r| (rows[r] >> bit) & 1 == 1) {
                rows.swap(rank, p);
                let pivot = rows[rank];
                for (r, row) in rows.iter_mut().enumerate() {
                    if r != rank && (*row >> bit) & 1 == 1 {
                        *row ^= pivot;
                    }
                }
                rank += 1;
            }
        }
        assert_eq!(rank, 64);
    }
}
