//! Serving any of this crate's routers to the internet: a bounded number of connections, the
//! request head within a deadline (a client that sends one byte a second, or holds an idle
//! keep-alive connection, is dropped), heads of bounded size, TLS served by Interfero itself,
//! the client's address (behind a trusted proxy only from its header), request logs that keep
//! no address unless asked, and graceful shutdown.
//!
//! The accept loop is written here on hyper's connection API instead of `axum::serve`, which
//! offers none of these bounds.

use crate::shared::errors::{error, ServerError};
use crate::shared::limits::ClientKey;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// The address a request is taken to come from: the peer's, or behind a trusted proxy the
/// address the proxy forwarded. Handlers use it for limits and for the control's
/// `x_client_address`; it is never stored or logged unless the operator asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// How a server faces its clients.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Connections open at once; further ones are closed as soon as accepted.
    pub max_connections: usize,
    /// Connections open at once from one client address (an IPv6 /64 counts as one; trusted
    /// proxies are exempt), so that one address cannot hold every slot.
    pub max_connections_per_client: usize,
    /// The whole request head (and, on an idle keep-alive connection, the next one's) must
    /// arrive within this; so must a TLS handshake.
    pub header_timeout: Duration,
    /// The largest request head, in bytes.
    pub max_header_bytes: usize,
    /// The most header fields in one request.
    pub max_headers: usize,
    /// Serve TLS with this configuration (see [`tls_config`]).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Proxies whose `X-Forwarded-For` names the client (the rightmost address they added).
    pub trusted_proxies: Vec<IpAddr>,
    /// Whether request logs carry the client's address (off: they never do).
    pub log_client_addresses: bool,
}

impl Default for ServeOptions {
    /// 1,024 connections (fewer when the process may open fewer files), 128 of them from one
    /// address, 10 s for a request
    /// head, 16 KiB heads of at most 64 fields, plain HTTP, no proxy, no addresses in logs.
    fn default() -> Self {
        ServeOptions {
            max_connections: default_max_connections(),
            max_connections_per_client: 128,
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            tls: None,
            trusted_proxies: Vec::new(),
            log_client_addresses: false,
        }
    }
}

/// 1,024, or fewer when the descriptor limit is lower (a quarter of it is left for the
/// measurements' own sockets and files).
pub fn default_max_connections() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and has no other effect.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0;
    let soft = if got { lim.rlim_cur as usize } else { 256 };
    (soft - soft / 4).clamp(16, 1024)
}

/// Lets the process open as many files as its hard limit allows (every connection is one);
/// call before [`default_max_connections`].
pub fn raise_descriptor_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write only the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// A TLS configuration from a PEM certificate chain and a PEM private key (HTTP/1.1).
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what, path: &Path, reason: String| ServerError::Tls {
        what,
        path: path.display().to_string(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("certificate", cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("certificate", cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(bad("certificate", cert, "no PEM certificate in it".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("key", key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("certificate", cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| bad("key", key, e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Counters of what the serving loop refused (for figures and tests).
#[derive(Debug, Default)]
pub struct ServeStats {
    /// Connections accepted and served.
    pub accepted: AtomicU64,
    /// Connections closed at once because `max_connections` were open.
    pub over_limit: AtomicU64,
    /// Connections closed at once because their address had its share open.
    pub over_client_limit: AtomicU64,
    /// TLS handshakes that failed or took longer than the head deadline.
    pub tls_failed: AtomicU64,
}

/// Serves `router` on `listener` with `opts` until `shutdown` completes, then stops accepting
/// and lets requests in flight finish.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: Router,
    opts: ServeOptions,
    stats: Arc<ServeStats>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let max = opts.max_connections.max(1);
    let open = Arc::new(Semaphore::new(max));
    let opts = Arc::new(opts);
    let acceptor = opts.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let per_client = Arc::new(PerClient {
        max: opts.max_connections_per_client.max(1),
        exempt: opts
            .trusted_proxies
            .iter()
            .map(|ip| ClientKey::of(*ip))
            .collect(),
        open: Mutex::new(HashMap::new()),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of descriptors or a connection that died in the backlog: keep serving.
                Err(e) if is_transient(&e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::task::yield_now().await;
                    continue;
                }
                Err(e) => return Err(ServerError::Serve(e)),
            },
            () = &mut shutdown => break,
        };
        let Some(share) = per_client.admit(peer.ip()) else {
            stats.over_client_limit.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            stats.over_limit.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        let (router, opts, stats) = (router.clone(), opts.clone(), stats.clone());
        let (acceptor, mut stop) = (acceptor.clone(), stop_rx.clone());
        tokio::spawn(async move {
            let (_permit, _share) = (permit, share);
            let _ = stream.set_nodelay(true);
            match acceptor {
                None => connection(stream, peer, router, &opts, &mut stop).await,
                Some(a) => {
                    match tokio::time::timeout(opts.header_timeout, a.accept(stream)).await {
                        Ok(Ok(tls)) => connection(tls, peer, router, &opts, &mut stop).await,
                        _ => {
                            stats.tls_failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    // Every connection holds a permit: having them all back means all have finished.
    let _ = open.acquire_many(max as u32).await;
    Ok(())
}

/// Serves `router` with the default [`ServeOptions`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let stats = Arc::new(ServeStats::default());
    serve_with(listener, router, ServeOptions::default(), stats, shutdown).await
}

/// Connections open per client address.
struct PerClient {
    max: usize,
    exempt: Vec<ClientKey>,
    open: Mutex<HashMap<ClientKey, usize>>,
}

/// One connection counted against its address; uncounted when dropped.
struct Share(Option<(Arc<PerClient>, ClientKey)>);

impl PerClient {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Share> {
        let key = ClientKey::of(ip);
        if self.exempt.contains(&key) {
            return Some(Share(None));
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Share(Some((self.clone(), key))))
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        if let Some((pc, key)) = self.0.take() {
            let mut open = pc.open.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = open.get_mut(&key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&key);
                }
            }
        }
    }
}

fn is_transient(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::Interrupted
    ) || e.raw_os_error() == Some(libc::EMFILE)
        || e.raw_os_error() == Some(libc::ENFILE)
}

async fn connection<S>(
    io: S,
    peer: SocketAddr,
    router: Router,
    opts: &ServeOptions,
    stop: &mut watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let trusted = opts.trusted_proxies.clone();
    let log_addr = opts.log_client_addresses;
    let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let router = router.clone();
        let client = client_addr(peer, req.headers(), &trusted);
        async move {
            req.extensions_mut().insert(ConnectInfo(peer));
            req.extensions_mut().insert(ClientAddr(client));
            let (method, path) = (req.method().clone(), req.uri().path().to_string());
            let t0 = Instant::now();
            let resp = match router.oneshot(req.map(Body::new)).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            let status = resp.status().as_u16();
            // Debug formatting escapes whatever a client put in the path.
            if log_addr {
                tracing::info!(%client, %method, path = ?path, status, ms, "request");
            } else {
                tracing::info!(%method, path = ?path, status, ms, "request");
            }
            Ok::<_, Infallible>(resp)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_timeout)
        .max_buf_size(opts.max_header_bytes.max(8192))
        .max_headers(opts.max_headers);
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    // The watch guard is dropped at once: only whether the stop came matters.
    let stopped = async { stop.wait_for(|s| *s).await.is_ok() };
    tokio::select! {
        _ = conn.as_mut() => {}
        true = stopped => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// The client's address: the peer's, or when the peer is a trusted proxy, the rightmost
/// address of `X-Forwarded-For` (the one that proxy added; those left of it are the client's
/// own claims).
pub fn client_addr(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer_ip = canonical(peer.ip());
    if !trusted.iter().any(|t| canonical(*t) == peer_ip) {
        return peer_ip;
    }
    // Only the very last entry is the proxy's: if it does not parse, nothing left of it is
    // trusted instead.
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|s| s.trim().parse::<IpAddr>().ok())
        .map(canonical)
        .unwrap_or(peer_ip)
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Reads a request body of at most `cap` bytes within `within`: 413 beyond the cap, 408 when a
/// client sends it too slowly.
pub async fn read_body(body: Body, cap: usize, within: Duration) -> Result<Bytes, Response> {
    match tokio::time::timeout(within, axum::body::to_bytes(body, cap)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(_)) => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {cap} bytes, or not fully received"),
        )),
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            format!("request body not received within {within:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            client_addr(peer, &h, &[]),
            ip("127.0.0.1"),
            "untrusted: ignored"
        );
        assert_eq!(
            client_addr(peer, &h, &[ip("127.0.0.1")]),
            ip("198.51.100.7"),
            "the address the proxy added, not the client's own claim"
        );
        assert_eq!(
            client_addr(peer, &HeaderMap::new(), &[ip("127.0.0.1")]),
            ip("127.0.0.1")
        );
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:1".parse().unwrap();
        assert_eq!(
            client_addr(mapped, &h, &[ip("127.0.0.1")]),
            ip("198.51.100.7")
        );
    }
}
