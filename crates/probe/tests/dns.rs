//! DNS step against scripted loopback resolvers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use interfero_model::Failure;
use interfero_probe::{dns, Clock};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

async fn lookup_with(script: Arc<Script>) -> Vec<interfero_model::measurement::DnsQuery> {
    let addr = dns_server(script).await;
    dns::lookup(&cfg(addr), "example.test", &Clock::start()).await
}

#[tokio::test]
async fn answers_a_and_aaaa() {
    let qs = lookup_with(Arc::new(|q: &Message, _| {
        vec![reply(
            q,
            ResponseCode::NoError,
            &[ip("10.0.0.1"), ip("2001:db8::1")],
            false,
        )]
    }))
    .await;
    assert_eq!(qs.len(), 2);
    assert_eq!(qs[0].query_type, "A");
    assert_eq!(qs[1].query_type, "AAAA");
    assert_eq!(qs[0].engine, "udp");
    assert!(qs[0].resolver_address.starts_with("127.0.0.1:"));
    assert_eq!(qs[0].answers[0].ipv4.as_deref(), Some("10.0.0.1"));
    assert_eq!(qs[1].answers[0].ipv6.as_deref(), Some("2001:db8::1"));
    assert_eq!(qs[0].x_rcode.as_deref(), Some("NOERROR"));
    assert!(qs
        .iter()
        .all(|q| q.failure.is_none() && q.x_extra_responses.is_empty()));
    assert!(qs[0].t >= qs[0].t0);
    assert_eq!(dns::addresses(&qs).len(), 2);
    assert_eq!(dns::overall_failure(&qs), None);
}

#[tokio::test]
async fn maps_rcodes() {
    for (rc, want, name) in [
        (ResponseCode::NXDomain, Failure::DnsNxdomain, "NXDOMAIN"),
        (ResponseCode::ServFail, Failure::DnsServfail, "SERVFAIL"),
        (ResponseCode::Refused, Failure::DnsRefused, "REFUSED"),
        (ResponseCode::NoError, Failure::DnsNoAnswer, "NOERROR"),
    ] {
        let qs = lookup_with(Arc::new(move |q: &Message, _| {
            vec![reply(q, rc, &[], false)]
        }))
        .await;
        assert_eq!(qs[0].failure, Some(want.clone()), "{name}");
        assert_eq!(qs[0].x_rcode.as_deref(), Some(name));
        assert_eq!(dns::overall_failure(&qs), Some(want));
    }
}

#[tokio::test]
async fn silent_resolver_times_out() {
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let c = cfg(silent.local_addr().unwrap());
    let start = Instant::now();
    let qs = dns::lookup(&c, "example.test", &Clock::start()).await;
    let took = start.elapsed();
    assert!(qs.iter().all(|q| q.failure == Some(Failure::Timeout)));
    // The probe waited its whole timeout (a deadline cannot fire early on any machine); how
    // much longer a loaded machine takes is not this test's business.
    assert!(took >= c.timeouts.dns, "{took:?}");
    drop(silent);
}

#[tokio::test]
async fn keeps_injected_and_duplicate_answers() {
    // The "injector" answers first with a bogus address, then the real answer follows.
    let qs = lookup_with(Arc::new(|q: &Message, _| {
        vec![
            reply(q, ResponseCode::NoError, &[ip("10.10.34.36")], false),
            reply(q, ResponseCode::NoError, &[ip("93.184.216.34")], false),
        ]
    }))
    .await;
    let a = &qs[0];
    assert_eq!(a.answers[0].ipv4.as_deref(), Some("10.10.34.36"));
    assert_eq!(a.x_extra_responses.len(), 1);
    assert_eq!(
        a.x_extra_responses[0].answers[0].ipv4.as_deref(),
        Some("93.184.216.34")
    );
    assert!(a.x_extra_responses[0].t >= a.t);
}

#[tokio::test]
async fn ignores_replies_to_other_queries() {
    let qs = lookup_with(Arc::new(|q: &Message, _| {
        let mut wrong = q.clone();
        wrong.metadata.id = q.metadata.id.wrapping_add(1);
        vec![
            reply(&wrong, ResponseCode::NoError, &[ip("10.0.0.9")], false),
            reply(q, ResponseCode::NoError, &[ip("10.0.0.1")], false),
        ]
    }))
    .await;
    assert_eq!(qs[0].answers[0].ipv4.as_deref(), Some("10.0.0.1"));
    assert!(qs[0].x_extra_responses.is_empty());
}

#[tokio::test]
async fn malformed_reply_is_misbehaving() {
    let qs = lookup_with(Arc::new(|q: &Message, _| {
        let mut b = q.metadata.id.to_be_bytes().to_vec();
        b.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 5, 0, 0, 0, 0, 0xff]);
        vec![b]
    }))
    .await;
    assert_eq!(qs[0].failure, Some(Failure::DnsMisbehaving));
}

#[tokio::test]
async fn truncated_reply_falls_back_to_tcp() {
    let qs = lookup_with(Arc::new(|q: &Message, tcp| {
        if tcp {
            vec![reply(q, ResponseCode::NoError, &[ip("10.0.0.7")], false)]
        } else {
            vec![reply(q, ResponseCode::NoError, &[], true)]
        }
    }))
    .await;
    let engines: Vec<(&str, &str)> = qs
        .iter()
        .map(|q| (q.query_type.as_str(), q.engine.as_str()))
        .collect();
    assert_eq!(
        engines,
        [("A", "udp"), ("A", "tcp"), ("AAAA", "udp"), ("AAAA", "tcp")]
    );
    assert_eq!(qs[0].failure, None, "a truncated reply is not a failure");
    assert_eq!(qs[1].answers[0].ipv4.as_deref(), Some("10.0.0.7"));
    assert_eq!(qs[1].failure, None);
    assert_eq!(qs[3].failure, Some(Failure::DnsNoAnswer));
}

#[tokio::test]
async fn records_cnames() {
    use hickory_proto::rr::{rdata::CNAME, Name, RData, Record};
    let qs = lookup_with(Arc::new(|q: &Message, _| {
        let mut m = Message::from_vec(&reply(q, ResponseCode::NoError, &[], false)).unwrap();
        let target = Name::from_ascii("edge.cdn.test.").unwrap();
        m.answers.insert(
            0,
            Record::from_rdata(q.queries[0].name.clone(), 5, RData::CNAME(CNAME(target))),
        );
        vec![m.to_vec().unwrap()]
    }))
    .await;
    assert_eq!(qs[0].answers[0].answer_type, "CNAME");
    assert_eq!(qs[0].answers[0].hostname.as_deref(), Some("edge.cdn.test."));
    assert_eq!(qs[0].failure, Some(Failure::DnsNoAnswer));
}

#[tokio::test]
async fn a_lost_datagram_is_retransmitted_within_the_timeout() {
    // The first datagram of every query is lost; a stub resolver sends it again.
    let seen = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let script = {
        let seen = seen.clone();
        Arc::new(move |q: &Message, _tcp: bool| {
            let first = seen.lock().unwrap().insert(q.metadata.id);
            if first {
                return Vec::new();
            }
            vec![reply(q, ResponseCode::NoError, &[ip("198.18.0.1")], false)]
        })
    };
    let addr = dns_server(script).await;
    let qs = dns::lookup(&cfg(addr), "example.test", &Clock::start()).await;
    // Without the retransmission the query times out.
    assert_eq!(qs[0].failure, None, "{:?}", qs[0]);
    assert_eq!(qs[0].answers[0].ipv4.as_deref(), Some("198.18.0.1"));
}
