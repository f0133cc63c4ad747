//! Errors of the cryptographic layer.

use thiserror::Error;

/// Everything that can go wrong in `crypto`: malformed inputs, failed
/// authentication, exhausted or reused one-time pad.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// Key material of the wrong length for its type.
    #[error("{what}: key material must be {expected} bytes, got {got}")]
    BadKeyLength {
        /// Which key or algorithm.
        what: &'static str,
        /// Required length in bytes.
        expected: usize,
        /// Supplied length in bytes.
        got: usize,
    },
    /// Freshly generated material failed the entropy sanity check (stuck RNG).
    #[error("entropy check failed for {what}: generated material is degenerate")]
    DegenerateEntropy {
        /// Which key type was being generated.
        what: &'static str,
    },
    /// An AEAD open, a MAC check or an unwrap failed: wrong key or tampered data.
    #[error("{what}: authentication failed (wrong key or tampered data)")]
    AuthenticationFailed {
        /// Which operation.
        what: &'static str,
    },
    /// A signature did not verify.
    #[error("{what}: signature verification failed")]
    BadSignature {
        /// Which signature scheme or component.
        what: &'static str,
    },
    /// A byte string could not be decoded (wrong length or malformed).
    #[error("{what}: malformed encoding")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
    },
    /// The one-time pad has fewer unused bytes than requested.
    #[error("one-time pad exhausted: {needed} bytes needed, {left} left")]
    PadExhausted {
        /// Bytes requested.
        needed: usize,
        /// Bytes still unused.
        left: usize,
    },
    /// A pad offset at or below the already consumed position was requested again.
    #[error("one-time pad reuse refused: offset {offset} is below the consumed position {consumed}")]
    PadReuse {
        /// Offset carried by the ciphertext.
        offset: u64,
        /// Bytes of pad already consumed.
        consumed: u64,
    },
}
