//! The censor acts on probe-side peers only; TLS stall/reset/eof/intercept and throttling are
//! observable with plain clients; windows follow the scenario clock. Loopback only.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod common;
use common::*;
use interfero_lab::{Scenario, ScenarioTime, World, HTTPS_PORT, HTTP_PORT};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

const SHORT: Duration = Duration::from_secs(3);

fn at(w: &World, name: &str, port: u16) -> SocketAddr {
    SocketAddr::new(w.site_addr(name).unwrap(), port)
}

#[tokio::test]
async fn starts_and_stops_twice() {
    let s = Scenario::builtin("suite").unwrap();
    for _ in 0..2 {
        let w = World::start(&s).await.unwrap();
        let addr = at(&w, "static.test", HTTP_PORT);
        let body = http_get(
            connect_from(PROBE_SRC, addr).await,
            "static.test",
            "/",
            SHORT,
        )
        .await
        .unwrap();
        assert!(body.starts_with("HTTP/1.1 200"));
        w.shutdown().await;
        // The port is free again: connecting is refused.
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}

#[tokio::test]
async fn control_is_left_alone() {
    let w = World::start(&Scenario::builtin("suite").unwrap())
        .await
        .unwrap();
    let addr = at(&w, "http-blockpage.test", HTTP_PORT);
    let probe = http_get(
        connect_from(PROBE_SRC, addr).await,
        "http-blockpage.test",
        "/",
        SHORT,
    )
    .await
    .unwrap();
    assert!(probe.contains("<title>Web Page Blocked</title>"), "{probe}");
    let ctl = http_get(
        connect_from(w.control_bind_ip(), addr).await,
        "http-blockpage.test",
        "/",
        SHORT,
    )
    .await
    .unwrap();
    assert!(
        ctl.starts_with("HTTP/1.1 200") && !ctl.contains("Web Page Blocked"),
        "{ctl}"
    );

    // Redirect to the blockpage server, which serves the blockpage for any Host.
    let addr = at(&w, "http-redirect.test", HTTP_PORT);
    let r = http_get(
        connect_from(PROBE_SRC, addr).await,
        "http-redirect.test",
        "/",
        SHORT,
    )
    .await
    .unwrap();
    assert!(
        r.starts_with("HTTP/1.1 302") && r.contains("Location: http://blockpage.lab.test:8080/"),
        "{r}"
    );
    let bp = SocketAddr::new(w.blockpage_addr(), HTTP_PORT);
    let page = http_get(
        connect_from(PROBE_SRC, bp).await,
        "blockpage.lab.test",
        "/",
        SHORT,
    )
    .await
    .unwrap();
    assert!(page.contains("Web Page Blocked"));

    // HTTP reset / eof / timeout for the probe; fine for the control.
    let addr = at(&w, "http-reset.test", HTTP_PORT);
    let e = http_get(
        connect_from(PROBE_SRC, addr).await,
        "http-reset.test",
        "/",
        SHORT,
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    let addr = at(&w, "http-eof.test", HTTP_PORT);
    assert_eq!(
        http_get(
            connect_from(PROBE_SRC, addr).await,
            "http-eof.test",
            "/",
            SHORT
        )
        .await
        .unwrap(),
        ""
    );
    let addr = at(&w, "http-timeout.test", HTTP_PORT);
    let e = http_get(
        connect_from(PROBE_SRC, addr).await,
        "http-timeout.test",
        "/",
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(e.unwrap_err().kind(), ErrorKind::TimedOut);
    let ok = http_get(
        connect_from(w.control_bind_ip(), addr).await,
        "http-timeout.test",
        "/",
        SHORT,
    )
    .await
    .unwrap();
    assert!(ok.starts_with("HTTP/1.1 200"));

    // Keyword in the path.
    let addr = at(&w, "http-keyword.test", HTTP_PORT);
    let k = http_get(
        connect_from(PROBE_SRC, addr).await,
        "http-keyword.test",
        "/news/protest-2022",
        SHORT,
    )
    .await
    .unwrap();
    assert!(k.contains("Web Page Blocked"));
    let k = http_get(
        connect_from(PROBE_SRC, addr).await,
        "http-keyword.test",
        "/news/weather",
        SHORT,
    )
    .await
    .unwrap();
    assert!(!k.contains("Web Page Blocked"));

    // Captcha is the origin's own doing, probe sources only.
    let addr = at(&w, "captcha.test", HTTP_PORT);
    let c = http_get(
        connect_from(PROBE_SRC, addr).await,
        "captcha.test",
        "/",
        SHORT,
    )
    .await
    .unwrap();
    assert!(c.starts_with("HTTP/1.1 403"));
    w.shutdown().await;
}

#[tokio::test]
async fn windows_follow_the_clock() {
    let w = World::start(&Scenario::builtin("kz-demo").unwrap())
        .await
        .unwrap();
    let ca = w.ca_pem();
    let prolink = |w: &World| {
        w.targets()
            .into_iter()
            .find(|t| t.name == "prolink-3-days")
            .unwrap()
    };
    assert_eq!(prolink(&w).expect.status, interfero_model::Status::Blocked);
    let addr = at(&w, "prolink-social.test", HTTPS_PORT);
    assert!(tls_from(
        &ca,
        PROBE_SRC,
        addr,
        "prolink-social.test",
        Duration::from_millis(500)
    )
    .await
    .is_err());
    w.set_time(ScenarioTime::at(4, 0, 0));
    assert_eq!(
        prolink(&w).expect.status,
        interfero_model::Status::Accessible
    );
    tls_from(&ca, PROBE_SRC, addr, "prolink-social.test", SHORT)
        .await
        .unwrap();
    // Hola news is still blocked on day 4, free on day 10.
    let hola = at(&w, "hola-news.test", HTTPS_PORT);
    assert!(tls_from(
        &ca,
        PROBE_SRC,
        hola,
        "hola-news.test",
        Duration::from_millis(500)
    )
    .await
    .is_err());
    w.set_time(ScenarioTime::at(10, 0, 0));
    tls_from(&ca, PROBE_SRC, hola, "hola-news.test", SHORT)
        .await
        .unwrap();
    w.shutdown().await;
}

#[tokio::test]
async fn shutdown_with_daily_windows() {
    let w = World::start(&Scenario::builtin("kz-shutdown").unwrap())
        .await
        .unwrap();
    let addr = at(&w, "canary.test", HTTP_PORT);
    let half = Duration::from_millis(500);
    assert!(http_get(
        connect_from(PROBE_SRC, addr).await,
        "canary.test",
        "/",
        half
    )
    .await
    .is_err());
    assert!(dns_all(w.probe_resolver(), "canary.test", half)
        .await
        .is_empty());
    // The shutdown cuts the probe off from the resolver abroad too, not the control.
    assert!(dns_all(w.control_resolver(), "canary.test", half)
        .await
        .is_empty());
    assert_eq!(
        addrs(&dns_from(w.control_bind_ip(), w.control_resolver(), "canary.test").await).len(),
        1
    );
    assert!(http_get(
        connect_from(w.control_bind_ip(), addr).await,
        "canary.test",
        "/",
        SHORT
    )
    .await
    .is_ok());
    assert!(w
        .targets()
        .iter()
        .all(|t| t.expect.status == interfero_model::Status::Offline));
    w.set_time(ScenarioTime::at(2, 12, 30));
    assert!(http_get(
        connect_from(PROBE_SRC, addr).await,
        "canary.test",
        "/",
        SHORT
    )
    .await
    .is_ok());
    assert!(w
        .targets()
        .iter()
        .all(|t| t.expect.status == interfero_model::Status::Accessible));
    w.shutdown().await;
}

#[tokio::test]
async fn flaky_and_down() {
    let w = World::start(&Scenario::builtin("suite").unwrap())
        .await
        .unwrap();
    let addr = at(&w, "flaky.test", HTTP_PORT);
    let mut ok = 0;
    for _ in 0..4 {
        ok += usize::from(
            http_get(
                connect_from(PROBE_SRC, addr).await,
                "flaky.test",
                "/",
                SHORT,
            )
            .await
            .is_ok_and(|b| b.starts_with("HTTP/1.1 200")),
        );
    }
    assert_eq!(ok, 2);
    let down = at(&w, "down.test", HTTPS_PORT);
    assert_eq!(
        tokio::net::TcpStream::connect(down)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::ConnectionRefused
    );
    w.shutdown().await;
}

#[tokio::test]
async fn loopback_refuses_to_pretend_it_loses_packets() {
    let mut s = Scenario::builtin("kz-demo").unwrap();
    s.packet_loss_pct = 3;
    let err = World::start(&s).await.err().expect("refused");
    assert!(err.to_string().contains("kernel world"), "{err}");
}
