//! Each DNS action answers as specified; the honest resolver never lies.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod common;
use common::*;
use hickory_proto::op::{Message, ResponseCode};
use interfero_lab::{Scenario, World};
use std::net::Ipv4Addr;
use std::time::Duration;

#[tokio::test]
async fn dns_actions() {
    let w = World::start(&Scenario::builtin("suite").unwrap())
        .await
        .unwrap();
    let (p, c) = (w.probe_resolver(), w.control_resolver());
    let ip = |n: &str| match w.site_addr(n).unwrap() {
        std::net::IpAddr::V4(a) => a,
        _ => unreachable!(),
    };

    for (name, code) in [
        ("dns-nxdomain.test", ResponseCode::NXDomain),
        ("dns-servfail.test", ResponseCode::ServFail),
        ("dns-refused.test", ResponseCode::Refused),
    ] {
        let m = dns(p, name).await;
        assert_eq!(m.metadata.response_code, code, "{name}");
        assert!(addrs(&m).is_empty());
        // The honest resolver answers the true address.
        assert_eq!(
            addrs(&dns(c, name).await),
            vec![ip(name)],
            "{name} at control"
        );
    }
    let m = dns(p, "dns-no-answer.test").await;
    assert_eq!(
        (m.metadata.response_code, m.answers.len()),
        (ResponseCode::NoError, 0)
    );

    assert!(dns_all(p, "dns-timeout.test", Duration::from_millis(400))
        .await
        .is_empty());
    assert_eq!(
        addrs(&dns(c, "dns-timeout.test").await),
        vec![ip("dns-timeout.test")]
    );

    assert_eq!(
        addrs(&dns(p, "dns-bogon.test").await),
        vec![interfero_lab::scenario::DEFAULT_BOGON]
    );
    let bp = match w.blockpage_addr() {
        std::net::IpAddr::V4(a) => a,
        _ => unreachable!(),
    };
    assert_eq!(addrs(&dns(p, "dns-hijack.test").await), vec![bp]);

    // Injection: the forged answer first, in three copies as real injectors send, then the
    // true one, to the same query.
    let all = dns_all(p, "dns-injection.test", Duration::from_millis(400)).await;
    let all: Vec<Message> = all.iter().map(|b| Message::from_vec(b).unwrap()).collect();
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(|m| m.metadata.id == all[0].metadata.id));
    for forged in &all[..3] {
        assert_eq!(addrs(forged), vec![bp]);
    }
    assert_eq!(addrs(&all[3]), vec![ip("dns-injection.test")]);

    // Look-alikes: real NXDOMAIN and garbage at both resolvers, CDN answers differ.
    for r in [p, c] {
        assert_eq!(
            dns(r, "gone.test").await.metadata.response_code,
            ResponseCode::NXDomain
        );
        let g = dns_all(r, "garbage-dns.test", Duration::from_millis(300)).await;
        assert_eq!(g.len(), 1);
        assert!(Message::from_vec(&g[0]).is_err(), "garbage must not parse");
    }
    let (cp, cc) = (
        addrs(&dns(p, "cdn.test").await),
        addrs(&dns(c, "cdn.test").await),
    );
    assert_ne!(cp, cc);
    assert_eq!(
        cc,
        vec![match w.site_control_addr("cdn.test").unwrap() {
            std::net::IpAddr::V4(a) => a,
            _ => unreachable!(),
        }]
    );

    // Hostile input does not kill the resolver.
    let s = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    for junk in [&b""[..], b"\x00", &[0xffu8; 600][..]] {
        s.send_to(junk, p).await.unwrap();
    }
    assert_eq!(addrs(&dns(p, "static.test").await), vec![ip("static.test")]);
    w.shutdown().await;
}

#[tokio::test]
async fn dns_over_tcp() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let w = World::start(&Scenario::builtin("suite").unwrap())
        .await
        .unwrap();
    let mut q = Message::query();
    q.add_query(hickory_proto::op::Query::query(
        hickory_proto::rr::Name::from_ascii("static.test").unwrap(),
        hickory_proto::rr::RecordType::A,
    ));
    let bytes = q.to_vec().unwrap();
    let mut s = tokio::net::TcpStream::connect(w.control_resolver())
        .await
        .unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    s.write_all(&framed).await.unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await.unwrap();
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.unwrap();
    let m = Message::from_vec(&buf).unwrap();
    assert_eq!(addrs(&m).len(), 1);
    w.shutdown().await;
}

/// The glue address of a referral.
fn glue(m: &Message) -> Vec<Ipv4Addr> {
    m.additionals
        .iter()
        .filter_map(|r| match &r.data {
            hickory_proto::rr::RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn the_lab_registry_delegates_suspends_and_lames() {
    let w = World::start(&Scenario::builtin("registry").unwrap())
        .await
        .unwrap();
    let root = w.root_hints()[0];
    // The root refers test. to the registry's server, with glue.
    let m = dns(root, "suspended.test.").await;
    assert!(!m.metadata.authoritative);
    let tld = std::net::SocketAddr::new(glue(&m)[0].into(), root.port());
    // The registry: a removed delegation is NXDOMAIN, authoritatively; a normal one a referral.
    let m = dns(tld, "suspended.test.").await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.metadata.authoritative);
    let m = dns(tld, "registered.test.").await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let publisher = std::net::SocketAddr::new(glue(&m)[0].into(), root.port());
    let m = dns(publisher, "registered.test.").await;
    assert!(m.metadata.authoritative);
    assert_eq!(
        addrs(&m)
            .into_iter()
            .map(std::net::IpAddr::V4)
            .collect::<Vec<_>>(),
        vec![w.site_addr("registered.test").unwrap()]
    );
    // A lame delegation points where nothing serves it.
    let m = dns(tld, "lame.test.").await;
    assert_ne!(
        std::net::SocketAddr::new(glue(&m)[0].into(), root.port()),
        publisher
    );
    // The resolvers follow the registry: the probe's says NXDOMAIN for the suspended name,
    // the control's answers from its cache; both SERVFAIL the lame one.
    let (p, c) = (w.probe_resolver(), w.control_resolver());
    assert_eq!(
        dns(p, "suspended.test").await.metadata.response_code,
        ResponseCode::NXDomain
    );
    assert_eq!(addrs(&dns(c, "suspended.test").await).len(), 1);
    for r in [p, c] {
        assert_eq!(
            dns(r, "lame.test").await.metadata.response_code,
            ResponseCode::ServFail
        );
    }
    w.shutdown().await;
}

#[tokio::test]
async fn a_vantage_point_given_ipv6_sees_aaaa_answers_and_an_ipv6_canary() {
    use hickory_proto::rr::{RData, RecordType};
    use interfero_lab::{VantageIpv6, WorldKind};
    let s = Scenario::builtin("ipv6-broken").unwrap();
    assert_eq!(s.ipv6, VantageIpv6::Broken);
    let w = World::start(&s).await.unwrap();
    let v6 = |m: &Message| -> Vec<std::net::Ipv6Addr> {
        m.answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::AAAA(a) => Some(a.0),
                _ => None,
            })
            .collect()
    };
    for r in [w.probe_resolver(), w.control_resolver()] {
        let m = dns_typed(PROBE_SRC, r, "dual-news.test", RecordType::AAAA).await;
        // Loopback: ::1, where no site listens (the sites have their own 127/8 addresses).
        assert_eq!(v6(&m), vec![std::net::Ipv6Addr::LOCALHOST]);
        let m = dns_typed(PROBE_SRC, r, "v4-news.test", RecordType::AAAA).await;
        assert_eq!(
            (m.metadata.response_code, m.answers.len()),
            (ResponseCode::NoError, 0)
        );
        // A records are unchanged.
        assert_eq!(addrs(&dns(r, "dual-news.test").await).len(), 1);
    }
    // The censor's DNS rule holds for AAAA too.
    let m = dns_typed(
        PROBE_SRC,
        w.probe_resolver(),
        "lied6.test",
        RecordType::AAAA,
    )
    .await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    let v6_canaries: Vec<_> = w
        .canaries()
        .into_iter()
        .filter(|c| c.endpoint.is_ipv6())
        .collect();
    assert_eq!(v6_canaries.len(), 1, "{v6_canaries:?}");
    w.shutdown().await;

    // Without `ipv6`, no name has an AAAA record and there is no IPv6 canary (every scenario
    // before it is unchanged).
    let w = World::start(&Scenario::builtin("suite").unwrap())
        .await
        .unwrap();
    assert!(w.canaries().iter().all(|c| c.endpoint.is_ipv4()));
    w.shutdown().await;

    // No IPv6 route at all cannot be made on loopback: unsupported there, with the reason.
    let absent = Scenario::builtin("ipv6-absent").unwrap();
    let t = absent.targets_in(Default::default(), WorldKind::Userspace);
    assert!(t
        .iter()
        .all(|t| t.supported.as_ref().is_err_and(|e| e.contains("absent"))));
    let t = absent.targets_in(Default::default(), WorldKind::Kernel);
    assert!(t.iter().all(|t| t.supported.is_ok()));
}
