//! Whole measurements, the control side and the control client, all on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use interfero_model::{ControlRequest, Failure};
use interfero_probe::{helper, web, ControlClient, ControlError, ProbeConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A plain HTTP site: `/` has a title, `/a` -> `/b` -> other host `/c`, `/loop` -> `/loop`.
async fn site() -> std::net::SocketAddr {
    tcp_server("127.0.0.1", |mut s| async move {
        let head = read_head(&mut s).await;
        let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
        let port = s.local_addr().unwrap().port();
        let resp = match path.as_str() {
            "/" | "/c" => response("200 OK", "", "<title>Site</title>"),
            "/a" => response("302 Found", "Location: /b\r\n", ""),
            "/b" => response(
                "301 Moved",
                &format!("Location: http://other.test:{port}/c\r\n"),
                "",
            ),
            "/loop" => response("302 Found", "Location: /loop\r\n", ""),
            "/broken" => response("302 Found", "Location: http://[::1\r\n", ""),
            _ => response("404 Not Found", "", "nope"),
        };
        let _ = s.write_all(&resp).await;
    })
    .await
}

#[tokio::test]
async fn measures_a_plain_site() {
    let c = cfg(resolver_to("127.0.0.1").await);
    let port = site().await.port();
    let tk = web::measure(&c, &format!("http://site.test:{port}/"), None).await;
    assert_eq!(tk.dns_experiment_failure, None);
    assert_eq!(tk.http_experiment_failure, None);
    assert!(tk
        .client_resolver
        .as_deref()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert_eq!(tk.queries.len(), 2);
    assert_eq!(tk.tcp_connect.len(), 1);
    assert!(tk.tcp_connect[0].status.success);
    assert!(tk.tls_handshakes.is_empty());
    assert_eq!(tk.requests.len(), 1);
    assert_eq!(tk.requests[0].response.x_title.as_deref(), Some("Site"));
    assert!(tk.control.is_none() && tk.control_failure.is_none());
    assert!(
        tk.blocking.is_null() && tk.accessible.is_none(),
        "no verdicts here"
    );
}

#[tokio::test]
async fn follows_redirects_across_hosts() {
    let c = cfg(resolver_to("127.0.0.1").await);
    let port = site().await.port();
    let tk = web::measure(&c, &format!("http://site.test:{port}/a"), None).await;
    assert_eq!(tk.http_experiment_failure, None);
    let urls: Vec<&str> = tk.requests.iter().map(|r| r.request.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            format!("http://other.test:{port}/c"),
            format!("http://site.test:{port}/b"),
            format!("http://site.test:{port}/a"),
        ],
        "last hop first"
    );
    // site.test once (A+AAAA), other.test once more.
    assert_eq!(tk.queries.len(), 4);
    assert_eq!(tk.queries[2].hostname, "other.test");
    assert_eq!(tk.tcp_connect.len(), 3);
}

#[tokio::test]
async fn stops_redirect_loops() {
    let c = cfg(resolver_to("127.0.0.1").await);
    let port = site().await.port();
    let tk = web::measure(&c, &format!("http://site.test:{port}/loop"), None).await;
    assert_eq!(
        tk.http_experiment_failure,
        Some(Failure::Other("too_many_redirects".into()))
    );
    assert_eq!(tk.requests.len(), c.max_redirects + 1);
}

#[tokio::test]
async fn broken_location_is_a_failure() {
    let c = cfg(resolver_to("127.0.0.1").await);
    let port = site().await.port();
    let tk = web::measure(&c, &format!("http://site.test:{port}/broken"), None).await;
    assert_eq!(
        tk.http_experiment_failure,
        Some(Failure::Other("http_invalid_redirect_location".into()))
    );
    assert_eq!(tk.requests.len(), 1);
}

#[tokio::test]
async fn https_site_with_lab_root() {
    let pki = Pki::new("Lab CA");
    let (chain, key) = pki.leaf(&["site.test"], false);
    let port = tls_site(chain, key, "<title>Secure</title>").await.port();
    let mut c = cfg(resolver_to("127.0.0.1").await);
    c.extra_roots = vec![pki.ca_der.clone()];
    let tk = web::measure(&c, &format!("https://site.test:{port}/"), None).await;
    assert_eq!(tk.tls_handshakes.len(), 1);
    assert_eq!(tk.tls_handshakes[0].failure, None);
    assert_eq!(tk.requests[0].alpn.as_deref(), Some("http/1.1"));
    assert_eq!(tk.requests[0].response.x_title.as_deref(), Some("Secure"));

    // Without the lab root, the certificate fails and no HTTP is sent over it.
    c.extra_roots.clear();
    let tk = web::measure(&c, &format!("https://site.test:{port}/"), None).await;
    assert_eq!(
        tk.http_experiment_failure,
        Some(Failure::SslUnknownAuthority)
    );
    assert!(tk.requests.is_empty());
}

/// A control server on loopback answering with `helper::answer` under `cfg`.
async fn control_server(cfg: ProbeConfig) -> String {
    let cfg = Arc::new(cfg);
    let addr = tcp_server("127.0.0.1", move |mut s| {
        let cfg = cfg.clone();
        async move {
            let head = read_head(&mut s).await;
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            let mut body = vec![0u8; len];
            s.read_exact(&mut body).await.unwrap();
            let req: ControlRequest = serde_json::from_slice(&body).unwrap();
            let resp = helper::answer(&cfg, &req).await;
            let json = serde_json::to_string(&resp).unwrap();
            let _ = s.write_all(&response("200 OK", "", &json)).await;
        }
    })
    .await;
    format!("http://{addr}/")
}

#[tokio::test]
async fn helper_answers_for_a_local_https_site() {
    let pki = Pki::new("Lab CA");
    let (chain, key) = pki.leaf(&["site.test"], false);
    let site = tls_site(chain, key, "<title>Secure</title>").await;
    let mut c = cfg(resolver_to("127.0.0.1").await);
    c.extra_roots = vec![pki.ca_der.clone()];
    let req = ControlRequest {
        http_request: format!("https://site.test:{}/", site.port()),
        tcp_connect: vec![format!("127.0.0.2:{}", site.port())],
        ..ControlRequest::default()
    };
    let r = helper::answer(&c, &req).await;
    assert_eq!(r.dns.addrs, ["127.0.0.1"]);
    assert_eq!(r.dns.failure, None);
    let own = &r.tcp_connect[&site.to_string()];
    assert!(own.status);
    // Nothing listens on 127.0.0.2 for that port: refused.
    let theirs = &r.tcp_connect[&format!("127.0.0.2:{}", site.port())];
    assert_eq!(theirs.failure, Some(Failure::ConnectionRefused));
    let tls = &r.tls_handshake[&site.to_string()];
    assert!(tls.status && tls.failure.is_none());
    assert_eq!(tls.x_leaf_sha256.as_ref().map(String::len), Some(64));
    assert_eq!(r.http_request.status_code, 200);
    assert_eq!(r.http_request.title, "Secure");
    assert_eq!(
        r.http_request
            .headers
            .get("Content-Type")
            .map(String::as_str),
        Some("text/html")
    );
    assert_eq!(
        r.ip_info["127.0.0.1"].flags,
        helper::FLAG_CONTROL | helper::FLAG_BOGON
    );
    assert_eq!(
        r.ip_info["127.0.0.2"].flags,
        helper::FLAG_PROBE | helper::FLAG_PROBE_CONNECT | helper::FLAG_BOGON
    );
}

#[tokio::test]
async fn measure_asks_the_control_even_when_dns_fails() {
    // The probe's resolver says NXDOMAIN; the control's resolves.
    let lying = dns_server(Arc::new(|q: &Message, _| {
        vec![reply(q, ResponseCode::NXDomain, &[], false)]
    }))
    .await;
    let port = site().await.port();
    let control = ControlClient::new(control_server(cfg(resolver_to("127.0.0.1").await)).await);
    let tk = web::measure(
        &cfg(lying),
        &format!("http://site.test:{port}/"),
        Some(&control),
    )
    .await;
    assert_eq!(tk.dns_experiment_failure, Some(Failure::DnsNxdomain));
    assert_eq!(tk.http_experiment_failure, Some(Failure::DnsNxdomain));
    assert!(tk.tcp_connect.is_empty());
    let ctl = tk.control.expect("control answered");
    assert_eq!(ctl.dns.addrs, ["127.0.0.1"]);
    assert_eq!(ctl.http_request.title, "Site");
    assert_eq!(tk.control_failure, None);
}

#[tokio::test]
async fn control_client_errors_are_typed() {
    let req = ControlRequest::default();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut c = ControlClient::new(format!("http://{closed}/"));
    c.retries = 1;
    assert!(matches!(
        c.query(&req).await,
        Err(ControlError::Unreachable { .. })
    ));

    let status = tcp_server("127.0.0.1", |mut s| async move {
        read_head(&mut s).await;
        let _ = s.write_all(&response("503 Busy", "", "")).await;
    })
    .await;
    c.base_url = format!("http://{status}/");
    assert!(matches!(
        c.query(&req).await,
        Err(ControlError::BadStatus { status: 503, .. })
    ));

    let bad_json = tcp_server("127.0.0.1", |mut s| async move {
        read_head(&mut s).await;
        let _ = s.write_all(&response("200 OK", "", "{not json")).await;
    })
    .await;
    c.base_url = format!("http://{bad_json}/");
    let e = c.query(&req).await.unwrap_err();
    assert!(matches!(e, ControlError::BadJson { .. }));
    assert!(e.to_string().contains("invalid JSON"), "{e}");

    let silent = tcp_server("127.0.0.1", |s| async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(s);
    })
    .await;
    c.base_url = format!("http://{silent}/");
    c.timeout = Duration::from_millis(200);
    c.retries = 0;
    assert!(matches!(
        c.query(&req).await,
        Err(ControlError::Timeout { .. })
    ));

    c.base_url = "ftp://control.test/".into();
    assert!(matches!(
        c.query(&req).await,
        Err(ControlError::UnsupportedScheme { .. })
    ));
}

#[tokio::test]
async fn https_control_is_authenticated() {
    let pki = Pki::new("Control Test CA");
    let (chain, key) = pki.leaf(&["127.0.0.1"], false);
    let addr = tls_site(chain, key, r#"{"http_request": {"status_code": 200}}"#).await;
    let mut c = ControlClient::new(format!("https://{addr}/"));
    c.retries = 0;
    // Not trusted: a control answer that cannot be authenticated is not used.
    match c.query(&ControlRequest::default()).await {
        Err(ControlError::Unreachable { reason, .. }) => {
            assert!(reason.contains("TLS"), "{reason}")
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    c.extra_roots = vec![pki.ca_der.clone()];
    let answer = c
        .query(&ControlRequest::default())
        .await
        .expect("trusted control answers");
    assert_eq!(answer.http_request.status_code, 200);
}

#[tokio::test]
async fn a_slow_redirect_chain_has_one_deadline() {
    // Every hop answers just inside the per-hop timeout, with a redirect to the next: without
    // an overall deadline the chain costs (max_redirects + 1) × the hop's time.
    let mut c = cfg(resolver_to("127.0.0.1").await);
    c.max_redirects = 10;
    let hop_time = c.timeouts.http.mul_f64(0.8);
    let addr = tcp_server("127.0.0.1", move |mut s| async move {
        let head = read_head(&mut s).await;
        let n: u32 = head
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.trim_start_matches("/hop").parse().ok())
            .unwrap_or(0);
        tokio::time::sleep(hop_time).await;
        let location = format!("Location: /hop{}\r\n", n + 1);
        let _ = s.write_all(&response("302 Found", &location, "")).await;
    })
    .await;
    let tk = web::measure(&c, &format!("http://site.test:{}/hop0", addr.port()), None).await;
    assert_eq!(tk.http_experiment_failure, Some(Failure::Timeout));
    let budget = interfero_probe::chain_budget(&c);
    let most = (budget.as_secs_f64() / hop_time.as_secs_f64()).ceil() as usize;
    assert!(
        tk.requests.len() <= most,
        "{} hops recorded within a budget of {most}",
        tk.requests.len()
    );
}

/// What a site's connections asked for, in order: the TLS server name (none in the clear).
type Seen = Arc<std::sync::Mutex<Vec<Option<String>>>>;

/// A page of `len` bytes, leaked for the `'static` a server handler needs.
fn big_page(len: usize) -> &'static str {
    Box::leak("x".repeat(len).into_boxed_str())
}

#[tokio::test]
async fn silence_after_a_valid_handshake_is_timed_under_both_names() {
    // The page's own connection (the first) gets no answer to its request, as when a path
    // slowed as a whole holds the head back past the cut; later connections get the page.
    let pki = Pki::new("Lab CA");
    let (chain, key) = pki.leaf(&["site.test"], false);
    let acceptor = tls_acceptor(chain, key);
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let page = big_page(256 * 1024);
    let addr = tcp_server("127.0.0.1", move |s| {
        let (acceptor, log) = (acceptor.clone(), log.clone());
        async move {
            let Ok(mut tls) = acceptor.accept(s).await else {
                return;
            };
            let first = {
                let mut log = log.lock().unwrap();
                log.push(tls.get_ref().1.server_name().map(str::to_string));
                log.len() == 1
            };
            if read_tls_head(&mut tls).await.is_none() {
                return;
            }
            if first {
                // Held until the probe gives up on it.
                let _ = tls.read(&mut [0u8; 1]).await;
                return;
            }
            let _ = tls.write_all(&response("200 OK", "", page)).await;
            let _ = tls.shutdown().await;
        }
    })
    .await;
    let mut c = cfg(resolver_to("127.0.0.1").await);
    c.extra_roots = vec![pki.ca_der.clone()];
    c.throughput_window = Duration::from_secs(5);
    let tk = web::measure(&c, &format!("https://site.test:{}/", addr.port()), None).await;
    assert_eq!(tk.http_experiment_failure, Some(Failure::Timeout));
    assert_eq!(tk.tcp_connect.len(), 1, "the page came over one connection");
    assert_eq!(tk.requests[0].response.code, 0, "no head came");
    let legs: Vec<(&str, &str)> = tk
        .x_throughput
        .iter()
        .map(|t| (t.role.as_str(), t.server_name.as_str()))
        .collect();
    assert_eq!(
        legs,
        [
            ("target", "site.test"),
            ("paired", "paired-control.invalid")
        ]
    );
    assert!(
        tk.x_throughput.iter().all(|t| t.bytes >= 256 * 1024),
        "both legs timed the whole page: {:?}",
        tk.x_throughput
    );
    let mut names = seen.lock().unwrap().clone();
    names.sort();
    assert_eq!(
        names,
        [
            Some("paired-control.invalid".to_string()),
            Some("site.test".to_string()),
            Some("site.test".to_string())
        ]
    );
}

#[tokio::test]
async fn silence_after_a_plaintext_request_is_not_timed() {
    // A request read in the clear and met with silence is what a blackholing filter does:
    // no transfer is made (there is no rate to time, and each would cost the whole window).
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let addr = tcp_server("127.0.0.1", move |mut s| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push(None);
            let _ = read_head(&mut s).await;
            let _ = s.read(&mut [0u8; 1]).await;
        }
    })
    .await;
    let c = cfg(resolver_to("127.0.0.1").await);
    let tk = web::measure(&c, &format!("http://site.test:{}/", addr.port()), None).await;
    assert_eq!(tk.http_experiment_failure, Some(Failure::Timeout));
    assert!(tk.x_throughput.is_empty(), "{:?}", tk.x_throughput);
    assert_eq!(seen.lock().unwrap().len(), 1, "only the page's connection");
}

#[tokio::test]
async fn a_leg_that_got_nothing_in_its_window_timed_out() {
    use interfero_probe::throughput::{transfer, Leg};
    // One server holds the request unanswered for as long as the test runs; the other closes
    // at once without a byte.
    let (held_tx, held_rx) = tokio::sync::mpsc::unbounded_channel::<tokio::net::TcpStream>();
    let held = tcp_server("127.0.0.1", move |mut s| {
        let held_tx = held_tx.clone();
        async move {
            let _ = read_head(&mut s).await;
            let _ = held_tx.send(s);
        }
    })
    .await;
    let closed = tcp_server("127.0.0.1", |mut s| async move {
        let _ = read_head(&mut s).await;
    })
    .await;
    let mut c = cfg(resolver_to("127.0.0.1").await);
    c.throughput_window = Duration::from_millis(300);
    let leg = Leg {
        role: "target",
        sni: "site.test".into(),
    };
    let clock = interfero_probe::Clock::start();
    let t = transfer(&c, held, false, "site.test", "/", &leg, &clock).await;
    assert_eq!(
        (t.bytes, t.failure.clone()),
        (0, Some(Failure::Timeout)),
        "{t:?}"
    );
    assert!(
        (t.seconds - 0.3).abs() < 1e-9,
        "the window is the time: {t:?}"
    );
    // A connection that ended with nothing is not a timeout.
    let t = transfer(&c, closed, false, "site.test", "/", &leg, &clock).await;
    assert_eq!((t.bytes, t.failure.clone()), (0, None), "{t:?}");
    drop(held_rx);
}

/// A TLS site on 127.0.0.1 that resets each connection for which `cut(n)` holds (`n` counts
/// connections from 0), after reading the ClientHello's record header, and serves the rest.
async fn cutting_site(cut: fn(usize) -> bool) -> (std::net::SocketAddr, Pki) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let pki = Pki::new("Lab CA");
    let (chain, key) = pki.leaf(&["site.test"], false);
    let acceptor = tls_acceptor(chain, key);
    let count = Arc::new(AtomicUsize::new(0));
    let addr = tcp_server("127.0.0.1", move |mut s| {
        let acceptor = acceptor.clone();
        let n = count.fetch_add(1, Ordering::SeqCst);
        async move {
            if cut(n) {
                let mut hdr = [0u8; 5];
                let _ = s.read_exact(&mut hdr).await;
                reset(s);
                return;
            }
            let Ok(mut tls) = acceptor.accept(s).await else {
                return;
            };
            if read_tls_head(&mut tls).await.is_none() {
                return;
            }
            let _ = tls
                .write_all(&response("200 OK", "", "<title>Up</title>"))
                .await;
            let _ = tls.shutdown().await;
        }
    })
    .await;
    (addr, pki)
}

#[tokio::test]
async fn a_handshake_reset_once_is_retried_on_a_new_connection() {
    // A server that resets some connections (or a packet lost on the way): the retry gets
    // through, and both handshakes are kept.
    let (addr, pki) = cutting_site(|n| n == 0).await;
    let mut c = cfg(resolver_to("127.0.0.1").await);
    c.extra_roots = vec![pki.ca_der.clone()];
    let url = format!("https://site.test:{}/", addr.port());
    let tk = web::measure(&c, &url, None).await;
    let failures: Vec<_> = tk
        .tls_handshakes
        .iter()
        .map(|h| h.failure.clone())
        .collect();
    assert_eq!(failures, [Some(Failure::ConnectionReset), None], "{tk:#?}");
    assert_eq!(tk.tcp_connect.len(), 2);
    assert_eq!(tk.http_experiment_failure, None);
    assert_eq!(tk.requests[0].response.x_title.as_deref(), Some("Up"));
    // A filter on the name resets the retry too: the failure stands, with both records.
    let (addr, pki) = cutting_site(|_| true).await;
    c.extra_roots = vec![pki.ca_der.clone()];
    let url = format!("https://site.test:{}/", addr.port());
    let tk = web::measure(&c, &url, None).await;
    assert_eq!(tk.tls_handshakes.len(), 2, "retried once, not more");
    assert!(tk
        .tls_handshakes
        .iter()
        .all(|h| h.failure == Some(Failure::ConnectionReset)));
    assert_eq!(tk.http_experiment_failure, Some(Failure::ConnectionReset));
}
