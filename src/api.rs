//! The lab as a library of whole commands: what `qecnet link|keyrate|mesh|sweep|cascade-study|audit
//! verify` compute and the JSON they print, as functions that both the command line (`src/cli/`)
//! and the Python binding (`python/`) call, so that the two give the same numbers for the same
//! seed and the same error messages for the same bad input. Long calls take a stop flag
//! (`&AtomicBool`) and a progress callback.

mod audit;
mod keyrate;
mod link;
mod mesh;
mod overrides;
mod study;
mod sweep;

pub(crate) use audit::parse_pin;
pub use audit::{verdict_json, verify_store};
pub use keyrate::{KeyRateReport, key_rate_at_distances, key_rate_report};
pub use link::{LinkOutcome, load_link_scenario, run_link};
pub use mesh::{MeshRun, load_mesh_scenario, run_loaded_mesh_scenario, run_mesh_scenario};
pub use overrides::{Overrides, toml_float};
pub use study::{cascade_study, reconcile_study, reconciliation_named, write_study_csv};
pub use sweep::{SweepRun, run_sweep};
