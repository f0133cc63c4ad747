//! The mesh's PKI for `qecnet pki init DIR --scenario FILE`: a CA, a server certificate per
//! KME, a client certificate per SAE and one for the operator, all made with rcgen (ECDSA
//! P-256 with SHA-256, PEM). The CA's private key is not written: the set is made once,
//! complete, and a new set means a new DIR.
//!
//! - `ca.crt`: the mesh CA (self-signed, `CN=qecnet mesh CA`, may sign certificates only).
//! - `<node>.crt`, `<node>.key`: a KME's server certificate (`CN=<node>`, SAN `127.0.0.1`
//!   and `localhost`, extended key usage serverAuth).
//! - `<sae-id>.crt`, `<sae-id>.key`: an SAE's client certificate; the SAE ID is its CN and
//!   a DNS SAN (ETSI GS QKD 014 v1.1.1 leaves how an SAE is authenticated to the KME; here
//!   it is the certificate). Extended key usage clientAuth.
//! - `operator.crt`, `operator.key`: the operator's client certificate (`CN=operator`).
//!
//! Private keys are PKCS#8 PEM, mode 0600. Nothing existing is overwritten: every file is
//! checked to be absent first, then written to a temporary name and linked into place
//! (a link fails if the name appeared meanwhile), so a run never replaces a file it did
//! not create.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

use super::directory::OPERATOR;

/// Why a PKI could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file of the set is already there.
    #[error("{}: already exists; `qecnet pki init` never overwrites (use a new directory)", .0.display())]
    Exists(PathBuf),
    /// Two certificates would share a file name.
    #[error("certificate name {0:?} is used twice (node, SAE ID or 'operator' must all differ)")]
    DuplicateName(String),
    /// A name that cannot be a file name or a certificate's DNS name.
    #[error("certificate name {0:?}: must be 1-64 characters of a-z, A-Z, 0-9, '-' or '.', not starting with '.'")]
    BadName(String),
    /// rcgen refused.
    #[error("certificate {name}: {source}")]
    Certificate {
        /// The certificate's name.
        name: String,
        /// What rcgen said.
        #[source]
        source: rcgen::Error,
    },
    /// A file or directory could not be written.
    #[error(transparent)]
    File(#[from] crate::atomic_file::FileError),
}

/// What `pki init` wrote: file names relative to its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiWritten {
    /// Every file written, in order.
    pub files: Vec<String>,
}

/// A name usable as a file stem and a DNS SAN.
fn check_name(name: &str) -> Result<(), PkiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
    if ok { Ok(()) } else { Err(PkiError::BadName(name.to_string())) }
}

fn rcgen_err(name: &str) -> impl Fn(rcgen::Error) -> PkiError + '_ {
    move |source| PkiError::Certificate { name: name.to_string(), source }
}

/// One leaf certificate's parameters: CN, SANs and its extended key usage.
fn leaf_params(cn: &str, sans: Vec<String>, eku: ExtendedKeyUsagePurpose) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::new(sans).map_err(rcgen_err(cn))?;
    params.distinguished_name.push(DnType::CommonName, cn);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![eku];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// Writes the PKI for KMEs `nodes` and SAEs `saes` into `dir` (created if missing).
/// Refuses before writing anything if any of its files exists.
pub fn init_pki(dir: &Path, nodes: &[String], saes: &[String]) -> Result<PkiWritten, PkiError> {
    let mut names: Vec<&str> = Vec::new();
    for name in nodes.iter().chain(saes).map(String::as_str).chain([OPERATOR]) {
        check_name(name)?;
        if names.contains(&name) || name == "ca" {
            return Err(PkiError::DuplicateName(name.to_string()));
        }
        names.push(name);
    }
    let mut files = vec!["ca.crt".to_string()];
    for name in &names {
        files.push(format!("{name}.crt"));
        files.push(format!("{name}.key"));
    }
    for f in &files {
        let path = dir.join(f);
        if path.symlink_metadata().is_ok() {
            return Err(PkiError::Exists(path));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| crate::atomic_file::FileError::new(dir, e))?;

    let ca_key = KeyPair::generate().map_err(rcgen_err("ca"))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_err("ca"))?;
    ca_params.distinguished_name.push(DnType::CommonName, "qecnet mesh CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(rcgen_err("ca"))?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut written = Vec::new();
    let result = (|| {
        write_new(dir, "ca.crt", ca_cert.pem().as_bytes(), 0o644, &mut written)?;
        for name in &names {
            let is_node = nodes.iter().any(|n| n == name);
            let params = if is_node {
                leaf_params(name, vec!["127.0.0.1".into(), "localhost".into()], ExtendedKeyUsagePurpose::ServerAuth)?
            } else {
                leaf_params(name, vec![name.to_string()], ExtendedKeyUsagePurpose::ClientAuth)?
            };
            let key = KeyPair::generate().map_err(rcgen_err(name))?;
            let cert = params.signed_by(&key, &issuer).map_err(rcgen_err(name))?;
            write_new(dir, &format!("{name}.crt"), cert.pem().as_bytes(), 0o644, &mut written)?;
            let key_pem = zeroize::Zeroizing::new(key.serialize_pem());
            write_new(dir, &format!("{name}.key"), key_pem.as_bytes(), 0o600, &mut written)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        // Only what this run created goes again.
        for f in &written {
            let _ = std::fs::remove_file(dir.join(f));
        }
        return Err(e);
    }
    Ok(PkiWritten { files: written })
}

/// Writes `bytes` as the new file `dir/name` with `mode`: a temporary file (created new, with
/// its mode from the start) is synced and hard-linked to the name, which fails if it exists.
fn write_new(dir: &Path, name: &str, bytes: &[u8], mode: u32, written: &mut Vec<String>) -> Result<(), PkiError> {
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let fail = |path: &Path, e: std::io::Error| PkiError::File(crate::atomic_file::FileError::new(path, e));
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).map_err(|e| fail(&tmp, e))?;
    let outcome = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    let linked = outcome.and_then(|()| std::fs::hard_link(&tmp, &target));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            written.push(name.to_string());
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(PkiError::Exists(target)),
        Err(e) => Err(fail(&target, e)),
    }
}
