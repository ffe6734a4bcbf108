//! Fetching a URL the way a browser does, one hop at a time, recording every step: DNS for each
//! new host, TCP to its addresses, TLS on each connection, HTTP on the first that validated,
//! redirects followed by hand. Shared by the probe (`web`) and the control (`helper`).

use crate::adaptive::Cut;
use crate::dns::{Linger, Lookup};
use crate::{dns, http, tcp, tls, Clock, ProbeConfig};
use futures_util::future::join_all;
use interfero_model::measurement::{DnsQuery, HttpRoundTrip, TcpConnect, TlsHandshake};
use interfero_model::Failure;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use url::{Host, Url};

/// The observations of a fetch, each list in chronological order.
#[derive(Debug, Default)]
pub(crate) struct Steps {
    /// DNS queries of redirect hops (the first hop's are made by the caller).
    pub queries: Vec<DnsQuery>,
    /// TCP connects.
    pub tcp_connect: Vec<TcpConnect>,
    /// TLS handshakes.
    pub tls_handshakes: Vec<TlsHandshake>,
    /// HTTP round trips, first hop first.
    pub requests: Vec<HttpRoundTrip>,
    /// How many TCP connects and TLS handshakes belong to the first hop.
    pub first_hop: Option<(usize, usize)>,
    /// Redirect hops' lookups still listening for later replies (see [`Steps::finish`]).
    pub lookups: Vec<Lookup>,
    /// How redirect hops' lookups linger.
    pub linger: Linger,
    /// When stalled steps may be decided early (the control's hint).
    pub cut: Cut,
}

impl Default for Cut {
    fn default() -> Self {
        Cut::never()
    }
}

impl Steps {
    /// Steps whose lookups linger as `linger` says and whose stalls `cut` may decide.
    pub fn new(linger: Linger, cut: Cut) -> Steps {
        Steps {
            linger,
            cut,
            ..Steps::default()
        }
    }

    /// Waits for the redirect hops' lookups to finish lingering and records them.
    pub async fn finish(&mut self) {
        for l in std::mem::take(&mut self.lookups) {
            self.queries.extend(l.finish().await);
        }
    }
}

/// Failure for a redirect whose Location cannot be followed.
pub(crate) const BAD_LOCATION: &str = "http_invalid_redirect_location";
/// Failure for a chain longer than `max_redirects`.
pub(crate) const TOO_MANY_REDIRECTS: &str = "too_many_redirects";

/// Parses a URL the probe can fetch (http or https with a host).
pub(crate) fn parse_web_url(s: &str) -> Result<Url, Failure> {
    match Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u),
        _ => Err(Failure::Other(format!(
            "unknown_failure: unsupported URL {s:?}"
        ))),
    }
}

/// The URL's host as SNI and DNS name (IPv6 literals without brackets).
pub(crate) fn host_name(url: &Url) -> String {
    match url.host() {
        Some(Host::Ipv6(ip)) => ip.to_string(),
        Some(h) => h.to_string(),
        None => String::new(),
    }
}

/// Resolves the URL's host (no query for an IP literal): its addresses, the lookup's failure
/// when there is none, and the lookup (through the run's DNS cache when there is one), whose
/// queries the caller records once it has finished lingering.
pub(crate) async fn resolve(
    cfg: &ProbeConfig,
    url: &Url,
    clock: &Clock,
    linger: Linger,
) -> (Vec<IpAddr>, Option<Failure>, Option<Lookup>) {
    match url.host() {
        Some(Host::Ipv4(ip)) => (vec![IpAddr::V4(ip)], None, None),
        Some(Host::Ipv6(ip)) => (vec![IpAddr::V6(ip)], None, None),
        Some(Host::Domain(d)) => {
            let lookup = match &cfg.run {
                Some(run) => run.dns.lookup(cfg, d, clock, linger).await,
                None => dns::lookup_with(cfg, d, clock, linger).await,
            };
            let addrs = dns::addresses(&lookup.queries);
            let failure = dns::overall_failure(&lookup.queries);
            (addrs, failure, Some(lookup))
        }
        None => (Vec::new(), Some(Failure::DnsNoAnswer), None),
    }
}

/// The whole redirect chain's time: twice one round trip's, however many hops (each hop is
/// bounded by its own timeouts; without this, 11 slow hops took 33 s and the worst case was
/// about 250 s).
pub fn chain_budget(cfg: &ProbeConfig) -> std::time::Duration {
    cfg.timeouts.http.saturating_mul(2)
}

/// Fetches `url` starting with the given endpoints and following redirects, within
/// [`chain_budget`]; the HTTP step's failure (including TCP/TLS failures that left no usable
/// connection, and `generic_timeout_error` when the chain outlasts its budget).
pub(crate) async fn follow(
    cfg: &ProbeConfig,
    mut url: Url,
    first_endpoints: Vec<SocketAddr>,
    clock: &Clock,
    steps: &mut Steps,
) -> Option<Failure> {
    let mut endpoints = Some(first_endpoints);
    let mut cache: HashMap<String, Vec<IpAddr>> = HashMap::new();
    if let Some(eps) = &endpoints {
        cache.insert(host_name(&url), eps.iter().map(|a| a.ip()).collect());
    }
    let mut redirects = 0;
    let deadline = tokio::time::Instant::now() + chain_budget(cfg);
    loop {
        let eps = match endpoints.take() {
            Some(e) => e,
            None => match tokio::time::timeout_at(
                deadline,
                hop_endpoints(cfg, &url, clock, steps, &mut cache),
            )
            .await
            {
                Ok(Ok(e)) => e,
                Ok(Err(f)) => return Some(f),
                Err(_) => return Some(Failure::Timeout),
            },
        };
        let rt = match tokio::time::timeout_at(deadline, hop(cfg, &url, &eps, clock, steps)).await {
            Ok(Ok(rt)) => rt,
            Ok(Err(f)) => return Some(f),
            Err(_) => return Some(Failure::Timeout),
        };
        let code = rt.response.code;
        let failure = rt.failure.clone();
        let location = rt.response.header("location").map(str::to_string);
        steps.requests.push(rt);
        if failure.is_some() {
            return failure;
        }
        // Not a redirect (or one without Location): this is the final response, no failure.
        let location = match location {
            Some(l) if matches!(code, 301 | 302 | 303 | 307 | 308) => l,
            _ => return None,
        };
        let next = match url.join(location.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
            _ => return Some(Failure::Other(BAD_LOCATION.into())),
        };
        if redirects >= cfg.max_redirects {
            return Some(Failure::Other(TOO_MANY_REDIRECTS.into()));
        }
        redirects += 1;
        url = next;
    }
}

/// The endpoints of a redirect hop: its host's addresses (resolved once per host), capped.
async fn hop_endpoints(
    cfg: &ProbeConfig,
    url: &Url,
    clock: &Clock,
    steps: &mut Steps,
    cache: &mut HashMap<String, Vec<IpAddr>>,
) -> Result<Vec<SocketAddr>, Failure> {
    let host = host_name(url);
    let addrs = match cache.get(&host) {
        Some(a) => a.clone(),
        None => {
            let (addrs, failure, lookup) = resolve(cfg, url, clock, steps.linger).await;
            steps.lookups.extend(lookup);
            if addrs.is_empty() {
                return Err(failure.unwrap_or(Failure::DnsNoAnswer));
            }
            cache.insert(host, addrs.clone());
            addrs
        }
    };
    let port = url.port_or_known_default().unwrap_or(80);
    Ok(addrs
        .into_iter()
        .take(cfg.max_addresses.max(1))
        .map(|ip| SocketAddr::new(ip, port))
        .collect())
}

/// One hop: TCP to every endpoint, TLS on every connection (https), HTTP on the first usable.
async fn hop(
    cfg: &ProbeConfig,
    url: &Url,
    eps: &[SocketAddr],
    clock: &Clock,
    steps: &mut Steps,
) -> Result<HttpRoundTrip, Failure> {
    // Held until the hop's connections are gone (they do not outlive the hop).
    let _permits = match &cfg.run {
        Some(run) => run.connections(eps).await,
        None => Vec::new(),
    };
    let connects = join_all(eps.iter().map(|a| tcp::connect(cfg, *a, clock))).await;
    let mut tcp_failure = None;
    let mut streams = Vec::new();
    for (address, (obs, stream)) in eps.iter().zip(connects) {
        if let Some(f) = &obs.status.failure {
            tcp_failure.get_or_insert_with(|| f.clone());
        }
        steps.tcp_connect.push(obs);
        if let Some(s) = stream {
            streams.push((*address, s));
        }
    }
    let no_connection = || tcp_failure.clone().unwrap_or(Failure::ConnectionRefused);
    if url.scheme() != "https" {
        steps.first_hop.get_or_insert((steps.tcp_connect.len(), 0));
        let (address, stream) = streams.into_iter().next().ok_or_else(no_connection)?;
        let cut = &steps.cut;
        return Ok(http::get_until(cfg, stream, None, url, &address.to_string(), clock, cut).await);
    }
    let sni = host_name(url);
    let first = streams.first().map(|(a, _)| *a);
    let mut handshakes = join_all(
        streams
            .into_iter()
            .map(|(_, s)| tls::handshake_until(cfg, s, &sni, clock, &steps.cut)),
    )
    .await;
    // Every handshake cut at once (a reset or an EOF): once more on a new connection to the
    // first address. A filter matching the name cuts the retry too; a server that drops some
    // connections (or a packet lost on the way) lets it through, and one cut is then not
    // called a block. Only these fast failures are retried: a stall would double the wait.
    let cut_at_once = handshakes.iter().all(|(o, s)| {
        s.is_none() && matches!(o.failure, Some(Failure::ConnectionReset | Failure::Eof))
    });
    if let Some(address) = first.filter(|_| cut_at_once) {
        let (obs, stream) = tcp::connect(cfg, address, clock).await;
        steps.tcp_connect.push(obs);
        if let Some(s) = stream {
            handshakes.push(tls::handshake_until(cfg, s, &sni, clock, &steps.cut).await);
        }
    }
    let mut tls_failure = None;
    let mut chosen = None;
    for (obs, stream) in handshakes {
        if let Some(f) = &obs.failure {
            tls_failure.get_or_insert_with(|| f.clone());
        }
        if let (None, Some(s)) = (&chosen, stream) {
            chosen = Some((obs.address.clone(), s));
        }
        steps.tls_handshakes.push(obs);
    }
    steps
        .first_hop
        .get_or_insert((steps.tcp_connect.len(), steps.tls_handshakes.len()));
    let (address, stream) = chosen.ok_or_else(|| tls_failure.unwrap_or_else(no_connection))?;
    let alpn = stream
        .get_ref()
        .1
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let cut = &steps.cut;
    Ok(http::get_until(cfg, stream, alpn.as_deref(), url, &address, clock, cut).await)
}
