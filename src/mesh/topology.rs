//! Mesh topology: the sovereign hub and the nodes, with positions, and the quantum links
//! between them (full mesh by default). A link's fibre length is given explicitly or derived
//! from the node coordinates (straight-line distance × a route factor for the fibre path).
//! Pairs without a direct quantum channel (too long, or not listed when the mesh is not full)
//! are relayed over trusted nodes (the cheapest path of links, [`crate::mesh::routing`]);
//! every such pair needs some path of links between its ends.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::mesh::routing::Graph;
use crate::units::InvalidParameter;

/// A node of the mesh (`[[node]]`); the hub is `[hub]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Unique name.
    pub name: String,
    /// East coordinate (km).
    #[serde(default)]
    pub x_km: f64,
    /// North coordinate (km).
    #[serde(default)]
    pub y_km: f64,
}

/// An explicit link (`[[link]]`): endpoints, optional length and physics overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// One end.
    pub a: String,
    /// The other end.
    pub b: String,
    /// Fibre length (km); derived from the coordinates when absent.
    pub length_km: Option<f64>,
    /// Overrides of the default link scenario for this link (`--set` syntax).
    #[serde(default)]
    pub set: Vec<String>,
}

/// Topology settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopologySettings {
    /// Link every pair of nodes (including the hub) unless too long.
    pub full_mesh: bool,
    /// Fibre length over straight-line distance.
    pub route_factor: f64,
    /// Pairs whose fibre would be longer get no direct quantum channel (relayed via the hub).
    pub max_link_km: f64,
}

impl Default for TopologySettings {
    fn default() -> Self {
        TopologySettings { full_mesh: true, route_factor: 1.3, max_link_km: 200.0 }
    }
}

/// The largest route factor: real fibre routes run 1.2–2 × the straight line.
pub const MAX_ROUTE_FACTOR: f64 = 10.0;

/// The largest node coordinate (km): no two places on Earth are farther apart along its
/// surface than about 20,000 km.
pub const MAX_COORDINATE_KM: f64 = 20_000.0;

impl TopologySettings {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        if !(self.route_factor >= 1.0 && self.route_factor <= MAX_ROUTE_FACTOR) {
            return Err(InvalidParameter::new(
                "topology.route_factor",
                self.route_factor,
                format!("must be in [1, {MAX_ROUTE_FACTOR}] (fibre is at least as long as the straight line)"),
            ));
        }
        if !(self.max_link_km > 0.0 && self.max_link_km.is_finite()) {
            return Err(InvalidParameter::new("topology.max_link_km", self.max_link_km, "must be finite and > 0"));
        }
        Ok(())
    }
}

/// Checks a node's name and coordinates; `field` is its path in the scenario (`hub`,
/// `node.3`).
fn check_node(field: &str, n: &NodeSpec) -> Result<(), InvalidParameter> {
    let allowed = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
    if n.name.is_empty() || !n.name.chars().all(allowed) {
        return Err(InvalidParameter::new(
            format!("{field}.name"),
            format!("{:?}", n.name),
            "must be non-empty, of letters, digits, `_` and `.` (link names join two node names with `-`, \
             and names go into CSV columns)",
        ));
    }
    for (axis, value) in [("x_km", n.x_km), ("y_km", n.y_km)] {
        if !(value.is_finite() && value.abs() <= MAX_COORDINATE_KM) {
            return Err(InvalidParameter::new(
                format!("{field}.{axis}"),
                value,
                format!("must be finite and within ±{MAX_COORDINATE_KM} km"),
            ));
        }
    }
    Ok(())
}

/// A direct quantum link of the resolved topology.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// `a-b` (names in the order given or sorted for full-mesh links).
    pub id: String,
    /// Index of one end in [`Topology::nodes`].
    pub a: usize,
    /// Index of the other end.
    pub b: usize,
    /// Fibre length (km).
    pub length_km: f64,
    /// Physics overrides for this link.
    pub set: Vec<String>,
}

/// The resolved topology: node 0 is the hub.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    /// Hub first, then the nodes in file order.
    pub nodes: Vec<NodeSpec>,
    /// Direct quantum links.
    pub links: Vec<Link>,
    /// Node pairs (a < b) without a direct link, relayed over trusted nodes.
    pub relayed: Vec<(usize, usize)>,
}

impl Topology {
    /// Resolves `hub`, `nodes` and explicit `links` under `settings`.
    pub fn new(
        hub: &NodeSpec,
        nodes: &[NodeSpec],
        links: &[LinkSpec],
        settings: &TopologySettings,
    ) -> Result<Self, InvalidParameter> {
        settings.validate()?;
        check_node("hub", hub)?;
        for (i, n) in nodes.iter().enumerate() {
            check_node(&format!("node.{i}"), n)?;
        }
        if nodes.is_empty() {
            return Err(InvalidParameter::new("node", "(none)", "a mesh needs at least one [[node]] besides the hub"));
        }
        let mut all = vec![hub.clone()];
        all.extend(nodes.iter().cloned());
        let mut index = BTreeMap::new();
        for (i, n) in all.iter().enumerate() {
            if index.insert(n.name.clone(), i).is_some() {
                return Err(InvalidParameter::new("node.name", &n.name, "must be unique (the hub counts too)"));
            }
        }
        let find = |name: &str| {
            index.get(name).copied().ok_or_else(|| {
                InvalidParameter::new(
                    "link",
                    name,
                    format!(
                        "unknown node; nodes: {}",
                        all.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                )
            })
        };
        let distance = |a: usize, b: usize| {
            let (p, q) = (&all[a], &all[b]);
            ((p.x_km - q.x_km).powi(2) + (p.y_km - q.y_km).powi(2)).sqrt() * settings.route_factor
        };
        let mut resolved: BTreeMap<(usize, usize), Link> = BTreeMap::new();
        for spec in links {
            let (a, b) = (find(&spec.a)?, find(&spec.b)?);
            if a == b {
                return Err(InvalidParameter::new(
                    "link",
                    format!("{}-{}", spec.a, spec.b),
                    "a link needs two different nodes",
                ));
            }
            let length_km = spec.length_km.unwrap_or_else(|| distance(a, b));
            if !(length_km.is_finite() && length_km >= 0.0) {
                return Err(InvalidParameter::new(
                    format!("link {}-{}: length_km", spec.a, spec.b),
                    length_km,
                    "must be finite and >= 0",
                ));
            }
            let key = (a.min(b), a.max(b));
            let link = Link { id: format!("{}-{}", spec.a, spec.b), a, b, length_km, set: spec.set.clone() };
            if resolved.insert(key, link).is_some() {
                return Err(InvalidParameter::new("link", format!("{}-{}", spec.a, spec.b), "listed twice"));
            }
        }
        if settings.full_mesh {
            for a in 0..all.len() {
                for b in a + 1..all.len() {
                    let length_km = distance(a, b);
                    if !resolved.contains_key(&(a, b)) && length_km <= settings.max_link_km {
                        let id = format!("{}-{}", all[a].name, all[b].name);
                        resolved.insert((a, b), Link { id, a, b, length_km, set: Vec::new() });
                    }
                }
            }
        }
        let links: Vec<Link> = resolved.into_values().collect();
        for (n, node) in all.iter().enumerate().skip(1) {
            if !links.iter().any(|l| l.a == n || l.b == n) {
                let why = if settings.full_mesh {
                    format!(
                        "has no quantum link (all its pairs are longer than topology.max_link_km = {} km): \
                         list a [[link]] for it or raise the limit",
                        settings.max_link_km
                    )
                } else {
                    "has no quantum link: list a [[link]] for it (topology.full_mesh = false)".to_string()
                };
                return Err(InvalidParameter::new("topology", &node.name, why));
            }
        }
        let graph = Graph::new(all.len(), &links.iter().map(|l| (l.a, l.b, 1)).collect::<Vec<_>>());
        let mut relayed = Vec::new();
        for a in 1..all.len() {
            for b in a + 1..all.len() {
                let direct = links.iter().any(|l| (l.a.min(l.b), l.a.max(l.b)) == (a, b));
                if !direct {
                    if graph.shortest(a, b, |_| true, |_| true).is_none() {
                        return Err(InvalidParameter::new(
                            "topology",
                            format!("{}-{}", all[a].name, all[b].name),
                            "has no direct link and cannot be relayed: no path of links joins its ends",
                        ));
                    }
                    relayed.push((a, b));
                }
            }
        }
        Ok(Topology { nodes: all, links, relayed })
    }

    /// Index of the node called `name`.
    pub fn node(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Index of the link between `a` and `b` (either order), if direct.
    pub fn link_between(&self, a: usize, b: usize) -> Option<usize> {
        self.links.iter().position(|l| (l.a == a && l.b == b) || (l.a == b && l.b == a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, x: f64, y: f64) -> NodeSpec {
        NodeSpec { name: name.into(), x_km: x, y_km: y }
    }

    #[test]
    fn full_mesh_with_relays_for_long_pairs() {
        let hub = node("hub", 0.0, 0.0);
        let nodes = [node("a", 50.0, 0.0), node("b", -50.0, 0.0), node("c", 0.0, 40.0)];
        let settings = TopologySettings { route_factor: 1.0, max_link_km: 80.0, ..TopologySettings::default() };
        let t = Topology::new(&hub, &nodes, &[], &settings).unwrap();
        // a-b is 100 km > 80: relayed; every other pair is direct.
        assert_eq!(t.relayed, vec![(1, 2)]);
        assert_eq!(t.links.len(), 5);
        let ac = t.link_between(1, 3).unwrap();
        assert!((t.links[ac].length_km - (50f64.powi(2) + 40f64.powi(2)).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn unknown_node_in_a_link_is_refused() {
        let spec = LinkSpec { a: "hub".into(), b: "zz".into(), length_km: Some(5.0), set: vec![] };
        let e = Topology::new(&node("hub", 0.0, 0.0), &[node("a", 1.0, 0.0)], &[spec], &TopologySettings::default())
            .unwrap_err();
        assert!(e.to_string().starts_with("link = zz: unknown node; nodes: hub, a"), "{e}");
    }
}
