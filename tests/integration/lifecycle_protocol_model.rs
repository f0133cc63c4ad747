//! A model-checked protocol: key rotation and compromise recovery between the
//! KMS (the hub's lifecycle engine) and the nodes of one channel, over a network
//! that loses, duplicates and reorders messages, with nodes that crash and
//! restart, explored exhaustively by stateright's breadth-first checker.
//!
//! # What the model covers
//!
//! - **Rotation**: the KMS begins rotation of the ACTIVE key (it becomes
//!   ROTATING) and distributes a replacement to every participant; a node
//!   persists it as DISTRIBUTED, demotes the predecessor to ROTATING
//!   (decrypt-only) and only then reports its receipt; the KMS activates the
//!   replacement once every participant's receipt is in and applies the overlap
//!   rule (the predecessor stays decrypt-only until an explicit `OverlapExpires`
//!   step, any older ROTATING key is superseded at once, a triggered rotation's
//!   predecessor retires at once); nodes apply the same rule when they learn of
//!   the activation. A second rotation may start while the first one's overlap
//!   still runs.
//! - **Recovery**: a compromise signal for one node (DETECT) starts ISOLATE →
//!   REVOKE → RE-KEY → VERIFY → REPORT, each a KMS step with nothing else running
//!   on the KMS in between (the engine runs them in one transaction): channels to
//!   the node are severed, every live key it shares is revoked and the other
//!   nodes told to purge it, the channel is re-keyed for the remaining nodes (the
//!   distribution names the revoked keys, which a node purges before confirming),
//!   VERIFY checks that no live key includes the node.
//! - **Faults**: any message may be delivered in any order, lost or duplicated;
//!   a node may crash — losing every message that reaches it while down, and what
//!   it was handling (a node persists and then reports in one step, so that is a
//!   message lost at delivery) — and restart with its persisted keys. The KMS
//!   resends what a node has not acknowledged when nothing is in flight to or
//!   from that node and the node is up (its retry timeout). Budgets per fault kind
//!   and in total bound each run.
//! - **The engine's own rules**: every KMS and node state change goes through
//!   [`Transition::allowed_from`] and [`Transition::target`]; key use through
//!   [`Usage::allowed_in`]; receipts, activation, the overlap rule and the choice
//!   of keys to revoke and re-key through [`qecnet::lifecycle::rules`], the pure
//!   functions the engine itself calls. No rule is restated here.
//!
//! Properties: `always` — at most one encrypt-capable key on the channel, across
//! the KMS and every node; at most two decrypt-capable keys at any holder, and a
//! ROTATING key at the KMS decrypt-capable only during its overlap or while its
//! replacement is being distributed; no key usable, or live, at a node after the
//! node learnt of its revocation; an ACTIVE key has every participant's receipt and
//! is persisted by every live participant; the KMS takes only transitions of the
//! diagram; VERIFY never fails; a quiescent channel (nothing left to deliver,
//! retry, restart or time out) has converged. `eventually` — every run settles
//! converged. `sometimes` — a rotation completes, a recovery completes, a crash
//! during distribution is followed by convergence, a retry is followed by
//! convergence, an overlap is superseded by the next activation. Every check
//! asserts the reachable `sometimes` properties were found, and
//! [`each_broken_variant_of_the_protocol_is_caught_by_a_counterexample`] that the
//! others bite.
//!
//! Fairness: the fault budgets are finite, so every run eventually stops losing,
//! duplicating and crashing; a crashed node can always restart and the KMS can
//! always retry, so a state where only faults remain enabled is a fair run's end.
//! [`the_state_graph_has_no_cycle`] checks that no run is infinite (on the
//! smaller configurations), so the
//! `always` property "a quiescent channel has converged" is eventual convergence
//! under fairness (stateright checks `eventually` only along the first path into
//! each state, which can miss a counterexample).
//!
//! # What it abstracts away
//!
//! Time (the overlap and the retry timeout are steps, not durations), key
//! material and cryptography, the audit chain, the store's transactions (each
//! KMS step is atomic, as each engine operation is), more than one channel, key
//! types, pre-staged material, retention and destruction, distribution failure
//! with new material (the KMS resends the same key, as the mesh does), the
//! engine's ChannelBusy guard (the model shows it is never needed), and the
//! compromised node after isolation (it is the attacker's: its state is dropped).
//! The KMS starts a rotation only when the current key is ACTIVE at every live
//! participant and nothing is being distributed, and not after a compromise (a
//! rotation of the re-keyed channel is that of a channel with fewer nodes); one
//! fixed node may be compromised, once. Nodes are interchangeable, so states
//! equal up to renaming nodes are explored once ([`canonical`]); a node's report
//! (its persisted keys, cumulative) supersedes one it still has in flight.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use qecnet::lifecycle::rules::{self, OverlapFate};
use qecnet::lifecycle::{KeyState, Transition, Usage};
use qecnet::units::SimDuration;
use stateright::{Checker, HasDiscoveries, Model, Property};

/// Keys the model can create: the initial key, one per rotation, one re-key.
const MAX_KEYS: usize = 6;

type Node = u8;
type Key = u8;
/// One bit per node or per key.
type Mask = u16;

fn bit(i: u8) -> Mask {
    1 << i
}

/// Deliberately broken variants, to show the properties bite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mutation {
    /// The KMS activates on the first receipt instead of every participant's.
    ActivateOnFirstReceipt,
    /// The REVOKE step of recovery revokes nothing.
    SkipRevoke,
    /// A node deletes a revoked key's record instead of keeping a REVOKED tombstone.
    NodeKeepsNoTombstone,
    /// A node confirms a replacement without demoting its predecessor.
    NodeIgnoresDemotion,
    /// A node keeps its keys in memory only: a restart forgets them.
    VolatileStore,
    /// The KMS never resends.
    NoRetry,
    /// A re-key's distribution does not carry the keys the recovery revoked.
    RekeyWithoutRevocations,
}

/// The bounds and options of one check.
#[derive(Clone, Debug)]
struct Protocol {
    /// Participants of the channel (2 or 3 nodes).
    nodes: u8,
    /// Rotations the KMS may start.
    rotations: u8,
    /// Triggered rotations (the old key retires as soon as its replacement activates).
    triggered: bool,
    /// The engine's overlap (only zero or not matters).
    overlap: SimDuration,
    /// The node that may be compromised (once).
    compromise: Option<Node>,
    losses: u8,
    duplicates: u8,
    crashes: u8,
    /// Faults of any kind in one run.
    faults: u8,
    mutation: Option<Mutation>,
}

impl Protocol {
    fn new(nodes: u8) -> Self {
        Protocol {
            nodes,
            rotations: 1,
            triggered: false,
            overlap: SimDuration::from_secs(30),
            compromise: None,
            losses: 1,
            duplicates: 1,
            crashes: 1,
            faults: 1,
            mutation: None,
        }
    }

    fn mutated(&self, m: Mutation) -> bool {
        self.mutation == Some(m)
    }
}

/// A key as the KMS (the engine) records it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct KmsKey {
    state: KeyState,
    participants: Vec<Node>,
    /// Nodes whose receipt the engine recorded.
    receipts: Mask,
    /// Nodes that reported holding the key in its current KMS state (reset on every change).
    synced: Mask,
    replaces: Option<Key>,
    early_retirement: bool,
    /// The overlap timer runs (the engine's `overlap_until_ns` is set).
    overlap_armed: bool,
    /// Keys the participants must revoke before confirming this one (a re-key).
    revokes: Mask,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Step {
    Isolate,
    Revoke,
    Rekey,
    Verify,
    Report,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Recovery {
    node: Node,
    /// The next step (DETECT started the recovery); `None` once REPORT is written.
    next: Option<Step>,
    revoked: Mask,
    rekey_for: Option<Vec<Node>>,
    rekeyed: Option<Key>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Kms {
    keys: Vec<KmsKey>,
    isolated: Mask,
    recovery: Option<Recovery>,
}

impl Kms {
    /// A recovery holds the engine (one transaction): nothing else runs on the KMS.
    fn busy(&self) -> bool {
        self.recovery.as_ref().is_some_and(|r| r.next.is_some())
    }

    fn live_participants(&self, k: usize) -> impl Iterator<Item = Node> + '_ {
        self.keys[k].participants.iter().copied().filter(move |p| self.isolated & bit(*p) == 0)
    }
}

type Held = [Option<KeyState>; MAX_KEYS];

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Msg {
    Distribute {
        to: Node,
        key: Key,
        replaces: Option<Key>,
        revokes: Mask,
    },
    Activate {
        to: Node,
        key: Key,
        replaces: Option<Key>,
        early_retirement: bool,
    },
    Retire {
        to: Node,
        key: Key,
    },
    Revoke {
        to: Node,
        key: Key,
    },
    /// A node's persisted keys: its receipts and acknowledgements in one.
    Report {
        from: Node,
        held: Held,
    },
}

impl Msg {
    fn to(&self) -> Option<Node> {
        match *self {
            Msg::Distribute { to, .. } | Msg::Activate { to, .. } | Msg::Retire { to, .. } | Msg::Revoke { to, .. } => {
                Some(to)
            }
            Msg::Report { .. } => None,
        }
    }

    fn between_kms_and(&self, n: Node) -> bool {
        match *self {
            Msg::Report { from, .. } => from == n,
            _ => self.to() == Some(n),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct NodeState {
    up: bool,
    /// Persisted keys (survive a crash).
    held: Held,
    /// History: keys this node has been told are REVOKED.
    revoked_seen: Mask,
}

/// History flags for the properties.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Ghost {
    crashed_in_distribution: bool,
    retried: bool,
    superseded: bool,
    illegal_transition: bool,
    verify_failed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct World {
    kms: Kms,
    nodes: Vec<NodeState>,
    /// In flight, sorted (a multiset: any order of delivery).
    net: Vec<Msg>,
    rotations_left: u8,
    compromise_pending: bool,
    losses_left: u8,
    duplicates_left: u8,
    crashes_left: u8,
    faults_left: u8,
    ghost: Ghost,
}

impl World {
    fn send(&mut self, m: Msg) {
        let at = self.net.binary_search(&m).unwrap_or_else(|i| i);
        self.net.insert(at, m);
    }

    fn take(&mut self, m: &Msg) {
        let at = self.net.binary_search(m).expect("message in flight");
        self.net.remove(at);
    }

    /// Apply `t` to key `k` at the KMS through the engine's table.
    fn kms_transition(&mut self, k: usize, t: Transition) {
        let key = &mut self.kms.keys[k];
        if t.allowed_from(key.state) {
            key.state = t.target();
            key.synced = 0;
        } else {
            self.ghost.illegal_transition = true;
        }
    }

    /// A node reports its persisted keys. Reports are cumulative (a node's
    /// keys only move forward along the diagram), so a newer report supersedes
    /// one still in flight, which carries nothing the newer does not.
    fn report(&mut self, n: Node) {
        let held = self.nodes[n as usize].held;
        self.send_report(n, held);
    }

    fn send_report(&mut self, from: Node, held: Held) {
        self.net.retain(|m| !matches!(m, Msg::Report { from: f, .. } if *f == from));
        self.send(Msg::Report { from, held });
    }

    /// What the KMS sends node `p` so it catches up with key `k`, if anything.
    fn notification(&self, k: usize, p: Node) -> Option<Msg> {
        let key = &self.kms.keys[k];
        let live = self.kms.live_participants(k).any(|q| q == p);
        let (key_id, to) = (k as Key, p);
        match key.state {
            _ if !live => None,
            KeyState::Distributed if key.receipts & bit(p) == 0 => {
                Some(Msg::Distribute { to, key: key_id, replaces: key.replaces, revokes: key.revokes })
            }
            _ if key.synced & bit(p) != 0 => None,
            KeyState::Active => Some(Msg::Activate {
                to,
                key: key_id,
                replaces: key.replaces,
                early_retirement: key.replaces.is_some_and(|r| self.kms.keys[r as usize].early_retirement),
            }),
            KeyState::Retired => Some(Msg::Retire { to, key: key_id }),
            KeyState::Revoked => Some(Msg::Revoke { to, key: key_id }),
            _ => None,
        }
    }
}

/// Node symmetry: the nodes of the channel are interchangeable (the
/// compromisable one excepted), so the model keeps one representative of every
/// class of states equal up to renaming nodes — the least one under every
/// renaming that fixes the compromisable node. The properties quantify over all
/// nodes, so they hold in a state exactly when they hold in its representative.
fn canonical(s: World, fixed: Option<Node>) -> World {
    let n = s.nodes.len() as Node;
    let mut best: Option<World> = None;
    for perm in permutations(n) {
        if fixed.is_some_and(|f| perm[f as usize] != f) {
            continue;
        }
        let renamed = rename(&s, &perm);
        if best.as_ref().is_none_or(|b| renamed < *b) {
            best = Some(renamed);
        }
    }
    best.expect("the identity is a permutation")
}

fn permutations(n: Node) -> Vec<Vec<Node>> {
    match n {
        0 => vec![Vec::new()],
        _ => {
            let mut out = Vec::new();
            for shorter in permutations(n - 1) {
                for at in 0..=shorter.len() {
                    let mut p = shorter.clone();
                    p.insert(at, n - 1);
                    out.push(p);
                }
            }
            out
        }
    }
}

fn rename(s: &World, perm: &[Node]) -> World {
    let node = |p: Node| perm[p as usize];
    let mask = |m: Mask| (0..perm.len() as Node).filter(|p| m & bit(*p) != 0).fold(0, |acc, p| acc | bit(node(p)));
    let list = |v: &[Node]| {
        let mut out: Vec<Node> = v.iter().map(|p| node(*p)).collect();
        out.sort();
        out
    };
    let mut t = s.clone();
    for key in &mut t.kms.keys {
        key.participants = list(&key.participants);
        key.receipts = mask(key.receipts);
        key.synced = mask(key.synced);
    }
    t.kms.isolated = mask(s.kms.isolated);
    if let Some(r) = &mut t.kms.recovery {
        r.node = node(r.node);
        r.rekey_for = r.rekey_for.as_deref().map(list);
    }
    for (p, n) in s.nodes.iter().enumerate() {
        t.nodes[node(p as Node) as usize] = n.clone();
    }
    for m in &mut t.net {
        match m {
            Msg::Distribute { to, .. } | Msg::Activate { to, .. } | Msg::Retire { to, .. } | Msg::Revoke { to, .. } => {
                *to = node(*to)
            }
            Msg::Report { from, .. } => *from = node(*from),
        }
    }
    t.net.sort();
    t
}

/// Apply `t` to a node's copy through the engine's table; false if not allowed.
fn node_transition(held: &mut Option<KeyState>, t: Transition) -> bool {
    match *held {
        Some(s) if t.allowed_from(s) => {
            *held = Some(t.target());
            true
        }
        _ => false,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Action {
    StartRotation,
    /// DETECT: a compromise signal for the model's compromisable node.
    Compromise,
    RecoveryStep(Step),
    Activate(Key),
    OverlapExpires(Key),
    Retry(Node),
    Deliver(Msg),
    Lose(Msg),
    Duplicate(Msg),
    Crash(Node),
    Restart(Node),
}

impl Action {
    /// Environment choices and faults: a state where nothing else is enabled is quiescent.
    fn is_environment_or_fault(&self) -> bool {
        matches!(
            self,
            Action::StartRotation | Action::Compromise | Action::Lose(_) | Action::Duplicate(_) | Action::Crash(_)
        )
    }
}

impl Protocol {
    fn all_nodes(&self) -> Vec<Node> {
        (0..self.nodes).collect()
    }

    fn rotation_source(&self, s: &World) -> Option<usize> {
        // Rotations run before or during a recovery; one after it is the rotation of
        // a channel with fewer nodes, checked on its own.
        if s.rotations_left == 0 || s.kms.recovery.is_some() {
            return None;
        }
        let kms = &s.kms;
        if kms.keys.iter().any(|k| matches!(k.state, KeyState::Generated | KeyState::Distributed)) {
            return None;
        }
        let a = kms.keys.iter().position(|k| k.state == KeyState::Active)?;
        kms.live_participants(a).all(|p| kms.keys[a].synced & bit(p) != 0).then_some(a)
    }

    fn can_compromise(&self, s: &World) -> bool {
        s.compromise_pending && s.kms.recovery.is_none()
    }

    fn may_activate(&self, key: &KmsKey) -> bool {
        if !Transition::Activate.allowed_from(key.state) {
            return false;
        }
        if self.mutated(Mutation::ActivateOnFirstReceipt) {
            return key.receipts != 0;
        }
        rules::missing_receipts(&key.participants, |p| key.receipts & bit(*p) != 0).is_empty()
    }

    fn retry_targets(&self, s: &World, p: Node) -> Vec<Msg> {
        let node = &s.nodes[p as usize];
        if self.mutated(Mutation::NoRetry) || s.kms.busy() || !node.up || s.net.iter().any(|m| m.between_kms_and(p)) {
            return Vec::new();
        }
        (0..s.kms.keys.len()).filter_map(|k| s.notification(k, p)).collect()
    }

    /// Every key is in a resting state at the KMS and held in that state by every
    /// live participant; no recovery is under way.
    fn converged(&self, s: &World) -> bool {
        if s.kms.busy() {
            return false;
        }
        s.kms.keys.iter().enumerate().all(|(k, key)| {
            !matches!(key.state, KeyState::Generated | KeyState::Distributed | KeyState::Rotating)
                && s.kms.live_participants(k).all(|p| {
                    let n = &s.nodes[p as usize];
                    n.up && n.held[k] == Some(key.state)
                })
        })
    }

    /// Converged, and the environment has nothing left to start.
    fn settled(&self, s: &World) -> bool {
        self.converged(s) && self.rotation_source(s).is_none() && !self.can_compromise(s)
    }

    fn quiescent(&self, s: &World) -> bool {
        let mut actions = Vec::new();
        self.actions(s, &mut actions);
        actions.iter().all(Action::is_environment_or_fault)
    }

    fn deliver_to_node(&self, s: &mut World, p: Node, m: Msg) {
        let i = p as usize;
        if !s.nodes[i].up {
            return; // lost: the node is down
        }
        match m {
            Msg::Distribute { key, replaces, revokes, .. } => {
                self.persist(s, p, key, replaces, revokes);
            }
            Msg::Activate { key, replaces, early_retirement, .. } => {
                let node = &mut s.nodes[i];
                if node_transition(&mut node.held[key as usize], Transition::Activate) {
                    for r in 0..MAX_KEYS {
                        if r != key as usize
                            && node.held[r] == Some(KeyState::Rotating)
                            && rules::overlap_fate(Some(r as Key) == replaces, early_retirement, self.overlap)
                                == OverlapFate::RetireNow
                        {
                            node_transition(&mut node.held[r], Transition::Retire);
                        }
                    }
                }
                s.report(p);
            }
            Msg::Retire { key, .. } => {
                node_transition(&mut s.nodes[i].held[key as usize], Transition::Retire);
                s.report(p);
            }
            Msg::Revoke { key, .. } => {
                self.revoke_at_node(&mut s.nodes[i], key);
                s.report(p);
            }
            Msg::Report { .. } => unreachable!("reports go to the KMS"),
        }
    }

    fn revoke_at_node(&self, node: &mut NodeState, key: Key) {
        let held = &mut node.held[key as usize];
        let purge = self.mutated(Mutation::NodeKeepsNoTombstone);
        if held.is_none() && !purge {
            // Not received yet: a tombstone, so late copies of the distribution are ignored.
            *held = Some(KeyState::Revoked);
        } else if node_transition(held, Transition::Revoke) && purge {
            *held = None;
        }
        node.revoked_seen |= bit(key);
    }

    fn deliver_to_kms(&self, s: &mut World, from: Node, held: Held) {
        if s.kms.isolated & bit(from) != 0 {
            return; // channels to the isolated node are severed
        }
        for (k, key) in s.kms.keys.iter_mut().enumerate() {
            let participant = key.participants.contains(&from);
            if held[k] == Some(KeyState::Distributed) && rules::receipt_refusal(key.state, participant, false).is_none()
            {
                key.receipts |= bit(from);
            }
            if participant && held[k] == Some(key.state) {
                key.synced |= bit(from);
            }
        }
    }

    /// A node stores distributed material durably, demotes the predecessor and
    /// revokes what the distribution revokes, and only then reports (its receipt).
    /// A crash before this loses the material: that is a crash before delivery.
    fn persist(&self, s: &mut World, p: Node, key: Key, replaces: Option<Key>, revokes: Mask) {
        let node = &mut s.nodes[p as usize];
        node.held[key as usize].get_or_insert(KeyState::Distributed);
        if let Some(r) = replaces
            && !self.mutated(Mutation::NodeIgnoresDemotion)
        {
            node_transition(&mut node.held[r as usize], Transition::BeginRotation);
        }
        for r in 0..MAX_KEYS as Key {
            if revokes & bit(r) != 0 {
                self.revoke_at_node(node, r);
            }
        }
        s.report(p);
    }

    fn start_rotation(&self, s: &mut World, a: usize) {
        s.rotations_left -= 1;
        s.kms_transition(a, Transition::BeginRotation);
        s.kms.keys[a].early_retirement = self.triggered;
        let participants = s.kms.keys[a].participants.clone();
        assert!(participants.iter().all(|p| s.kms.isolated & bit(*p) == 0), "the engine refuses isolated nodes");
        self.distribute_new(s, participants, Some(a as Key), 0);
    }

    /// Generate a key (GENERATED → DISTRIBUTED) and send it to its participants.
    fn distribute_new(&self, s: &mut World, participants: Vec<Node>, replaces: Option<Key>, revokes: Mask) -> Key {
        let k = s.kms.keys.len();
        assert!(k < MAX_KEYS, "raise MAX_KEYS");
        s.kms.keys.push(KmsKey {
            state: KeyState::Generated,
            participants: participants.clone(),
            receipts: 0,
            synced: 0,
            replaces,
            early_retirement: false,
            overlap_armed: false,
            revokes,
        });
        s.kms_transition(k, Transition::Distribute);
        for to in participants {
            s.send(Msg::Distribute { to, key: k as Key, replaces, revokes });
        }
        k as Key
    }

    /// The engine's activation: DISTRIBUTED → ACTIVE, then the overlap rule for
    /// every ROTATING key of the channel.
    fn activate(&self, s: &mut World, k: usize) {
        s.kms_transition(k, Transition::Activate);
        let replaces = s.kms.keys[k].replaces;
        for r in 0..s.kms.keys.len() {
            if r == k || s.kms.keys[r].state != KeyState::Rotating {
                continue;
            }
            let predecessor = Some(r as Key) == replaces;
            match rules::overlap_fate(predecessor, s.kms.keys[r].early_retirement, self.overlap) {
                OverlapFate::RetireNow => {
                    s.kms_transition(r, Transition::Retire);
                    s.ghost.superseded |= !predecessor;
                }
                OverlapFate::DecryptUntilOverlapEnds => s.kms.keys[r].overlap_armed = true,
            }
        }
        let live: Vec<Node> = s.kms.live_participants(k).collect();
        for p in live {
            if let Some(m) = s.notification(k, p) {
                s.send(m);
            }
        }
    }

    fn overlap_expires(&self, s: &mut World, r: usize) {
        s.kms.keys[r].overlap_armed = false;
        s.kms_transition(r, Transition::Retire);
        let live: Vec<Node> = s.kms.live_participants(r).collect();
        for p in live {
            s.send(Msg::Retire { to: p, key: r as Key });
        }
    }

    fn recovery_step(&self, s: &mut World, step: Step) {
        let mut rec = s.kms.recovery.take().expect("recovery under way");
        let node = rec.node;
        let next = match step {
            Step::Isolate => {
                // Removed from the mesh: every channel to and from the node is
                // severed. What it holds from now on is the attacker's, outside the
                // model (forgotten, so states differing only there are one).
                s.kms.isolated |= bit(node);
                s.net.retain(|m| !m.between_kms_and(node));
                s.nodes[node as usize] = NodeState { up: true, held: [None; MAX_KEYS], revoked_seen: 0 };
                for key in &mut s.kms.keys {
                    key.synced &= !bit(node);
                }
                Step::Revoke
            }
            Step::Revoke => {
                for k in 0..s.kms.keys.len() {
                    let key = &s.kms.keys[k];
                    if !rules::revoked_by_compromise(key.state, &key.participants, &node) {
                        continue;
                    }
                    if let Some(rest) = rules::rekey_after_compromise(key.state, false, &key.participants, &node) {
                        rec.rekey_for = Some(rest);
                    }
                    if self.mutated(Mutation::SkipRevoke) {
                        continue;
                    }
                    s.kms_transition(k, Transition::Revoke);
                    rec.revoked |= bit(k as Key);
                    let live: Vec<Node> = s.kms.live_participants(k).collect();
                    for to in live {
                        s.send(Msg::Revoke { to, key: k as Key });
                    }
                }
                Step::Rekey
            }
            Step::Rekey => {
                let keyed = rules::channel_still_keyed(s.kms.keys.iter().map(|k| k.state).filter(|st| st.is_live()));
                if let Some(rest) = rec.rekey_for.clone()
                    && !keyed
                {
                    let revokes = if self.mutated(Mutation::RekeyWithoutRevocations) { 0 } else { rec.revoked };
                    rec.rekeyed = Some(self.distribute_new(s, rest, None, revokes));
                }
                Step::Verify
            }
            Step::Verify => {
                let leftover = s.kms.keys.iter().any(|k| rules::revoked_by_compromise(k.state, &k.participants, &node));
                s.ghost.verify_failed |= leftover;
                Step::Report
            }
            Step::Report => {
                rec.next = None;
                s.kms.recovery = Some(rec);
                return;
            }
        };
        rec.next = Some(next);
        s.kms.recovery = Some(rec);
    }
}

impl Model for Protocol {
    type State = World;
    type Action = Action;

    fn init_states(&self) -> Vec<World> {
        let all = self.all_nodes();
        let everyone = all.iter().fold(0, |m, p| m | bit(*p));
        let mut held = [None; MAX_KEYS];
        held[0] = Some(KeyState::Active);
        vec![World {
            kms: Kms {
                keys: vec![KmsKey {
                    state: KeyState::Active,
                    participants: all.clone(),
                    receipts: everyone,
                    synced: everyone,
                    replaces: None,
                    early_retirement: false,
                    overlap_armed: false,
                    revokes: 0,
                }],
                isolated: 0,
                recovery: None,
            },
            nodes: all.iter().map(|_| NodeState { up: true, held, revoked_seen: 0 }).collect(),
            net: Vec::new(),
            rotations_left: self.rotations,
            compromise_pending: self.compromise.is_some(),
            losses_left: self.losses,
            duplicates_left: self.duplicates,
            crashes_left: self.crashes,
            faults_left: self.faults,
            ghost: Ghost::default(),
        }]
    }

    fn actions(&self, s: &World, actions: &mut Vec<Action>) {
        if self.rotation_source(s).is_some() {
            actions.push(Action::StartRotation);
        }
        if self.can_compromise(s) {
            actions.push(Action::Compromise);
        }
        if let Some(step) = s.kms.recovery.as_ref().and_then(|r| r.next) {
            actions.push(Action::RecoveryStep(step));
        }
        if !s.kms.busy() {
            for (k, key) in s.kms.keys.iter().enumerate() {
                if self.may_activate(key) {
                    actions.push(Action::Activate(k as Key));
                }
                if key.state == KeyState::Rotating && key.overlap_armed {
                    actions.push(Action::OverlapExpires(k as Key));
                }
            }
        }
        for p in self.all_nodes() {
            if !self.retry_targets(s, p).is_empty() {
                actions.push(Action::Retry(p));
            }
        }
        let mut last: Option<&Msg> = None;
        for m in &s.net {
            if last == Some(m) {
                continue;
            }
            last = Some(m);
            if m.to().is_some() || !s.kms.busy() {
                actions.push(Action::Deliver(m.clone()));
            }
            if s.losses_left > 0 && s.faults_left > 0 {
                actions.push(Action::Lose(m.clone()));
            }
            // A duplicated report is a stale report, which a newer one supersedes.
            if s.duplicates_left > 0 && s.faults_left > 0 && m.to().is_some() {
                actions.push(Action::Duplicate(m.clone()));
            }
        }
        for p in self.all_nodes() {
            let n = &s.nodes[p as usize];
            if s.kms.isolated & bit(p) != 0 {
                continue; // the attacker's now, outside the model
            }
            if n.up && s.crashes_left > 0 && s.faults_left > 0 {
                actions.push(Action::Crash(p));
            }
            if !n.up {
                actions.push(Action::Restart(p));
            }
        }
    }

    fn next_state(&self, last: &World, action: Action) -> Option<World> {
        let mut s = last.clone();
        match action {
            Action::StartRotation => {
                let a = self.rotation_source(&s).expect("enabled");
                self.start_rotation(&mut s, a);
            }
            Action::Compromise => {
                s.compromise_pending = false;
                let node = self.compromise.expect("enabled");
                s.kms.recovery =
                    Some(Recovery { node, next: Some(Step::Isolate), revoked: 0, rekey_for: None, rekeyed: None });
            }
            Action::RecoveryStep(step) => self.recovery_step(&mut s, step),
            Action::Activate(k) => self.activate(&mut s, k as usize),
            Action::OverlapExpires(k) => self.overlap_expires(&mut s, k as usize),
            Action::Retry(p) => {
                for m in self.retry_targets(&s, p) {
                    s.send(m);
                }
                s.ghost.retried = true;
            }
            Action::Deliver(m) => {
                s.take(&m);
                match m {
                    Msg::Report { from, held } => self.deliver_to_kms(&mut s, from, held),
                    _ => self.deliver_to_node(&mut s, m.to().expect("to a node"), m),
                }
            }
            Action::Lose(m) => {
                s.losses_left -= 1;
                s.faults_left -= 1;
                s.take(&m);
            }
            Action::Duplicate(m) => {
                s.duplicates_left -= 1;
                s.faults_left -= 1;
                s.send(m);
            }
            Action::Crash(p) => {
                s.crashes_left -= 1;
                s.faults_left -= 1;
                let node = &mut s.nodes[p as usize];
                node.up = false;
                s.ghost.crashed_in_distribution |= s.kms.keys.iter().any(|k| {
                    k.state == KeyState::Distributed && k.participants.contains(&p) && k.receipts & bit(p) == 0
                });
            }
            Action::Restart(p) => {
                let node = &mut s.nodes[p as usize];
                node.up = true;
                if self.mutated(Mutation::VolatileStore) {
                    node.held = [None; MAX_KEYS];
                }
            }
        }
        Some(canonical(s, self.compromise))
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("at most one encrypt-capable key on the channel", |_, s: &World| {
                let mut protect: Mask = 0;
                for (k, key) in s.kms.keys.iter().enumerate() {
                    if Usage::Protect.allowed_in(key.state) {
                        protect |= bit(k as Key);
                    }
                }
                for (p, n) in s.nodes.iter().enumerate() {
                    if s.kms.isolated & bit(p as Node) != 0 {
                        continue;
                    }
                    for (k, held) in n.held.iter().enumerate() {
                        if held.is_some_and(|st| Usage::Protect.allowed_in(st)) {
                            protect |= bit(k as Key);
                        }
                    }
                }
                protect.count_ones() <= 1
            }),
            Property::always("decryption outlives a key only for its overlap", |_, s: &World| {
                let kms = &s.kms;
                let in_overlap = kms.keys.iter().enumerate().all(|(k, key)| {
                    key.state != KeyState::Rotating
                        || key.overlap_armed
                        || kms.keys.iter().any(|n| n.replaces == Some(k as Key) && n.state == KeyState::Distributed)
                });
                let at_kms = kms.keys.iter().filter(|k| Usage::Unprotect.allowed_in(k.state)).count();
                let at_nodes = s.nodes.iter().enumerate().all(|(p, n)| {
                    kms.isolated & bit(p as Node) != 0
                        || n.held.iter().filter(|h| h.is_some_and(|st| Usage::Unprotect.allowed_in(st))).count() <= 2
                });
                in_overlap && at_kms <= 2 && at_nodes
            }),
            Property::always("no use of a key after its revocation reached a node", |_, s: &World| {
                s.nodes.iter().all(|n| {
                    (0..MAX_KEYS).all(|k| {
                        n.revoked_seen & bit(k as Key) == 0
                            || n.held[k]
                                .is_none_or(|st| !Usage::Protect.allowed_in(st) && !Usage::Unprotect.allowed_in(st))
                    })
                })
            }),
            Property::always("a revoked key is never live again at a node", |_, s: &World| {
                s.nodes.iter().all(|n| {
                    (0..MAX_KEYS)
                        .all(|k| n.revoked_seen & bit(k as Key) == 0 || n.held[k].is_none_or(|st| !st.is_live()))
                })
            }),
            Property::always(
                "an active key has every participant's receipt and is persisted by each",
                |_, s: &World| {
                    s.kms.keys.iter().enumerate().all(|(k, key)| {
                        key.state != KeyState::Active
                            || (rules::missing_receipts(&key.participants, |p| key.receipts & bit(*p) != 0).is_empty()
                                && s.kms.live_participants(k).all(|p| s.nodes[p as usize].held[k].is_some()))
                    })
                },
            ),
            Property::always("the KMS takes only transitions of the engine's diagram", |_, s: &World| {
                !s.ghost.illegal_transition
            }),
            Property::always("recovery VERIFY finds no live key shared with the compromised node", |_, s: &World| {
                !s.ghost.verify_failed
            }),
            Property::always("a quiescent channel has converged", |m: &Protocol, s: &World| {
                !m.quiescent(s) || m.converged(s)
            }),
            Property::eventually("every run settles converged", |m: &Protocol, s: &World| m.settled(s)),
            Property::sometimes("a rotation completes", |m: &Protocol, s: &World| {
                m.converged(s)
                    && s.kms.keys.iter().any(|k| {
                        k.state == KeyState::Active
                            && k.replaces.is_some_and(|r| s.kms.keys[r as usize].state == KeyState::Retired)
                    })
            }),
            Property::sometimes("a recovery completes", |m: &Protocol, s: &World| {
                m.converged(s)
                    && s.kms.recovery.as_ref().is_some_and(|r| {
                        r.next.is_none() && r.rekeyed.is_none_or(|k| s.kms.keys[k as usize].state == KeyState::Active)
                    })
            }),
            Property::sometimes("a crash during distribution, then convergence", |m: &Protocol, s: &World| {
                s.ghost.crashed_in_distribution && m.settled(s)
            }),
            Property::sometimes("a retry after a loss, then convergence", |m: &Protocol, s: &World| {
                s.ghost.retried && m.settled(s)
            }),
            Property::sometimes("an overlap is superseded by the next activation", |_, s: &World| s.ghost.superseded),
        ]
    }
}

/// Names of the `sometimes` properties that a configuration cannot reach.
fn unreachable_by(model: &Protocol) -> Vec<&'static str> {
    let mut out = Vec::new();
    if model.compromise.is_none() {
        out.push("a recovery completes");
    }
    if model.rotations < 2 || model.triggered {
        out.push("an overlap is superseded by the next activation");
    }
    if model.rotations == 0 {
        out.push("a rotation completes");
    }
    out
}

struct Outcome {
    unique_states: usize,
    states: usize,
    max_depth: usize,
    elapsed: Duration,
}

/// Run the BFS checker over a correct model: no counterexample, and every reachable
/// `sometimes` property discovered (so the check cannot pass vacuously).
fn check(model: Protocol) -> Outcome {
    let skip = unreachable_by(&model);
    let started = Instant::now();
    let checker = model.clone().checker().threads(2).spawn_bfs().join();
    let elapsed = started.elapsed();
    assert!(checker.is_done(), "the checker did not finish");
    for p in model.properties() {
        let found = checker.discovery(p.name);
        match p.expectation {
            stateright::Expectation::Sometimes if skip.contains(&p.name) => {}
            stateright::Expectation::Sometimes => {
                assert!(found.is_some(), "{:?}: \"{}\" was never reached", model, p.name)
            }
            _ => {
                if let Some(path) = found {
                    panic!("{model:?}: counterexample to \"{}\":\n{:#?}", p.name, path.into_actions());
                }
            }
        }
    }
    let out = Outcome {
        unique_states: checker.unique_state_count(),
        states: checker.state_count(),
        max_depth: checker.max_depth(),
        elapsed,
    };
    eprintln!(
        "{model:?}: {} unique states ({} visited), depth {}, {:.2?}",
        out.unique_states, out.states, out.max_depth, out.elapsed
    );
    out
}

/// Run the checker over a broken variant and return the names of the properties
/// it found counterexamples to.
fn counterexamples(model: Protocol) -> Vec<&'static str> {
    let checker = model.clone().checker().threads(2).finish_when(HasDiscoveries::AnyFailures).spawn_bfs().join();
    model
        .properties()
        .into_iter()
        .filter(|p| !matches!(p.expectation, stateright::Expectation::Sometimes))
        .filter(|p| checker.discovery(p.name).is_some())
        .map(|p| p.name)
        .collect()
}

#[test]
fn rotations_converge_without_two_encrypt_keys_over_a_lossy_duplicating_network_with_crashes() {
    let out = check(Protocol { rotations: 2, ..Protocol::new(3) });
    assert!(out.unique_states > 1000, "the model explored too little: {}", out.unique_states);
}

#[test]
fn two_nodes_rotate_twice_through_any_two_faults_in_one_run() {
    check(Protocol { rotations: 2, faults: 2, ..Protocol::new(2) });
}

#[test]
fn a_triggered_rotation_retires_the_old_key_as_its_replacement_activates() {
    check(Protocol { rotations: 2, triggered: true, ..Protocol::new(3) });
}

#[test]
fn compromise_recovery_during_a_rotation_revokes_every_shared_key_and_re_keys_the_rest() {
    check(Protocol { rotations: 1, compromise: Some(2), ..Protocol::new(3) });
}

#[test]
fn compromise_of_one_of_two_nodes_revokes_the_channel_without_a_re_key() {
    check(Protocol { rotations: 1, compromise: Some(1), ..Protocol::new(2) });
}

/// No state of the smaller configurations has a path back to itself, so every
/// run is finite and ends quiescent. (The larger ones are searched by the BFS
/// only: a fault step spends budget, so it cannot lie on a cycle, but a cycle of
/// other steps from a state only faults reach is not excluded by this test.)
#[test]
fn the_state_graph_has_no_cycle() {
    for model in [
        Protocol { rotations: 2, faults: 2, ..Protocol::new(2) },
        Protocol { compromise: Some(1), ..Protocol::new(2) },
        Protocol { rotations: 2, faults: 0, ..Protocol::new(3) },
        Protocol { compromise: Some(2), faults: 0, ..Protocol::new(3) },
    ] {
        assert_acyclic(&model);
    }
}

fn assert_acyclic(model: &Protocol) {
    let started = Instant::now();
    // Iterative depth-first search with the usual colours: a successor that is
    // still on the stack closes a cycle.
    let mut done: HashSet<World> = HashSet::new();
    let mut on_stack: HashMap<World, ()> = HashMap::new();
    for init in model.init_states() {
        let mut stack: Vec<(World, Vec<World>)> = Vec::new();
        let succ = model.next_states(&init);
        on_stack.insert(init.clone(), ());
        stack.push((init, succ));
        while let Some((_, pending)) = stack.last_mut() {
            match pending.pop() {
                Some(next) => {
                    assert!(!on_stack.contains_key(&next), "a cycle through {next:#?}");
                    if done.contains(&next) {
                        continue;
                    }
                    let succ = model.next_states(&next);
                    on_stack.insert(next.clone(), ());
                    stack.push((next, succ));
                }
                None => {
                    let (state, _) = stack.pop().expect("non-empty");
                    on_stack.remove(&state);
                    done.insert(state);
                }
            }
        }
    }
    eprintln!("{model:?}: {} states, no cycle, {:.2?}", done.len(), started.elapsed());
}

#[test]
fn each_broken_variant_of_the_protocol_is_caught_by_a_counterexample() {
    let cases: [(Mutation, Protocol, &str); 7] = [
        (
            Mutation::ActivateOnFirstReceipt,
            Protocol { losses: 0, duplicates: 0, crashes: 0, ..Protocol::new(2) },
            "an active key has every participant's receipt and is persisted by each",
        ),
        (
            Mutation::SkipRevoke,
            Protocol { rotations: 0, compromise: Some(2), losses: 0, duplicates: 0, crashes: 0, ..Protocol::new(3) },
            "recovery VERIFY finds no live key shared with the compromised node",
        ),
        (
            Mutation::NodeKeepsNoTombstone,
            Protocol { compromise: Some(2), losses: 0, duplicates: 0, crashes: 0, ..Protocol::new(3) },
            "a revoked key is never live again at a node",
        ),
        (
            Mutation::NodeIgnoresDemotion,
            Protocol { losses: 0, duplicates: 0, crashes: 0, ..Protocol::new(2) },
            "at most one encrypt-capable key on the channel",
        ),
        (
            Mutation::VolatileStore,
            Protocol { losses: 0, duplicates: 0, ..Protocol::new(2) },
            "an active key has every participant's receipt and is persisted by each",
        ),
        (
            Mutation::NoRetry,
            Protocol { duplicates: 0, crashes: 0, ..Protocol::new(2) },
            "a quiescent channel has converged",
        ),
        (
            Mutation::RekeyWithoutRevocations,
            Protocol { rotations: 0, compromise: Some(2), losses: 0, duplicates: 0, crashes: 0, ..Protocol::new(3) },
            "at most one encrypt-capable key on the channel",
        ),
    ];
    for (mutation, model, expected) in cases {
        let started = Instant::now();
        let found = counterexamples(Protocol { mutation: Some(mutation), ..model });
        eprintln!("{mutation:?}: counterexamples to {found:?} in {:.2?}", started.elapsed());
        assert!(
            found.contains(&expected),
            "{mutation:?}: expected a counterexample to \"{expected}\", found {found:?}"
        );
    }
}
