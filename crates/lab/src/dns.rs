//! The two lab resolvers (UDP and TCP on port 5353): the "censored" one the probe uses, which
//! applies the censor's DNS rules, and the "honest" one the control uses. Both serve the zone;
//! CDN names answer a different address at each. Queries are hostile input: every parse is
//! checked and every read bounded.

use crate::censor;
use crate::scenario::{Action, SiteDelegation};
use crate::util::hold;
use crate::world::Shared;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{rdata::A, rdata::AAAA, RData, Record, RecordType};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// Which of the two resolvers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolver {
    /// The probe's: applies the censor's rules.
    Censored,
    /// The control's: never lies.
    Honest,
}

/// One datagram to send, after a delay.
pub(crate) struct Reply {
    delay: Duration,
    bytes: Vec<u8>,
}

/// How long after the forged answer the true one follows (dns.injection).
pub(crate) const INJECTION_LAG: Duration = Duration::from_millis(50);
/// How many copies of a forged answer the injector sends (dns.injection).
pub(crate) const INJECTED_COPIES: usize = 3;
/// Answers over UDP larger than this without EDNS are truncated, so the client retries on TCP.
const UDP_MAX_PLAIN: usize = 512;
const TTL: u32 = 60;

/// The replies to one query (none: the query is dropped). `udp` decides truncation and
/// injection (an on-path injector races UDP answers only); `from_probe` is false for the
/// control's queries, which a shutdown leaves alone.
pub(crate) fn answer(
    sh: &Shared,
    role: Resolver,
    query: &[u8],
    udp: bool,
    from_probe: bool,
) -> Vec<Reply> {
    let Ok(q) = Message::from_vec(query) else {
        return Vec::new();
    };
    if q.metadata.message_type != MessageType::Query {
        return Vec::new();
    }
    let Some(question) = q.queries.first().cloned() else {
        return vec![now(fit(reply(&q, ResponseCode::FormErr, &[]), udp))];
    };
    let qname = question
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let is_a = question.query_type() == RecordType::A;
    let entry = sh.zone.get(&qname);
    if entry.is_some_and(|e| e.garbage) {
        return vec![now(garbage(q.metadata.id))];
    }
    let is_aaaa = question.query_type() == RecordType::AAAA;
    let truth: Vec<IpAddr> = entry
        .map(|e| {
            if is_aaaa {
                e.v6.iter().map(|ip| IpAddr::V6(*ip)).collect()
            } else if !is_a {
                Vec::new()
            } else if role == Resolver::Censored {
                e.probe.iter().map(|ip| IpAddr::V4(*ip)).collect()
            } else {
                e.control.iter().map(|ip| IpAddr::V4(*ip)).collect()
            }
        })
        .unwrap_or_default();
    // A resolver follows the registry: a lame delegation fails at both; a removed one at the
    // probe's (it looked again), while the control's still answers from its cache.
    let delegation = entry.map(|e| e.delegation).unwrap_or_default();
    let true_reply = match entry {
        None => reply(&q, ResponseCode::NXDomain, &[]),
        Some(_) if delegation == SiteDelegation::Lame => reply(&q, ResponseCode::ServFail, &[]),
        Some(_) if delegation == SiteDelegation::Removed && role == Resolver::Censored => {
            reply(&q, ResponseCode::NXDomain, &[])
        }
        Some(_) => reply(&q, ResponseCode::NoError, &truth),
    };
    let t = sh.now();
    // A shutdown cuts the probe off from every resolver, the honest one (a resolver abroad)
    // included.
    if from_probe && censor::shutdown(&sh.scenario, sh.kind, t) {
        return Vec::new();
    }
    // A firewall that lets the probe ask only its own (the ISP's) resolver.
    if from_probe
        && role == Resolver::Honest
        && censor::foreign_dns_dropped(&sh.scenario, sh.kind, t)
    {
        return Vec::new();
    }
    if role == Resolver::Honest {
        return vec![now(fit(true_reply, udp))];
    }
    // An injector in a router answers first; the real resolver is farther away.
    if from_probe && udp && censor::injected_at_hop(&sh.scenario, sh.kind, t, &qname) {
        return vec![Reply {
            delay: INJECTION_LAG,
            bytes: fit(true_reply, udp),
        }];
    }
    let forged = |ip: Ipv4Addr| {
        let addrs = if is_a {
            vec![IpAddr::V4(ip)]
        } else {
            Vec::new()
        };
        reply(&q, ResponseCode::NoError, &addrs)
    };
    let out = match censor::dns(&sh.scenario, sh.kind, t, &qname) {
        None => return vec![now(fit(true_reply, udp))],
        Some(Action::DnsNxdomain) => reply(&q, ResponseCode::NXDomain, &[]),
        Some(Action::DnsServfail) => reply(&q, ResponseCode::ServFail, &[]),
        Some(Action::DnsRefused) => reply(&q, ResponseCode::Refused, &[]),
        Some(Action::DnsNoAnswer) => reply(&q, ResponseCode::NoError, &[]),
        Some(Action::DnsTimeout) => return Vec::new(),
        Some(Action::DnsBogon) => forged(sh.scenario.bogon_address),
        Some(Action::DnsHijack) => forged(sh.blockpage_ip()),
        Some(Action::DnsInjection) if udp => {
            // Real injectors send several forged copies (the Great Firewall's three injectors
            // answer one query up to three times: FOCI 2020, "Triplet Censors"), so on a lossy
            // path the forgery still arrives; the true answer follows.
            let forged = fit(forged(sh.blockpage_ip()), udp);
            let mut out: Vec<Reply> = (0..INJECTED_COPIES).map(|_| now(forged.clone())).collect();
            out.push(Reply {
                delay: INJECTION_LAG,
                bytes: fit(true_reply, udp),
            });
            return out;
        }
        Some(_) => return vec![now(fit(true_reply, udp))],
    };
    vec![now(fit(out, udp))]
}

fn now(bytes: Vec<u8>) -> Reply {
    Reply {
        delay: Duration::ZERO,
        bytes,
    }
}

fn reply(q: &Message, rcode: ResponseCode, addrs: &[IpAddr]) -> Message {
    let mut m = Message::response(q.metadata.id, OpCode::Query);
    m.metadata.response_code = rcode;
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.metadata.authoritative = true;
    if let Some(question) = q.queries.first() {
        m.add_query(question.clone());
        for ip in addrs {
            m.add_answer(Record::from_rdata(
                question.name().clone(),
                TTL,
                match ip {
                    IpAddr::V4(v4) => RData::A(A(*v4)),
                    IpAddr::V6(v6) => RData::AAAA(AAAA(*v6)),
                },
            ));
        }
    }
    m
}

/// Encodes, truncating (TC bit, no answers) when a plain UDP answer would be too large.
fn fit(m: Message, udp: bool) -> Vec<u8> {
    let bytes = m.to_vec().unwrap_or_default();
    if udp && bytes.len() > UDP_MAX_PLAIN {
        let mut t = m;
        t.metadata.truncation = true;
        t.answers.clear();
        return t.to_vec().unwrap_or_default();
    }
    bytes
}

/// An answer with the right id that no parser accepts: one question whose first label claims
/// length 255 (beyond the 63 allowed).
fn garbage(id: u16) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 9, 0, 0, 0, 0]);
    v.extend_from_slice(&[0xff; 24]);
    v
}

/// Serves UDP queries until the world stops.
pub(crate) async fn serve_udp(sh: Arc<Shared>, sock: UdpSocket, role: Resolver) {
    let sock = Arc::new(sock);
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let query = buf.get(..n).unwrap_or_default();
        let from_probe = !sh.is_control(peer.ip());
        // A lossy path: the datagram never arrives.
        if from_probe && sh.lose_datagram() {
            continue;
        }
        for mut r in answer(&sh, role, query, true, from_probe) {
            r.delay += sh.rtt();
            if r.delay.is_zero() {
                let _ = sock.send_to(&r.bytes, peer).await;
            } else {
                let sock = sock.clone();
                sh.tasks.spawn(async move {
                    tokio::time::sleep(r.delay).await;
                    let _ = sock.send_to(&r.bytes, peer).await;
                });
            }
        }
    }
}

/// Serves TCP queries (length-prefixed) until the world stops.
pub(crate) async fn serve_tcp(sh: Arc<Shared>, listener: TcpListener, role: Resolver) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let from_probe = !sh.is_control(peer.ip());
        let sh2 = sh.clone();
        sh.tasks
            .spawn(async move { tcp_conn(sh2, stream, role, from_probe).await });
    }
}

async fn tcp_conn(sh: Arc<Shared>, mut stream: TcpStream, role: Resolver, from_probe: bool) {
    // A client may send a few queries on one connection; bound both count and wait.
    for _ in 0..16 {
        let mut len = [0u8; 2];
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            stream.read_exact(&mut len).await?;
            let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut q).await?;
            Ok::<_, std::io::Error>(q)
        })
        .await;
        let Ok(Ok(query)) = read else { return };
        let replies = answer(&sh, role, &query, false, from_probe);
        if !replies.is_empty() {
            tokio::time::sleep(sh.rtt()).await;
        }
        if replies.is_empty() {
            // Dropped query: keep the connection silent, as a filtering middlebox would.
            hold(stream).await;
            return;
        }
        for r in replies {
            let Ok(len) = u16::try_from(r.bytes.len()) else {
                return;
            };
            let mut framed = len.to_be_bytes().to_vec();
            framed.extend_from_slice(&r.bytes);
            if stream.write_all(&framed).await.is_err() {
                return;
            }
        }
    }
}
