//! Certificate checking that records instead of refusing: the handshake always completes so
//! that the chain a censor presents is kept as evidence, and the verdict is read afterwards.
//!
//! Precedence when a chain fails: webpki stops at its first error (an unknown issuer hides a
//! wrong name), so the leaf is also checked with x509-parser and the reported failure is, in
//! order: `ssl_invalid_certificate` (outside its validity period), `ssl_invalid_hostname` (name
//! not in the SAN), then webpki's own error (`ssl_unknown_authority` ...). This is the order in
//! which Go's crypto/x509, hence OONI, reports them, so our failures compare with OONI's; a MITM
//! certificate with the right name and dates still reads `ssl_unknown_authority`.

use interfero_model::measurement::CertInfo;
use interfero_model::Failure;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// What the verifier saw during one handshake.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// The peer's chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// webpki's verdict.
    pub verdict: Result<(), Error>,
}

/// Wraps webpki's verifier, records its verdict and the chain, and lets the handshake go on.
#[derive(Debug)]
pub(crate) struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    seen: Mutex<Option<Seen>>,
}

impl RecordingVerifier {
    /// A verifier trusting webpki-roots plus `extra` (certificates that do not parse are skipped).
    pub fn new(
        extra: &[CertificateDer<'static>],
        provider: Arc<CryptoProvider>,
    ) -> Result<Arc<Self>, String> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let _ = roots.add_parsable_certificates(extra.iter().cloned());
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(RecordingVerifier {
            inner,
            seen: Mutex::new(None),
        }))
    }

    /// What was seen, if the server got as far as sending its certificate.
    pub fn seen(&self) -> Option<Seen> {
        self.seen.lock().ok().and_then(|g| g.clone())
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ());
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        if let Ok(mut g) = self.seen.lock() {
            *g = Some(Seen { chain, verdict });
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The certificate failure for a chain webpki judged, `None` if it validated.
pub(crate) fn certificate_failure(seen: &Seen, host: &str) -> Option<Failure> {
    let err = seen.verdict.as_ref().err()?;
    if let Some(leaf) = seen.chain.first() {
        if let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf) {
            if !cert.validity().is_valid() {
                return Some(Failure::SslInvalidCertificate);
            }
            if !leaf_matches(&cert, host) {
                return Some(Failure::SslInvalidHostname);
            }
        }
    }
    Some(map_webpki(err))
}

/// webpki's error as an OONI failure.
fn map_webpki(err: &Error) -> Failure {
    use CertificateError as C;
    match err {
        Error::InvalidCertificate(C::UnknownIssuer) => Failure::SslUnknownAuthority,
        Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            Failure::SslInvalidHostname
        }
        _ => Failure::SslInvalidCertificate,
    }
}

/// Whether the leaf's SAN covers `host` (a DNS name with at most a leading wildcard, or an IP).
fn leaf_matches(cert: &x509_parser::certificate::X509Certificate<'_>, host: &str) -> bool {
    use x509_parser::extensions::GeneralName;
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return false; // like webpki, ignore the subject CN
    };
    let ip: Option<IpAddr> = host.trim_matches(['[', ']']).parse().ok();
    san.value.general_names.iter().any(|n| match (n, ip) {
        (GeneralName::DNSName(pat), None) => dns_name_matches(pat, host),
        (GeneralName::IPAddress(bytes), Some(ip)) => match ip {
            IpAddr::V4(v4) => *bytes == v4.octets().as_slice(),
            IpAddr::V6(v6) => *bytes == v6.octets().as_slice(),
        },
        _ => false,
    })
}

/// RFC 6125 matching: exact (case-insensitive), or `*.` standing for exactly one left label.
pub(crate) fn dns_name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if let Some(suffix) = pattern.strip_prefix("*.") {
        match host.split_once('.') {
            Some((label, rest)) => !label.is_empty() && rest == suffix,
            None => false,
        }
    } else {
        pattern == host
    }
}

/// A readable summary of one certificate (fields empty when it does not parse): names,
/// validity, and the fingerprints that lists of interception roots use.
pub fn cert_info(der: &CertificateDer<'_>) -> CertInfo {
    let mut info = CertInfo {
        sha256: sha256_hex(der),
        // SHA-1 only because published lists of interception roots name them by it.
        sha1: hex::encode(sha1::Sha1::digest(der.as_ref())),
        ..CertInfo::default()
    };
    if let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) {
        // The key, not the certificate: a root re-issued with the same key is the same root.
        info.spki_sha256 = sha256_hex(cert.public_key().raw);
        info.subject = cert.subject().to_string();
        info.issuer = cert.issuer().to_string();
        info.not_before = rfc3339(cert.validity().not_before.timestamp());
        info.not_after = rfc3339(cert.validity().not_after.timestamp());
    }
    info
}

/// SHA-256 of bytes, lower-case hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn rfc3339(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(dns_name_matches("*.example.org", "www.example.org"));
        assert!(dns_name_matches("Example.org", "example.ORG."));
        assert!(!dns_name_matches("*.example.org", "a.b.example.org"));
        assert!(!dns_name_matches("*.example.org", "example.org"));
        assert!(!dns_name_matches("example.org", "www.example.org"));
    }
}
