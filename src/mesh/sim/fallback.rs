//! The fallback key exchange of a link that cannot pay a session key from QKD: a real
//! ML-KEM-1024 + X25519 hybrid exchange between the two ends.

use rand_chacha::ChaCha20Rng;

use crate::crypto::{HybridKemKey, KemSuite, SecretBytes, encapsulate};
use crate::mesh::error::{MeshError, Result};

/// One end publishes a fresh key, the other encapsulates, both derive the same secret: its
/// first 32 bytes are the session key.
pub(super) fn ml_kem_exchange(rng: &mut ChaCha20Rng) -> Result<SecretBytes> {
    let seed = SecretBytes::random(96, "fallback KEM key", rng)?;
    let responder = HybridKemKey::from_material(&seed, KemSuite::X25519MlKem1024)?;
    let (enc, initiator_secret) = encapsulate(&responder.public(), rng)?;
    let responder_secret = responder.decapsulate(&enc)?;
    if initiator_secret.expose() != responder_secret.expose() {
        return Err(MeshError::FallbackMismatch);
    }
    Ok(SecretBytes::new(initiator_secret.expose()[..32].to_vec()))
}
