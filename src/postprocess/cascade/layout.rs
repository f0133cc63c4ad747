//! The arrangement of the key in one Cascade pass: a public permutation (identity in the first
//! pass) and a block size. Blocks are consecutive ranges of the permuted order.
//!
//! Passes with two blocks (block size ⌈n/2⌉ in the later passes of Yan et al. and options 7
//! and 8, and BICONF rounds) are built lazily: a forward Fisher–Yates shuffle settles the first
//! block after `k` steps, which is all the block parities need; the rest of the shuffle, the
//! inverse permutation and the permuted keys are computed only if a binary search ever enters
//! the pass. The shuffle continues the same random stream, so the permutation is the same
//! whether or not it was completed, and so is every result.

use std::cell::{OnceCell, RefCell};

use crate::postprocess::bits::{BitString, words_for};
use crate::rng::{SimRng, derive_rng};
use rand::Rng;
use zeroize::Zeroize;

/// Domain constant of the permutation streams in [`derive_rng`] paths.
const PERMUTATION_DOMAIN: u64 = 0xCA5C_ADE0;

thread_local! {
    /// Index buffers of dropped layouts, reused by the next ones on this thread: a Monte-Carlo
    /// study reconciles frame after frame, and fresh megabytes per pass would be mostly page
    /// faults. Holds memory only, never state that could change a result.
    static SPARE_BUFFERS: RefCell<Vec<Vec<u32>>> = const { RefCell::new(Vec::new()) };
}

/// Spare buffers kept per thread.
const MAX_SPARE_BUFFERS: usize = 64;

/// An empty index buffer (recycled when one is spare).
fn spare_buffer() -> Vec<u32> {
    let mut v = SPARE_BUFFERS.with(|s| s.borrow_mut().pop()).unwrap_or_default();
    v.clear();
    v
}

/// Returns a buffer to the spares.
fn recycle(v: Vec<u32>) {
    if v.capacity() == 0 {
        return;
    }
    SPARE_BUFFERS.with(|s| {
        let mut spare = s.borrow_mut();
        if spare.len() < MAX_SPARE_BUFFERS {
            spare.push(v);
        }
    });
}

/// A uniform integer in `0..bound` from 32-bit draws, exactly (Lemire, "Fast random integer
/// generation in an interval", ACM TOMACS 29 (2019), Algorithm 5: multiply-shift with rejection
/// of the `2^32 mod bound` biased low products).
#[inline]
fn uniform_below(rng: &mut impl Rng, bound: u32) -> u32 {
    let mut product = u64::from(rng.next_u32()) * u64::from(bound);
    if (product as u32) < bound {
        let threshold = bound.wrapping_neg() % bound;
        while (product as u32) < threshold {
            product = u64::from(rng.next_u32()) * u64::from(bound);
        }
    }
    (product >> 32) as u32
}

/// How many steps ahead the shuffle and the gathers below prefetch their random accesses: a
/// block of 10⁸ bits is 400 MB of indices, so each random access is a cache miss, and
/// prefetching keeps this many of them in flight instead of one.
const AHEAD: usize = 32;

/// Asks the cache for the line holding `slice[index]` (a hint: never changes a result).
#[inline(always)]
fn prefetch<T>(slice: &[T], index: usize) {
    #[cfg(target_arch = "x86_64")]
    if index < slice.len() {
        // SAFETY: a prefetch reads no memory architecturally (it cannot fault), and the
        // pointer is inside `slice`.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                slice.as_ptr().add(index).cast::<i8>(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slice, index);
}

/// Steps `from..to` of a forward Fisher–Yates shuffle (Knuth's Algorithm P): position `i`
/// receives a uniform choice among the items not yet placed. The choices are drawn
/// [`AHEAD`] steps before they are used, in the same order, so the stream and the permutation
/// are exactly the plain shuffle's; the lead only lets the swaps' cache lines be fetched early.
fn shuffle_steps(order: &mut [u32], from: usize, to: usize, rng: &mut SimRng) {
    let n = order.len();
    let end = to.min(n.saturating_sub(1));
    if from >= end {
        return;
    }
    let mut draw = |i: usize| i + uniform_below(rng, (n - i) as u32) as usize;
    let mut ahead = [0usize; AHEAD];
    for (k, slot) in ahead.iter_mut().enumerate().take(end - from) {
        *slot = draw(from + k);
        prefetch(order, *slot);
    }
    for i in from..end {
        let slot = (i - from) % AHEAD;
        let j = ahead[slot];
        if i + AHEAD < end {
            ahead[slot] = draw(i + AHEAD);
            prefetch(order, ahead[slot]);
        }
        order.swap(i, j);
    }
}

/// One pass: which original bit sits at each position, and the block size.
#[derive(Debug)]
pub struct PassLayout {
    /// Pass index (0-based), including BICONF passes.
    pub pass: usize,
    /// Bits per block (the last block may be shorter).
    pub block_size: usize,
    len: usize,
    /// Whether this is the identity (first pass).
    identity: bool,
    /// `order[pos]` = original index at position `pos` (final for positions settled so far).
    order: RefCell<Vec<u32>>,
    /// The stream that finishes the shuffle, while positions past the first block are unsettled.
    unsettled: RefCell<Option<SimRng>>,
    /// `position[x]` = position of original index `x`, computed on first use.
    position: OnceCell<Vec<u32>>,
    /// For two-block passes: whether each original index is in the first block.
    first_block: Option<BitString>,
}

impl PassLayout {
    /// The layout of pass `pass` for `n` bits: identity for pass 0, otherwise a uniform random
    /// permutation (forward Fisher–Yates) from the public seed.
    pub fn new(n: usize, pass: usize, block_size: usize, public_seed: u64) -> Self {
        assert!(n <= u32::MAX as usize, "Cascade keys are limited to 2^32 - 1 bits");
        let block_size = block_size.clamp(1, n.max(1));
        let mut layout = PassLayout {
            pass,
            block_size,
            len: n,
            identity: pass == 0,
            order: RefCell::new(Vec::new()),
            unsettled: RefCell::new(None),
            position: OnceCell::new(),
            first_block: None,
        };
        if layout.identity {
            return layout;
        }
        let mut rng = derive_rng(public_seed, &[PERMUTATION_DOMAIN, pass as u64]);
        let mut order = spare_buffer();
        order.extend(0..n as u32);
        if layout.blocks() == 2 {
            shuffle_steps(&mut order, 0, block_size, &mut rng);
            let mut mask = BitString::zeros(n);
            for &x in &order[..block_size] {
                mask.set(x as usize, true);
            }
            layout.first_block = Some(mask);
            *layout.unsettled.get_mut() = Some(rng);
        } else {
            shuffle_steps(&mut order, 0, n, &mut rng);
        }
        *layout.order.get_mut() = order;
        layout
    }

    /// Finishes the shuffle if positions past the first block are still unsettled.
    fn settle(&self) {
        if let Some(mut rng) = self.unsettled.borrow_mut().take() {
            let mut order = self.order.borrow_mut();
            let n = order.len();
            shuffle_steps(&mut order, self.block_size, n, &mut rng);
        }
    }

    /// Number of bits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the layout is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of blocks.
    pub fn blocks(&self) -> usize {
        self.len.div_ceil(self.block_size)
    }

    /// The position range of block `b`.
    pub fn block_range(&self, b: usize) -> (usize, usize) {
        (b * self.block_size, ((b + 1) * self.block_size).min(self.len))
    }

    /// Original index at position `pos`.
    #[inline]
    pub fn original(&self, pos: usize) -> usize {
        if self.identity {
            return pos;
        }
        if pos >= self.block_size {
            self.settle();
        }
        self.order.borrow()[pos] as usize
    }

    /// Position of original index `x`.
    #[inline]
    pub fn position(&self, x: usize) -> usize {
        if self.identity {
            return x;
        }
        self.position.get_or_init(|| {
            self.settle();
            let order = self.order.borrow();
            let mut position = spare_buffer();
            position.resize(order.len(), 0);
            for (pos, &y) in order.iter().enumerate() {
                if let Some(&later) = order.get(pos + AHEAD) {
                    prefetch(&position, later as usize);
                }
                position[y as usize] = pos as u32;
            }
            position
        })[x] as usize
    }

    /// For a two-block pass: the parities of `key` over the two blocks, from the membership of
    /// the first block alone (no need to settle the rest of the permutation).
    pub fn two_block_parities(&self, key: &BitString) -> Option<(bool, bool)> {
        let mask = self.first_block.as_ref()?;
        let first = key.parity_and(mask);
        Some((first, first ^ key.parity()))
    }

    /// Index of the block holding original index `x`, for a two-block pass, without settling.
    #[inline]
    pub fn two_block_index(&self, x: usize) -> Option<usize> {
        self.first_block.as_ref().map(|mask| usize::from(!mask.get(x)))
    }

    /// `key` rearranged in this pass's order.
    pub fn permute(&self, key: &BitString) -> BitString {
        if self.identity {
            return key.clone();
        }
        self.settle();
        let order = self.order.borrow();
        // One byte per bit, gathered in pass order, then packed 64 at a time.
        let mut bytes = Vec::with_capacity(64 * key.words().len());
        for &w in key.words() {
            bytes.extend((0..64).map(|i| ((w >> i) & 1) as u8));
        }
        let mut words = Vec::with_capacity(words_for(self.len));
        let mut gathered = [0u8; 64];
        for (c, chunk) in order.chunks(64).enumerate() {
            // The next chunk's bytes are fetched while this one is gathered.
            for &x in order.iter().skip((c + 1) * 64).take(64) {
                prefetch(&bytes, x as usize);
            }
            for (g, &x) in gathered.iter_mut().zip(chunk) {
                *g = bytes[x as usize];
            }
            words.push(gathered[..chunk.len()].iter().enumerate().fold(0u64, |w, (i, &b)| w | (u64::from(b) << i)));
        }
        bytes.zeroize();
        gathered.zeroize();
        BitString::from_words(words, self.len)
    }
}

impl Drop for PassLayout {
    fn drop(&mut self) {
        recycle(std::mem::take(self.order.get_mut()));
        if let Some(position) = self.position.take() {
            recycle(position);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefetching_shuffle_is_the_plain_fisher_yates_shuffle_step_for_step() {
        for (n, split) in [(1usize, 0usize), (2, 1), (31, 5), (33, 32), (1000, 0), (1000, 500), (4099, 4098)] {
            let mut plain: Vec<u32> = (0..n as u32).collect();
            let mut rng = derive_rng(8, &[n as u64]);
            for i in 0..n.saturating_sub(1) {
                let j = i + uniform_below(&mut rng, (n - i) as u32) as usize;
                plain.swap(i, j);
            }
            let mut ours: Vec<u32> = (0..n as u32).collect();
            let mut stream = derive_rng(8, &[n as u64]);
            shuffle_steps(&mut ours, 0, split, &mut stream);
            shuffle_steps(&mut ours, split, n, &mut stream);
            assert_eq!(ours, plain, "n = {n}, split at {split}");
            assert_eq!(stream.next_u64(), rng.next_u64(), "the same draws consumed, n = {n}");
        }
    }

    #[test]
    fn lazy_two_block_layout_equals_settled_one() {
        let n = 1001;
        let key = BitString::random(n, &mut derive_rng(4, &[]));
        let lazy = PassLayout::new(n, 3, 501, 9);
        let (a, b) = lazy.two_block_parities(&key).unwrap();
        let permuted = lazy.permute(&key);
        assert_eq!((a, b), (permuted.parity_range(0, 501), permuted.parity_range(501, n)));
        for x in 0..n {
            let pos = lazy.position(x);
            assert_eq!(lazy.original(pos), x);
            assert_eq!(lazy.two_block_index(x), Some(pos / 501));
        }
        // Same seed, settled in another order of calls: same permutation.
        let other = PassLayout::new(n, 3, 501, 9);
        assert!((0..n).all(|pos| other.original(n - 1 - pos) == lazy.original(n - 1 - pos)));
        let mut seen = vec![false; n];
        for pos in 0..n {
            seen[lazy.original(pos)] = true;
        }
        assert!(seen.iter().all(|&s| s), "a permutation");
    }
}
