//! Hostile clients against the control's serving code, on loopback and bounded: malformed and
//! deeply nested JSON, wrong types, slow heads and bodies, idle connections past the limit, a
//! greedy client beside an honest one, request floods, tokens, TLS, the proxy header and the
//! logs. Every wait is on an event (a response, a closed connection), under an outer bound
//! that fails the test instead of hanging it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_model::{ControlRequest, ControlResponse};
use interfero_server::{
    control_router, measurer_fn, serve_with, Admission, ControlMeasurer, Limits, ServeOptions,
    ServeStats, Tokens,
};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Semaphore;

mod common;
use common::exchange;

/// Longest any single wait in these tests may take before the test fails.
const BOUND: Duration = Duration::from_secs(20);

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(BOUND, f)
        .await
        .expect("the server did not react within the bound")
}

/// Answers at once, except for URLs containing "hold", which wait until `release` has
/// permits.
fn measurer(release: Arc<Semaphore>) -> Arc<dyn ControlMeasurer> {
    Arc::new(measurer_fn(move |req: ControlRequest| {
        let release = release.clone();
        async move {
            if req.http_request.contains("hold") {
                let _ = release.acquire().await;
            }
            let mut r = ControlResponse::default();
            r.http_request.status_code = 200;
            r
        }
    }))
}

struct Server {
    addr: SocketAddr,
    stats: Arc<ServeStats>,
    release: Arc<Semaphore>,
}

async fn start(limits: Limits, opts: ServeOptions, tokens: Tokens) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let release = Arc::new(Semaphore::new(0));
    let stats = Arc::new(ServeStats::default());
    let router = control_router(measurer(release.clone()), limits, tokens);
    tokio::spawn(serve_with(
        listener,
        router,
        opts,
        stats.clone(),
        std::future::pending(),
    ));
    Server {
        addr,
        stats,
        release,
    }
}

fn quick_opts() -> ServeOptions {
    ServeOptions {
        header_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    }
}

fn quick_limits() -> Limits {
    Limits {
        body_timeout: Duration::from_millis(300),
        ..Limits::default()
    }
}

fn req(url: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "http_request": url, "tcp_connect": [] })).unwrap()
}

/// Connects from `source` (a loopback address) so that tests can play several clients.
async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::new(source.parse().unwrap(), 0)).unwrap();
    s.connect(to).await.unwrap()
}

async fn post_from(source: &str, to: SocketAddr, body: &[u8], extra: &str) -> (u16, String) {
    let s = connect_from(source, to).await;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: c\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    common::send(s, &head, body).await
}

/// Reads until the server closes; what it sent.
async fn until_closed(s: &mut TcpStream) -> String {
    let mut raw = Vec::new();
    let _ = bounded(s.read_to_end(&mut raw)).await;
    String::from_utf8_lossy(&raw).into_owned()
}

#[tokio::test]
async fn malformed_nested_and_mistyped_json_get_400_and_the_server_goes_on() {
    let srv = start(quick_limits(), quick_opts(), Tokens::default()).await;
    let nested = "[".repeat(60_000);
    for body in [
        nested.as_bytes().to_vec(),
        br#"{"http_request": 5}"#.to_vec(),
        br#"{"http_request": "https://a.kz/", "tcp_connect": "1.2.3.4:443"}"#.to_vec(),
        b"\xff\xfe{}".to_vec(),
        serde_json::to_vec(&serde_json::json!({
            "http_request": "https://a.kz/",
            "tcp_connect": vec!["192.0.2.1:443"; 65],
        }))
        .unwrap(),
        serde_json::to_vec(&serde_json::json!({
            "http_request": format!("https://a.kz/{}", "a".repeat(9000)),
        }))
        .unwrap(),
    ] {
        let (status, text) = bounded(exchange(srv.addr, "POST", "/", &body)).await;
        assert_eq!(status, 400, "{}", &text[..text.len().min(300)]);
        assert!(text.contains("\"error\""), "{text}");
    }
    let (status, _) = bounded(exchange(srv.addr, "POST", "/", &req("https://a.kz/"))).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_head_sent_too_slowly_is_dropped() {
    let srv = start(quick_limits(), quick_opts(), Tokens::default()).await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: c\r\nX-Slow: ")
        .await
        .unwrap();
    // Never finished: the server must close it (with or without a 408), not hold it.
    let got = until_closed(&mut s).await;
    assert!(got.is_empty() || got.starts_with("HTTP/1.1 408"), "{got}");
}

#[tokio::test]
async fn a_body_sent_too_slowly_gets_408() {
    let srv = start(quick_limits(), quick_opts(), Tokens::default()).await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: c\r\nContent-Length: 500\r\n\r\n{\"http")
        .await
        .unwrap();
    let got = until_closed(&mut s).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
}

#[tokio::test]
async fn idle_connections_beyond_the_limit_are_closed_and_idle_ones_expire() {
    let opts = ServeOptions {
        max_connections: 8,
        ..quick_opts()
    };
    let srv = start(quick_limits(), opts, Tokens::default()).await;
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(srv.addr).await.unwrap());
    }
    // Wait until the server has taken all eight (counted), then the ninth is over the limit.
    bounded(async {
        while srv.stats.accepted.load(Ordering::SeqCst) < 8 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let mut ninth = TcpStream::connect(srv.addr).await.unwrap();
    assert_eq!(until_closed(&mut ninth).await, "", "closed unanswered");
    assert_eq!(srv.stats.over_limit.load(Ordering::SeqCst), 1);
    // Idle connections are closed by the head deadline, freeing room for real requests.
    for s in &mut idle {
        until_closed(s).await;
    }
    let (status, _) = bounded(exchange(srv.addr, "POST", "/", &req("https://a.kz/"))).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn one_address_cannot_hold_every_connection() {
    let opts = ServeOptions {
        max_connections: 64,
        max_connections_per_client: 4,
        ..quick_opts()
    };
    let srv = start(quick_limits(), opts, Tokens::default()).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from("127.0.0.1", srv.addr).await);
    }
    bounded(async {
        while srv.stats.accepted.load(Ordering::SeqCst) < 4 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let mut fifth = connect_from("127.0.0.1", srv.addr).await;
    assert_eq!(until_closed(&mut fifth).await, "", "closed unanswered");
    assert_eq!(srv.stats.over_client_limit.load(Ordering::SeqCst), 1);
    let (status, _) = bounded(post_from("127.0.0.2", srv.addr, &req("https://a.kz/"), "")).await;
    assert_eq!(status, 200, "another address still gets in");
}

#[tokio::test]
async fn a_greedy_client_does_not_make_an_honest_one_wait() {
    let limits = Limits {
        admission: Admission {
            max_concurrent: 4,
            per_client_concurrent: 2,
            per_client_queue: 32,
            rate_per_sec: 0.0,
            burst: 0.0,
        },
        ..quick_limits()
    };
    let srv = start(limits, quick_opts(), Tokens::default()).await;
    let addr = srv.addr;
    // Ten slow requests from one address: two run, eight wait their turn.
    let greedy: Vec<_> = (0..10)
        .map(|_| {
            tokio::spawn(
                async move { post_from("127.0.0.1", addr, &req("https://hold.kz/"), "").await },
            )
        })
        .collect();
    // The honest client is answered while every greedy request is still held.
    let (status, _) = bounded(post_from("127.0.0.2", addr, &req("https://a.kz/"), "")).await;
    assert_eq!(status, 200);
    assert!(greedy.iter().all(|g| !g.is_finished()));
    // A third client too: one slot was still free for it.
    let (status, _) = bounded(post_from("127.0.0.3", addr, &req("https://b.kz/"), "")).await;
    assert_eq!(status, 200);
    // Released, every queued request of the greedy client is served in its turn.
    srv.release.add_permits(Semaphore::MAX_PERMITS);
    for g in greedy {
        assert_eq!(bounded(g).await.unwrap().0, 200);
    }
}

#[tokio::test]
async fn a_flood_from_one_address_gets_429_with_retry_after() {
    let limits = Limits {
        admission: Admission {
            rate_per_sec: 1.0,
            burst: 3.0,
            ..Limits::default().admission
        },
        ..quick_limits()
    };
    let srv = start(limits, quick_opts(), Tokens::default()).await;
    for _ in 0..3 {
        let (status, _) =
            bounded(post_from("127.0.0.1", srv.addr, &req("https://a.kz/"), "")).await;
        assert_eq!(status, 200);
    }
    let (status, text) = bounded(post_from("127.0.0.1", srv.addr, &req("https://a.kz/"), "")).await;
    assert_eq!(status, 429, "{text}");
    let retry = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("retry-after:")
                .map(|v| v.trim().to_string())
        })
        .expect("Retry-After");
    assert!(retry.parse::<u64>().unwrap() >= 1);
    let (status, _) = bounded(post_from("127.0.0.2", srv.addr, &req("https://a.kz/"), "")).await;
    assert_eq!(status, 200, "another client is not affected");
}

#[tokio::test]
async fn a_queue_that_is_full_gets_429() {
    let limits = Limits {
        admission: Admission {
            max_concurrent: 1,
            per_client_concurrent: 1,
            per_client_queue: 1,
            rate_per_sec: 0.0,
            burst: 0.0,
        },
        ..quick_limits()
    };
    let srv = start(limits, quick_opts(), Tokens::default()).await;
    let addr = srv.addr;
    let held: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(
                async move { post_from("127.0.0.1", addr, &req("https://hold.kz/"), "").await },
            )
        })
        .collect();
    // One runs and one waits: keep asking until the third is refused (each try is an event).
    let status = bounded(async {
        loop {
            let (s, _) = post_from("127.0.0.1", addr, &req("https://a.kz/"), "").await;
            if s == 429 {
                return s;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(status, 429);
    srv.release.add_permits(Semaphore::MAX_PERMITS);
    for h in held {
        assert_eq!(
            bounded(h).await.unwrap().0,
            200,
            "refusing the third lost neither"
        );
    }
}

#[tokio::test]
async fn tokens_are_required_when_configured() {
    let token = "k3Jv9-Qx2mZa8LwPq0Rt7YhB";
    let tokens = Tokens::parse(token, "test").unwrap();
    let srv = start(quick_limits(), quick_opts(), tokens).await;
    let (status, text) = bounded(post_from("127.0.0.1", srv.addr, &req("https://a.kz/"), "")).await;
    assert_eq!(status, 401, "{text}");
    assert!(text
        .to_ascii_lowercase()
        .contains("www-authenticate: bearer"));
    let wrong = "Authorization: Bearer k3Jv9-Qx2mZa8LwPq0Rt7YhC\r\n";
    let (status, _) = bounded(post_from(
        "127.0.0.1",
        srv.addr,
        &req("https://a.kz/"),
        wrong,
    ))
    .await;
    assert_eq!(status, 401);
    let right = format!("Authorization: Bearer {token}\r\n");
    let (status, _) = bounded(post_from(
        "127.0.0.1",
        srv.addr,
        &req("https://a.kz/"),
        &right,
    ))
    .await;
    assert_eq!(status, 200);
    let (status, _) = bounded(exchange(srv.addr, "GET", "/health", b"")).await;
    assert_eq!(status, 200, "liveness needs no token");
}

#[tokio::test]
async fn the_forwarded_address_is_used_only_from_a_trusted_proxy() {
    let xff = "X-Forwarded-For: 198.51.100.7\r\n";
    for (trusted, expect) in [(vec![], "127.0.0.1"), (vec!["127.0.0.1"], "198.51.100.7")] {
        let opts = ServeOptions {
            trusted_proxies: trusted
                .iter()
                .map(|t| t.parse::<IpAddr>().unwrap())
                .collect(),
            ..quick_opts()
        };
        let srv = start(quick_limits(), opts, Tokens::default()).await;
        let (status, text) =
            bounded(post_from("127.0.0.1", srv.addr, &req("https://a.kz/"), xff)).await;
        assert_eq!(status, 200);
        let body = text.split_once("\r\n\r\n").unwrap().1;
        let resp: ControlResponse = serde_json::from_str(body).unwrap();
        assert_eq!(
            resp.x_client_address.as_deref(),
            Some(expect),
            "{trusted:?}"
        );
    }
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn request_logs_keep_no_address_unless_asked() {
    for log_addr in [false, true] {
        let buf = Captured::default();
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        // Current-thread runtime: the server's tasks log through this subscriber.
        let _guard = tracing::subscriber::set_default(subscriber);
        let opts = ServeOptions {
            log_client_addresses: log_addr,
            ..quick_opts()
        };
        let srv = start(quick_limits(), opts, Tokens::default()).await;
        let (status, _) =
            bounded(post_from("127.0.0.2", srv.addr, &req("https://a.kz/"), "")).await;
        assert_eq!(status, 200);
        let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            logs.contains("request") && logs.contains("status=200"),
            "{logs}"
        );
        assert_eq!(logs.contains("127.0.0.2"), log_addr, "{logs}");
    }
}

#[tokio::test]
async fn tls_is_served_by_interfero_itself() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["control.test".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let opts = ServeOptions {
        tls: Some(interfero_server::tls_config(&cert_path, &key_path).unwrap()),
        ..quick_opts()
    };
    let srv = start(quick_limits(), opts, Tokens::default()).await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(srv.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("control.test").unwrap();
    let mut tls = bounded(connector.connect(name, tcp)).await.unwrap();
    let body = req("https://a.kz/");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: control.test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(&body).await.unwrap();
    let mut raw = Vec::new();
    let _ = bounded(tls.read_to_end(&mut raw)).await;
    assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 200"));

    // Plain HTTP to a TLS port is not served, and does not hold the connection.
    let mut plain = TcpStream::connect(srv.addr).await.unwrap();
    plain.write_all(&req("https://a.kz/")).await.unwrap();
    let got = until_closed(&mut plain).await;
    assert!(!got.contains("200 OK"));
    assert!(srv.stats.tls_failed.load(Ordering::SeqCst) >= 1);
    assert!(interfero_server::tls_config(&key_path, &cert_path).is_err());
}
