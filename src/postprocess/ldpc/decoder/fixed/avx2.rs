//! The 16-lane layered min-sum check update written in AVX2 intrinsics: one `__m256i` holds a
//! variable's 16 lanes. It performs exactly the integer operations of the portable
//! `update_check` (same wrapping and saturating arithmetic, same tie rules), so every decision
//! is bit for bit the same; it exists because the compiler does not turn the portable loop's
//! per-lane bit extraction and selects into vector code (measured: 3.3 ns per lane and edge
//! update before, BENCHMARKS.md session 13).

use std::arch::x86_64::{
    __m256i, _mm256_abs_epi16, _mm256_adds_epi16, _mm256_and_si256, _mm256_blendv_epi8, _mm256_cmpeq_epi16,
    _mm256_cmpgt_epi16, _mm256_load_si256, _mm256_loadu_si256, _mm256_max_epi16, _mm256_min_epi16,
    _mm256_movemask_epi8, _mm256_set1_epi16, _mm256_setr_epi16, _mm256_setzero_si256, _mm256_srai_epi16,
    _mm256_store_si256, _mm256_storeu_si256, _mm256_sub_epi16, _mm256_subs_epi16, _mm256_xor_si256, _pext_u32,
};

use super::{LIMIT, Row, Scaling};

/// Lanes of one `__m256i` of `i16`.
const L: usize = 16;

#[inline(always)]
fn load(row: &Row) -> __m256i {
    // SAFETY: `Row` is 32 bytes aligned to 32.
    unsafe { _mm256_load_si256((row as *const Row).cast()) }
}

#[inline(always)]
fn store(row: &mut Row, x: __m256i) {
    // SAFETY: `Row` is 32 bytes aligned to 32.
    unsafe { _mm256_store_si256((row as *mut Row).cast(), x) }
}

/// Lane `l` of the result is −1 when bit `l` of `bits` is set, else 0.
#[inline]
#[target_feature(enable = "avx2")]
fn expand(bits: u32, lane_bits: __m256i) -> __m256i {
    _mm256_cmpeq_epi16(_mm256_and_si256(_mm256_set1_epi16(bits as i16), lane_bits), lane_bits)
}

/// Bit `l` of the result is the sign bit of lane `l` of `x`.
#[inline]
#[target_feature(enable = "avx2,bmi2")]
fn signs_of(x: __m256i) -> u32 {
    _pext_u32(_mm256_movemask_epi8(x) as u32, 0xAAAA_AAAA)
}

/// `(m ^ s) − s`: `m` with the sign `s` (0 or −1) applied, wrapping as the portable code.
#[inline]
#[target_feature(enable = "avx2")]
fn signed(m: __m256i, s: __m256i) -> __m256i {
    _mm256_sub_epi16(_mm256_xor_si256(m, s), s)
}

/// The portable `update_check` for 16 lanes in AVX2 (see there for the rule); the same results.
#[target_feature(enable = "avx2,bmi1,bmi2")]
pub(super) fn update_check(
    posterior: &mut [Row],
    vars: &[u32],
    signs: &mut [u32],
    state: &mut [[i16; L]; 3],
    scratch: &mut [Row],
    flips: u32,
    scaling: Scaling,
) -> u32 {
    let lane_bits = _mm256_setr_epi16(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, i16::MIN);
    // SAFETY: each of the three parts is 16 `i16`, 32 bytes (unaligned loads).
    let [old1, old2, old_at] =
        state.each_ref().map(|part| unsafe { _mm256_loadu_si256(part.as_ptr().cast::<__m256i>()) });
    let (mut min1, mut min2, mut at) =
        (_mm256_set1_epi16(i16::MAX), _mm256_set1_epi16(i16::MAX), _mm256_setzero_si256());
    let mut negative = expand(flips, lane_bits);
    let scratch = &mut scratch[..vars.len()];
    for (i, ((&v, &bits), t)) in vars.iter().zip(signs.iter()).zip(scratch.iter_mut()).enumerate() {
        let p = load(&posterior[v as usize]);
        let index = _mm256_set1_epi16(i as i16);
        let magnitude = _mm256_blendv_epi8(old1, old2, _mm256_cmpeq_epi16(old_at, index));
        let x = _mm256_sub_epi16(p, signed(magnitude, expand(bits, lane_bits)));
        store(t, x);
        negative = _mm256_xor_si256(negative, _mm256_srai_epi16(x, 15));
        let a = _mm256_abs_epi16(x);
        min2 = _mm256_min_epi16(min2, _mm256_max_epi16(a, min1));
        at = _mm256_blendv_epi8(at, index, _mm256_cmpgt_epi16(min1, a));
        min1 = _mm256_min_epi16(min1, a);
    }
    (min1, min2) = match scaling {
        Scaling::Offset(b) => {
            let (b, zero, limit) = (_mm256_set1_epi16(b), _mm256_setzero_si256(), _mm256_set1_epi16(LIMIT));
            let clamp = |m| _mm256_min_epi16(_mm256_max_epi16(_mm256_subs_epi16(m, b), zero), limit);
            (clamp(min1), clamp(min2))
        }
        _ => {
            let (mut m1, mut m2) = ([0i16; L], [0i16; L]);
            // SAFETY: 16 `i16` each, unaligned stores and loads.
            unsafe {
                _mm256_storeu_si256(m1.as_mut_ptr().cast(), min1);
                _mm256_storeu_si256(m2.as_mut_ptr().cast(), min2);
            }
            scaling.apply(&mut m1, &mut m2, vars.len());
            // SAFETY: as above.
            unsafe { (_mm256_loadu_si256(m1.as_ptr().cast()), _mm256_loadu_si256(m2.as_ptr().cast())) }
        }
    };
    let (limit, minus_limit) = (_mm256_set1_epi16(LIMIT), _mm256_set1_epi16(-LIMIT));
    let mut parity = _mm256_setzero_si256();
    for (i, ((&v, bits), t)) in vars.iter().zip(signs.iter_mut()).zip(scratch.iter()).enumerate() {
        let t = load(t);
        let index = _mm256_set1_epi16(i as i16);
        let magnitude = _mm256_blendv_epi8(min1, min2, _mm256_cmpeq_epi16(at, index));
        let sign = _mm256_xor_si256(negative, _mm256_srai_epi16(t, 15));
        let out = signed(magnitude, sign);
        *bits = signs_of(sign);
        let post = _mm256_max_epi16(_mm256_min_epi16(_mm256_adds_epi16(t, out), limit), minus_limit);
        parity = _mm256_xor_si256(parity, post);
        store(&mut posterior[v as usize], post);
    }
    for (part, x) in state.iter_mut().zip([min1, min2, at]) {
        // SAFETY: 16 `i16`, unaligned store.
        unsafe { _mm256_storeu_si256(part.as_mut_ptr().cast(), x) };
    }
    signs_of(parity)
}
