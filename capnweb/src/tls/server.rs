//! [`ServerTls`]: the server's certificate, replaceable while it runs, and the client
//! certificates it may require.

use std::fmt;
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use super::{certificates, private_key, provider, TlsError};

/// A server's TLS: its certificate and key, and (optionally) the certificate authorities whose
/// client certificates it requires. Cheap to clone: clones share the certificate, so
/// [`reload`](ServerTls::reload) on any of them changes it for the next handshakes, without a
/// restart; connections already open keep theirs.
///
/// ```no_run
/// # fn demo(cert_pem: &[u8], key_pem: &[u8]) -> Result<(), capnweb::tls::TlsError> {
/// use capnweb::{tls::ServerTls, Server};
/// let tls = ServerTls::from_pem(cert_pem, key_pem)?;
/// let server = Server::bind("0.0.0.0:443").tls(tls.clone());
/// // Later, when the certificate is renewed:
/// tls.reload(cert_pem, key_pem)?;
/// # drop(server); Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServerTls {
    current: Arc<Current>,
    config: Arc<ServerConfig>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

/// The certificate handshakes get.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

impl ServerTls {
    /// Serves this certificate (chain, leaf first) with this private key, to any client.
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<ServerTls, TlsError> {
        ServerTls::build(certified(cert_chain_pem, key_pem)?, None)
    }

    /// The same, and only to clients presenting a certificate that one of the certificate
    /// authorities in `client_ca_pem` issued (mutual TLS).
    pub fn requiring_client_certs(
        cert_chain_pem: &[u8],
        key_pem: &[u8],
        client_ca_pem: &[u8],
    ) -> Result<ServerTls, TlsError> {
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots(client_ca_pem)?),
            provider(),
        )
        .build()
        .map_err(|e| TlsError::Pem(format!("client certificate authorities: {e}")))?;
        ServerTls::build(certified(cert_chain_pem, key_pem)?, Some(verifier))
    }

    fn build(
        key: CertifiedKey,
        verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
    ) -> Result<ServerTls, TlsError> {
        let current = Arc::new(Current(RwLock::new(Arc::new(key))));
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?;
        let builder = match verifier {
            Some(verifier) => builder.with_client_cert_verifier(verifier),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            current,
            config: Arc::new(config),
        })
    }

    /// Serves this certificate and key from the next handshake on. The key is checked against
    /// the certificate first: on an error, the old pair stays.
    pub fn reload(&self, cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<(), TlsError> {
        let key = Arc::new(certified(cert_chain_pem, key_pem)?);
        *self.current.0.write().unwrap_or_else(|e| e.into_inner()) = key;
        Ok(())
    }

    /// The rustls configuration the server's handshakes use.
    pub(crate) fn config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }
}

/// A store of the certificate authorities in a PEM text.
fn roots(pem: &[u8]) -> Result<rustls::RootCertStore, TlsError> {
    let mut store = rustls::RootCertStore::empty();
    for cert in certificates(pem)? {
        store.add(cert)?;
    }
    Ok(store)
}

/// A certificate chain with its key, checked to match.
fn certified(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, TlsError> {
    let chain = certificates(cert_chain_pem)?;
    let key = provider()
        .key_provider
        .load_private_key(private_key(key_pem)?)?;
    let certified = CertifiedKey::new(chain, key);
    certified.keys_match()?;
    Ok(certified)
}
