//! What the engine reads back from its store: key records and states, isolated nodes, and
//! a key's material unwrapped with the master key. None of these writes.

use std::collections::{BTreeMap, BTreeSet};

use super::{Engine, key_aad};
use crate::crypto::{KeyType, SecretBytes};
use crate::lifecycle::record::{self, KeyId, KeyRecord};
use crate::lifecycle::store::keys;
use crate::lifecycle::{KeyState, LifecycleError};

type Result<T> = std::result::Result<T, LifecycleError>;

impl Engine {
    /// One key (no material).
    pub fn key(&self, id: KeyId) -> Result<KeyRecord> {
        record::get_key(&self.conn, id)
    }

    /// All keys, or those in `state`.
    pub fn keys(&self, state: Option<KeyState>) -> Result<Vec<KeyRecord>> {
        record::list_keys(&self.conn, state)
    }

    /// Current state of every key.
    pub fn key_states(&self) -> Result<BTreeMap<KeyId, KeyState>> {
        let mut out = BTreeMap::new();
        for (id, s) in keys::states(&self.conn)? {
            out.insert(id, s.parse().map_err(LifecycleError::Corrupt)?);
        }
        Ok(out)
    }

    /// Nodes isolated after a compromise.
    pub fn isolated_nodes(&self) -> Result<BTreeSet<String>> {
        Ok(keys::isolated_nodes(&self.conn)?.into_iter().collect())
    }

    /// Whether `node` was isolated after a compromise.
    pub(crate) fn is_isolated(&self, node: &str) -> Result<bool> {
        Ok(keys::is_isolated(&self.conn, node)?)
    }

    /// One key without its receipts, or `UnknownKey`.
    pub(crate) fn load(&self, id: KeyId) -> Result<KeyRecord> {
        keys::load(&self.conn, id)?.ok_or(LifecycleError::UnknownKey(id))
    }

    /// The state and participants of `id` (what a receipt is checked against; cheaper than
    /// [`Engine::load`]).
    pub(crate) fn state_and_participants(&self, id: KeyId) -> Result<(KeyState, Vec<String>)> {
        let (state, parts) = keys::state_and_participants(&self.conn, id)?.ok_or(LifecycleError::UnknownKey(id))?;
        let parts = serde_json::from_str(&parts).map_err(|e| LifecycleError::Corrupt(e.to_string()))?;
        Ok((state.parse().map_err(LifecycleError::Corrupt)?, parts))
    }

    /// Just the state of `id` (cheaper than [`Engine::load`]).
    pub(crate) fn load_state(&self, id: KeyId) -> Result<KeyState> {
        let s = keys::state_of(&self.conn, id)?.ok_or(LifecycleError::UnknownKey(id))?;
        s.parse().map_err(LifecycleError::Corrupt)
    }

    /// The ROTATING keys of a channel.
    pub(crate) fn rotating_on_channel(&self, channel: &str, kt: KeyType) -> Result<Vec<KeyRecord>> {
        Ok(keys::rotating_on_channel(&self.conn, channel, kt)?)
    }

    /// The keys of a channel that are neither REVOKED nor DESTROYED.
    pub(crate) fn live_on_channel(&self, channel: &str, kt: KeyType) -> Result<Vec<KeyRecord>> {
        Ok(keys::live_on_channel(&self.conn, channel, kt)?)
    }

    /// The material of `id`, unwrapped with the master key.
    pub(crate) fn unwrap_material(&self, id: KeyId, kt: KeyType) -> Result<SecretBytes> {
        let wrapped = keys::wrapped_material(&self.conn, id)?.ok_or(LifecycleError::UnknownKey(id))?;
        let Some(wrapped) = wrapped else {
            return Err(LifecycleError::NoMaterial { key: id, state: self.load(id)?.state });
        };
        self.master.unwrap(&wrapped, &key_aad(id, kt)).map_err(|source| LifecycleError::Crypto { key: id, source })
    }
}
