//! HTTPS listeners: `listeners=https://host:port` with Kafka Connect's
//! `listeners.https.ssl.*` keys, as PEM files (rustls):
//!
//! - `listeners.https.ssl.certificate.location`: the server's certificate chain (PEM);
//! - `listeners.https.ssl.key.location`: its private key (PEM, unencrypted);
//! - `listeners.https.ssl.client.auth`: `none` (default), `requested` or `required`;
//! - `listeners.https.ssl.truststore.location`: the authorities clients' certificates must
//!   chain to (PEM), for `requested`/`required`.
//!
//! (Kafka Connect takes Java keystores under `listeners.https.ssl.keystore.*`; export them
//! to PEM with `keytool -exportcert -rfc` / `openssl pkcs12 -nodes`.)

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use connect_core::config::Props;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client has to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS settings of the HTTPS listener; the error names the key and the problem.
pub fn server_config(props: &Props) -> Result<Arc<ServerConfig>, String> {
    let get = |key: &str| props.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let cert_key = "listeners.https.ssl.certificate.location";
    let key_key = "listeners.https.ssl.key.location";
    let cert_path =
        get(cert_key).ok_or_else(|| format!("{cert_key}: required for an https:// listener"))?;
    let key_path =
        get(key_key).ok_or_else(|| format!("{key_key}: required for an https:// listener"))?;
    let chain = certificates(cert_path, cert_key)?;
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| format!("{key_key}: cannot read a PEM private key from {key_path}: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    let client_auth = get("listeners.https.ssl.client.auth")
        .unwrap_or("none")
        .to_ascii_lowercase();
    let builder = match client_auth.as_str() {
        "none" => builder.with_no_client_auth(),
        "requested" | "required" => {
            let trust_key = "listeners.https.ssl.truststore.location";
            let trust = get(trust_key).ok_or_else(|| {
                format!("{trust_key}: required with listeners.https.ssl.client.auth={client_auth}")
            })?;
            let mut roots = RootCertStore::empty();
            for cert in certificates(trust, trust_key)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("{trust_key}: unusable certificate in {trust}: {e}"))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if client_auth == "requested" {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| format!("{trust_key}: cannot verify clients with it: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
        other => {
            return Err(format!(
                "listeners.https.ssl.client.auth: '{other}' is not one of none, requested, required"
            ))
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("{key_key}: the key does not fit the certificate: {e}"))?;
    // HTTP/1.1 only: the REST server is built without HTTP/2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn certificates(path: &str, key: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{key}: cannot read {path}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{key}: {path} is not PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{key}: no certificate in {path}"));
    }
    Ok(certs)
}

/// A TCP listener whose connections are TLS. Handshakes run concurrently, each bounded in
/// time, so a slow or broken client holds up nobody else.
#[derive(Debug)]
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting on `listener`.
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { local, ready })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task ended (it never does while we hold the receiver).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
