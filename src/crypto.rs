//! Real cryptography for the six key types of the QECNet key-management spec.
//!
//! Provides:
//! - [`KeyType`], [`KeySpec`], [`KeySpecTable`]: the key-type table (algorithm,
//!   material size, rotation period, usage limit), overridable by config;
//! - [`SecretBytes`]: zeroizing, never-printed key material;
//! - [`MasterKey`] (SOVEREIGN_MASTER, AES-256-GCM key wrapping),
//!   [`SessionKey`] (MESH_SESSION, ChaCha20-Poly1305),
//!   [`OneTimePad`] (QKD_TRANSPORT, consumed once, Poly1305 one-time MAC),
//!   [`NodeIdentityKey`] (NODE_IDENTITY, Ed25519 + ML-DSA-65, both must verify),
//!   [`AuditSigner`] (AUDIT_SIGNING, Ed25519),
//!   [`HybridKemKey`] / [`encapsulate`] (EPHEMERAL_SESSION, X25519 + ML-KEM-768 and the
//!   ML-KEM-1024 fallback, combined with HKDF-SHA256 over both secrets and the transcript).
//!
//! Randomness is always injected as `&mut impl rand::CryptoRng`.

pub(crate) mod aead;
pub(crate) mod error;
pub(crate) mod identity;
pub(crate) mod kem;
pub(crate) mod key_type;
pub(crate) mod otp;
pub(crate) mod secret;

pub use aead::{MasterKey, NONCE_LEN, SessionKey, TAG_LEN};
pub use error::CryptoError;
pub use identity::{
    AuditSigner, ED25519_SIG_LEN, HybridSignature, NodeIdentityKey, NodeIdentityPublic, verify_audit_signature,
};
pub use kem::{EPHEMERAL_MATERIAL_LEN, HybridEncapsulation, HybridKemKey, HybridPublicKey, KemSuite, encapsulate};
pub use key_type::{DEFAULT_PAD_BYTES, KeySpec, KeySpecTable, KeyType};
pub use otp::{OTP_MAC_KEY_LEN, OTP_TAG_LEN, OneTimePad, OtpCiphertext};
pub use secret::SecretBytes;

/// Constant-time equality of two byte strings (length is not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
