//! Layered min-sum (plain, normalised or offset) in 16-bit fixed point, on `L` frames of one
//! code at once, one frame per SIMD lane (inter-frame vectorisation, as in Le Gal, Jego,
//! "High-throughput multi-core LDPC decoders based on x86 processor", IEEE TPDS 27, 1373
//! (2016)).
//!
//! - **Quantisation.** Each frame's LLRs are counted in units of `u/`[`SCALE`], `u` the
//!   frame's smallest nonzero |LLR| (on the BSC: the channel LLR `ln((1 − Q)/Q)`), rounded and
//!   saturated at ±[`LIMIT`]; min-sum is invariant under a common scale, so on the BSC this
//!   loses nothing but the saturation (at 1023 channel LLRs) and the rounding of `α·m` or
//!   `m − β` to 1/16 of a channel LLR.
//! - **Compressed check messages** (the storage of min-sum hardware decoders): per check and
//!   lane the two scaled minima and the edge of the first, per edge one sign bit per lane; a
//!   check's old message to an edge is rebuilt from those. For the 10⁵-bit rate-0.8 code at
//!   16 lanes that is 4.4 MB instead of 19 MB of full messages.
//! - **Lanes are independent:** every operation is lane-wise, so a frame's result does not
//!   depend on the lane it runs in, the frames beside it or the CPU's vector width (bit-exact
//!   with [`LANES_ONE`]). A lane whose frame stops (syndrome satisfied, or the iteration
//!   limit) takes the next frame at the next iteration boundary.
//! - **Early stop:** each check update returns, per lane, whether the new hard decisions
//!   satisfy it; the full syndrome test of a lane runs only after an iteration in which every
//!   check of that lane was satisfied when updated, and stops the frame only if it passes.

use super::Decoded;
use crate::postprocess::BitString;
use crate::postprocess::ldpc::LdpcCode;

#[cfg(target_arch = "x86_64")]
mod avx2;

/// Fixed-point units per unit LLR `u` (the channel LLR on the BSC).
pub(super) const SCALE: f32 = 16.0;

/// Saturation of posteriors and messages, in fixed-point units: `posterior − message` then
/// fits an `i16` (|x| ≤ 2·LIMIT = 32766).
const LIMIT: i16 = 16_383;

/// Lanes of the batch decoder: 16 × 16 bits, one AVX2 register.
pub(super) const LANES: usize = 16;

/// One lane: the single-frame decoder, bit-exact with every lane of the batch decoder.
pub(super) const LANES_ONE: usize = 1;

/// Fixed-point units per nat of the corrected rule, whose φ needs absolute LLRs: saturation at
/// [`LIMIT`]/256 = 64 nats.
const CORRECTED_UNITS: f32 = 256.0;

/// The check-node scaling in fixed point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scaling {
    /// `m ↦ ⌊m·k/256⌋` (normalised min-sum, α = k/256; k = 256 is plain min-sum).
    Normalised(i32),
    /// `m ↦ max(m − β, 0)` (offset min-sum, β in fixed-point units).
    Offset(i16),
    /// The corrected rule ([`super::CheckRule::CorrectedMinSum`]), with φ tabulated in units
    /// of 1/[`CORRECTED_UNITS`] nat.
    Corrected(&'static PhiFixed),
}

/// φ(x) = −ln tanh(x/2) on fixed-point magnitudes `0..=LIMIT` (units of 1/[`CORRECTED_UNITS`]
/// nat), rounded to the same units; φ(0) is taken as [`LIMIT`] (an erased input: any sum that
/// holds it maps back to 0).
pub(super) type PhiFixed = [i16; LIMIT as usize + 1];

/// The table of [`PhiFixed`], built on first use.
pub(super) fn phi_fixed() -> &'static PhiFixed {
    static TABLE: std::sync::OnceLock<Box<PhiFixed>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = Box::new([0i16; LIMIT as usize + 1]);
        for (m, t) in table.iter_mut().enumerate() {
            let x = m as f64 / f64::from(CORRECTED_UNITS);
            *t = if m == 0 {
                LIMIT
            } else {
                (super::phi_exact(x) * f64::from(CORRECTED_UNITS)).round().min(f64::from(LIMIT)) as i16
            };
        }
        table
    })
}

impl Scaling {
    /// The normalised rule for α = `alpha` (rounded to 1/256).
    pub(super) fn normalised(alpha: f32) -> Self {
        Scaling::Normalised((alpha * 256.0).round().clamp(0.0, 256.0 * 4.0) as i32)
    }

    /// The offset rule for β = `offset` unit LLRs (rounded to 1/[`SCALE`]).
    pub(super) fn offset(offset: f32) -> Self {
        Scaling::Offset((offset * SCALE).round().clamp(0.0, f32::from(LIMIT)) as i16)
    }

    /// Fixed-point units per unit LLR `unit` (the frame's smallest nonzero |LLR|).
    fn units_per_llr(self, unit: f32) -> f32 {
        match self {
            Scaling::Corrected(_) => CORRECTED_UNITS,
            _ if unit.is_finite() => SCALE / unit,
            _ => 0.0,
        }
    }

    /// The outgoing magnitudes of a check of `degree` edges from its two smallest input
    /// magnitudes, per lane: `min1` becomes the message to every edge but the first minimum's,
    /// `min2` the message to that edge.
    #[inline(always)]
    fn apply<const L: usize>(self, min1: &mut [i16; L], min2: &mut [i16; L], degree: usize) {
        match self {
            Scaling::Normalised(k) => {
                for m in min1.iter_mut().chain(min2.iter_mut()) {
                    *m = ((i32::from(*m) * k) >> 8).min(i32::from(LIMIT)) as i16;
                }
            }
            Scaling::Offset(b) => {
                for m in min1.iter_mut().chain(min2.iter_mut()) {
                    *m = m.saturating_sub(b).clamp(0, LIMIT);
                }
            }
            Scaling::Corrected(phi) => {
                // Sum-product on the two smallest inputs, the other d − 2 taken at the second
                // minimum: φ(φ(m₁) + (d − 2)·φ(m₂)) to the others, φ((d − 1)·φ(m₂)) to the
                // first minimum's edge (exact when the inputs are equal, as on the BSC at first).
                let rest = degree.saturating_sub(2) as i32;
                let limit = i32::from(LIMIT);
                for l in 0..L {
                    let p1 = i32::from(phi[min1[l].clamp(0, LIMIT) as usize]);
                    let p2 = i32::from(phi[min2[l].clamp(0, LIMIT) as usize]);
                    min1[l] = phi[(p1 + rest * p2).min(limit) as usize];
                    min2[l] = phi[((rest + 1) * p2).min(limit) as usize];
                }
            }
        }
    }
}

/// 16 lanes of `i16`, aligned to one 32-byte AVX2 vector: the storage of [`Rows`].
#[repr(C, align(32))]
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Row(pub [i16; 16]);

/// A table of `len` rows of `L` lanes, stored in 32-byte aligned [`Row`]s, so that at 16 lanes
/// each row is one aligned vector that never straddles two cache lines.
#[derive(Debug, Default)]
struct Rows<const L: usize> {
    store: Vec<Row>,
    len: usize,
}

impl<const L: usize> Rows<L> {
    /// Makes the table `len` rows of zeros.
    fn reset(&mut self, len: usize) {
        const { assert!(L <= 16 && 16 % L == 0, "lanes divide a row") };
        self.store.clear();
        self.store.resize((len * L).div_ceil(16), Row::default());
        self.len = len;
    }

    /// The rows.
    fn rows(&self) -> &[[i16; L]] {
        // SAFETY: the store holds at least `len·L` initialised `i16` (reset), `[i16; L]` has the
        // alignment of `i16`, which `Row` exceeds, and no padding.
        unsafe { std::slice::from_raw_parts(self.store.as_ptr().cast(), self.len) }
    }

    /// The rows, mutable.
    fn rows_mut(&mut self) -> &mut [[i16; L]] {
        // SAFETY: as in `rows`, borrowed mutably through `self`.
        unsafe { std::slice::from_raw_parts_mut(self.store.as_mut_ptr().cast(), self.len) }
    }
}

/// A frame to decode: its channel LLRs and syndrome.
pub(super) type Frame<'a> = (&'a [f32], &'a BitString);

/// Reusable buffers of the `L`-lane decoder (they grow to the largest code seen).
#[derive(Debug, Default)]
pub(super) struct Lanes<const L: usize> {
    /// Posterior LLR of each variable, per lane.
    posterior: Rows<L>,
    /// Per check and lane: the scaled first and second minimum of its last update, and the
    /// edge (index within the check) of the first minimum, which got the second.
    state: Vec<[[i16; L]; 3]>,
    /// Per edge: bit `l` set when lane `l`'s last message on it is negative.
    signs: Vec<u32>,
    /// Per check: bit `l` is lane `l`'s syndrome bit.
    flips: Vec<u32>,
    /// `posterior − message` of the check being updated.
    scratch: Rows<L>,
}

impl<const L: usize> Lanes<L> {
    /// Decodes `frames` of `code` with the rule `scaling`, each in at most `max_iterations`
    /// layered iterations; the results in the order of `frames`.
    pub(super) fn decode_many(
        &mut self,
        code: &LdpcCode,
        frames: &[Frame<'_>],
        scaling: Scaling,
        max_iterations: u32,
    ) -> Vec<Decoded> {
        const { assert!(L >= 1 && L <= 32, "lanes of a u32 sign mask") };
        let (n, m, edges) = (code.len(), code.checks(), code.edges());
        self.posterior.reset(n);
        self.state.clear();
        self.state.resize(m, [[0; L]; 3]);
        self.signs.clear();
        self.signs.resize(edges, 0);
        self.flips.clear();
        self.flips.resize(m, 0);
        self.scratch.reset(code.max_check_degree());
        let mut results: Vec<Option<Decoded>> = vec![None; frames.len()];
        let mut lane_frame: [Option<usize>; L] = [None; L];
        let mut lane_iterations = [0u32; L];
        let mut next = 0;
        loop {
            // Fill the idle lanes; a frame whose hard decisions already satisfy its syndrome is
            // done at 0 iterations and its lane takes the next one.
            loop {
                let mut loaded = 0u32;
                for (l, slot) in lane_frame.iter_mut().enumerate() {
                    if slot.is_none() && next < frames.len() {
                        self.load(code, l, frames[next], scaling);
                        (*slot, lane_iterations[l]) = (Some(next), 0);
                        loaded |= 1 << l;
                        next += 1;
                    }
                }
                if loaded == 0 {
                    break;
                }
                let done = loaded & self.satisfied_lanes(code, loaded);
                for l in (0..L).filter(|l| done >> l & 1 == 1) {
                    let f = lane_frame[l].take().expect("a loaded lane");
                    results[f] = Some(Decoded { word: self.word(l), iterations: 0, converged: true });
                }
            }
            if lane_frame.iter().all(Option::is_none) {
                break;
            }
            let unsatisfied = self.iterate(code, scaling);
            let candidates = (0..L)
                .filter(|&l| lane_frame[l].is_some() && unsatisfied >> l & 1 == 0)
                .fold(0u32, |acc, l| acc | 1 << l);
            let satisfied = if candidates == 0 { 0 } else { candidates & self.satisfied_lanes(code, candidates) };
            for l in 0..L {
                let Some(f) = lane_frame[l] else { continue };
                lane_iterations[l] += 1;
                let converged = satisfied >> l & 1 == 1;
                if converged || lane_iterations[l] >= max_iterations {
                    results[f] = Some(Decoded { word: self.word(l), iterations: lane_iterations[l], converged });
                    lane_frame[l] = None;
                }
            }
        }
        results.into_iter().map(|r| r.expect("every frame decoded")).collect()
    }

    /// Puts frame `frame` into lane `l`: quantised LLRs, its syndrome, zero check messages
    /// (zero magnitudes in `state`).
    fn load(&mut self, code: &LdpcCode, l: usize, (llr, syndrome): Frame<'_>, scaling: Scaling) {
        assert_eq!(llr.len(), code.len(), "channel LLRs");
        assert_eq!(syndrome.len(), code.checks(), "syndrome");
        let unit = llr.iter().map(|x| x.abs()).filter(|&a| a > 0.0).fold(f32::INFINITY, f32::min);
        let factor = scaling.units_per_llr(unit);
        for (p, &x) in self.posterior.rows_mut().iter_mut().zip(llr) {
            p[l] = (x * factor).round().clamp(-f32::from(LIMIT), f32::from(LIMIT)) as i16;
        }
        let bit = 1u32 << l;
        for (c, flip) in self.flips.iter_mut().enumerate() {
            *flip = (*flip & !bit) | (u32::from(syndrome.get(c)) << l);
        }
        for s in &mut self.state {
            for part in s.iter_mut() {
                part[l] = 0;
            }
        }
        // The lane's sign bits per edge are left as they are: with its check magnitudes 0, an
        // old message is 0 whatever its sign, and the first update writes every edge's sign.
    }

    /// One layered iteration over every check, in order; bit `l` of the result is set when
    /// some check of lane `l` was left unsatisfied by its own update.
    fn iterate(&mut self, code: &LdpcCode, scaling: Scaling) -> u32 {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { self.iterate_avx2(code, scaling) };
        }
        self.iterate_portable(code, scaling)
    }

    /// [`Self::iterate_portable`] compiled for AVX2, at 16 lanes with the check update in AVX2
    /// intrinsics ([`avx2::update_check`]; the same integer operations: bit-exact).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi1,bmi2,popcnt")]
    fn iterate_avx2(&mut self, code: &LdpcCode, scaling: Scaling) -> u32 {
        if L != 16 {
            return self.iterate_portable(code, scaling);
        }
        self.sweep(code, |posterior, vars, signs, state, scratch, flips| {
            // SAFETY: L = 16 here, so `[[i16; L]; 3]` is `[[i16; 16]; 3]`.
            let state = unsafe { &mut *state.as_mut_ptr().cast::<[[i16; 16]; 3]>() };
            avx2::update_check(&mut posterior.store, vars, signs, state, &mut scratch.store, flips, scaling)
        })
    }

    #[inline(always)]
    fn iterate_portable(&mut self, code: &LdpcCode, scaling: Scaling) -> u32 {
        self.sweep(code, |posterior, vars, signs, state, scratch, flips| {
            update_check(posterior.rows_mut(), vars, signs, state, scratch.rows_mut(), flips, scaling)
        })
    }

    /// One layered iteration: `update(posterior, vars, signs, state, scratch, flips)` on each
    /// check in order, which returns the parity of the new hard decisions per lane.
    #[inline(always)]
    fn sweep(
        &mut self,
        code: &LdpcCode,
        mut update: impl FnMut(&mut Rows<L>, &[u32], &mut [u32], &mut [[i16; L]; 3], &mut Rows<L>, u32) -> u32,
    ) -> u32 {
        let (starts, vars) = code.raw();
        let mut unsatisfied = 0u32;
        let checks = starts.len() - 1;
        for c in 0..checks {
            // The posterior gather is the cost (perf: most cycles wait on it once the lanes'
            // posteriors outgrow L2): fetch the rows of the check after next ahead of time.
            if c + PREFETCH_AHEAD < checks {
                let ahead = starts[c + PREFETCH_AHEAD] as usize..starts[c + PREFETCH_AHEAD + 1] as usize;
                for &v in &vars[ahead] {
                    prefetch(&self.posterior.rows()[v as usize]);
                }
            }
            let range = starts[c] as usize..starts[c + 1] as usize;
            let parity = update(
                &mut self.posterior,
                &vars[range.clone()],
                &mut self.signs[range],
                &mut self.state[c],
                &mut self.scratch,
                self.flips[c],
            );
            unsatisfied |= parity ^ self.flips[c];
        }
        unsatisfied
    }

    /// The lanes among `lanes` (bit `l` for lane `l`) whose hard decisions satisfy every check
    /// of their syndrome: one pass over the checks for all lanes at once, which stops as soon
    /// as every lane of `lanes` has an unsatisfied check.
    fn satisfied_lanes(&self, code: &LdpcCode, lanes: u32) -> u32 {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { self.satisfied_lanes_avx2(code, lanes) };
        }
        self.satisfied_lanes_portable(code, lanes)
    }

    /// [`Self::satisfied_lanes_portable`] compiled for AVX2 (the lanes' XOR vectorises).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn satisfied_lanes_avx2(&self, code: &LdpcCode, lanes: u32) -> u32 {
        self.satisfied_lanes_portable(code, lanes)
    }

    #[inline(always)]
    fn satisfied_lanes_portable(&self, code: &LdpcCode, lanes: u32) -> u32 {
        let (starts, vars) = code.raw();
        let rows = self.posterior.rows();
        let checks = starts.len() - 1;
        let mut wrong = 0u32;
        for c in 0..checks {
            if c % 64 == 0 && wrong & lanes == lanes {
                break;
            }
            if c + PREFETCH_AHEAD < checks {
                for &v in &vars[starts[c + PREFETCH_AHEAD] as usize..starts[c + PREFETCH_AHEAD + 1] as usize] {
                    prefetch(&rows[v as usize]);
                }
            }
            // The sign bit of the XOR of the posteriors is the parity of the hard decisions.
            let mut acc = [0i16; L];
            for &v in &vars[starts[c] as usize..starts[c + 1] as usize] {
                let row = &rows[v as usize];
                for l in 0..L {
                    acc[l] ^= row[l];
                }
            }
            let parity = acc.iter().enumerate().fold(0u32, |p, (l, &x)| p | u32::from(x < 0) << l);
            wrong |= parity ^ self.flips[c];
        }
        !wrong & lanes
    }

    /// Lane `l`'s hard decisions.
    fn word(&self, l: usize) -> BitString {
        let mut word = BitString::zeros(self.posterior.len);
        for (i, p) in self.posterior.rows().iter().enumerate() {
            if p[l] < 0 {
                word.set(i, true);
            }
        }
        word
    }
}

/// Checks between a prefetch of a check's posterior rows and its update.
const PREFETCH_AHEAD: usize = 2;

/// A hint to bring `row` into the cache (no effect on the result).
#[inline(always)]
fn prefetch<T>(row: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing into the program's state.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((row as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// One layered min-sum update of a check with variables `vars`, on every lane: rebuilds the
/// check's old messages from `state` and `signs`, takes `t = posterior − old` per edge, the
/// sign product and the two smallest |t| (Chen, Fossorier 2002: the check message to an edge is
/// the sign product of the others times the scaled minimum of the others), and writes
/// `posterior = t + new`; the syndrome bits `flips` (bit `l` for lane `l`) flip the sign.
/// Returns, per lane (bit `l`), the parity of the new hard decisions.
#[inline(always)]
fn update_check<const L: usize>(
    posterior: &mut [[i16; L]],
    vars: &[u32],
    signs: &mut [u32],
    state: &mut [[i16; L]; 3],
    scratch: &mut [[i16; L]],
    flips: u32,
    scaling: Scaling,
) -> u32 {
    let [old1, old2, old_at] = *state;
    let (mut min1, mut min2, mut at) = ([i16::MAX; L], [i16::MAX; L], [0i16; L]);
    let mut negative: [i16; L] = std::array::from_fn(|l| -((flips >> l & 1) as i16));
    let scratch = &mut scratch[..vars.len()];
    for (i, ((&v, &bits), t)) in vars.iter().zip(signs.iter()).zip(scratch.iter_mut()).enumerate() {
        let p = &posterior[v as usize];
        let i = i as i16;
        for l in 0..L {
            let magnitude = if old_at[l] == i { old2[l] } else { old1[l] };
            let sign = -((bits >> l & 1) as i16);
            let old = (magnitude ^ sign) - sign;
            let x = p[l] - old;
            t[l] = x;
            negative[l] ^= x >> 15;
            let a = x.abs();
            min2[l] = min2[l].min(a.max(min1[l]));
            at[l] = if a < min1[l] { i } else { at[l] };
            min1[l] = min1[l].min(a);
        }
    }
    scaling.apply(&mut min1, &mut min2, vars.len());
    let mut parity = [0i16; L];
    for (i, ((&v, bits), t)) in vars.iter().zip(signs.iter_mut()).zip(scratch.iter()).enumerate() {
        let p = &mut posterior[v as usize];
        let i = i as i16;
        let mut mask = 0u32;
        for l in 0..L {
            let magnitude = if at[l] == i { min2[l] } else { min1[l] };
            let sign = negative[l] ^ (t[l] >> 15);
            let out = (magnitude ^ sign) - sign;
            mask |= u32::from(sign < 0) << l;
            let post = t[l].saturating_add(out).clamp(-LIMIT, LIMIT);
            parity[l] ^= post >> 15;
            p[l] = post;
        }
        *bits = mask;
    }
    *state = [min1, min2, at];
    parity.iter().enumerate().fold(0u32, |acc, (l, &p)| acc | u32::from(p < 0) << l)
}
