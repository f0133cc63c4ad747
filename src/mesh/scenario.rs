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
}

impl Default for MessageSettings {
    fn default() -> Self {
        MessageSettings { fibre_us_per_km: 5.0, processing_us: 200.0, loss_probability: 0.001, retry_timeout_ms: 50.0 }
    }
}

/// The kind of a scenario event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// An eavesdropper on a link, from `at` to `until`.
    Eve,
    /// A node is compromised: the six-step recovery runs.
    Compromise,
    /// A link loses `extra_loss_db` more, from `at` to `until`.
    Degrade,
    /// An operator orders a (triggered) rotation of a link's session key.
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
        let topology = Topology::new(&self.hub, &self.node, &self.link, &self.topology)?;
        for link in &topology.links {
            let config = self
                .link_config(link)
                .map_err(|e| InvalidParameter::new(format!("link {}", link.id), e.to_string(), "invalid override"))?;
            check_honest_qber(&link.id, &config)?;
        }
        for (i, e) in self.event.iter().enumerate() {
            let field = |f: &str| format!("event[{i}].{f}");
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
                if topology.node(name).is_none_or(|n| n == 0) {
                    return Err(InvalidParameter::new(
                        field("node"),
                        name,
                        "unknown node (the hub cannot be compromised or crash here)",
                    ));
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
        }
        Ok(topology)
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
