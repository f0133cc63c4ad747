//! Exact products of long GF(2) polynomials by the additive FFT
//! over GF(2⁶⁴) (Lin, Chung, Han, "Novel polynomial basis and its application to Reed–Solomon
//! erasure codes", FOCS 2014, §III; with the Cantor basis of Gao & Mateer, IEEE Trans. Inf.
//! Theory 56 (2010), so that the basis change needs only XORs).
//!
//! A GF(2) polynomial is cut into 32-bit pieces `a_i(z)`, read as elements of GF(2⁶⁴), giving
//! `A(Y) = Σ a_i Y^i` with `a(z) = A(z³²)`. The product of two pieces has degree ≤ 62, so the
//! coefficients `c_k = Σ a_i b_{k−i}` of `C = A·B` over GF(2⁶⁴) are sums of unreduced GF(2)
//! polynomials of degree ≤ 62 and *are* the GF(2) products — the field reduction never acts on
//! them; `a·b = Σ c_k z^(32k)` by overlap-add. There is no rounding and no modulus bound: the
//! result is exact by construction (the transforms are a ring isomorphism
//! `F[Y]/s_K(Y) → F^(2^K)`, and `deg C < 2^K`).
//!
//! `C` is computed by: the change from the monomial basis to the novel basis
//! `X_j = Π_{i ∈ bits(j)} s_i` (repeated division by the sparse `s_i`, which with the Cantor
//! basis have GF(2) coefficients: `s_i = Σ_{j ⊆ i} Y^(2^j)` by Lucas), the LCH transform
//! (evaluation at the 2^K points of `span(β₀…β_{K−1})`, `K·2^(K−1)` field products), the
//! pointwise product, the inverse transform and the inverse basis change. For `N = 2^K`
//! pieces that is `3·K·2^(K−1) + 2^K` field products and `3·2^(K−1)·Σ_{i<K} 2^popcount(i)`
//! word XORs (`Σ 2^popcount(i) = O(K^log₂3)`: 155 for K = 27), so `O(N log N)` field operations
//! and `O(N log^1.585 N)` XORs. The transforms are truncated (divisions whose sources lie past
//! the polynomial's last nonzero coefficient are skipped: the basis change then costs ∝ the
//! fill, not `2^K`), cache-blocked at 32 KiB and 256 KiB, and the butterfly levels above the
//! blocks run two per pass over memory (radix 4). Every step is an
//! exact operation on independent slices, so splitting it across rayon threads cannot change
//! a bit of the result.

use std::sync::OnceLock;

use rayon::prelude::*;
use zeroize::Zeroize;

use super::clmul::has_hardware_clmul;
use super::gf64;

/// Levels handled inside one L1-sized block (2^12 words = 32 KiB) before the next block.
const BLOCK_LOG: u32 = 12;
/// Levels handled inside one L2-sized block (2^15 words = 256 KiB) before the next block; the
/// levels above it stream the whole array from memory, two butterfly levels per pass.
const L2_LOG: u32 = 15;
/// Slice length (words) above which a pass is split into parallel pieces.
const PAR_WORDS: usize = 1 << 14;

/// The instruction set of the butterfly and pointwise kernels; all give the same bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    /// `VPCLMULQDQ` on 256-bit registers: four GF(2⁶⁴) products per step, two per instruction.
    Wide,
    /// `PCLMULQDQ` on SSE registers: two products per step, one per instruction.
    Clmul,
    /// The table-based portable product.
    Portable,
}

impl Kernel {
    /// The fastest kernel this CPU runs (detected once).
    fn best() -> Kernel {
        static BEST: OnceLock<Kernel> = OnceLock::new();
        *BEST.get_or_init(|| {
            if gf64::has_wide_clmul() {
                Kernel::Wide
            } else if has_hardware_clmul() {
                Kernel::Clmul
            } else {
                Kernel::Portable
            }
        })
    }

    /// Every kernel this CPU runs, best first.
    #[cfg(test)]
    fn supported() -> Vec<Kernel> {
        [Kernel::Wide, Kernel::Clmul, Kernel::Portable]
            .into_iter()
            .filter(|k| match k {
                Kernel::Wide => gf64::has_wide_clmul(),
                Kernel::Clmul => has_hardware_clmul(),
                Kernel::Portable => true,
            })
            .collect()
    }
}

/// Bits `offset .. offset + len` of the GF(2) product `a·b` (`a` of `a_bits` bits, `b` of
/// `b_bits` bits, packed as in `BitString`), packed in `⌈len/64⌉` words.
///
/// `b` is cut into [`parts`] consecutive parts `b_j` of the same number of pieces, and
/// `a·b = Σ_j a·b_j·z^(32·j·pp)` (`pp` pieces per part): `a` is transformed once and each
/// part's product is a transform, a pointwise product and an inverse in a second array of
/// `2^K ≥ pa + pp` words. When `pa + pb` is just above a power of two, two parts halve the
/// arrays and cut the field products by a fifth (10⁹ → 5·10⁸ bits: 5 transforms of 2^26
/// words instead of 3 of 2^27, and 1 GiB of arrays instead of 2 GiB).
pub fn product_window(a: &[u64], a_bits: usize, b: &[u64], b_bits: usize, offset: usize, len: usize) -> Vec<u64> {
    let (pa, pb) = (a_bits.div_ceil(32), b_bits.div_ceil(32));
    let (count, per_part) = parts(pa, pb);
    let size = (pa + per_part).next_power_of_two().max(4);
    let mut fa = pieces(a, a_bits, 0, pa, size);
    let mut fb = Vec::new();
    let mut out = vec![0u64; len.div_ceil(64)];
    for j in 0..count {
        let first = j * per_part;
        let own = per_part.min(pb - first);
        fb = pieces_into(fb, b, b_bits, first, own, size);
        if j == 0 {
            rayon::join(|| transform_filled(&mut fa, pa), || transform_filled(&mut fb, own));
        } else {
            transform_filled(&mut fb, own);
        }
        pointwise(&mut fb, &fa);
        // deg C_j ≤ (pa − 1) + (own − 1): its novel coefficients from pa + own − 1 on are zero.
        inverse_transform_filled(&mut fb, pa + own - 1);
        overlap_add(&mut out, &fb[..pa + own - 1], 32 * first, offset, len);
    }
    if !len.is_multiple_of(64) {
        *out.last_mut().expect("len ≥ 1") &= u64::MAX >> (64 - len % 64);
    }
    fa.zeroize();
    fb.zeroize();
    out
}

/// How many parts to cut `b`'s `pb` pieces into, and the pieces per part: the count of 1 or
/// 2 with the fewer field products, `(1 + 2·parts)·2^K·K` with `2^K ≥ pa + pieces per part`
/// (ties to one part).
fn parts(pa: usize, pb: usize) -> (usize, usize) {
    let cost = |count: usize| {
        let per = pb.div_ceil(count);
        let size = (pa + per).next_power_of_two().max(4);
        ((1 + 2 * count) as f64 * size as f64 * f64::from(size.trailing_zeros()), per)
    };
    let (one, two) = (cost(1), cost(2));
    if pb >= 2 && two.0 < one.0 { (2, two.1) } else { (1, one.1) }
}

/// XOR the coefficients `c_k` (polynomials of degree ≤ 62) at bit positions `shift + 32k` into
/// the window `offset .. offset + len` of `out` (its bit 0 is the product's bit `offset`).
fn overlap_add(out: &mut [u64], coeffs: &[u64], shift: usize, offset: usize, len: usize) {
    // Coefficients wholly below the window or at or above its end contribute nothing.
    let k0 = (offset.saturating_sub(shift + 63)) / 32;
    let k1 = ((offset + len).saturating_sub(shift)).div_ceil(32).min(coeffs.len());
    for (k, &c) in coeffs.iter().enumerate().take(k1).skip(k0) {
        let pos = shift + 32 * k;
        if pos < offset {
            if offset - pos < 64 {
                out[0] ^= c >> (offset - pos);
            }
            continue;
        }
        let rel = pos - offset;
        let (w, bit) = (rel / 64, rel % 64);
        if w >= out.len() {
            break;
        }
        out[w] ^= c << bit;
        if bit != 0 && w + 1 < out.len() {
            out[w + 1] ^= c >> (64 - bit);
        }
    }
}

/// The 32-bit pieces `first .. first + count` of a polynomial of `bits` bits, one per word,
/// zero-padded to `size`.
fn pieces(words: &[u64], bits: usize, first: usize, count: usize, size: usize) -> Vec<u64> {
    pieces_into(Vec::new(), words, bits, first, count, size)
}

/// [`pieces`] written into `buf` (reused when it already has `size` words: no fresh pages).
fn pieces_into(mut buf: Vec<u64>, words: &[u64], bits: usize, first: usize, count: usize, size: usize) -> Vec<u64> {
    if buf.len() == size {
        buf[count..].par_chunks_mut(PAR_WORDS).for_each(|c| c.fill(0));
    } else {
        buf.zeroize();
        buf = vec![0u64; size];
    }
    for (i, slot) in (first..first + count).zip(buf.iter_mut()) {
        let piece = (words[i / 2] >> (32 * (i % 2))) & 0xffff_ffff;
        let valid = (bits - 32 * i).min(32);
        *slot = piece & (u64::MAX >> (64 - valid));
    }
    buf
}

/// Monomial coefficients → evaluations at `span(β₀…β_{K−1})` (index `i` ↦ `Σ_{bits u} β_u`).
#[cfg(test)]
pub fn transform(p: &mut [u64]) {
    let fill = p.len();
    transform_filled(p, fill);
}

/// Monomial coefficients → evaluations at `span(β₀…β_{K−1})` (index `i` ↦ `Σ_{bits u} β_u`)
/// of coefficients that are zero from index `fill` on (the arrays of a product
/// are 37–93 % full). The basis change only moves coefficients down, so they stay zero there
/// until the butterflies, and every division whose sources lie there is skipped (a truncated
/// transform: the basis change costs ∝ `fill`, not the array's length).
pub fn transform_filled(p: &mut [u64], fill: usize) {
    let k_max = p.len().trailing_zeros();
    let mid = k_max.min(L2_LOG);
    for k in (mid + 1..=k_max).rev() {
        p.par_chunks_mut(1 << k).enumerate().for_each(|(i, blk)| divide(blk, k, local_fill(fill, i << k, blk.len())));
    }
    p.par_chunks_mut(1 << mid).enumerate().for_each(|(i, blk)| {
        let g = i << mid;
        for k in (BLOCK_LOG + 1..=mid).rev() {
            for (s, sub) in blk.chunks_mut(1 << k).enumerate() {
                divide(sub, k, local_fill(fill, g + (s << k), 1 << k));
            }
        }
        let inner = mid.min(BLOCK_LOG);
        for (t, tile) in blk.chunks_mut(1 << inner).enumerate() {
            let tile_fill = local_fill(fill, g + (t << inner), tile.len());
            for k in (2..=inner).rev() {
                divide_level(tile, k, tile_fill);
            }
        }
    });
    // Butterflies, the levels above `mid` two at a time (one pass over memory per pair).
    let mut k = k_max;
    while k > mid {
        if k - 1 > mid {
            p.par_chunks_mut(1 << k).enumerate().for_each(|(i, blk)| butterfly_pair(i << k, blk, k, true));
            k -= 2;
        } else {
            p.par_chunks_mut(1 << k).enumerate().for_each(|(i, blk)| forward(i << k, blk, k));
            k -= 1;
        }
    }
    p.par_chunks_mut(1 << mid).enumerate().for_each(|(i, blk)| {
        let g = i << mid;
        for k in (BLOCK_LOG + 1..=mid).rev() {
            for (s, sub) in blk.chunks_mut(1 << k).enumerate() {
                forward(g + (s << k), sub, k);
            }
        }
        let inner = mid.min(BLOCK_LOG);
        for (t, tile) in blk.chunks_mut(1 << inner).enumerate() {
            tile_butterflies(g + (t << inner), tile, inner, true);
        }
    });
}

/// The inverse of [`transform`].
#[cfg(test)]
pub fn inverse_transform(p: &mut [u64]) {
    let fill = p.len();
    inverse_transform_filled(p, fill);
}

/// The inverse of [`transform_filled`] for a result whose monomial (and so novel: `X_j` has degree
/// `j`) coefficients are zero from index `fill` on; the basis change skips those sources.
pub fn inverse_transform_filled(p: &mut [u64], fill: usize) {
    let k_max = p.len().trailing_zeros();
    let mid = k_max.min(L2_LOG);
    p.par_chunks_mut(1 << mid).enumerate().for_each(|(i, blk)| {
        let g = i << mid;
        let inner = mid.min(BLOCK_LOG);
        for (t, tile) in blk.chunks_mut(1 << inner).enumerate() {
            tile_butterflies(g + (t << inner), tile, inner, false);
        }
        for k in BLOCK_LOG + 1..=mid {
            for (s, sub) in blk.chunks_mut(1 << k).enumerate() {
                backward(g + (s << k), sub, k);
            }
        }
    });
    let mut k = mid + 1;
    while k <= k_max {
        if k < k_max {
            p.par_chunks_mut(1 << (k + 1)).enumerate().for_each(|(i, blk)| {
                butterfly_pair(i << (k + 1), blk, k + 1, false);
            });
            k += 2;
        } else {
            p.par_chunks_mut(1 << k).enumerate().for_each(|(i, blk)| backward(i << k, blk, k));
            k += 1;
        }
    }
    p.par_chunks_mut(1 << mid).enumerate().for_each(|(i, blk)| {
        let g = i << mid;
        let inner = mid.min(BLOCK_LOG);
        for (t, tile) in blk.chunks_mut(1 << inner).enumerate() {
            let tile_fill = local_fill(fill, g + (t << inner), tile.len());
            for k in 2..=inner {
                multiply_level(tile, k, tile_fill);
            }
        }
        for k in BLOCK_LOG + 1..=mid {
            for (s, sub) in blk.chunks_mut(1 << k).enumerate() {
                multiply(sub, k, local_fill(fill, g + (s << k), 1 << k));
            }
        }
    });
    for k in mid + 1..=k_max {
        p.par_chunks_mut(1 << k).enumerate().for_each(|(i, blk)| multiply(blk, k, local_fill(fill, i << k, blk.len())));
    }
}

/// How many of the `len` words of a block starting at global index `start` lie below `fill`.
fn local_fill(fill: usize, start: usize, len: usize) -> usize {
    fill.saturating_sub(start).min(len)
}

/// The exponents `j < i` of the lower terms `Y^(2^j)` of `s_i` (binomial(i, j) odd: `j ⊆ i`).
fn lower_terms(i: u32) -> impl Iterator<Item = u32> {
    (0..i).filter(move |&j| j & i == j)
}

/// Block `P` of 2^k monomial coefficients (k ≥ 1) → `P₀ + s_{k−1}·P₁` with `P₀` in the lower
/// half and `P₁` in the upper half: division by `s_{k−1} = Y^h + Σ Y^(2^j)`, `h = 2^(k−1)`,
/// from the top coefficient down. The lower terms are at least `h/2` below `Y^h`, so the upper
/// half splits into two quarters whose quotient coefficients are final before they are used.
/// Coefficients from `fill` on are zero: their XORs are skipped.
fn divide(p: &mut [u64], k: u32, fill: usize) {
    if k < 2 {
        return; // s₀ = Y: nothing to do.
    }
    let h = 1usize << (k - 1);
    let d = h / 2;
    for e0 in [h + d, h] {
        if fill > e0 {
            reduce_quarter(p, k, e0, (fill - e0).min(d), h);
        }
    }
}

/// The inverse of [`divide`]: the same XORs in the reverse order.
fn multiply(p: &mut [u64], k: u32, fill: usize) {
    if k < 2 {
        return;
    }
    let h = 1usize << (k - 1);
    let d = h / 2;
    for e0 in [h, h + d] {
        if fill > e0 {
            reduce_quarter(p, k, e0, (fill - e0).min(d), h);
        }
    }
}

/// [`divide`] on every 2^k-word block of `p` (a cache tile; `p.len()` a multiple of 2^k) whose
/// coefficients are zero from `fill` on, with the lower terms of `s_{k−1}` found once for the
/// whole tile instead of once per block: the same XORs, without a call per block (at the
/// bottom levels the blocks are 4–16 words, and the per-call set-up cost more than the XORs).
fn divide_level(p: &mut [u64], k: u32, fill: usize) {
    let (shifts, count) = level_shifts(k);
    let (h, d) = (1usize << (k - 1), 1usize << (k - 2));
    let full = fill >> k;
    for blk in p.chunks_exact_mut(1 << k).take(full) {
        for e0 in [h + d, h] {
            xor_quarter(blk, e0, d, &shifts[..count]);
        }
    }
    let rest = fill & ((1 << k) - 1);
    if rest > 0 {
        divide(&mut p[full << k..(full + 1) << k], k, rest);
    }
}

/// The inverse of [`divide_level`]: [`multiply`] on every block, the quarters in reverse order.
fn multiply_level(p: &mut [u64], k: u32, fill: usize) {
    let (shifts, count) = level_shifts(k);
    let (h, d) = (1usize << (k - 1), 1usize << (k - 2));
    let full = fill >> k;
    for blk in p.chunks_exact_mut(1 << k).take(full) {
        for e0 in [h, h + d] {
            xor_quarter(blk, e0, d, &shifts[..count]);
        }
    }
    let rest = fill & ((1 << k) - 1);
    if rest > 0 {
        multiply(&mut p[full << k..(full + 1) << k], k, rest);
    }
}

/// The shifts `h − 2^j` of the lower terms `Y^(2^j)` of `s_{k−1}` (`h = 2^(k−1)`), farthest
/// first, and how many there are.
fn level_shifts(k: u32) -> ([usize; 32], usize) {
    let h = 1usize << (k - 1);
    let mut shifts = [0usize; 32];
    let mut count = 0;
    for j in lower_terms(k - 1) {
        shifts[count] = h - (1 << j);
        count += 1;
    }
    (shifts, count)
}

/// The XORs of [`reduce_quarter`] for a whole quarter of `d` quotient coefficients at
/// `e0 .. e0 + d` of one block (sources above `e0`, destinations below it, so disjoint).
#[inline]
fn xor_quarter(blk: &mut [u64], e0: usize, d: usize, shifts: &[usize]) {
    let (lo, hi) = blk.split_at_mut(e0);
    let src = &hi[..d];
    for &off in shifts {
        for (x, y) in lo[e0 - off..e0 - off + d].iter_mut().zip(src) {
            *x ^= y;
        }
    }
}

/// XOR the quotient coefficients at `e0 .. e0 + d` (`d` at most a quarter of the block; less
/// when the rest is zero) into their positions shifted down by
/// `h − 2^j` for every lower term of `s_{k−1}`. Written as a gather (each destination tile
/// reads its sources once per term and is written once), so destination tiles are
/// independent and run in parallel; all destinations lie below `e0`, all sources above.
fn reduce_quarter(p: &mut [u64], k: u32, e0: usize, d: usize, h: usize) {
    let (lo, hi) = p.split_at_mut(e0);
    let hi = &hi[..d];
    let mut shifts = [0usize; 32];
    let mut count = 0;
    for j in lower_terms(k - 1) {
        shifts[count] = h - (1 << j);
        count += 1;
    }
    let terms = &shifts[..count];
    let (far, near) = (terms[0], terms[count - 1]);
    // Destinations: e0 − off + (0..d) for each shift off; their union starts at e0 − far.
    let base = e0 - far;
    let dest = &mut lo[base..e0 - near + d];
    let gather = |t0: usize, tile: &mut [u64]| {
        // tile covers destinations base + t0 .. base + t0 + tile.len().
        for &off in terms {
            // Source index of destination x is x + off − e0 (in hi), valid for 0..d.
            let first = (base + t0 + off).max(e0) - e0;
            let last = (base + t0 + tile.len() + off).min(e0 + d);
            if last <= e0 + first {
                continue;
            }
            let last = last - e0;
            let at = first + e0 - off - base - t0;
            for (x, y) in tile[at..at + (last - first)].iter_mut().zip(&hi[first..last]) {
                *x ^= y;
            }
        }
    };
    if dest.len() >= 2 * PAR_WORDS {
        dest.par_chunks_mut(PAR_WORDS).enumerate().for_each(|(i, tile)| gather(i * PAR_WORDS, tile));
    } else {
        gather(0, dest);
    }
}

/// One level of the LCH transform on the block at global index `g` (2^k words): with
/// `w = s_{k−1}(λ)` for the block's coset `λ + V_k`, `(u, v) ← (u + w·v, u + (w + 1)·v)`.
fn forward(g: usize, p: &mut [u64], k: u32) {
    let w = gf64::span_element(g >> k, 1);
    let (lo, hi) = p.split_at_mut(1 << (k - 1));
    butterflies(lo, hi, w, true);
}

/// The inverse of [`forward`].
fn backward(g: usize, p: &mut [u64], k: u32) {
    let w = gf64::span_element(g >> k, 1);
    let (lo, hi) = p.split_at_mut(1 << (k - 1));
    butterflies(lo, hi, w, false);
}

/// The twists `span_element(s, 1)` of the sub-blocks `s < 2^(BLOCK_LOG − 1)` of a tile (computed
/// once): a tile at global index `g` (a multiple of its length 2^L) has at level `k ≤ L` the
/// twist `span_element(g >> k, 1) ^ span_element(s, 1)` for its sub-block `s`, the two indices
/// having disjoint bits and `span_element` being linear in them.
fn tile_twists() -> &'static [u64] {
    static TWISTS: OnceLock<Vec<u64>> = OnceLock::new();
    TWISTS.get_or_init(|| (0..1usize << (BLOCK_LOG - 1)).map(|s| gf64::span_element(s, 1)).collect())
}

/// Levels `levels` down to 1 ([`forward`], `forward` true) or 1 up to `levels` ([`backward`]) of
/// the butterflies on a cache tile of 2^levels words at global index `g`: the same products
/// and XORs as one call per sub-block, with the twists from [`tile_twists`] and one dispatch
/// for the tile.
fn tile_butterflies(g: usize, tile: &mut [u64], levels: u32, forward: bool) {
    tile_butterflies_by(Kernel::best(), g, tile, levels, forward);
}

/// [`tile_butterflies`] with the given kernel (which the CPU must support).
fn tile_butterflies_by(kernel: Kernel, g: usize, tile: &mut [u64], levels: u32, forward: bool) {
    debug_assert!(tile.len() == 1 << levels && levels < BLOCK_LOG + 1 && g.is_multiple_of(tile.len()));
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Wide` is only chosen when the CPU has vpclmulqdq, avx2 and pclmulqdq.
        Kernel::Wide => unsafe { tile_butterflies_wide(g, tile, levels, forward) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Clmul` is only chosen when the CPU has pclmulqdq.
        Kernel::Clmul => unsafe { tile_butterflies_hw(g, tile, levels, forward) },
        _ => tile_butterflies_with(g, tile, levels, forward, |lo, hi, w, f| {
            butterflies_with(lo, hi, w, f, gf64::mul_soft)
        }),
    }
}

/// [`tile_butterflies`] with `VPCLMULQDQ`.
///
/// # Safety
/// The CPU must support `vpclmulqdq`, `avx2` and `pclmulqdq`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "vpclmulqdq,avx2,pclmulqdq")]
unsafe fn tile_butterflies_wide(g: usize, tile: &mut [u64], levels: u32, forward: bool) {
    // SAFETY (closures): the features by this function's contract.
    let halves = |lo: &mut [u64], hi: &mut [u64], w, f| unsafe { butterflies_wide(lo, hi, w, f) };
    if levels < 4 {
        tile_butterflies_with(g, tile, levels, forward, halves);
    } else if forward {
        tile_levels_with(g, tile, 3, levels, forward, halves);
        // SAFETY: as above.
        unsafe { bottom_levels_wide(g, tile, forward) };
    } else {
        // SAFETY: as above.
        unsafe { bottom_levels_wide(g, tile, forward) };
        tile_levels_with(g, tile, 3, levels, forward, halves);
    }
}

/// Levels 2 and 1 of the butterflies on a tile at global index `g` (length a multiple of 16),
/// fused: each 4-word block is one radix-4 step ([`quad_step`] on one-word quarters), four
/// blocks at a time, transposed so that lane `i` holds block `i` (twists per lane, products
/// `gf64::mul4_lanes_hw`). The same products and XORs as the two levels' per-sub-block calls,
/// which at half lengths of 2 and 1 words fall to the SSE and scalar tails.
///
/// # Safety
/// The CPU must support `vpclmulqdq`, `avx2` and `pclmulqdq`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "vpclmulqdq,avx2,pclmulqdq")]
unsafe fn bottom_levels_wide(g: usize, tile: &mut [u64], forward: bool) {
    use core::arch::x86_64::{
        __m256i, _mm256_loadu_si256, _mm256_permute2x128_si256, _mm256_storeu_si256, _mm256_unpackhi_epi64,
        _mm256_unpacklo_epi64,
    };
    debug_assert!(tile.len().is_multiple_of(16) && tile.len() <= 1 << BLOCK_LOG);
    let twists = tile_twists();
    let (base2, base1) = (gf64::span_element(g >> 2, 1), gf64::span_element(g >> 1, 1));
    // The 4×4 transpose of words (its own inverse).
    let transpose = |r: [__m256i; 4]| {
        let t0 = _mm256_unpacklo_epi64(r[0], r[1]);
        let t1 = _mm256_unpackhi_epi64(r[0], r[1]);
        let t2 = _mm256_unpacklo_epi64(r[2], r[3]);
        let t3 = _mm256_unpackhi_epi64(r[2], r[3]);
        [
            _mm256_permute2x128_si256(t0, t2, 0x20),
            _mm256_permute2x128_si256(t1, t3, 0x20),
            _mm256_permute2x128_si256(t0, t2, 0x31),
            _mm256_permute2x128_si256(t1, t3, 0x31),
        ]
    };
    for (q, group) in tile.chunks_exact_mut(16).enumerate() {
        // Blocks 4q .. 4q + 4 of the tile: level-2 sub-block b, level-1 sub-blocks 2b, 2b + 1.
        let b0 = 4 * q;
        let w2: [u64; 4] = std::array::from_fn(|i| base2 ^ twists[b0 + i]);
        let wa: [u64; 4] = std::array::from_fn(|i| base1 ^ twists[2 * (b0 + i)]);
        let wb: [u64; 4] = std::array::from_fn(|i| base1 ^ twists[2 * (b0 + i) + 1]);
        // SAFETY: four-word arrays.
        let [w2, wa, wb] = [w2, wa, wb].map(|w| unsafe { _mm256_loadu_si256(w.as_ptr().cast()) });
        let p = group.as_mut_ptr().cast::<__m256i>();
        // SAFETY: `group` holds 16 words: four unaligned 256-bit loads.
        let r = std::array::from_fn(|i| unsafe { _mm256_loadu_si256(p.add(i)) });
        let u = transpose(r).map(Lanes4);
        // SAFETY (closures): the features by this function's contract.
        let mul = |t: __m256i| move |x: Lanes4| Lanes4(unsafe { gf64::mul4_lanes_hw(x.0, t) });
        let u = quad_step(u, forward, mul(w2), mul(wa), mul(wb));
        let r = transpose(u.map(|x| x.0));
        for (i, v) in r.into_iter().enumerate() {
            // SAFETY: as for the loads.
            unsafe { _mm256_storeu_si256(p.add(i), v) };
        }
    }
}

/// [`tile_butterflies`] with `PCLMULQDQ`.
///
/// # Safety
/// The CPU must support `pclmulqdq`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
unsafe fn tile_butterflies_hw(g: usize, tile: &mut [u64], levels: u32, forward: bool) {
    // SAFETY: pclmulqdq by this function's contract.
    tile_butterflies_with(g, tile, levels, forward, |lo, hi, w, f| unsafe { butterflies_hw(lo, hi, w, f) });
}

/// The level loop of [`tile_butterflies`] with the butterflies `halves` on two half blocks,
/// inlined into each caller.
#[inline(always)]
fn tile_butterflies_with(
    g: usize,
    tile: &mut [u64],
    levels: u32,
    forward: bool,
    halves: impl Fn(&mut [u64], &mut [u64], u64, bool),
) {
    tile_levels_with(g, tile, 1, levels, forward, halves);
}

/// Levels `levels` down to `low` (forward) or `low` up to `levels` of [`tile_butterflies_with`].
#[inline(always)]
fn tile_levels_with(
    g: usize,
    tile: &mut [u64],
    low: u32,
    levels: u32,
    forward: bool,
    halves: impl Fn(&mut [u64], &mut [u64], u64, bool),
) {
    let twists = tile_twists();
    let mut level = |k: u32| {
        let base = gf64::span_element(g >> k, 1);
        for (sub, &twist) in tile.chunks_exact_mut(1 << k).zip(twists) {
            let (lo, hi) = sub.split_at_mut(1 << (k - 1));
            halves(lo, hi, base ^ twist, forward);
        }
    };
    if forward {
        (low..=levels).rev().for_each(&mut level);
    } else {
        (low..=levels).for_each(&mut level);
    }
}

/// Two levels at once on the block at global index `g` (2^k words, k ≥ 2): level k on the
/// quarter pairs (0, 2) and (1, 3) with `w = s_{k−1}(λ)`, and level k − 1 on (0, 1) and (2, 3)
/// with the twists of the two half blocks — forward in that order, inverse (`forward` false)
/// undoing them in the reverse order. The same products and XORs as two calls of [`forward`]
/// (or [`backward`]), in one pass over the block instead of two (a radix-4 step).
fn butterfly_pair(g: usize, p: &mut [u64], k: u32, forward: bool) {
    let w =
        [gf64::span_element(g >> k, 1), gf64::span_element(g >> (k - 1), 1), gf64::span_element((g >> (k - 1)) + 1, 1)];
    let q = 1usize << (k - 2);
    let (a, rest) = p.split_at_mut(q);
    let (b, rest) = rest.split_at_mut(q);
    let (c, d) = rest.split_at_mut(q);
    quad(a, b, c, d, w, forward);
}

/// The butterflies of [`butterfly_pair`] over four quarters, split across rayon threads.
fn quad(a: &mut [u64], b: &mut [u64], c: &mut [u64], d: &mut [u64], w: [u64; 3], forward: bool) {
    if a.len() >= 2 * PAR_WORDS {
        a.par_chunks_mut(PAR_WORDS)
            .zip(b.par_chunks_mut(PAR_WORDS))
            .zip(c.par_chunks_mut(PAR_WORDS).zip(d.par_chunks_mut(PAR_WORDS)))
            .for_each(|((a, b), (c, d))| quad(a, b, c, d, w, forward));
        return;
    }
    quad_by(Kernel::best(), a, b, c, d, w, forward);
}

/// The butterflies of [`quad`] on one thread with the given kernel (which the CPU must support).
fn quad_by(kernel: Kernel, a: &mut [u64], b: &mut [u64], c: &mut [u64], d: &mut [u64], w: [u64; 3], forward: bool) {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Wide` is only chosen when the CPU has vpclmulqdq, avx2 and pclmulqdq.
        Kernel::Wide => unsafe { quad_wide(a, b, c, d, w, forward) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Clmul` is only chosen when the CPU has pclmulqdq.
        Kernel::Clmul => unsafe { quad_hw(a, b, c, d, w, forward) },
        _ => quad_with(a, b, c, d, w, forward, gf64::mul_soft),
    }
}

/// [`quad`] with `VPCLMULQDQ`: four butterflies of each kind per step in 256-bit registers
/// (`gf64::mul4_hw`), the tail on [`quad_hw`].
///
/// # Safety
/// The CPU must support `vpclmulqdq`, `avx2` and `pclmulqdq`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "vpclmulqdq,avx2,pclmulqdq")]
unsafe fn quad_wide(a: &mut [u64], b: &mut [u64], c: &mut [u64], d: &mut [u64], w: [u64; 3], forward: bool) {
    use core::arch::x86_64::{__m256i, _mm256_loadu_si256, _mm256_set1_epi64x, _mm256_storeu_si256};
    let four = a.len() & !3;
    let [wk, wa, wb] = w.map(|t| _mm256_set1_epi64x(t as i64));
    let (a4, a1) = a.split_at_mut(four);
    let (b4, b1) = b.split_at_mut(four);
    let (c4, c1) = c.split_at_mut(four);
    let (d4, d1) = d.split_at_mut(four);
    for (((x0, x1), x2), x3) in
        a4.chunks_exact_mut(4).zip(b4.chunks_exact_mut(4)).zip(c4.chunks_exact_mut(4)).zip(d4.chunks_exact_mut(4))
    {
        let ptrs = [x0, x1, x2, x3].map(|x| x.as_mut_ptr().cast::<__m256i>());
        // SAFETY: each pointer addresses four u64 of its chunk (unaligned loads and stores).
        let u = ptrs.map(|p| Lanes4(unsafe { _mm256_loadu_si256(p) }));
        // SAFETY: the features by this function's contract.
        let mul = |t: __m256i| move |x: Lanes4| Lanes4(unsafe { gf64::mul4_hw(x.0, t) });
        let u = quad_step(u, forward, mul(wk), mul(wa), mul(wb));
        for (p, x) in ptrs.into_iter().zip(u) {
            // SAFETY: as for the loads.
            unsafe { _mm256_storeu_si256(p, x.0) };
        }
    }
    // SAFETY: pclmulqdq by this function's contract.
    unsafe { quad_hw(a1, b1, c1, d1, w, forward) };
}

/// [`quad`] with `PCLMULQDQ`.
///
/// # Safety
/// The CPU must support `pclmulqdq`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
unsafe fn quad_hw(a: &mut [u64], b: &mut [u64], c: &mut [u64], d: &mut [u64], w: [u64; 3], forward: bool) {
    use core::arch::x86_64::{__m128i, _mm_cvtsi64_si128, _mm_loadu_si128, _mm_storeu_si128};
    let even = a.len() & !1;
    let [wk, wa, wb] = w.map(|t| _mm_cvtsi64_si128(t as i64));
    let (a2, a1) = a.split_at_mut(even);
    let (b2, b1) = b.split_at_mut(even);
    let (c2, c1) = c.split_at_mut(even);
    let (d2, d1) = d.split_at_mut(even);
    // Two butterflies of each kind per step, in SSE registers (`mul2_hw`).
    for (((x0, x1), x2), x3) in
        a2.chunks_exact_mut(2).zip(b2.chunks_exact_mut(2)).zip(c2.chunks_exact_mut(2)).zip(d2.chunks_exact_mut(2))
    {
        let ptrs = [x0, x1, x2, x3].map(|x| x.as_mut_ptr().cast::<__m128i>());
        // SAFETY: each pointer addresses two u64 of its chunk (unaligned loads and stores).
        let u = ptrs.map(|p| Lanes(unsafe { _mm_loadu_si128(p) }));
        // SAFETY: pclmulqdq by this function's contract.
        let mul = |t: __m128i| move |x: Lanes| Lanes(unsafe { gf64::mul2_hw(x.0, t) });
        let u = quad_step(u, forward, mul(wk), mul(wa), mul(wb));
        for (p, x) in ptrs.into_iter().zip(u) {
            // SAFETY: as for the loads.
            unsafe { _mm_storeu_si128(p, x.0) };
        }
    }
    // SAFETY: pclmulqdq by this function's contract.
    quad_with(a1, b1, c1, d1, w, forward, |x, y| unsafe { gf64::mul_hw(x, y) });
}

/// Two GF(2⁶⁴) elements in an SSE register, added (XOR) lane by lane.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Lanes(core::arch::x86_64::__m128i);

/// Four GF(2⁶⁴) elements in an AVX2 register, added (XOR) lane by lane; only built inside
/// functions compiled with `avx2` (into which `bitxor` is inlined).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Lanes4(core::arch::x86_64::__m256i);

#[cfg(target_arch = "x86_64")]
impl core::ops::BitXor for Lanes4 {
    type Output = Lanes4;
    #[inline(always)]
    fn bitxor(self, other: Lanes4) -> Lanes4 {
        // SAFETY: a `Lanes4` only exists in code running with avx2 (see the type's doc).
        Lanes4(unsafe { xor256(self.0, other.0) })
    }
}

/// `a ^ b` on 256 bits.
///
/// # Safety
/// The CPU must support `avx2`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn xor256(a: core::arch::x86_64::__m256i, b: core::arch::x86_64::__m256i) -> core::arch::x86_64::__m256i {
    core::arch::x86_64::_mm256_xor_si256(a, b)
}

#[cfg(target_arch = "x86_64")]
impl core::ops::BitXor for Lanes {
    type Output = Lanes;
    #[inline(always)]
    fn bitxor(self, other: Lanes) -> Lanes {
        // SAFETY: sse2 is baseline on x86-64.
        #[allow(unused_unsafe)]
        Lanes(unsafe { core::arch::x86_64::_mm_xor_si128(self.0, other.0) })
    }
}

/// The radix-4 butterflies of [`quad`] with the GF(2⁶⁴) product `mul`, inlined into each
/// caller (so the hardware product is compiled inside [`quad_hw`]'s `target_feature`).
#[inline(always)]
fn quad_with(
    a: &mut [u64],
    b: &mut [u64],
    c: &mut [u64],
    d: &mut [u64],
    w: [u64; 3],
    forward: bool,
    mul: impl Fn(u64, u64) -> u64,
) {
    let [wk, wa, wb] = w;
    for (((x0, x1), x2), x3) in a.iter_mut().zip(b.iter_mut()).zip(c.iter_mut()).zip(d.iter_mut()) {
        let [u0, u1, u2, u3] = quad_step([*x0, *x1, *x2, *x3], forward, |x| mul(x, wk), |x| mul(x, wa), |x| mul(x, wb));
        (*x0, *x1, *x2, *x3) = (u0, u1, u2, u3);
    }
}

/// One radix-4 step on `u = [u0, u1, u2, u3]` (one element of each quarter, or two lanes of
/// each): level k on (0, 2) and (1, 3) with the product `mk` by its twist, level k − 1 on
/// (0, 1) with `ma` and (2, 3) with `mb`; forward in that order, inverse in the reverse order.
#[inline(always)]
fn quad_step<T: Copy + core::ops::BitXor<Output = T>>(
    u: [T; 4],
    forward: bool,
    mk: impl Fn(T) -> T,
    ma: impl Fn(T) -> T,
    mb: impl Fn(T) -> T,
) -> [T; 4] {
    let [mut u0, mut u1, mut u2, mut u3] = u;
    if forward {
        u0 = u0 ^ mk(u2);
        u2 = u2 ^ u0;
        u1 = u1 ^ mk(u3);
        u3 = u3 ^ u1;
        u0 = u0 ^ ma(u1);
        u1 = u1 ^ u0;
        u2 = u2 ^ mb(u3);
        u3 = u3 ^ u2;
    } else {
        u1 = u1 ^ u0;
        u0 = u0 ^ ma(u1);
        u3 = u3 ^ u2;
        u2 = u2 ^ mb(u3);
        u2 = u2 ^ u0;
        u0 = u0 ^ mk(u2);
        u3 = u3 ^ u1;
        u1 = u1 ^ mk(u3);
    }
    [u0, u1, u2, u3]
}

/// Forward (`u += w·v; v += u`) or inverse (`v += u; u += w·v`) butterflies over two halves.
fn butterflies(lo: &mut [u64], hi: &mut [u64], w: u64, forward: bool) {
    if lo.len() >= 2 * PAR_WORDS {
        lo.par_chunks_mut(PAR_WORDS).zip(hi.par_chunks_mut(PAR_WORDS)).for_each(|(l, h)| butterflies(l, h, w, forward));
        return;
    }
    butterflies_by(Kernel::best(), lo, hi, w, forward);
}

/// [`butterflies`] on one thread with the given kernel (which the CPU must support).
fn butterflies_by(kernel: Kernel, lo: &mut [u64], hi: &mut [u64], w: u64, forward: bool) {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Wide` is only chosen when the CPU has vpclmulqdq, avx2 and pclmulqdq.
        Kernel::Wide => unsafe { butterflies_wide(lo, hi, w, forward) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Clmul` is only chosen when the CPU has pclmulqdq.
        Kernel::Clmul => unsafe { butterflies_hw(lo, hi, w, forward) },
        _ => butterflies_with(lo, hi, w, forward, gf64::mul_soft),
    }
}

/// [`butterflies`] with `VPCLMULQDQ`: four butterflies per step (`gf64::mul4_hw`), the tail
/// (and halves shorter than four words) on [`butterflies_hw`].
///
/// # Safety
/// The CPU must support `vpclmulqdq`, `avx2` and `pclmulqdq`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "vpclmulqdq,avx2,pclmulqdq")]
#[inline]
unsafe fn butterflies_wide(lo: &mut [u64], hi: &mut [u64], w: u64, forward: bool) {
    use core::arch::x86_64::{__m256i, _mm256_loadu_si256, _mm256_set1_epi64x, _mm256_storeu_si256};
    if w == 0 || lo.len() < 4 {
        // SAFETY: pclmulqdq by this function's contract.
        unsafe { butterflies_hw(lo, hi, w, forward) };
        return;
    }
    let four = lo.len() & !3;
    let wv = _mm256_set1_epi64x(w as i64);
    let (lo4, lo1) = lo.split_at_mut(four);
    let (hi4, hi1) = hi.split_at_mut(four);
    for (u, v) in lo4.chunks_exact_mut(4).zip(hi4.chunks_exact_mut(4)) {
        let (pu, pv) = (u.as_mut_ptr().cast::<__m256i>(), v.as_mut_ptr().cast::<__m256i>());
        // SAFETY: each pointer addresses four u64 of its chunk (unaligned loads and stores);
        // the features by this function's contract.
        unsafe {
            let (x, y) =
                butterfly_step(Lanes4(_mm256_loadu_si256(pu)), Lanes4(_mm256_loadu_si256(pv)), forward, |t: Lanes4| {
                    Lanes4(gf64::mul4_hw(t.0, wv))
                });
            _mm256_storeu_si256(pu, x.0);
            _mm256_storeu_si256(pv, y.0);
        }
    }
    // SAFETY: pclmulqdq by this function's contract.
    unsafe { butterflies_hw(lo1, hi1, w, forward) };
}

/// [`butterflies`] with `PCLMULQDQ`.
///
/// # Safety
/// The CPU must support `pclmulqdq`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
unsafe fn butterflies_hw(lo: &mut [u64], hi: &mut [u64], w: u64, forward: bool) {
    use core::arch::x86_64::{__m128i, _mm_cvtsi64_si128, _mm_loadu_si128, _mm_storeu_si128};
    if w == 0 || lo.len() < 2 {
        // SAFETY: pclmulqdq by this function's contract.
        butterflies_with(lo, hi, w, forward, |x, y| unsafe { gf64::mul_hw(x, y) });
        return;
    }
    let even = lo.len() & !1;
    let wv = _mm_cvtsi64_si128(w as i64);
    let (lo2, lo1) = lo.split_at_mut(even);
    let (hi2, hi1) = hi.split_at_mut(even);
    // Two butterflies per step in SSE registers (`mul2_hw`).
    for (u, v) in lo2.chunks_exact_mut(2).zip(hi2.chunks_exact_mut(2)) {
        let (pu, pv) = (u.as_mut_ptr().cast::<__m128i>(), v.as_mut_ptr().cast::<__m128i>());
        // SAFETY: each pointer addresses two u64 of its chunk (unaligned loads and stores);
        // pclmulqdq by this function's contract.
        unsafe {
            let (x, y) = butterfly_step(Lanes(_mm_loadu_si128(pu)), Lanes(_mm_loadu_si128(pv)), forward, |t: Lanes| {
                Lanes(gf64::mul2_hw(t.0, wv))
            });
            _mm_storeu_si128(pu, x.0);
            _mm_storeu_si128(pv, y.0);
        }
    }
    // SAFETY: pclmulqdq by this function's contract.
    butterflies_with(lo1, hi1, w, forward, |x, y| unsafe { gf64::mul_hw(x, y) });
}

/// One butterfly: forward `u += w·v; v += u`, inverse `v += u; u += w·v` (`mul` the product by
/// the twist `w`), on one element or two lanes.
#[inline(always)]
fn butterfly_step<T: Copy + core::ops::BitXor<Output = T>>(u: T, v: T, forward: bool, mul: impl Fn(T) -> T) -> (T, T) {
    if forward {
        let u = u ^ mul(v);
        (u, v ^ u)
    } else {
        let v = v ^ u;
        (u ^ mul(v), v)
    }
}

/// The butterflies of [`butterflies`] with the GF(2⁶⁴) product `mul`, inlined into each caller
/// (a zero twist, level 0's, needs no product).
#[inline(always)]
fn butterflies_with(lo: &mut [u64], hi: &mut [u64], w: u64, forward: bool, mul: impl Fn(u64, u64) -> u64) {
    if w == 0 {
        for (u, v) in lo.iter_mut().zip(hi.iter_mut()) {
            *v ^= *u;
        }
    } else {
        for (u, v) in lo.iter_mut().zip(hi.iter_mut()) {
            (*u, *v) = butterfly_step(*u, *v, forward, |t| mul(t, w));
        }
    }
}

/// `a[i] ← a[i]·b[i]` in GF(2⁶⁴).
fn pointwise(a: &mut [u64], b: &[u64]) {
    a.par_chunks_mut(PAR_WORDS).zip(b.par_chunks(PAR_WORDS)).for_each(|(x, y)| pointwise_by(Kernel::best(), x, y));
}

/// [`pointwise`] on one thread with the given kernel (which the CPU must support).
fn pointwise_by(kernel: Kernel, x: &mut [u64], y: &[u64]) {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Wide` is only chosen when the CPU has vpclmulqdq, avx2 and pclmulqdq.
        Kernel::Wide => unsafe { pointwise_wide(x, y) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Clmul` is only chosen when the CPU has pclmulqdq.
        Kernel::Clmul => unsafe { pointwise_hw(x, y) },
        _ => x.iter_mut().zip(y).for_each(|(u, &v)| *u = gf64::mul_soft(*u, v)),
    }
}

/// [`pointwise`] with `VPCLMULQDQ`, four products per step, the tail on [`pointwise_hw`].
///
/// # Safety
/// The CPU must support `vpclmulqdq`, `avx2` and `pclmulqdq`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "vpclmulqdq,avx2,pclmulqdq")]
unsafe fn pointwise_wide(x: &mut [u64], y: &[u64]) {
    use core::arch::x86_64::{__m256i, _mm256_loadu_si256, _mm256_storeu_si256};
    let four = x.len().min(y.len()) & !3;
    let (x4, x1) = x.split_at_mut(four);
    let (y4, y1) = y.split_at(four);
    for (u, v) in x4.chunks_exact_mut(4).zip(y4.chunks_exact(4)) {
        let pu = u.as_mut_ptr().cast::<__m256i>();
        // SAFETY: the pointers address four u64 of their chunks (unaligned); the features by
        // this function's contract.
        unsafe {
            _mm256_storeu_si256(pu, gf64::mul4_lanes_hw(_mm256_loadu_si256(pu), _mm256_loadu_si256(v.as_ptr().cast())))
        };
    }
    // SAFETY: pclmulqdq by this function's contract.
    unsafe { pointwise_hw(x1, y1) };
}

/// [`pointwise`] with `PCLMULQDQ`.
///
/// # Safety
/// The CPU must support `pclmulqdq`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
unsafe fn pointwise_hw(x: &mut [u64], y: &[u64]) {
    use core::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_storeu_si128};
    let even = x.len().min(y.len()) & !1;
    let (x2, x1) = x.split_at_mut(even);
    let (y2, y1) = y.split_at(even);
    for (u, v) in x2.chunks_exact_mut(2).zip(y2.chunks_exact(2)) {
        let pu = u.as_mut_ptr().cast::<__m128i>();
        // SAFETY: the pointers address two u64 of their chunks (unaligned); pclmulqdq by this
        // function's contract.
        unsafe { _mm_storeu_si128(pu, gf64::mul2_lanes_hw(_mm_loadu_si128(pu), _mm_loadu_si128(v.as_ptr().cast()))) };
    }
    for (u, &v) in x1.iter_mut().zip(y1) {
        // SAFETY: pclmulqdq by this function's contract.
        *u = unsafe { gf64::mul_hw(*u, v) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::derive_rng;
    use rand::Rng;

    /// The GF(2) product bit by bit.
    fn naive_product(a: &[u64], a_bits: usize, b: &[u64], b_bits: usize) -> Vec<u64> {
        let mut out = vec![0u64; (a_bits + b_bits).div_ceil(64) + 1];
        for i in 0..a_bits {
            if (a[i / 64] >> (i % 64)) & 1 == 1 {
                for j in 0..b_bits {
                    if (b[j / 64] >> (j % 64)) & 1 == 1 {
                        out[(i + j) / 64] ^= 1 << ((i + j) % 64);
                    }
                }
            }
        }
        out
    }

    fn random_bits(bits: usize, rng: &mut impl Rng) -> Vec<u64> {
        let mut w: Vec<u64> = (0..bits.div_ceil(64)).map(|_| rng.next_u64()).collect();
        if !bits.is_multiple_of(64) {
            *w.last_mut().unwrap() &= (1u64 << (bits % 64)) - 1;
        }
        w
    }

    /// Evaluation of `Σ d_j X_j` at `x`, from the definition of the novel basis.
    fn eval_novel(d: &[u64], x: u64) -> u64 {
        let s = |i: u32, x: u64| (0..i).fold(x, |y, _| gf64::mul(y, y) ^ y);
        d.iter().enumerate().fold(0, |acc, (j, &dj)| {
            let xj = (0..usize::BITS).filter(|&i| (j >> i) & 1 == 1).fold(1, |p, i| gf64::mul(p, s(i, x)));
            acc ^ gf64::mul(dj, xj)
        })
    }

    #[test]
    fn the_transform_evaluates_the_polynomial_at_the_cantor_subspace() {
        let mut rng = derive_rng(6, &[0]);
        for k in [1u32, 2, 3, 5, 8] {
            let coeffs: Vec<u64> = (0..1usize << k).map(|_| rng.next_u64()).collect();
            let mut t = coeffs.clone();
            transform(&mut t);
            for (i, &value) in t.iter().enumerate() {
                let x = gf64::span_element(i, 0);
                // Horner in the monomial basis.
                let direct = coeffs.iter().rev().fold(0, |acc, &c| gf64::mul(acc, x) ^ c);
                assert_eq!(value, direct, "k = {k}, point {i}");
            }
            // The basis change alone: evaluating the novel coefficients gives the same values.
            let mut novel = coeffs.clone();
            for kk in (1..=k).rev() {
                for sub in novel.chunks_mut(1 << kk) {
                    divide(sub, kk, 1 << kk);
                }
            }
            let x = gf64::span_element(3, 0) ^ 12345;
            let direct = coeffs.iter().rev().fold(0, |acc, &c| gf64::mul(acc, x) ^ c);
            assert_eq!(eval_novel(&novel, x), direct, "k = {k}");
        }
    }

    #[test]
    fn inverse_transform_undoes_the_transform_across_the_blocked_levels() {
        let mut rng = derive_rng(6, &[1]);
        for k in [4u32, BLOCK_LOG, BLOCK_LOG + 1, 16] {
            let coeffs: Vec<u64> = (0..1usize << k).map(|_| rng.next_u64()).collect();
            let mut t = coeffs.clone();
            transform(&mut t);
            assert_ne!(t, coeffs);
            inverse_transform(&mut t);
            assert_eq!(t, coeffs, "k = {k}");
        }
    }

    /// The transform level by level over the whole array (no cache blocking, no fused levels,
    /// no truncation).
    fn transform_plain(p: &mut [u64]) {
        let k_max = p.len().trailing_zeros();
        for k in (1..=k_max).rev() {
            for sub in p.chunks_mut(1 << k) {
                divide(sub, k, 1 << k);
            }
        }
        for k in (1..=k_max).rev() {
            for (s, sub) in p.chunks_mut(1 << k).enumerate() {
                forward(s << k, sub, k);
            }
        }
    }

    #[test]
    fn the_blocked_truncated_transform_equals_the_plain_one() {
        // One, three and four levels above the L2 blocks (a single level, a fused pair plus a
        // single one, two fused pairs), with the array full, half full and partly full.
        let mut rng = derive_rng(6, &[3]);
        for (k, fill) in [(L2_LOG + 1, 1usize << (L2_LOG + 1)), (L2_LOG + 3, 100_001), (L2_LOG + 4, 1 << (L2_LOG + 3))]
        {
            let mut coeffs = vec![0u64; 1 << k];
            coeffs[..fill].iter_mut().for_each(|c| *c = rng.next_u64());
            let mut plain = coeffs.clone();
            transform_plain(&mut plain);
            let mut fast = coeffs.clone();
            transform_filled(&mut fast, fill);
            assert!(fast == plain, "k = {k}, fill = {fill}");
            inverse_transform_filled(&mut fast, fill);
            assert!(fast == coeffs, "inverse: k = {k}, fill = {fill}");
        }
    }

    #[test]
    fn the_dispatch_picks_the_widest_kernel_the_cpu_has() {
        let expected = if gf64::has_wide_clmul() {
            Kernel::Wide
        } else if has_hardware_clmul() {
            Kernel::Clmul
        } else {
            Kernel::Portable
        };
        assert_eq!(Kernel::best(), expected);
        assert_eq!(Kernel::supported()[0], expected);
        assert_eq!(*Kernel::supported().last().unwrap(), Kernel::Portable);
    }

    #[test]
    fn every_kernel_this_cpu_supports_equals_the_portable_one() {
        let supported = Kernel::supported();
        eprintln!("kernels checked on this CPU: {supported:?}");
        for kernel in supported {
            kernel_equals_portable(kernel);
        }
    }

    /// The 256-bit kernels explicitly. Ignored by default: a machine without `VPCLMULQDQ` cannot
    /// run them (the test then fails instead of passing untested); run with `--ignored`.
    #[test]
    #[ignore = "needs VPCLMULQDQ"]
    fn the_vpclmulqdq_kernels_equal_the_portable_ones() {
        assert!(gf64::has_wide_clmul(), "this CPU lacks VPCLMULQDQ/AVX2: the wide kernels cannot run");
        kernel_equals_portable(Kernel::Wide);
    }

    /// The kernels of `kernel` (4 or 2 lanes, odd tails) against the portable product, forward
    /// and inverse: radix-2 halves, radix-4 quarters, whole tiles and the pointwise product.
    fn kernel_equals_portable(kernel: Kernel) {
        let mut rng = derive_rng(6, &[4]);
        let soft_halves =
            |lo: &mut [u64], hi: &mut [u64], w: u64, f: bool| butterflies_with(lo, hi, w, f, gf64::mul_soft);
        for len in [1usize, 2, 3, 4, 5, 6, 7, 9, 64, 1001, 1003] {
            let words: Vec<u64> = (0..4 * len).map(|_| rng.next_u64()).collect();
            let w = [rng.next_u64(), rng.next_u64(), rng.next_u64()];
            for forward in [true, false] {
                let (mut fast, mut soft) = (words.clone(), words.clone());
                let (a, b) = fast.split_at_mut(2 * len);
                butterflies_by(kernel, a, b, w[0], forward);
                let (a, b) = soft.split_at_mut(2 * len);
                soft_halves(a, b, w[0], forward);
                assert_eq!(fast, soft, "{kernel:?} halves, len {len}");
                let quarters = |p: &mut Vec<u64>, hw: bool| {
                    let (a, rest) = p.split_at_mut(len);
                    let (b, rest) = rest.split_at_mut(len);
                    let (c, d) = rest.split_at_mut(len);
                    if hw {
                        quad_by(kernel, a, b, c, d, w, forward)
                    } else {
                        quad_with(a, b, c, d, w, forward, gf64::mul_soft)
                    }
                };
                quarters(&mut fast, true);
                quarters(&mut soft, false);
                assert_eq!(fast, soft, "{kernel:?} quarters, len {len}");
            }
            let (mut fast, mut soft) = (words.clone(), words.clone());
            pointwise_by(kernel, &mut fast, &words[1..]);
            soft.iter_mut().zip(&words[1..]).for_each(|(u, &v)| *u = gf64::mul_soft(*u, v));
            assert_eq!(fast[..4 * len - 1], soft[..4 * len - 1], "{kernel:?} pointwise, len {len}");
        }
        for levels in [1u32, 2, 5, BLOCK_LOG] {
            let g = 3usize << levels;
            let words: Vec<u64> = (0..1usize << levels).map(|_| rng.next_u64()).collect();
            for forward in [true, false] {
                let (mut fast, mut soft) = (words.clone(), words.clone());
                tile_butterflies_by(kernel, g, &mut fast, levels, forward);
                tile_butterflies_with(g, &mut soft, levels, forward, soft_halves);
                assert_eq!(fast, soft, "{kernel:?} tile of 2^{levels}");
                // And the level-by-level calls the tile replaces.
                let mut plain = words.clone();
                let order: Vec<u32> = if forward { (1..=levels).rev().collect() } else { (1..=levels).collect() };
                for k in order {
                    for (s, sub) in plain.chunks_mut(1 << k).enumerate() {
                        if forward { super::forward(g + (s << k), sub, k) } else { backward(g + (s << k), sub, k) }
                    }
                }
                assert_eq!(fast, plain, "tile of 2^{levels} against per-block levels");
            }
        }
    }

    #[test]
    fn the_second_operand_is_cut_in_two_when_that_saves_field_products() {
        assert_eq!(parts(40, 90), (2, 45));
        assert_eq!(parts(40, 89), (2, 45));
        assert_eq!(parts(65, 129), (1, 129));
        // The Toeplitz hash's sizes (seed and key pieces), m = n/2: 10⁸ bits fills 93 % of 2^23
        // (one part), 10⁹ bits 58 % of 2^27 (two parts of 2^26).
        let toeplitz = |n: usize| parts((n + n / 2 - 1).div_ceil(32), n.div_ceil(32)).0;
        assert_eq!(toeplitz(100_000_000), 1);
        assert_eq!(toeplitz(1_000_000_000), 2);
    }

    #[test]
    fn product_windows_equal_the_bitwise_product() {
        let mut rng = derive_rng(6, &[2]);
        // (1280, 2880) and (1279, 2881) are cut into two parts (`parts`), the others not.
        for (a_bits, b_bits) in
            [(1, 1), (31, 33), (64, 64), (100, 3), (1000, 777), (2049, 4100), (1280, 2880), (1279, 2881)]
        {
            let a = random_bits(a_bits, &mut rng);
            let b = random_bits(b_bits, &mut rng);
            let full = naive_product(&a, a_bits, &b, b_bits);
            let len = a_bits + b_bits - 1;
            for (offset, l) in [(0, len), (len / 3, len / 2 + 1), (len - 1, 1)] {
                let got = product_window(&a, a_bits, &b, b_bits, offset, l);
                assert_eq!(
                    got,
                    crate::postprocess::bits::extract_bits(&full, offset, l),
                    "{a_bits}×{b_bits} at {offset}+{l}"
                );
            }
        }
    }
}
