//! LDPC reconciliation for the binary symmetric channel: syndrome coding with irregular
//! low-density parity-check codes, decoded by belief propagation.
//!
//! Alice sends the syndrome `s = H·x` of her frame `x` (the `m` parities are the whole
//! leak); Bob, holding `y = x ⊕ e` with `e` Bernoulli(Q), searches for the `x̂` with
//! `H·x̂ = s` closest to `y` by belief propagation from the channel log-likelihood ratios
//! `L_i = (1 − 2y_i)·ln((1 − Q)/Q)`. A frame the decoder does not settle, or settles on a
//! wrong word, is caught by the verification hash downstream ([`crate::postprocess::verify`]).
//!
//! - [`DegreeDistribution`]: an edge-perspective variable-degree distribution λ(x), the check
//!   degrees concentrated on two neighbouring values;
//! - [`LdpcCode`]: a parity-check matrix in flat edge arrays, built deterministically from a
//!   seed (configuration model, repeated edges repaired);
//! - [`Decoder`]: layered belief propagation, sum-product in the log domain or plain,
//!   normalised or offset min-sum (16-bit fixed point, up to 16 frames at once, one per SIMD
//!   lane), with an early stop on a satisfied syndrome and no allocation per iteration.
//!
//! - [`ELKOUSS_2009`]: the BSC-optimised mother-code distributions of Elkouss, Leverrier,
//!   Alléaume, Boutros 2009 (Table I, rates 0.50–0.90);
//! - [`MotherCode`]: those codes built and cached per process, with public puncturing and
//!   shortening orders;
//! - [`Plan`]: a block cut into equal frames with fixed `d = p + s` rate adaptation (Elkouss,
//!   Martinez-Mateo, Lancho, Martin 2010, arXiv:1006.2660);
//! - [`LdpcReconciler`]: the protocol, one syndrome message and reveal rounds for the frames
//!   that fail, with the exact leak (syndrome bits − punctured positions + revealed values)
//!   counted at Alice's side of the channel ([`AliceFrames`]).
//!
//! - [`BlindReconciler`]: blind reconciliation (Martinez-Mateo, Elkouss, Martin 2012): every
//!   frame starts fully punctured and reveals punctured values round by round.

mod blind;
mod code;
mod decoder;
mod distribution;
mod mother;
mod plan;
mod reconcile;

pub use blind::BlindReconciler;
pub use code::LdpcCode;
pub use decoder::{CheckRule, Decoded, Decoder, MIN_SUM_NORMALISATION, channel_llr};
pub use distribution::{DegreeDistribution, ELKOUSS_2009, TableRow};
pub use mother::MotherCode;
pub use plan::{DELTA, FramePlan, Plan};
pub use reconcile::{AliceFrames, LdpcChannel, LdpcOutcome, LdpcReconciler, THROUGHPUT_EFFICIENCY};
