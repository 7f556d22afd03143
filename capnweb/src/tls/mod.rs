//! TLS with rustls: whom a client trusts and the certificate it presents ([`ClientTls`]), and a
//! server's own certificate, reloadable while it runs ([`ServerTls`]).
//!
//! Without these, `wss://` and `https://` trust the roots the `tls-webpki-roots` or
//! `tls-native-roots` feature chose. With them: custom certificate authorities (a private CA,
//! a test's), client certificates (mutual TLS), or a whole caller-supplied
//! [`rustls::ClientConfig`], for [`connect_with_tls`](crate::client::connect_with_tls),
//! `HttpBatch::with_tls` (feature `http-batch`) and
//! [`ClientBuilder::tls`](crate::client::ClientBuilder::tls); and a server that terminates TLS
//! itself ([`Server::tls`](crate::Server::tls)).
//!
//! ```no_run
//! use capnweb::tls::ClientTls;
//! # let ca_pem = rcgen_like_ca();
//! # fn rcgen_like_ca() -> Vec<u8> { Vec::new() }
//! // Trust the platform's roots and a private CA.
//! let tls = ClientTls::new().with_root_pem(&ca_pem)?.build()?;
//! # drop(tls);
//! # Ok::<(), capnweb::tls::TlsError>(())
//! ```

#[cfg(feature = "server")]
mod server;

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

/// The rustls this crate builds on, for building a [`rustls::ClientConfig`] or
/// [`rustls::ServerConfig`] by hand.
pub use rustls;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use server::ServerTls;

/// Why a TLS configuration could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// PEM text held no certificate or no private key, or could not be read.
    #[error("bad PEM: {0}")]
    Pem(String),
    /// rustls refused the configuration (a key that does not match its certificate, say).
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The system's certificate store could not be read.
    #[error("the system's certificates: {0}")]
    NativeRoots(String),
}

/// The crypto provider of every configuration made here: ring, the one this crate enables.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates of a PEM text (at least one).
pub(crate) fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    match certs.is_empty() {
        true => Err(TlsError::Pem("no certificate in it".to_owned())),
        false => Ok(certs),
    }
}

/// The private key of a PEM text (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| TlsError::Pem(format!("no private key: {e}")))
}

/// How a client speaks TLS: the certificate authorities it trusts, and the certificate it
/// presents if the server asks for one. Build it into a [`rustls::ClientConfig`] with
/// [`build`](ClientTls::build).
#[derive(Debug, Clone)]
pub struct ClientTls {
    roots: RootCertStore,
    identity: Option<(Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>)>,
}

impl Default for ClientTls {
    fn default() -> Self {
        ClientTls::new()
    }
}

impl ClientTls {
    /// The roots the enabled feature chose (`tls-webpki-roots`: Mozilla's; else
    /// `tls-native-roots`: the system's, where it can read them); no client certificate.
    pub fn new() -> ClientTls {
        let tls = ClientTls::empty();
        #[cfg(feature = "tls-webpki-roots")]
        let tls = tls.with_webpki_roots();
        #[cfg(all(feature = "tls-native-roots", not(feature = "tls-webpki-roots")))]
        let tls = match tls.clone().with_native_roots() {
            Ok(with_native) => with_native,
            Err(e) => {
                tracing::warn!(error = %e, "capnweb: the system's root certificates are unreadable");
                tls
            }
        };
        tls
    }

    /// Trusting nothing yet: add roots with [`with_root_pem`](Self::with_root_pem).
    pub fn empty() -> ClientTls {
        ClientTls {
            roots: RootCertStore::empty(),
            identity: None,
        }
    }

    /// Also trusts Mozilla's root certificates.
    #[cfg(feature = "tls-webpki-roots")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls-webpki-roots")))]
    pub fn with_webpki_roots(mut self) -> ClientTls {
        self.roots
            .extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        self
    }

    /// Also trusts the system's root certificates.
    #[cfg(feature = "tls-native-roots")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls-native-roots")))]
    pub fn with_native_roots(mut self) -> Result<ClientTls, TlsError> {
        let found = rustls_native_certs::load_native_certs();
        if found.certs.is_empty() {
            if let Some(e) = found.errors.first() {
                return Err(TlsError::NativeRoots(e.to_string()));
            }
        }
        self.roots.add_parsable_certificates(found.certs);
        Ok(self)
    }

    /// Also trusts the certificate authorities in `pem` (a private CA, say).
    pub fn with_root_pem(mut self, pem: &[u8]) -> Result<ClientTls, TlsError> {
        for cert in certificates(pem)? {
            self.roots.add(cert)?;
        }
        Ok(self)
    }

    /// Presents this certificate (chain, leaf first) and key when a server asks (mutual TLS).
    pub fn with_identity_pem(
        mut self,
        cert_chain_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<ClientTls, TlsError> {
        self.identity = Some((
            certificates(cert_chain_pem)?,
            Arc::new(private_key(key_pem)?),
        ));
        Ok(self)
    }

    /// The rustls configuration.
    pub fn build(self) -> Result<Arc<ClientConfig>, TlsError> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.roots);
        let config = match self.identity {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key.clone_key())?,
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}
