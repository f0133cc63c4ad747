//! NODE_IDENTITY: hybrid Ed25519 + ML-DSA-65 signatures (both must verify)
//! and AUDIT_SIGNING: plain Ed25519.
//!
//! The hybrid signs the same domain-separated message with both schemes; a
//! forger has to break both. ML-DSA uses its deterministic variant with an
//! empty context, so signing needs no RNG.

use ed25519_dalek::{Signer as _, Verifier as _};
use ml_dsa::{EncodedSignature, EncodedVerifyingKey, MlDsa65};

use super::{CryptoError, SecretBytes};

const HYBRID_DOMAIN: &[u8] = b"qecnet/node-identity/v1\0";

/// Ed25519 signature length in bytes.
pub const ED25519_SIG_LEN: usize = 64;

fn ed_signing_key(material: &SecretBytes, what: &'static str) -> Result<ed25519_dalek::SigningKey, CryptoError> {
    let seed = material.array::<32>(0, what)?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// AUDIT_SIGNING private key (Ed25519).
pub struct AuditSigner {
    key: ed25519_dalek::SigningKey,
}

impl AuditSigner {
    /// Build from the 32-byte Ed25519 seed.
    pub fn from_material(material: &SecretBytes) -> Result<Self, CryptoError> {
        if material.len() != 32 {
            return Err(CryptoError::BadKeyLength { what: "AUDIT_SIGNING", expected: 32, got: material.len() });
        }
        Ok(Self { key: ed_signing_key(material, "AUDIT_SIGNING")? })
    }

    /// The public half, as stored in the audit chain's key table.
    pub fn public(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Sign `msg` (64-byte Ed25519 signature).
    pub fn sign(&self, msg: &[u8]) -> [u8; ED25519_SIG_LEN] {
        self.key.sign(msg).to_bytes()
    }
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditSigner(redacted)")
    }
}

/// Verify an Ed25519 audit signature against a 32-byte public key (strict verification).
pub fn verify_audit_signature(public: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
    let what = "AUDIT_SIGNING Ed25519";
    let pk: [u8; 32] = public.try_into().map_err(|_| CryptoError::Malformed { what })?;
    let sig: [u8; 64] = sig.try_into().map_err(|_| CryptoError::Malformed { what })?;
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).map_err(|_| CryptoError::Malformed { what })?;
    vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig)).map_err(|_| CryptoError::BadSignature { what })
}

/// NODE_IDENTITY private key: Ed25519 seed || ML-DSA-65 seed (64 bytes).
pub struct NodeIdentityKey {
    ed: ed25519_dalek::SigningKey,
    ml: ml_dsa::SigningKey<MlDsa65>,
}

/// A hybrid signature: both components are required.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HybridSignature {
    /// Ed25519 signature (64 bytes).
    pub ed25519: [u8; ED25519_SIG_LEN],
    /// Encoded ML-DSA-65 signature (3309 bytes).
    pub ml_dsa: Vec<u8>,
}

/// NODE_IDENTITY public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeIdentityPublic {
    /// Ed25519 public key.
    pub ed25519: [u8; 32],
    /// Encoded ML-DSA-65 verifying key (1952 bytes).
    pub ml_dsa: Vec<u8>,
}

fn domain_message(msg: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(HYBRID_DOMAIN.len() + msg.len());
    m.extend_from_slice(HYBRID_DOMAIN);
    m.extend_from_slice(msg);
    m
}

impl NodeIdentityKey {
    /// Build from 64 bytes: Ed25519 seed then ML-DSA-65 seed.
    pub fn from_material(material: &SecretBytes) -> Result<Self, CryptoError> {
        if material.len() != 64 {
            return Err(CryptoError::BadKeyLength { what: "NODE_IDENTITY", expected: 64, got: material.len() });
        }
        let ed = ed_signing_key(material, "NODE_IDENTITY")?;
        let ml_seed = material.array::<32>(32, "NODE_IDENTITY")?;
        let ml = ml_dsa::SigningKey::<MlDsa65>::from_seed(&(*ml_seed).into());
        Ok(Self { ed, ml })
    }

    /// The public half.
    pub fn public(&self) -> NodeIdentityPublic {
        use ml_dsa::signature::Keypair as _;
        NodeIdentityPublic {
            ed25519: self.ed.verifying_key().to_bytes(),
            ml_dsa: self.ml.verifying_key().encode().to_vec(),
        }
    }

    /// Sign `msg` with both schemes.
    pub fn sign(&self, msg: &[u8]) -> HybridSignature {
        let m = domain_message(msg);
        HybridSignature { ed25519: self.ed.sign(&m).to_bytes(), ml_dsa: self.ml.sign(&m).encode().to_vec() }
    }
}

impl std::fmt::Debug for NodeIdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeIdentityKey(redacted)")
    }
}

impl NodeIdentityPublic {
    /// Accept only if both the Ed25519 and the ML-DSA-65 signature verify.
    pub fn verify(&self, msg: &[u8], sig: &HybridSignature) -> Result<(), CryptoError> {
        let m = domain_message(msg);
        let ed = ed25519_dalek::VerifyingKey::from_bytes(&self.ed25519)
            .map_err(|_| CryptoError::Malformed { what: "NODE_IDENTITY Ed25519 public key" })?;
        ed.verify_strict(&m, &ed25519_dalek::Signature::from_bytes(&sig.ed25519))
            .map_err(|_| CryptoError::BadSignature { what: "NODE_IDENTITY Ed25519" })?;
        let vk_enc = EncodedVerifyingKey::<MlDsa65>::try_from(self.ml_dsa.as_slice())
            .map_err(|_| CryptoError::Malformed { what: "NODE_IDENTITY ML-DSA-65 public key" })?;
        let vk = ml_dsa::VerifyingKey::<MlDsa65>::decode(&vk_enc);
        let sig_enc = EncodedSignature::<MlDsa65>::try_from(sig.ml_dsa.as_slice())
            .map_err(|_| CryptoError::Malformed { what: "NODE_IDENTITY ML-DSA-65 signature" })?;
        let ml_sig = ml_dsa::Signature::<MlDsa65>::decode(&sig_enc)
            .ok_or(CryptoError::BadSignature { what: "NODE_IDENTITY ML-DSA-65" })?;
        vk.verify(&m, &ml_sig).map_err(|_| CryptoError::BadSignature { what: "NODE_IDENTITY ML-DSA-65" })
    }
}
