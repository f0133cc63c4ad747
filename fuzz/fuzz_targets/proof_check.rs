//! The proof checker over mutated proofs: it must never panic, and a proof it accepts with
//! the genuine key pinned must be about a genuine record and genuine signed heads.
//!
//! Input: JSON, seeded with real inclusion and consistency proofs of the template store.

#![no_main]

#[path = "../src/template.rs"]
mod template;

use libfuzzer_sys::fuzz_target;
use qecnet::lifecycle::audit_proof::AuditProof;

fuzz_target!(|data: &[u8]| {
    let t = template::store();
    let Ok(proof) = serde_json::from_slice::<AuditProof>(data) else { return };
    if proof.verify(Some(&[t.pin])).is_ok() {
        assert!(t.is_genuine(&proof), "a forged proof was accepted: {proof:?}");
    }
    let _ = proof.verify(None);
});
