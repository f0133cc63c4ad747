//! Times the mesh's key-relay router (`qecnet::mesh::Graph::shortest`) on the graphs of the
//! 50-node scenarios: the hub and 50 nodes on a golden-angle spiral within 55 km of it (as
//! sims/mesh-large.toml), with every pair linked up to 150 km of fibre (the full mesh) or up
//! to 80 km (sims/mesh-large-compromise.toml), one node forbidden as a relay.
//!
//! `cargo run --release --example routing_timing`

use std::time::Instant;

use qecnet::mesh::Graph;

/// The graph of 51 nodes with links up to `max_km` of fibre (route factor 1.3), latencies of
/// 5 µs/km plus 200 µs per hop (the default `[messages]`), in ns.
fn spiral(max_km: f64) -> (Graph, usize) {
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    let pos: Vec<(f64, f64)> = (0..51)
        .map(|i| {
            let r = 55.0 * (i as f64 / 50.0).sqrt();
            (r * (i as f64 * golden).cos(), r * (i as f64 * golden).sin())
        })
        .collect();
    let mut links = Vec::new();
    for a in 0..51 {
        for b in a + 1..51 {
            let km = ((pos[a].0 - pos[b].0).powi(2) + (pos[a].1 - pos[b].1).powi(2)).sqrt() * 1.3;
            if km <= max_km {
                links.push((a, b, ((km * 5.0 + 200.0) * 1e3) as u64));
            }
        }
    }
    let n = links.len();
    (Graph::new(51, &links), n)
}

fn main() {
    for max_km in [150.0, 80.0] {
        let (g, links) = spiral(max_km);
        let pairs: Vec<(usize, usize)> = (1..51).flat_map(|a| (a + 1..51).map(move |b| (a, b))).collect();
        let forbidden = 33;
        // Every pair searched over all links, one relay forbidden (the early exit at the
        // destination makes a pair with a direct link cheap).
        let start = Instant::now();
        let mut hops = 0usize;
        let rounds = 20;
        for _ in 0..rounds {
            for &(a, b) in &pairs {
                let r = g.shortest(a, b, |_| true, |n| n != forbidden);
                hops += r.map_or(0, |r| r.hops());
            }
        }
        let searches = rounds * pairs.len();
        let per = start.elapsed().as_secs_f64() / searches as f64;
        println!(
            "max_link_km = {max_km}: {links} links, {searches} searches, {:.2} µs per search, mean {:.2} hops; \
             all {} pairs searched once: {:.2} ms",
            per * 1e6,
            hops as f64 / searches as f64,
            pairs.len(),
            per * pairs.len() as f64 * 1e3
        );
    }
}
