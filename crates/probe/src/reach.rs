//! The reachability check: every canary tried at once, each bounded by the step timeouts, so
//! a whole check costs at most one DNS timeout or one connect + TLS timeout.

use crate::{dns, tcp, tls, Clock, ProbeConfig};
use hickory_proto::rr::RecordType;
use interfero_model::reachability::{
    Canary, CanaryKind, CanaryResult, Reachability, ResolverCheck,
};
use interfero_model::Failure;

/// Tries every canary of `cfg` at once; the results in the canaries' order.
pub async fn check(cfg: &ProbeConfig, canaries: &[Canary]) -> Reachability {
    let clock = Clock::start();
    let measured_at = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let tries = canaries.iter().map(|c| one(cfg, c, &clock));
    Reachability {
        measured_at,
        canaries: futures_util::future::join_all(tries).await,
        run: None,
    }
}

async fn one(cfg: &ProbeConfig, c: &Canary, clock: &Clock) -> CanaryResult {
    let mut r = CanaryResult {
        kind: match c.kind {
            CanaryKind::Dns => "dns",
            CanaryKind::Tls => "tls",
        }
        .into(),
        endpoint: c.endpoint.to_string(),
        name: c.name.clone(),
        domestic: c.domestic,
        t0: clock.now(),
        ..CanaryResult::default()
    };
    match c.kind {
        CanaryKind::Dns => {
            let obs = dns::query(cfg, c.endpoint, &c.name, RecordType::A, clock).await;
            // Any response, even NXDOMAIN, proves that packets went out and came back.
            r.answered = obs.iter().any(|q| q.x_rcode.is_some());
            if !r.answered {
                r.failure = obs
                    .iter()
                    .find_map(|q| q.failure.clone())
                    .or(Some(Failure::Timeout));
            }
        }
        CanaryKind::Tls => {
            let (conn, stream) = tcp::connect(cfg, c.endpoint, clock).await;
            r.tcp_connected = conn.status.success;
            match stream {
                None => r.failure = conn.status.failure,
                Some(stream) => {
                    let (hs, tls) =
                        tls::handshake_any_certificate(cfg, stream, &c.name, clock).await;
                    r.answered = tls.is_some();
                    if !r.answered {
                        r.failure = hs.failure.or(Some(Failure::SslFailedHandshake));
                    }
                }
            }
        }
    }
    r.t = clock.now();
    r
}

/// The question a resolver check asks: the root zone's name servers, which every recursive
/// resolver answers from its own hints, and which no censor has reason to block.
pub const RESOLVER_CHECK_NAME: &str = ".";

/// Checks the configured resolver itself: one query for the root's name servers.
pub async fn check_resolver(cfg: &ProbeConfig) -> ResolverCheck {
    let clock = Clock::start();
    let mut r = ResolverCheck {
        measured_at: chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        question: format!("{RESOLVER_CHECK_NAME} NS"),
        ..ResolverCheck::default()
    };
    let addr = match cfg.resolver.addr() {
        Ok(a) => a,
        Err(e) => {
            r.failure = Some(Failure::Other(format!("unknown_failure: {e}")));
            return r;
        }
    };
    let obs = dns::query_no_linger(cfg, addr, RESOLVER_CHECK_NAME, RecordType::NS, &clock).await;
    r.rcode = obs.iter().rev().find_map(|q| q.x_rcode.clone());
    r.answered = r
        .rcode
        .as_deref()
        .is_some_and(|c| c == "NOERROR" || c == "NXDOMAIN");
    if r.rcode.is_none() {
        r.failure = obs
            .iter()
            .find_map(|q| q.failure.clone())
            .or(Some(Failure::Timeout));
    }
    r
}

/// Connects (TCP only: a handshake proves the family's route works) to every TLS canary of
/// `cfg` whose address is of `family`, all at once: one part of a family check (the caller
/// adds what the run's other targets showed).
pub async fn check_family(
    cfg: &ProbeConfig,
    family: interfero_model::Family,
) -> Vec<interfero_model::FamilyConnect> {
    let clock = Clock::start();
    let tries = cfg
        .canaries
        .iter()
        .filter(|c| c.kind == CanaryKind::Tls)
        .filter(|c| interfero_model::Family::of(c.endpoint.ip()) == family)
        .map(|c| async {
            let (conn, _stream) = tcp::connect(cfg, c.endpoint, &clock).await;
            interfero_model::FamilyConnect {
                endpoint: c.endpoint.to_string(),
                connected: conn.status.success,
                failure: conn.status.failure,
            }
        });
    futures_util::future::join_all(tries).await
}
