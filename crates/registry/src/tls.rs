//! TLS server configuration from PEM files (rustls with the ring provider).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::RegistryError;

pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, RegistryError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|source| RegistryError::TlsPem {
            path: cert.to_path_buf(),
            source,
        })?
        .collect::<Result<_, _>>()
        .map_err(|source| RegistryError::TlsPem {
            path: cert.to_path_buf(),
            source,
        })?;
    if certs.is_empty() {
        return Err(RegistryError::TlsNoCert {
            path: cert.to_path_buf(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| RegistryError::TlsPem {
        path: key.to_path_buf(),
        source,
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(RegistryError::Tls)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(RegistryError::Tls)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
