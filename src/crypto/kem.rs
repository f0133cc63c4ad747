//! EPHEMERAL_SESSION: hybrid X25519 + ML-KEM key exchange, with ML-KEM-768
//! as the default and ML-KEM-1024 as the mesh's fallback suite.
//!
//! # Construction
//!
//! The responder holds an ephemeral key pair (X25519 secret, ML-KEM seed).
//! The initiator encapsulates to its public key: a fresh X25519 share plus an
//! ML-KEM ciphertext. Both sides then compute
//!
//! ```text
//! th   = SHA-256("qecnet/hybrid-kem/v1" || suite || pk_x || pk_mlkem || ct_x || ct_mlkem)
//! okm  = HKDF-SHA256(salt = th, ikm = ss_mlkem || ss_x25519, info = "qecnet hybrid session")[0..64]
//! key  = okm[0..32]            (the session secret)
//! conf = HMAC-SHA256(okm[32..64], "confirm" || th)   (sent with the encapsulation)
//! ```
//!
//! Why: concatenating both secrets under one KDF keeps the result secret as
//! long as either X25519 or ML-KEM holds (the "concatenate then KDF" combiner
//! of the IETF hybrid designs). Hashing the full transcript, both public keys
//! and both ciphertexts, into the salt binds the secret to this exchange, so
//! ciphertexts cannot be mixed between exchanges (X25519 shares are not
//! bound to the recipient, and ML-KEM's implicit rejection turns a modified
//! ciphertext into an unrelated secret rather than an error). The key
//! confirmation tag turns that silent mismatch into an explicit rejection:
//! a flipped bit anywhere in the encapsulation makes `decapsulate` fail.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use ml_kem::kem::{Decapsulate, Encapsulate};
use ml_kem::{DecapsulationKey, EncapsulationKey, MlKem768, MlKem1024};
use rand::CryptoRng;
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::{CryptoError, SecretBytes, ct_eq};

/// The ML-KEM parameter set of a hybrid exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KemSuite {
    /// X25519 + ML-KEM-768 (EPHEMERAL_SESSION default).
    X25519MlKem768,
    /// X25519 + ML-KEM-1024 (mesh fallback exchange).
    X25519MlKem1024,
}

impl KemSuite {
    fn id(self) -> u8 {
        match self {
            KemSuite::X25519MlKem768 => 1,
            KemSuite::X25519MlKem1024 => 2,
        }
    }
}

/// Length of the ephemeral key material: X25519 secret (32) || ML-KEM seed (64).
pub const EPHEMERAL_MATERIAL_LEN: usize = 96;

/// Public key of a hybrid ephemeral key pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HybridPublicKey {
    /// Suite the ML-KEM key belongs to.
    pub suite: KemSuite,
    /// X25519 public key.
    pub x25519: [u8; 32],
    /// Encoded ML-KEM encapsulation key.
    pub ml_kem: Vec<u8>,
}

/// What the initiator sends: its X25519 share, the ML-KEM ciphertext and the confirmation tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HybridEncapsulation {
    /// Initiator's X25519 public share.
    pub x25519: [u8; 32],
    /// ML-KEM ciphertext.
    pub ml_kem: Vec<u8>,
    /// HMAC-SHA256 key-confirmation tag.
    pub confirm: [u8; 32],
}

/// Responder side: the ephemeral private key.
pub struct HybridKemKey {
    suite: KemSuite,
    x: StaticSecret,
    seed: Zeroizing<[u8; 64]>,
}

impl std::fmt::Debug for HybridKemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HybridKemKey({:?}, redacted)", self.suite)
    }
}

fn mlkem_ek_bytes(suite: KemSuite, seed: &[u8; 64]) -> Vec<u8> {
    use ml_kem::KeyExport as _;
    match suite {
        KemSuite::X25519MlKem768 => {
            DecapsulationKey::<MlKem768>::from_seed((*seed).into()).encapsulation_key().to_bytes().to_vec()
        }
        KemSuite::X25519MlKem1024 => {
            DecapsulationKey::<MlKem1024>::from_seed((*seed).into()).encapsulation_key().to_bytes().to_vec()
        }
    }
}

fn transcript(suite: KemSuite, pk: &HybridPublicKey, ct_x: &[u8; 32], ct_m: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"qecnet/hybrid-kem/v1");
    h.update([suite.id()]);
    for part in [&pk.x25519[..], &pk.ml_kem, &ct_x[..], ct_m] {
        h.update((part.len() as u32).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// Returns (session secret, confirmation tag).
fn combine(th: &[u8; 32], ss_m: &[u8], ss_x: &[u8; 32]) -> Result<(SecretBytes, [u8; 32]), CryptoError> {
    let mut ikm = Zeroizing::new(Vec::with_capacity(64));
    ikm.extend_from_slice(ss_m);
    ikm.extend_from_slice(ss_x);
    let hk = Hkdf::<Sha256>::new(Some(th), &ikm);
    let mut okm = Zeroizing::new([0u8; 64]);
    hk.expand(b"qecnet hybrid session", &mut okm[..]).map_err(|_| CryptoError::Malformed { what: "HKDF output" })?;
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&okm[32..])
        .map_err(|_| CryptoError::Malformed { what: "HMAC key" })?;
    mac.update(b"confirm");
    mac.update(th);
    let tag: [u8; 32] = mac.finalize().into_bytes().into();
    Ok((SecretBytes::new(okm[..32].to_vec()), tag))
}

impl HybridKemKey {
    /// Build from 96 bytes of EPHEMERAL_SESSION material for the given suite.
    pub fn from_material(material: &SecretBytes, suite: KemSuite) -> Result<Self, CryptoError> {
        if material.len() != EPHEMERAL_MATERIAL_LEN {
            return Err(CryptoError::BadKeyLength {
                what: "EPHEMERAL_SESSION",
                expected: EPHEMERAL_MATERIAL_LEN,
                got: material.len(),
            });
        }
        let xs = material.array::<32>(0, "EPHEMERAL_SESSION")?;
        let seed = material.array::<64>(32, "EPHEMERAL_SESSION")?;
        Ok(Self { suite, x: StaticSecret::from(*xs), seed })
    }

    /// The public key to hand to the initiator.
    pub fn public(&self) -> HybridPublicKey {
        HybridPublicKey {
            suite: self.suite,
            x25519: PublicKey::from(&self.x).to_bytes(),
            ml_kem: mlkem_ek_bytes(self.suite, &self.seed),
        }
    }

    /// Recover the session secret; fails if any bit of `enc` was modified.
    pub fn decapsulate(&self, enc: &HybridEncapsulation) -> Result<SecretBytes, CryptoError> {
        let what = "hybrid KEM ciphertext";
        let ss_x = Zeroizing::new(self.x.diffie_hellman(&PublicKey::from(enc.x25519)).to_bytes());
        let ss_m: Zeroizing<Vec<u8>> = Zeroizing::new(match self.suite {
            KemSuite::X25519MlKem768 => {
                let dk = DecapsulationKey::<MlKem768>::from_seed((*self.seed).into());
                let ct = ml_kem::Ciphertext::<MlKem768>::try_from(enc.ml_kem.as_slice())
                    .map_err(|_| CryptoError::Malformed { what })?;
                dk.decapsulate(&ct).to_vec()
            }
            KemSuite::X25519MlKem1024 => {
                let dk = DecapsulationKey::<MlKem1024>::from_seed((*self.seed).into());
                let ct = ml_kem::Ciphertext::<MlKem1024>::try_from(enc.ml_kem.as_slice())
                    .map_err(|_| CryptoError::Malformed { what })?;
                dk.decapsulate(&ct).to_vec()
            }
        });
        let th = transcript(self.suite, &self.public(), &enc.x25519, &enc.ml_kem);
        let (key, tag) = combine(&th, &ss_m, &ss_x)?;
        if !ct_eq(&tag, &enc.confirm) {
            return Err(CryptoError::AuthenticationFailed { what: "hybrid KEM key confirmation" });
        }
        Ok(key)
    }
}

/// Initiator side: encapsulate a fresh shared secret to `pk`.
pub fn encapsulate(
    pk: &HybridPublicKey,
    rng: &mut (impl CryptoRng + ?Sized),
) -> Result<(HybridEncapsulation, SecretBytes), CryptoError> {
    let what = "hybrid KEM public key";
    let mut eph = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(&mut eph[..]);
    let eph = StaticSecret::from(*eph);
    let x_share = PublicKey::from(&eph).to_bytes();
    let ss_x = Zeroizing::new(eph.diffie_hellman(&PublicKey::from(pk.x25519)).to_bytes());
    let (ct_m, ss_m): (Vec<u8>, Zeroizing<Vec<u8>>) = match pk.suite {
        KemSuite::X25519MlKem768 => {
            let key = ml_kem::Key::<EncapsulationKey<MlKem768>>::try_from(pk.ml_kem.as_slice())
                .map_err(|_| CryptoError::Malformed { what })?;
            let ek = EncapsulationKey::<MlKem768>::new(&key).map_err(|_| CryptoError::Malformed { what })?;
            let (ct, ss) = ek.encapsulate_with_rng(rng);
            (ct.to_vec(), Zeroizing::new(ss.to_vec()))
        }
        KemSuite::X25519MlKem1024 => {
            let key = ml_kem::Key::<EncapsulationKey<MlKem1024>>::try_from(pk.ml_kem.as_slice())
                .map_err(|_| CryptoError::Malformed { what })?;
            let ek = EncapsulationKey::<MlKem1024>::new(&key).map_err(|_| CryptoError::Malformed { what })?;
            let (ct, ss) = ek.encapsulate_with_rng(rng);
            (ct.to_vec(), Zeroizing::new(ss.to_vec()))
        }
    };
    let th = transcript(pk.suite, pk, &x_share, &ct_m);
    let (key, confirm) = combine(&th, &ss_m, &ss_x)?;
    Ok((HybridEncapsulation { x25519: x_share, ml_kem: ct_m, confirm }, key))
}
