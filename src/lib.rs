//! qecnet: a QKD simulation and QBER analysis lab.
//!
//! The crate provides, in data-flow order (a module may use modules above it, never below):
//! - [`units`] and [`rng`]: typed physical quantities and reproducible random streams;
//! - [`photonics`]: the photon-level BB84 link model (source, channel, eavesdropper, detector),
//!   its analytic expectation and two simulation engines (`pulse`, `event`);
//! - [`postprocess`]: Cascade reconciliation, verification by universal hashing and Toeplitz
//!   privacy amplification, pure algorithms on packed bit strings;
//! - [`config`]: scenario files (TOML) with `--set path.field=value` overrides;
//! - [`postprocess`]: from sifted key to secret key (estimation, key rates, finite key);
//! - [`crypto`] and [`lifecycle`]: the key types of the QECNet spec with their real
//!   algorithms, and the key-lifecycle engine (atomic transitions, SQLite store, signed audit
//!   chain) — independent of the photonics;
//! - [`mesh`]: the simulated QKD mesh driving the lifecycle engine;
//! - [`sweep`], [`plot`], [`report`], [`regress`]: parameter sweeps, charts, the report and
//!   the key-rate gate;
//! - [`cli`]: the `qecnet` command line.
//!
//! ```
//! use qecnet::photonics::{LinkConfig, simulate_link};
//! let mut config = LinkConfig::default(); // the GYS link of Ma, Qi, Zhao, Lo (2005)
//! config.channel.length_km = 25.0;
//! config.simulation.pulses = 1_000_000;
//! let run = simulate_link(&config, &mut ()).unwrap();
//! assert_eq!(run.totals.pulses(), 1_000_000);
//! assert!(run.totals.gain(qecnet::photonics::IntensityClass::Signal) > 0.0);
//! ```

pub mod atomic_file;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod error;
pub mod lifecycle;
pub mod link_scenario;
pub mod mesh;
pub mod photonics;
pub mod plot;
pub mod postprocess;
pub mod regress;
pub mod report;
pub mod rng;
pub mod sweep;
pub mod units;

pub use error::{Error, Result};
