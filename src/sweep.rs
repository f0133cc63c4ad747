//! Sweeps: a base scenario, axes over any `--set` field, replicates; points run in parallel
//! with per-point seeds derived from (sweep seed, point, replicate), so the CSV is the same
//! byte for byte whatever the thread count or sharding. See [`spec`] for the file format.

pub mod figure_names;
pub mod figures;
pub mod kind;
pub mod runner;
pub mod slurm;
pub mod spec;
pub mod table;

pub use runner::{Outcome, RunOptions, Shard, run};
pub use spec::{Sweep, SweepError, SweepKind};
