//! The SAE directory of a served mesh: which SAE (by its ID, as in its client certificate)
//! belongs to which node's KME, from the scenario's `[[sae]]` tables, and the kinds of route a
//! key between two nodes can take (chosen by the live mesh's supply).

use std::collections::BTreeMap;

use crate::mesh::{MeshScenario, Topology};
use crate::units::InvalidParameter;

/// The operator's certificate name (its CN and the stem of its PKI files); no SAE may take it.
pub const OPERATOR: &str = "operator";

/// How key reaches a node pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A direct QKD link (its id, e.g. `n1-n2`).
    Direct(String),
    /// Trusted relay: the links of each hop, in order (e.g. `hub-n1`, `hub-n3`).
    Relay(Vec<String>),
    /// No QKD path: the X25519 + ML-KEM-1024 hybrid exchange.
    Fallback,
}

/// SAEs, nodes and routes of a served mesh.
#[derive(Debug, Clone)]
pub struct SaeDirectory {
    /// SAE ID → node name.
    saes: BTreeMap<String, String>,
    /// Hub first, then the nodes in file order.
    nodes: Vec<String>,
    topology: Topology,
}

impl SaeDirectory {
    /// Resolves and checks the scenario's topology and `[[sae]]` tables: SAE IDs unique, each
    /// on a node of the mesh.
    pub fn from_scenario(scenario: &MeshScenario) -> Result<Self, InvalidParameter> {
        let topology = scenario.validate()?;
        let nodes: Vec<String> = topology.nodes.iter().map(|n| n.name.clone()).collect();
        let mut saes = BTreeMap::new();
        for (i, sae) in scenario.sae.iter().enumerate() {
            let valid = !sae.id.is_empty()
                && sae.id.len() <= 64
                && sae.id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
                && !sae.id.starts_with('.');
            if !valid {
                return Err(InvalidParameter::new(
                    format!("sae.{i}.id"),
                    &sae.id,
                    "1-64 characters of a-z, A-Z, 0-9, '-', '.' (not starting with '.')",
                ));
            }
            if sae.id == OPERATOR || nodes.contains(&sae.id) {
                return Err(InvalidParameter::new(
                    format!("sae.{i}.id"),
                    &sae.id,
                    "must differ from every node name and from 'operator' (they share the PKI's file names)",
                ));
            }
            if !nodes.contains(&sae.node) {
                return Err(InvalidParameter::new(
                    format!("sae.{i}.node"),
                    &sae.node,
                    format!("unknown node; nodes: {}", nodes.join(", ")),
                ));
            }
            if saes.insert(sae.id.clone(), sae.node.clone()).is_some() {
                return Err(InvalidParameter::new(format!("sae.{i}.id"), &sae.id, "must be unique"));
            }
        }
        Ok(SaeDirectory { saes, nodes, topology })
    }

    /// The node of SAE `id`, if declared.
    pub fn node_of(&self, id: &str) -> Option<&str> {
        self.saes.get(id).map(String::as_str)
    }

    /// Every SAE ID, sorted.
    pub fn sae_ids(&self) -> Vec<String> {
        self.saes.keys().cloned().collect()
    }

    /// Node names, hub first.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// Every link id of the mesh.
    pub fn link_ids(&self) -> Vec<String> {
        self.topology.links.iter().map(|l| l.id.clone()).collect()
    }
}
