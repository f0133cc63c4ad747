//! Plain (α = 1) layered min-sum in 16-bit fixed point, exact on the binary symmetric channel.
//!
//! Min-sum only takes minima, signs and sums, so when every channel LLR is an integer multiple
//! of one unit `u` (on the BSC: `±L`, with `0` for punctured and a large multiple for shortened
//! positions), every message is an integer multiple of `u` too and the decoder can count in
//! units of `u` with integers: the same decisions as the `f32` decoder, up to saturation at
//! [`LIMIT`] units. The posteriors take 2 bytes instead of 4 (2·10⁵ bytes for a 10⁵-bit frame,
//! inside a 512 KiB L2), which matters because the check-by-check gather of posteriors is the
//! decoder's cost (perf: about 60 % of the cycles on the posterior loads at n = 10⁵).
//!
//! Early stop: each check update recomputes the hard-decision parity of its variables; the
//! full syndrome test (one pass over the edges) runs only after an iteration in which every
//! check was satisfied when it was updated, and stops the decoder only if it passes.

use super::Decoded;
use crate::postprocess::BitString;
use crate::postprocess::ldpc::LdpcCode;

/// Saturation of posteriors and messages, in units of the channel LLR: 2¹⁴, so that
/// `posterior − message` and `extrinsic + message` fit an `i32` → `i16` round trip.
const LIMIT: i32 = 1 << 14;

/// Largest ratio between an LLR and the unit that still gets an exact integer count.
const MAX_MULTIPLE: f32 = (LIMIT / 2) as f32;

/// The unit `u` of `llr` for the fixed-point decoder: the smallest nonzero magnitude, when
/// every magnitude is within 10⁻⁴ of an integer multiple of it (at most [`MAX_MULTIPLE`]);
/// `None` otherwise (the caller then decodes in `f32`).
pub(super) fn llr_unit(llr: &[f32]) -> Option<f32> {
    let unit = llr.iter().map(|l| l.abs()).filter(|&a| a > 0.0).fold(f32::INFINITY, f32::min);
    if !unit.is_finite() {
        return None;
    }
    llr.iter()
        .all(|&l| {
            let k = l.abs() / unit;
            k <= MAX_MULTIPLE && (k - k.round()).abs() < 1e-4
        })
        .then_some(unit)
}

/// Reusable buffers of the fixed-point decoder.
#[derive(Debug, Default)]
pub(super) struct FixedBuffers {
    posterior: Vec<i16>,
    messages: Vec<i16>,
    scratch: Vec<i32>,
}

impl FixedBuffers {
    /// Decodes as [`super::Decoder::decode`] does, with the LLRs counted in units of `unit`.
    pub(super) fn decode(
        &mut self,
        code: &LdpcCode,
        llr: &[f32],
        unit: f32,
        syndrome: &BitString,
        max_iterations: u32,
    ) -> Decoded {
        self.posterior.clear();
        self.posterior.extend(llr.iter().map(|&l| (l / unit).round() as i16));
        self.messages.clear();
        self.messages.resize(code.edges(), 0);
        self.scratch.resize(code.max_check_degree(), 0);
        let (starts, vars) = code.raw();
        let mut iterations = 0;
        let mut converged = satisfies(&self.posterior, starts, vars, syndrome);
        while !converged && iterations < max_iterations {
            let mut unsatisfied = 0usize;
            for c in 0..starts.len() - 1 {
                let range = starts[c] as usize..starts[c + 1] as usize;
                let flip = syndrome.get(c);
                let parity = update_check(
                    &mut self.posterior,
                    &mut self.messages[range.clone()],
                    &vars[range],
                    &mut self.scratch,
                    flip,
                );
                unsatisfied += usize::from(parity != flip);
            }
            iterations += 1;
            converged = unsatisfied == 0 && satisfies(&self.posterior, starts, vars, syndrome);
        }
        let mut word = BitString::zeros(code.len());
        for (i, &l) in self.posterior.iter().enumerate() {
            if l < 0 {
                word.set(i, true);
            }
        }
        Decoded { word, iterations, converged }
    }
}

/// One layered min-sum update of a check with variables `vars` and messages `messages`
/// (syndrome bit `flip`); returns the parity of its variables' hard decisions afterwards.
#[inline]
fn update_check(posterior: &mut [i16], messages: &mut [i16], vars: &[u32], scratch: &mut [i32], flip: bool) -> bool {
    let scratch = &mut scratch[..vars.len()];
    let (mut min1, mut min2, mut at) = (i32::MAX, i32::MAX, 0usize);
    let mut negative = flip;
    for (i, ((&v, &r), t)) in vars.iter().zip(messages.iter()).zip(scratch.iter_mut()).enumerate() {
        let x = i32::from(posterior[v as usize]) - i32::from(r);
        *t = x;
        negative ^= x < 0;
        let a = x.abs();
        min2 = min2.min(a.max(min1));
        if a < min1 {
            at = i;
        }
        min1 = min1.min(a);
    }
    let mut parity = false;
    for (i, ((&v, r), &x)) in vars.iter().zip(messages.iter_mut()).zip(scratch.iter()).enumerate() {
        let magnitude = if i == at { min2 } else { min1 }.min(LIMIT);
        let out = if negative ^ (x < 0) { -magnitude } else { magnitude };
        *r = out as i16;
        let post = (x + out).clamp(-LIMIT, LIMIT);
        parity ^= post < 0;
        posterior[v as usize] = post as i16;
    }
    parity
}

/// Whether the hard decisions of `posterior` satisfy every check.
fn satisfies(posterior: &[i16], starts: &[u32], vars: &[u32], syndrome: &BitString) -> bool {
    (0..starts.len() - 1).all(|c| {
        let range = starts[c] as usize..starts[c + 1] as usize;
        vars[range].iter().fold(false, |p, &v| p ^ (posterior[v as usize] < 0)) == syndrome.get(c)
    })
}
