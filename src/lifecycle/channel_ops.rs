//! Operations a hub driving QKD channels needs beyond the core ones: a rotation whose
//! replacement carries externally produced material (begun at once, or prepared while the old
//! key stays ACTIVE until the replacement activates) (distilled by a QKD link, or agreed by the
//! ML-KEM-1024 fallback exchange), and audit records for channel events that change no key
//! (a link entering or leaving fallback, a detection by the decision engine). The explicit
//! batches such a driver uses ([`Engine::begin_batch`], [`Engine::commit_batch`]) are with
//! the other transactions in `super::engine::transaction`.

use crate::crypto::SecretBytes;
use crate::lifecycle::engine::transitions::participant_set;
use crate::lifecycle::engine::{Engine, NewKey, check_material_len};
use crate::lifecycle::error::LifecycleError;
use crate::lifecycle::record::KeyId;
use crate::lifecycle::state::{KeyState, Transition, Trigger};
use crate::lifecycle::store::keys;
use rand::CryptoRng;

type Result<T> = std::result::Result<T, LifecycleError>;

impl Engine {
    /// Starts a rotation of the ACTIVE key `old` (it becomes ROTATING, decrypt-only) with a
    /// replacement carrying `material` from `origin`, GENERATED, in one transaction. With a
    /// `trigger` the rotation is a triggered one: the old key retires as soon as the
    /// replacement activates. Returns the replacement.
    pub fn rotate_with_material(
        &mut self,
        old: KeyId,
        material: SecretBytes,
        origin: &str,
        trigger: Option<Trigger>,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        self.atomic(|tx| {
            let rec = tx.load(old)?;
            let detail = match trigger {
                Some(t) => format!("triggered: {}", t.as_str()),
                None => "scheduled".to_string(),
            };
            tx.transition_from(old, rec.state, Transition::BeginRotation, &detail)?;
            if trigger.is_some() {
                keys::mark_early_retirement(&tx.conn, old)?;
            }
            tx.store_new_key(&NewKey::replacing(&rec), material, origin, rng)
        })
    }

    /// Prepares the replacement of the ACTIVE key `old`, carrying `material` from `origin`,
    /// GENERATED — while `old` stays ACTIVE: it begins its rotation (ROTATING, then retired
    /// after the overlap) only in the transaction that activates the replacement, so a
    /// distribution that fails and is retried never leaves the channel without a key to
    /// encrypt with (the spec's zero downtime: "old key remains active until all nodes confirm
    /// receipt of new material"). With a `trigger` the old key is marked for early retirement
    /// (it retires the moment the replacement activates). Returns the replacement. A key
    /// that already has a replacement in distribution (GENERATED or DISTRIBUTED) gets no second
    /// one ([`LifecycleError::ReplacementPending`]): fail the first
    /// ([`Engine::fail_distribution_and_retry`]) or let it activate.
    pub fn prepare_replacement(
        &mut self,
        old: KeyId,
        material: SecretBytes,
        origin: &str,
        trigger: Option<Trigger>,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        self.prepare_replacement_for(old, None, material, origin, trigger, rng)
    }

    /// [`Engine::prepare_replacement`] for a channel whose participants changed: the
    /// replacement is shared by `participants` (`None`: the old key's), e.g. a group key made
    /// without a compromised hub, replaced by one that includes the re-provisioned hub.
    pub fn prepare_replacement_for(
        &mut self,
        old: KeyId,
        participants: Option<&[&str]>,
        material: SecretBytes,
        origin: &str,
        trigger: Option<Trigger>,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        let participants: Option<Vec<String>> = participants.map(|p| p.iter().map(|s| s.to_string()).collect());
        self.atomic(|tx| {
            let rec = tx.load(old)?;
            if rec.state != KeyState::Active {
                return Err(LifecycleError::IllegalTransition {
                    key: old,
                    state: rec.state,
                    transition: Transition::BeginRotation,
                });
            }
            let spec_len = tx.config.specs.get(rec.key_type).material_len;
            check_material_len(rec.key_type, spec_len, &material)?;
            if let Some(pending) = keys::pending_replacement(&tx.conn, old)? {
                return Err(LifecycleError::ReplacementPending { key: old, pending });
            }
            if trigger.is_some() {
                keys::mark_early_retirement(&tx.conn, old)?;
            }
            let mut detail = origin.to_string();
            if let Some(t) = trigger {
                detail.push_str(&format!("; triggered: {}", t.as_str()));
            }
            let replacing = NewKey::replacing(&rec);
            let nodes = participants.map(participant_set).transpose()?;
            match nodes {
                Some(nodes) if nodes != rec.participants => {
                    for n in &nodes {
                        if tx.is_isolated(n)? {
                            return Err(LifecycleError::NodeIsolated { node: n.clone() });
                        }
                    }
                    detail.push_str(&format!("; participants were {}", rec.participants.join(",")));
                    tx.store_new_key(&NewKey { participants: &nodes, ..replacing }, material, &detail, rng)
                }
                _ => tx.store_new_key(&replacing, material, &detail, rng),
            }
        })
    }

    /// Appends an audit record for a channel event that changes no key state (`event` such as
    /// `link:fallback`, `detail` free text without key bytes). Returns its sequence number.
    pub fn record_event(&mut self, event: &str, detail: &str) -> Result<u64> {
        self.atomic(|tx| tx.append_audit(event, None, None, None, detail))
    }
}
