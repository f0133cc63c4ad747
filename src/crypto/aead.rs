//! The two AEAD key types: SOVEREIGN_MASTER (AES-256-GCM, wraps keys at rest)
//! and MESH_SESSION (ChaCha20-Poly1305 channel traffic).
//!
//! Both use random 96-bit nonces; the sealed form is `nonce (12) || ciphertext || tag (16)`.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use rand::CryptoRng;

use super::{CryptoError, SecretBytes};

/// Nonce length of both AEADs in bytes.
pub const NONCE_LEN: usize = 12;
/// Tag length of both AEADs in bytes.
pub const TAG_LEN: usize = 16;

fn seal_with<A: Aead + aes_gcm::aead::AeadCore>(
    cipher: &A,
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut (impl CryptoRng + ?Sized),
    what: &'static str,
) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let n = aes_gcm::aead::Nonce::<A>::try_from(&nonce[..]).map_err(|_| CryptoError::Malformed { what })?;
    let ct =
        cipher.encrypt(&n, Payload { msg: plaintext, aad }).map_err(|_| CryptoError::AuthenticationFailed { what })?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

fn open_with<A: Aead + aes_gcm::aead::AeadCore>(
    cipher: &A,
    aad: &[u8],
    sealed: &[u8],
    what: &'static str,
) -> Result<SecretBytes, CryptoError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Malformed { what });
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let n = aes_gcm::aead::Nonce::<A>::try_from(nonce).map_err(|_| CryptoError::Malformed { what })?;
    cipher
        .decrypt(&n, Payload { msg: ct, aad })
        .map(SecretBytes::new)
        .map_err(|_| CryptoError::AuthenticationFailed { what })
}

/// SOVEREIGN_MASTER: the AES-256-GCM key-encryption key.
pub struct MasterKey {
    cipher: Aes256Gcm,
}

impl MasterKey {
    /// Build from 32 secret bytes.
    pub fn from_material(material: &SecretBytes) -> Result<Self, CryptoError> {
        let cipher = Aes256Gcm::new_from_slice(material.expose()).map_err(|_| CryptoError::BadKeyLength {
            what: "SOVEREIGN_MASTER",
            expected: 32,
            got: material.len(),
        })?;
        Ok(Self { cipher })
    }

    /// Wrap secret `material` bound to `aad` (the key's identity), for storage at rest.
    pub fn wrap(
        &self,
        material: &SecretBytes,
        aad: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, CryptoError> {
        seal_with(&self.cipher, aad, material.expose(), rng, "SOVEREIGN_MASTER wrap")
    }

    /// Unwrap what [`MasterKey::wrap`] produced with the same `aad`.
    pub fn unwrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<SecretBytes, CryptoError> {
        open_with(&self.cipher, aad, wrapped, "SOVEREIGN_MASTER unwrap")
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(redacted)")
    }
}

/// MESH_SESSION: a ChaCha20-Poly1305 channel key.
pub struct SessionKey {
    cipher: ChaCha20Poly1305,
}

impl SessionKey {
    /// Build from 32 secret bytes.
    pub fn from_material(material: &SecretBytes) -> Result<Self, CryptoError> {
        let cipher = ChaCha20Poly1305::new_from_slice(material.expose()).map_err(|_| CryptoError::BadKeyLength {
            what: "MESH_SESSION",
            expected: 32,
            got: material.len(),
        })?;
        Ok(Self { cipher })
    }

    /// Encrypt and authenticate `plaintext` with associated data `aad`.
    pub fn seal(
        &self,
        plaintext: &[u8],
        aad: &[u8],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, CryptoError> {
        seal_with(&self.cipher, aad, plaintext, rng, "MESH_SESSION seal")
    }

    /// Decrypt what [`SessionKey::seal`] produced; any modification is rejected.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<SecretBytes, CryptoError> {
        open_with(&self.cipher, aad, sealed, "MESH_SESSION open")
    }
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(redacted)")
    }
}
