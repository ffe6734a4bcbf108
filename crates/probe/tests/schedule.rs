//! Scheduling: the run's DNS cache, the deferred DNS linger, the per-address limit and the
//! adaptive deadlines. Every assertion counts what happened (queries, connections, which rule
//! decided), never how long it took.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use interfero_model::Failure;
use interfero_probe::adaptive::{Adaptive, Cut, Hint};
use interfero_probe::dns::{self, Linger};
use interfero_probe::schedule::RunShared;
use interfero_probe::{tcp, tls, Clock};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A resolver answering 10.0.0.1 that counts the queries it receives.
async fn counting_resolver() -> (SocketAddr, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let addr = dns_server(Arc::new(move |q: &Message, _| {
        c.fetch_add(1, Ordering::SeqCst);
        vec![reply(q, ResponseCode::NoError, &[ip("10.0.0.1")], false)]
    }))
    .await;
    (addr, count)
}

#[tokio::test]
async fn the_run_cache_sends_identical_lookups_once_and_marks_the_copies() {
    let (addr, count) = counting_resolver().await;
    let c = Arc::new(cfg(addr));
    let run = Arc::new(RunShared::new(4));
    let clock = Clock::start();
    // Eight measurements of one run look the same name up at once, each finishing its lookup
    // as a measurement does (beside its other steps).
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (c, run) = (c.clone(), run.clone());
        set.spawn(async move {
            let l = run
                .dns
                .lookup(&c, "Example.test.", &clock, Linger::Defer)
                .await;
            l.finish().await
        });
    }
    let mut copies = 0;
    while let Some(qs) = set.join_next().await {
        let qs = qs.unwrap();
        assert_eq!(qs.len(), 2, "A and AAAA recorded by every measurement");
        assert_eq!(qs[0].answers[0].ipv4.as_deref(), Some("10.0.0.1"));
        assert_eq!(qs[0].x_rcode.as_deref(), Some("NOERROR"));
        copies += usize::from(qs.iter().all(|q| q.x_from_cache));
    }
    // One A and one AAAA query went out; seven measurements hold marked copies.
    assert_eq!(count.load(Ordering::SeqCst), 2);
    assert_eq!(copies, 7);
    assert_eq!(run.dns.counts(), (1, 7));
}

#[tokio::test]
async fn a_deferred_linger_still_records_the_second_answer() {
    let addr = dns_server(Arc::new(|q: &Message, _| {
        vec![
            reply(q, ResponseCode::NoError, &[ip("10.9.9.9")], false),
            reply(q, ResponseCode::NoError, &[ip("10.0.0.1")], false),
        ]
    }))
    .await;
    let c = cfg(addr);
    let l = dns::lookup_with(&c, "example.test", &Clock::start(), Linger::Defer).await;
    // The measurement goes on with the first answer ...
    assert_eq!(dns::addresses(&l.queries), vec![ip("10.9.9.9")]);
    // ... and the injection evidence is in the record once the linger is over.
    let qs = l.finish().await;
    assert_eq!(qs[0].x_extra_responses.len(), 1);
    let skipped = dns::lookup_with(&c, "example.test", &Clock::start(), Linger::Skip).await;
    assert!(skipped.finish().await[0].x_extra_responses.is_empty());
}

#[tokio::test]
async fn the_per_address_limit_is_never_exceeded() {
    let run = Arc::new(RunShared::new(3));
    let open = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let ep: SocketAddr = "127.0.0.1:8443".parse().unwrap();
    let other: SocketAddr = "127.0.0.2:8443".parse().unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (run, open, most) = (run.clone(), open.clone(), most.clone());
        tasks.push(tokio::spawn(async move {
            // Some hops connect to two addresses at once: taken in order, never a deadlock.
            let eps = if i % 2 == 0 {
                vec![ep, other]
            } else {
                vec![other, ep]
            };
            let _permits = run.connections(&eps).await;
            let now = open.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(2)).await;
            open.fetch_sub(1, Ordering::SeqCst);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(most.load(Ordering::SeqCst), 3);
}

/// A TLS endpoint that reads the ClientHello and never answers.
async fn stalled() -> SocketAddr {
    tcp_server("127.0.0.1", |mut s| async move {
        let mut buf = [0u8; 2048];
        while matches!(tokio::io::AsyncReadExt::read(&mut s, &mut buf).await, Ok(n) if n > 0) {}
    })
    .await
}

#[tokio::test]
async fn a_stall_is_decided_early_only_once_the_control_handshaked() {
    let addr = stalled().await;
    let c = cfg(no_dns());
    let fast = Adaptive {
        multiplier: 2,
        floor: Duration::from_millis(50),
    };
    let stall = |cut: Cut| {
        let c = c.clone();
        async move {
            let clock = Clock::start();
            let (_, s) = tcp::connect(&c, addr, &clock).await;
            tls::handshake_until(&c, s.unwrap(), "site.test", &clock, &cut)
                .await
                .0
        }
    };
    // The control handshaked with the site: the stall is decided by the adaptive rule.
    let (tx, cut) = Cut::channel(Some(fast));
    tx.send_replace(Some(Arc::new(Hint {
        elapsed: Duration::from_millis(10),
        tls_ok: vec![addr.to_string()],
        http_ok: true,
    })));
    let hs = stall(cut).await;
    assert_eq!(hs.failure, Some(Failure::Timeout));
    assert!(hs.x_adaptive_timeout.is_some(), "{hs:?}");
    // The control failed at TLS too: the full timeout decides, nothing is cut.
    let (tx, cut) = Cut::channel(Some(fast));
    tx.send_replace(Some(Arc::new(Hint {
        elapsed: Duration::from_millis(10),
        tls_ok: Vec::new(),
        http_ok: false,
    })));
    let hs = stall(cut).await;
    assert_eq!(hs.failure, Some(Failure::Timeout));
    assert_eq!(hs.x_adaptive_timeout, None);
    // No control at all: the full timeout.
    let hs = stall(Cut::never()).await;
    assert_eq!(hs.x_adaptive_timeout, None);
}

#[test]
fn the_adaptive_wait_is_a_multiple_of_the_control_with_a_floor() {
    let a = Adaptive::default();
    assert_eq!(a.wait(Duration::from_millis(100)), a.floor);
    assert_eq!(a.wait(Duration::from_secs(3)), Duration::from_secs(9));
    // A ClientHello lost twice on a 300 ms path (retransmitted after 1 s, then after 2 s)
    // still completes before the cut: packet loss is not a stall.
    let lossy = Duration::from_secs(1) + Duration::from_secs(2) + Duration::from_millis(300) * 2;
    assert!(a.wait(Duration::from_millis(100)) > lossy);
}
