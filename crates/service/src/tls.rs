//! TLS client settings shared by the outputs that can talk TLS: the MQTT bridge (`mqtt.tls`)
//! and the InfluxDB writer (`influx.tls`, for `https://` URLs).
//!
//! Both take the same three files: the CA certificates to trust (absent: the system's roots),
//! and optionally a client certificate and its key for servers that ask for one. The rustls
//! configuration is built once at start, with the ring provider chosen here rather than
//! installed process-wide, so a bad file stops the start with its path and no other crate's
//! provider choice can change what is trusted.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

/// The files of a TLS client: `{ca_file, cert_file, key_file}` in a site config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsFiles {
    /// CA certificate file (PEM); absent: the system roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM), for servers that require one.
    pub cert_file: Option<PathBuf>,
    /// Client key (PEM).
    pub key_file: Option<PathBuf>,
}

/// Why the TLS settings of a section cannot be used. `section` is where they were written
/// (`mqtt.tls`, `influx.tls`).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or does not hold what it should.
    #[error("{section}: cannot use {} as {what}", path.display())]
    File {
        /// The config section.
        section: &'static str,
        /// The file.
        path: PathBuf,
        /// What it should hold.
        what: &'static str,
        /// Why it could not be used.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A certificate file that parses but holds no certificate.
    #[error("{section}: {} holds no certificate", path.display())]
    NoCertificate {
        /// The config section.
        section: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// No `ca_file` and the system has no usable roots.
    #[error("{section}: no system CA certificates found; set `ca_file`")]
    NoSystemRoots {
        /// The config section.
        section: &'static str,
    },
    /// Only one of `cert_file` and `key_file`.
    #[error("{section}: give both `cert_file` and `key_file`, or neither")]
    HalfClientAuth {
        /// The config section.
        section: &'static str,
    },
    /// rustls refused the protocol versions (does not happen with the ring provider).
    #[error("{section}: no usable TLS version")]
    Versions {
        /// The config section.
        section: &'static str,
        /// rustls' reason.
        #[source]
        source: rustls::Error,
    },
}

fn file_error(
    section: &'static str,
    path: &Path,
    what: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> TlsError {
    TlsError::File {
        section,
        path: path.to_path_buf(),
        what,
        source: Box::new(source),
    }
}

fn read_certs(
    section: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(section, path, "PEM certificates", e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(section, path, "PEM certificates", e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            section,
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The ring provider, for every TLS configuration evctl builds.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls client configuration for `files`, read now.
pub fn client_config(
    files: &TlsFiles,
    section: &'static str,
) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    match &files.ca_file {
        Some(path) => {
            for cert in read_certs(section, path)? {
                roots
                    .add(cert)
                    .map_err(|e| file_error(section, path, "a CA certificate", e))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system store may hold certificates rustls cannot use; skip those.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(TlsError::NoSystemRoots { section });
            }
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsError::Versions { section, source })?
        .with_root_certificates(roots);
    match (&files.cert_file, &files.key_file) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(section, cert)?;
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| file_error(section, key, "a PEM private key", e))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| file_error(section, cert, "a client certificate matching the key", e))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err(TlsError::HalfClientAuth { section }),
    }
}

/// A client configuration that trusts nothing: for a connector that is only ever asked for
/// plain HTTP, so no system store is read for nothing.
pub(crate) fn trust_nothing() -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default TLS versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_name_the_section_and_the_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let not_pem = dir.path().join("not.pem");
        std::fs::write(&not_pem, "hello\n").expect("write");
        let missing = TlsFiles {
            ca_file: Some(dir.path().join("missing.pem")),
            ..TlsFiles::default()
        };
        let err = client_config(&missing, "influx.tls").expect_err("refused");
        assert!(err.to_string().starts_with("influx.tls: "), "{err}");
        assert!(err.to_string().contains("missing.pem"), "{err}");
        let empty = TlsFiles {
            ca_file: Some(not_pem.clone()),
            ..TlsFiles::default()
        };
        let err = client_config(&empty, "mqtt.tls").expect_err("refused");
        assert!(err.to_string().contains("not.pem"), "{err}");
        let half = TlsFiles {
            ca_file: None,
            cert_file: Some(not_pem),
            key_file: None,
        };
        // Without a ca_file the system store is read first; either way the answer is an error.
        assert!(client_config(&half, "influx.tls").is_err());
    }

    #[test]
    fn the_test_ca_builds_a_config() {
        let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mqtt_tls/ca.pem");
        let files = TlsFiles {
            ca_file: Some(ca),
            ..TlsFiles::default()
        };
        assert!(client_config(&files, "influx.tls").is_ok());
    }
}
