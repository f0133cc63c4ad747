//! One BB84 link, simulated photon by photon: the scenario ([`LinkConfig`]), the three engines
//! of the fidelity ladder that run it, and what they produce ([`LinkRun`]).
//!
//! - [`LinkEngine::Pulse`] simulates every pulse: class, photon number, Eve, each photon's
//!   survival, dark counts and detector memory, gate by gate. It is the reference.
//! - [`LinkEngine::Event`] jumps over the pulses that cannot click (the gap to the next natural
//!   click is geometric with `p = Σ_k π_k·P(click | k)`), draws the clicking pulse from its
//!   exact conditional distribution, and handles afterpulses as scheduled events and dead time
//!   as skipped gates. It is exact in distribution and costs time per click, not per pulse.
//! - [`LinkEngine::Block`] draws each chunk's counts from their multinomial distribution: no
//!   detections, no QBER stream, cost per chunk; exact without memory, first order with it
//!   (see [`BlockSampler`]).
//!
//! Pulses are processed in fixed chunks, each with its own random stream derived from
//! (seed, chunk index). Without detector memory the chunks are independent and run in
//! parallel; with memory they run in order carrying the receiver state. Either way the output
//! depends only on the seed, never on the number of threads.

mod block;
mod event;
mod model;
mod pulse;
mod qber_stream;
mod receiver_state;
mod record;
mod sifting;
mod summary;
mod totals;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use block::BlockSampler;
pub use model::{BasisChoice, Branch, BranchTable, LinkExpectation, LinkModel};
pub use qber_stream::{QberBlock, QberStream, write_csv as write_qber_stream_csv};
pub use receiver_state::ReceiverState;
pub use record::{Detection, LinkObserver};
pub use sifting::{SiftedKey, Sifter};
pub use summary::{ClassSummary, LinkSummary, PerBasis, SourcePhotons};
pub use totals::{Totals, ratio};

use crate::photonics::analytic::Expected;
use crate::photonics::{Channel, Detector, Eve, Source};
use crate::units::InvalidParameter;

/// Which engine simulates the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LinkEngine {
    /// Every pulse simulated: the reference.
    Pulse,
    /// Jumps between pulses that can click: exact in distribution, cost per click.
    #[default]
    Event,
    /// Counts per window drawn from their multinomial: no individual detections, cost per
    /// window (first-order approximation of detector memory).
    Block,
}

impl LinkEngine {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            LinkEngine::Pulse => "pulse",
            LinkEngine::Event => "event",
            LinkEngine::Block => "block",
        }
    }

    /// Pulses per chunk (fixed, so the output does not depend on the thread count).
    fn chunk_pulses(self) -> u64 {
        match self {
            LinkEngine::Pulse => 1 << 20,
            LinkEngine::Event | LinkEngine::Block => 1 << 26,
        }
    }
}

/// What to simulate (`[simulation]` in a scenario file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Simulation {
    /// The engine.
    pub engine: LinkEngine,
    /// Pulses to send (a TOML float such as `1e9` is accepted if it is a whole number).
    #[serde(deserialize_with = "crate::units::deserialize_count")]
    pub pulses: u64,
    /// Seed of every random stream of the run.
    pub seed: u64,
    /// Sifted key bits per block of the QBER stream.
    #[serde(deserialize_with = "crate::units::deserialize_count")]
    pub qber_block_bits: u64,
}

impl Default for Simulation {
    fn default() -> Self {
        Simulation { engine: LinkEngine::Event, pulses: 100_000_000, seed: 1, qber_block_bits: 10_000 }
    }
}

/// A complete link scenario: the physics and the simulation settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkConfig {
    /// Alice's source.
    pub source: Source,
    /// The fibre.
    pub channel: Channel,
    /// Bob's receiver.
    pub detector: Detector,
    /// The eavesdropper (none by default).
    pub eve: Eve,
    /// Run settings.
    pub simulation: Simulation,
}

impl LinkConfig {
    /// A modern memoryless link of `length_km`: 1 GHz source (μ 0.5, ν 0.1, true vacuum with
    /// probabilities 0.6 / 0.25 / 0.15), 0.2 dB/km fibre, 60 % detectors, 10⁻⁸ dark counts,
    /// 1 % misalignment — the mesh scenarios' links, used as a reference in tests.
    pub fn modern(length_km: f64) -> Self {
        let mut c = LinkConfig::default();
        c.source.repetition_rate_hz = 1e9;
        c.source.signal_intensity = 0.5;
        c.source.decoy_intensity = 0.1;
        c.source.vacuum_intensity = 0.0;
        c.source.signal_probability = 0.6;
        c.source.decoy_probability = 0.25;
        c.source.vacuum_probability = 0.15;
        c.detector.efficiency = 0.6;
        c.detector.dark_count_probability = 1e-8;
        c.detector.misalignment = 0.01;
        c.channel.attenuation_db_per_km = 0.2;
        c.channel.length_km = length_km;
        c
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        self.source.validate()?;
        self.channel.validate()?;
        self.detector.validate()?;
        self.eve.validate()?;
        if self.simulation.pulses == 0 {
            return Err(InvalidParameter::new("simulation.pulses", 0, "must be at least 1"));
        }
        if self.simulation.qber_block_bits == 0 {
            return Err(InvalidParameter::new("simulation.qber_block_bits", 0, "must be at least 1"));
        }
        Ok(())
    }
}

/// The result of a link simulation.
#[derive(Debug, Clone)]
pub struct LinkRun {
    /// The compiled model that was simulated (holds the analytic expectation).
    pub model: LinkModel,
    /// Counts per class and basis.
    pub totals: Totals,
    /// The QBER stream of the sifted key.
    pub qber_blocks: Vec<QberBlock>,
}

impl LinkRun {
    /// The analytic expectation per class.
    pub fn expected(&self) -> &[Expected; 3] {
        &self.model.expected
    }
}

/// What one chunk of pulses produced.
#[derive(Debug, Default)]
pub(crate) struct ChunkOutput {
    pub totals: Totals,
    pub detections: Vec<Detection>,
}

/// Simulates the link of `config`, feeding every detection to `observer` in pulse order.
pub fn simulate_link(config: &LinkConfig, observer: &mut dyn LinkObserver) -> Result<LinkRun, InvalidParameter> {
    let model = LinkModel::new(config)?;
    let sim = &config.simulation;
    let block = (sim.engine == LinkEngine::Block)
        .then(|| BlockSampler::new(&LinkExpectation::new(config).expect("validated above")));
    let chunk = sim.engine.chunk_pulses();
    let chunks = sim.pulses.div_ceil(chunk);
    let chunk_range = |c: u64| (c * chunk, chunk.min(sim.pulses - c * chunk));
    let run_chunk = |c: u64, state: &mut ReceiverState| {
        let (start, len) = chunk_range(c);
        let mut rng = crate::rng::derive_rng(sim.seed, &[c]);
        match sim.engine {
            LinkEngine::Pulse => pulse::run_chunk(&model, start, len, &mut rng, state),
            LinkEngine::Event => event::run_chunk(&model, start, len, &mut rng, state),
            LinkEngine::Block => {
                let sampler = block.as_ref().expect("built for the block engine");
                ChunkOutput { totals: sampler.sample(len, &mut rng), detections: Vec::new() }
            }
        }
    };

    let mut totals = Totals::default();
    let mut stream = QberStream::new(sim.qber_block_bits);
    let mut consume = |out: ChunkOutput, observer: &mut dyn LinkObserver| {
        totals.merge(&out.totals);
        for d in &out.detections {
            stream.push(d);
            observer.detection(d);
        }
    };
    if model.memory.has_memory() && sim.engine != LinkEngine::Block {
        let mut state = ReceiverState::default();
        for c in 0..chunks {
            consume(run_chunk(c, &mut state), observer);
            observer.progress(chunk_range(c).0 + chunk_range(c).1, sim.pulses);
            if observer.cancelled() {
                break;
            }
        }
    } else {
        let batch = 2 * rayon::current_num_threads() as u64;
        let mut first = 0;
        while first < chunks {
            let last = (first + batch).min(chunks);
            let outputs: Vec<ChunkOutput> =
                (first..last).into_par_iter().map(|c| run_chunk(c, &mut ReceiverState::default())).collect();
            for out in outputs {
                consume(out, observer);
            }
            observer.progress((last * chunk).min(sim.pulses), sim.pulses);
            first = last;
            if observer.cancelled() {
                break;
            }
        }
    }
    Ok(LinkRun { model, totals, qber_blocks: stream.finish() })
}
