//! Integration tests, one file per scenario, in one test binary.

mod bad_input;
mod determinism;
mod fuzz_corpus;
mod keyrate;
mod layers;
mod lifecycle_crash;
mod lifecycle_crypto;
mod lifecycle_engine;
mod lifecycle_model;
mod lifecycle_protocol_model;
mod lifecycle_tamper;
mod link_analytic;
mod link_eavesdroppers;
mod link_engines_agree;
mod link_passive;
mod merkle_vectors;
mod mesh;
mod mesh_hub_compromise;
mod mesh_reconfigure;
mod mesh_retry;
mod paper_cascade;
mod paper_gys;
mod paper_lim2014;
mod pipeline;
mod postprocess_cascade;
mod postprocess_ldpc;
mod postprocess_privacy;
mod report;
#[cfg(feature = "serve")]
mod serve;
#[cfg(feature = "serve")]
mod serve_delivery;
#[cfg(feature = "serve")]
mod serve_faults;
#[cfg(feature = "serve")]
mod serve_live;
#[cfg(feature = "serve")]
mod serve_pki;
#[cfg(feature = "serve")]
mod serve_resume;
#[cfg(feature = "serve")]
mod serve_util;
mod slurm;
mod stats;
mod store_safety;
mod sweep;
mod util;
