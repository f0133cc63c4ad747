//! qecnet: QKD simulation lab. This branch provides the key-lifecycle engine.

pub mod crypto;
