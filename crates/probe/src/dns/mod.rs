//! DNS lookups over our own sockets, keeping every reply (late or duplicate replies are the
//! evidence of on-path injection that a stub resolver would hide).

pub mod wire;

use crate::{failure, tcp, Clock, ProbeConfig};
use hickory_proto::rr::RecordType;
use interfero_model::measurement::{DnsQuery, DnsResponse};
use interfero_model::Failure;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::time::{timeout_at, Instant};
use wire::{parse_reply, Question, Reply};

/// Most extra replies kept per query (a flood must not grow memory).
const MAX_EXTRA: usize = 32;
/// Most messages read on a TCP connection before giving up on finding ours.
const MAX_TCP_MESSAGES: usize = 8;

/// Resolves `host` (A and AAAA, concurrently) with the configured resolver.
pub async fn lookup(cfg: &ProbeConfig, host: &str, clock: &Clock) -> Vec<DnsQuery> {
    let resolver = match cfg.resolver.addr() {
        Ok(a) => a,
        Err(e) => {
            let failed = |qt: &str| DnsQuery {
                hostname: host.to_string(),
                query_type: qt.to_string(),
                engine: "udp".into(),
                failure: Some(Failure::Other(format!("unknown_failure: {e}"))),
                t0: clock.now(),
                t: clock.now(),
                ..DnsQuery::default()
            };
            return vec![failed("A"), failed("AAAA")];
        }
    };
    let (a, aaaa) = tokio::join!(
        query(cfg, resolver, host, RecordType::A, clock),
        query(cfg, resolver, host, RecordType::AAAA, clock)
    );
    a.into_iter().chain(aaaa).collect()
}

/// The unique addresses in the first replies of `queries`, in answer order.
pub fn addresses(queries: &[DnsQuery]) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    for a in queries.iter().flat_map(|q| q.answers.iter()) {
        if let Some(ip) = a.addr().and_then(|s| s.parse().ok()) {
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    out
}

/// The lookup's overall failure: none if any address came back, else the A query's failure
/// (then the AAAA query's).
pub fn overall_failure(queries: &[DnsQuery]) -> Option<Failure> {
    if !addresses(queries).is_empty() {
        return None;
    }
    queries
        .iter()
        .find_map(|q| q.failure.clone())
        .or(Some(Failure::DnsNoAnswer))
}

/// One query of one type: the UDP observation, plus a TCP one when the reply was truncated.
pub async fn query(
    cfg: &ProbeConfig,
    resolver: SocketAddr,
    host: &str,
    qtype: RecordType,
    clock: &Clock,
) -> Vec<DnsQuery> {
    let mut obs = DnsQuery {
        hostname: host.to_string(),
        query_type: qtype.to_string(),
        engine: "udp".into(),
        resolver_address: resolver.to_string(),
        t0: clock.now(),
        ..DnsQuery::default()
    };
    let q = match wire::build_query(host, qtype) {
        Ok(q) => q,
        Err(e) => {
            // A name that cannot be encoded never leaves the host: say so, not "no answer".
            obs.failure = Some(Failure::Other(format!("unknown_failure: bad name: {e}")));
            obs.t = clock.now();
            return vec![obs];
        }
    };
    let truncated = udp(cfg, resolver, &q, clock, &mut obs).await;
    if !truncated {
        return vec![obs];
    }
    let mut over_tcp = DnsQuery {
        engine: "tcp".into(),
        t0: clock.now(),
        x_extra_responses: Vec::new(),
        answers: Vec::new(),
        failure: None,
        x_rcode: None,
        ..obs.clone()
    };
    tcp_query(cfg, resolver, &q, clock, &mut over_tcp).await;
    vec![obs, over_tcp]
}

/// Sends `q` over UDP and records every matching reply; true if the first one was truncated.
async fn udp(
    cfg: &ProbeConfig,
    resolver: SocketAddr,
    q: &Question,
    clock: &Clock,
    obs: &mut DnsQuery,
) -> bool {
    let local = match cfg.bind_ip.filter(|ip| ip.is_ipv4() == resolver.is_ipv4()) {
        Some(ip) => SocketAddr::new(ip, 0),
        None if resolver.is_ipv4() => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
        None => SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0),
    };
    let setup = async {
        let sock = UdpSocket::bind(local).await?;
        // Connected, so that the kernel drops datagrams from other sources and reports ICMP
        // port-unreachable; injected replies spoof the resolver's address and still arrive.
        sock.connect(resolver).await?;
        sock.send(&q.bytes).await?;
        Ok::<_, std::io::Error>(sock)
    };
    let sock = match setup.await {
        Ok(s) => s,
        Err(e) => {
            obs.failure = Some(failure::from_io(&e));
            obs.t = clock.now();
            return false;
        }
    };
    let mut end = Instant::now() + cfg.timeouts.dns;
    let mut got_first = false;
    let mut truncated = false;
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = match timeout_at(end, sock.recv(&mut buf)).await {
            Err(_) => break,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                if !got_first {
                    obs.failure = Some(failure::from_io(&e));
                    obs.t = clock.now();
                }
                break;
            }
        };
        let Some(reply) = parse_reply(buf.get(..n).unwrap_or_default(), q) else {
            continue; // not a reply to this query: keep listening
        };
        if !got_first {
            got_first = true;
            obs.t = clock.now();
            // Keep listening a little: a second reply is the signature of injection.
            end = Instant::now() + cfg.timeouts.dns_linger;
            truncated = record_first(obs, reply);
        } else if obs.x_extra_responses.len() < MAX_EXTRA {
            obs.x_extra_responses.push(extra(reply, clock));
        } else {
            break;
        }
    }
    if !got_first && obs.failure.is_none() {
        obs.failure = Some(Failure::Timeout);
        obs.t = clock.now();
    }
    truncated
}

/// Fills the observation from the first reply; true if it was truncated.
fn record_first(obs: &mut DnsQuery, reply: Reply) -> bool {
    match reply {
        Reply::Undecodable => {
            obs.failure = Some(Failure::DnsMisbehaving);
            false
        }
        Reply::Decoded {
            rcode,
            answers,
            truncated,
            failure,
        } => {
            obs.x_rcode = Some(rcode);
            obs.answers = answers;
            obs.failure = failure;
            truncated
        }
    }
}

/// A later reply as an observation.
fn extra(reply: Reply, clock: &Clock) -> DnsResponse {
    match reply {
        Reply::Undecodable => DnsResponse {
            t: clock.now(),
            rcode: "UNDECODABLE".into(),
            answers: Vec::new(),
        },
        Reply::Decoded { rcode, answers, .. } => DnsResponse {
            t: clock.now(),
            rcode,
            answers,
        },
    }
}

/// Sends `q` over TCP (after a truncated UDP reply) and records the reply.
async fn tcp_query(
    cfg: &ProbeConfig,
    resolver: SocketAddr,
    q: &Question,
    clock: &Clock,
    obs: &mut DnsQuery,
) {
    let deadline = Instant::now() + cfg.timeouts.dns;
    let exchange = async {
        let mut stream = tcp::dial(cfg.bind_ip, resolver, cfg.timeouts.dns).await?;
        let len = u16::try_from(q.bytes.len()).map_err(|_| Failure::DnsMisbehaving)?;
        let mut msg = len.to_be_bytes().to_vec();
        msg.extend_from_slice(&q.bytes);
        let io = |e: std::io::Error| failure::from_io(&e);
        stream.write_all(&msg).await.map_err(io)?;
        for _ in 0..MAX_TCP_MESSAGES {
            let len = stream.read_u16().await.map_err(io)?;
            let mut buf = vec![0u8; usize::from(len)];
            stream.read_exact(&mut buf).await.map_err(io)?;
            if let Some(reply) = parse_reply(&buf, q) {
                return Ok(reply);
            }
        }
        Err(Failure::DnsMisbehaving)
    };
    match timeout_at(deadline, exchange).await {
        Err(_) => obs.failure = Some(Failure::Timeout),
        Ok(Err(f)) => obs.failure = Some(f),
        Ok(Ok(reply)) => {
            record_first(obs, reply);
        }
    }
    obs.t = clock.now();
}
