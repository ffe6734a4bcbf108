//! The reachability check against local canaries: what counts as an answer, and what does not.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use interfero_model::{Canary, CanaryKind, Failure};
use std::sync::Arc;

fn canary(kind: CanaryKind, endpoint: std::net::SocketAddr, name: &str) -> Canary {
    Canary {
        kind,
        endpoint,
        name: name.into(),
        domestic: false,
    }
}

#[tokio::test]
async fn answers_silence_and_a_syn_answering_middlebox_are_told_apart() {
    // An NXDOMAIN is an answer: packets went out and came back.
    let nx = dns_server(Arc::new(|q: &Message, _| {
        vec![reply(q, ResponseCode::NXDomain, &[], false)]
    }))
    .await;
    // A resolver that never answers.
    let silent = dns_server(Arc::new(|_: &Message, _| Vec::new())).await;
    // A TLS site with any certificate (a canary counts interception as connectivity).
    let pki = Pki::new("Some Other CA");
    let (chain, key) = pki.leaf(&["canary.example"], false);
    let tls = tls_site(chain, key, "<title>ok</title>").await;
    // Something that completes TCP handshakes and then says nothing.
    let hold = tcp_server("127.0.0.1", |s| async move {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        drop(s);
    })
    .await;
    let cfg = cfg(no_dns());
    let canaries = vec![
        canary(CanaryKind::Dns, nx, "canary.example"),
        canary(CanaryKind::Dns, silent, "canary.example"),
        canary(CanaryKind::Tls, tls, "canary.example"),
        canary(CanaryKind::Tls, hold, "canary.example"),
    ];
    let r = interfero_probe::reach::check(&cfg, &canaries).await;
    assert_eq!(r.canaries.len(), 4);
    let [nx, silent, tls, hold] = &r.canaries[..] else {
        panic!("four results");
    };
    assert!(nx.answered && nx.failure.is_none());
    assert!(!silent.answered);
    assert_eq!(silent.failure, Some(Failure::Timeout));
    assert!(tls.answered && tls.tcp_connected);
    assert!(hold.tcp_connected && !hold.answered);
    assert_eq!(hold.failure, Some(Failure::Timeout));
    // All at once: every canary started before the silent one gave up.
    assert!(r.canaries.iter().all(|c| c.t0 < silent.t), "{r:?}");
}

#[tokio::test]
async fn a_family_check_connects_to_the_tls_canaries_of_that_family_only() {
    // A v6 listener on ::1 and a v6 port where nothing listens; a v4 canary beside them.
    let v6 = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
    let open = v6.local_addr().unwrap();
    let closed = {
        let l = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let v4 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = cfg(no_dns());
    cfg.canaries = vec![
        canary(CanaryKind::Tls, open, "canary.example"),
        canary(CanaryKind::Tls, closed, "canary.example"),
        canary(CanaryKind::Tls, v4.local_addr().unwrap(), "canary.example"),
        canary(CanaryKind::Dns, open, "canary.example"),
    ];
    let r = interfero_probe::reach::check_family(&cfg, interfero_model::Family::Ipv6).await;
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r[0].connected && r[0].failure.is_none(), "{r:?}");
    assert!(!r[1].connected, "{r:?}");
    assert_eq!(r[1].failure, Some(Failure::ConnectionRefused));
    let r = interfero_probe::reach::check_family(&cfg, interfero_model::Family::Ipv4).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].connected);
}
