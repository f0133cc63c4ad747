//! The KMEs' metrics, in the OpenMetrics text format that Prometheus scrapes (the
//! `prometheus-client` crate): keys delivered to masters and collected by slaves per source,
//! keys expired, keys waiting, each link's stored key, mode, QBER, key rate and switches to
//! fallback, the mesh's rotations per kind, and a latency histogram of the ETSI requests per
//! kind and status. Counters are kept as the KMEs work; the per-link gauges
//! are read from the key supply at each scrape. No metric carries key bytes or key IDs.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::directory::Route;
use super::supply::{KeySource, KeySupply};

type Labels = Vec<(&'static str, String)>;

fn histogram() -> Histogram {
    // 100 µs to about 1.6 s.
    Histogram::new(exponential_buckets(1e-4, 2.0, 15))
}

/// The KMEs' counters and histograms, and the registry that encodes them.
pub struct ServeMetrics {
    registry: Registry,
    delivered: Family<Labels, Counter>,
    collected: Family<Labels, Counter>,
    expired: Counter,
    outstanding: Gauge,
    buffer_bits: Family<Labels, Gauge>,
    qkd_mode: Family<Labels, Gauge>,
    qber: Family<Labels, Gauge<f64, AtomicU64>>,
    key_rate: Family<Labels, Gauge<f64, AtomicU64>>,
    fallback_switches: Family<Labels, Counter>,
    rotations: Family<Labels, Counter>,
    requests: Family<Labels, Histogram, fn() -> Histogram>,
}

impl Default for ServeMetrics {
    fn default() -> Self {
        ServeMetrics::new()
    }
}

impl ServeMetrics {
    /// Every metric, registered under the `qecnet_serve` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("qecnet_serve");
        let delivered = Family::<Labels, Counter>::default();
        registry.register("keys_delivered", "Keys handed to master SAEs, by source", delivered.clone());
        let collected = Family::<Labels, Counter>::default();
        registry.register("keys_collected", "Keys handed to slave SAEs, by source", collected.clone());
        let expired = Counter::default();
        registry.register("keys_expired", "Keys their slave never collected, erased", expired.clone());
        let outstanding = Gauge::default();
        registry.register("keys_outstanding", "Keys waiting for their slave", outstanding.clone());
        let buffer_bits = Family::<Labels, Gauge>::default();
        registry.register("link_buffer_bits", "Key stored in each QKD link's buffer (bits)", buffer_bits.clone());
        let qkd_mode = Family::<Labels, Gauge>::default();
        registry.register("link_qkd_mode", "1 while a link serves QKD key, 0 in fallback", qkd_mode.clone());
        let qber = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        registry.register("link_qber", "Each link's QBER in its latest monitoring window", qber.clone());
        let key_rate = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        registry.register("link_key_rate_bps", "Each link's secret key rate, latest block (bit/s)", key_rate.clone());
        let fallback_switches = Family::<Labels, Counter>::default();
        registry.register(
            "link_fallback_switches",
            "Switches of each link from QKD to fallback",
            fallback_switches.clone(),
        );
        let rotations = Family::<Labels, Counter>::default();
        registry.register("rotations", "The mesh's key rotations converged, by kind", rotations.clone());
        let requests = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(histogram);
        registry.register("request_seconds", "ETSI 014 request latency by kind and status (s)", requests.clone());
        ServeMetrics {
            registry,
            delivered,
            collected,
            expired,
            outstanding,
            buffer_bits,
            qkd_mode,
            qber,
            key_rate,
            fallback_switches,
            rotations,
            requests,
        }
    }

    /// `n` keys from `source` handed to a master.
    pub fn delivered(&self, source: KeySource, n: u64) {
        self.delivered.get_or_create(&vec![("source", source.as_str().to_string())]).inc_by(n);
    }

    /// `n` keys from `source` handed to a slave.
    pub fn collected(&self, source: KeySource, n: u64) {
        self.collected.get_or_create(&vec![("source", source.as_str().to_string())]).inc_by(n);
    }

    /// `n` keys expired.
    pub fn expired(&self, n: u64) {
        self.expired.inc_by(n);
    }

    /// One request of `kind` (`status`, `enc_keys`, `dec_keys`, `other`) answered with HTTP
    /// `status` after `seconds`.
    pub fn request(&self, kind: &'static str, status: u16, seconds: f64) {
        self.requests.get_or_create(&vec![("kind", kind.to_string()), ("status", status.to_string())]).observe(seconds);
    }

    /// The text a scrape gets: every metric, the per-link gauges read from `supply` for each
    /// of `links` now, and `outstanding` keys waiting.
    pub fn encode(&self, supply: &dyn KeySupply, links: &[String], outstanding: usize) -> String {
        for link in links {
            let route = Route::Direct(link.clone());
            let labels = vec![("link", link.clone())];
            let bits = supply.stored_bytes(&route).saturating_mul(8);
            self.buffer_bits.get_or_create(&labels).set(i64::try_from(bits).unwrap_or(i64::MAX));
            let view = supply.view(&route);
            self.qkd_mode.get_or_create(&labels).set(i64::from(view.mode == "qkd"));
            if let Some(q) = view.qber {
                self.qber.get_or_create(&labels).set(q);
            }
            if let Some(r) = view.key_rate_bps {
                self.key_rate.get_or_create(&labels).set(r);
            }
            catch_up(&self.fallback_switches.get_or_create(&labels), supply.fallback_switches(link));
        }
        for (kind, n) in supply.rotations() {
            catch_up(&self.rotations.get_or_create(&vec![("kind", kind.to_string())]), n);
        }
        self.outstanding.set(i64::try_from(outstanding).unwrap_or(i64::MAX));
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

/// Moves `counter` up to the mesh's running total `total` (counters only go up).
fn catch_up(counter: &Counter, total: u64) {
    counter.inc_by(total.saturating_sub(counter.get()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::{Graph, LiveLink, LiveNode};
    use crate::serve::LiveSupply;

    #[test]
    fn a_scrape_reports_the_counters_and_each_links_buffer() {
        let metrics = ServeMetrics::new();
        metrics.delivered(KeySource::Qkd, 3);
        metrics.collected(KeySource::Relay, 2);
        metrics.expired(1);
        metrics.request("enc_keys", 200, 0.002);
        let link = LiveLink {
            id: "n1-n2".into(),
            a: 0,
            b: 1,
            qkd_mode: true,
            severed: false,
            qber: Some(0.02),
            key_rate_bps: 1500.0,
            buffer_bits: 8192,
            capacity_bits: 1 << 20,
            fallback_switches: 2,
        };
        let nodes = ["n1", "n2"].map(|n| LiveNode { name: n.into(), down: false, isolated: false }).to_vec();
        let supply = LiveSupply::new(vec![link], nodes, Graph::new(2, &[(0, 1, 100)])).unwrap();
        let text = metrics.encode(&supply, &["n1-n2".to_string()], 5);
        for line in [
            "qecnet_serve_keys_delivered_total{source=\"qkd\"} 3",
            "qecnet_serve_keys_collected_total{source=\"relay\"} 2",
            "qecnet_serve_keys_expired_total 1",
            "qecnet_serve_keys_outstanding 5",
            "qecnet_serve_link_buffer_bits{link=\"n1-n2\"} 8192",
            "qecnet_serve_link_qkd_mode{link=\"n1-n2\"} 1",
            "qecnet_serve_link_qber{link=\"n1-n2\"} 0.02",
            "qecnet_serve_link_key_rate_bps{link=\"n1-n2\"} 1500.0",
            "qecnet_serve_request_seconds_count{kind=\"enc_keys\",status=\"200\"} 1",
            "qecnet_serve_link_fallback_switches_total{link=\"n1-n2\"} 2",
            "qecnet_serve_rotations_total{kind=\"scheduled\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} missing from\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "OpenMetrics text ends with # EOF");
    }
}
