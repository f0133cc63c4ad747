//! Key use: usage counters, material for ACTIVE (or, for decryption,
//! ROTATING) keys, and one-time-pad encryption that persists the consumed
//! pad position in the same transaction.

use super::engine::{Engine, Tx};
use super::record::KeyId;
use super::store::keys;
use super::{LifecycleError, Usage};
use crate::crypto::{KeyType, OneTimePad, OtpCiphertext, SecretBytes};

type Result<T> = std::result::Result<T, LifecycleError>;

impl Engine {
    /// Count one use of `id` and return its material. Protect (encrypt/sign)
    /// needs ACTIVE and an unexhausted usage limit; Unprotect (decrypt/verify)
    /// also works while ROTATING.
    pub fn use_key(&mut self, id: KeyId, usage: Usage) -> Result<SecretBytes> {
        self.atomic(|e| {
            let rec = e.count_use(id, usage, 1)?;
            e.unwrap_material(id, rec.key_type)
        })
    }

    /// Count `n` uses of `id` without touching its material (for simulation).
    pub fn record_use(&mut self, id: KeyId, usage: Usage, n: u64) -> Result<()> {
        self.atomic(|e| e.count_use(id, usage, n).map(|_| ()))
    }

    /// Encrypt with a QKD_TRANSPORT pad; the consumed position is stored in the
    /// same transaction, so no pad byte is ever used twice.
    pub fn otp_encrypt(&mut self, id: KeyId, msg: &[u8]) -> Result<OtpCiphertext> {
        self.atomic(|e| {
            let (_, mut pad) = e.pad(id, Usage::Protect)?;
            let ct = pad.encrypt(msg).map_err(|source| LifecycleError::Crypto { key: id, source })?;
            e.save_pad(id, &pad)?;
            Ok(ct)
        })
    }

    /// Decrypt with a QKD_TRANSPORT pad; a ciphertext pointing at already
    /// consumed pad bytes is refused as reuse.
    pub fn otp_decrypt(&mut self, id: KeyId, ct: &OtpCiphertext) -> Result<SecretBytes> {
        self.atomic(|e| {
            let (_, mut pad) = e.pad(id, Usage::Unprotect)?;
            let msg = pad.decrypt(ct).map_err(|source| LifecycleError::Crypto { key: id, source })?;
            e.save_pad(id, &pad)?;
            Ok(msg)
        })
    }
}

impl Tx<'_> {
    fn count_use(&mut self, id: KeyId, usage: Usage, n: u64) -> Result<keys::UsageRow> {
        let rec = keys::usage_of(&self.conn, id)?.ok_or(LifecycleError::UnknownKey(id))?;
        if !usage.allowed_in(rec.state) {
            return Err(LifecycleError::NotUsable { key: id, state: rec.state, usage });
        }
        if let (Usage::Protect, Some(limit)) = (usage, rec.usage_limit)
            && rec.usage_count.saturating_add(n) > limit
        {
            return Err(LifecycleError::UsageLimitReached { key: id, limit });
        }
        keys::add_uses(&self.conn, id, n)?;
        Ok(rec)
    }

    fn pad(&mut self, id: KeyId, usage: Usage) -> Result<(keys::UsageRow, OneTimePad)> {
        let rec = self.count_use(id, usage, 1)?;
        if rec.key_type != KeyType::QkdTransport {
            return Err(LifecycleError::WrongKeyType {
                key: id,
                actual: rec.key_type,
                expected: KeyType::QkdTransport,
            });
        }
        let material = self.unwrap_material(id, rec.key_type)?;
        let consumed = rec.pad_consumed;
        Ok((rec, OneTimePad::new(material, consumed)))
    }

    fn save_pad(&mut self, id: KeyId, pad: &OneTimePad) -> Result<()> {
        keys::set_pad_consumed(&self.conn, id, pad.consumed())?;
        Ok(())
    }
}
