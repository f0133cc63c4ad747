//! qecnet: a QKD simulation and QBER analysis lab.
//!
//! # Layers
//!
//! A module imports only from layers below its own (`tests/integration/layers.rs` fails on a
//! `crate::` path that points up or sideways):
//!
//! | layer | modules | provides |
//! |---|---|---|
//! | 0 | [`units`], [`rng`], atomic files | typed quantities and simulated time, reproducible random streams, outputs written atomically ([`FileError`]) |
//! | 1 | [`photonics`] | the photon-level BB84 link (source, channel, eavesdropper, detector), its analytic expectation and three engines (`pulse`, `event`, `block`) |
//! | 1 | [`crypto`] | the key types of the QECNet spec with their real algorithms |
//! | 2 | [`postprocess`] | from sifted key to secret key: estimation, Cascade, verification, Toeplitz privacy amplification, key rates, finite key |
//! | 2 | [`lifecycle`] | the key-lifecycle engine: atomic transitions, SQLite store, signed audit chain with proofs |
//! | 3 | [`config`] | scenario files (TOML) and `--set path.field=value` overrides |
//! | 4 | [`link_scenario`] | a link scenario: the link's physics plus post-processing settings |
//! | 5 | [`mesh`] | the simulated QKD mesh driving the lifecycle engine |
//! | 6 | [`sweep`] | parameter sweeps, in parallel or on Slurm |
//! | 6 | [`serve`] | ETSI GS QKD 014 KMEs over mutual TLS delivering lifecycle-recorded keys; the mesh's PKI |
//! | 7 | [`plot`] | charts from sweep CSVs |
//! | 8 | [`Error`] | the error a user sees, wrapping each module's own |
//! | 9 | [`report`], [`regress`] | the HTML report and the key-rate regression gate |
//! | 9 | [`api`] | whole commands (`link`, `keyrate`, `mesh`, `sweep`, `cascade-study`, `audit verify`) and their JSON, for the command line and the Python binding |
//! | 10 | the command line | [`main`], the `qecnet` binary |
//!
//! The photonics/postprocess chain and the crypto/lifecycle chain are independent until the
//! mesh joins them.
//!
//! # The public face
//!
//! Each subsystem is one flat list of `pub use` items (`qecnet::photonics::LinkConfig`,
//! `qecnet::lifecycle::Engine`, `qecnet::postprocess::key_rate`...); the files behind it are
//! private, so they can be split or renamed without breaking a caller. The few public
//! submodules are namespaces of their own: [`photonics::analytic`] (closed-form expectations),
//! [`postprocess::cascade`] (the Cascade family), [`lifecycle::rules`] (the state-diagram
//! rules as pure functions), [`lifecycle::audit_proof`] and [`lifecycle::merkle`] (RFC 6962
//! proofs and tree hashes).
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

#![warn(missing_docs)]

pub mod api;
mod atomic_file;
mod cli;
pub mod config;
pub mod crypto;
mod error;
pub mod lifecycle;
pub mod link_scenario;
pub mod mesh;
pub mod photonics;
pub mod plot;
pub mod postprocess;
pub mod regress;
pub mod report;
pub mod rng;
pub mod serve;
pub mod sweep;
pub mod units;

pub use atomic_file::{FileError, OutputClash};
pub use cli::main;
pub use error::{Error, Result};
