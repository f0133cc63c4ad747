//! Round trips of every crypto path with the real crates, and rejection of
//! single flipped bits in ciphertexts, signatures and encapsulations.

use qecnet::crypto::{
    AuditSigner, CryptoError, HybridKemKey, KemSuite, KeySpecTable, KeyType, MasterKey, NodeIdentityKey, OneTimePad,
    SecretBytes, SessionKey, encapsulate, verify_audit_signature,
};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn material(kt: KeyType, r: &mut ChaCha20Rng) -> SecretBytes {
    let spec = KeySpecTable::default();
    SecretBytes::random(spec.get(kt).material_len, kt.as_str(), r).expect("entropy")
}

/// Every bit position of `bytes`, flipped one at a time, sampled with a stride to keep it quick.
fn flips(len: usize) -> impl Iterator<Item = (usize, u8)> {
    let stride = (len / 64).max(1);
    (0..len).step_by(stride).map(|i| (i, 1u8 << (i % 8))).chain(std::iter::once((len - 1, 0x80)))
}

#[test]
fn master_key_wraps_and_rejects_flips_and_wrong_aad() {
    let mut r = rng(1);
    let master = MasterKey::from_material(&material(KeyType::SovereignMaster, &mut r)).unwrap();
    let secret = material(KeyType::MeshSession, &mut r);
    let wrapped = master.wrap(&secret, b"key#7", &mut r).unwrap();
    assert!(!wrapped.windows(8).any(|w| w == &secret.expose()[..8]));
    let back = master.unwrap(&wrapped, b"key#7").unwrap();
    assert_eq!(back.expose(), secret.expose());
    assert!(master.unwrap(&wrapped, b"key#8").is_err());
    for (i, bit) in flips(wrapped.len()) {
        let mut bad = wrapped.clone();
        bad[i] ^= bit;
        assert!(
            matches!(master.unwrap(&bad, b"key#7"), Err(CryptoError::AuthenticationFailed { .. })),
            "flip at byte {i} accepted"
        );
    }
    let other = MasterKey::from_material(&material(KeyType::SovereignMaster, &mut r)).unwrap();
    assert!(other.unwrap(&wrapped, b"key#7").is_err());
}

#[test]
fn session_key_round_trips_and_rejects_flips() {
    let mut r = rng(2);
    let key = SessionKey::from_material(&material(KeyType::MeshSession, &mut r)).unwrap();
    let sealed = key.seal(b"mesh frame", b"ch-1", &mut r).unwrap();
    assert_eq!(key.open(&sealed, b"ch-1").unwrap().expose(), b"mesh frame");
    for (i, bit) in flips(sealed.len()) {
        let mut bad = sealed.clone();
        bad[i] ^= bit;
        assert!(key.open(&bad, b"ch-1").is_err(), "flip at byte {i} accepted");
    }
    assert!(key.open(&sealed[..20], b"ch-1").is_err());
}

#[test]
fn one_time_pad_round_trips_rejects_flips_and_reuse() {
    let mut r = rng(3);
    let pad = material(KeyType::QkdTransport, &mut r);
    let copy = SecretBytes::new(pad.expose().to_vec());
    let mut alice = OneTimePad::new(pad, 0);
    let mut bob = OneTimePad::new(copy, 0);
    let ct1 = alice.encrypt(b"first message").unwrap();
    let ct2 = alice.encrypt(b"second").unwrap();
    assert_eq!(ct2.offset, OneTimePad::cost(13) as u64);
    assert_ne!(ct1.body, b"first message");
    for (i, bit) in flips(ct1.body.len()) {
        let mut bad = ct1.clone();
        bad.body[i] ^= bit;
        assert!(bob.decrypt(&bad).is_err(), "flip at byte {i} accepted");
    }
    let mut bad_tag = ct1.clone();
    bad_tag.tag[0] ^= 1;
    assert!(bob.decrypt(&bad_tag).is_err());
    assert_eq!(bob.decrypt(&ct1).unwrap().expose(), b"first message");
    assert_eq!(bob.decrypt(&ct2).unwrap().expose(), b"second");
    assert!(matches!(bob.decrypt(&ct1), Err(CryptoError::PadReuse { .. })));
    // Exhaustion.
    let mut small = OneTimePad::new(SecretBytes::new(vec![7u8; 40]), 0);
    assert!(small.encrypt(b"12345678").is_ok());
    assert!(matches!(small.encrypt(b"x"), Err(CryptoError::PadExhausted { .. })));
}

#[test]
fn hybrid_identity_signature_needs_both_components() {
    let mut r = rng(4);
    let key = NodeIdentityKey::from_material(&material(KeyType::NodeIdentity, &mut r)).unwrap();
    let public = key.public();
    let sig = key.sign(b"node n1 joins");
    public.verify(b"node n1 joins", &sig).unwrap();
    assert!(public.verify(b"node n2 joins", &sig).is_err());
    for (i, bit) in flips(64) {
        let mut bad = sig.clone();
        bad.ed25519[i] ^= bit;
        assert!(public.verify(b"node n1 joins", &bad).is_err(), "ed flip {i}");
    }
    for (i, bit) in flips(sig.ml_dsa.len()) {
        let mut bad = sig.clone();
        bad.ml_dsa[i] ^= bit;
        assert!(public.verify(b"node n1 joins", &bad).is_err(), "ml-dsa flip {i}");
    }
    // A signature from a different identity does not verify.
    let other = NodeIdentityKey::from_material(&material(KeyType::NodeIdentity, &mut r)).unwrap();
    assert!(public.verify(b"node n1 joins", &other.sign(b"node n1 joins")).is_err());
}

#[test]
fn audit_signature_round_trips_and_rejects_flips() {
    let mut r = rng(5);
    let signer = AuditSigner::from_material(&material(KeyType::AuditSigning, &mut r)).unwrap();
    let sig = signer.sign(b"checkpoint 1000");
    verify_audit_signature(&signer.public(), b"checkpoint 1000", &sig).unwrap();
    assert!(verify_audit_signature(&signer.public(), b"checkpoint 1001", &sig).is_err());
    for (i, bit) in flips(64) {
        let mut bad = sig;
        bad[i] ^= bit;
        assert!(verify_audit_signature(&signer.public(), b"checkpoint 1000", &bad).is_err());
    }
}

fn kem_round_trip(suite: KemSuite, seed: u64) {
    let mut r = rng(seed);
    let key = HybridKemKey::from_material(&material(KeyType::EphemeralSession, &mut r), suite).unwrap();
    let pk = key.public();
    let (enc, ss_init) = encapsulate(&pk, &mut r).unwrap();
    let ss_resp = key.decapsulate(&enc).unwrap();
    assert_eq!(ss_init.expose(), ss_resp.expose());
    assert_eq!(ss_init.len(), 32);
    // Two exchanges give different secrets.
    let (_, ss2) = encapsulate(&pk, &mut r).unwrap();
    assert_ne!(ss2.expose(), ss_init.expose());
    for (i, bit) in flips(enc.ml_kem.len()) {
        let mut bad = enc.clone();
        bad.ml_kem[i] ^= bit;
        assert!(key.decapsulate(&bad).is_err(), "ML-KEM ct flip {i}");
    }
    for (i, bit) in flips(32) {
        let mut bad = enc.clone();
        bad.x25519[i] ^= bit;
        assert!(key.decapsulate(&bad).is_err(), "X25519 share flip {i}");
        let mut bad = enc.clone();
        bad.confirm[i] ^= bit;
        assert!(key.decapsulate(&bad).is_err(), "confirm flip {i}");
    }
}

#[test]
fn hybrid_kem_768_round_trips_and_rejects_flips() {
    kem_round_trip(KemSuite::X25519MlKem768, 6);
}

#[test]
fn hybrid_kem_1024_fallback_round_trips_and_rejects_flips() {
    kem_round_trip(KemSuite::X25519MlKem1024, 7);
}

#[test]
fn debug_never_prints_key_bytes() {
    let secret = SecretBytes::new(vec![0xAB; 32]);
    let text = format!("{secret:?}");
    assert!(!text.contains("171") && !text.to_lowercase().contains("ab,"), "{text}");
    let master = MasterKey::from_material(&secret).unwrap();
    assert!(!format!("{master:?}").contains("171"));
}

#[test]
fn stuck_rng_is_refused() {
    struct Stuck;
    impl rand::TryRng for Stuck {
        type Error = std::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(0)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.fill(0);
            Ok(())
        }
    }
    impl rand::TryCryptoRng for Stuck {}
    assert!(matches!(SecretBytes::random(32, "test", &mut Stuck), Err(CryptoError::DegenerateEntropy { .. })));
}
