//! Rotation protocols: scheduled (timer), triggered (early retirement),
//! emergency (revoke every instance, re-key from pre-staged material), and
//! rotation of the operator-held SOVEREIGN_MASTER.

use rand::CryptoRng;
use serde::Serialize;

use super::engine::{Engine, NewKey, Tx, key_aad, master_check_plaintext};
use super::record::{KeyId, KeyRecord};
use super::store::{MASTER_CHECK_AAD, keys};
use super::{KeyState, LifecycleError, Transition, Trigger};
use crate::crypto::{KeyType, MasterKey, SecretBytes};

type Result<T> = std::result::Result<T, LifecycleError>;

/// Outcome of an emergency rotation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EmergencyRotation {
    /// Every instance that was revoked.
    pub revoked: Vec<KeyId>,
    /// The replacement key.
    pub replacement: KeyId,
    /// True when pre-staged material with all receipts was activated at once;
    /// false when the replacement still has to be distributed/confirmed.
    pub activated: bool,
}

impl Tx<'_> {
    /// Re-wraps every stored key (archived ones included) under `new_key`, bound to the key's
    /// id and type as before, and replaces the store's master check value: afterwards only
    /// `new_key` opens the store. Returns the keys re-wrapped. The engine's own master is the
    /// caller's to replace.
    pub(crate) fn rewrap_store(&mut self, new_key: &MasterKey, rng: &mut (impl CryptoRng + ?Sized)) -> Result<u64> {
        let mut rewrapped = 0u64;
        for (id, kt) in keys::with_material(&self.conn)? {
            let kt: KeyType = kt.parse().map_err(LifecycleError::Corrupt)?;
            let material = self.unwrap_material(id, kt)?;
            let wrapped = new_key
                .wrap(&material, &key_aad(id, kt), rng)
                .map_err(|source| LifecycleError::Crypto { key: id, source })?;
            keys::set_wrapped(&self.conn, id, &wrapped)?;
            rewrapped += 1;
        }
        let check = new_key
            .wrap(&master_check_plaintext(), MASTER_CHECK_AAD, rng)
            .map_err(|source| LifecycleError::GenerationFailed { key_type: KeyType::SovereignMaster, source })?;
        keys::set_master_check(&self.conn, &check)?;
        Ok(rewrapped)
    }

    /// ACTIVE → ROTATING and a GENERATED replacement; with `early`, the old key retires as
    /// soon as the replacement activates.
    pub(crate) fn begin_rotation_inner(
        &mut self,
        id: KeyId,
        detail: &str,
        early: bool,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        let rec = self.load(id)?;
        self.transition(id, Transition::BeginRotation, detail)?;
        if rec.key_type == KeyType::SovereignMaster {
            return Err(LifecycleError::Input(
                "SOVEREIGN_MASTER is rotated by the operator supplying a new master key".into(),
            ));
        }
        if early {
            keys::mark_early_retirement(&self.conn, id)?;
        }
        self.generate_inner(&NewKey::replacing(&rec), rng)
    }
}

impl Engine {
    /// Start a rotation of an ACTIVE key: it becomes ROTATING (decrypt-only)
    /// and a replacement is GENERATED. Returns the replacement.
    pub fn begin_rotation(&mut self, id: KeyId, rng: &mut (impl CryptoRng + ?Sized)) -> Result<KeyId> {
        self.atomic(|e| e.begin_rotation_inner(id, "scheduled", false, rng))
    }

    /// ACTIVE keys past their rotation period or usage limit (or with less
    /// than 1/8 of their one-time pad left).
    pub fn due_for_rotation(&self) -> Result<Vec<KeyId>> {
        // Filtered in SQL: a store serving applications holds many ACTIVE one-time keys, and
        // loading each (with its receipts) every check cost the live mesh tens of ms.
        Ok(keys::due_for_rotation(&self.conn, self.clock.now())?)
    }

    /// Scheduled rotation (timer): begin rotation of every due key except the
    /// operator-held SOVEREIGN_MASTER. Returns (old, replacement) pairs.
    pub fn rotate_scheduled(&mut self, rng: &mut (impl CryptoRng + ?Sized)) -> Result<Vec<(KeyId, KeyId)>> {
        let mut out = Vec::new();
        for id in self.due_for_rotation()? {
            if self.load(id)?.key_type == KeyType::SovereignMaster {
                continue;
            }
            let new = self.atomic(|e| e.begin_rotation_inner(id, "scheduled", false, rng))?;
            out.push((id, new));
        }
        Ok(out)
    }

    /// Triggered rotation (anomaly, policy change, operator command): like a
    /// scheduled one, but the old key is marked for early retirement and
    /// retires the moment its replacement activates.
    pub fn rotate_triggered(
        &mut self,
        id: KeyId,
        trigger: Trigger,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<KeyId> {
        self.atomic(|e| e.begin_rotation_inner(id, &format!("triggered: {}", trigger.as_str()), true, rng))
    }

    /// Emergency rotation after (suspected) compromise of `id`: every live
    /// instance on its channel is revoked at once, then the channel is re-keyed
    /// from pre-staged material (activated immediately if all receipts are in),
    /// or from freshly generated material when none is pre-staged.
    pub fn rotate_emergency(&mut self, id: KeyId, rng: &mut (impl CryptoRng + ?Sized)) -> Result<EmergencyRotation> {
        self.atomic(|e| {
            let rec = e.load(id)?;
            if !rec.state.is_live() {
                return Err(LifecycleError::IllegalTransition {
                    key: id,
                    state: rec.state,
                    transition: Transition::Revoke,
                });
            }
            e.append_audit("emergency_rotation", Some(id), None, None, &format!("channel={}", rec.channel))?;
            let live = e.live_on_channel(&rec.channel, rec.key_type)?;
            let mut revoked = Vec::new();
            for k in live.iter().filter(|k| !k.prestaged || k.id == id) {
                e.transition(k.id, Transition::Revoke, &format!("emergency rotation of {id}"))?;
                revoked.push(k.id);
            }
            let staged =
                live.iter().find(|k| k.prestaged && k.id != id && k.state == KeyState::Distributed).map(|k| k.id);
            let (replacement, activated) = match staged {
                Some(s) if e.proof_inner(s).is_ok() => {
                    e.activate_inner(s)?;
                    (s, true)
                }
                Some(s) => (s, false),
                None => {
                    let new = NewKey::for_channel(rec.key_type, &rec.channel, &rec.participants);
                    (e.generate_inner(&new, rng)?, false)
                }
            };
            Ok(EmergencyRotation { revoked, replacement, activated })
        })
    }

    /// Rotate the operator-held SOVEREIGN_MASTER: every stored key is
    /// re-wrapped under `new_master`, the store's check value replaced, and the
    /// master's key record rotated (old ROTATING → RETIRED, new ACTIVE), all in
    /// one transaction. Afterwards only `new_master` opens the store.
    pub fn rotate_master(&mut self, new_master: &SecretBytes, rng: &mut (impl CryptoRng + ?Sized)) -> Result<KeyId> {
        let new_key = MasterKey::from_material(new_master)
            .map_err(|source| LifecycleError::GenerationFailed { key_type: KeyType::SovereignMaster, source })?;
        let result = self.atomic(|e| {
            let old_records: Vec<KeyRecord> = e
                .keys(Some(KeyState::Active))?
                .into_iter()
                .filter(|k| k.key_type == KeyType::SovereignMaster)
                .collect();
            let rewrapped = e.rewrap_store(&new_key, rng)?;
            let actor = e.actor.clone();
            let id = e.insert_master_record(
                old_records.first().map(|k| k.id),
                &format!("type=SOVEREIGN_MASTER; operator-held; {rewrapped} keys re-wrapped"),
            )?;
            for old in &old_records {
                e.transition(old.id, Transition::BeginRotation, "master rotation")?;
            }
            e.transition(id, Transition::Distribute, "to operator")?;
            e.confirm_receipt_inner(id, &actor)?;
            e.activate_inner(id)?;
            for old in &old_records {
                if e.load(old.id)?.state == KeyState::Rotating {
                    e.transition(old.id, Transition::Retire, "re-wrapped under the new master")?;
                }
            }
            Ok(id)
        });
        if result.is_ok() {
            self.master = new_key;
        }
        result
    }
}
