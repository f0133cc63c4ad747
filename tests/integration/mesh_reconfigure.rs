//! The mesh reconfiguring itself: pairs without a usable direct link take the cheapest
//! trusted-node relay path (hops, then latency), isolating a node moves the pairs it relayed
//! to other paths at once (their keys it saw revoked), a hub crash keeps every pair that still
//! has a fibre path on QKD key, a pair with no path at all falls back to ML-KEM-1024 and
//! returns to QKD with its path, a relay is never a compromised or down node, and the same
//! seed gives the same outputs.

use qecnet::mesh::{MeshOutputs, MeshScenario, MeshSummary, run_mesh};

use crate::util::{MESH_TEST_TABLES, TempDir};

/// The test mesh: the hub, n1..n5, explicit links (km). n1-n2 has no direct link: via n3
/// (2 × 5 km) is cheaper than via the hub (2 × 10 km) or via n4 (2 × 15 km). n5 hangs on the
/// hub alone, so its pairs with the others go through the hub or nowhere.
pub(crate) fn scenario(duration: &str, events: &str) -> MeshScenario {
    let text = format!(
        r#"
[mesh]
duration = "{duration}"
window = "10s"
seed = 5
{MESH_TEST_TABLES}
[link_defaults.channel]
attenuation_db_per_km = 0.2
[[node]]
name = "n1"
[[node]]
name = "n2"
[[node]]
name = "n3"
[[node]]
name = "n4"
[[node]]
name = "n5"
[[link]]
a = "hub"
b = "n1"
length_km = 10.0
[[link]]
a = "hub"
b = "n2"
length_km = 10.0
[[link]]
a = "n1"
b = "n3"
length_km = 5.0
[[link]]
a = "n3"
b = "n2"
length_km = 5.0
[[link]]
a = "n1"
b = "n4"
length_km = 15.0
[[link]]
a = "n4"
b = "n2"
length_km = 15.0
[[link]]
a = "hub"
b = "n5"
length_km = 10.0
{events}
"#
    );
    toml::from_str(&text).unwrap()
}

/// A finished run: its summary, CSVs and store (in its temporary directory).
pub(crate) struct Run {
    pub(crate) summary: MeshSummary,
    pub(crate) trace: String,
    pub(crate) rotations: String,
    pub(crate) coverage: String,
    pub(crate) db: std::path::PathBuf,
    _dir: TempDir,
}

pub(crate) fn run(name: &str, s: &MeshScenario) -> Run {
    let dir = TempDir::new(&format!("mesh-reconfigure-{name}"));
    let outputs = MeshOutputs {
        db: dir.join("store.db"),
        trace: Some(dir.join("trace.csv")),
        timeseries: None,
        rotations: Some(dir.join("rotations.csv")),
        coverage: Some(dir.join("coverage.csv")),
        overwrite: false,
    };
    let summary = run_mesh(s, &outputs, &|_, _| {}).unwrap();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    Run {
        summary,
        trace: read("trace.csv"),
        rotations: read("rotations.csv"),
        coverage: read("coverage.csv"),
        db: dir.join("store.db"),
        _dir: dir,
    }
}

/// A converged rotation: (start s, channel, kind, convergence ms, source).
pub(crate) fn rotations(csv: &str) -> Vec<(f64, String, String, f64, String)> {
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("start_s,channel,kind,convergence_ms,delayed_by_crash,attempts,convergence_from_success_ms,source")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[1].into(), f[2].into(), f[3].parse().unwrap(), f[7].into())
        })
        .collect()
}

/// The `route:change` rows of the trace: (time s, pair, new route, detail).
pub(crate) fn route_changes(trace: &str) -> Vec<(f64, String, String, String)> {
    trace
        .lines()
        .skip(1)
        .filter(|l| l.contains(",route:change,"))
        .map(|l| {
            let f: Vec<&str> = l.splitn(7, ',').collect();
            (f[0].parse().unwrap(), f[1].into(), f[3].into(), f[6].into())
        })
        .collect()
}

/// The sources of the rotations of `channel` that started in `[from, to)`.
pub(crate) fn sources(rows: &[(f64, String, String, f64, String)], channel: &str, from: f64, to: f64) -> Vec<String> {
    rows.iter().filter(|r| r.1 == channel && r.0 >= from && r.0 < to).map(|r| r.4.clone()).collect()
}

#[test]
fn a_pair_without_a_direct_link_takes_the_cheapest_relay_path() {
    let r = run("cheapest", &scenario("1h", ""));
    let rows = rotations(&r.rotations);
    let n1n2 = sources(&rows, "n1-n2", 0.0, 3600.0);
    assert!(n1n2.len() >= 10, "{n1n2:?}");
    assert!(n1n2.iter().all(|s| s == "relay:n3"), "{n1n2:?}");
    // n5 reaches n1 only through the hub.
    assert!(sources(&rows, "n1-n5", 0.0, 3600.0).iter().all(|s| s == "relay:hub"));
    // n3-n5 and n4-n5 need three hops (n3-n1-hub-n5: via n1, the relay of smaller index);
    // every hop pays one session key.
    assert!(sources(&rows, "n3-n5", 0.0, 3600.0).iter().all(|s| s == "relay:n1+hub"));
    assert!(sources(&rows, "n4-n5", 0.0, 3600.0).iter().all(|s| s == "relay:n1+hub"));
    let s = &r.summary.routing;
    assert_eq!(s.relay_hops.len(), 4, "{:?}", s.relay_hops);
    assert_eq!(s.relay_hops[2] + s.relay_hops[3], s.session_keys_relayed);
    assert_eq!(s.relay_key_bits_consumed, 256 * (2 * s.relay_hops[2] + 3 * s.relay_hops[3]));
    let carried: u64 = r.summary.per_link.iter().map(|l| l.relay_hops_carried).sum();
    assert_eq!(carried, 2 * s.relay_hops[2] + 3 * s.relay_hops[3]);
    assert_eq!(s.session_keys_fallback, 0);
    assert_eq!(r.summary.key_use_violations, 0);
}

#[test]
fn isolating_a_node_moves_the_pairs_it_relayed_to_other_paths_within_one_window() {
    let at = 1800.0;
    let r =
        run("isolate", &scenario("1h", &format!("[[event]]\nat = \"{at}s\"\nkind = \"compromise\"\nnode = \"n3\"\n")));
    let changes = route_changes(&r.trace);
    let moved: Vec<_> = changes.iter().filter(|c| c.1 == "n1-n2").collect();
    assert_eq!(moved.len(), 1, "{changes:?}");
    // Isolation at `at` + 1 ns: the route moves at once, to the next cheapest (via the hub).
    assert!((moved[0].0 - at).abs() < 1e-6, "{moved:?}");
    assert_eq!(moved[0].2, "relay via hub (2 hops)");
    // The key n3 had relayed is revoked and the pair re-keyed over the new path, converged
    // well within one window (10 s).
    assert!(r.summary.routing.relayed_keys_revoked >= 1);
    let rows = rotations(&r.rotations);
    let rekey: Vec<_> = rows.iter().filter(|x| x.1 == "n1-n2" && x.2 == "emergency").collect();
    assert_eq!(rekey.len(), 1, "{rekey:?}");
    assert!((rekey[0].0 - at).abs() < 1e-6 && rekey[0].3 < 10_000.0, "{rekey:?}");
    assert_eq!(rekey[0].4, "relay:hub");
    // No key after the isolation goes through n3, and the audit verifies.
    assert!(rows.iter().filter(|x| x.0 >= at).all(|x| !x.4.contains("n3")), "{rows:?}");
    assert_eq!(r.summary.key_use_violations, 0);
}

#[test]
fn a_hub_crash_keeps_every_pair_with_a_fibre_path_on_qkd_key_and_a_pair_without_one_falls_back_until_it_returns() {
    let (down, up) = (1800.0, 3600.0);
    let events =
        format!("[[event]]\nat = \"{down}s\"\nkind = \"crash\"\nnode = \"hub\"\nrestart_after = \"{}s\"\n", up - down);
    let r = run("hub", &scenario("90m", &events));
    let rows = rotations(&r.rotations);
    // n1-n2 and n1-n4 ... never need the hub; the n5 pairs have no path without it.
    let inside = |ch: &str| sources(&rows, ch, down + 1.0, up);
    for ch in ["n1-n2", "n1-n3", "n1-n4", "n3-n2", "n4-n2", "n3-n4"] {
        let s = inside(ch);
        assert!(s.len() >= 5, "{ch}: {s:?}");
        assert!(s.iter().all(|x| x == "direct" || x.starts_with("relay:")), "{ch}: {s:?}");
        assert!(s.iter().all(|x| !x.contains("hub")), "{ch}: {s:?}");
    }
    for ch in ["n1-n5", "n2-n5", "n3-n5", "n4-n5"] {
        let s = inside(ch);
        assert!(s.len() >= 5 && s.iter().all(|x| x == "fallback"), "{ch}: {s:?}");
        // Back on QKD (through the hub) once it returns.
        let via_hub = |x: &String| x.starts_with("relay:") && x.contains("hub");
        let after = sources(&rows, ch, up + 1.0, 5400.0);
        assert!(!after.is_empty() && after.iter().all(via_hub), "{ch}: {after:?}");
        let before = sources(&rows, ch, 0.0, down);
        assert!(!before.is_empty() && before.iter().all(via_hub), "{ch}: {before:?}");
    }
    // The reconfigurations at the crash and at the return are in the trace.
    let changes = route_changes(&r.trace);
    assert!(changes.iter().any(|c| c.1 == "n1-n5" && c.2 == "fallback" && (c.0 - down).abs() < 1e-6), "{changes:?}");
    assert!(changes.iter().any(|c| c.1 == "n1-n5" && c.2 == "relay via hub (2 hops)" && (c.0 - up).abs() < 1e-6));
    // Coverage over the 13 pairs (7 links, 6 pairs without one): once every pair has
    // refreshed in the outage, exactly the 4 n5 pairs are on fallback; none before or after.
    let mut lines = r.coverage.lines();
    assert_eq!(lines.next(), Some("time_s,direct,relay,fallback,local,none"));
    let refresh = 300.0 + 20.0; // the refresh interval and its stagger
    let mut checked = (0, 0);
    for l in lines {
        let f: Vec<f64> = l.split(',').map(|x| x.parse().unwrap()).collect();
        assert!((f[1..].iter().sum::<f64>() - 1.0).abs() < 1e-9, "{l}");
        if f[0] >= down + refresh && f[0] < up {
            assert!((f[3] - 4.0 / 13.0).abs() < 1e-12, "{l}");
            checked.0 += 1;
        } else if f[0] < down || f[0] >= up + refresh {
            assert_eq!(f[3], 0.0, "{l}");
            checked.1 += 1;
        }
    }
    assert!(checked.0 > 100 && checked.1 > 100, "{checked:?}");
    assert_eq!(r.summary.routing.hub_outages, 1);
    assert_eq!(r.summary.key_use_violations, 0);
}

#[test]
fn a_relay_is_never_a_compromised_isolated_or_down_node() {
    // n3 down for 10 min, then n4 compromised: keys relayed in the meantime avoid them.
    let events = "[[event]]\nat = \"1200s\"\nkind = \"crash\"\nnode = \"n3\"\nrestart_after = \"600s\"\n\
                  [[event]]\nat = \"2400s\"\nkind = \"compromise\"\nnode = \"n4\"\n";
    let r = run("trust", &scenario("1h", events));
    let rows = rotations(&r.rotations);
    for row in &rows {
        let via = row.4.strip_prefix("relay:").unwrap_or("");
        let relays: Vec<&str> = via.split('+').filter(|v| !v.is_empty()).collect();
        if (1201.0..1800.0).contains(&row.0) {
            assert!(!relays.contains(&"n3"), "{row:?}");
        }
        if row.0 >= 2400.0 {
            assert!(!relays.contains(&"n4"), "{row:?}");
        }
    }
    // While n3 was down n1-n2 went via the hub (the next cheapest), then back via n3.
    let n1n2 = sources(&rows, "n1-n2", 1201.0, 1800.0);
    assert!(!n1n2.is_empty() && n1n2.iter().all(|s| s == "relay:hub"), "{n1n2:?}");
    assert!(sources(&rows, "n1-n2", 1801.0, 2400.0).iter().all(|s| s == "relay:n3"));
}

#[test]
fn the_same_seed_gives_the_same_routes_and_coverage() {
    let s = scenario("40m", "[[event]]\nat = \"600s\"\nkind = \"crash\"\nnode = \"hub\"\nrestart_after = \"600s\"\n");
    let (a, b) = (run("same-a", &s), run("same-b", &s));
    assert_eq!(a.trace, b.trace);
    assert_eq!(a.rotations, b.rotations);
    assert_eq!(a.coverage, b.coverage);
    assert_eq!(a.summary.routing.reproducible(), b.summary.routing.reproducible());
}
