//! TLS handshake as an observation: the chain is always recorded, and a stream is handed back
//! only when the certificate validated (a browser would not use it otherwise).

use crate::adaptive::Cut;
use crate::verify::{self, RecordingVerifier};
use crate::{failure, Clock, ProbeConfig};
use interfero_model::measurement::{BinaryData, TlsHandshake};
use interfero_model::Failure;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// A stream that counts the bytes read from it (how much the server sent before a failure).
#[derive(Debug)]
pub struct Counted<S> {
    inner: S,
    read: Arc<AtomicU64>,
}

impl<S> Counted<S> {
    /// Wraps `inner`, counting into a fresh counter.
    pub fn new(inner: S) -> Self {
        Counted {
            inner,
            read: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The counter, readable after the stream is gone.
    pub fn counter(&self) -> Arc<AtomicU64> {
        self.read.clone()
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len().saturating_sub(before);
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The TLS stream handed to HTTP.
pub type ProbeTlsStream = TlsStream<Counted<TcpStream>>;

/// The client configuration: ring, safe defaults, ALPN h2 + http/1.1, the recording verifier.
fn client_config(verifier: Arc<RecordingVerifier>) -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Runs a TLS handshake with SNI `sni` over `stream`; the observation and, when the
/// certificate validated, the stream.
pub async fn handshake(
    cfg: &ProbeConfig,
    stream: TcpStream,
    sni: &str,
    clock: &Clock,
) -> (TlsHandshake, Option<ProbeTlsStream>) {
    handshake_inner(cfg, stream, sni, clock, false, &Cut::never()).await
}

/// Like [`handshake`], but a stall after the ClientHello is decided as soon as `cut` allows
/// (the control has handshaked with the site), recorded in `x_adaptive_timeout`.
pub async fn handshake_until(
    cfg: &ProbeConfig,
    stream: TcpStream,
    sni: &str,
    clock: &Clock,
    cut: &Cut,
) -> (TlsHandshake, Option<ProbeTlsStream>) {
    handshake_inner(cfg, stream, sni, clock, false, cut).await
}

/// Like [`handshake`], but hands back the stream whatever the certificate: for transfers
/// that measure only the rate of bytes on a path (the paired throughput control uses a name
/// no filter targets, for which no certificate can be valid). Never use it to read content.
pub async fn handshake_any_certificate(
    cfg: &ProbeConfig,
    stream: TcpStream,
    sni: &str,
    clock: &Clock,
) -> (TlsHandshake, Option<ProbeTlsStream>) {
    handshake_inner(cfg, stream, sni, clock, true, &Cut::never()).await
}

async fn handshake_inner(
    cfg: &ProbeConfig,
    stream: TcpStream,
    sni: &str,
    clock: &Clock,
    any_certificate: bool,
    cut: &Cut,
) -> (TlsHandshake, Option<ProbeTlsStream>) {
    let mut obs = TlsHandshake {
        address: stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        server_name: sni.to_string(),
        t0: clock.now(),
        // The ClientHello goes out as soon as the handshake starts on a connected socket.
        x_after_client_hello: Some(true),
        ..TlsHandshake::default()
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let setup = RecordingVerifier::new(&cfg.extra_roots, provider).and_then(|v| {
        let config = client_config(v.clone()).map_err(|e| e.to_string())?;
        let name = ServerName::try_from(sni.to_string()).map_err(|e| e.to_string())?;
        Ok((v, config, name))
    });
    let (verifier, config, name) = match setup {
        Ok(s) => s,
        Err(e) => {
            obs.failure = Some(Failure::Other(format!("unknown_failure: {e}")));
            obs.x_after_client_hello = Some(false);
            obs.t = clock.now();
            return (obs, None);
        }
    };
    let counted = Counted::new(stream);
    let counter = counted.counter();
    let connector = TlsConnector::from(Arc::new(config));
    let started = tokio::time::Instant::now();
    let address = obs.address.clone();
    let mut cut_early = false;
    let result = tokio::select! {
        r = tokio::time::timeout(cfg.timeouts.tls, connector.connect(name, counted)) => r,
        _ = cut.tls(&address, started) => {
            cut_early = true;
            Ok(Err(io::Error::from(io::ErrorKind::TimedOut)))
        }
    };
    obs.t = clock.now();
    if cut_early {
        obs.x_adaptive_timeout = Some(started.elapsed().as_secs_f64());
    }
    if let Some(seen) = verifier.seen() {
        obs.peer_certificates = Some(
            seen.chain
                .iter()
                .map(|c| BinaryData::Encoded {
                    format: "base64".into(),
                    data: interfero_model::base64::encode(c),
                })
                .collect(),
        );
        obs.x_chain = seen.chain.iter().map(verify::cert_info).collect();
        obs.failure = verify::certificate_failure(&seen, sni);
    }
    match result {
        Ok(Ok(tls)) => {
            let (_, conn) = tls.get_ref();
            obs.tls_version = conn.protocol_version().map(version_name);
            obs.cipher_suite = conn
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()));
            obs.negotiated_protocol = conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned());
            if obs.peer_certificates.is_none() {
                // Cannot happen on a full handshake; never trust what was not checked.
                obs.failure = Some(Failure::SslFailedHandshake);
            }
            let usable = obs.failure.is_none()
                || (any_certificate && obs.failure.as_ref().is_some_and(Failure::is_certificate));
            (obs, usable.then_some(tls))
        }
        Ok(Err(_)) if cut_early => {
            obs.failure = Some(Failure::Timeout);
            obs.x_server_bytes = Some(counter.load(Ordering::Relaxed));
            (obs, None)
        }
        Ok(Err(e)) => {
            obs.failure = Some(handshake_failure(&e));
            obs.x_server_bytes = Some(counter.load(Ordering::Relaxed));
            (obs, None)
        }
        Err(_) => {
            obs.failure = Some(Failure::Timeout);
            obs.x_server_bytes = Some(counter.load(Ordering::Relaxed));
            (obs, None)
        }
    }
}

/// The failure for a handshake error: TLS protocol errors are `ssl_failed_handshake`, socket
/// errors keep their own names (reset, EOF).
fn handshake_failure(e: &io::Error) -> Failure {
    let is_tls = e
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
    if is_tls || e.kind() == io::ErrorKind::InvalidData {
        Failure::SslFailedHandshake
    } else {
        failure::from_io(e)
    }
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        other => format!("{other:?}"),
    }
}
