//! Proof that every participant confirmed receipt of a key.
//!
//! A [`ReceiptProof`] can only be obtained from
//! [`Engine::receipt_proof`](super::Engine::receipt_proof), which checks the
//! store, and [`Engine::activate`](super::Engine::activate) consumes it (it is
//! neither `Clone` nor constructible outside this module). Activation re-checks
//! the receipts inside its transaction as well.

use std::collections::BTreeSet;

use super::KeyId;

/// Every participant of `key` confirmed receipt.
#[derive(Debug)]
pub struct ReceiptProof {
    key: KeyId,
    nodes: BTreeSet<String>,
}

impl ReceiptProof {
    pub(super) fn new(key: KeyId, nodes: BTreeSet<String>) -> Self {
        Self { key, nodes }
    }

    /// The key this proof is for.
    pub fn key(&self) -> KeyId {
        self.key
    }

    /// The nodes that confirmed.
    pub fn nodes(&self) -> &BTreeSet<String> {
        &self.nodes
    }
}
