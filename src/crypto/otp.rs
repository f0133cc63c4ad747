//! QKD_TRANSPORT: one-time pad from QKD key material with a one-time
//! Wegman–Carter authenticator (Poly1305 keyed by fresh pad bytes).
//!
//! Every message consumes `len + 32` pad bytes: `len` for the XOR and 32 for
//! the one-time Poly1305 key. Each side keeps a consumed position; pad bytes
//! below it are never used again, and a ciphertext that points there is
//! refused as reuse.

use poly1305::Poly1305;
use poly1305::universal_hash::KeyInit;

use super::ct_eq;

use super::{CryptoError, SecretBytes};

/// Pad bytes consumed by the one-time MAC key of each message.
pub const OTP_MAC_KEY_LEN: usize = 32;
/// Length of the one-time MAC tag in bytes.
pub const OTP_TAG_LEN: usize = 16;

/// A one-time-pad ciphertext with the pad offset it was encrypted at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtpCiphertext {
    /// Pad offset (bytes) of the first byte used.
    pub offset: u64,
    /// `message XOR pad`.
    pub body: Vec<u8>,
    /// Poly1305 tag over `offset || body`.
    pub tag: [u8; OTP_TAG_LEN],
}

/// One side's view of a QKD pad: the material and how much of it is used.
pub struct OneTimePad {
    pad: SecretBytes,
    consumed: u64,
}

impl OneTimePad {
    /// A pad whose first `consumed` bytes are already used.
    pub fn new(pad: SecretBytes, consumed: u64) -> Self {
        Self { pad, consumed }
    }

    /// Bytes of pad consumed so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Bytes of pad still unused.
    pub fn remaining(&self) -> usize {
        self.pad.len().saturating_sub(self.consumed as usize)
    }

    /// Pad bytes one message of `len` bytes consumes.
    pub fn cost(len: usize) -> usize {
        len + OTP_MAC_KEY_LEN
    }

    fn mac(key: &[u8], offset: u64, body: &[u8]) -> Result<[u8; OTP_TAG_LEN], CryptoError> {
        let mac = Poly1305::new_from_slice(key).map_err(|_| CryptoError::Malformed { what: "OTP MAC key" })?;
        let mut data = Vec::with_capacity(8 + body.len());
        data.extend_from_slice(&offset.to_be_bytes());
        data.extend_from_slice(body);
        let tag = mac.compute_unpadded(&data);
        let mut out = [0u8; OTP_TAG_LEN];
        out.copy_from_slice(&tag);
        Ok(out)
    }

    fn segment(&self, offset: u64, len: usize) -> Result<&[u8], CryptoError> {
        let start = usize::try_from(offset).map_err(|_| CryptoError::PadExhausted { needed: len, left: 0 })?;
        self.pad
            .expose()
            .get(start..start + Self::cost(len))
            .ok_or(CryptoError::PadExhausted { needed: Self::cost(len), left: self.pad.len().saturating_sub(start) })
    }

    /// Encrypt `msg` with the next unused pad bytes and advance the consumed position.
    pub fn encrypt(&mut self, msg: &[u8]) -> Result<OtpCiphertext, CryptoError> {
        let offset = self.consumed;
        let seg = self.segment(offset, msg.len())?;
        let (xor, mac_key) = seg.split_at(msg.len());
        let body: Vec<u8> = msg.iter().zip(xor).map(|(m, p)| m ^ p).collect();
        let tag = Self::mac(mac_key, offset, &body)?;
        self.consumed = offset + Self::cost(msg.len()) as u64;
        Ok(OtpCiphertext { offset, body, tag })
    }

    /// Authenticate and decrypt `ct`; its pad bytes count as consumed afterwards.
    ///
    /// Refuses a ciphertext whose offset lies below the consumed position (pad reuse)
    /// and any modified body, tag or offset.
    pub fn decrypt(&mut self, ct: &OtpCiphertext) -> Result<SecretBytes, CryptoError> {
        if ct.offset < self.consumed {
            return Err(CryptoError::PadReuse { offset: ct.offset, consumed: self.consumed });
        }
        let seg = self.segment(ct.offset, ct.body.len())?;
        let (xor, mac_key) = seg.split_at(ct.body.len());
        let expected = Self::mac(mac_key, ct.offset, &ct.body)?;
        if !ct_eq(&expected, &ct.tag) {
            return Err(CryptoError::AuthenticationFailed { what: "QKD_TRANSPORT OTP" });
        }
        let msg = ct.body.iter().zip(xor).map(|(c, p)| c ^ p).collect();
        self.consumed = ct.offset + Self::cost(ct.body.len()) as u64;
        Ok(SecretBytes::new(msg))
    }
}

impl std::fmt::Debug for OneTimePad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OneTimePad({} bytes, {} consumed, redacted)", self.pad.len(), self.consumed)
    }
}
