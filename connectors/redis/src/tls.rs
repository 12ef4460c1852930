//! The rustls client configuration for `rediss://` and `redis.tls`: the trusted authorities
//! (a PEM file or the system's), an optional client certificate, and the insecure mode.

use std::sync::Arc;

use connect_core::ConnectError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::connection::{CACERT_CONFIG, KEY_CERT_CONFIG, KEY_FILE_CONFIG};

/// The TLS files and switches of a connection.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// Accept any server certificate.
    pub insecure: bool,
    /// PEM file of the authorities to trust; the system's when `None`.
    pub ca: Option<String>,
    /// PEM file of the client certificate chain.
    pub cert: Option<String>,
    /// PEM file of the client key.
    pub key: Option<String>,
}

/// Builds the rustls configuration, naming the key whose file is wrong on failure.
pub fn client_config(files: &TlsFiles) -> Result<ClientConfig, ConnectError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectError::fatal(format!("cannot set up TLS: {e}")))?;
    let builder = if files.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(provider)))
    } else {
        builder.with_root_certificates(roots(files.ca.as_deref())?)
    };
    match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            let chain = certificates(cert, KEY_CERT_CONFIG)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                ConnectError::config(
                    KEY_FILE_CONFIG,
                    format!("cannot read a PEM private key from '{key}': {e}"),
                )
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                ConnectError::config(KEY_FILE_CONFIG, format!("unusable client certificate: {e}"))
            })
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

fn certificates(path: &str, key: &str) -> Result<Vec<CertificateDer<'static>>, ConnectError> {
    let bad = |e: String| {
        ConnectError::config(
            key,
            format!("cannot read PEM certificates from '{path}': {e}"),
        )
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate in the file".into()));
    }
    Ok(certs)
}

fn roots(ca: Option<&str>) -> Result<RootCertStore, ConnectError> {
    let mut store = RootCertStore::empty();
    match ca {
        Some(path) => {
            for cert in certificates(path, CACERT_CONFIG)? {
                store.add(cert).map_err(|e| {
                    ConnectError::config(
                        CACERT_CONFIG,
                        format!("unusable certificate in '{path}': {e}"),
                    )
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A certificate the system keeps but rustls cannot use is skipped, as browsers do.
                let _ = store.add(cert);
            }
            if store.is_empty() {
                return Err(ConnectError::config(
                    CACERT_CONFIG,
                    "no trusted certificate authorities found on this system; set redis.cacert",
                ));
            }
        }
    }
    Ok(store)
}

/// `redis.insecure=true`: any certificate is accepted (signatures are still checked, so the
/// handshake itself is sound), as Lettuce's `verifyPeer(false)`.
#[derive(Debug)]
struct AcceptAnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
