//! TLS for the KMEs (rustls with the `ring` provider): TLS 1.2 and 1.3, mutual
//! authentication (a client certificate is required and must chain to the mesh CA, or the
//! handshake fails), and the caller's identity from its certificate: the one declared SAE ID
//! (or `operator`) the certificate is valid for as a DNS subject alternative name.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;

use super::error::ServeError;

fn pki_err(path: &Path, message: impl std::fmt::Display) -> ServeError {
    ServeError::PkiFile { path: path.display().to_string(), message: message.to_string() }
}

/// The certificates of a PEM file (at least one).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServeError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pki_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pki_err(path, e))?;
    if certs.is_empty() {
        return Err(pki_err(path, "no certificate in the file"));
    }
    Ok(certs)
}

/// The private key of a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, ServeError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pki_err(path, e))
}

/// The crypto provider of every TLS endpoint here.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server configuration of the KME of `node`: its certificate and key from `pki`
/// (`<node>.crt`, `<node>.key`), client certificates required and checked against
/// `pki/ca.crt`, TLS 1.2 and 1.3, HTTP/1.1.
pub fn server_config(pki: &Path, node: &str) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    let ca_path = pki.join("ca.crt");
    let mut roots = RootCertStore::empty();
    for ca in load_certs(&ca_path)? {
        roots.add(ca).map_err(|e| pki_err(&ca_path, e))?;
    }
    let provider = provider();
    let tls = |e: &dyn std::fmt::Display| ServeError::Tls { what: node.to_string(), message: e.to_string() };
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().map_err(|e| tls(&e))?;
    let certs = load_certs(&pki.join(format!("{node}.crt")))?;
    let key = load_key(&pki.join(format!("{node}.key")))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| tls(&e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| tls(&e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The one name of `candidates` that the (already verified) end-entity certificate `cert` is
/// valid for as a DNS subject alternative name; `None` if none is, or more than one.
pub fn identity<'a>(cert: &CertificateDer<'_>, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let ee = webpki::EndEntityCert::try_from(cert).ok()?;
    let mut found = None;
    for name in candidates {
        let Ok(server_name) = ServerName::try_from(name) else { continue };
        if ee.verify_is_valid_for_subject_name(&server_name).is_ok() {
            if found.is_some() {
                return None;
            }
            found = Some(name);
        }
    }
    found
}
