//! The committed fuzz seed corpus matches the store it was made from: every seed proof of
//! `proof_check` verifies against the template store's pinned key and is genuine. A schema
//! or audit change that alters the template's records makes the old proofs fail the fuzz
//! target at its first input; this test says so in the ordinary test run, with the fix.

#[path = "../../fuzz/src/template.rs"]
mod template;

use qecnet::lifecycle::audit_proof::AuditProof;

#[test]
fn every_committed_seed_proof_is_a_genuine_proof_of_the_template_store() {
    let t = template::store();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/proof_check");
    let mut seeds: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    seeds.sort();
    assert!(seeds.len() >= t.proofs.len(), "{} seed proofs for {} template proofs", seeds.len(), t.proofs.len());
    let stale =
        "the fuzz corpus is stale: run `cargo run --release --manifest-path fuzz/Cargo.toml --example make_corpus`";
    for path in &seeds {
        let text = std::fs::read_to_string(path).unwrap();
        let proof: AuditProof =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}; {stale}", path.display()));
        let verified = proof.verify(Some(&[t.pin]));
        assert!(verified.is_ok(), "{}: {verified:?}; {stale}", path.display());
        assert!(t.is_genuine(&proof), "{}: not a proof of the template store; {stale}", path.display());
    }
}
