//! TLS for `https://` endpoints and for `serve`: PEM files read once, each problem a typed
//! error naming its file; the system's roots plus any CA file as trust anchors; and a
//! handshake failure's cause told from rustls' error, so that "untrusted certificate" and
//! "wrong name" read as such rather than as "transport error".

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, TrustAnchor};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// What the user said about TLS; [`TlsOptions::load`] reads the files.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// More CA certificates (PEM) to trust besides the system's.
    pub ca_cert: Option<PathBuf>,
    /// A client certificate chain (PEM) for mutual TLS; needs `client_key`.
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM: PKCS #8, PKCS #1 or SEC1).
    pub client_key: Option<PathBuf>,
    /// The name to verify the server's certificate against instead of the URL's host.
    pub server_name: Option<String>,
}

/// A TLS file or option that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsFileError {
    /// The file could not be read at all. (The I/O error is part of the message, not a
    /// source, so that a printed cause chain does not say it twice.)
    #[error("cannot read {}: {cause}", path.display())]
    Unreadable {
        /// The file as given.
        path: PathBuf,
        /// Why reading it failed.
        cause: std::io::Error,
    },
    /// The file has no `CERTIFICATE` PEM section.
    #[error("{} holds no PEM certificate (expected a -----BEGIN CERTIFICATE----- section)", path.display())]
    NoCertificate {
        /// The file as given.
        path: PathBuf,
    },
    /// A PEM section is malformed, or its DER is not an X.509 certificate.
    #[error("{} is not a valid PEM certificate: {reason}", path.display())]
    BadCertificate {
        /// The file as given.
        path: PathBuf,
        /// What the PEM or X.509 parser said.
        reason: String,
    },
    /// The file has no private key PEM section, or it is malformed.
    #[error("{} holds no usable PEM private key (PKCS #8, PKCS #1 or SEC1): {reason}", path.display())]
    BadKey {
        /// The file as given.
        path: PathBuf,
        /// What the PEM parser said, or that no key section was found.
        reason: String,
    },
    /// A certificate was given without its key, or a key without its certificate.
    #[error("a client certificate and its private key go together; only one was given")]
    IncompleteIdentity,
    /// The name to verify is neither a DNS name nor an IP address.
    #[error("{name:?} is not a valid TLS server name")]
    BadServerName {
        /// The name as given.
        name: String,
    },
    /// Nothing to trust: the system has no CA certificates and no CA file was given.
    #[error("no trusted CA certificates: the system has none and no CA file was given")]
    NoRoots,
}

/// A client TLS configuration with its files read and checked.
#[derive(Clone)]
pub struct ClientTls {
    config: ClientTlsConfig,
}

impl std::fmt::Debug for ClientTls {
    /// tonic's own `Debug` would print the client's private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientTls { .. }")
    }
}

impl ClientTls {
    /// tonic's configuration with its handshake bounded by `handshake_timeout`.
    pub(super) fn config(&self, handshake_timeout: std::time::Duration) -> ClientTlsConfig {
        self.config.clone().timeout(handshake_timeout)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsFileError> {
    std::fs::read(path).map_err(|cause| TlsFileError::Unreadable { path: path.to_owned(), cause })
}

/// Every certificate in a PEM file, at least one, each checked to parse as X.509 (a CA
/// file's entries become trust anchors, which is the strictest use).
fn certificates(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let bad = |reason: String| TlsFileError::BadCertificate { path: path.to_owned(), reason };
    let certs =
        CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsFileError::NoCertificate { path: path.to_owned() });
    }
    for (index, cert) in certs.iter().enumerate() {
        webpki::anchor_from_trusted_cert(cert).map_err(|e| bad(format!("certificate {}: {e}", index + 1)))?;
    }
    Ok(certs)
}

/// The PEM text of a certificate file, checked.
pub fn read_certificates(path: &Path) -> Result<Vec<u8>, TlsFileError> {
    let pem = read(path)?;
    certificates(path, &pem)?;
    Ok(pem)
}

/// The PEM text of a private key file, checked to hold one key.
pub fn read_private_key(path: &Path) -> Result<Vec<u8>, TlsFileError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| TlsFileError::BadKey { path: path.to_owned(), reason: e.to_string() })?;
    Ok(pem)
}

/// Trust anchors from DER certificates; ones that do not parse are skipped (a system
/// store may hold a few that webpki cannot use, as rustls' own loader tolerates).
fn anchors<'a>(certs: impl IntoIterator<Item = &'a CertificateDer<'a>>) -> Vec<TrustAnchor<'static>> {
    certs.into_iter().filter_map(|c| webpki::anchor_from_trusted_cert(c).ok().map(|a| a.to_owned())).collect()
}

/// The system's CA certificates as a rustls root store (for the IAM exchange), possibly
/// empty.
pub(super) fn system_roots() -> rustls::RootCertStore {
    let mut store = rustls::RootCertStore::empty();
    store.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    store
}

impl TlsOptions {
    /// Reads and checks every file, and the system's roots.
    pub fn load(&self) -> Result<ClientTls, TlsFileError> {
        let mut roots = anchors(&rustls_native_certs::load_native_certs().certs);
        if let Some(path) = &self.ca_cert {
            let pem = read(path)?;
            roots.extend(anchors(&certificates(path, &pem)?));
        }
        if roots.is_empty() {
            return Err(TlsFileError::NoRoots);
        }
        let mut config = ClientTlsConfig::new().trust_anchors(roots);
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                config =
                    config.identity(Identity::from_pem(read_certificates(cert)?, read_private_key(key)?));
            }
            (None, None) => {}
            _ => return Err(TlsFileError::IncompleteIdentity),
        }
        if let Some(name) = &self.server_name {
            ServerName::try_from(name.as_str())
                .map_err(|_| TlsFileError::BadServerName { name: name.clone() })?;
            config = config.domain_name(name.clone());
        }
        Ok(ClientTls { config })
    }

    /// Whether any TLS option was given (they make no sense for an `http://` endpoint).
    pub fn any(&self) -> bool {
        self.ca_cert.is_some()
            || self.client_cert.is_some()
            || self.client_key.is_some()
            || self.server_name.is_some()
    }
}

/// `serve`'s TLS: its certificate and key, and with `client_ca` a required, verified client
/// certificate (mutual TLS). Lives beside the client's so both read PEM files one way.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<ServerTlsConfig, TlsFileError> {
    // A client that connects and never completes the handshake is dropped after this.
    let mut config = ServerTlsConfig::new()
        .identity(Identity::from_pem(read_certificates(cert)?, read_private_key(key)?))
        .timeout(std::time::Duration::from_secs(10));
    if let Some(ca) = client_ca {
        config = config.client_ca_root(Certificate::from_pem(read_certificates(ca)?));
    }
    Ok(config)
}

/// Why a handshake failed, in words, when rustls' error is somewhere in the chain.
pub(super) fn handshake_failure(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(describe(tls));
        }
        // tokio-rustls reports through std::io::Error, whose inner error is not its source.
        if let Some(tls) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(describe(tls));
        }
        current = e.source();
    }
    // h2 keeps only the text of the I/O errors that end a connection, so an alert that
    // arrives after the handshake (TLS 1.3 servers judge the client's certificate then) is
    // known by rustls' wording alone.
    let text = super::transport::error_chain(error);
    [
        ("received fatal alert: CertificateRequired", "the server requires a client certificate"),
        ("received fatal alert: BadCertificate", "the server refused the client certificate"),
        ("received fatal alert: UnknownCA", "the server refused the client certificate"),
    ]
    .into_iter()
    .find(|(alert, _)| text.contains(alert))
    .map(|(alert, meaning)| format!("{meaning} ({alert})"))
}

fn describe(e: &rustls::Error) -> String {
    use rustls::{AlertDescription as Alert, CertificateError as Cert, Error};
    match e {
        Error::InvalidCertificate(Cert::UnknownIssuer) => format!(
            "the server's certificate is not signed by a trusted CA; if it comes from a private CA, \
             give that CA's certificate with --ca-cert ({e})"
        ),
        Error::InvalidCertificate(Cert::Other(other)) if other.to_string().contains("CaUsedAsEndEntity") => {
            format!(
                "the server presents a CA certificate as its own, as a self-signed certificate usually \
                 is, and TLS refuses that even when it is trusted; serve a certificate signed by a CA \
                 and give that CA with --ca-cert ({e})"
            )
        }
        Error::InvalidCertificate(Cert::NotValidForName | Cert::NotValidForNameContext { .. }) => format!(
            "the server's certificate is not valid for the name it was checked against; \
             --tls-server-name NAME checks it against the name it was issued for ({e})"
        ),
        Error::InvalidCertificate(Cert::Expired | Cert::ExpiredContext { .. }) => {
            format!("the server's certificate has expired ({e})")
        }
        Error::InvalidCertificate(_) => format!("the server's certificate was refused ({e})"),
        Error::InvalidMessage(_) => format!(
            "the endpoint does not speak TLS; if it serves plain HTTP/2 (h2c), use http:// instead of https:// ({e})"
        ),
        Error::AlertReceived(Alert::CertificateRequired) => {
            format!(
                "the server requires a client certificate; give one with --client-cert and --client-key ({e})"
            )
        }
        Error::AlertReceived(Alert::BadCertificate | Alert::UnknownCA | Alert::CertificateUnknown) => {
            format!("the server refused the client certificate ({e})")
        }
        _ => e.to_string(),
    }
}

/// A connection failure's text, with the likely fix when an `http://` URL reached a TLS
/// port: the server then hangs up on the HTTP/2 preface, or answers it with a TLS alert
/// that is no HTTP/2. Every h2c connection is first made by the direct connection
/// (`transport::probe_h2c`, `Direct::connect`), so that is where such a hang-up shows, as
/// its own error type.
pub(super) fn scheme_hint(error: &(dyn std::error::Error + 'static), tls: bool) -> String {
    let chain = super::transport::error_chain(error);
    let hung_up = std::iter::successors(Some(error), |e| e.source()).any(|e| {
        matches!(
            e.downcast_ref::<super::nghttp2::Error>(),
            Some(super::nghttp2::Error::Closed(_) | super::nghttp2::Error::Protocol(_))
        )
    });
    if !tls && hung_up {
        format!(
            "the endpoint closed the connection during the HTTP/2 handshake; if it serves TLS, use https:// instead of http:// ({chain})"
        )
    } else {
        chain
    }
}
