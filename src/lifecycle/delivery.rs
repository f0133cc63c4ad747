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
use crate::lifecycle::engine::{Engine, NewKey, Tx, key_aad};
use crate::lifecycle::error::LifecycleError;
use crate::lifecycle::record::KeyId;
use crate::lifecycle::record::KeyRecord;
use crate::lifecycle::state::{KeyState, Transition};
use crate::lifecycle::store::keys::{self, KeyRow};

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
        self.issue_delivered_key_groups(vec![(participants, keys)], rng)
    }

    /// [`Engine::issue_delivered_keys`] for several groups of keys, each held by its own
    /// KMEs (a multicast key: one row per slave's KME pair), all groups in one transaction.
    /// Returns the ids of every group's keys in order.
    pub fn issue_delivered_key_groups(
        &mut self,
        groups: Vec<(&[&str], Vec<DeliveredKey>)>,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<KeyId>> {
        let kt = KeyType::QkdTransport;
        let mut checked = Vec::with_capacity(groups.len());
        for (participants, keys) in groups {
            if keys.iter().any(|k| k.material.is_empty()) {
                return Err(LifecycleError::GenerationFailed {
                    key_type: kt,
                    source: crate::crypto::CryptoError::BadKeyLength { what: "delivered key", expected: 1, got: 0 },
                });
            }
            let mut nodes: Vec<String> = participants.iter().map(|s| s.to_string()).collect();
            nodes.sort();
            nodes.dedup();
            if nodes.is_empty() {
                return Err(LifecycleError::NoParticipants);
            }
            let participants_json = serde_json::to_string(&nodes).map_err(|e| LifecycleError::Input(e.to_string()))?;
            checked.push((nodes, participants_json, keys));
        }
        let spec = self.config.specs.get(kt).clone();
        self.atomic(|tx| {
            let now = tx.clock.now();
            let mut id = keys::next_id(&tx.conn)?;
            let mut ids = Vec::new();
            for (nodes, participants_json, keys) in checked {
                for n in &nodes {
                    if tx.is_isolated(n)? {
                        return Err(LifecycleError::NodeIsolated { node: n.clone() });
                    }
                }
                // Every key's row is written once, in the state the transitions end in, with
                // the audit records each of them writes (the same records, in the same order, as
                // the step-by-step transitions: `generate`, `distribute`, a `receipt` per KME,
                // `activate`, then `deliver`); a key's transitions are legal by construction.
                for key in keys {
                    let new = NewKey::for_channel(kt, &key.channel, &nodes);
                    if let Some(active) = keys::other_active(&tx.conn, &key.channel, kt, id)? {
                        return Err(LifecycleError::ChannelBusy {
                            key: id,
                            channel: key.channel,
                            key_type: kt,
                            active,
                        });
                    }
                    let wrapped = tx
                        .master
                        .wrap(&key.material, &key_aad(id, kt), rng)
                        .map_err(|source| LifecycleError::GenerationFailed { key_type: kt, source })?;
                    let row = KeyRow {
                        key_type: kt,
                        channel: &key.channel,
                        participants_json: &participants_json,
                        material_len: key.material.len(),
                        created: now,
                        rotation_period: spec.rotation_period,
                        usage_limit: spec.usage_limit,
                        replaces: None,
                        prestaged: false,
                    };
                    keys::insert_active(&tx.conn, id, &row, &wrapped)?;
                    tx.append_audit(
                        "generate",
                        Some(id),
                        None,
                        Some(KeyState::Generated),
                        &new.generate_detail(&key.origin),
                    )?;
                    let (generated, distributed) = (Some(KeyState::Generated), Some(KeyState::Distributed));
                    tx.append_audit(
                        Transition::Distribute.as_str(),
                        Some(id),
                        generated,
                        distributed,
                        "held by both KMEs",
                    )?;
                    for n in &nodes {
                        keys::add_receipt(&tx.conn, id, n, now)?;
                        tx.append_audit("receipt", Some(id), None, None, &format!("node={n}"))?;
                    }
                    let active = Some(KeyState::Active);
                    tx.append_audit(
                        Transition::Activate.as_str(),
                        Some(id),
                        distributed,
                        active,
                        "all receipts confirmed",
                    )?;
                    tx.append_audit("deliver", Some(id), None, None, &key.handed_to)?;
                    ids.push(id);
                    id = KeyId(id.0 + 1);
                }
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
                let steps = [
                    (Transition::BeginRotation, "collected; one-time key, no replacement"),
                    (Transition::Retire, handed_to.as_str()),
                ];
                tx.transitions_from(id, rec.state, &steps)?;
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
                let rec = active_delivered(tx, id)?;
                let steps = [
                    (Transition::BeginRotation, "expired; one-time key, no replacement"),
                    (Transition::Retire, why.as_str()),
                    (Transition::Destroy, "expired uncollected: material erased at once"),
                ];
                tx.transitions_from(id, rec.state, &steps)?;
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

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::lifecycle::{EngineConfig, ManualClock};
    use crate::units::SimTime;

    fn engine(dir: &std::path::Path) -> Engine {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let master = SecretBytes::random(32, "master", &mut rng).unwrap();
        let clock = ManualClock::new(SimTime::from_secs(1_700_000_000));
        Engine::create(&dir.join("store.db"), &master, EngineConfig::default(), Box::new(clock), &mut rng).unwrap()
    }

    fn keys_to_deliver() -> Vec<DeliveredKey> {
        (0..3)
            .map(|i| DeliveredKey {
                channel: format!("etsi014/k{i}"),
                material: SecretBytes::new(vec![i as u8 + 1; 32 + i]),
                origin: "relay hub-n1,hub-n3".into(),
                handed_to: format!("key_ID=k{i}; master_SAE_ID=sae-alice"),
            })
            .collect()
    }

    /// The transitions one by one, as every other key type takes them: the reference the
    /// one-row path must equal.
    fn issue_step_by_step(e: &mut Engine, nodes: &[String], keys: Vec<DeliveredKey>, rng: &mut ChaCha20Rng) {
        e.atomic(|tx| {
            for key in keys {
                let new = NewKey::for_channel(KeyType::QkdTransport, &key.channel, nodes);
                let id = tx.store_new_key(&new, key.material, &key.origin, rng)?;
                tx.transition(id, Transition::Distribute, "held by both KMEs")?;
                for n in nodes {
                    tx.confirm_receipt_inner(id, n)?;
                }
                tx.activate_inner(id)?;
                tx.append_audit("deliver", Some(id), None, None, &key.handed_to)?;
            }
            Ok(())
        })
        .unwrap();
    }

    /// Every key row column and every audit record's hash (which covers the whole chain).
    fn dump(e: &Engine) -> (Vec<String>, Vec<String>) {
        let rows = |sql: &str| -> Vec<String> {
            let mut stmt = e.conn.prepare(sql).unwrap();
            stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(|r| r.unwrap()).collect()
        };
        let keys = rows(
            "SELECT id || '|' || key_type || '|' || channel || '|' || state || '|' || participants || '|' || \
             hex(wrapped) || '|' || quote(public) || '|' || material_len || '|' || created_ns || '|' || \
             state_changed_ns || '|' || quote(activated_ns) || '|' || quote(rotation_period_ns) || '|' || \
             quote(usage_limit) || '|' || usage_count || '|' || quote(replaces) || '|' || prestaged || '|' || \
             (SELECT group_concat(node || '@' || at_ns) FROM receipts WHERE key_id = keys.id) FROM keys ORDER BY id",
        );
        let audit = rows("SELECT seq || ' ' || event || ' ' || hex(hash) FROM audit ORDER BY seq");
        (keys, audit)
    }

    #[test]
    fn issuing_delivered_keys_in_one_row_each_leaves_the_store_the_step_by_step_transitions_leave() {
        let dir = std::env::temp_dir().join(format!("qecnet-delivery-rows-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let (mut fast, mut reference) = (engine(&a), engine(&b));
        let nodes = vec!["n1".to_string(), "n3".to_string()];
        let ids =
            fast.issue_delivered_keys(&["n3", "n1"], keys_to_deliver(), &mut ChaCha20Rng::seed_from_u64(3)).unwrap();
        issue_step_by_step(&mut reference, &nodes, keys_to_deliver(), &mut ChaCha20Rng::seed_from_u64(3));
        assert_eq!(ids.len(), 3);
        let (fast_keys, fast_audit) = dump(&fast);
        let (ref_keys, ref_audit) = dump(&reference);
        assert_eq!(fast_keys, ref_keys);
        assert_eq!(fast_audit, ref_audit, "the same records, so the same hash chain");
        for id in ids {
            assert_eq!(fast.key(id).unwrap().state, KeyState::Active);
        }
        fast.verify_audit().unwrap().into_result().unwrap();
        drop((fast, reference));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
