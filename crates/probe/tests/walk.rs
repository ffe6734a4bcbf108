//! The delegation walk against scripted authoritative servers on loopback: a root, a
//! top-level zone and a publisher on 127.53.0.x (one port for all, as real servers share 53),
//! plus hostile servers that refer forever, stay silent or answer too much.

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, NS, SOA};
use hickory_proto::rr::{Name, RData, Record};
use interfero_model::addr::Scope;
use interfero_model::delegation::WalkOutcome;
use interfero_probe::dns::walk::{self, DelegationSettings, RootHints, WalkBounds};
use interfero_probe::{Clock, ProbeConfig, Timeouts};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;

type Handler = Arc<dyn Fn(&Message) -> Option<Message> + Send + Sync>;

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn reply(q: &Message, rcode: ResponseCode, aa: bool) -> Message {
    let mut m = Message::response(q.metadata.id, OpCode::Query);
    m.metadata.response_code = rcode;
    m.metadata.authoritative = aa;
    m.add_query(q.queries[0].clone());
    m
}

fn referral(q: &Message, zone: &str, ns: &str, glue: Ipv4Addr) -> Message {
    let mut m = reply(q, ResponseCode::NoError, false);
    m.add_authority(Record::from_rdata(n(zone), 60, RData::NS(NS(n(ns)))));
    m.add_additional(Record::from_rdata(n(ns), 60, RData::A(A(glue))));
    m
}

fn nxdomain(q: &Message, zone: &str) -> Message {
    let mut m = reply(q, ResponseCode::NXDomain, true);
    let soa = SOA::new(n("a.nic.kz."), n("h.nic.kz."), 1, 60, 60, 60, 60);
    m.add_authority(Record::from_rdata(n(zone), 60, RData::SOA(soa)));
    m
}

/// Serves `h` on `ip:port` (port 0: any); the bound address and the count of queries seen.
async fn serve(ip: Ipv4Addr, port: u16, h: Handler) -> (SocketAddr, Arc<AtomicUsize>) {
    let sock = UdpSocket::bind((ip, port)).await.unwrap();
    let addr = sock.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((len, peer)) = sock.recv_from(&mut buf).await {
            count.fetch_add(1, Ordering::SeqCst);
            let Ok(q) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            if let Some(m) = h(&q) {
                let _ = sock.send_to(&m.to_vec().unwrap(), peer).await;
            }
        }
    });
    (addr, seen)
}

fn qname(q: &Message) -> String {
    q.queries[0].name().to_ascii().to_ascii_lowercase()
}

fn cfg(roots: Vec<SocketAddr>, port: u16, bounds: WalkBounds) -> ProbeConfig {
    ProbeConfig {
        timeouts: Timeouts {
            dns: Duration::from_millis(500),
            ..Timeouts::default()
        },
        scope: Scope::Lab,
        delegation: DelegationSettings {
            hints: RootHints {
                servers: roots,
                port,
            },
            bounds,
        },
        ..ProbeConfig::default()
    }
}

const ROOT: Ipv4Addr = Ipv4Addr::new(127, 53, 0, 1);
const TLD: Ipv4Addr = Ipv4Addr::new(127, 53, 0, 2);
const PUBLISHER: Ipv4Addr = Ipv4Addr::new(127, 53, 0, 3);
const LAME: Ipv4Addr = Ipv4Addr::new(127, 53, 0, 4);

/// A root, a `kz.` zone that delegates `news.kz` and `lame.kz` (to a silent server), and a
/// publisher for `news.kz`; everything else is NXDOMAIN at `kz.`.
async fn hierarchy() -> SocketAddr {
    let root: Handler = Arc::new(|q| Some(referral(q, "kz.", "a.nic.kz.", TLD)));
    let (root_addr, _) = serve(ROOT, 0, root).await;
    let port = root_addr.port();
    let tld: Handler = Arc::new(|q| {
        let name = qname(q);
        Some(if name.ends_with("news.kz.") {
            referral(q, "news.kz.", "ns.host.kz.", PUBLISHER)
        } else if name.ends_with("lame.kz.") {
            referral(q, "lame.kz.", "ns.gone.kz.", LAME)
        } else {
            nxdomain(q, "kz.")
        })
    });
    serve(TLD, port, tld).await;
    let publisher: Handler = Arc::new(|q| {
        let mut m = reply(q, ResponseCode::NoError, true);
        m.add_answer(Record::from_rdata(
            q.queries[0].name().clone(),
            60,
            RData::A(A::new(127, 0, 0, 80)),
        ));
        Some(m)
    });
    serve(PUBLISHER, port, publisher).await;
    // The lame server: it hears the query and answers REFUSED without authority.
    let lame: Handler = Arc::new(|q| Some(reply(q, ResponseCode::Refused, false)));
    serve(LAME, port, lame).await;
    root_addr
}

#[tokio::test]
async fn tells_removed_lame_and_answered_apart() {
    let root = hierarchy().await;
    let c = cfg(vec![root], root.port(), WalkBounds::default());
    let clock = Clock::start();

    let w = walk::walk(&c, "www.news.kz", &clock).await.unwrap();
    assert_eq!(w.outcome, WalkOutcome::Answered, "{w:?}");
    assert_eq!(w.last_delegation.as_deref(), Some("news.kz."));
    assert_eq!(w.steps.len(), 3);
    assert_eq!(w.steps[1].referral_zone.as_deref(), Some("news.kz."));
    assert_eq!(w.steps[1].glue, vec![PUBLISHER.to_string()]);
    assert_eq!(
        w.steps[2].query.answers[0].ipv4.as_deref(),
        Some("127.0.0.80")
    );

    let w = walk::walk(&c, "suspended.kz", &clock).await.unwrap();
    assert_eq!(w.outcome, WalkOutcome::Nxdomain);
    assert_eq!(w.nxdomain_zone.as_deref(), Some("kz."));
    assert_eq!(w.steps.len(), 2);

    let w = walk::walk(&c, "lame.kz", &clock).await.unwrap();
    assert_eq!(w.outcome, WalkOutcome::Lame);
    assert_eq!(w.last_delegation.as_deref(), Some("lame.kz."));
    assert_eq!(w.delegated_ns, vec!["ns.gone.kz."]);
    assert_eq!(w.steps[2].query.x_rcode.as_deref(), Some("REFUSED"));
}

#[tokio::test]
async fn no_hints_no_walk() {
    let c = ProbeConfig::default();
    assert!(c.delegation.hints.servers.is_empty());
    assert!(walk::walk(&c, "news.kz", &Clock::start()).await.is_none());
}

#[tokio::test]
async fn a_referral_out_of_scope_is_not_dialled() {
    // A hostile root delegates to an address outside the lab (documentation space): refused
    // before any packet, and the walk ends there.
    let h: Handler =
        Arc::new(|q| Some(referral(q, "kz.", "a.nic.kz.", Ipv4Addr::new(192, 0, 2, 1))));
    let (root, _) = serve(Ipv4Addr::new(127, 53, 1, 1), 0, h).await;
    let c = cfg(vec![root], root.port(), WalkBounds::default());
    let w = walk::walk(&c, "news.kz", &Clock::start()).await.unwrap();
    assert_eq!(w.steps.len(), 2);
    assert_eq!(
        w.steps[1].query.failure,
        Some(interfero_model::Failure::DestinationRefused)
    );
    assert_eq!(w.outcome, WalkOutcome::Lame);
}

#[tokio::test]
async fn a_reply_larger_than_the_bound_is_misbehaving() {
    let h: Handler = Arc::new(|q| {
        let mut m = reply(q, ResponseCode::NoError, true);
        for i in 0..200u8 {
            m.add_answer(Record::from_rdata(
                q.queries[0].name().clone(),
                60,
                RData::A(A::new(127, 0, 1, i)),
            ));
        }
        Some(m)
    });
    let (root, _) = serve(Ipv4Addr::new(127, 53, 2, 1), 0, h).await;
    let bounds = WalkBounds {
        max_reply_bytes: 512,
        ..WalkBounds::default()
    };
    let c = cfg(vec![root], root.port(), bounds);
    let w = walk::walk(&c, "news.kz", &Clock::start()).await.unwrap();
    assert_eq!(
        w.steps[0].query.failure,
        Some(interfero_model::Failure::DnsMisbehaving)
    );
    assert_eq!(w.outcome, WalkOutcome::Incomplete);
}

#[tokio::test]
async fn silent_servers_stop_at_the_time_budget() {
    let mut roots = Vec::new();
    for i in 1..=6 {
        let silent: Handler = Arc::new(|_| None);
        roots.push(serve(Ipv4Addr::new(127, 53, 3, i), 0, silent).await.0);
    }
    let bounds = WalkBounds {
        budget: Duration::from_millis(300),
        servers_per_zone: 6,
        ..WalkBounds::default()
    };
    let mut c = cfg(roots, 53, bounds);
    c.timeouts.dns = Duration::from_millis(200);
    let w = walk::walk(&c, "news.kz", &Clock::start()).await.unwrap();
    assert_eq!(w.limit.as_deref(), Some("time"), "{w:?}");
    assert!(w.steps.len() < 6);
    assert_eq!(w.outcome, WalkOutcome::Incomplete);
}

/// A server that refers every query one label deeper than the last, to itself, for ever
/// (never reaching the name itself).
async fn endless(ip: Ipv4Addr) -> (SocketAddr, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let h: Handler = Arc::new(move |q| {
        let name = qname(q);
        let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
        let k = labels.len();
        let depth = (asked.fetch_add(1, Ordering::SeqCst) + 1).min(k - 1);
        let zone = format!("{}.", labels[k - depth..].join("."));
        Some(referral(q, &zone, "ns.loop.", ip))
    });
    serve(ip, 0, h).await
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(12))]
    #[test]
    fn hostile_referrals_stay_within_the_bounds(max_depth in 1usize..6, max_queries in 1usize..12) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (steps, seen, limit_ok) = rt.block_on(async {
            let (root, seen) = endless(Ipv4Addr::new(127, 53, 4, 1)).await;
            let bounds = WalkBounds { max_depth, max_queries, ..WalkBounds::default() };
            let c = cfg(vec![root], root.port(), bounds);
            let w = walk::walk(&c, "a.b.c.d.e.f.g.h.i.j.k.l.m.news.kz", &Clock::start())
                .await
                .unwrap();
            let referrals = w.steps.iter().filter(|s| s.referral_zone.is_some()).count();
            // Every referral is followed until a bound stops the walk.
            let ok = referrals <= max_depth + 1
                && w.limit.is_some()
                && w.outcome == WalkOutcome::Incomplete;
            (w.steps.len(), seen.load(Ordering::SeqCst), ok)
        });
        proptest::prop_assert!(steps <= max_queries);
        proptest::prop_assert!(seen <= max_queries);
        proptest::prop_assert!(limit_ok);
    }
}
