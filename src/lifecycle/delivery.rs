//! One-time keys handed to applications whole, as an ETSI GS QKD 014 KME delivers them: a
//! QKD_TRANSPORT key of any length (an SAE asks for 256 bits as often as for 64 KiB) recorded
//! and activated for its master SAE in one transaction, and retired in one transaction when
//! its slave collects it. The key has no replacement: once collected it is out of use, so it
//! goes ACTIVE → ROTATING → RETIRED at once (the diagram's only way into RETIRED) and is
//! destroyed after the retention period like any other ([`Engine::tick`]). A key its slave
//! never collects expires: [`Engine::expire_delivered_keys`] retires it and erases its
//! material at once. [`Engine::outstanding_deliveries`] lists the keys still waiting for
//! their slave, so a KME restarted on the same store serves them.

use rand::CryptoRng;

use crate::crypto::{KeyType, SecretBytes};
use crate::lifecycle::engine::{Engine, NewKey, Tx};
use crate::lifecycle::error::LifecycleError;
use crate::lifecycle::record::KeyId;
use crate::lifecycle::record::KeyRecord;
use crate::lifecycle::state::{KeyState, Transition};
use crate::lifecycle::store::keys;

type Result<T> = std::result::Result<T, LifecycleError>;

/// One key to record with [`Engine::issue_delivered_keys`].
pub struct DeliveredKey {
    /// Its channel (one per key, e.g. `etsi014/<key_ID>`: a channel has at most one ACTIVE key).
    pub channel: String,
    /// The bytes (at least one).
    pub material: SecretBytes,
    /// Where they came from (audit detail, e.g. `qkd n1-n2`).
    pub origin: String,
    /// Who receives it now (audit detail, e.g. `master_SAE_ID=sae-alice`); never key bytes.
    pub handed_to: String,
}

impl Engine {
    /// Records each of `keys` as a QKD_TRANSPORT key held by the KMEs `participants` and takes
    /// it GENERATED → DISTRIBUTED → (a receipt from every participant) → ACTIVE, all keys in
    /// one transaction (all or none). Returns their ids in order.
    pub fn issue_delivered_keys(
        &mut self,
        participants: &[&str],
        keys: Vec<DeliveredKey>,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<KeyId>> {
        if keys.iter().any(|k| k.material.is_empty()) {
            return Err(LifecycleError::GenerationFailed {
                key_type: KeyType::QkdTransport,
                source: crate::crypto::CryptoError::BadKeyLength { what: "delivered key", expected: 1, got: 0 },
            });
        }
        let mut nodes: Vec<String> = participants.iter().map(|s| s.to_string()).collect();
        nodes.sort();
        nodes.dedup();
        if nodes.is_empty() {
            return Err(LifecycleError::NoParticipants);
        }
        self.atomic(|tx| {
            for n in &nodes {
                if tx.is_isolated(n)? {
                    return Err(LifecycleError::NodeIsolated { node: n.clone() });
                }
            }
            let mut ids = Vec::with_capacity(keys.len());
            for key in keys {
                let new = NewKey::for_channel(KeyType::QkdTransport, &key.channel, &nodes);
                let id = tx.store_new_key(&new, key.material, &key.origin, rng)?;
                tx.transition(id, Transition::Distribute, "held by both KMEs")?;
                for n in &nodes {
                    tx.confirm_receipt_inner(id, n)?;
                }
                tx.activate_inner(id)?;
                tx.append_audit("deliver", Some(id), None, None, &key.handed_to)?;
                ids.push(id);
            }
            Ok(ids)
        })
    }

    /// Each ACTIVE delivered key of `keys` handed out for the last time (with who receives
    /// it, e.g. `slave_SAE_ID=sae-bob`, for the audit record): ACTIVE → ROTATING → RETIRED,
    /// all in one transaction (all or none), returning their material in order. A key in any
    /// other state is refused, so a key is collected at most once.
    pub fn collect_delivered_keys(&mut self, keys: &[(KeyId, String)]) -> Result<Vec<SecretBytes>> {
        self.atomic(|tx| {
            let mut out = Vec::with_capacity(keys.len());
            for (id, handed_to) in keys {
                let id = *id;
                let rec = active_delivered(tx, id)?;
                out.push(tx.unwrap_material(id, rec.key_type)?);
                tx.transition(id, Transition::BeginRotation, "collected; one-time key, no replacement")?;
                tx.transition(id, Transition::Retire, handed_to)?;
            }
            Ok(out)
        })
    }

    /// The delivered keys still waiting for their slave: the ACTIVE QKD_TRANSPORT keys whose
    /// channel starts with `channel_prefix` (e.g. `etsi014/`), by id.
    pub fn outstanding_deliveries(&self, channel_prefix: &str) -> Result<Vec<KeyRecord>> {
        Ok(keys::active_with_channel_prefix(&self.conn, channel_prefix, KeyType::QkdTransport)?)
    }

    /// Each ACTIVE delivered key of `keys` expired before its slave collected it (with why,
    /// for the audit record): ACTIVE → ROTATING → RETIRED → DESTROYED with its material
    /// erased, all in one transaction (all or none). A key in any other state is refused.
    pub fn expire_delivered_keys(&mut self, keys: &[(KeyId, String)]) -> Result<()> {
        self.atomic(|tx| {
            for (id, why) in keys {
                let id = *id;
                active_delivered(tx, id)?;
                tx.transition(id, Transition::BeginRotation, "expired; one-time key, no replacement")?;
                tx.transition(id, Transition::Retire, why)?;
                tx.transition(id, Transition::Destroy, "expired uncollected: material erased at once")?;
            }
            Ok(())
        })
    }
}

/// The record of `id` if it is an ACTIVE QKD_TRANSPORT key (one a slave may still collect),
/// else the refusal of its next step.
fn active_delivered(tx: &Tx<'_>, id: KeyId) -> Result<KeyRecord> {
    let rec = tx.load(id)?;
    if rec.key_type != KeyType::QkdTransport || rec.state != KeyState::Active {
        return Err(LifecycleError::IllegalTransition {
            key: id,
            state: rec.state,
            transition: Transition::BeginRotation,
        });
    }
    Ok(rec)
}
