//! The arrangement of the key in one Cascade pass: a public permutation (identity in the first
//! pass) and a block size. Blocks are consecutive ranges of the permuted order.

use crate::postprocess::bits::{BitString, words_for};
use crate::rng::derive_rng;
use rand::Rng;

/// Domain constant of the permutation streams in [`derive_rng`] paths.
const PERMUTATION_DOMAIN: u64 = 0xCA5C_ADE0;

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
        let mut order: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            // Multiply-shift range reduction (Lemire 2019): bias at most (i+1)/2^64.
            let j = ((u128::from(rng.next_u64()) * (i as u128 + 1)) >> 64) as usize;
            order.swap(i, j);
        }
        let mut position = vec![0u32; n];
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
        let src = key.words();
        let words = order
            .chunks(64)
            .map(|chunk| {
                chunk.iter().enumerate().fold(0u64, |w, (i, &x)| w | (((src[x as usize >> 6] >> (x & 63)) & 1) << i))
            })
            .collect::<Vec<u64>>();
        debug_assert_eq!(words.len(), words_for(self.len));
        BitString::from_words(words, self.len)
    }
}
