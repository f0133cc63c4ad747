//! Where the KMEs' key bytes come from: the [`KeySupply`] trait (take N bytes for a node
//! pair's route; say whether they are QKD, relayed or post-quantum fallback key; how many are
//! stored), so that the live mesh can stand behind the KMEs later, and its first
//! implementation, [`OsRngSupply`]: one key buffer per QKD link, filled from the operating
//! system's random generator (never from the scenario's seed) and topped up at a fixed rate,
//! the same bytes at both ends of the link.
//!
//! A relayed pair (no direct link) gets its key as a trusted relay forwards it (QECNet spec,
//! trusted-node relay through the hub): the first hop's link key `k1` is the key; the hub
//! sends `k1 ⊕ k2` over the second hop, whose far end removes its own copy of `k2`. Both
//! hops consume `N` bytes.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use zeroize::Zeroizing;

use super::directory::Route;
use crate::crypto::SecretBytes;

/// Where a delivered key's bytes came from (the `source` of its container entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The direct QKD link's key buffer.
    Qkd,
    /// Relayed through the hub, consuming key on every hop.
    Relay,
    /// Derived from the X25519 + ML-KEM-1024 hybrid exchange while the link is in fallback.
    PqcFallback,
}

impl KeySource {
    /// Every source.
    pub const ALL: [KeySource; 3] = [KeySource::Qkd, KeySource::Relay, KeySource::PqcFallback];

    /// The source named `name` (as [`KeySource::as_str`] gives it).
    pub fn from_name(name: &str) -> Option<KeySource> {
        KeySource::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The name used in the API (`qkd`, `relay`, `pqc-fallback`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeySource::Qkd => "qkd",
            KeySource::Relay => "relay",
            KeySource::PqcFallback => "pqc-fallback",
        }
    }
}

/// Key taken for a route: the bytes both ends now hold, and their source.
pub struct SuppliedKey {
    /// The key bytes (zeroized on drop).
    pub material: SecretBytes,
    /// Where they came from.
    pub source: KeySource,
}

/// What a KME reports about a route in its status extension.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteView {
    /// `qkd` or `fallback`.
    pub mode: &'static str,
    /// The link's latest QBER, where one is measured.
    pub qber: Option<f64>,
    /// The link's secret key rate (bit/s), where one is measured.
    pub key_rate_bps: Option<f64>,
}

/// Why no key could be had.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SupplyError {
    /// Fewer bytes stored than asked for.
    #[error("not enough key stored on {link}: {stored} bytes, {wanted} asked for")]
    Exhausted {
        /// The link short of key.
        link: String,
        /// Bytes stored.
        stored: u64,
        /// Bytes asked for.
        wanted: u64,
    },
    /// The route names a link the supply does not have.
    #[error("no key buffer for link {0}")]
    UnknownLink(String),
    /// The operating system's generator failed.
    #[error("operating-system entropy: {0}")]
    Entropy(String),
}

/// A source of key for the KMEs. Implementations are shared by every KME's connections.
pub trait KeySupply: Send + Sync {
    /// Takes `bytes` bytes of key for `route`, all or none; both ends hold the same bytes.
    fn take(&self, route: &Route, bytes: usize) -> Result<SuppliedKey, SupplyError>;
    /// Bytes of key stored for `route` now (the least over its hops).
    fn stored_bytes(&self, route: &Route) -> u64;
    /// The most bytes `route` can store (the least over its hops).
    fn capacity_bytes(&self, route: &Route) -> u64;
    /// Mode, QBER and key rate for the status extension.
    fn view(&self, route: &Route) -> RouteView;
}

/// One link's key buffer: a ring of `capacity` bytes, `len` of them stored from `head`.
struct LinkBuffer {
    ring: Zeroizing<Vec<u8>>,
    head: usize,
    len: usize,
    /// Wall-clock time up to which the refill has been credited.
    refilled_to: Instant,
}

impl LinkBuffer {
    fn capacity(&self) -> usize {
        self.ring.len()
    }

    /// Appends up to `n` fresh bytes (as many as fit) from `rng`.
    fn fill(&mut self, n: usize, rng: &mut ChaCha20Rng) {
        let n = n.min(self.capacity() - self.len);
        let cap = self.capacity();
        let mut tail = (self.head + self.len) % cap;
        let mut left = n;
        while left > 0 {
            let run = left.min(cap - tail);
            rng.fill_bytes(&mut self.ring[tail..tail + run]);
            tail = (tail + run) % cap;
            left -= run;
        }
        self.len += n;
    }

    /// Removes the first `n` stored bytes into `out` (the caller checked `n <= len`); the
    /// ring's copy is wiped.
    fn take_into(&mut self, n: usize, out: &mut [u8]) {
        let cap = self.capacity();
        let mut done = 0;
        while done < n {
            let run = (n - done).min(cap - self.head);
            out[done..done + run].copy_from_slice(&self.ring[self.head..self.head + run]);
            self.ring[self.head..self.head + run].fill(0);
            self.head = (self.head + run) % cap;
            done += run;
        }
        self.len -= n;
    }
}

/// Key buffers per QKD link filled from the operating system's generator: a stand-in for the
/// live mesh with the same interface. Every link starts full and is topped up at
/// `refill_bytes_per_s` of wall-clock time.
pub struct OsRngSupply {
    links: BTreeMap<String, Mutex<LinkBuffer>>,
    rng: Mutex<ChaCha20Rng>,
    refill_bytes_per_s: f64,
}

impl OsRngSupply {
    /// Buffers of `capacity_bytes` (at least 1) for each of `link_ids`, full, refilled at
    /// `refill_bytes_per_s` (0 = never). The generator is a ChaCha20 stream keyed from the
    /// operating system.
    pub fn new(link_ids: &[String], capacity_bytes: usize, refill_bytes_per_s: f64) -> Result<Self, SupplyError> {
        let mut rng =
            ChaCha20Rng::try_from_rng(&mut rand::rngs::SysRng).map_err(|e| SupplyError::Entropy(e.to_string()))?;
        let now = Instant::now();
        let mut links = BTreeMap::new();
        for id in link_ids {
            let mut buffer =
                LinkBuffer { ring: Zeroizing::new(vec![0; capacity_bytes.max(1)]), head: 0, len: 0, refilled_to: now };
            buffer.fill(capacity_bytes, &mut rng);
            links.insert(id.clone(), Mutex::new(buffer));
        }
        Ok(OsRngSupply { links, rng: Mutex::new(rng), refill_bytes_per_s: refill_bytes_per_s.max(0.0) })
    }

    fn hops(route: &Route) -> Vec<&str> {
        match route {
            Route::Direct(link) => vec![link.as_str()],
            Route::Relay(hops) => hops.iter().map(String::as_str).collect(),
        }
    }

    fn buffer(&self, link: &str) -> Result<std::sync::MutexGuard<'_, LinkBuffer>, SupplyError> {
        let cell = self.links.get(link).ok_or_else(|| SupplyError::UnknownLink(link.to_string()))?;
        let mut buffer = cell.lock().unwrap_or_else(|p| p.into_inner());
        self.refill(&mut buffer);
        Ok(buffer)
    }

    /// Credits the refill for the wall-clock time since the last one.
    fn refill(&self, buffer: &mut LinkBuffer) {
        if self.refill_bytes_per_s <= 0.0 {
            return;
        }
        let now = Instant::now();
        let due = (now.duration_since(buffer.refilled_to).as_secs_f64() * self.refill_bytes_per_s).floor();
        if due >= 1.0 {
            let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
            buffer.fill(due.min(buffer.capacity() as f64) as usize, &mut rng);
            buffer.refilled_to = now;
        }
    }
}

impl KeySupply for OsRngSupply {
    fn take(&self, route: &Route, bytes: usize) -> Result<SuppliedKey, SupplyError> {
        let hops = Self::hops(route);
        // Hops are locked in name order, so two requests over the same links cannot deadlock.
        let mut order: Vec<usize> = (0..hops.len()).collect();
        order.sort_by_key(|&i| hops[i]);
        let mut guards: Vec<Option<std::sync::MutexGuard<'_, LinkBuffer>>> = (0..hops.len()).map(|_| None).collect();
        for &i in &order {
            guards[i] = Some(self.buffer(hops[i])?);
        }
        for (i, g) in guards.iter().enumerate() {
            let stored = g.as_ref().map_or(0, |g| g.len);
            if stored < bytes {
                return Err(SupplyError::Exhausted {
                    link: hops[i].to_string(),
                    stored: stored as u64,
                    wanted: bytes as u64,
                });
            }
        }
        let mut key = Zeroizing::new(vec![0u8; bytes]);
        guards[0].as_mut().expect("locked").take_into(bytes, &mut key);
        // Each further hop: the relay sends key ⊕ hop key; the far end XORs its copy of the
        // hop key out again and holds `key`.
        let mut hop_key = Zeroizing::new(vec![0u8; bytes]);
        for g in guards.iter_mut().skip(1) {
            g.as_mut().expect("locked").take_into(bytes, &mut hop_key);
            let sent: Zeroizing<Vec<u8>> = Zeroizing::new(key.iter().zip(hop_key.iter()).map(|(k, h)| k ^ h).collect());
            for ((k, s), h) in key.iter_mut().zip(sent.iter()).zip(hop_key.iter()) {
                *k = s ^ h;
            }
        }
        let source = if hops.len() == 1 { KeySource::Qkd } else { KeySource::Relay };
        Ok(SuppliedKey { material: SecretBytes::new(std::mem::take(&mut *key)), source })
    }

    fn stored_bytes(&self, route: &Route) -> u64 {
        Self::hops(route).iter().map(|h| self.buffer(h).map_or(0, |b| b.len as u64)).min().unwrap_or(0)
    }

    fn capacity_bytes(&self, route: &Route) -> u64 {
        Self::hops(route).iter().map(|h| self.buffer(h).map_or(0, |b| b.capacity() as u64)).min().unwrap_or(0)
    }

    fn view(&self, _route: &Route) -> RouteView {
        // No physics behind this supply: the link is in QKD mode, nothing is measured.
        RouteView { mode: "qkd", qber: None, key_rate_bps: None }
    }
}
