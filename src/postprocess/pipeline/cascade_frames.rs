//! Cascade over a long block in frames: step 3 of the [pipeline](super) for the Cascade
//! reconcilers.
//!
//! A block longer than `postprocess.cascade_frame_bits` is cut into near-equal frames at word
//! boundaries, and each frame is reconciled by its own Cascade run (its own block-size schedule
//! for the estimated QBER and its own public permutations). This is how deployed systems run
//! Cascade on long keys, and it keeps the per-bit cost flat: one Cascade run over 10⁸ bits
//! spends most of its time in the random permutation of every pass, whose accesses miss every
//! cache, while a frame of 10⁶ bits keeps a pass's permutation in the last-level cache.
//! Cascade's efficiency does not depend on the frame length once a frame holds many top-level
//! blocks (Martinez-Mateo et al. 2015, Fig. 6: flat from 10⁴ bits up).
//!
//! The frames are independent, so their messages share round trips: requests of every frame go
//! in one message, and the block's channel uses are those of its longest-running frame. The
//! leak is the sum of the parity bits every frame's Alice sent, counted as they cross.

use std::ops::Range;
use std::rc::Rc;

use rand::Rng;
use rayon::prelude::*;

use crate::postprocess::PostprocessError;
use crate::postprocess::bits::BitString;
use crate::postprocess::cascade::{
    AliceParities, CascadeConfig, CascadeVariant, ParityOracle, PassLayout, RangeRequest, reconcile,
};
use crate::rng::derive_rng;

/// First element of the random-stream path of a frame's public seed ("CFRM").
const FRAME_SEED_DOMAIN: u64 = 0x4346_524d;

/// What reconciling a block in frames disclosed and cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FramedOutcome {
    /// Frames the block was cut into.
    pub frames: usize,
    /// Parity bits Alice sent, counted at her side of the channel (all frames).
    pub parity_bits_sent: u64,
    /// What Cascade itself reported as disclosed (all frames; equal to `parity_bits_sent`).
    pub reported_bits: u64,
    /// Round trips: the largest of any frame (the frames' messages travel together).
    pub channel_uses: u64,
}

/// Alice's side of Cascade with the parity bits she sends counted as they cross the channel.
struct CountingAlice<'a> {
    inner: AliceParities<'a>,
    parity_bits: u64,
}

impl ParityOracle for CountingAlice<'_> {
    fn begin_pass(&mut self, layout: &Rc<PassLayout>) {
        self.inner.begin_pass(layout);
    }

    fn parities(&mut self, requests: &[RangeRequest], answers: &mut Vec<bool>) {
        let before = answers.len();
        self.inner.parities(requests, answers);
        self.parity_bits += (answers.len() - before) as u64;
    }
}

/// The frames of a block of `len` bits with at most about `frame_bits` bits each (at least
/// 128): as few frames as that allows, their lengths within 64 bits of each other, every
/// boundary a multiple of 64 (so a frame is whole words of the block). One frame, `0..len`,
/// when `len <= frame_bits`.
pub fn frame_ranges(len: usize, frame_bits: usize) -> Vec<Range<usize>> {
    let frames = len.div_ceil(frame_bits.max(128)).max(1);
    // The exact boundary i·len/frames, rounded to the nearest multiple of 64.
    let start = |i: usize| match i {
        0 => 0,
        i if i == frames => len,
        i => ((i as u128 * len as u128 / frames as u128) as usize + 32) & !63,
    };
    (0..frames).map(|i| start(i)..start(i + 1)).collect()
}

/// Reconciles `bob` towards `alice` in frames of at most about `frame_bits` bits
/// ([`frame_ranges`]), with `variant`'s schedule for QBER `qber`. The first frame's public
/// seed is `public_seed` (so a block of one frame is reconciled exactly as one Cascade run);
/// frame `i > 0` derives its own from it. Frames run in parallel on the current rayon pool;
/// the result does not depend on the number of threads.
pub fn reconcile_in_frames(
    alice: &BitString,
    bob: &mut BitString,
    variant: CascadeVariant,
    qber: f64,
    frame_bits: usize,
    public_seed: u64,
) -> Result<FramedOutcome, PostprocessError> {
    if alice.len() != bob.len() {
        return Err(PostprocessError::LengthMismatch { what: "cascade keys", left: alice.len(), right: bob.len() });
    }
    let ranges = frame_ranges(alice.len(), frame_bits);
    let seed = |i: usize| {
        if i == 0 { public_seed } else { derive_rng(public_seed, &[FRAME_SEED_DOMAIN, i as u64]).next_u64() }
    };
    let reconcile_frame = |(i, range): (usize, &Range<usize>)| -> Result<(BitString, u64, u64, u64), PostprocessError> {
        let alice_frame = alice.slice(range.start, range.end);
        let mut bob_frame = bob.slice(range.start, range.end);
        let config = CascadeConfig::new(variant, qber, range.len())?;
        let mut channel = CountingAlice { inner: AliceParities::new(&alice_frame), parity_bits: 0 };
        let outcome = reconcile(&mut bob_frame, &mut channel, &config, seed(i))?;
        Ok((bob_frame, channel.parity_bits, outcome.leaked_bits, outcome.channel_uses))
    };
    let reconciled: Vec<_> = ranges.par_iter().enumerate().map(reconcile_frame).collect::<Result<_, _>>()?;
    let mut outcome = FramedOutcome { frames: ranges.len(), ..FramedOutcome::default() };
    for (range, (bob_frame, sent, reported, uses)) in ranges.iter().zip(reconciled) {
        bob.write_at(range.start, &bob_frame);
        outcome.parity_bits_sent += sent;
        outcome.reported_bits += reported;
        outcome.channel_uses = outcome.channel_uses.max(uses);
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postprocess::cascade::{binary_symmetric_pair, reconcile_pair};

    #[test]
    fn frames_cover_the_block_in_word_aligned_near_equal_pieces() {
        for (len, frame) in
            [(1usize, 1_000usize), (1_000, 1_000), (1_001, 1_000), (10_000_000, 1_000_000), (123_457, 4_096)]
        {
            let ranges = frame_ranges(len, frame);
            assert_eq!(ranges.len(), len.div_ceil(frame), "{len} bits in frames of {frame}");
            assert_eq!(ranges[0].start, 0);
            assert_eq!(ranges.last().unwrap().end, len);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert_eq!(pair[1].start % 64, 0, "boundary {} of {len} bits", pair[1].start);
            }
            let (shortest, longest) =
                ranges.iter().fold((usize::MAX, 0), |(lo, hi), r| (lo.min(r.len()), hi.max(r.len())));
            assert!(longest - shortest <= 64, "{len} bits in frames of {frame}: {shortest}..{longest}");
            assert!(longest <= frame + 64);
        }
    }

    #[test]
    fn a_block_of_one_frame_is_reconciled_exactly_as_one_cascade_run() {
        let (alice, bob) = binary_symmetric_pair(50_000, 0.03, &mut derive_rng(5, &[]));
        let mut whole = bob.clone();
        let config = CascadeConfig::new(CascadeVariant::Option7, 0.03, 50_000).unwrap();
        let single = reconcile_pair(&alice, &mut whole, &config, 99).unwrap();
        let mut framed = bob.clone();
        let outcome = reconcile_in_frames(&alice, &mut framed, CascadeVariant::Option7, 0.03, 50_000, 99).unwrap();
        assert_eq!(framed, whole);
        assert_eq!(outcome.frames, 1);
        assert_eq!(outcome.parity_bits_sent, single.leaked_bits);
        assert_eq!(outcome.reported_bits, single.leaked_bits);
        assert_eq!(outcome.channel_uses, single.channel_uses);
    }

    #[test]
    fn framed_reconciliation_corrects_the_block_and_counts_every_frame_s_parities() {
        let n = 300_001;
        let (alice, bob) = binary_symmetric_pair(n, 0.02, &mut derive_rng(6, &[]));
        let mut framed = bob.clone();
        let outcome = reconcile_in_frames(&alice, &mut framed, CascadeVariant::Option7, 0.02, 100_000, 7).unwrap();
        assert_eq!(outcome.frames, 4);
        assert_eq!(framed, alice, "Cascade leaves no error in 300,001 bits at 2 % with overwhelming probability");
        assert_eq!(outcome.parity_bits_sent, outcome.reported_bits);
        // The frames' leaks add up: each frame alone, with its own seed, discloses its share.
        let mut total = 0;
        let mut max_uses = 0;
        for (i, range) in frame_ranges(n, 100_000).iter().enumerate() {
            let seed = if i == 0 { 7 } else { derive_rng(7, &[FRAME_SEED_DOMAIN, i as u64]).next_u64() };
            let config = CascadeConfig::new(CascadeVariant::Option7, 0.02, range.len()).unwrap();
            let mut bob_frame = bob.slice(range.start, range.end);
            let single = reconcile_pair(&alice.slice(range.start, range.end), &mut bob_frame, &config, seed).unwrap();
            total += single.leaked_bits;
            max_uses = max_uses.max(single.channel_uses);
        }
        assert_eq!(outcome.parity_bits_sent, total);
        assert_eq!(outcome.channel_uses, max_uses);
    }

    #[test]
    fn framed_reconciliation_is_the_same_on_one_thread_and_two() {
        let (alice, bob) = binary_symmetric_pair(200_000, 0.04, &mut derive_rng(8, &[]));
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut framed = bob.clone();
            let outcome = pool
                .install(|| reconcile_in_frames(&alice, &mut framed, CascadeVariant::Yan, 0.04, 50_000, 3).unwrap());
            (framed, outcome)
        };
        assert_eq!(run(1), run(2));
    }
}
