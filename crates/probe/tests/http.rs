//! HTTP step over plain loopback connections to servers that misbehave.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod common;

use common::*;
use interfero_model::measurement::{BinaryData, HttpRoundTrip};
use interfero_model::Failure;
use interfero_probe::{http, tcp, Clock, ProbeConfig};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

async fn get(c: &ProbeConfig, addr: SocketAddr) -> HttpRoundTrip {
    let clock = Clock::start();
    let (_, s) = tcp::connect(c, addr, &clock).await;
    let url = url::Url::parse(&format!("http://site.test:{}/page?q=1", addr.port())).unwrap();
    http::get(c, s.unwrap(), None, &url, &addr.to_string(), &clock).await
}

#[tokio::test]
async fn normal_page_with_title() {
    let addr = tcp_server("127.0.0.1", |mut s| async move {
        let head = read_head(&mut s).await;
        assert!(head.starts_with("GET /page?q=1 HTTP/1.1\r\n"), "{head}");
        assert!(
            head.to_ascii_lowercase().contains("\r\nhost: site.test:"),
            "{head}"
        );
        let page = "<html><head><title> Hello </title></head></html>";
        let _ = s
            .write_all(&response("200 OK", "X-Test: a\r\n", page))
            .await;
    })
    .await;
    let rt = get(&cfg(no_dns()), addr).await;
    assert_eq!(rt.failure, None);
    assert_eq!(rt.response.code, 200);
    assert_eq!(rt.response.x_title.as_deref(), Some("Hello"));
    assert_eq!(rt.response.header("x-test"), Some("a"));
    assert_eq!(rt.response.x_body_length, Some(48));
    assert!(!rt.response.body_is_truncated);
    assert!(matches!(rt.response.body, Some(BinaryData::Text(_))));
    assert_eq!(rt.request.method, "GET");
    assert_eq!(rt.request.headers_list[0].0, "Host");
    assert_eq!(rt.address, Some(addr.to_string()));
}

#[tokio::test]
async fn binary_body_is_base64() {
    let addr = tcp_server("127.0.0.1", |mut s| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n\xff\xfe\x00")
            .await;
    })
    .await;
    let rt = get(&cfg(no_dns()), addr).await;
    assert_eq!(
        rt.response.body,
        Some(BinaryData::Encoded {
            format: "base64".into(),
            data: "//4A".into()
        })
    );
}

#[tokio::test]
async fn endless_body_is_capped() {
    let addr = tcp_server("127.0.0.1", |mut s| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            .await;
        let chunk = vec![b'a'; 16 * 1024];
        while s.write_all(&chunk).await.is_ok() {}
    })
    .await;
    let c = cfg(no_dns());
    let rt = get(&c, addr).await;
    // The byte cap ended it, not the deadline: a timeout would be recorded as the failure.
    assert_eq!(rt.failure, None);
    assert!(rt.response.body_is_truncated);
    assert_eq!(rt.response.x_body_length, Some(c.body_cap as u64));
}

#[tokio::test]
async fn trickling_body_ends_at_the_time_bound() {
    let addr = tcp_server("127.0.0.1", |mut s| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            .await;
        for _ in 0..1000 {
            if s.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
    .await;
    let c = cfg(no_dns());
    let start = Instant::now();
    let rt = get(&c, addr).await;
    let took = start.elapsed();
    // Ended by the deadline (a deadline cannot fire early), with the bytes that came.
    assert!(took >= c.timeouts.http, "{took:?}");
    assert_eq!(rt.failure, Some(Failure::Timeout));
    assert_eq!(rt.response.code, 200);
    assert!(rt.response.x_body_length.unwrap_or(0) >= 1);
    // When the last bytes came is kept: the analysis tells a crawl from a freeze by it.
    let last = rt.response.x_last_byte_t.expect("the last byte's time");
    assert!(
        rt.t0 <= last && last <= rt.t,
        "{} <= {last} <= {}",
        rt.t0,
        rt.t
    );
}

#[tokio::test]
async fn silent_server_times_out() {
    let addr = tcp_server("127.0.0.1", |s| async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(s);
    })
    .await;
    let rt = get(&cfg(no_dns()), addr).await;
    assert_eq!(rt.failure, Some(Failure::Timeout));
    assert_eq!(rt.response.code, 0);
    assert_eq!(rt.response.x_last_byte_t, None, "no body, no last byte");
}

#[tokio::test]
async fn malformed_response() {
    let addr = tcp_server("127.0.0.1", |mut s| async move {
        read_head(&mut s).await;
        let _ = s.write_all(b"HELLO THERE\r\n\r\n").await;
    })
    .await;
    let rt = get(&cfg(no_dns()), addr).await;
    assert_eq!(
        rt.failure,
        Some(Failure::Other("http_malformed_response".into()))
    );
}

#[tokio::test]
async fn reset_after_request() {
    let addr = tcp_server("127.0.0.1", |mut s| async move {
        read_head(&mut s).await;
        reset(s);
    })
    .await;
    let rt = get(&cfg(no_dns()), addr).await;
    assert_eq!(rt.failure, Some(Failure::ConnectionReset));
}

#[tokio::test]
async fn eof_before_response() {
    let addr = tcp_server("127.0.0.1", |mut s| async move {
        read_head(&mut s).await;
        let _ = s.shutdown().await;
    })
    .await;
    let rt = get(&cfg(no_dns()), addr).await;
    assert_eq!(rt.failure, Some(Failure::Eof));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(40))]
    #[test]
    fn random_responses_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let bytes = std::sync::Arc::new(bytes);
            let addr = tcp_server("127.0.0.1", move |mut s| {
                let bytes = bytes.clone();
                async move {
                    read_head(&mut s).await;
                    let _ = s.write_all(&bytes).await;
                }
            })
            .await;
            let mut c = cfg(no_dns());
            c.timeouts.http = Duration::from_millis(300);
            let _ = get(&c, addr).await;
        });
    }
}
