//! Failed distributions and their retries, as a hub driving a mesh needs them: the spec's
//! GENERATED/DISTRIBUTED ──[distribution_failure]──> DESTROYED, and "failed distributions
//! trigger automatic retry with new key material" (QECNet key management, Key State
//! Transitions).
//!
//! - [`Engine::fail_distribution_and_retry`] — DESTROYED (material erased, receipts cleared)
//!   and, in the same transaction, a retry GENERATED with new material and DISTRIBUTED;
//! - [`Engine::fail_distribution_without_retry`] — DESTROYED only — the retry budget is spent,
//!   or the retry waits for a participant that is down;
//! - [`Engine::retry_failed_distribution`] — the retry of a key destroyed earlier, GENERATED
//!   with new material and DISTRIBUTED (a participant came back).
//!
//! New material is either supplied (a QKD buffer's key, the ML-KEM-1024 fallback's secret) or,
//! when `None`, drawn from local entropy. A retry keeps the failed key's channel,
//! participants and predecessor, so a rotation's old key is untouched by the failure (it stays
//! ACTIVE when the replacement was prepared with [`Engine::prepare_replacement`]).

use rand::CryptoRng;

use super::engine::{Engine, NewKey, Tx};
use super::record::KeyId;
use super::store::keys;
use super::{KeyState, LifecycleError, Transition};
use crate::crypto::SecretBytes;

type Result<T> = std::result::Result<T, LifecycleError>;

/// New material for a retry: supplied bytes with where they came from, or `None` for local
/// entropy.
pub type RetryMaterial<'a> = Option<(SecretBytes, &'a str)>;

impl Tx<'_> {
    /// GENERATED/DISTRIBUTED → DESTROYED for a failed distribution: the material is erased and
    /// the receipts collected so far are cleared.
    fn fail_inner(&mut self, id: KeyId, reason: &str) -> Result<()> {
        self.transition(id, Transition::DistributionFailure, reason)?;
        keys::clear_receipts(&self.conn, id)?;
        Ok(())
    }

    /// The retry of the DESTROYED key `failed`: a new GENERATED key for the same channel,
    /// participants and predecessor with `material`, DISTRIBUTED, with a `distribution_retry`
    /// audit record naming the failed key.
    fn retry_inner(
        &mut self,
        failed: KeyId,
        material: RetryMaterial<'_>,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        let rec = self.load(failed)?;
        if rec.state != KeyState::Destroyed {
            return Err(LifecycleError::Input(format!(
                "key {failed} is {}: only a key whose distribution failed (DESTROYED) is retried",
                rec.state
            )));
        }
        let new = NewKey::retry_of(&rec);
        let retry = match material {
            None => self.generate_inner(&new, rng)?,
            Some((bytes, origin)) => {
                let spec_len = self.config.specs.get(rec.key_type).material_len;
                super::engine::check_material_len(rec.key_type, spec_len, &bytes)?;
                for n in &rec.participants {
                    if self.is_isolated(n)? {
                        return Err(LifecycleError::NodeIsolated { node: n.clone() });
                    }
                }
                self.store_new_key(&new, bytes, origin, rng)?
            }
        };
        self.append_audit("distribution_retry", Some(retry), None, None, &format!("retry of {failed}"))?;
        self.transition(retry, Transition::Distribute, &format!("retry of {failed}"))?;
        Ok(retry)
    }
}

impl Engine {
    /// The distribution of `id` failed (`reason`, e.g. receipts missing at the deadline): it is
    /// DESTROYED and, in the same transaction, a retry carrying `material` (local entropy when
    /// `None`) is GENERATED and DISTRIBUTED. Returns the retry.
    pub fn fail_distribution_and_retry(
        &mut self,
        id: KeyId,
        reason: &str,
        material: RetryMaterial<'_>,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        self.atomic(|tx| {
            tx.fail_inner(id, reason)?;
            tx.retry_inner(id, material, rng)
        })
    }

    /// The distribution of `id` failed and is not retried now (`reason`: the attempts are
    /// spent, or a participant is down): DESTROYED, material erased.
    pub fn fail_distribution_without_retry(&mut self, id: KeyId, reason: &str) -> Result<()> {
        self.atomic(|tx| tx.fail_inner(id, reason))
    }

    /// The retry of `failed`, a key whose distribution failed earlier without a retry: a new
    /// key with `material` (local entropy when `None`), GENERATED and DISTRIBUTED. Returns it.
    pub fn retry_failed_distribution(
        &mut self,
        failed: KeyId,
        material: RetryMaterial<'_>,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        self.atomic(|tx| tx.retry_inner(failed, material, rng))
    }
}

/// What the store says about the keys whose distribution failed, read back from the audit
/// chain and the keys table (not from what the driver believes it did).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FailedDistributions {
    /// Keys with a `distribution_failure` record in the audit chain.
    pub destroyed: u64,
    /// Of those, keys the store shows used or usable after all: an `activate` record, an
    /// activation time, a use counted, pad consumed, material still stored, or a state other
    /// than DESTROYED (must be 0).
    pub used: u64,
    /// `distribution_retry` records: retries drawn with new material.
    pub retries: u64,
}

impl Engine {
    /// Reads [`FailedDistributions`] from the store: one pass over the audit chain's
    /// failure, retry and activation records, then each failed key's row.
    pub fn failed_distributions(&self) -> Result<FailedDistributions> {
        let mut failed = std::collections::BTreeSet::new();
        let mut activated = std::collections::BTreeSet::new();
        let mut out = FailedDistributions::default();
        let mut stmt = self.conn.prepare(
            "SELECT event, key_id FROM audit \
             WHERE event IN ('distribution_failure', 'distribution_retry', 'activate') AND key_id IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (event, key) = row?;
            match event.as_str() {
                "distribution_failure" => {
                    failed.insert(key);
                }
                "distribution_retry" => out.retries += 1,
                _ => {
                    activated.insert(key);
                }
            }
        }
        out.destroyed = failed.len() as u64;
        let mut row = self.conn.prepare(
            "SELECT state, activated_ns IS NOT NULL, usage_count, pad_consumed, wrapped IS NOT NULL FROM keys \
             WHERE id = ?1",
        )?;
        for &id in &failed {
            let (state, was_activated, uses, pad, has_material): (String, bool, i64, i64, bool) =
                row.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
            let used = state != KeyState::Destroyed.as_str()
                || was_activated
                || uses > 0
                || pad > 0
                || has_material
                || activated.contains(&id);
            out.used += u64::from(used);
        }
        Ok(out)
    }
}
