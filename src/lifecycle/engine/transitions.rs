//! The core transitions of the key diagram: generate (and import), distribute, receipts,
//! activate, revoke, retire, destroy, and the timer work of [`Engine::tick`]. The public
//! operations each run one transaction; the steps they share (and that rotations and
//! recovery compose) are methods of the transaction token [`Tx`].

use std::collections::BTreeSet;

use rand::CryptoRng;
use serde::Serialize;

use super::{Engine, Tx, key_aad, public_of};
use crate::crypto::{KeyType, SecretBytes};
use crate::lifecycle::record::{KeyId, KeyRecord};
use crate::lifecycle::rules::{self, OverlapFate, ReceiptRefusal};
use crate::lifecycle::store::keys::{self, KeyRow};
use crate::lifecycle::{KeyState, LifecycleError, ReceiptProof, Transition};
use crate::units::SimTime;

type Result<T> = std::result::Result<T, LifecycleError>;

/// What [`Engine::tick`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    /// ROTATING keys retired because their overlap ended.
    pub retired: Vec<KeyId>,
    /// RETIRED keys destroyed because their retention ended.
    pub destroyed: Vec<KeyId>,
}

/// A key record about to be created: type, channel, participants, what it replaces, and
/// whether it is pre-staged for emergency re-keying.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NewKey<'a> {
    /// Key type.
    pub key_type: KeyType,
    /// Channel the key serves.
    pub channel: &'a str,
    /// Nodes that must confirm receipt.
    pub participants: &'a [String],
    /// The key this one replaces in a rotation.
    pub replaces: Option<KeyId>,
    /// Pre-staged material for emergency re-keying.
    pub prestaged: bool,
}

impl<'a> NewKey<'a> {
    /// A fresh key for `channel`, replacing nothing, not pre-staged.
    pub(crate) fn for_channel(key_type: KeyType, channel: &'a str, participants: &'a [String]) -> Self {
        NewKey { key_type, channel, participants, replaces: None, prestaged: false }
    }

    /// The detail of the key's `generate` audit record, its material from `origin`.
    pub(crate) fn generate_detail(&self, origin: &str) -> String {
        let mut detail = format!(
            "type={}; channel={}; participants={}; source={origin}",
            self.key_type,
            self.channel,
            self.participants.join(",")
        );
        if let Some(r) = self.replaces {
            detail.push_str(&format!("; replaces={r}"));
        }
        if self.prestaged {
            detail.push_str("; prestaged");
        }
        detail
    }

    /// The replacement of `old` in a rotation: same type, channel and participants.
    pub(crate) fn replacing(old: &'a KeyRecord) -> Self {
        NewKey { replaces: Some(old.id), ..NewKey::for_channel(old.key_type, &old.channel, &old.participants) }
    }

    /// A retry of `failed` (its distribution failed): the same record, new material.
    pub(crate) fn retry_of(failed: &'a KeyRecord) -> Self {
        NewKey {
            replaces: failed.replaces,
            prestaged: failed.prestaged,
            ..NewKey::for_channel(failed.key_type, &failed.channel, &failed.participants)
        }
    }
}

/// Refuses externally produced `material` of the wrong length for `key_type`: a QKD_TRANSPORT
/// pad needs at least 64 bytes, another type exactly its table length, and a SOVEREIGN_MASTER
/// is never imported; `spec_len` is the type's length in the engine's table.
pub(crate) fn check_material_len(key_type: KeyType, spec_len: usize, material: &SecretBytes) -> Result<()> {
    let ok = match key_type {
        KeyType::SovereignMaster => false,
        KeyType::QkdTransport => material.len() >= 64,
        _ => material.len() == spec_len,
    };
    if ok {
        return Ok(());
    }
    Err(LifecycleError::GenerationFailed {
        key_type,
        source: crate::crypto::CryptoError::BadKeyLength {
            what: key_type.as_str(),
            expected: if key_type == KeyType::QkdTransport { 64 } else { spec_len },
            got: material.len(),
        },
    })
}

/// The node names as owned strings, as a key record holds them.
fn owned_names(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Participants sorted, without duplicates; at least one.
pub(crate) fn participant_set(participants: impl IntoIterator<Item = String>) -> Result<Vec<String>> {
    let mut nodes: Vec<String> = participants.into_iter().collect();
    nodes.sort();
    nodes.dedup();
    if nodes.is_empty() {
        return Err(LifecycleError::NoParticipants);
    }
    Ok(nodes)
}

impl Tx<'_> {
    /// Apply `t` to `id` after checking the diagram; writes the audit record. Returns the
    /// state before.
    pub(crate) fn transition(&mut self, id: KeyId, t: Transition, detail: &str) -> Result<KeyState> {
        let from = self.load_state(id)?;
        self.transition_from(id, from, t, detail)?;
        Ok(from)
    }

    /// [`Tx::transition`] of a key whose state `from` the caller read in this transaction
    /// (the read is not repeated).
    pub(crate) fn transition_from(&mut self, id: KeyId, from: KeyState, t: Transition, detail: &str) -> Result<()> {
        self.transitions_from(id, from, &[(t, detail)]).map(|_| ())
    }

    /// The transitions `steps` applied to `id` one after the other from its state `from` (read
    /// by the caller in this transaction), each checked against the diagram and audited with
    /// its detail, in order; the key's row is written once, in the state they end in (what the
    /// steps one by one leave, at the same clock time). Returns that state.
    pub(crate) fn transitions_from(
        &mut self,
        id: KeyId,
        from: KeyState,
        steps: &[(Transition, &str)],
    ) -> Result<KeyState> {
        let mut state = from;
        for &(t, _) in steps {
            if !t.allowed_from(state) {
                return Err(LifecycleError::IllegalTransition { key: id, state, transition: t });
            }
            state = t.target();
        }
        let now = self.clock.now();
        keys::set_state(&self.conn, id, state, now, state == KeyState::Destroyed)?;
        let mut before = from;
        for &(t, detail) in steps {
            self.append_audit(t.as_str(), Some(id), Some(before), Some(t.target()), detail)?;
            before = t.target();
        }
        Ok(state)
    }

    /// The GENERATED row of `new` for `material_len` bytes, its participants as `parts` (JSON).
    fn key_row<'k>(&self, new: &NewKey<'k>, parts: &'k str, material_len: usize) -> KeyRow<'k> {
        let spec = self.config.specs.get(new.key_type);
        KeyRow {
            key_type: new.key_type,
            channel: new.channel,
            participants_json: parts,
            material_len,
            created: self.clock.now(),
            rotation_period: spec.rotation_period,
            usage_limit: spec.usage_limit,
            replaces: new.replaces,
            prestaged: new.prestaged,
        }
    }

    /// `new`'s participants as the JSON the keys table holds.
    fn participants_json(new: &NewKey<'_>) -> Result<String> {
        serde_json::to_string(new.participants).map_err(|e| LifecycleError::Input(e.to_string()))
    }

    /// Inserts the GENERATED row of `new` without material.
    fn insert_key(&mut self, new: &NewKey<'_>, material_len: usize) -> Result<KeyId> {
        let parts = Self::participants_json(new)?;
        let row = self.key_row(new, &parts, material_len);
        Ok(keys::insert_without_material(&self.conn, &row)?)
    }

    /// The record of an operator-held SOVEREIGN_MASTER (no material stored), GENERATED, with
    /// its audit record; the operator (the engine's actor) is its one participant.
    pub(crate) fn insert_master_record(&mut self, replaces: Option<KeyId>, detail: &str) -> Result<KeyId> {
        let actor = [self.actor.clone()];
        let material_len = self.config.specs.get(KeyType::SovereignMaster).material_len;
        let new = NewKey { replaces, ..NewKey::for_channel(KeyType::SovereignMaster, "store", &actor) };
        let id = self.insert_key(&new, material_len)?;
        self.append_audit("generate", Some(id), None, Some(KeyState::Generated), detail)?;
        Ok(id)
    }

    /// Generates material for `new` from `rng` and stores it as a GENERATED key.
    pub(crate) fn generate_inner(&mut self, new: &NewKey<'_>, rng: &mut (impl CryptoRng + ?Sized)) -> Result<KeyId> {
        let kt = new.key_type;
        if kt == KeyType::SovereignMaster {
            return Err(LifecycleError::Input(
                "SOVEREIGN_MASTER is supplied by the operator, not generated into the store".into(),
            ));
        }
        let nodes = participant_set(new.participants.iter().cloned())?;
        for n in &nodes {
            if self.is_isolated(n)? {
                return Err(LifecycleError::NodeIsolated { node: n.clone() });
            }
        }
        let spec = self.config.specs.get(kt).clone();
        // Material first: a generation failure leaves no record.
        let material = SecretBytes::random(spec.material_len, kt.as_str(), rng)
            .map_err(|source| LifecycleError::GenerationFailed { key_type: kt, source })?;
        self.store_new_key(&NewKey { participants: &nodes, ..*new }, material, "local entropy", rng)
    }

    /// Insert a GENERATED key with the given material (already checked), wrapped; `origin`
    /// says where the material came from.
    pub(crate) fn store_new_key(
        &mut self,
        new: &NewKey<'_>,
        material: SecretBytes,
        origin: &str,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        let kt = new.key_type;
        let public = public_of(kt, &material);
        // The id the row gets, so that the material is wrapped (bound to it) before the row
        // is written, once, with it.
        let id = keys::next_id(&self.conn)?;
        let wrapped = self
            .master
            .wrap(&material, &key_aad(id, kt), rng)
            .map_err(|source| LifecycleError::GenerationFailed { key_type: kt, source })?;
        let parts = Self::participants_json(new)?;
        let row = self.key_row(new, &parts, material.len());
        keys::insert_generated(&self.conn, id, &row, &wrapped, public.as_deref())?;
        self.append_audit("generate", Some(id), None, Some(KeyState::Generated), &new.generate_detail(origin))?;
        Ok(id)
    }

    /// Records `node`'s receipt of the DISTRIBUTED key `id` (once).
    pub(crate) fn confirm_receipt_inner(&mut self, id: KeyId, node: &str) -> Result<()> {
        let (state, participants) = self.state_and_participants(id)?;
        let is_participant = participants.iter().any(|p| p == node);
        match rules::receipt_refusal(state, is_participant, self.is_isolated(node)?) {
            Some(ReceiptRefusal::NotExpected) => {
                return Err(LifecycleError::ReceiptNotExpected { key: id, state });
            }
            Some(ReceiptRefusal::NotParticipant) => {
                return Err(LifecycleError::NotParticipant { key: id, node: node.to_string() });
            }
            Some(ReceiptRefusal::NodeIsolated) => {
                return Err(LifecycleError::NodeIsolated { node: node.to_string() });
            }
            None => {}
        }
        let now = self.clock.now();
        if keys::add_receipt(&self.conn, id, node, now)? {
            self.append_audit("receipt", Some(id), None, None, &format!("node={node}"))?;
        }
        Ok(())
    }

    /// DISTRIBUTED → ACTIVE, receipts re-checked; retires the ROTATING keys the activation
    /// supersedes and, for an AUDIT_SIGNING key, makes it the signer.
    pub(crate) fn activate_inner(&mut self, id: KeyId) -> Result<()> {
        // Receipts are re-checked inside the transaction.
        let (_, rec) = self.proof_and_record(id)?;
        // The replaced key, read once: only this activation changes its state below.
        let mut old_rec = match rec.replaces {
            Some(old) => Some(self.load(old)?),
            None => None,
        };
        // A replacement prepared while its predecessor stayed ACTIVE
        // ([`Engine::prepare_replacement`]) starts the predecessor's rotation now, in the
        // activation's transaction: the channel is never without an ACTIVE key.
        // Its overlap end is written with its state when it keeps one (the common, scheduled
        // case): one update of its row instead of two.
        let mut overlap_set = false;
        if let Some(old) = old_rec.as_mut()
            && old.state == KeyState::Active
        {
            let how = if old.early_retirement { "triggered" } else { "scheduled" };
            let detail = format!("{how}; replaced by {id}");
            if rules::overlap_fate(true, old.early_retirement, self.config.overlap) == OverlapFate::RetireNow {
                self.transition_from(old.id, old.state, Transition::BeginRotation, &detail)?;
            } else {
                let now = self.clock.now();
                keys::begin_rotation_until(&self.conn, old.id, now, now + self.config.overlap)?;
                let (from, to) = (Some(KeyState::Active), Some(KeyState::Rotating));
                self.append_audit(Transition::BeginRotation.as_str(), Some(old.id), from, to, &detail)?;
                overlap_set = true;
            }
            old.state = KeyState::Rotating;
        }
        if let Some(active) = keys::other_active(&self.conn, &rec.channel, rec.key_type, id)? {
            return Err(LifecycleError::ChannelBusy { key: id, channel: rec.channel, key_type: rec.key_type, active });
        }
        self.transition_from(id, rec.state, Transition::Activate, "all receipts confirmed")?;
        // At most one ROTATING key (this key's predecessor) may overlap the
        // new ACTIVE one: any older key still in overlap on the channel is superseded.
        // The overlap rule is [`rules::overlap_fate`].
        for k in self.rotating_on_channel(&rec.channel, rec.key_type)? {
            if Some(k.id) != rec.replaces
                && rules::overlap_fate(false, k.early_retirement, self.config.overlap) == OverlapFate::RetireNow
            {
                self.transition_from(k.id, k.state, Transition::Retire, &format!("superseded by {id}"))?;
            }
        }
        if let Some(old_rec) = old_rec
            && old_rec.state == KeyState::Rotating
        {
            let old = old_rec.id;
            if rules::overlap_fate(true, old_rec.early_retirement, self.config.overlap) == OverlapFate::RetireNow {
                self.transition_from(old, old_rec.state, Transition::Retire, &format!("replaced by {id}"))?;
            } else if !overlap_set {
                let until = self.clock.now() + self.config.overlap;
                keys::set_overlap_until(&self.conn, old, until)?;
            }
        }
        if rec.key_type == KeyType::AuditSigning {
            self.install_signer(id)?;
        }
        Ok(())
    }

    /// ROTATING → RETIRED once the replacement was activated.
    pub(crate) fn retire_inner(&mut self, id: KeyId, detail: &str) -> Result<()> {
        let rec = self.load(id)?;
        // A set overlap end means the replacement was activated (it may have
        // been rotated or revoked since); otherwise it must be ACTIVE now.
        if rec.state == KeyState::Rotating
            && rec.overlap_until.is_none()
            && keys::active_replacement(&self.conn, id)?.is_none()
        {
            return Err(LifecycleError::ReplacementNotActive { key: id });
        }
        self.transition_from(id, rec.state, Transition::Retire, detail)
    }
}

impl Engine {
    /// Proof that every participant confirmed the DISTRIBUTED key `id`.
    pub(crate) fn proof_inner(&self, id: KeyId) -> Result<ReceiptProof> {
        self.proof_and_record(id).map(|(proof, _)| proof)
    }

    /// [`Engine::proof_inner`] with the key's record (without receipts) it was checked on.
    fn proof_and_record(&self, id: KeyId) -> Result<(ReceiptProof, KeyRecord)> {
        let rec = self.load(id)?;
        if rec.state != KeyState::Distributed {
            return Err(LifecycleError::IllegalTransition {
                key: id,
                state: rec.state,
                transition: Transition::Activate,
            });
        }
        let got: BTreeSet<String> = keys::receipts(&self.conn, id)?.into_iter().collect();
        let missing = rules::missing_receipts(&rec.participants, |p| got.contains(p));
        if !missing.is_empty() {
            return Err(LifecycleError::ReceiptsIncomplete { key: id, state: rec.state, missing });
        }
        Ok((ReceiptProof::new(id, got), rec))
    }

    /// Generate a key of `key_type` for `channel`, to be shared with
    /// `participants`. Generation failure (e.g. a stuck RNG) creates no record.
    pub fn generate(
        &mut self,
        key_type: KeyType,
        channel: &str,
        participants: &[&str],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        let parts = owned_names(participants);
        self.atomic(|tx| tx.generate_inner(&NewKey::for_channel(key_type, channel, &parts), rng))
    }

    /// Record externally produced key material as a GENERATED key, e.g. a
    /// QKD_TRANSPORT pad distilled by the QKD link (any length of at least 64
    /// bytes), or material of another type of exactly its table length. The
    /// bytes are wrapped at once; `rng` supplies only the wrapping nonce.
    pub fn import_material(
        &mut self,
        key_type: KeyType,
        channel: &str,
        participants: &[&str],
        material: SecretBytes,
        origin: &str,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        check_material_len(key_type, self.config.specs.get(key_type).material_len, &material)?;
        let nodes = participant_set(owned_names(participants))?;
        self.atomic(|tx| {
            for n in &nodes {
                if tx.is_isolated(n)? {
                    return Err(LifecycleError::NodeIsolated { node: n.clone() });
                }
            }
            tx.store_new_key(&NewKey::for_channel(key_type, channel, &nodes), material, origin, rng)
        })
    }

    /// Generate and distribute pre-staged material for emergency re-keying of
    /// `channel`. It stays DISTRIBUTED (collecting receipts) until an emergency
    /// rotation activates it.
    pub fn prestage(
        &mut self,
        key_type: KeyType,
        channel: &str,
        participants: &[&str],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        let parts = owned_names(participants);
        self.atomic(|tx| {
            let new = NewKey { prestaged: true, ..NewKey::for_channel(key_type, channel, &parts) };
            let id = tx.generate_inner(&new, rng)?;
            tx.transition(id, Transition::Distribute, "pre-staged for emergency re-key")?;
            Ok(id)
        })
    }

    /// GENERATED → DISTRIBUTED: the material has been sent to the participants.
    pub fn distribute(&mut self, id: KeyId) -> Result<()> {
        self.atomic(|tx| tx.transition(id, Transition::Distribute, "sent via QKD channel").map(|_| ()))
    }

    /// Distribution failed: the key is DESTROYED (material erased) and a retry
    /// with new material is generated in the same transaction. Returns the new key.
    pub fn fail_distribution(&mut self, id: KeyId, rng: &mut (impl CryptoRng + ?Sized)) -> Result<KeyId> {
        self.atomic(|tx| {
            let rec = tx.load(id)?;
            let detail = "distribution failed; retrying with new material";
            tx.transition_from(id, rec.state, Transition::DistributionFailure, detail)?;
            keys::clear_receipts(&tx.conn, id)?;
            let retry = tx.generate_inner(&NewKey::retry_of(&rec), rng)?;
            tx.append_audit("distribution_retry", Some(retry), None, None, &format!("retry of {id}"))?;
            Ok(retry)
        })
    }

    /// A participant confirms receipt of a DISTRIBUTED key.
    pub fn confirm_receipt(&mut self, id: KeyId, node: &str) -> Result<()> {
        self.atomic(|tx| tx.confirm_receipt_inner(id, node))
    }

    /// Proof that every participant confirmed `id`; fails naming the missing ones.
    pub fn receipt_proof(&self, id: KeyId) -> Result<ReceiptProof> {
        self.proof_inner(id)
    }

    /// DISTRIBUTED → ACTIVE, consuming the receipt proof. If the key replaces a
    /// ROTATING key, that key retires now (early retirement or zero overlap) or
    /// when the overlap ends ([`Engine::tick`]).
    pub fn activate(&mut self, proof: ReceiptProof) -> Result<()> {
        self.atomic(|tx| tx.activate_inner(proof.key()))
    }

    /// Compromise: any live state → REVOKED.
    pub fn revoke(&mut self, id: KeyId, reason: &str) -> Result<()> {
        self.atomic(|tx| tx.transition(id, Transition::Revoke, reason).map(|_| ()))
    }

    /// ROTATING → RETIRED, allowed once the replacement has been activated.
    pub fn retire(&mut self, id: KeyId) -> Result<()> {
        self.atomic(|tx| tx.retire_inner(id, "operator"))
    }

    /// RETIRED → DESTROYED (material erased), allowed after the retention period.
    pub fn destroy(&mut self, id: KeyId) -> Result<()> {
        self.atomic(|tx| {
            let rec = tx.load(id)?;
            let due = rec.state_changed + tx.config.retention;
            let now = tx.clock.now();
            if rec.state == KeyState::Retired && now < due {
                return Err(LifecycleError::RetentionNotElapsed { key: id, due, now });
            }
            tx.transition_from(id, rec.state, Transition::Destroy, "retention period over")
        })
    }

    /// Timer work: retire ROTATING keys whose overlap ended (replacement
    /// ACTIVE), destroy RETIRED keys whose retention ended. Each is its own
    /// atomic transition.
    pub fn tick(&mut self) -> Result<TickReport> {
        let now = self.clock.now();
        let mut report = TickReport::default();
        // Only the keys that are due are loaded (by index on state, filtered in SQL), so a
        // tick costs time per due key, not per key ever archived.
        for id in keys::overlap_over(&self.conn, now)? {
            self.atomic(|tx| tx.retire_inner(id, "overlap period over"))?;
            report.retired.push(id);
        }
        for id in keys::retired_before(&self.conn, SimTime(now.0.saturating_sub(self.config.retention.0)))? {
            self.destroy(id)?;
            report.destroyed.push(id);
        }
        Ok(report)
    }
}
