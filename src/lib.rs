//! qecnet: QKD simulation lab. This branch provides the key-lifecycle engine:
//! real cryptography ([`crypto`]), the lifecycle engine with its SQLite store
//! and signed audit chain ([`lifecycle`]), and the operator subcommands ([`cli`]).

pub mod cli;
pub mod crypto;
pub mod lifecycle;
