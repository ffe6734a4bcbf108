//! DNS lookups over our own sockets, keeping every reply (late or duplicate replies are the
//! evidence of on-path injection that a stub resolver would hide).

pub mod cache;
pub mod referral;
pub mod walk;
pub mod wire;

use crate::{failure, tcp, Clock, ProbeConfig};
use hickory_proto::rr::RecordType;
use interfero_model::measurement::{DnsQuery, DnsResponse};
use interfero_model::Failure;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::time::{timeout_at, Instant};
use wire::{parse_reply, Question, Reply};

/// Most extra replies kept per query (a flood must not grow memory).
const MAX_EXTRA: usize = 32;
/// Most messages read on a TCP connection before giving up on finding ours.
const MAX_TCP_MESSAGES: usize = 8;

/// How a lookup listens for further replies to a query after its first one (a second reply is
/// the evidence of on-path injection).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Linger {
    /// Listen for `dns_linger` before returning.
    #[default]
    Wait,
    /// Return at the first reply and listen in the background; [`Lookup::finish`] adds what
    /// came. The measurement goes on meanwhile: the linger costs no time on its critical path.
    Defer,
    /// Do not listen (the control: its answer carries no later replies).
    Skip,
}

/// A lookup whose first replies are in; later replies may still be coming.
#[derive(Debug)]
pub struct Lookup {
    /// The queries, each with its first reply.
    pub queries: Vec<DnsQuery>,
    pending: Vec<(usize, oneshot::Receiver<Vec<DnsResponse>>)>,
    /// Where to publish the finished lookup for the run's other measurements.
    fill: Option<cache::Cell>,
}

impl Lookup {
    /// Waits for the lingering listeners (at most `dns_linger`) and adds their replies.
    pub async fn finish(mut self) -> Vec<DnsQuery> {
        for (idx, rx) in self.pending {
            if let (Ok(extra), Some(q)) = (rx.await, self.queries.get_mut(idx)) {
                q.x_extra_responses.extend(extra);
            }
        }
        if let Some(cell) = self.fill {
            cell.send_replace(Some(std::sync::Arc::new(self.queries.clone())));
        }
        self.queries
    }
}

/// Resolves `host` (A and AAAA, concurrently) with the configured resolver, listening for
/// further replies before returning.
pub async fn lookup(cfg: &ProbeConfig, host: &str, clock: &Clock) -> Vec<DnsQuery> {
    lookup_with(cfg, host, clock, Linger::Wait)
        .await
        .finish()
        .await
}

/// Resolves `host` (A and AAAA, concurrently), lingering as `linger` says.
pub async fn lookup_with(cfg: &ProbeConfig, host: &str, clock: &Clock, linger: Linger) -> Lookup {
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
            return Lookup {
                queries: vec![failed("A"), failed("AAAA")],
                pending: Vec::new(),
                fill: None,
            };
        }
    };
    let (a, aaaa) = tokio::join!(
        query_with(cfg, resolver, host, RecordType::A, clock, linger),
        query_with(cfg, resolver, host, RecordType::AAAA, clock, linger)
    );
    let mut out = Lookup {
        queries: Vec::new(),
        pending: Vec::new(),
        fill: None,
    };
    for (qs, rx) in [a, aaaa] {
        if let Some(rx) = rx {
            // The UDP observation comes first in each query's list.
            out.pending.push((out.queries.len(), rx));
        }
        out.queries.extend(qs);
    }
    out
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

/// One query of one type: the UDP observation, plus a TCP one when the reply was truncated;
/// returns at the first reply (a check, not a measurement: later replies are not awaited).
pub async fn query_no_linger(
    cfg: &ProbeConfig,
    resolver: SocketAddr,
    host: &str,
    qtype: RecordType,
    clock: &Clock,
) -> Vec<DnsQuery> {
    query_with(cfg, resolver, host, qtype, clock, Linger::Skip)
        .await
        .0
}

/// One query of one type: the UDP observation, plus a TCP one when the reply was truncated.
pub async fn query(
    cfg: &ProbeConfig,
    resolver: SocketAddr,
    host: &str,
    qtype: RecordType,
    clock: &Clock,
) -> Vec<DnsQuery> {
    let (mut qs, rx) = query_with(cfg, resolver, host, qtype, clock, Linger::Wait).await;
    if let (Some(rx), Some(first)) = (rx, qs.first_mut()) {
        first.x_extra_responses.extend(rx.await.unwrap_or_default());
    }
    qs
}

type Extra = Option<oneshot::Receiver<Vec<DnsResponse>>>;

/// One query, and the receiver of its later replies when the linger is deferred.
async fn query_with(
    cfg: &ProbeConfig,
    resolver: SocketAddr,
    host: &str,
    qtype: RecordType,
    clock: &Clock,
    linger: Linger,
) -> (Vec<DnsQuery>, Extra) {
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
            return (vec![obs], None);
        }
    };
    let (truncated, extra) = udp(cfg, resolver, &q, clock, &mut obs, linger).await;
    if !truncated {
        return (vec![obs], extra);
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
    (vec![obs, over_tcp], extra)
}

/// Sends `q` over UDP and records its first reply; true if that one was truncated. Later
/// replies are listened for as `linger` says (deferred: through the receiver returned).
async fn udp(
    cfg: &ProbeConfig,
    resolver: SocketAddr,
    q: &Question,
    clock: &Clock,
    obs: &mut DnsQuery,
    linger: Linger,
) -> (bool, Extra) {
    let local = match cfg.bind_ip.filter(|ip| ip.is_ipv4() == resolver.is_ipv4()) {
        Some(ip) => SocketAddr::new(ip, 0),
        None if resolver.is_ipv4() => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
        None => SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0),
    };
    if !cfg.scope.permits_infrastructure(resolver.ip()) {
        obs.failure = Some(Failure::DestinationRefused);
        obs.t = clock.now();
        return (false, None);
    }
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
            return (false, None);
        }
    };
    let end = Instant::now() + cfg.timeouts.dns;
    let mut buf = vec![0u8; 65_535];
    let mut resend = Retransmit::new(end);
    let first = loop {
        let n = match resend.recv(&sock, &q.bytes, &mut buf).await {
            Err(_) => {
                obs.failure = Some(Failure::Timeout);
                obs.t = clock.now();
                return (false, None);
            }
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                obs.failure = Some(failure::from_io(&e));
                obs.t = clock.now();
                return (false, None);
            }
        };
        // Not a reply to this query: keep listening.
        if let Some(reply) = parse_reply(buf.get(..n).unwrap_or_default(), q) {
            break reply;
        }
    };
    obs.t = clock.now();
    let truncated = record_first(obs, first);
    // Keep listening a little: a second reply is the signature of injection.
    let until = Instant::now() + cfg.timeouts.dns_linger;
    match linger {
        Linger::Skip => (truncated, None),
        Linger::Wait => {
            let more = listen(sock, q.clone(), until, *clock, buf).await;
            obs.x_extra_responses.extend(more);
            (truncated, None)
        }
        Linger::Defer => {
            let (tx, rx) = oneshot::channel();
            let (q, clock) = (q.clone(), *clock);
            // Bounded by `until` (the linger), whoever still waits for the result.
            tokio::spawn(async move {
                let _ = tx.send(listen(sock, q, until, clock, buf).await);
            });
            (truncated, Some(rx))
        }
    }
}

/// Datagrams one query is sent in, within the one DNS timeout: a stub resolver retransmits
/// (glibc's `attempts`), so one lost datagram is not a failure.
const UDP_TRIES: u32 = 3;

/// The retransmission schedule of one UDP query: the same datagram again at even steps of
/// the timeout while no reply has come.
struct Retransmit {
    end: Instant,
    step: std::time::Duration,
    next: Instant,
    sent: u32,
}

impl Retransmit {
    /// A schedule for a query first sent now and given up at `end`.
    fn new(end: Instant) -> Retransmit {
        let now = Instant::now();
        let step = end.saturating_duration_since(now) / UDP_TRIES;
        Retransmit {
            end,
            step,
            next: now + step,
            sent: 1,
        }
    }

    /// The next datagram on `sock`, re-sending `query` when a step passes without one;
    /// `Err` when `end` passes.
    async fn recv(
        &mut self,
        sock: &UdpSocket,
        query: &[u8],
        buf: &mut [u8],
    ) -> Result<std::io::Result<usize>, tokio::time::error::Elapsed> {
        loop {
            if self.sent >= UDP_TRIES || self.next >= self.end {
                return timeout_at(self.end, sock.recv(buf)).await;
            }
            if let Ok(r) = timeout_at(self.next, sock.recv(buf)).await {
                return Ok(r);
            }
            // A lost datagram (query or reply): send the same query again.
            let _ = sock.send(query).await;
            self.sent += 1;
            self.next += self.step;
        }
    }
}

/// Records the replies to `q` that arrive until `until` (at most `MAX_EXTRA`).
async fn listen(
    sock: UdpSocket,
    q: Question,
    until: Instant,
    clock: Clock,
    mut buf: Vec<u8>,
) -> Vec<DnsResponse> {
    let mut out = Vec::new();
    while out.len() < MAX_EXTRA {
        let n = match timeout_at(until, sock.recv(&mut buf)).await {
            Ok(Ok(n)) => n,
            _ => break,
        };
        if let Some(reply) = parse_reply(buf.get(..n).unwrap_or_default(), &q) {
            out.push(extra(reply, &clock));
        }
    }
    out
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
        if !cfg.scope.permits_infrastructure(resolver.ip()) {
            return Err(Failure::DestinationRefused);
        }
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
