//! Bob's side of Cascade: passes, parallel binary searches, and the cascade effect.
//!
//! Per pass, Bob asks for Alice's parities of all blocks in one message, then corrects until
//! every disclosed block of every pass so far agrees with Alice's parity:
//! 1. among the passes that have blocks with odd error parity, take the one with the smallest
//!    blocks (Brassard–Salvail correct "the smallest such block" first);
//! 2. binary-search all its odd blocks in lockstep (blocks of one pass are disjoint, so each
//!    search finds one error): each step asks, in one message for all searches, Alice's parity
//!    of the first half of every current range; the half whose parities disagree holds an odd
//!    number of errors;
//! 3. flip the bits found; every block of every pass containing a flipped bit changes its
//!    error parity (the cascade effect), which may open new odd blocks.
//!
//! With sub-block reuse, every parity of Alice's known so far (asked, or inferred as parent ⊕
//! sibling) is kept per pass and never asked again.
//!
//! A BICONF round (Brassard–Salvail's primitive) asks the parity of a random half of the key
//! and, if it disagrees, binary-searches that half and flips the error found. As Martinez-Mateo
//! et al. 2015 run it (Sugimoto–Yamazaki's "Cascade mod. (1)"), that correction is not fed back
//! into the blocks of earlier passes; with [`CascadeConfig::biconf_cascades`] it is (every
//! round joins the passes of step 3), a modification of ours.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use super::channel::{ParityOracle, RangeRequest};
use super::layout::PassLayout;
use super::params::{CascadeConfig, MAX_BICONF_ROUNDS};
use crate::postprocess::PostprocessError;
use crate::postprocess::bits::BitString;
use crate::postprocess::entropy::binary_entropy;

/// What a Cascade run disclosed and cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CascadeOutcome {
    /// `leak_EC`: parity bits Alice disclosed (every answered request, including repeats).
    pub leaked_bits: u64,
    /// Channel uses: round trips (one message of requests, one of parities).
    pub channel_uses: u64,
    /// Bits Bob flipped.
    pub corrected_bits: u64,
    /// Passes run, BICONF rounds included.
    pub passes: u32,
}

impl CascadeOutcome {
    /// Reconciliation efficiency `f = leak_EC / (n·h(Q))` (1 is the Shannon limit;
    /// Martinez-Mateo et al. 2015, eq. 1).
    pub fn efficiency(&self, n: usize, qber: f64) -> f64 {
        self.leaked_bits as f64 / (n as f64 * binary_entropy(qber))
    }
}

/// Bob's state in one pass.
struct Pass {
    layout: Rc<PassLayout>,
    /// Bob's key in this pass's order (kept up to date with his corrections); built when a
    /// binary search first enters a two-block pass.
    bits: Option<BitString>,
    /// Alice's parity of each disclosed block (blocks `0..alice.len()`).
    alice: Vec<bool>,
    /// Whether Bob's parity of a disclosed block differs from Alice's.
    odd: Vec<bool>,
    /// Blocks that became odd since last looked at (may hold stale or repeated entries).
    pending: Vec<u32>,
    /// Alice's known sub-block parities, by `start << 32 | end` (with reuse only).
    known: HashMap<u64, bool, BuildHasherDefault<RangeHasher>>,
}

impl Pass {
    fn smallest_block(&self) -> usize {
        self.layout.block_size
    }

    /// Drops stale pending entries; whether an odd block remains.
    fn has_odd(&mut self) -> bool {
        let odd = &self.odd;
        self.pending.retain(|&b| odd[b as usize]);
        !self.pending.is_empty()
    }
}

struct Bob<'k, 'o, O: ParityOracle> {
    key: &'k mut BitString,
    oracle: &'o mut O,
    reuse: bool,
    passes: Vec<Pass>,
    outcome: CascadeOutcome,
    requests: Vec<RangeRequest>,
    answers: Vec<bool>,
}

/// One binary search in progress: a range with an odd number of errors and Alice's parity.
#[derive(Clone, Copy)]
struct Search {
    start: usize,
    end: usize,
    alice: bool,
    /// Index of this search's request in the current message, if it asked one.
    asked: Option<usize>,
    /// Alice's parity of the first half when already known.
    known_left: Option<bool>,
}

/// Reconciles Bob's `key` in place with Alice behind `oracle`, using `config` and the public
/// seed of the pass permutations. Alice must hold a key of the same length.
pub fn reconcile<O: ParityOracle>(
    key: &mut BitString,
    oracle: &mut O,
    config: &CascadeConfig,
    public_seed: u64,
) -> Result<CascadeOutcome, PostprocessError> {
    let n = key.len();
    if n == 0 {
        return Err(PostprocessError::Size { name: "cascade key length", value: 0, allowed: "must be >= 1".into() });
    }
    if let Some(&k) = config.block_sizes.iter().find(|&&k| k == 0 || k > n) {
        return Err(PostprocessError::Size {
            name: "cascade block size",
            value: k,
            allowed: format!("must be in 1..={n}"),
        });
    }
    let mut bob = Bob {
        key,
        oracle,
        reuse: config.reuse_subblock_parities,
        passes: Vec::new(),
        outcome: CascadeOutcome::default(),
        requests: Vec::new(),
        answers: Vec::new(),
    };
    for (p, &k) in config.block_sizes.iter().enumerate() {
        bob.begin_pass(PassLayout::new(n, p, k, public_seed), None);
        bob.correct();
    }
    let mut clean = 0;
    let mut rounds = 0;
    while clean < config.biconf_clean_rounds && rounds < MAX_BICONF_ROUNDS {
        let before = bob.outcome.corrected_bits;
        let p = bob.passes.len();
        // BICONF: the parity of a random half (first block of a random permutation).
        bob.begin_pass(PassLayout::new(n, p, n.div_ceil(2), public_seed), Some(1));
        if config.biconf_cascades {
            bob.correct();
        } else {
            bob.correct_alone(p);
        }
        clean = if bob.outcome.corrected_bits == before { clean + 1 } else { 0 };
        rounds += 1;
    }
    bob.outcome.passes = bob.passes.len() as u32;
    Ok(bob.outcome)
}

impl<O: ParityOracle> Bob<'_, '_, O> {
    /// Sends one message of requests; Alice's answers land in `self.answers`.
    fn ask(&mut self) {
        self.answers.clear();
        if self.requests.is_empty() {
            return;
        }
        self.oracle.parities(&self.requests, &mut self.answers);
        assert_eq!(self.answers.len(), self.requests.len(), "Alice must answer every request");
        self.outcome.channel_uses += 1;
        self.outcome.leaked_bits += self.requests.len() as u64;
    }

    /// Starts a pass: Alice's parities of its blocks (all, or the first `disclosed`).
    fn begin_pass(&mut self, layout: PassLayout, disclosed: Option<usize>) {
        let layout = Rc::new(layout);
        self.oracle.begin_pass(&layout);
        let blocks = disclosed.unwrap_or(layout.blocks()).min(layout.blocks());
        let p = layout.pass as u32;
        self.requests.clear();
        self.requests.extend((0..blocks).map(|b| {
            let (s, e) = layout.block_range(b);
            RangeRequest { pass: p, start: s as u32, end: e as u32 }
        }));
        self.ask();
        let alice = self.answers.clone();
        let (bits, mine): (Option<BitString>, Vec<bool>) = match layout.two_block_parities(self.key) {
            Some((first, second)) => (None, [first, second][..blocks].to_vec()),
            None => {
                let bits = layout.permute(self.key);
                let mine = (0..blocks)
                    .map(|b| {
                        let (s, e) = layout.block_range(b);
                        bits.parity_range(s, e)
                    })
                    .collect();
                (Some(bits), mine)
            }
        };
        let odd: Vec<bool> = alice.iter().zip(&mine).map(|(a, m)| a != m).collect();
        let pending = (0..blocks as u32).filter(|&b| odd[b as usize]).collect();
        self.passes.push(Pass { layout, bits, alice, odd, pending, known: HashMap::default() });
    }

    /// Corrects until no disclosed block of any pass has odd error parity.
    fn correct(&mut self) {
        loop {
            let mut best: Option<usize> = None;
            for p in 0..self.passes.len() {
                if self.passes[p].has_odd()
                    && best.is_none_or(|b| self.passes[p].smallest_block() < self.passes[b].smallest_block())
                {
                    best = Some(p);
                }
            }
            let Some(p) = best else { return };
            let mut blocks = std::mem::take(&mut self.passes[p].pending);
            blocks.sort_unstable();
            blocks.dedup();
            let found = self.search_blocks(p, &blocks);
            for pos in found {
                let x = self.passes[p].layout.original(pos);
                self.flip(x);
            }
        }
    }

    /// Corrects the odd blocks of pass `p` by binary search and flips the errors found in
    /// Bob's key only: no other pass learns of them (no cascade effect). Other passes' parity
    /// states go stale, so no pass may be corrected by [`Bob::correct`] afterwards.
    fn correct_alone(&mut self, p: usize) {
        let mut blocks = std::mem::take(&mut self.passes[p].pending);
        blocks.sort_unstable();
        blocks.dedup();
        for pos in self.search_blocks(p, &blocks) {
            let x = self.passes[p].layout.original(pos);
            self.key.flip(x);
            self.outcome.corrected_bits += 1;
        }
    }

    /// Binary-searches the odd blocks `blocks` of pass `p` in lockstep; returns the error
    /// positions found (in pass order).
    fn search_blocks(&mut self, p: usize, blocks: &[u32]) -> Vec<usize> {
        let mut searches: Vec<Search> = blocks
            .iter()
            .map(|&b| {
                let (start, end) = self.passes[p].layout.block_range(b as usize);
                Search { start, end, alice: self.passes[p].alice[b as usize], asked: None, known_left: None }
            })
            .collect();
        let mut found = Vec::with_capacity(searches.len());
        if self.passes[p].bits.is_none() {
            let bits = self.passes[p].layout.permute(self.key);
            self.passes[p].bits = Some(bits);
        }
        if self.reuse {
            // Two parities per bisection step; room for a few searches without rehashing.
            let depth = usize::BITS - self.passes[p].layout.block_size.leading_zeros();
            self.passes[p].known.reserve(2 * depth as usize * searches.len());
        }
        while !searches.is_empty() {
            self.requests.clear();
            for s in &mut searches {
                let mid = s.start + (s.end - s.start).div_ceil(2);
                s.known_left = None;
                s.asked = None;
                if self.reuse {
                    let known = &self.passes[p].known;
                    s.known_left = known
                        .get(&range_key(s.start, mid))
                        .copied()
                        .or_else(|| known.get(&range_key(mid, s.end)).map(|&r| r ^ s.alice));
                }
                if s.known_left.is_none() {
                    s.asked = Some(self.requests.len());
                    self.requests.push(RangeRequest { pass: p as u32, start: s.start as u32, end: mid as u32 });
                }
            }
            self.ask();
            let pass = &mut self.passes[p];
            let bits = pass.bits.as_ref().expect("materialised above");
            for s in &mut searches {
                let mid = s.start + (s.end - s.start).div_ceil(2);
                let alice_left = s.known_left.unwrap_or_else(|| self.answers[s.asked.expect("asked")]);
                let alice_right = s.alice ^ alice_left;
                if self.reuse {
                    pass.known.insert(range_key(s.start, mid), alice_left);
                    pass.known.insert(range_key(mid, s.end), alice_right);
                }
                if bits.parity_range(s.start, mid) != alice_left {
                    (s.end, s.alice) = (mid, alice_left);
                } else {
                    (s.start, s.alice) = (mid, alice_right);
                }
                if s.end - s.start == 1 {
                    debug_assert_ne!(bits.get(s.start), s.alice, "a single-bit range with odd parity is an error");
                    found.push(s.start);
                }
            }
            searches.retain(|s| s.end - s.start > 1);
        }
        found
    }

    /// Flips original bit `x` in Bob's key and in every pass; blocks containing it change parity.
    fn flip(&mut self, x: usize) {
        self.key.flip(x);
        self.outcome.corrected_bits += 1;
        for pass in &mut self.passes {
            let b = match &mut pass.bits {
                Some(bits) => {
                    let pos = pass.layout.position(x);
                    bits.flip(pos);
                    pos / pass.layout.block_size
                }
                None => pass.layout.two_block_index(x).expect("unbuilt passes have two blocks"),
            };
            if b < pass.odd.len() {
                pass.odd[b] = !pass.odd[b];
                if pass.odd[b] {
                    pass.pending.push(b as u32);
                }
            }
        }
    }
}

/// Cache key of the range `start..end`.
#[inline]
fn range_key(start: usize, end: usize) -> u64 {
    ((start as u64) << 32) | end as u64
}

/// Hasher of range keys (one multiply; the keys are not adversarial).
#[derive(Default)]
struct RangeHasher(u64);

impl Hasher for RangeHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x ^ (x >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }
}
