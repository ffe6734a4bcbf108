//! A dead, mistyped or stopped resolver is a local fault, not DNS blocking: the probe checks
//! the resolver it was configured with, and the analysis judges nothing blocked on DNS when
//! that resolver answers no question at all. Against the lab's censor and control, on loopback.

use interfero_lab_run::lab::Lab;
use interfero_model::{Measurement, Status, Target, Technique};
use interfero_probe::{ProbeConfig, Resolver};
use interfero_session::{reach::Monitor, run, Session};
use std::net::SocketAddr;
use std::sync::Arc;

fn with_resolver(s: &Session, resolver: SocketAddr) -> Session {
    let probe = Arc::new(ProbeConfig {
        resolver: Resolver::Addr(resolver),
        ..(*s.probe).clone()
    });
    Session {
        reach: Arc::new(Monitor::new(probe.clone())),
        probe,
        ..s.clone()
    }
}

async fn measure(s: &Session, urls: &[&str]) -> Vec<Measurement> {
    let targets = urls.iter().map(|u| Target::parse(u).unwrap()).collect();
    let (_keep, stop) = tokio::sync::watch::channel(false);
    let mut out = Vec::new();
    run(s, targets, stop, |m| out.push(m)).await;
    out
}

const URLS: [&str; 3] = [
    "https://static.test:8443/",
    "https://tls-stall.test:8443/",
    "https://dns-timeout.test:8443/",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolver_that_never_answers_blocks_nothing() {
    let scenario = interfero_lab::Scenario::builtin("suite").unwrap();
    let lab = Lab::start(&scenario).await.expect("lab starts");
    // A UDP socket nobody reads: queries vanish, as with a stopped or firewalled resolver.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let closed = {
        // A port nothing listens on: the kernel refuses (ICMP port unreachable).
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    for dead in [silent.local_addr().unwrap(), closed] {
        let ms = measure(&with_resolver(&lab.session, dead), &URLS).await;
        assert_eq!(ms.len(), URLS.len());
        for m in &ms {
            let v = m.verdict.as_ref().unwrap();
            assert_eq!(v.status, Status::Inconclusive, "{}: {v:?}", m.input);
            assert_eq!(v.rules, ["dns.resolver_unresponsive"], "{}", m.input);
            assert!(!v.techniques.contains(&Technique::DnsTimeout));
            let check = m.test_keys.x_resolver_check.as_ref().expect("checked");
            assert!(!check.answered);
            // The check names no address: the resolver is often the user's own router.
            let json = serde_json::to_string(check).unwrap();
            assert!(!json.contains(&dead.port().to_string()), "{json}");
        }
    }
    // The lab's own resolver answers the check: its DNS block is still seen as one.
    let ms = measure(&lab.session, &["https://dns-timeout.test:8443/"]).await;
    let v = ms[0].verdict.as_ref().unwrap();
    assert_eq!(v.status, Status::Blocked, "{v:?}");
    assert!(v.techniques.contains(&Technique::DnsTimeout), "{v:?}");
    assert!(ms[0]
        .test_keys
        .x_resolver_check
        .as_ref()
        .is_some_and(|c| c.answered));
    lab.shutdown().await;
}
