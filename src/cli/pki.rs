//! `qecnet pki init DIR --scenario FILE`: the certificates of a served mesh (see
//! [`crate::serve::init_pki`]): a CA, a server certificate per KME (the hub and every node),
//! a client certificate per `[[sae]]` of the scenario, and the operator's.

use std::path::PathBuf;

use crate::mesh::MeshScenario;
use crate::serve::{SaeDirectory, init_pki};
use crate::{Error, Result};

/// Arguments of `qecnet pki`.
#[derive(Debug, clap::Args)]
pub struct PkiArgs {
    /// PKI operation.
    #[command(subcommand)]
    pub command: PkiCommand,
}

/// Subcommands of `qecnet pki`.
#[derive(Debug, clap::Subcommand)]
pub enum PkiCommand {
    /// Write a new CA and every KME, SAE and operator certificate into DIR (never overwrites).
    Init {
        /// The directory (created if missing; must not hold any of the files).
        dir: PathBuf,
        /// The mesh scenario whose nodes and [[sae]] tables get certificates.
        #[arg(long)]
        scenario: PathBuf,
    },
}

/// Runs `qecnet pki`.
pub fn run(args: &PkiArgs) -> Result<()> {
    match &args.command {
        PkiCommand::Init { dir, scenario } => {
            let scenario: MeshScenario = crate::cli::Overrides::new(&[]).load(Some(scenario))?;
            let directory = SaeDirectory::from_scenario(&scenario)?;
            let written =
                init_pki(dir, directory.nodes(), &directory.sae_ids()).map_err(crate::serve::ServeError::from)?;
            println!("wrote {} files to {}: {}", written.files.len(), dir.display(), written.files.join(" "));
            Ok::<(), Error>(())
        }
    }
}
