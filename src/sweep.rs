//! Sweeps: a base scenario, axes over any `--set` field, replicates; points run in parallel
//! with per-point seeds derived from (sweep seed, point, replicate), so the CSV is the same
//! byte for byte whatever the thread count or sharding. See [`spec`] for the file format.

pub(crate) mod figure_names;
pub(crate) mod figures;
pub(crate) mod kind;
pub(crate) mod runner;
pub(crate) mod slurm;
pub(crate) mod spec;
pub(crate) mod table;

pub use figure_names::{DECISION_FIGURES, LINK_FIGURES, MESH_FIGURES, all_figure_names};
pub use figures::{evaluate, link_figures};
pub use runner::{Outcome, RunOptions, Shard, output_path, partial_path, point_seed, run, shard_tasks};
pub use slurm::{Submission, Submitted};
pub use spec::{Axis, MAX_TASKS, Sweep, SweepError, SweepKind};
pub use table::{Marker, TableFile, header, merge, read_partial, read_table};
