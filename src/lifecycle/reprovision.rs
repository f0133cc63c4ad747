//! Re-provisioning a compromised node (the sovereign hub above all): the operator's action
//! that ends the isolation of the six-step recovery ([`Engine::recover_compromise`]). For the
//! hub, which held the SOVEREIGN_MASTER and signed the audit chain, it brings a new master
//! that re-wraps every stored key and a new AUDIT_SIGNING key; afterwards the old master
//! opens nothing in the store.
//!
//! ```no_run
//! # use rand::SeedableRng;
//! # fn demo(engine: &mut qecnet::lifecycle::Engine, new_master: &qecnet::crypto::SecretBytes) -> Result<(), qecnet::lifecycle::LifecycleError> {
//! let mut rng = rand_chacha::ChaCha20Rng::try_from_rng(&mut rand::rngs::SysRng).expect("OS entropy");
//! // After `recover_compromise("hub", ..)`: the operator re-provisions the hub.
//! let report = engine.reprovision_node("hub", new_master, &mut rng)?;
//! assert!(report.new_master.is_some());
//! # Ok(()) }
//! ```

use rand::CryptoRng;
use serde::Serialize;

use super::engine::NewKey;
use super::record::KeyId;
use super::store::keys;
use super::{Engine, KeyState, LifecycleError, Transition};
use crate::crypto::{KeyType, MasterKey, SecretBytes};

type Result<T> = std::result::Result<T, LifecycleError>;

/// Outcome of [`Engine::reprovision_node`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReprovisionReport {
    /// The node taken off the isolated list.
    pub node: String,
    /// Stored keys re-wrapped under the new SOVEREIGN_MASTER (every key with material in the
    /// store, archived ones included), when the node held the master.
    pub rewrapped: u64,
    /// The new SOVEREIGN_MASTER's record (ACTIVE), when the node held the master.
    pub new_master: Option<KeyId>,
    /// The master records it replaces (REVOKED by the compromise).
    pub old_masters: Vec<KeyId>,
    /// The new AUDIT_SIGNING key (ACTIVE, the signer from now on), when the compromise left
    /// none.
    pub new_audit_key: Option<KeyId>,
    /// Audit sequence number of the `recovery:reprovision` record.
    pub audit_seq: u64,
}

impl Engine {
    /// Re-provisions the isolated `node` in one transaction: a `recovery:reprovision` audit
    /// record takes it off the isolated list (keys may include it again); when it is the
    /// engine's actor (the hub, holder of the operator-supplied SOVEREIGN_MASTER) and the
    /// compromise revoked the master, every stored key is re-wrapped under `new_master`
    /// (AES-256-GCM, bound to the key's id and type as before), the store's check value is
    /// replaced and a new master record made ACTIVE (`replaces` the revoked one); when no
    /// AUDIT_SIGNING key is usable, a new one is made ACTIVE and signs a checkpoint over the
    /// whole chain. Afterwards only `new_master` opens the store. `new_master` is ignored for
    /// a node that held no master.
    ///
    /// Refused (nothing written): a node that is not isolated, or a master of the wrong length.
    pub fn reprovision_node(
        &mut self,
        node: &str,
        new_master: &SecretBytes,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<ReprovisionReport> {
        if !self.is_isolated(node)? {
            return Err(LifecycleError::Input(format!(
                "reprovision: node {node} is not isolated (only a node a compromise isolated is re-provisioned)"
            )));
        }
        let new_key = MasterKey::from_material(new_master)
            .map_err(|source| LifecycleError::GenerationFailed { key_type: KeyType::SovereignMaster, source })?;
        let holds_master = node == self.actor;
        let mut slot = Some(new_key);
        let mut swapped = false;
        let result = self.atomic(|e| {
            keys::reinstate_node(&e.conn, node)?;
            let old_masters: Vec<KeyId> = e
                .keys(Some(KeyState::Revoked))?
                .into_iter()
                .filter(|k| k.key_type == KeyType::SovereignMaster && k.participants.iter().any(|p| p == node))
                .map(|k| k.id)
                .collect();
            let master_live = e.keys(None)?.iter().any(|k| k.key_type == KeyType::SovereignMaster && k.state.is_live());
            let rewrap = holds_master && !master_live;
            let mut rewrapped = 0u64;
            if rewrap {
                rewrapped = e.rewrap_store(slot.as_ref().expect("not yet swapped"), rng)?;
                // From here on the engine wraps and unwraps with the new master only.
                let new_key = slot.take().expect("not yet swapped");
                slot = Some(std::mem::replace(&mut e.master, new_key));
                swapped = true;
            }
            let old_list = old_masters.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(",");
            let audit_seq = e.append_audit(
                "recovery:reprovision",
                None,
                None,
                None,
                &format!(
                    "node={node}; operator re-provisioned it; isolation ended; {}",
                    if rewrap {
                        format!(
                            "new SOVEREIGN_MASTER; {rewrapped} stored keys re-wrapped; revoked masters [{old_list}]"
                        )
                    } else {
                        "no master held".to_string()
                    }
                ),
            )?;
            let new_master = if rewrap {
                let actor = e.actor.clone();
                let id = e.insert_master_record(
                    old_masters.last().copied(),
                    &format!(
                        "type=SOVEREIGN_MASTER; operator-held; re-provisioned {node}; {rewrapped} keys re-wrapped"
                    ),
                )?;
                e.transition(id, Transition::Distribute, "to operator")?;
                e.confirm_receipt_inner(id, &actor)?;
                e.activate_inner(id)?;
                Some(id)
            } else {
                None
            };
            let new_audit_key = if holds_master && e.signer.is_none() {
                let hub = [e.actor.clone()];
                let signing = NewKey::for_channel(KeyType::AuditSigning, "store", &hub);
                let id = e.generate_inner(&signing, rng)?;
                e.transition(id, Transition::Distribute, "local")?;
                e.confirm_receipt_inner(id, &hub[0])?;
                e.activate_inner(id)?; // installs it as the signer
                Some(id)
            } else {
                None
            };
            e.write_checkpoint()?;
            Ok(ReprovisionReport {
                node: node.to_string(),
                rewrapped,
                new_master,
                old_masters,
                new_audit_key,
                audit_seq,
            })
        });
        if result.is_err() && swapped {
            // The store was rolled back: it is still wrapped under the old master.
            self.master = slot.take().expect("the old master");
            self.refresh_signer()?;
        }
        result
    }
}
