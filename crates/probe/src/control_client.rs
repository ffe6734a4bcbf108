//! The probe's client for a control (test helper): POST the request as JSON, read the answer.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use interfero_model::{ControlRequest, ControlResponse};
use std::time::Duration;
use tokio::net::TcpStream;
use url::Url;

/// Largest control answer accepted.
const MAX_ANSWER: usize = 8 * 1024 * 1024;

/// Why the control could not be used. A bad URL keeps its cause (`#[source]`); an unreachable
/// control keeps its causes as text with the step that met them ("reading the answer: ..."),
/// because they come from several layers (socket, TLS, HTTP) and the error stays `Clone` and
/// comparable for the tests and the retry loop.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// The base URL is not a usable URL.
    #[error("control URL {url:?} is invalid: {source}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why.
        #[source]
        source: url::ParseError,
    },
    /// Only `http://` and `https://` controls are supported.
    #[error("control URL {url:?}: scheme {scheme:?} is not supported (use https:// or http://)")]
    UnsupportedScheme {
        /// The URL given.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// No connection, or it broke before an answer.
    #[error("control {url} unreachable: {reason}")]
    Unreachable {
        /// The control.
        url: String,
        /// Why.
        reason: String,
    },
    /// No full answer within the timeout.
    #[error("control {url} did not answer within {secs:.1}s")]
    Timeout {
        /// The control.
        url: String,
        /// The timeout.
        secs: f64,
    },
    /// An HTTP status other than 200.
    #[error("control {url} answered HTTP {status}")]
    BadStatus {
        /// The control.
        url: String,
        /// The status.
        status: u16,
    },
    /// The control is busy or limits this probe's requests (HTTP 429).
    #[error("control {url} is busy (HTTP 429); it asks to retry in {retry_after_secs} s")]
    Busy {
        /// The control.
        url: String,
        /// Its `Retry-After`, in seconds.
        retry_after_secs: u64,
    },
    /// The control needs a token this probe does not have or that it refused (HTTP 401).
    #[error("control {url} refused the request (HTTP 401): give it a valid --control-token-file")]
    Unauthorized {
        /// The control.
        url: String,
    },
    /// The answer is not a control response.
    #[error("control {url} answered invalid JSON: {reason}")]
    BadJson {
        /// The control.
        url: String,
        /// Why.
        reason: String,
    },
}

impl ControlError {
    /// Whether trying again may help (network trouble or a server error, not a bad answer).
    pub fn is_transient(&self) -> bool {
        match self {
            ControlError::Unreachable { .. }
            | ControlError::Timeout { .. }
            | ControlError::Busy { .. } => true,
            ControlError::BadStatus { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// A control reachable at `base_url`.
#[derive(Debug, Clone)]
pub struct ControlClient {
    /// `http://host:port/` of the control.
    pub base_url: String,
    /// Time allowed for one try (the control measures too: give it more than a step).
    pub timeout: Duration,
    /// Extra tries after a transient failure.
    pub retries: usize,
    /// Trust anchors added to the public roots for an `https://` control (`--ca-file`).
    pub extra_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// Bearer token for a control that requires one.
    pub token: Option<String>,
}

/// The longest wait a control's `Retry-After` may impose between two tries.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);

impl ControlClient {
    /// A client with a 30 s timeout per try and 2 retries.
    pub fn new(base_url: impl Into<String>) -> Self {
        ControlClient {
            base_url: base_url.into(),
            timeout: Duration::from_secs(30),
            retries: 2,
            extra_roots: Vec::new(),
            token: None,
        }
    }

    /// The control's address when its URL names one (not a host name).
    pub fn host_ip(&self) -> Option<std::net::IpAddr> {
        match Url::parse(&self.base_url).ok()?.host()? {
            url::Host::Ipv4(ip) => Some(ip.into()),
            url::Host::Ipv6(ip) => Some(ip.into()),
            url::Host::Domain(_) => None,
        }
    }

    /// True when answers travel in the clear over a network: an `http://` control that is not
    /// on this machine, whose answers (which decide verdicts) a censor on the path can forge.
    pub fn is_plaintext_remote(&self) -> bool {
        let Ok(url) = Url::parse(&self.base_url) else {
            return false;
        };
        if url.scheme() != "http" {
            return false;
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) => !ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => !ip.is_loopback(),
            Some(url::Host::Domain(d)) => !d.eq_ignore_ascii_case("localhost"),
            None => false,
        }
    }

    /// Asks the control to measure `req`, retrying transient failures with a short backoff.
    pub async fn query(&self, req: &ControlRequest) -> Result<ControlResponse, ControlError> {
        let mut attempt = 0;
        loop {
            match self.try_once(req).await {
                Err(e) if e.is_transient() && attempt < self.retries => {
                    attempt += 1;
                    let backoff = match e {
                        ControlError::Busy {
                            retry_after_secs, ..
                        } => Duration::from_secs(retry_after_secs).min(MAX_RETRY_AFTER),
                        _ => Duration::from_millis(200 * u64::try_from(attempt).unwrap_or(1)),
                    };
                    tokio::time::sleep(backoff).await;
                }
                other => return other,
            }
        }
    }

    async fn try_once(&self, req: &ControlRequest) -> Result<ControlResponse, ControlError> {
        let url = Url::parse(&self.base_url).map_err(|e| ControlError::BadUrl {
            url: self.base_url.clone(),
            source: e,
        })?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(ControlError::UnsupportedScheme {
                url: self.base_url.clone(),
                scheme: url.scheme().to_string(),
            });
        }
        match tokio::time::timeout(self.timeout, self.post(&url, req)).await {
            Ok(r) => r,
            Err(_) => Err(ControlError::Timeout {
                url: self.base_url.clone(),
                secs: self.timeout.as_secs_f64(),
            }),
        }
    }

    async fn post(&self, url: &Url, req: &ControlRequest) -> Result<ControlResponse, ControlError> {
        let unreachable = |reason: String| ControlError::Unreachable {
            url: self.base_url.clone(),
            reason,
        };
        let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
        let port = url.port_or_known_default().unwrap_or(80);
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if url.scheme() == "https" {
            // A control answer decides verdicts: over the censor's network it must come from
            // the control, so its certificate is checked as any client would.
            let tls = self
                .tls_connector()
                .map_err(|e| unreachable(e.to_string()))?;
            let name = rustls_pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| unreachable(e.to_string()))?;
            let stream = tls
                .connect(name, stream)
                .await
                .map_err(|e| unreachable(format!("TLS: {e}")))?;
            return self.exchange(stream, url, req).await;
        }
        self.exchange(stream, url, req).await
    }

    fn tls_connector(&self) -> Result<tokio_rustls::TlsConnector, rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for c in &self.extra_roots {
            roots.add(c.clone())?;
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
            config,
        )))
    }

    async fn exchange<S>(
        &self,
        stream: S,
        url: &Url,
        req: &ControlRequest,
    ) -> Result<ControlResponse, ControlError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let unreachable = |reason: String| ControlError::Unreachable {
            url: self.base_url.clone(),
            reason,
        };
        let (mut sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let body = serde_json::to_vec(req).map_err(|e| unreachable(e.to_string()))?;
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        let mut request = hyper::Request::post(url.path())
            .header("Host", authority)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json");
        if let Some(t) = &self.token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| unreachable(e.to_string()))?;
        let result = async {
            let resp = sender
                .send_request(request)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let status = resp.status().as_u16();
            let retry_after_secs = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(1);
            let bytes = Limited::new(resp.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| unreachable(format!("reading the answer: {e}")))?
                .to_bytes();
            if status == 429 {
                return Err(ControlError::Busy {
                    url: self.base_url.clone(),
                    retry_after_secs,
                });
            }
            if status == 401 {
                return Err(ControlError::Unauthorized {
                    url: self.base_url.clone(),
                });
            }
            if status != 200 {
                return Err(ControlError::BadStatus {
                    url: self.base_url.clone(),
                    status,
                });
            }
            serde_json::from_slice(&bytes).map_err(|e| ControlError::BadJson {
                url: self.base_url.clone(),
                reason: e.to_string(),
            })
        }
        .await;
        driver.abort();
        result
    }
}
