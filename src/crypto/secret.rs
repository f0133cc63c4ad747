//! Zeroizing container for secret key bytes.

use std::fmt;

use rand::CryptoRng;
use zeroize::Zeroizing;

use super::CryptoError;

/// Secret key bytes: wiped from memory on drop, never printed.
///
/// `Debug` shows only the length. There is deliberately no `Display`,
/// `Serialize` or `Clone`.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wrap existing bytes (the vector is moved, not copied).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// `len` fresh random bytes from `rng`, checked to be non-degenerate
    /// (a stuck generator that returns one repeated byte is refused).
    pub fn random(len: usize, what: &'static str, rng: &mut (impl CryptoRng + ?Sized)) -> Result<Self, CryptoError> {
        let mut v = Zeroizing::new(vec![0u8; len]);
        rng.fill_bytes(&mut v);
        if len >= 16 && v.iter().all(|b| *b == v[0]) {
            return Err(CryptoError::DegenerateEntropy { what });
        }
        Ok(Self(v))
    }

    /// The secret bytes. Callers must not copy them into non-zeroizing storage.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// First `N` bytes as a fixed array inside a zeroizing box.
    pub(crate) fn array<const N: usize>(
        &self,
        offset: usize,
        what: &'static str,
    ) -> Result<Zeroizing<[u8; N]>, CryptoError> {
        let slice = self.0.get(offset..offset + N).ok_or(CryptoError::BadKeyLength {
            what,
            expected: offset + N,
            got: self.0.len(),
        })?;
        let mut out = Zeroizing::new([0u8; N]);
        out.copy_from_slice(slice);
        Ok(out)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes, redacted)", self.0.len())
    }
}
