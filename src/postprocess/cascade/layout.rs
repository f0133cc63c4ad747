//! The arrangement of the key in one Cascade pass: a public permutation (identity in the first
//! pass) and a block size. Blocks are consecutive ranges of the permuted order.

use std::cell::RefCell;

use crate::postprocess::bits::{BitString, words_for};
use crate::rng::derive_rng;
use rand::Rng;

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

impl Drop for PassLayout {
    fn drop(&mut self) {
        for v in [self.order.take(), self.position.take()].into_iter().flatten() {
            SPARE_BUFFERS.with(|s| {
                let mut spare = s.borrow_mut();
                if spare.len() < MAX_SPARE_BUFFERS {
                    spare.push(v);
                }
            });
        }
    }
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

/// One pass: which original bit sits at each position, and the block size.
#[derive(Debug, Clone)]
pub struct PassLayout {
    /// Pass index (0-based), including BICONF passes.
    pub pass: usize,
    /// Bits per block (the last block may be shorter).
    pub block_size: usize,
    /// `order[pos]` = original index at position `pos`; `None` for the identity.
    order: Option<Vec<u32>>,
    /// `position[x]` = position of original index `x`; `None` for the identity.
    position: Option<Vec<u32>>,
    len: usize,
}

impl PassLayout {
    /// The layout of pass `pass` for `n` bits: identity for pass 0, otherwise a uniform random
    /// permutation (Fisher–Yates) from the public seed.
    pub fn new(n: usize, pass: usize, block_size: usize, public_seed: u64) -> Self {
        assert!(n <= u32::MAX as usize, "Cascade keys are limited to 2^32 - 1 bits");
        let block_size = block_size.clamp(1, n.max(1));
        if pass == 0 {
            return PassLayout { pass, block_size, order: None, position: None, len: n };
        }
        let mut rng = derive_rng(public_seed, &[PERMUTATION_DOMAIN, pass as u64]);
        let mut order = spare_buffer();
        order.extend(0..n as u32);
        for i in (1..n).rev() {
            order.swap(i, uniform_below(&mut rng, i as u32 + 1) as usize);
        }
        let mut position = spare_buffer();
        position.resize(n, 0);
        for (pos, &x) in order.iter().enumerate() {
            position[x as usize] = pos as u32;
        }
        PassLayout { pass, block_size, order: Some(order), position: Some(position), len: n }
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
        self.order.as_ref().map_or(pos, |o| o[pos] as usize)
    }

    /// Position of original index `x`.
    #[inline]
    pub fn position(&self, x: usize) -> usize {
        self.position.as_ref().map_or(x, |p| p[x] as usize)
    }

    /// `key` rearranged in this pass's order.
    pub fn permute(&self, key: &BitString) -> BitString {
        let Some(order) = &self.order else { return key.clone() };
        // One byte per bit, gathered in pass order, then packed 64 at a time.
        let mut bytes = Vec::with_capacity(64 * key.words().len());
        for &w in key.words() {
            bytes.extend((0..64).map(|i| ((w >> i) & 1) as u8));
        }
        let mut words = Vec::with_capacity(words_for(self.len));
        let mut gathered = [0u8; 64];
        for chunk in order.chunks(64) {
            for (g, &x) in gathered.iter_mut().zip(chunk) {
                *g = bytes[x as usize];
            }
            words.push(gathered[..chunk.len()].iter().enumerate().fold(0u64, |w, (i, &b)| w | (u64::from(b) << i)));
        }
        BitString::from_words(words, self.len)
    }
}
