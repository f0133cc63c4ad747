//! The keys a KME has handed to a master SAE and not yet to its slave(s): who may collect
//! each, where its bytes came from, and since when it waits. A multicast key (ETSI 014's
//! `additional_slave_SAE_IDs`) has one entry per slave under the same key ID, each its own
//! lifecycle key, so each slave collects it once. Each entry mirrors an ACTIVE delivered
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
    table: Mutex<HashMap<Uuid, Vec<Issued>>>,
}

impl IssuedKeys {
    /// An empty table.
    pub fn new() -> Self {
        IssuedKeys::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, Vec<Issued>>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The table of a store's outstanding deliveries: each (lifecycle key, its channel, when it
    /// was handed to its master), as [`crate::lifecycle::Engine::outstanding_deliveries`] with
    /// [`CHANNEL_PREFIX`] lists them; a channel that does not parse is an error naming its key.
    pub fn resume<'a>(records: impl IntoIterator<Item = (KeyId, &'a str, SimTime)>) -> Result<Self, String> {
        let mut table: HashMap<Uuid, Vec<Issued>> = HashMap::new();
        for (id, channel, issued_at) in records {
            let bad = || format!("{id}: channel {channel:?} is not a delivered key's");
            let rest = channel.strip_prefix(CHANNEL_PREFIX).ok_or_else(bad)?;
            let parts: Vec<&str> = rest.split('/').collect();
            let [master, slave, source, key_id] = parts[..] else { return Err(bad()) };
            let source = KeySource::from_name(source).ok_or_else(bad)?;
            let key_id = Uuid::parse_str(key_id).map_err(|_| bad())?;
            let entry =
                Issued { id, master: master.to_string(), slave: slave.to_string(), source, issued_at, reserved: false };
            table.entry(key_id).or_default().push(entry);
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
            table.entry(key_id).or_default().push(entry);
        }
    }

    /// Reserves every key of `key_ids` for `slave` collecting from `master`: all of them, in
    /// order with their key IDs, or none and the first refusal.
    pub fn reserve_for(&self, key_ids: &[Uuid], master: &str, slave: &str) -> Result<Vec<(Uuid, Issued)>, Refusal> {
        let mut table = self.lock();
        let mut found = Vec::with_capacity(key_ids.len());
        for key_id in key_ids {
            let entries = table.get(key_id).ok_or(Refusal::Unknown(*key_id))?;
            match entries.iter().find(|e| e.slave == slave && e.master == master) {
                Some(e) if e.reserved => return Err(Refusal::Unknown(*key_id)),
                Some(e) => found.push((*key_id, e.id)),
                // Waiting, but not for this master and slave (a multicast key's slave that
                // has collected it already is refused the same way).
                None => return Err(Refusal::NotAddressed(*key_id)),
            }
        }
        Ok(found.iter().map(|k| (k.0, reserve(&mut table, k))).collect())
    }

    /// Reserves every unreserved key issued at or before `now - lifetime`, returning them with
    /// their key IDs.
    pub fn reserve_expired(&self, now: SimTime, lifetime: SimDuration) -> Vec<(Uuid, Issued)> {
        let cutoff = SimTime(now.0.saturating_sub(lifetime.0));
        self.reserve_where(|e| e.issued_at <= cutoff)
    }

    /// Reserves every unreserved key whose master or slave is one of `saes`, returning them
    /// with their key IDs.
    pub fn reserve_touching(&self, saes: &[String]) -> Vec<(Uuid, Issued)> {
        self.reserve_where(|e| saes.contains(&e.master) || saes.contains(&e.slave))
    }

    /// Reserves every unreserved entry that `hit` picks, returning them with their key IDs.
    fn reserve_where(&self, hit: impl Fn(&Issued) -> bool) -> Vec<(Uuid, Issued)> {
        let mut table = self.lock();
        let mut picked = Vec::new();
        for (key_id, entries) in table.iter_mut() {
            for e in entries.iter_mut().filter(|e| !e.reserved && hit(e)) {
                e.reserved = true;
                picked.push((*key_id, e.clone()));
            }
        }
        picked
    }

    /// The store decided: the reserved entries `keys` (key ID, lifecycle key) are gone
    /// (collected, expired or revoked).
    pub fn remove(&self, keys: &[(Uuid, KeyId)]) {
        let mut table = self.lock();
        for (key_id, id) in keys {
            if let Some(entries) = table.get_mut(key_id) {
                entries.retain(|e| e.id != *id);
                if entries.is_empty() {
                    table.remove(key_id);
                }
            }
        }
    }

    /// The store job failed: the reserved entries `keys` (key ID, lifecycle key) wait again.
    pub fn release(&self, keys: &[(Uuid, KeyId)]) {
        let mut table = self.lock();
        for (key_id, id) in keys {
            if let Some(e) = table.get_mut(key_id).and_then(|es| es.iter_mut().find(|e| e.id == *id)) {
                e.reserved = false;
            }
        }
    }

    /// How many keys wait for a slave (a multicast key once per slave that has not collected it).
    pub fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Whether no key waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn reserve(table: &mut HashMap<Uuid, Vec<Issued>>, (key_id, id): &(Uuid, KeyId)) -> Issued {
    let entries = table.get_mut(key_id).expect("checked by the caller");
    let entry = entries.iter_mut().find(|e| e.id == *id).expect("checked by the caller");
    entry.reserved = true;
    entry.clone()
}

/// The (key ID, lifecycle key) pairs of reserved entries, as [`IssuedKeys::remove`] and
/// [`IssuedKeys::release`] take them.
pub fn entry_ids<'a>(entries: impl IntoIterator<Item = &'a (Uuid, Issued)>) -> Vec<(Uuid, KeyId)> {
    entries.into_iter().map(|(k, e)| (*k, e.id)).collect()
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
        t.release(&[(ids[0], KeyId(1))]);
        assert_eq!(t.reserve_for(&ids, "sae-a", "sae-b").unwrap().len(), 2);
        t.remove(&[(ids[0], KeyId(1)), (ids[1], KeyId(2))]);
        assert!(t.is_empty());
    }

    #[test]
    fn a_key_is_reserved_only_by_its_master_and_slave() {
        let (t, ids) = table_with(1);
        assert_eq!(t.reserve_for(&ids, "sae-b", "sae-a"), Err(Refusal::NotAddressed(ids[0])));
        assert_eq!(t.reserve_for(&ids, "sae-a", "sae-c"), Err(Refusal::NotAddressed(ids[0])));
        assert_eq!(t.reserve_for(&ids, "sae-a", "sae-b").unwrap()[0].1.id, KeyId(1));
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
        let (table, _) = table_with(3);
        let hit = table.reserve_touching(&["sae-b".to_string()]);
        assert_eq!(hit.len(), 3, "sae-b is the slave of every key");
        assert!(table.reserve_touching(&["sae-a".to_string()]).is_empty(), "already reserved");
        table.release(&entry_ids(&hit));
        let hit = table.reserve_touching(&["sae-a".to_string()]);
        assert_eq!(hit.len(), 3, "sae-a is the master");
        table.release(&entry_ids(&hit));
        assert!(table.reserve_touching(&["sae-c".to_string()]).is_empty());
    }

    #[test]
    fn the_channel_of_a_delivered_key_reads_back_as_its_entry() {
        let key_id = Uuid::new_v4();
        let channel = delivery_channel("sae-alice", "sae-bob", KeySource::PqcFallback, key_id);
        let t = IssuedKeys::resume([(KeyId(7), channel.as_str(), SimTime(42))]).unwrap();
        let got = t.reserve_for(&[key_id], "sae-alice", "sae-bob").unwrap();
        let (_, got) = &got[0];
        assert_eq!((got.id, got.source, got.issued_at), (KeyId(7), KeySource::PqcFallback, SimTime(42)));
        let bad = IssuedKeys::resume([(KeyId(8), "etsi014/sae-alice/sae-bob/qkd", SimTime(42))]);
        assert!(bad.unwrap_err().contains("key#8"), "the error names the key");
    }
}
