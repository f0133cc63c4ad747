//! The engine's protocol rules as pure functions: which receipts it accepts,
//! when a key has every receipt it needs to activate, what becomes of a
//! ROTATING key when a key activates on its channel (the overlap rule), and
//! which keys a compromise revokes and re-keys.
//!
//! The engine applies these inside its transactions ([`super::engine`],
//! [`super::recovery`]); the protocol model in `tests/lifecycle_protocol_model.rs`
//! calls the same functions, together with [`Transition::allowed_from`](super::Transition::allowed_from),
//! [`Transition::target`](super::Transition::target) and
//! [`Usage::allowed_in`](super::Usage::allowed_in), so the model checks the
//! engine's rules and not a copy of them. The functions are generic over the
//! node name so the engine passes `String`s and the model small integers.
//!
//! ```
//! use qecnet::lifecycle::rules::{OverlapFate, missing_receipts, overlap_fate};
//! use qecnet::units::SimDuration;
//!
//! let participants = ["hub", "n1"];
//! assert_eq!(missing_receipts(&participants, |n| *n == "hub"), vec!["n1"]);
//! // The predecessor of a key that activates stays decrypt-only for the overlap...
//! assert_eq!(overlap_fate(true, false, SimDuration::from_secs(30)), OverlapFate::DecryptUntilOverlapEnds);
//! // ...any other ROTATING key on the channel is superseded at once.
//! assert_eq!(overlap_fate(false, false, SimDuration::from_secs(30)), OverlapFate::RetireNow);
//! ```

use super::KeyState;
use crate::units::SimDuration;

/// The QBER threshold of the QECNet spec, as a fraction (0.11 = 11 %): a link whose quantum
/// bit error rate reaches it no longer yields secure key (the BB84 limit), so the hub stops
/// drawing key from it and falls back to the ML-KEM-1024 exchange.
pub const QBER_THRESHOLD: f64 = 0.11;

/// Why the engine refuses a receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptRefusal {
    /// The key is not DISTRIBUTED (receipts are only collected there).
    NotExpected,
    /// The node is not one of the key's participants.
    NotParticipant,
    /// The node was isolated after a compromise.
    NodeIsolated,
}

/// Whether a receipt for a key in `state` from a node is refused, checked in
/// this order: the key must be DISTRIBUTED, the node a participant, and the
/// node not isolated. `None` means the receipt is recorded (a repeated receipt
/// is recorded once).
pub fn receipt_refusal(state: KeyState, is_participant: bool, node_isolated: bool) -> Option<ReceiptRefusal> {
    if state != KeyState::Distributed {
        Some(ReceiptRefusal::NotExpected)
    } else if !is_participant {
        Some(ReceiptRefusal::NotParticipant)
    } else if node_isolated {
        Some(ReceiptRefusal::NodeIsolated)
    } else {
        None
    }
}

/// The participants that have not confirmed receipt, in order. A key may
/// activate only when this is empty (the engine's [`ReceiptProof`](super::ReceiptProof)).
pub fn missing_receipts<N: Clone>(participants: &[N], has_receipt: impl Fn(&N) -> bool) -> Vec<N> {
    participants.iter().filter(|p| !has_receipt(p)).cloned().collect()
}

/// What becomes of a ROTATING key on a channel when a key activates there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverlapFate {
    /// Retired in the same transaction as the activation.
    RetireNow,
    /// Stays ROTATING (decrypt-only) until the overlap ends, then retires.
    DecryptUntilOverlapEnds,
}

/// The overlap rule: only the activating key's own predecessor may overlap it,
/// and only for a scheduled rotation (not marked for early retirement) with a
/// non-zero overlap; any other ROTATING key on the channel is superseded. So
/// at most two keys of a channel are usable at once, one of them for
/// decryption only.
pub fn overlap_fate(is_predecessor: bool, early_retirement: bool, overlap: SimDuration) -> OverlapFate {
    if is_predecessor && !early_retirement && overlap > SimDuration(0) {
        OverlapFate::DecryptUntilOverlapEnds
    } else {
        OverlapFate::RetireNow
    }
}

/// REVOKE step of compromise recovery: a key is revoked when it is live and
/// the compromised `node` shares it.
pub fn revoked_by_compromise<N: PartialEq<M>, M: ?Sized>(state: KeyState, participants: &[N], node: &M) -> bool {
    state.is_live() && participants.iter().any(|p| p == node)
}

/// RE-KEY step of compromise recovery: for a key the compromise revokes
/// (`state` is its state before the revocation), the participants its channel
/// is re-keyed for — every participant but `node` — or `None`: a RETIRED or
/// pre-staged key asks for no re-key, nor does a channel left with fewer than
/// two nodes.
pub fn rekey_after_compromise<N: PartialEq<M> + Clone, M: ?Sized>(
    state: KeyState,
    prestaged: bool,
    participants: &[N],
    node: &M,
) -> Option<Vec<N>> {
    let serving = matches!(state, KeyState::Active | KeyState::Rotating | KeyState::Distributed | KeyState::Generated);
    if !serving || prestaged {
        return None;
    }
    let rest: Vec<N> = participants.iter().filter(|p| *p != node).cloned().collect();
    (rest.len() >= 2).then_some(rest)
}

/// RE-KEY step: a channel whose live keys (after the revocations) include an
/// ACTIVE, GENERATED or DISTRIBUTED one still has a key that serves it and is
/// not re-keyed.
pub fn channel_still_keyed(live_states: impl IntoIterator<Item = KeyState>) -> bool {
    live_states.into_iter().any(|s| matches!(s, KeyState::Active | KeyState::Generated | KeyState::Distributed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_is_refused_for_the_first_reason_that_applies() {
        assert_eq!(receipt_refusal(KeyState::Active, false, true), Some(ReceiptRefusal::NotExpected));
        assert_eq!(receipt_refusal(KeyState::Distributed, false, true), Some(ReceiptRefusal::NotParticipant));
        assert_eq!(receipt_refusal(KeyState::Distributed, true, true), Some(ReceiptRefusal::NodeIsolated));
        assert_eq!(receipt_refusal(KeyState::Distributed, true, false), None);
    }

    #[test]
    fn only_a_scheduled_predecessor_with_an_overlap_stays_decrypt_only() {
        assert_eq!(overlap_fate(true, false, SimDuration(1)), OverlapFate::DecryptUntilOverlapEnds);
        assert_eq!(overlap_fate(true, true, SimDuration(1)), OverlapFate::RetireNow);
        assert_eq!(overlap_fate(true, false, SimDuration(0)), OverlapFate::RetireNow);
        assert_eq!(overlap_fate(false, false, SimDuration(1)), OverlapFate::RetireNow);
    }

    #[test]
    fn a_compromise_re_keys_only_channels_left_with_two_nodes() {
        let parts = [1, 2, 3];
        assert!(revoked_by_compromise(KeyState::Retired, &parts, &2));
        assert!(!revoked_by_compromise(KeyState::Revoked, &parts, &2));
        assert!(!revoked_by_compromise(KeyState::Active, &parts, &4));
        assert_eq!(rekey_after_compromise(KeyState::Active, false, &parts, &2), Some(vec![1, 3]));
        assert_eq!(rekey_after_compromise(KeyState::Retired, false, &parts, &2), None);
        assert_eq!(rekey_after_compromise(KeyState::Active, true, &parts, &2), None);
        assert_eq!(rekey_after_compromise(KeyState::Active, false, &[1, 2], &2), None);
        assert!(channel_still_keyed([KeyState::Rotating, KeyState::Distributed]));
        assert!(!channel_still_keyed([KeyState::Rotating, KeyState::Retired]));
    }
}
