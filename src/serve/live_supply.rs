//! The KMEs' key supply behind the live mesh: every link's key buffer is the mesh's own (the
//! block rung fills it, the mesh's session keys spend it), and the keys handed to
//! applications spend it too. The KMEs read a snapshot of the links and nodes that the store
//! writer refreshes after every step of the mesh ([`LiveSupply::sync`]), and record what they
//! spend, which the next sync takes from the mesh's buffers.
//!
//! Routes (the QECNet spec; ETSI GR QKD 003 §5.3 trusted-node relay):
//! - the direct link, when it is in QKD mode, not severed, and its buffer can pay;
//! - else the cheapest trusted-node relay path ([`Graph::shortest`]: hops, then latency) whose
//!   every hop can pay, through nodes that are up and not isolated; the key is the first
//!   hop's key, one-time-pad encrypted hop by hop (every hop spends the key's length);
//! - else, when some path is in QKD mode but short of key, no key (503: wait for the buffer);
//! - else (no path in QKD mode) the X25519 + ML-KEM-1024 hybrid exchange, `pqc-fallback`.
//!
//! The bytes come from a ChaCha20 stream keyed from the operating system, never from the
//! scenario's seed: the seed reproduces the physics, not the keys.

use std::sync::{Mutex, MutexGuard};

use hkdf::Hkdf;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::directory::Route;
use super::supply::{KeySource, KeySupply, RouteView, SuppliedKey, SupplyError};
use crate::crypto::{HybridKemKey, KemSuite, SecretBytes, encapsulate};
use crate::mesh::{Graph, LiveLink, LiveMesh, LiveNode};

/// HKDF-SHA256 gives at most 255 blocks of 32 bytes per expansion.
const HKDF_MAX_BYTES: usize = 255 * 32;

/// Key for the KMEs from the live mesh's link buffers.
pub struct LiveSupply {
    state: Mutex<State>,
}

struct State {
    links: Vec<LiveLink>,
    nodes: Vec<LiveNode>,
    graph: Graph,
    /// Bits the KMEs spent per link since the last sync.
    spent_bits: Vec<u64>,
    /// The mesh's rotations converged, per kind.
    rotations: [(&'static str, u64); 3],
    rng: ChaCha20Rng,
}

impl State {
    fn node(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    fn link(&self, id: &str) -> Result<usize, SupplyError> {
        self.links.iter().position(|l| l.id == id).ok_or_else(|| SupplyError::UnknownLink(id.to_string()))
    }

    /// Bits link `i` can still pay.
    fn available_bits(&self, i: usize) -> u64 {
        self.links[i].buffer_bits.saturating_sub(self.spent_bits[i])
    }

    /// In QKD mode and not severed, and (with `bits`) able to pay them.
    fn usable(&self, i: usize, bits: Option<u64>) -> bool {
        let l = &self.links[i];
        l.qkd_mode && !l.severed && bits.is_none_or(|b| self.available_bits(i) >= b)
    }

    fn can_relay(&self, n: usize) -> bool {
        !self.nodes[n].down && !self.nodes[n].isolated
    }

    /// The direct link between `a` and `b` usable with `bits`, else the cheapest relay path.
    fn qkd_route(&self, a: usize, b: usize, bits: Option<u64>) -> Option<Route> {
        let direct = self.links.iter().position(|l| (l.a, l.b) == (a, b) || (l.a, l.b) == (b, a));
        if let Some(i) = direct
            && self.usable(i, bits)
        {
            return Some(Route::Direct(self.links[i].id.clone()));
        }
        let path = self.graph.shortest(a, b, |l| self.usable(l, bits), |n| self.can_relay(n))?;
        if path.hops() == 1 {
            // The graph's only one-hop path is the direct link, unusable above.
            return None;
        }
        Some(Route::Relay(path.links.iter().map(|&l| self.links[l].id.clone()).collect()))
    }

    fn hops(&self, route: &Route) -> Result<Vec<usize>, SupplyError> {
        match route {
            Route::Direct(link) => Ok(vec![self.link(link)?]),
            Route::Relay(hops) => hops.iter().map(|h| self.link(h)).collect(),
            Route::Fallback => Ok(Vec::new()),
        }
    }
}

impl LiveSupply {
    /// A supply over this snapshot of the mesh (see [`LiveSupply::sync`]).
    pub fn new(links: Vec<LiveLink>, nodes: Vec<LiveNode>, graph: Graph) -> Result<Self, SupplyError> {
        let rng =
            ChaCha20Rng::try_from_rng(&mut rand::rngs::SysRng).map_err(|e| SupplyError::Entropy(e.to_string()))?;
        let spent_bits = vec![0; links.len()];
        let rotations = [("scheduled", 0), ("triggered", 0), ("emergency", 0)];
        Ok(LiveSupply { state: Mutex::new(State { links, nodes, graph, spent_bits, rotations, rng }) })
    }

    /// A supply over `mesh` as it is now.
    pub fn of(mesh: &LiveMesh<'_>) -> Result<Self, SupplyError> {
        LiveSupply::new(mesh.links(), mesh.nodes(), mesh.graph().clone())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes what the KMEs spent since the last sync from the mesh's buffers, then reads the
    /// links' and nodes' state again (in place: their ids and ends never change).
    pub fn sync(&self, mesh: &mut LiveMesh<'_>) {
        let mut state = self.lock();
        let state = &mut *state;
        for (i, spent) in state.spent_bits.iter_mut().enumerate() {
            if *spent > 0 {
                mesh.spend(i, *spent);
                *spent = 0;
            }
        }
        mesh.refresh_links(&mut state.links);
        mesh.refresh_nodes(&mut state.nodes);
        state.rotations = mesh.rotations();
    }

    /// The links as the KMEs see them now (buffers net of what they spent since the sync).
    pub fn links(&self) -> Vec<LiveLink> {
        let state = self.lock();
        (0..state.links.len())
            .map(|i| LiveLink { buffer_bits: state.available_bits(i), ..state.links[i].clone() })
            .collect()
    }
}

impl KeySupply for LiveSupply {
    fn route(&self, a: &str, b: &str, bytes: usize) -> Result<Route, SupplyError> {
        let state = self.lock();
        let (Some(ia), Some(ib)) = (state.node(a), state.node(b)) else {
            return Err(SupplyError::NoPath { from: a.to_string(), to: b.to_string() });
        };
        for n in [ia, ib] {
            let node = &state.nodes[n];
            if node.isolated {
                return Err(SupplyError::Isolated(node.name.clone()));
            }
            if node.down {
                return Err(SupplyError::Down(node.name.clone()));
            }
        }
        let bits = (bytes as u64).saturating_mul(8);
        if let Some(route) = state.qkd_route(ia, ib, Some(bits)) {
            return Ok(route);
        }
        match state.qkd_route(ia, ib, None) {
            // On QKD, but no path can pay now: the application waits for key.
            Some(route) => Ok(route),
            None => Ok(Route::Fallback),
        }
    }

    fn isolated_nodes(&self) -> Vec<String> {
        self.lock().nodes.iter().filter(|n| n.isolated).map(|n| n.name.clone()).collect()
    }

    fn is_isolated(&self, node: &str) -> bool {
        self.lock().nodes.iter().any(|n| n.isolated && n.name == node)
    }

    fn take(&self, route: &Route, bytes: usize) -> Result<SuppliedKey, SupplyError> {
        let mut state = self.lock();
        let hops = state.hops(route)?;
        if hops.is_empty() {
            // The exchange (about 0.3 ms) runs outside the lock, on a generator seeded from ours.
            let mut seed = Zeroizing::new([0u8; 32]);
            state.rng.fill_bytes(&mut seed[..]);
            drop(state);
            let material = hybrid_exchange_key(bytes, &mut ChaCha20Rng::from_seed(*seed))?;
            return Ok(SuppliedKey { material, source: KeySource::PqcFallback });
        }
        let bits = (bytes as u64).saturating_mul(8);
        for &h in &hops {
            if !state.usable(h, Some(bits)) {
                return Err(SupplyError::Exhausted {
                    link: state.links[h].id.clone(),
                    stored: state.available_bits(h) / 8,
                    wanted: bytes as u64,
                });
            }
        }
        let mut key = Zeroizing::new(vec![0u8; bytes]);
        state.rng.fill_bytes(&mut key);
        // Each further hop: the relay sends key ⊕ hop key; the far end removes its copy of
        // the hop key again and holds `key`.
        let mut hop_key = Zeroizing::new(vec![0u8; bytes]);
        for _ in hops.iter().skip(1) {
            state.rng.fill_bytes(&mut hop_key);
            let sent: Zeroizing<Vec<u8>> = Zeroizing::new(key.iter().zip(hop_key.iter()).map(|(k, h)| k ^ h).collect());
            for ((k, s), h) in key.iter_mut().zip(sent.iter()).zip(hop_key.iter()) {
                *k = s ^ h;
            }
        }
        for &h in &hops {
            state.spent_bits[h] += bits;
        }
        let source = if hops.len() == 1 { KeySource::Qkd } else { KeySource::Relay };
        Ok(SuppliedKey { material: SecretBytes::new(std::mem::take(&mut *key)), source })
    }

    fn stored_bytes(&self, route: &Route) -> u64 {
        let state = self.lock();
        match state.hops(route) {
            Ok(hops) if !hops.is_empty() => hops.iter().map(|&h| state.available_bits(h) / 8).min().unwrap_or(0),
            // The fallback exchange makes key on demand; nothing is stored.
            _ => 0,
        }
    }

    fn capacity_bytes(&self, route: &Route) -> u64 {
        let state = self.lock();
        match state.hops(route) {
            Ok(hops) if !hops.is_empty() => hops.iter().map(|&h| state.links[h].capacity_bits / 8).min().unwrap_or(0),
            _ => 0,
        }
    }

    fn view(&self, route: &Route) -> RouteView {
        let state = self.lock();
        let hops = state.hops(route).unwrap_or_default();
        if hops.is_empty() {
            return RouteView { mode: "fallback", qber: None, key_rate_bps: None };
        }
        // A path is as good as its worst hop: the highest QBER, the lowest rate.
        let qber = hops
            .iter()
            .filter_map(|&h| state.links[h].qber)
            .fold(None, |m: Option<f64>, q| Some(m.map_or(q, |m| m.max(q))));
        let rate = hops.iter().map(|&h| state.links[h].key_rate_bps).fold(f64::INFINITY, f64::min);
        let mode = if hops.iter().all(|&h| state.links[h].qkd_mode) { "qkd" } else { "fallback" };
        RouteView { mode, qber, key_rate_bps: rate.is_finite().then_some(rate) }
    }

    fn fallback_switches(&self, link: &str) -> u64 {
        let state = self.lock();
        state.link(link).map_or(0, |i| state.links[i].fallback_switches)
    }

    fn rotations(&self) -> [(&'static str, u64); 3] {
        self.lock().rotations
    }
}

/// `bytes` of key from one X25519 + ML-KEM-1024 hybrid exchange between the two KMEs (the
/// slave's KME publishes a fresh key, the master's encapsulates, both derive the same
/// secret), expanded with HKDF-SHA256 (RFC 5869) in blocks of at most 8,160 bytes.
fn hybrid_exchange_key(bytes: usize, rng: &mut ChaCha20Rng) -> Result<SecretBytes, SupplyError> {
    let crypto = |e: crate::crypto::CryptoError| SupplyError::Fallback(e.to_string());
    let seed = SecretBytes::random(96, "fallback KEM key", rng).map_err(crypto)?;
    let responder = HybridKemKey::from_material(&seed, KemSuite::X25519MlKem1024).map_err(crypto)?;
    let (enc, initiator_secret) = encapsulate(&responder.public(), rng).map_err(crypto)?;
    let responder_secret = responder.decapsulate(&enc).map_err(crypto)?;
    if initiator_secret.expose() != responder_secret.expose() {
        return Err(SupplyError::Fallback("the two ends derived different secrets".into()));
    }
    let hkdf = Hkdf::<Sha256>::new(Some(b"qecnet etsi014 pqc-fallback"), initiator_secret.expose());
    let mut key = Zeroizing::new(vec![0u8; bytes]);
    for (block, chunk) in key.chunks_mut(HKDF_MAX_BYTES).enumerate() {
        let info = (block as u64).to_be_bytes();
        hkdf.expand(&info, chunk).map_err(|_| SupplyError::Fallback("HKDF output too long".into()))?;
    }
    Ok(SecretBytes::new(std::mem::take(&mut *key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(id: &str, a: usize, b: usize, bits: u64, qkd: bool) -> LiveLink {
        LiveLink {
            id: id.into(),
            a,
            b,
            qkd_mode: qkd,
            severed: false,
            qber: Some(0.02),
            key_rate_bps: 1e4,
            buffer_bits: bits,
            capacity_bits: 1 << 20,
            fallback_switches: 0,
        }
    }

    fn node(name: &str) -> LiveNode {
        LiveNode { name: name.into(), down: false, isolated: false }
    }

    /// hub(0)–n1(1), hub–n2(2), n1–n2: a triangle.
    fn triangle(n1_n2_bits: u64, n1_n2_qkd: bool) -> LiveSupply {
        let links = vec![
            link("hub-n1", 0, 1, 8192, true),
            link("hub-n2", 0, 2, 8192, true),
            link("n1-n2", 1, 2, n1_n2_bits, n1_n2_qkd),
        ];
        let graph = Graph::new(3, &[(0, 1, 100), (0, 2, 100), (1, 2, 100)]);
        LiveSupply::new(links, vec![node("hub"), node("n1"), node("n2")], graph).unwrap()
    }

    #[test]
    fn a_pair_takes_its_direct_link_while_it_can_pay() {
        let s = triangle(8192, true);
        let route = s.route("n1", "n2", 32).unwrap();
        assert_eq!(route, Route::Direct("n1-n2".into()));
        let key = s.take(&route, 32).unwrap();
        assert_eq!((key.source, key.material.len()), (KeySource::Qkd, 32));
        assert_eq!(s.stored_bytes(&route), 1024 - 32);
    }

    #[test]
    fn a_pair_whose_direct_link_is_short_of_key_is_relayed_and_every_hop_pays() {
        let s = triangle(64, true);
        let route = s.route("n1", "n2", 32).unwrap();
        assert_eq!(route, Route::Relay(vec!["hub-n1".into(), "hub-n2".into()]));
        let key = s.take(&route, 32).unwrap();
        assert_eq!(key.source, KeySource::Relay);
        let links = s.links();
        assert_eq!((links[0].buffer_bits, links[1].buffer_bits, links[2].buffer_bits), (8192 - 256, 8192 - 256, 64));
    }

    #[test]
    fn a_pair_without_any_qkd_path_gets_hybrid_exchange_key() {
        let s = triangle(8192, false);
        {
            let mut st = s.lock();
            st.links[0].qkd_mode = false;
        }
        let route = s.route("n1", "n2", 64).unwrap();
        assert_eq!(route, Route::Fallback);
        let a = s.take(&route, 10_000).unwrap();
        let b = s.take(&route, 10_000).unwrap();
        assert_eq!((a.source, a.material.len()), (KeySource::PqcFallback, 10_000));
        assert_ne!(a.material.expose(), b.material.expose(), "every exchange gives fresh key");
        assert_eq!(s.view(&route).mode, "fallback");
    }

    #[test]
    fn an_exhausted_qkd_path_is_no_key_not_fallback() {
        let s = triangle(0, true);
        {
            let mut st = s.lock();
            st.links[0].buffer_bits = 0;
        }
        let route = s.route("n1", "n2", 32).unwrap();
        assert_eq!(route, Route::Direct("n1-n2".into()));
        assert!(matches!(s.take(&route, 32), Err(SupplyError::Exhausted { .. })));
    }

    #[test]
    fn an_isolated_or_crashed_end_gets_no_key_and_never_relays() {
        let s = triangle(0, true);
        s.lock().nodes[0].down = true;
        // The hub is down: no relay, and the direct link cannot pay.
        assert!(matches!(s.take(&s.route("n1", "n2", 32).unwrap(), 32), Err(SupplyError::Exhausted { .. })));
        s.lock().nodes[1].isolated = true;
        assert_eq!(s.route("n1", "n2", 32).unwrap_err(), SupplyError::Isolated("n1".into()));
    }
}
