//! [`ServeError`]: what keeps the KMEs from starting or running.

use crate::lifecycle::LifecycleError;
use crate::units::InvalidParameter;

/// Why `qecnet serve` (or `qecnet pki init`) could not start or go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A bad scenario field or option: names the field, the value and what is allowed.
    #[error(transparent)]
    Invalid(#[from] InvalidParameter),
    /// The PKI could not be written.
    #[error(transparent)]
    Pki(#[from] super::pki::PkiError),
    /// A PKI file could not be read or is not what it should be.
    #[error("{path}: {message}")]
    PkiFile {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// TLS configuration refused.
    #[error("TLS setup for {what}: {message}")]
    Tls {
        /// Which KME or file.
        what: String,
        /// What rustls said.
        message: String,
    },
    /// The key store.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// A file or socket.
    #[error(transparent)]
    File(#[from] crate::atomic_file::FileError),
    /// A listener could not be bound.
    #[error("listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The store writer stopped.
    #[error("the key store writer stopped: {0}")]
    WriterGone(String),
    /// The live mesh could not start or go on.
    #[error(transparent)]
    Mesh(#[from] crate::mesh::MeshError),
    /// The key supply could not start (no entropy).
    #[error(transparent)]
    Supply(#[from] super::supply::SupplyError),
}

impl ServeError {
    /// Whether this failure happened while running (the store, a file, a socket, the writer:
    /// exit status 1) rather than in what the user named (the scenario, the PKI and its
    /// certificates: exit status 2).
    pub fn is_runtime(&self) -> bool {
        match self {
            ServeError::Lifecycle(e) => e.is_runtime(),
            ServeError::Mesh(e) => e.is_runtime(),
            ServeError::File(_) | ServeError::Listen { .. } | ServeError::WriterGone(_) | ServeError::Supply(_) => true,
            ServeError::Invalid(_) | ServeError::Pki(_) | ServeError::PkiFile { .. } | ServeError::Tls { .. } => false,
        }
    }
}
