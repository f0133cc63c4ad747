//! Mesh scenario files (`sims/mesh-*.toml`): the hub and nodes, the links and their physics,
//! the monitor, post-processing and message settings, and the events of the run.
//!
//! ```toml
//! [mesh]
//! duration = "24h"            # durations: "300s", "5m", "24h", or seconds
//! window = "10s"              # monitoring window of every link
//! refresh_interval = "300s"   # MESH_SESSION refresh (the spec: 300 s)
//! seed = 1
//!
//! [link_defaults]             # a link scenario's [source], [channel], [detector], [eve]
//! source = { repetition_rate_hz = 1e9, signal_intensity = 0.5, decoy_intensity = 0.1 }
//!
//! [hub]
//! name = "hub"
//! [[node]]
//! name = "n1"
//! x_km = 30.0
//! y_km = 10.0
//!
//! [[event]]
//! at = "6h"
//! kind = "eve"                # eve | compromise | degrade | operator-rotation | crash
//! link = "hub-n1"
//! attack = "intercept-resend" # intercept-resend | pns | noise
//! strength = 0.3
//! until = "8h"
//! ```

use serde::{Deserialize, Serialize};

use crate::mesh::error::MeshError;
use crate::mesh::monitor::MonitorSettings;
use crate::mesh::topology::{LinkSpec, NodeSpec, Topology, TopologySettings};
use crate::photonics::LinkConfig;
use crate::photonics::link::LinkExpectation;
use crate::postprocess::{PostprocessSettings, Security};
use crate::units::{InvalidParameter, check_non_negative, check_positive, check_probability, short_number};

/// The longest simulated run (s): about 31 years, far inside the u64 nanosecond clock.
pub const MAX_DURATION_S: f64 = 1e9;

/// `[mesh]`: run settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeshSettings {
    /// Simulated time (s).
    #[serde(deserialize_with = "crate::units::deserialize_duration_s", rename = "duration")]
    pub duration_s: f64,
    /// Monitoring window of every link (s).
    #[serde(deserialize_with = "crate::units::deserialize_duration_s", rename = "window")]
    pub window_s: f64,
    /// MESH_SESSION refresh interval (s).
    #[serde(deserialize_with = "crate::units::deserialize_duration_s", rename = "refresh_interval")]
    pub refresh_interval_s: f64,
    /// How long a replaced session key stays usable for decryption (s).
    #[serde(deserialize_with = "crate::units::deserialize_duration_s", rename = "overlap")]
    pub overlap_s: f64,
    /// Seed of every random stream of the run.
    pub seed: u64,
    /// Key buffer of each link (bits).
    pub buffer_capacity_bits: u64,
    /// Bits of QKD key one session key consumes.
    pub session_key_bits: u64,
    /// Whether a link may fall back to the ML-KEM-1024 hybrid exchange.
    pub fallback_allowed: bool,
}

impl Default for MeshSettings {
    fn default() -> Self {
        MeshSettings {
            duration_s: 86_400.0,
            window_s: 10.0,
            refresh_interval_s: 300.0,
            overlap_s: 30.0,
            seed: 1,
            buffer_capacity_bits: 100_000_000,
            session_key_bits: 256,
            fallback_allowed: true,
        }
    }
}

/// `[messages]`: how control messages (key distribution, receipts, revocations) travel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessageSettings {
    /// Propagation delay in fibre (µs/km).
    pub fibre_us_per_km: f64,
    /// Processing time per hop (µs).
    pub processing_us: f64,
    /// Probability that a message is lost.
    pub loss_probability: f64,
    /// Time before a lost message is resent (ms).
    pub retry_timeout_ms: f64,
    /// Resends of a lost message before it is lost for good (the loss model's tail: a message
    /// is lost for good with probability `loss_probability^(max_resends + 1)`).
    pub max_resends: u32,
}

impl Default for MessageSettings {
    fn default() -> Self {
        MessageSettings {
            fibre_us_per_km: 5.0,
            processing_us: 200.0,
            loss_probability: 0.001,
            retry_timeout_ms: 50.0,
            max_resends: 3,
        }
    }
}

/// The most attempts a failed distribution may make ([`RotationSettings::max_distribution_attempts`]).
pub const MAX_DISTRIBUTION_ATTEMPTS: u32 = 100;

/// `[rotation]`: how a distribution that misses its receipts fails and is retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RotationSettings {
    /// Time from sending a key to the deadline for every receipt (s); when absent,
    /// `2·(d_max + max_resends·retry_timeout) + retry_timeout` with `d_max` the longest one-way
    /// hub-to-node message delay (fibre and processing): the round trip of the farthest node
    /// with every resend of the budget spent on the way out and on the way back, plus one
    /// retry timeout of slack, so only a message lost for good or a node that is down can miss
    /// it.
    #[serde(
        default,
        deserialize_with = "crate::units::deserialize_optional_duration_s",
        rename = "distribution_deadline"
    )]
    pub distribution_deadline_s: Option<f64>,
    /// Attempts of one distribution (the first included) before it is given up; the old key
    /// stays ACTIVE and the next refresh starts afresh.
    pub max_distribution_attempts: u32,
    /// Wait before the second attempt (s); each further attempt waits twice as long.
    #[serde(deserialize_with = "crate::units::deserialize_duration_s", rename = "retry_backoff")]
    pub retry_backoff_s: f64,
}

impl Default for RotationSettings {
    fn default() -> Self {
        RotationSettings { distribution_deadline_s: None, max_distribution_attempts: 3, retry_backoff_s: 0.1 }
    }
}

/// The kind of a scenario event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// An eavesdropper on a link, from `at` to `until`.
    Eve,
    /// A node is compromised: the six-step recovery runs (the hub too: then its SOVEREIGN_MASTER
    /// is revoked, and `recover_after` re-provisions it with a new one).
    Compromise,
    /// A link loses `extra_loss_db` more, from `at` to `until`.
    Degrade,
    /// An operator orders a (triggered) rotation of a link's session key (`rotate` too).
    #[serde(alias = "rotate")]
    OperatorRotation,
    /// A node crashes and restarts after `restart_after`.
    Crash,
}

/// Eve's attack in an `eve` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attack {
    /// Intercept-resend on a fraction `strength` of the pulses.
    InterceptResend,
    /// Photon-number splitting blocking a share `strength` of single photons, lossless channel.
    Pns,
    /// Depolarising noise of probability `strength`.
    Noise,
}

/// One `[[event]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// When it starts (s).
    #[serde(deserialize_with = "crate::units::deserialize_duration_s", rename = "at")]
    pub at_s: f64,
    /// What happens.
    pub kind: EventKind,
    /// The link (eve, degrade, operator-rotation).
    pub link: Option<String>,
    /// The node (compromise, crash).
    pub node: Option<String>,
    /// Eve's attack.
    pub attack: Option<Attack>,
    /// Attack strength (see [`Attack`]).
    #[serde(default)]
    pub strength: f64,
    /// When it ends (s), for eve and degrade; open-ended when absent.
    #[serde(default, deserialize_with = "crate::units::deserialize_optional_duration_s", rename = "until")]
    pub until_s: Option<f64>,
    /// Extra loss of a degrade event (dB).
    #[serde(default)]
    pub extra_loss_db: f64,
    /// Downtime of a crash (s).
    #[serde(default, deserialize_with = "crate::units::deserialize_optional_duration_s", rename = "restart_after")]
    pub restart_after_s: Option<f64>,
    /// Compromise of the hub: when the operator re-provisions it after the compromise (s), with a
    /// new SOVEREIGN_MASTER that re-wraps every stored key; absent, the hub stays isolated.
    #[serde(
        default,
        deserialize_with = "crate::units::deserialize_optional_duration_s",
        rename = "recover_after",
        skip_serializing_if = "Option::is_none"
    )]
    pub recover_after_s: Option<f64>,
}

/// A whole mesh scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeshScenario {
    /// Run settings.
    pub mesh: MeshSettings,
    /// Channel verification and decision engine.
    pub monitor: MonitorSettings,
    /// Post-processing (block size, security, f_EC...).
    pub postprocess: PostprocessSettings,
    /// The physics of every link unless a `[[link]]` overrides it (its `[simulation]` is unused).
    pub link_defaults: LinkConfig,
    /// Control messages.
    pub messages: MessageSettings,
    /// Deadlines and retries of distributions.
    pub rotation: RotationSettings,
    /// Full mesh, route factor, longest direct link.
    pub topology: TopologySettings,
    /// The sovereign hub.
    pub hub: NodeSpec,
    /// The other nodes.
    pub node: Vec<NodeSpec>,
    /// Explicit links (with lengths or overrides).
    pub link: Vec<LinkSpec>,
    /// Events of the run.
    pub event: Vec<EventSpec>,
    /// Applications (SAEs) and their nodes, for `qecnet serve` (the mesh run ignores them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sae: Vec<SaeSpec>,
}

/// One `[[sae]]`: a secure application entity and the node whose KME serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaeSpec {
    /// SAE ID (e.g. `sae-alice`), as in its client certificate.
    pub id: String,
    /// The node whose KME it talks to.
    pub node: String,
}

impl Default for MeshScenario {
    fn default() -> Self {
        MeshScenario {
            mesh: MeshSettings::default(),
            monitor: MonitorSettings::default(),
            postprocess: PostprocessSettings::default(),
            link_defaults: LinkConfig::default(),
            messages: MessageSettings::default(),
            rotation: RotationSettings::default(),
            topology: TopologySettings::default(),
            hub: NodeSpec { name: "hub".into(), x_km: 0.0, y_km: 0.0 },
            node: Vec::new(),
            link: Vec::new(),
            event: Vec::new(),
            sae: Vec::new(),
        }
    }
}

impl MeshScenario {
    /// Validates everything that can be checked before running, resolving the topology.
    pub fn validate(&self) -> Result<Topology, InvalidParameter> {
        let m = &self.mesh;
        check_positive("mesh.duration", m.duration_s)?;
        if m.duration_s > MAX_DURATION_S {
            return Err(InvalidParameter::new(
                "mesh.duration",
                format!("{} s", short_number(m.duration_s)),
                format!("must be at most {MAX_DURATION_S:e} s (simulated time is counted in u64 nanoseconds)"),
            ));
        }
        check_positive("mesh.window", m.window_s)?;
        check_positive("mesh.refresh_interval", m.refresh_interval_s)?;
        if m.refresh_interval_s < m.window_s {
            return Err(InvalidParameter::new(
                "mesh.refresh_interval",
                format!("{} s", short_number(m.refresh_interval_s)),
                format!(
                    "must be at least mesh.window = {} s (key is produced once per window; a shorter \
                     interval would refresh on key that does not exist yet)",
                    m.window_s
                ),
            ));
        }
        check_non_negative("mesh.overlap", m.overlap_s)?;
        if m.overlap_s > m.refresh_interval_s {
            return Err(InvalidParameter::new(
                "mesh.overlap",
                format!("{} s", short_number(m.overlap_s)),
                format!(
                    "must be at most mesh.refresh_interval = {} s (a replaced key stays usable only until its \
                     successor is replaced in turn)",
                    m.refresh_interval_s
                ),
            ));
        }
        if m.session_key_bits == 0 || !m.session_key_bits.is_multiple_of(8) {
            return Err(InvalidParameter::new(
                "mesh.session_key_bits",
                m.session_key_bits,
                "must be a positive multiple of 8",
            ));
        }
        if m.buffer_capacity_bits < m.session_key_bits {
            return Err(InvalidParameter::new(
                "mesh.buffer_capacity_bits",
                m.buffer_capacity_bits,
                format!(
                    "must be at least mesh.session_key_bits = {} (else no session key ever fits)",
                    m.session_key_bits
                ),
            ));
        }
        self.monitor.validate()?;
        self.postprocess.validate()?;
        let pp = &self.postprocess;
        let fixed_cost = 6.0 * (21.0 / pp.epsilon_sec).log2() + (2.0 / pp.epsilon_cor).log2();
        if pp.security == Security::Finite && (pp.block_size as f64) <= fixed_cost {
            return Err(InvalidParameter::new(
                "postprocess.block_size",
                pp.block_size,
                format!(
                    "must be at least {:.0} with finite-key security (6·log2(21/ε_sec) + log2(2/ε_cor) bits are spent \
                     on every block whatever its size; the mesh ends a block at the first window whose key-basis \
                     detections reach block_size)",
                    fixed_cost.floor() + 1.0
                ),
            ));
        }
        self.link_defaults
            .validate()
            .map_err(|e| InvalidParameter { field: format!("link_defaults.{}", e.field), ..e })?;
        check_non_negative("messages.fibre_us_per_km", self.messages.fibre_us_per_km)?;
        check_non_negative("messages.processing_us", self.messages.processing_us)?;
        check_probability("messages.loss_probability", self.messages.loss_probability)?;
        if self.messages.loss_probability >= 1.0 {
            return Err(InvalidParameter::new(
                "messages.loss_probability",
                1,
                "must be below 1 (no message would arrive)",
            ));
        }
        check_positive("messages.retry_timeout_ms", self.messages.retry_timeout_ms)?;
        let r = &self.rotation;
        if !(1..=MAX_DISTRIBUTION_ATTEMPTS).contains(&r.max_distribution_attempts) {
            return Err(InvalidParameter::new(
                "rotation.max_distribution_attempts",
                r.max_distribution_attempts,
                format!("must be 1 to {MAX_DISTRIBUTION_ATTEMPTS} (the first attempt included)"),
            ));
        }
        check_non_negative("rotation.retry_backoff", r.retry_backoff_s)?;
        if r.retry_backoff_s > m.refresh_interval_s {
            return Err(InvalidParameter::new(
                "rotation.retry_backoff",
                format!("{} s", short_number(r.retry_backoff_s)),
                format!("must be at most mesh.refresh_interval = {} s", m.refresh_interval_s),
            ));
        }
        let topology = Topology::new(&self.hub, &self.node, &self.link, &self.topology)?;
        if let Some(d) = r.distribution_deadline_s {
            check_positive("rotation.distribution_deadline", d)?;
            let round_trip_s = 2.0 * self.longest_hub_delay_ns(&topology) as f64 / 1e9;
            if d <= round_trip_s || d > m.refresh_interval_s {
                return Err(InvalidParameter::new(
                    "rotation.distribution_deadline",
                    format!("{} s", short_number(d)),
                    format!(
                        "must be above the longest round trip between the hub and a node ({} s; no receipt \
                         could arrive before it) and at most mesh.refresh_interval = {} s",
                        short_number(round_trip_s),
                        m.refresh_interval_s
                    ),
                ));
            }
        }
        for link in &topology.links {
            let config = self
                .link_config(link)
                .map_err(|e| InvalidParameter::new(format!("link {}", link.id), e.to_string(), "invalid override"))?;
            check_honest_qber(&link.id, &config)?;
        }
        for (i, e) in self.event.iter().enumerate() {
            check_event(&topology, &format!("event[{i}]"), e)?;
        }
        Ok(topology)
    }

    /// One-way delay of a control message between the hub and node `n` (ns): fibre over the
    /// direct link if there is one, else over the route factor times the straight distance,
    /// plus processing.
    pub fn hub_delay_ns(&self, topology: &Topology, n: usize) -> u64 {
        self.control_delay_ns(topology, 0, n)
    }

    /// One-way delay of a control message between nodes `a` and `b` (ns), as
    /// [`hub_delay_ns`](Self::hub_delay_ns) (processing only when `a == b`).
    pub fn control_delay_ns(&self, topology: &Topology, a: usize, b: usize) -> u64 {
        let msg = &self.messages;
        let km = if a == b {
            0.0
        } else {
            topology.link_between(a, b).map(|l| topology.links[l].length_km).unwrap_or_else(|| {
                let (p, q) = (&topology.nodes[a], &topology.nodes[b]);
                ((p.x_km - q.x_km).powi(2) + (p.y_km - q.y_km).powi(2)).sqrt() * self.topology.route_factor
            })
        };
        ((km * msg.fibre_us_per_km + msg.processing_us) * 1e3) as u64
    }

    /// Whether an event of the run takes the hub down (then the ends of a pair coordinate its
    /// distributions while the hub is away, and their delays count in the deadline).
    pub fn hub_can_fail(&self) -> bool {
        self.event.iter().any(|e| e.node.as_deref() == Some(self.hub.name.as_str()))
    }

    /// The longest one-way message delay between a coordinator and a participant (ns): from
    /// the hub to a node, and, when the hub can fail, between any two nodes.
    pub fn longest_hub_delay_ns(&self, topology: &Topology) -> u64 {
        let n = topology.nodes.len();
        let from_hub = (0..n).map(|b| self.hub_delay_ns(topology, b)).max().unwrap_or(0);
        if !self.hub_can_fail() {
            return from_hub;
        }
        let pairs = (1..n).flat_map(|a| (a + 1..n).map(move |b| (a, b)));
        pairs.map(|(a, b)| self.control_delay_ns(topology, a, b)).max().unwrap_or(0).max(from_hub)
    }

    /// The deadline for every receipt of a distribution (ns): `rotation.distribution_deadline`,
    /// else `2·(d_max + max_resends·retry_timeout) + retry_timeout`
    /// ([`RotationSettings::distribution_deadline_s`]).
    pub fn distribution_deadline_ns(&self, topology: &Topology) -> u64 {
        match self.rotation.distribution_deadline_s {
            Some(d) => (d * 1e9).round() as u64,
            None => {
                let timeout_ns = (self.messages.retry_timeout_ms * 1e6) as u64;
                2 * (self.longest_hub_delay_ns(topology) + u64::from(self.messages.max_resends) * timeout_ns)
                    + timeout_ns
            }
        }
    }

    /// The physics of `link`: the defaults, its length, and its overrides.
    pub fn link_config(&self, link: &crate::mesh::topology::Link) -> Result<LinkConfig, MeshError> {
        let mut value = toml::Value::try_from(&self.link_defaults).expect("a link config serialises");
        crate::config::apply_override(&mut value, &format!("channel.length_km={:?}", link.length_km))?;
        for item in &link.set {
            crate::config::apply_override(&mut value, item)?;
        }
        let config: LinkConfig = value.try_into().map_err(|e: toml::de::Error| MeshError::LinkConfig(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }
}

/// Refuses a link whose honest expected QBER (its physics without any eavesdropper) is 0.5 or
/// more: Bob's bits would be independent of Alice's, so no key can ever be distilled and the
/// decision engine has no honest error rate to tune to.
fn check_honest_qber(id: &str, config: &LinkConfig) -> Result<(), InvalidParameter> {
    let honest = LinkConfig { eve: crate::photonics::Eve::default(), ..config.clone() };
    let expectation = LinkExpectation::new(&honest)
        .map_err(|e| InvalidParameter::new(format!("link {id}"), e.to_string(), "invalid physics"))?;
    let sifted_gain = expectation.expected[0].sifted_gain[0];
    if sifted_gain.is_nan() || sifted_gain <= 0.0 {
        return Err(InvalidParameter::new(
            format!("link {id}: expected sifted key-basis signal gain"),
            sifted_gain,
            "must be > 0 (the link would never produce a sifted bit)",
        ));
    }
    let qber = expectation.expected_qber();
    if qber < 0.5 {
        return Ok(());
    }
    Err(InvalidParameter::new(
        format!("link {id}: expected honest QBER"),
        qber,
        "must be below 0.5 (at 0.5 the link carries no information: check detector.efficiency, \
         detector.misalignment, detector.dark_count_probability and the channel loss)",
    ))
}

/// Checks event `e` (named `label` in errors, e.g. `event[2]`) against `topology`: the link or
/// node its kind needs exists, an attack and a strength in [0, 1] for eve, `until` not before
/// `at`; `recover_after` (> 0) only on a compromise of the hub.
pub fn check_event(topology: &Topology, label: &str, e: &EventSpec) -> Result<(), InvalidParameter> {
    let field = |f: &str| format!("{label}.{f}");
    let need_link = matches!(e.kind, EventKind::Eve | EventKind::Degrade | EventKind::OperatorRotation);
    if need_link {
        let name = e
            .link
            .as_deref()
            .ok_or_else(|| InvalidParameter::new(field("link"), "(missing)", "this event needs a link"))?;
        if !topology.links.iter().any(|l| l.id == name) {
            let known: Vec<&str> = topology.links.iter().map(|l| l.id.as_str()).take(12).collect();
            return Err(InvalidParameter::new(
                field("link"),
                name,
                format!("unknown link; links: {} ...", known.join(", ")),
            ));
        }
    } else {
        let name = e
            .node
            .as_deref()
            .ok_or_else(|| InvalidParameter::new(field("node"), "(missing)", "this event needs a node"))?;
        let Some(n) = topology.node(name) else {
            let known: Vec<&str> = topology.nodes.iter().map(|n| n.name.as_str()).take(12).collect();
            return Err(InvalidParameter::new(
                field("node"),
                name,
                format!("unknown node; nodes: {} ...", known.join(", ")),
            ));
        };
        if let Some(r) = e.recover_after_s {
            if !(n == 0 && e.kind == EventKind::Compromise) {
                return Err(InvalidParameter::new(
                    field("recover_after"),
                    r,
                    "only a compromise of the hub is re-provisioned (a new SOVEREIGN_MASTER); \
                     a crashed node returns after restart_after",
                ));
            }
            if !(r.is_finite() && r > 0.0) {
                return Err(InvalidParameter::new(field("recover_after"), r, "must be a duration > 0 s"));
            }
        }
    }
    if e.kind == EventKind::Eve {
        if e.attack.is_none() {
            return Err(InvalidParameter::new(field("attack"), "(missing)", "intercept-resend, pns or noise"));
        }
        check_probability(&field("strength"), e.strength)?;
    }
    if let Some(u) = e.until_s
        && u < e.at_s
    {
        return Err(InvalidParameter::new(field("until"), u, format!("must not be before at = {}", e.at_s)));
    }
    Ok(())
}
