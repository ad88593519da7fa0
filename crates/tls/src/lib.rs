//! TLS for every HTTP client of the tool.
//!
//! Trust is the system's root certificates plus the Mozilla roots bundled in
//! the binary (so a container without `ca-certificates` still verifies), the
//! same set reqwest would load. The difference is *when*: reading the
//! system store means opening ~150 files (≈3.5 ms, most of a `whoami`),
//! and reqwest does it every time a client is built, whether or not the
//! client ever speaks TLS. Here the store is read once per process, at the
//! first certificate to verify, so a command against an `http://` instance
//! never touches it and a run that builds a client per tool call reads it
//! once. `SSL_CERT_FILE` / `SSL_CERT_DIR` replace the system store, as in
//! OpenSSL (docs/files.md).

use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

/// How a client checks the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Against the trusted roots, with the host name (the default).
    Roots,
    /// Not at all: curl's `-k/--insecure`, for `api` only. The handshake
    /// signatures are still checked, so the server holds the key of the
    /// certificate it shows, whoever signed it.
    Skip,
}

/// A reqwest client builder whose TLS trusts the roots as described above.
/// Every client of the tool starts here: reqwest is built without roots of
/// its own, so a client that did not would fail every handshake.
pub fn client_builder() -> reqwest::ClientBuilder {
    client_builder_with(Verification::Roots)
}

/// [`client_builder`] with the verification chosen.
pub fn client_builder_with(verification: Verification) -> reqwest::ClientBuilder {
    reqwest::Client::builder().use_preconfigured_tls(client_config(verification))
}

/// The rustls configuration behind [`client_builder_with`]: ring, TLS 1.2
/// and 1.3, SNI, and ALPN offering HTTP/2 then HTTP/1.1 (what reqwest sets
/// for its own configuration, which a preconfigured one must set itself).
pub fn client_config(verification: Verification) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(Verifier {
        provider: provider.clone(),
        verification,
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        // ring supports every default version: this cannot fail.
        .unwrap_or_else(|e| unreachable!("ring and the default TLS versions: {e}"))
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// Whether this process has read the root certificates yet (for tests and
/// benchmarks of the laziness).
pub fn roots_loaded() -> bool {
    ROOTS.get().is_some()
}

/// The verifier over the roots, built by the first handshake that needs it
/// and shared by every client after that.
static ROOTS: OnceLock<Result<Arc<WebPkiServerVerifier>, String>> = OnceLock::new();

fn load_roots(provider: &Arc<CryptoProvider>) -> Result<Arc<WebPkiServerVerifier>, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // Unreadable files and certificates rustls cannot parse are skipped,
    // as reqwest does: system stores hold ancient and odd certificates.
    let system = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(system.certs);
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("cannot use the root certificates: {e}"))
}

/// Checks the chain against the roots (loaded at the first certificate),
/// or not at all for `-k`; the handshake signatures either way.
#[derive(Debug)]
struct Verifier {
    provider: Arc<CryptoProvider>,
    verification: Verification,
}

impl Verifier {
    fn roots(&self) -> Result<&Arc<WebPkiServerVerifier>, Error> {
        ROOTS
            .get_or_init(|| load_roots(&self.provider))
            .as_ref()
            .map_err(|message| Error::General(message.clone()))
    }

    fn algorithms(&self) -> &WebPkiSupportedAlgorithms {
        &self.provider.signature_verification_algorithms
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.verification {
            Verification::Roots => self.roots()?.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
            Verification::Skip => Ok(ServerCertVerified::assertion()),
        }
    }

    // The handshake signatures need no roots: checked with the provider's
    // algorithms, exactly as the webpki verifier checks them.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms().supported_schemes()
    }
}
