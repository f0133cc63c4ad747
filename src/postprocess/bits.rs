//! Packed bit strings: the key material every post-processing step works on.
//!
//! [`BitString`] stores bit `i` in bit `i % 64` of word `i / 64` (least significant bit first)
//! and keeps the unused high bits of the last word at zero, so equality, parity and popcount
//! work word by word. Secret keys are wiped on drop ([`zeroize`]).

use rand::Rng;
use zeroize::Zeroize;

/// A string of bits packed into 64-bit words.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct BitString {
    words: Vec<u64>,
    len: usize,
}

impl std::fmt::Debug for BitString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material: length and weight only.
        write!(f, "BitString {{ len: {}, ones: {} }}", self.len, self.count_ones())
    }
}

impl Drop for BitString {
    fn drop(&mut self) {
        self.words.zeroize();
    }
}

/// Words needed for `len` bits.
#[inline]
pub fn words_for(len: usize) -> usize {
    len.div_ceil(64)
}

/// Mask of the low `bits` bits of a word (`bits` in `0..=64`).
#[inline]
fn low_mask(bits: usize) -> u64 {
    if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 }
}

impl BitString {
    /// `len` zero bits.
    pub fn zeros(len: usize) -> Self {
        BitString { words: vec![0; words_for(len)], len }
    }

    /// `len` independent uniform bits drawn from `rng` (one `u64` per 64 bits).
    pub fn random(len: usize, rng: &mut impl Rng) -> Self {
        let words = (0..words_for(len)).map(|_| rng.next_u64()).collect();
        Self::from_words(words, len)
    }

    /// From packed words (bit `i` in word `i / 64`, bit `i % 64`); bits past `len` are cleared.
    ///
    /// # Panics
    /// If `words` holds fewer than `len` bits.
    pub fn from_words(mut words: Vec<u64>, len: usize) -> Self {
        assert!(words.len() * 64 >= len, "{} words cannot hold {len} bits", words.len());
        words.truncate(words_for(len));
        let mut s = BitString { words, len };
        s.clear_tail();
        s
    }

    /// From one bit per byte (`0` is 0, anything else is 1).
    pub fn from_bytes(bits: &[u8]) -> Self {
        let mut s = Self::zeros(bits.len());
        for (w, chunk) in s.words.iter_mut().zip(bits.chunks(64)) {
            *w = chunk.iter().enumerate().fold(0u64, |acc, (i, &b)| acc | (u64::from(b != 0) << i));
        }
        s
    }

    /// One bit per byte (`0` or `1`).
    pub fn to_bytes(&self) -> Vec<u8> {
        (0..self.len).map(|i| u8::from(self.get(i))).collect()
    }

    /// Number of bits.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the string has no bits.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The packed words (unused high bits of the last word are zero).
    #[inline]
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Bit `i`.
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        debug_assert!(i < self.len, "bit {i} out of {}", self.len);
        (self.words[i >> 6] >> (i & 63)) & 1 == 1
    }

    /// Sets bit `i` to `value`.
    #[inline]
    pub fn set(&mut self, i: usize, value: bool) {
        debug_assert!(i < self.len, "bit {i} out of {}", self.len);
        let mask = 1u64 << (i & 63);
        if value {
            self.words[i >> 6] |= mask;
        } else {
            self.words[i >> 6] &= !mask;
        }
    }

    /// Flips bit `i`.
    #[inline]
    pub fn flip(&mut self, i: usize) {
        debug_assert!(i < self.len, "bit {i} out of {}", self.len);
        self.words[i >> 6] ^= 1u64 << (i & 63);
    }

    /// Parity (XOR) of the bits in `start..end`.
    ///
    /// # Panics
    /// If the range is reversed or extends past the end.
    #[inline]
    pub fn parity_range(&self, start: usize, end: usize) -> bool {
        assert!(start <= end && end <= self.len, "range {start}..{end} out of 0..{}", self.len);
        if start == end {
            return false;
        }
        let (first, last) = (start >> 6, (end - 1) >> 6);
        let head = !low_mask(start & 63);
        let tail = low_mask(((end - 1) & 63) + 1);
        if first == last {
            return (self.words[first] & head & tail).count_ones() & 1 == 1;
        }
        let mut acc = (self.words[first] & head) ^ (self.words[last] & tail);
        for &w in &self.words[first + 1..last] {
            acc ^= w;
        }
        acc.count_ones() & 1 == 1
    }

    /// Parity of the whole string.
    pub fn parity(&self) -> bool {
        self.words.iter().fold(0u64, |a, &w| a ^ w).count_ones() & 1 == 1
    }

    /// Parity of `self AND mask` (same length): the parity of the bits selected by `mask`.
    pub fn parity_and(&self, mask: &BitString) -> bool {
        assert_eq!(self.len, mask.len, "masked parity of bit strings of different lengths");
        self.words.iter().zip(&mask.words).fold(0u64, |a, (&w, &m)| a ^ (w & m)).count_ones() & 1 == 1
    }

    /// Parity of the bits at `indices` (an index listed twice cancels).
    pub fn parity_of_indices(&self, indices: &[usize]) -> bool {
        indices.iter().fold(false, |p, &i| p ^ self.get(i))
    }

    /// Number of one bits.
    pub fn count_ones(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// `self ^= other`.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn xor_assign(&mut self, other: &BitString) {
        assert_eq!(self.len, other.len, "xor of bit strings of different lengths");
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a ^= b;
        }
    }

    /// `self ^ other` (same length).
    pub fn xor(&self, other: &BitString) -> BitString {
        let mut out = self.clone();
        out.xor_assign(other);
        out
    }

    /// Number of positions where `self` and `other` differ (same length).
    pub fn hamming_distance(&self, other: &BitString) -> usize {
        assert_eq!(self.len, other.len, "distance of bit strings of different lengths");
        self.words.iter().zip(&other.words).map(|(a, b)| (a ^ b).count_ones() as usize).sum()
    }

    /// The bits `start..end` as a new string.
    pub fn slice(&self, start: usize, end: usize) -> BitString {
        assert!(start <= end && end <= self.len, "range {start}..{end} out of 0..{}", self.len);
        BitString::from_words(extract_bits(&self.words, start, end - start), end - start)
    }

    /// Overwrites the bits `start..start + src.len()` with `src`.
    ///
    /// # Panics
    /// If `start` is not a multiple of 64 or the range runs past the end.
    pub fn write_at(&mut self, start: usize, src: &BitString) {
        assert!(start.is_multiple_of(64), "write_at needs a word-aligned start, got {start}");
        assert!(start + src.len <= self.len, "range {start}..{} out of 0..{}", start + src.len, self.len);
        let first = start / 64;
        let full = src.len / 64;
        self.words[first..first + full].copy_from_slice(&src.words[..full]);
        let tail = src.len % 64;
        if tail > 0 {
            let mask = low_mask(tail);
            let word = &mut self.words[first + full];
            *word = (*word & !mask) | (src.words[full] & mask);
        }
    }

    /// Clears the bits past `len` in the last word (the invariant every method relies on).
    fn clear_tail(&mut self) {
        let used = self.len - self.words.len().saturating_sub(1) * 64;
        if let Some(last) = self.words.last_mut() {
            *last &= low_mask(used);
        }
    }
}

/// `len` bits of `words` starting at bit `offset`, packed from bit 0 (bits past the end of
/// `words` read as zero; the last word may carry bits past `len`).
pub fn extract_bits(words: &[u64], offset: usize, len: usize) -> Vec<u64> {
    let (skip, shift) = (offset >> 6, offset & 63);
    let word = |i: usize| words.get(i).copied().unwrap_or(0);
    let mut out: Vec<u64> = (0..words_for(len))
        .map(|k| {
            let lo = word(skip + k) >> shift;
            if shift == 0 { lo } else { lo | (word(skip + k + 1) << (64 - shift)) }
        })
        .collect();
    if let Some(last) = out.last_mut() {
        *last &= low_mask(len - (words_for(len) - 1) * 64);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::derive_rng;

    fn naive_parity(s: &BitString, a: usize, b: usize) -> bool {
        (a..b).fold(false, |p, i| p ^ s.get(i))
    }

    #[test]
    fn write_at_replaces_exactly_the_range_and_keeps_the_rest() {
        let mut rng = derive_rng(41, &[]);
        for (len, start, part) in
            [(200usize, 64usize, 70usize), (200, 0, 200), (130, 128, 2), (256, 192, 64), (65, 0, 1)]
        {
            let before = BitString::random(len, &mut rng);
            let src = BitString::random(part, &mut rng);
            let mut after = before.clone();
            after.write_at(start, &src);
            for i in 0..len {
                let expected = if (start..start + part).contains(&i) { src.get(i - start) } else { before.get(i) };
                assert_eq!(after.get(i), expected, "bit {i} of {len} after writing {part} bits at {start}");
            }
            assert_eq!(after.slice(start, start + part), src);
        }
    }

    #[test]
    fn bytes_round_trip_and_tail_invariant() {
        let bytes: Vec<u8> = (0..200).map(|i| ((i * 7 + 3) % 5 == 0) as u8).collect();
        let s = BitString::from_bytes(&bytes);
        assert_eq!(s.len(), 200);
        assert_eq!(s.to_bytes(), bytes);
        assert_eq!(s.count_ones(), bytes.iter().map(|&b| b as usize).sum::<usize>());
        let t = BitString::from_words(vec![u64::MAX; 4], 200);
        assert_eq!(t.count_ones(), 200);
        assert_eq!(t.words()[3], (1u64 << 8) - 1);
    }

    #[test]
    fn parities_match_bit_by_bit() {
        let mut rng = derive_rng(7, &[1]);
        let s = BitString::random(333, &mut rng);
        for a in (0..333).step_by(7) {
            for b in (a..=333).step_by(11) {
                assert_eq!(s.parity_range(a, b), naive_parity(&s, a, b), "{a}..{b}");
            }
        }
        assert_eq!(s.parity(), naive_parity(&s, 0, 333));
        let idx = [0, 5, 64, 65, 200, 332];
        assert_eq!(s.parity_of_indices(&idx), idx.iter().fold(false, |p, &i| p ^ s.get(i)));
    }

    #[test]
    fn set_flip_xor_slice() {
        let mut rng = derive_rng(7, &[2]);
        let a = BitString::random(150, &mut rng);
        let mut b = a.clone();
        b.flip(3);
        b.flip(149);
        b.set(70, !a.get(70));
        assert_eq!(a.hamming_distance(&b), 3);
        assert_eq!(a.xor(&b).count_ones(), 3);
        assert_ne!(a, b);
        let sl = a.slice(37, 140);
        for i in 0..sl.len() {
            assert_eq!(sl.get(i), a.get(37 + i));
        }
    }
}
