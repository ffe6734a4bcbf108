//! The delegation walk: for a name that failed at a resolver (NXDOMAIN, no answer, SERVFAIL),
//! ask the zones' own authoritative servers, from the root hints down, whether the parent
//! still delegates the name and whether the delegated servers answer it. Every query is an
//! observation ([`WalkStep`]); what they mean is the analysis's business.
//!
//! Bounded in every way a hostile zone could stretch it: referrals followed (`max_depth`),
//! queries sent (`max_queries`), the whole walk's time (`budget`), the bytes read from one
//! reply (`max_reply_bytes`) and the servers tried per zone (`servers_per_zone`).

use super::referral::{self, AuthReply, Kind};
use crate::{failure, Clock, ProbeConfig};
use hickory_proto::rr::RecordType;
use interfero_model::delegation::{DelegationWalk, WalkOutcome, WalkStep};
use interfero_model::measurement::DnsQuery;
use interfero_model::Failure;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::{timeout_at, Instant};

/// The root servers' IPv4 addresses (IANA root hints, a to m). A data table for the binary's
/// default: `ProbeConfig::default()` has no root hints, so nothing in a test dials these.
pub const IANA_ROOTS: [Ipv4Addr; 13] = [
    Ipv4Addr::new(198, 41, 0, 4),
    Ipv4Addr::new(170, 247, 170, 2),
    Ipv4Addr::new(192, 33, 4, 12),
    Ipv4Addr::new(199, 7, 91, 13),
    Ipv4Addr::new(192, 203, 230, 10),
    Ipv4Addr::new(192, 5, 5, 241),
    Ipv4Addr::new(192, 112, 36, 4),
    Ipv4Addr::new(198, 97, 190, 53),
    Ipv4Addr::new(192, 36, 148, 17),
    Ipv4Addr::new(192, 58, 128, 30),
    Ipv4Addr::new(193, 0, 14, 129),
    Ipv4Addr::new(199, 7, 83, 42),
    Ipv4Addr::new(202, 12, 27, 33),
];

/// Where the walk starts and which port the servers it learns of listen on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RootHints {
    /// The root servers to ask first. Empty: no walk is made.
    pub servers: Vec<SocketAddr>,
    /// The port of every server learnt from a referral (53; a lab serves its zones elsewhere).
    pub port: u16,
}

impl RootHints {
    /// The real root servers (port 53): the binary's default.
    pub fn iana() -> RootHints {
        RootHints {
            servers: IANA_ROOTS
                .iter()
                .map(|ip| SocketAddr::new(IpAddr::V4(*ip), 53))
                .collect(),
            port: 53,
        }
    }
}

impl RootHints {
    /// Parses `--root-hints`: `iana` (the real root servers), `none` (no walk), or a
    /// comma-separated list of `IP` / `IP:PORT` (a lab's root; the servers it refers to are
    /// asked on the first entry's port).
    pub fn parse(s: &str) -> Result<RootHints, String> {
        match s.trim() {
            "iana" => return Ok(RootHints::iana()),
            "none" => return Ok(RootHints::default()),
            _ => {}
        }
        let mut servers = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let addr = match part.parse::<SocketAddr>() {
                Ok(a) => a,
                Err(_) => match part
                    .trim_matches(|c| c == '[' || c == ']')
                    .parse::<IpAddr>()
                {
                    Ok(ip) => SocketAddr::new(ip, 53),
                    Err(_) => {
                        return Err(format!(
                        "--root-hints {part:?} is not an IP address or IP:PORT (or use iana, none)"
                    ))
                    }
                },
            };
            if addr.port() == 0 {
                return Err(format!("--root-hints {part:?}: port 0 cannot be queried"));
            }
            servers.push(addr);
        }
        let Some(first) = servers.first() else {
            return Err("--root-hints is empty: give iana, none, or IP[:PORT],...".into());
        };
        Ok(RootHints {
            port: first.port(),
            servers,
        })
    }
}

/// The walk's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkBounds {
    /// Most referrals followed (and most nested walks for a name server without glue).
    pub max_depth: usize,
    /// Most queries sent by one walk, nested walks included.
    pub max_queries: usize,
    /// The whole walk.
    pub budget: Duration,
    /// Most bytes read from one reply (a larger datagram is cut and fails to decode).
    pub max_reply_bytes: usize,
    /// Most servers of one zone tried before the zone counts as not answering.
    pub servers_per_zone: usize,
}

impl Default for WalkBounds {
    fn default() -> Self {
        WalkBounds {
            max_depth: 8,
            max_queries: 24,
            budget: Duration::from_secs(8),
            max_reply_bytes: 4096,
            servers_per_zone: 3,
        }
    }
}

/// The walk's configuration in [`ProbeConfig`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DelegationSettings {
    /// Where to start; empty: never walk.
    pub hints: RootHints,
    /// How far a walk may go.
    pub bounds: WalkBounds,
}

/// Whether a resolver's failure is one the walk explains (the name is said not to exist, to
/// have no address, or the resolver could not get an answer from the name's servers).
pub fn worth_walking(f: Option<&Failure>) -> bool {
    matches!(
        f,
        Some(Failure::DnsNxdomain | Failure::DnsNoAnswer | Failure::DnsServfail)
    )
}

struct Walker<'a> {
    cfg: &'a ProbeConfig,
    clock: &'a Clock,
    deadline: Instant,
    queries: usize,
    steps: Vec<WalkStep>,
    limit: Option<&'static str>,
}

/// Walks `host`'s delegation from the configured root hints; `None` when there are none.
pub async fn walk(cfg: &ProbeConfig, host: &str, clock: &Clock) -> Option<DelegationWalk> {
    let hints = &cfg.delegation.hints;
    if hints.servers.is_empty() {
        return None;
    }
    let mut w = Walker {
        cfg,
        clock,
        deadline: Instant::now() + cfg.delegation.bounds.budget,
        queries: 0,
        steps: Vec::new(),
        limit: None,
    };
    let mut out = w.walk_name(host, hints.servers.clone(), 0).await;
    out.limit = w.limit.map(str::to_string);
    out.steps = w.steps;
    Some(out)
}

impl Walker<'_> {
    /// One walk toward `host`, from `roots`, `nested` levels deep (for a name server's name).
    async fn walk_name(
        &mut self,
        host: &str,
        roots: Vec<SocketAddr>,
        nested: usize,
    ) -> DelegationWalk {
        let target = {
            let mut t = host.trim_end_matches('.').to_ascii_lowercase();
            t.push('.');
            t
        };
        let mut out = DelegationWalk {
            hostname: host.trim_end_matches('.').to_string(),
            ..DelegationWalk::default()
        };
        let bounds = self.cfg.delegation.bounds;
        let mut zone = ".".to_string();
        let mut servers = roots;
        let mut ns_names: Vec<String> = Vec::new();
        for _ in 0..=bounds.max_depth {
            let mut next: Option<AuthReply> = None;
            for server in servers.iter().take(bounds.servers_per_zone) {
                let Some(reply) = self.ask(&zone, *server, &target).await else {
                    if self.limit.is_some() {
                        return out;
                    }
                    continue;
                };
                match reply.kind(&zone, &target) {
                    Kind::Answer => {
                        out.outcome = WalkOutcome::Answered;
                        return out;
                    }
                    Kind::NoData => {
                        out.outcome = WalkOutcome::NoData;
                        return out;
                    }
                    Kind::Nxdomain => {
                        out.outcome = WalkOutcome::Nxdomain;
                        out.nxdomain_zone = Some(reply.soa_zone.clone().unwrap_or(zone.clone()));
                        return out;
                    }
                    Kind::Referral => {
                        next = Some(reply);
                        break;
                    }
                    Kind::Unusable => continue,
                }
            }
            let Some(referral) = next else {
                // No server of this zone answered for the name.
                if zone != "." {
                    out.outcome = WalkOutcome::Lame;
                    out.delegated_ns = ns_names;
                }
                return out;
            };
            zone = referral.ns_zone.clone().unwrap_or_default();
            out.last_delegation = Some(zone.clone());
            ns_names = referral.ns.clone();
            servers = self.servers_of(&referral, nested).await;
            if self.limit.is_some() {
                return out;
            }
            if servers.is_empty() {
                out.outcome = WalkOutcome::Lame;
                out.delegated_ns = ns_names;
                return out;
            }
        }
        self.limit = Some("depth");
        out
    }

    /// The addresses of a referral's servers: its glue, else (within the depth bound) each
    /// server's name walked from the root.
    async fn servers_of(&mut self, r: &AuthReply, nested: usize) -> Vec<SocketAddr> {
        let port = self.cfg.delegation.hints.port;
        let mut out: Vec<SocketAddr> = r
            .glue
            .iter()
            .map(|(_, ip)| SocketAddr::new(*ip, port))
            .collect();
        if !out.is_empty() || nested >= 2 {
            return out;
        }
        let roots = self.cfg.delegation.hints.servers.clone();
        for ns in
            r.ns.iter()
                .take(self.cfg.delegation.bounds.servers_per_zone)
        {
            let sub = Box::pin(self.walk_name(ns, roots.clone(), nested + 1)).await;
            if self.limit.is_some() {
                break;
            }
            if sub.outcome == WalkOutcome::Answered {
                if let Some(last) = self.steps.last() {
                    for a in &last.query.answers {
                        if let Some(ip) = a.addr().and_then(|s| s.parse().ok()) {
                            out.push(SocketAddr::new(ip, port));
                        }
                    }
                }
            }
            if !out.is_empty() {
                break;
            }
        }
        out
    }

    /// Asks `server` (of `zone`) for `target`'s address; records the step. `None` when nothing
    /// usable came back (the step says why) or a bound stopped the walk (`limit` says which).
    async fn ask(&mut self, zone: &str, server: SocketAddr, target: &str) -> Option<AuthReply> {
        if self.queries >= self.cfg.delegation.bounds.max_queries {
            self.limit = Some("queries");
            return None;
        }
        if Instant::now() >= self.deadline {
            self.limit = Some("time");
            return None;
        }
        self.queries += 1;
        let mut step = WalkStep {
            zone: zone.to_string(),
            query: DnsQuery {
                hostname: target.trim_end_matches('.').to_string(),
                query_type: "A".into(),
                engine: "udp".into(),
                resolver_address: server.to_string(),
                t0: self.clock.now(),
                ..DnsQuery::default()
            },
            ..WalkStep::default()
        };
        // The root hints are the operator's choice; a server named by a referral is the
        // zone's, so it must pass the strict check (a zone must not point us into private
        // space).
        let hinted = self.cfg.delegation.hints.servers.contains(&server);
        let allowed = if hinted {
            self.cfg.scope.permits_infrastructure(server.ip())
        } else {
            self.cfg.scope.permits(server.ip())
        };
        let result = if allowed {
            self.exchange(server, target).await
        } else {
            Err(Failure::DestinationRefused)
        };
        step.query.t = self.clock.now();
        let reply = match result {
            Ok(r) => r,
            Err(f) => {
                step.query.failure = Some(f);
                self.steps.push(step);
                return None;
            }
        };
        let kind = reply.kind(zone, target);
        step.query.x_rcode = Some(reply.rcode.clone());
        step.query.answers = reply.answers.clone();
        step.query.failure = match kind {
            Kind::Answer | Kind::Referral => None,
            Kind::NoData => Some(Failure::DnsNoAnswer),
            Kind::Nxdomain => Some(Failure::DnsNxdomain),
            Kind::Unusable => Some(match reply.rcode.as_str() {
                "SERVFAIL" => Failure::DnsServfail,
                "REFUSED" => Failure::DnsRefused,
                "NXDOMAIN" => Failure::DnsNxdomain,
                _ => Failure::DnsMisbehaving,
            }),
        };
        step.authoritative = reply.authoritative;
        step.referral_zone = (kind == Kind::Referral)
            .then(|| reply.ns_zone.clone())
            .flatten();
        step.ns = reply.ns.clone();
        step.glue = reply.glue.iter().map(|(_, ip)| ip.to_string()).collect();
        step.ds = reply.ds;
        step.soa_zone = reply.soa_zone.clone();
        self.steps.push(step);
        (kind != Kind::Unusable).then_some(reply)
    }

    /// One UDP exchange with an authoritative server, bounded in time and size.
    async fn exchange(&self, server: SocketAddr, target: &str) -> Result<AuthReply, Failure> {
        let q = referral::build_query(target, RecordType::A)
            .map_err(|e| Failure::Other(format!("unknown_failure: bad name: {e}")))?;
        let local = match self
            .cfg
            .bind_ip
            .filter(|ip| ip.is_ipv4() == server.is_ipv4())
        {
            Some(ip) => SocketAddr::new(ip, 0),
            None if server.is_ipv4() => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
            None => SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0),
        };
        let io = |e: std::io::Error| failure::from_io(&e);
        let sock = UdpSocket::bind(local).await.map_err(io)?;
        sock.connect(server).await.map_err(io)?;
        sock.send(&q.bytes).await.map_err(io)?;
        let end = (Instant::now() + self.cfg.timeouts.dns).min(self.deadline);
        let mut buf = vec![0u8; self.cfg.delegation.bounds.max_reply_bytes.max(12)];
        loop {
            let n = match timeout_at(end, sock.recv(&mut buf)).await {
                Err(_) => return Err(Failure::Timeout),
                Ok(Err(e)) => return Err(io(e)),
                Ok(Ok(n)) => n,
            };
            match referral::parse(buf.get(..n).unwrap_or_default(), &q) {
                None => continue,
                Some(Err(())) => return Err(Failure::DnsMisbehaving),
                Some(Ok(r)) => return Ok(r),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_root_hints() {
        assert_eq!(RootHints::parse("iana").unwrap().servers.len(), 13);
        assert!(RootHints::parse("none").unwrap().servers.is_empty());
        let h = RootHints::parse("127.0.0.5:5353, 127.0.0.6").unwrap();
        assert_eq!(h.port, 5353);
        assert_eq!(h.servers[1], "127.0.0.6:53".parse().unwrap());
        for bad in ["", "root", "127.0.0.1:0"] {
            let e = RootHints::parse(bad).unwrap_err();
            assert!(e.starts_with("--root-hints"), "{e}");
        }
    }
}
