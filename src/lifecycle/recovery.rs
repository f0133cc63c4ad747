//! Compromise recovery: DETECT → ISOLATE → REVOKE → RE-KEY → VERIFY → REPORT,
//! one transaction, one audit record per step.

use std::collections::BTreeMap;

use rand::CryptoRng;
use serde::Serialize;

use super::engine::{Engine, NewKey};
use super::record::{KeyId, KeyRecord};
use super::store::keys;
use super::{LifecycleError, Transition, rules};
use crate::crypto::KeyType;

type Result<T> = std::result::Result<T, LifecycleError>;

/// Outcome of the six-step compromise recovery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecoveryReport {
    /// The isolated node.
    pub node: String,
    /// Keys revoked because the node shared them.
    pub revoked: Vec<KeyId>,
    /// New keys distributed to the remaining participants (awaiting receipts);
    /// channels left with fewer than two nodes are not re-keyed.
    pub rekeyed: Vec<KeyId>,
    /// Audit sequence numbers of DETECT, ISOLATE, REVOKE, RE-KEY, VERIFY, REPORT.
    pub audit_steps: [u64; 6],
}

impl Engine {
    /// The six-step compromise recovery for `node`, as one transaction with one
    /// audit record per step: DETECT, ISOLATE, REVOKE (every live key the node
    /// shares), RE-KEY (new keys for the remaining participants, distributed),
    /// VERIFY (no live key still includes the node), REPORT.
    pub fn recover_compromise(
        &mut self,
        node: &str,
        signal: &str,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<RecoveryReport> {
        self.atomic(|e| {
            let detect = e.append_audit("recovery:detect", None, None, None, &format!("node={node}; signal={signal}"))?;
            let now = e.clock.now();
            keys::isolate_node(&e.conn, node, now)?;
            let isolate = e.append_audit("recovery:isolate", None, None, None, &format!("node={node}; channels severed"))?;
            let affected: Vec<KeyRecord> = e
                .keys(None)?
                .into_iter()
                .filter(|k| rules::revoked_by_compromise(k.state, &k.participants, node))
                .collect();
            let mut revoked = Vec::new();
            let mut to_rekey: BTreeMap<(String, KeyType), Vec<String>> = BTreeMap::new();
            let signer = e.signer.as_ref().map(|s| s.0);
            for k in &affected {
                let reason = match k.key_type {
                    KeyType::SovereignMaster => format!(
                        "compromise of node {node}: it held the SOVEREIGN_MASTER; stored keys stay wrapped under it \
                         until the operator re-provisions {node} with a new master, which re-wraps them"
                    ),
                    KeyType::AuditSigning => {
                        format!("compromise of node {node}: its audit signing key signs no checkpoint from now on")
                    }
                    _ => format!("compromise of node {node}"),
                };
                e.transition(k.id, Transition::Revoke, &reason)?;
                if signer == Some(k.id) {
                    // A compromised signer vouches for nothing: checkpoints wait for a new one
                    // (the re-provisioned node's), which then signs the whole chain.
                    e.signer = None;
                }
                revoked.push(k.id);
                // A channel left with a single node (e.g. hub-n2 without n2) is not re-keyed.
                if let Some(rest) = rules::rekey_after_compromise(k.state, k.prestaged, &k.participants, node) {
                    to_rekey.insert((k.channel.clone(), k.key_type), rest);
                }
            }
            let revoke = e.append_audit("recovery:revoke", None, None, None, &format!("node={node}; revoked={}", revoked.len()))?;
            let mut rekeyed = Vec::new();
            for ((channel, kt), rest) in &to_rekey {
                // Skip channels that still have a live key not shared with the node.
                let still_live = rules::channel_still_keyed(e.live_on_channel(channel, *kt)?.iter().map(|k| k.state));
                if still_live {
                    continue;
                }
                let id = e.generate_inner(&NewKey::for_channel(*kt, channel, rest), rng)?;
                e.transition(id, Transition::Distribute, &format!("emergency re-key after compromise of {node}"))?;
                rekeyed.push(id);
            }
            let rekey = e.append_audit("recovery:rekey", None, None, None, &format!("node={node}; new keys={}", rekeyed.len()))?;
            let leftover = e
                .keys(None)?
                .into_iter()
                .filter(|k| rules::revoked_by_compromise(k.state, &k.participants, node))
                .count();
            if leftover != 0 {
                return Err(LifecycleError::Corrupt(format!(
                    "recovery verify failed: {leftover} live keys still include {node}"
                )));
            }
            let verify = e.append_audit("recovery:verify", None, None, None, &format!("node={node}; no live key includes it; {} keys await receipts", rekeyed.len()))?;
            let ids = |v: &[KeyId]| v.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(",");
            let report = e.append_audit(
                "recovery:report",
                None,
                None,
                None,
                &format!("incident: node {node} compromised ({signal}); revoked [{}]; rekeyed [{}]; revoked material archived wrapped for forensics", ids(&revoked), ids(&rekeyed)),
            )?;
            e.write_checkpoint()?;
            Ok(RecoveryReport {
                node: node.to_string(),
                revoked,
                rekeyed,
                audit_steps: [detect, isolate, revoke, rekey, verify, report],
            })
        })
    }
}
