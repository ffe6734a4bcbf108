//! TLS stall/reset/eof/intercept observable with a raw rustls client; throttling within ±30%.
//! Loopback only.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod common;
use common::*;
use interfero_lab::{Scenario, World, HTTPS_PORT};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SHORT: Duration = Duration::from_secs(3);

fn at(w: &World, name: &str, port: u16) -> SocketAddr {
    SocketAddr::new(w.site_addr(name).unwrap(), port)
}

#[tokio::test]
async fn tls_actions() {
    let w = World::start(&Scenario::builtin("suite").unwrap())
        .await
        .unwrap();
    let ca = w.ca_pem();
    let ctl = w.control_bind_ip();

    let e = tls_from(
        &ca,
        PROBE_SRC,
        at(&w, "tls-stall.test", HTTPS_PORT),
        "tls-stall.test",
        Duration::from_millis(700),
    )
    .await;
    assert_eq!(e.unwrap_err().kind(), ErrorKind::TimedOut);
    let e = tls_from(
        &ca,
        PROBE_SRC,
        at(&w, "tls-reset.test", HTTPS_PORT),
        "tls-reset.test",
        SHORT,
    )
    .await;
    assert_eq!(e.unwrap_err().kind(), ErrorKind::ConnectionReset);
    let e = tls_from(
        &ca,
        PROBE_SRC,
        at(&w, "tls-eof.test", HTTPS_PORT),
        "tls-eof.test",
        SHORT,
    )
    .await;
    assert_eq!(e.unwrap_err().kind(), ErrorKind::UnexpectedEof);
    // Intercept: the chain leads to the MITM CA, which the lab CA client rejects...
    let e = tls_from(
        &ca,
        PROBE_SRC,
        at(&w, "tls-mitm.test", HTTPS_PORT),
        "tls-mitm.test",
        SHORT,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
    // ...and that a client trusting the MITM CA accepts.
    let mitm = w.mitm_ca_pem();
    tls_from(
        &mitm,
        PROBE_SRC,
        at(&w, "tls-mitm.test", HTTPS_PORT),
        "tls-mitm.test",
        SHORT,
    )
    .await
    .unwrap();
    for n in [
        "tls-stall.test",
        "tls-reset.test",
        "tls-eof.test",
        "tls-mitm.test",
    ] {
        tls_from(&ca, ctl, at(&w, n, HTTPS_PORT), n, SHORT)
            .await
            .unwrap_or_else(|e| panic!("control {n}: {e}"));
    }
    // Site faults are seen by the control too.
    for n in [
        "expired.test",
        "self-signed.test",
        "wrong-name.test",
        "tls-garbage.test",
    ] {
        assert!(
            tls_from(&ca, ctl, at(&w, n, HTTPS_PORT), n, SHORT)
                .await
                .is_err(),
            "{n}"
        );
    }
    // Inner Host blockpage over valid TLS.
    let mut s = tls_from(
        &ca,
        PROBE_SRC,
        at(&w, "https-blockpage.test", HTTPS_PORT),
        "https-blockpage.test",
        SHORT,
    )
    .await
    .unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: https-blockpage.test\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    let _ = s.read_to_string(&mut body).await;
    assert!(body.contains("Web Page Blocked"));
    // Garbage ClientHello does not kill the listener.
    let mut g = connect_from(PROBE_SRC, at(&w, "static.test", HTTPS_PORT)).await;
    g.write_all(b"\x16\x03\x01\xff\xffnot a hello")
        .await
        .unwrap();
    drop(g);
    tls_from(
        &ca,
        PROBE_SRC,
        at(&w, "static.test", HTTPS_PORT),
        "static.test",
        SHORT,
    )
    .await
    .unwrap();
    w.shutdown().await;
}

async fn rate_kbps(w: &World, src: std::net::IpAddr, bytes: usize) -> f64 {
    let mut s = tls_from(
        &w.ca_pem(),
        src,
        at(w, "throttled.test", HTTPS_PORT),
        "throttled.test",
        SHORT,
    )
    .await
    .unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: throttled.test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = s.read(&mut buf).await.unwrap();
    let start = Instant::now();
    let first = got;
    while got < bytes {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0);
        got += n;
    }
    (got - first) as f64 * 8.0 / 1000.0 / start.elapsed().as_secs_f64()
}

#[tokio::test]
async fn throttle_rate() {
    let w = World::start(&Scenario::builtin("suite").unwrap())
        .await
        .unwrap();
    // 256 kbit/s: 40 KiB take about 1.25 s.
    let r = rate_kbps(&w, PROBE_SRC, 40 * 1024).await;
    assert!((256.0 * 0.7..=256.0 * 1.3).contains(&r), "rate {r} kbit/s");
    // The control is not throttled: far faster on the same machine, however loaded.
    let c = rate_kbps(&w, w.control_bind_ip(), 1024 * 1024).await;
    assert!(c > 4.0 * r, "control rate {c} kbit/s, throttled {r}");
    w.shutdown().await;
}
