//! The probe's client for a collector (OONI's probe-services protocol): open a report, submit
//! a measurement, get its `measurement_uid`. Over `https://` the collector's certificate is
//! checked against the public roots plus `--ca-file`; a bearer token is sent when given.
//! Answers are read bounded in size and time.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;
use url::Url;

/// Largest collector answer read.
const MAX_ANSWER: usize = 64 * 1024;

/// Why a submission did not go through.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UploadError {
    /// No connection, it broke, or no answer in time: try again later.
    #[error("collector unreachable: {0}")]
    Unreachable(String),
    /// The collector answered with an error status.
    #[error("collector answered HTTP {status}: {message}")]
    Status {
        /// The status.
        status: u16,
        /// Its message, shortened.
        message: String,
    },
    /// The answer is not what the protocol says.
    #[error("collector answered something else than the protocol's answer: {0}")]
    BadAnswer(String),
}

impl UploadError {
    /// Whether trying again later may help (network trouble, a busy or failing server).
    pub fn is_transient(&self) -> bool {
        match self {
            UploadError::Unreachable(_) | UploadError::BadAnswer(_) => true,
            UploadError::Status { status, .. } => {
                *status >= 500 || *status == 429 || *status == 408
            }
        }
    }
}

/// A collector at `base_url`.
#[derive(Debug, Clone)]
pub struct CollectorClient {
    /// `https://host:port/` of the collector.
    pub base_url: String,
    /// Time allowed for one request, connection included.
    pub timeout: Duration,
    /// Trust anchors added to the public roots for an `https://` collector.
    pub extra_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// Bearer token for a collector that requires one.
    pub token: Option<String>,
}

impl CollectorClient {
    /// A client with a 30 s timeout.
    pub fn new(base_url: impl Into<String>) -> CollectorClient {
        CollectorClient {
            base_url: base_url.into(),
            timeout: Duration::from_secs(30),
            extra_roots: Vec::new(),
            token: None,
        }
    }

    /// Opens a report for measurements of `test_name` from `cc` / `asn`; returns its id.
    pub async fn open_report(
        &self,
        test_name: &str,
        cc: &str,
        asn: &str,
        software_version: &str,
    ) -> Result<String, UploadError> {
        let body = serde_json::json!({
            "data_format_version": "0.2.0", "format": "json", "probe_asn": asn,
            "probe_cc": cc, "software_name": "interfero", "software_version": software_version,
            "test_name": test_name, "test_version": "0.5.0",
        });
        let v = self.post("report", body.to_string().into_bytes()).await?;
        v.get("report_id")
            .and_then(|r| r.as_str())
            .filter(|r| !r.is_empty() && r.len() < 200 && !r.contains('/'))
            .map(str::to_string)
            .ok_or_else(|| UploadError::BadAnswer("no report_id".into()))
    }

    /// Submits one measurement (its JSON) to `report_id`; returns the collector's uid.
    pub async fn submit(
        &self,
        report_id: &str,
        measurement_json: &str,
    ) -> Result<String, UploadError> {
        let mut body = Vec::with_capacity(measurement_json.len() + 32);
        body.extend_from_slice(b"{\"format\":\"json\",\"content\":");
        body.extend_from_slice(measurement_json.as_bytes());
        body.push(b'}');
        let v = self.post(&format!("report/{report_id}"), body).await?;
        v.get("measurement_uid")
            .and_then(|u| u.as_str())
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            // OONI answers `{}` for a measurement it dropped: not acknowledged.
            .ok_or_else(|| UploadError::BadAnswer("no measurement_uid (not stored)".into()))
    }

    async fn post(&self, path: &str, body: Vec<u8>) -> Result<serde_json::Value, UploadError> {
        let base = Url::parse(&self.base_url)
            .map_err(|e| UploadError::Unreachable(format!("bad URL {}: {e}", self.base_url)))?;
        let url = base
            .join(path)
            .map_err(|e| UploadError::Unreachable(e.to_string()))?;
        match tokio::time::timeout(self.timeout, self.exchange(&url, body)).await {
            Ok(r) => r,
            Err(_) => Err(UploadError::Unreachable(format!(
                "no answer within {:.1}s",
                self.timeout.as_secs_f64()
            ))),
        }
    }

    async fn exchange(&self, url: &Url, body: Vec<u8>) -> Result<serde_json::Value, UploadError> {
        let down = |e: &dyn std::fmt::Display| UploadError::Unreachable(e.to_string());
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_string();
        let port = url.port_or_known_default().unwrap_or(80);
        let stream = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| down(&e))?;
        match url.scheme() {
            "https" => {
                let tls = connector(&self.extra_roots).map_err(|e| down(&e))?;
                let name =
                    rustls_pki_types::ServerName::try_from(host.clone()).map_err(|e| down(&e))?;
                let s = tls
                    .connect(name, stream)
                    .await
                    .map_err(|e| down(&format!("TLS: {e}")))?;
                self.request(s, url, body).await
            }
            "http" => self.request(stream, url, body).await,
            other => Err(down(&format!(
                "scheme {other} is not supported (https:// or http://)"
            ))),
        }
    }

    async fn request<S>(
        &self,
        stream: S,
        url: &Url,
        body: Vec<u8>,
    ) -> Result<serde_json::Value, UploadError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let down = |e: &dyn std::fmt::Display| UploadError::Unreachable(e.to_string());
        let (mut sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| down(&e))?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        let mut req = hyper::Request::post(url.path())
            .header("Host", authority)
            .header("Content-Type", "application/json");
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| down(&e))?;
        let result = async {
            let resp = sender.send_request(req).await.map_err(|e| down(&e))?;
            let status = resp.status().as_u16();
            let bytes = Limited::new(resp.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| down(&format!("reading the answer: {e}")))?
                .to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            if status != 200 {
                let message = v
                    .get("message")
                    .or_else(|| v.get("error"))
                    .and_then(|m| m.as_str())
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect();
                return Err(UploadError::Status { status, message });
            }
            Ok(v)
        }
        .await;
        driver.abort();
        result
    }
}

fn connector(
    extra: &[rustls_pki_types::CertificateDer<'static>],
) -> Result<tokio_rustls::TlsConnector, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for c in extra {
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
