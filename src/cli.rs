//! Operator subcommands of the lifecycle engine: `audit` and `keys`.

pub mod audit;
pub mod keys;
