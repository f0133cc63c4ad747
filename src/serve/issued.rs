//! The keys a KME has handed to a master SAE and not yet to its slave: who may collect each,
//! where its bytes came from, and since when it waits. Each entry mirrors an ACTIVE delivered
//! key of the lifecycle store, whose channel names the same facts
//! ([`delivery_channel`]), so a KME restarted on the store rebuilds this table from it
//! ([`IssuedKeys::resume`]) and its slaves can still collect what their masters received.
//!
//! An entry is *reserved* while a store job (collection or expiry) is deciding its fate, so
//! a key is never collected twice, nor collected and expired at once.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use uuid::Uuid;

use super::api::ApiError;
use super::supply::KeySource;
use crate::lifecycle::{KeyId, KeyRecord};
use crate::units::{SimDuration, SimTime};

/// The start of every delivered key's lifecycle channel.
pub const CHANNEL_PREFIX: &str = "etsi014/";

/// The lifecycle channel of a delivered key: `etsi014/<master>/<slave>/<source>/<key_ID>`.
/// SAE IDs hold no `/` ([`super::SaeDirectory`] checks), so the parts read back unambiguously.
pub fn delivery_channel(master: &str, slave: &str, source: KeySource, key_id: Uuid) -> String {
    format!("{CHANNEL_PREFIX}{master}/{slave}/{}/{key_id}", source.as_str())
}

/// One key waiting for its slave.
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    /// Its lifecycle key.
    pub id: KeyId,
    /// The master SAE it was handed to.
    pub master: String,
    /// The slave SAE that may collect it.
    pub slave: String,
    /// Where its bytes came from.
    pub source: KeySource,
    /// When it was handed to the master (the store's clock, ns since the Unix epoch).
    pub issued_at: SimTime,
    /// A store job is collecting or expiring it now.
    reserved: bool,
}

/// Why a key cannot be reserved for a slave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Never issued, already delivered, expired, or being collected now.
    Unknown(Uuid),
    /// Issued, but not by this master for this slave.
    NotAddressed(Uuid),
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        match r {
            Refusal::Unknown(id) => {
                ApiError::bad_request("unknown key_ID (never issued, already delivered, or expired)")
                    .detail("key_ID", id.to_string())
            }
            Refusal::NotAddressed(id) => ApiError::unauthorized(format!("key_ID {id} was not issued for this caller")),
        }
    }
}

/// The table of keys waiting for their slave, shared by every KME of a served mesh.
#[derive(Debug, Default)]
pub struct IssuedKeys {
    table: Mutex<HashMap<Uuid, Issued>>,
}

impl IssuedKeys {
    /// An empty table.
    pub fn new() -> Self {
        IssuedKeys::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, Issued>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The table of a store's outstanding deliveries: each (lifecycle key, its channel, when it
    /// was handed to its master), as [`crate::lifecycle::Engine::outstanding_deliveries`] with
    /// [`CHANNEL_PREFIX`] lists them; a channel that does not parse is an error naming its key.
    pub fn resume<'a>(records: impl IntoIterator<Item = (KeyId, &'a str, SimTime)>) -> Result<Self, String> {
        let mut table = HashMap::new();
        for (id, channel, issued_at) in records {
            let bad = || format!("{id}: channel {channel:?} is not a delivered key's");
            let rest = channel.strip_prefix(CHANNEL_PREFIX).ok_or_else(bad)?;
            let parts: Vec<&str> = rest.split('/').collect();
            let [master, slave, source, key_id] = parts[..] else { return Err(bad()) };
            let source = KeySource::from_name(source).ok_or_else(bad)?;
            let key_id = Uuid::parse_str(key_id).map_err(|_| bad())?;
            let entry =
                Issued { id, master: master.to_string(), slave: slave.to_string(), source, issued_at, reserved: false };
            table.insert(key_id, entry);
        }
        Ok(IssuedKeys { table: Mutex::new(table) })
    }

    /// The table of a store's outstanding delivered keys (their activation is when their
    /// master received them).
    pub fn resume_records(records: &[KeyRecord]) -> Result<Self, String> {
        IssuedKeys::resume(records.iter().map(|r| (r.id, r.channel.as_str(), r.activated.unwrap_or(r.state_changed))))
    }

    /// Records keys handed to `master` for `slave` at `issued_at`.
    pub fn insert(
        &self,
        keys: impl IntoIterator<Item = (Uuid, KeyId)>,
        master: &str,
        slave: &str,
        source: KeySource,
        issued_at: SimTime,
    ) {
        let mut table = self.lock();
        for (key_id, id) in keys {
            let entry =
                Issued { id, master: master.to_string(), slave: slave.to_string(), source, issued_at, reserved: false };
            table.insert(key_id, entry);
        }
    }

    /// Reserves every key of `key_ids` for `slave` collecting from `master`: all of them, or
    /// none and the first refusal.
    pub fn reserve_for(&self, key_ids: &[Uuid], master: &str, slave: &str) -> Result<Vec<Issued>, Refusal> {
        let mut table = self.lock();
        for key_id in key_ids {
            let entry = table.get(key_id).filter(|e| !e.reserved).ok_or(Refusal::Unknown(*key_id))?;
            if entry.master != master || entry.slave != slave {
                return Err(Refusal::NotAddressed(*key_id));
            }
        }
        Ok(key_ids.iter().map(|k| reserve(&mut table, k)).collect())
    }

    /// Reserves every unreserved key issued at or before `now - lifetime`, returning them with
    /// their key IDs.
    pub fn reserve_expired(&self, now: SimTime, lifetime: SimDuration) -> Vec<(Uuid, Issued)> {
        let cutoff = SimTime(now.0.saturating_sub(lifetime.0));
        let mut table = self.lock();
        let due: Vec<Uuid> =
            table.iter().filter(|(_, e)| !e.reserved && e.issued_at <= cutoff).map(|(k, _)| *k).collect();
        due.into_iter().map(|k| (k, reserve(&mut table, &k))).collect()
    }

    /// Reserves every unreserved key whose master or slave is one of `saes`, returning them
    /// with their key IDs.
    pub fn reserve_touching(&self, saes: &[String]) -> Vec<(Uuid, Issued)> {
        let mut table = self.lock();
        let hit: Vec<Uuid> = table
            .iter()
            .filter(|(_, e)| !e.reserved && (saes.contains(&e.master) || saes.contains(&e.slave)))
            .map(|(k, _)| *k)
            .collect();
        hit.into_iter().map(|k| (k, reserve(&mut table, &k))).collect()
    }

    /// The store decided: the reserved `key_ids` are gone (collected, expired or revoked).
    pub fn remove(&self, key_ids: &[Uuid]) {
        let mut table = self.lock();
        for k in key_ids {
            table.remove(k);
        }
    }

    /// The store job failed: the reserved `key_ids` wait again.
    pub fn release(&self, key_ids: &[Uuid]) {
        let mut table = self.lock();
        for k in key_ids {
            if let Some(e) = table.get_mut(k) {
                e.reserved = false;
            }
        }
    }

    /// How many keys wait for their slave.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn reserve(table: &mut HashMap<Uuid, Issued>, key_id: &Uuid) -> Issued {
    let entry = table.get_mut(key_id).expect("checked by the caller");
    entry.reserved = true;
    entry.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_with(n: u64) -> (IssuedKeys, Vec<Uuid>) {
        let t = IssuedKeys::new();
        let ids: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
        t.insert(ids.iter().copied().zip((1..).map(KeyId)), "sae-a", "sae-b", KeySource::Qkd, SimTime(1_000));
        (t, ids)
    }

    #[test]
    fn a_reserved_key_cannot_be_reserved_again_until_released() {
        let (t, ids) = table_with(2);
        assert_eq!(t.reserve_for(&ids[..1], "sae-a", "sae-b").unwrap().len(), 1);
        assert_eq!(t.reserve_for(&ids, "sae-a", "sae-b"), Err(Refusal::Unknown(ids[0])));
        t.release(&ids[..1]);
        assert_eq!(t.reserve_for(&ids, "sae-a", "sae-b").unwrap().len(), 2);
        t.remove(&ids);
        assert!(t.is_empty());
    }

    #[test]
    fn a_key_is_reserved_only_by_its_master_and_slave() {
        let (t, ids) = table_with(1);
        assert_eq!(t.reserve_for(&ids, "sae-b", "sae-a"), Err(Refusal::NotAddressed(ids[0])));
        assert_eq!(t.reserve_for(&ids, "sae-a", "sae-c"), Err(Refusal::NotAddressed(ids[0])));
        assert_eq!(t.reserve_for(&ids, "sae-a", "sae-b").unwrap()[0].id, KeyId(1));
    }

    #[test]
    fn only_keys_older_than_the_lifetime_expire_and_not_while_reserved() {
        let (t, ids) = table_with(2);
        t.reserve_for(&ids[..1], "sae-a", "sae-b").unwrap();
        assert!(t.reserve_expired(SimTime(1_999), SimDuration(1_000)).is_empty());
        let expired = t.reserve_expired(SimTime(2_000), SimDuration(1_000));
        assert_eq!(expired.iter().map(|(k, _)| *k).collect::<Vec<_>>(), vec![ids[1]]);
    }

    #[test]
    fn keys_touching_an_sae_are_reserved_whichever_end_it_is() {
        let (table, ids) = table_with(3);
        let hit = table.reserve_touching(&["sae-b".to_string()]);
        assert_eq!(hit.len(), 3, "sae-b is the slave of every key");
        assert!(table.reserve_touching(&["sae-a".to_string()]).is_empty(), "already reserved");
        table.release(&ids);
        assert_eq!(table.reserve_touching(&["sae-a".to_string()]).len(), 3, "sae-a is the master");
        table.release(&ids);
        assert!(table.reserve_touching(&["sae-c".to_string()]).is_empty());
    }

    #[test]
    fn the_channel_of_a_delivered_key_reads_back_as_its_entry() {
        let key_id = Uuid::new_v4();
        let channel = delivery_channel("sae-alice", "sae-bob", KeySource::PqcFallback, key_id);
        let t = IssuedKeys::resume([(KeyId(7), channel.as_str(), SimTime(42))]).unwrap();
        let got = t.reserve_for(&[key_id], "sae-alice", "sae-bob").unwrap();
        assert_eq!((got[0].id, got[0].source, got[0].issued_at), (KeyId(7), KeySource::PqcFallback, SimTime(42)));
        let bad = IssuedKeys::resume([(KeyId(8), "etsi014/sae-alice/sae-bob/qkd", SimTime(42))]);
        assert!(bad.unwrap_err().contains("key#8"), "the error names the key");
    }
}
