//! What a KME does with a parsed request (ETSI GS QKD 014 v1.1.1, clause 5): who may ask,
//! the checks of the Key request against the KME's limits, key taken from the
//! [`KeySupply`], recorded through the lifecycle store before it is answered, and handed to
//! the slave SAE it was issued for, once.
//!
//! Authorisation: the caller is the SAE named by its client certificate; it must be declared
//! on this KME's node (else 401). Get status and Get key make the caller the master SAE and
//! the path's SAE the slave; Get key with key IDs makes the caller the slave and the path's
//! SAE the master, and every key ID must have been issued by that master for this caller
//! (else 401). Unknown SAEs and key IDs, and sizes and numbers outside the limits, are 400;
//! no key to be had is 503.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Value, json};
use uuid::Uuid;

use super::api::{ApiError, ApiRequest, KeyContainer, KeyEntry, KeyRequest, Status};
use super::clock::ServeClock;
use super::directory::{OPERATOR, Route, SaeDirectory};
use super::issued::{Issued, IssuedKeys, delivery_channel, entry_ids};
use super::metrics::ServeMetrics;
use super::store::KeyStore;
use super::supply::{KeySource, KeySupply, SuppliedKey, SupplyError};
use crate::crypto::SecretBytes;
use crate::lifecycle::{Clock, DeliveredKey};
use crate::mesh::EventSpec;
use crate::units::SimDuration;
use zeroize::Zeroizing;

/// A KME's limits, as its Status reports them (sizes in bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KmeLimits {
    /// Default key size.
    pub key_size: u64,
    /// Smallest key size (a multiple of 8).
    pub min_key_size: u64,
    /// Largest key size (a multiple of 8).
    pub max_key_size: u64,
    /// Most keys per request.
    pub max_key_per_request: u64,
    /// Most additional slave SAEs per request (a multicast key).
    pub max_sae_id_count: u64,
}

impl Default for KmeLimits {
    fn default() -> Self {
        KmeLimits {
            key_size: 256,
            min_key_size: 64,
            max_key_size: 65536,
            max_key_per_request: 128,
            max_sae_id_count: 8,
        }
    }
}

/// The state every KME of a served mesh shares.
pub struct Kmes {
    directory: SaeDirectory,
    supply: Arc<dyn KeySupply>,
    store: KeyStore,
    limits: KmeLimits,
    issued: IssuedKeys,
    metrics: ServeMetrics,
    clock: ServeClock,
}

impl Kmes {
    /// KMEs over `directory`, taking key from `supply`, recording it through `store`, with
    /// `issued` the keys already waiting for their slaves (empty on a new store), and `clock`
    /// the store's clock (keys' issue times and expiry).
    pub fn new(
        directory: SaeDirectory,
        supply: Arc<dyn KeySupply>,
        store: KeyStore,
        limits: KmeLimits,
        issued: IssuedKeys,
        clock: ServeClock,
    ) -> Self {
        Kmes { directory, supply, store, limits, issued, metrics: ServeMetrics::new(), clock }
    }

    /// The KMEs' metrics.
    pub fn metrics(&self) -> &ServeMetrics {
        &self.metrics
    }

    /// What a metrics scrape gets now (OpenMetrics text).
    pub fn metrics_text(&self) -> String {
        self.metrics.encode(self.supply.as_ref(), &self.directory.link_ids(), self.issued.len())
    }

    /// How many keys wait for their slave.
    pub fn outstanding(&self) -> usize {
        self.issued.len()
    }

    /// Expires, durably, every key that has waited `lifetime` or more for its slave, and
    /// destroys the collected keys whose retention is over; returns how many expired. The
    /// keys go to the store writer [`HOUSEKEEPING_CHUNK`] at a time, each chunk its own job,
    /// so requests' jobs are committed between them rather than waiting behind thousands.
    pub async fn expire(&self, lifetime: SimDuration) -> Result<usize, String> {
        let due = self.issued.reserve_expired(self.clock.now(), lifetime);
        let mut expired = 0;
        // At least one job, even with nothing due: it also destroys collected keys.
        let chunks: Vec<&[(Uuid, Issued)]> =
            if due.is_empty() { vec![&[]] } else { due.chunks(HOUSEKEEPING_CHUNK).collect() };
        for (i, chunk) in chunks.iter().enumerate() {
            let jobs = chunk
                .iter()
                .map(|(k, e)| (e.id, format!("key_ID={k}; slave_SAE_ID={} never collected it", e.slave)))
                .collect();
            let key_ids = entry_ids(chunk.iter());
            if let Err(e) = self.store.expire(jobs).await {
                // This chunk and the ones not sent wait again for the next tick.
                self.issued.release(&entry_ids(chunks[i..].iter().flat_map(|c| c.iter())));
                return Err(e);
            }
            self.issued.remove(&key_ids);
            self.metrics.expired(key_ids.len() as u64);
            expired += key_ids.len();
        }
        Ok(expired)
    }

    /// Revokes, durably, every key waiting for its slave whose master or slave is on a node
    /// isolated after a compromise (the node saw the key); returns how many.
    pub async fn revoke_isolated(&self) -> Result<usize, String> {
        let isolated = self.supply.isolated_nodes();
        if isolated.is_empty() {
            return Ok(0);
        }
        let saes: Vec<String> = self
            .directory
            .sae_ids()
            .into_iter()
            .filter(|s| self.directory.node_of(s).is_some_and(|n| isolated.iter().any(|i| i == n)))
            .collect();
        let hit = self.issued.reserve_touching(&saes);
        if hit.is_empty() {
            return Ok(0);
        }
        let key_ids = entry_ids(&hit);
        let jobs = hit
            .iter()
            .map(|(k, e)| {
                let reason = format!(
                    "key_ID={k}; master_SAE_ID={}; slave_SAE_ID={}: a node of theirs is isolated (compromised)",
                    e.master, e.slave
                );
                (e.id, reason)
            })
            .collect();
        match self.store.revoke(jobs).await {
            Ok(revoked) => {
                // A key whose revocation failed goes back to waiting; the next timer tick
                // tries it again.
                let (gone, kept): (Vec<_>, Vec<_>) = hit.iter().partition(|(_, e)| revoked.contains(&e.id));
                let (gone, kept) = (entry_ids(gone), entry_ids(kept));
                self.issued.remove(&gone);
                self.issued.release(&kept);
                Ok(gone.len())
            }
            Err(e) => {
                self.issued.release(&key_ids);
                Err(e)
            }
        }
    }

    /// The store writer's handle.
    pub fn store(&self) -> &KeyStore {
        &self.store
    }

    /// The SAE directory.
    pub fn directory(&self) -> &SaeDirectory {
        &self.directory
    }

    /// Answers `request` from SAE `caller` (from its certificate) at the KME of `node`: the
    /// JSON body of a 200 (erased when dropped: a Key container holds key bytes), or the error.
    pub async fn handle(&self, node: &str, caller: &str, request: ApiRequest) -> Result<Zeroizing<Vec<u8>>, ApiError> {
        match request {
            ApiRequest::Event(event) => self.inject(caller, event).await.map(json_body),
            ApiRequest::Status { slave } => {
                self.check_caller(node, caller)?;
                self.status(node, caller, &slave).map(json_body)
            }
            ApiRequest::EncKeys { slave, request } => {
                self.check_caller(node, caller)?;
                self.enc_keys(node, caller, &slave, &request).await.map(|keys| key_container_body(&keys))
            }
            ApiRequest::DecKeys { master, key_ids } => {
                self.check_caller(node, caller)?;
                self.dec_keys(caller, &master, &key_ids).await.map(|keys| key_container_body(&keys))
            }
        }
    }

    /// An SAE of this mesh at its own node's KME, the node not isolated.
    fn check_caller(&self, node: &str, caller: &str) -> Result<(), ApiError> {
        match self.directory.node_of(caller) {
            None => return Err(ApiError::unauthorized(format!("{caller:?} is not an SAE of this mesh"))),
            Some(home) if home != node => {
                return Err(ApiError::unauthorized(format!(
                    "SAE {caller} belongs to the KME of {home}, not of {node}"
                )));
            }
            Some(_) => {}
        }
        if self.supply.is_isolated(node) {
            return Err(ApiError::unavailable(format!("node {node} is isolated (compromised): its SAEs are cut off")));
        }
        Ok(())
    }

    /// The operator's event, injected into the live mesh now (operator certificate only).
    async fn inject(&self, caller: &str, event: EventSpec) -> Result<Value, ApiError> {
        if caller != OPERATOR {
            return Err(ApiError::unauthorized(format!(
                "{caller} is not the operator: only the operator injects events"
            )));
        }
        match self.store.inject(event).await {
            Ok(Ok(scheduled)) => Ok(json!({ "event": scheduled })),
            Ok(Err(refused)) => Err(ApiError::bad_request(refused)),
            Err(e) => Err(ApiError::unavailable("the event could not be injected").detail("store", e)),
        }
    }

    /// The peer SAE's node, for a master at `node`.
    fn peer(&self, node: &str, caller: &str, peer: &str) -> Result<String, ApiError> {
        let peer_node = self
            .directory
            .node_of(peer)
            .ok_or_else(|| ApiError::bad_request(format!("unknown SAE {peer:?}")).detail("SAE_ID", peer.to_string()))?;
        if peer == caller {
            return Err(ApiError::bad_request("master and slave SAE are the same"));
        }
        if peer_node == node {
            return Err(ApiError::bad_request(format!(
                "SAE {peer} is on this KME ({node}); keys between SAEs of one KME are not served"
            )));
        }
        Ok(peer_node.to_string())
    }

    /// The route key of `bytes` bytes takes from `node` to `peer_node` now.
    fn route(&self, node: &str, peer_node: &str, bytes: usize) -> Result<Route, ApiError> {
        self.supply.route(node, peer_node, bytes).map_err(|e| ApiError::unavailable(e.to_string()))
    }

    fn status(&self, node: &str, caller: &str, slave: &str) -> Result<Value, ApiError> {
        let slave_node = self.peer(node, caller, slave)?;
        let key_bytes = self.limits.key_size / 8;
        let route = self.route(node, &slave_node, key_bytes as usize)?;
        // The fallback exchange makes key on demand: a full request's worth is always there.
        let (stored, capacity) = match route {
            Route::Fallback => (self.limits.max_key_per_request, self.limits.max_key_per_request),
            _ => (self.supply.stored_bytes(&route) / key_bytes, self.supply.capacity_bytes(&route) / key_bytes),
        };
        let view = self.supply.view(&route);
        let status = Status {
            source_kme_id: node.to_string(),
            target_kme_id: slave_node,
            master_sae_id: caller.to_string(),
            slave_sae_id: slave.to_string(),
            key_size: self.limits.key_size,
            stored_key_count: stored,
            max_key_count: capacity,
            max_key_per_request: self.limits.max_key_per_request,
            max_key_size: self.limits.max_key_size,
            min_key_size: self.limits.min_key_size,
            max_sae_id_count: self.limits.max_sae_id_count,
            status_extension: json!({
                "mode": view.mode,
                "qber": view.qber,
                "key_rate_bps": view.key_rate_bps,
                "route": route_json(&route),
            }),
        };
        Ok(serde_json::to_value(status).expect("a Status serializes"))
    }

    /// The checked number and size (bits) of a Key request.
    fn check_request(&self, request: &KeyRequest) -> Result<(u64, u64), ApiError> {
        let l = &self.limits;
        let number = request.number.unwrap_or(1);
        let size = request.size.unwrap_or(l.key_size);
        if number == 0 || number > l.max_key_per_request {
            return Err(ApiError::bad_request(format!(
                "number {number} is outside 1..={} (max_key_per_request)",
                l.max_key_per_request
            ))
            .detail("number", number));
        }
        if !size.is_multiple_of(8) || size < l.min_key_size || size > l.max_key_size {
            return Err(ApiError::bad_request(format!(
                "size {size} must be a multiple of 8 in {}..={} bits (min_key_size..max_key_size)",
                l.min_key_size, l.max_key_size
            ))
            .detail("size", size));
        }
        if request.additional_slave_sae_ids.len() as u64 > l.max_sae_id_count {
            return Err(ApiError::bad_request(format!(
                "{} additional_slave_SAE_IDs; this KME serves at most {} (max_SAE_ID_count)",
                request.additional_slave_sae_ids.len(),
                l.max_sae_id_count
            )));
        }
        if !request.extension_mandatory.is_empty() {
            let mut e = ApiError::bad_request("not all extension_mandatory parameters are supported");
            for ext in &request.extension_mandatory {
                e = e.detail("unsupported_extension", Value::Object(ext.clone()));
            }
            return Err(e);
        }
        Ok((number, size))
    }

    /// Get key: `number` keys for `slave` and the request's additional slaves (a multicast
    /// key, ETSI GS QKD 014 clause 6.4). The bytes are taken over the route to the first
    /// slave's node; each other slave node's KME receives them one-time-padded with key taken
    /// over its own route, so every route pays for the key (a route that cannot pay fails the
    /// request with 503, and what other routes gave for it is discarded, never reused). Each
    /// slave gets its own lifecycle key of the same bytes, all recorded in one transaction,
    /// and collects it once; the key's `source` is the weakest of its routes'.
    async fn enc_keys(
        &self,
        node: &str,
        caller: &str,
        slave: &str,
        request: &KeyRequest,
    ) -> Result<KeyContainer, ApiError> {
        let first_node = self.peer(node, caller, slave)?;
        let (number, size) = self.check_request(request)?;
        let mut slaves = vec![(slave.to_string(), first_node)];
        for extra in &request.additional_slave_sae_ids {
            if slaves.iter().any(|(s, _)| s == extra) {
                return Err(ApiError::bad_request(format!("SAE {extra} is asked for twice"))
                    .detail("additional_slave_SAE_IDs", extra.clone()));
            }
            let extra_node = self.peer(node, caller, extra)?;
            slaves.push((extra.clone(), extra_node));
        }
        let key_bytes = (size / 8) as usize;
        let total = key_bytes * number as usize;
        // One route, and one draw of key, per distinct slave node (the first slave's first),
        // with the origin its keys' audit records name.
        let mut legs: Vec<(String, SuppliedKey, String)> = Vec::with_capacity(slaves.len());
        let mut first_links: Option<String> = None;
        for (_, slave_node) in &slaves {
            if legs.iter().any(|(n, _, _)| n == slave_node) {
                continue;
            }
            let route = self.route(node, slave_node, total)?;
            let supplied = self.supply.take(&route, total).map_err(|e| match e {
                SupplyError::Exhausted { .. } => ApiError::unavailable("not enough key stored for this SAE pair")
                    .detail("stored_key_count", self.supply.stored_bytes(&route) / (key_bytes as u64))
                    .detail("slave_node", slave_node.clone()),
                other => ApiError::unavailable(other.to_string()),
            })?;
            let links = route_links(&route);
            let origin = match &first_links {
                None => format!("{} {links}", supplied.source.as_str()),
                Some(first) => {
                    format!("{} {links} (one-time pad carrying the key of {first})", supplied.source.as_str())
                }
            };
            first_links.get_or_insert(links);
            legs.push((slave_node.clone(), supplied, origin));
        }
        let leg_of = |slave_node: &str| legs.iter().find(|(n, _, _)| n == slave_node).expect("a leg per slave node");
        let weakest = legs.iter().map(|(_, k, _)| k.source).max_by_key(|s| weakness(*s)).expect("at least one slave");
        let multicast = slaves.len() > 1;
        let slave_sources: serde_json::Map<String, Value> =
            slaves.iter().map(|(s, n)| (s.clone(), json!(leg_of(n).1.source.as_str()))).collect();
        let material = legs[0].1.material.expose();
        let mut entries = Vec::with_capacity(number as usize);
        let mut groups: Vec<(Vec<String>, Vec<DeliveredKey>)> =
            slaves.iter().map(|(_, n)| (vec![node.to_string(), n.clone()], Vec::new())).collect();
        let mut ids = Vec::with_capacity(number as usize);
        for chunk in material.chunks(key_bytes) {
            let key_id = Uuid::new_v4();
            let mut extension = json!({ "source": weakest.as_str() });
            if multicast {
                extension["slave_sources"] = Value::Object(slave_sources.clone());
            }
            entries.push(KeyEntry {
                key_id: key_id.to_string(),
                key: base64::engine::general_purpose::STANDARD.encode(chunk),
                key_extension: Some(extension),
            });
            for ((slave_id, slave_node), (_, deliveries)) in slaves.iter().zip(groups.iter_mut()) {
                let (_, supplied, origin) = leg_of(slave_node);
                deliveries.push(DeliveredKey {
                    channel: delivery_channel(caller, slave_id, supplied.source, key_id),
                    material: SecretBytes::new(chunk.to_vec()),
                    origin: origin.clone(),
                    handed_to: format!("key_ID={key_id}; master_SAE_ID={caller}; slave_SAE_ID={slave_id}"),
                });
            }
            ids.push(key_id);
        }
        let stored = self
            .store
            .issue(groups)
            .await
            .map_err(|e| ApiError::unavailable("the key could not be recorded").detail("store", e))?;
        // The store's ids come group by group: every key of the first slave, then the next.
        for ((slave_id, slave_node), stored) in slaves.iter().zip(stored.chunks(ids.len())) {
            let source = leg_of(slave_node).1.source;
            self.issued.insert(
                ids.iter().copied().zip(stored.iter().copied()),
                caller,
                slave_id,
                source,
                self.clock.now(),
            );
        }
        self.metrics.delivered(weakest, number);
        Ok(KeyContainer { keys: entries })
    }

    async fn dec_keys(&self, caller: &str, master: &str, key_ids: &[String]) -> Result<KeyContainer, ApiError> {
        let Some(master_node) = self.directory.node_of(master) else {
            return Err(ApiError::bad_request(format!("unknown SAE {master:?}")).detail("SAE_ID", master.to_string()));
        };
        if self.supply.is_isolated(master_node) {
            // Its keys are being revoked: the isolated node saw them.
            return Err(ApiError::unavailable(format!(
                "node {master_node} of SAE {master} is isolated (compromised): its keys are revoked"
            )));
        }
        let mut parsed = Vec::with_capacity(key_ids.len());
        for k in key_ids {
            let id = Uuid::parse_str(k)
                .map_err(|_| ApiError::bad_request("key_ID is not a UUID").detail("key_ID", k.to_string()))?;
            if parsed.contains(&id) {
                return Err(ApiError::bad_request("key_ID asked for twice").detail("key_ID", k.to_string()));
            }
            parsed.push(id);
        }
        let reserved = self.issued.reserve_for(&parsed, master, caller)?;
        let held = entry_ids(&reserved);
        let jobs = reserved.iter().map(|(k, e)| (e.id, format!("key_ID={k}; slave_SAE_ID={caller}"))).collect();
        match self.store.collect(jobs).await {
            Ok(materials) => {
                self.issued.remove(&held);
                let mut entries = Vec::with_capacity(reserved.len());
                for ((id, entry), material) in reserved.iter().zip(materials) {
                    self.metrics.collected(entry.source, 1);
                    entries.push(KeyEntry {
                        key_id: id.to_string(),
                        key: base64::engine::general_purpose::STANDARD.encode(material.expose()),
                        key_extension: Some(json!({ "source": entry.source.as_str() })),
                    });
                }
                Ok(KeyContainer { keys: entries })
            }
            Err(e) => {
                self.issued.release(&held);
                Err(ApiError::unavailable("the keys could not be collected").detail("store", e))
            }
        }
    }
}

/// Keys per housekeeping job (expiry) sent to the store writer: about 20 ms of its time.
pub const HOUSEKEEPING_CHUNK: usize = 256;

/// The JSON text of `value`.
fn json_body(value: Value) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(value.to_string().into_bytes())
}

/// The JSON text of a Key container, in a buffer erased when dropped (the container's own
/// base64 strings are erased with it, [`KeyEntry`]'s drop).
fn key_container_body(keys: &KeyContainer) -> Zeroizing<Vec<u8>> {
    let mut body = Zeroizing::new(Vec::with_capacity(keys.keys.len() * 128));
    serde_json::to_writer(&mut *body, keys).expect("a Key container serializes");
    body
}

/// How weak a source is, for a multicast key's weakest route: QKD over one link, then a
/// trusted relay (every hop sees the key), then the post-quantum fallback (no QKD at all).
fn weakness(source: KeySource) -> u8 {
    match source {
        KeySource::Qkd => 0,
        KeySource::Relay => 1,
        KeySource::PqcFallback => 2,
    }
}

fn route_links(route: &Route) -> String {
    match route {
        Route::Direct(link) => link.clone(),
        Route::Relay(hops) => hops.join("+"),
        Route::Fallback => "ml-kem-1024".into(),
    }
}

fn route_json(route: &Route) -> Value {
    match route {
        Route::Direct(link) => json!({ "kind": "direct", "links": [link] }),
        Route::Relay(hops) => json!({ "kind": "relay", "links": hops }),
        Route::Fallback => json!({ "kind": "fallback", "links": [] }),
    }
}
