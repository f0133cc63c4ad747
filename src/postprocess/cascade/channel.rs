//! The classical channel of Cascade as seen by Bob: he sends lists of position ranges and Alice
//! answers with her parities of them. Alice's side ([`AliceParities`]) knows only her own key
//! and the public pass permutations.

use std::rc::Rc;

use super::layout::PassLayout;
use crate::postprocess::bits::BitString;

/// A request for Alice's parity of positions `start..end` in the order of pass `pass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RangeRequest {
    /// Pass index.
    pub pass: u32,
    /// First position (inclusive).
    pub start: u32,
    /// Last position (exclusive).
    pub end: u32,
}

/// Alice's side of the channel. One call of [`ParityOracle::parities`] is one round trip: one
/// message of requests from Bob, one message of parities back, one bit per request.
pub trait ParityOracle {
    /// Bob announces a new pass; its permutation derives from the shared public seed, so this
    /// carries no information about either key and is not a channel use.
    fn begin_pass(&mut self, layout: &Rc<PassLayout>);
    /// Alice's parities of the requested ranges, in order, appended to `answers`.
    fn parities(&mut self, requests: &[RangeRequest], answers: &mut Vec<bool>);
}

/// Alice: answers parity requests from her key rearranged in each pass's order (built when
/// first needed: the two block parities of a two-block pass need only the block membership).
pub struct AliceParities<'a> {
    key: &'a BitString,
    passes: Vec<(Rc<PassLayout>, Option<BitString>)>,
}

impl<'a> AliceParities<'a> {
    /// Alice holding `key`.
    pub fn new(key: &'a BitString) -> Self {
        AliceParities { key, passes: Vec::new() }
    }
}

impl ParityOracle for AliceParities<'_> {
    fn begin_pass(&mut self, layout: &Rc<PassLayout>) {
        assert_eq!(layout.pass, self.passes.len(), "passes are announced in order");
        assert_eq!(layout.len(), self.key.len(), "layout and key lengths differ");
        self.passes.push((Rc::clone(layout), None));
    }

    fn parities(&mut self, requests: &[RangeRequest], answers: &mut Vec<bool>) {
        for r in requests {
            let (layout, permuted) = &mut self.passes[r.pass as usize];
            let (start, end) = (r.start as usize, r.end as usize);
            if permuted.is_none()
                && let Some((first, second)) = layout.two_block_parities(self.key)
            {
                if (start, end) == layout.block_range(0) {
                    answers.push(first);
                    continue;
                }
                if (start, end) == layout.block_range(1) {
                    answers.push(second);
                    continue;
                }
            }
            let bits = permuted.get_or_insert_with(|| layout.permute(self.key));
            answers.push(bits.parity_range(start, end));
        }
    }
}
