//! The observations of one measurement, arranged for the rules: per address, what the probe
//! and the control each saw at every step.

use crate::addr::is_bogon_for;
use interfero_model::control::{ControlResponse, ControlTcp, ControlTls};
use interfero_model::measurement::{DnsQuery, HttpRoundTrip, TestKeys, TlsHandshake};
use interfero_model::Failure;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

/// What DNS said for the measured host.
#[derive(Debug, Default)]
pub struct DnsFacts {
    /// Addresses of the first response of every query, in order, without repeats.
    pub addrs: Vec<IpAddr>,
    /// Why no address came, when none did.
    pub failure: Option<Failure>,
    /// Evidence of a second, different answer to one query.
    pub injection: Option<String>,
    /// Addresses that appeared only in the later answers.
    pub late_addrs: Vec<IpAddr>,
}

/// One address of the measured host, as the probe and the control saw it.
#[derive(Debug)]
pub struct AddrFacts<'a> {
    /// The address.
    pub ip: IpAddr,
    /// `IP:PORT` as used in OONI's maps.
    pub endpoint: String,
    /// The control's resolver gave it too.
    pub in_control_dns: bool,
    /// A private, loopback or reserved address.
    pub bogon: bool,
    /// The probe's connect: `None` not tried, `Some(None)` connected, `Some(Some(f))` failed.
    pub probe_tcp: Option<Option<Failure>>,
    /// The probe's TLS handshake with the target's name.
    pub probe_tls: Option<&'a TlsHandshake>,
    /// The probe fetched the page over HTTPS from this endpoint (it sends HTTP only on a
    /// connection whose certificate validated for the name), whatever its TLS record says.
    pub served_https: bool,
    /// The control's connect to the same endpoint.
    pub control_tcp: Option<&'a ControlTcp>,
    /// The control's handshake with the same endpoint.
    pub control_tls: Option<&'a ControlTls>,
}

impl AddrFacts<'_> {
    /// The probe completed TLS with a certificate valid for the name here.
    pub fn probe_tls_valid(&self) -> bool {
        self.served_https || self.probe_tls.is_some_and(|t| t.failure.is_none())
    }

    /// The control completed TLS with a valid certificate on this endpoint.
    pub fn control_tls_valid(&self) -> bool {
        self.control_tls.is_some_and(|t| t.status)
    }
}

/// A handshake recorded without an address (some OONI probes leave it empty), tied to `ip`
/// when it is the only such handshake and `ip` the only address connected on the port.
fn unaddressed_handshake<'a>(
    tk: &'a TestKeys,
    ip: IpAddr,
    port: u16,
    named: &dyn Fn(&&'a TlsHandshake) -> bool,
) -> Option<&'a TlsHandshake> {
    let mut bare = tk
        .tls_handshakes
        .iter()
        .filter(|t| t.address.is_empty())
        .filter(|t| named(t));
    let (one, more) = (bare.next()?, bare.next());
    (more.is_none() && sole_connect(tk, port) == Some(SocketAddr::new(ip, port))).then_some(one)
}

/// The address connected on `port`, when exactly one connect there succeeded: the one a record
/// without an address (some OONI probes leave it empty) must have gone over.
pub(crate) fn sole_connect(tk: &TestKeys, port: u16) -> Option<SocketAddr> {
    let mut connected = tk
        .tcp_connect
        .iter()
        .filter(|c| c.port == port && c.status.success);
    let (first, other) = (connected.next()?, connected.next());
    let ip: IpAddr = first.ip.parse().ok()?;
    other.is_none().then_some(SocketAddr::new(ip, port))
}

/// Everything the rules look at.
#[derive(Debug)]
pub struct Facts<'a> {
    /// The measured URL.
    pub url: String,
    /// The measured URL's host, lowercase.
    pub host: String,
    /// Whether the URL is https.
    pub https: bool,
    /// The raw test keys.
    pub tk: &'a TestKeys,
    /// The control's answer.
    pub control: Option<&'a ControlResponse>,
    /// DNS for the host.
    pub dns: DnsFacts,
    /// Per address of the host (resolved or connected).
    pub addrs: Vec<AddrFacts<'a>>,
    /// HTTP round trips, first hop first.
    pub chain: Vec<&'a HttpRoundTrip>,
}

fn primary_queries<'a>(tk: &'a TestKeys, host: &str) -> Vec<&'a DnsQuery> {
    let of_host: Vec<&DnsQuery> = tk
        .queries
        .iter()
        .filter(|q| q.hostname.trim_end_matches('.').eq_ignore_ascii_case(host))
        .collect();
    // OONI's own measurements carry several resolvers (getaddrinfo, DoH, extra UDP); its
    // classic analysis judges the system resolver, and so do we.
    let system: Vec<&DnsQuery> = of_host
        .iter()
        .copied()
        .filter(|q| q.engine == "getaddrinfo" || q.engine == "system")
        .collect();
    if !system.is_empty() {
        return system;
    }
    of_host.into_iter().filter(|q| q.engine != "doh").collect()
}

fn ips(answers: &[interfero_model::measurement::DnsAnswer]) -> Vec<IpAddr> {
    answers
        .iter()
        .filter_map(|a| a.addr()?.parse().ok())
        .collect()
}

fn dns_facts(queries: &[&DnsQuery]) -> DnsFacts {
    let mut f = DnsFacts::default();
    for q in queries {
        for ip in ips(&q.answers) {
            if !f.addrs.contains(&ip) {
                f.addrs.push(ip);
            }
        }
        let first: BTreeSet<IpAddr> = ips(&q.answers).into_iter().collect();
        for extra in &q.x_extra_responses {
            let later: BTreeSet<IpAddr> = ips(&extra.answers).into_iter().collect();
            if later != first || extra.rcode != q.x_rcode.clone().unwrap_or_default() {
                f.injection.get_or_insert_with(|| {
                    format!(
                        "{} {} got two different answers: first {:?} ({}), then {:?} ({}) at t={:.3}s",
                        q.query_type,
                        q.hostname,
                        first,
                        q.x_rcode.as_deref().unwrap_or("?"),
                        later,
                        extra.rcode,
                        extra.t
                    )
                });
                f.late_addrs.extend(later.difference(&first).copied());
            }
        }
    }
    if f.addrs.is_empty() {
        // The most telling failure: an explicit rcode beats "no answer", which beats a timeout
        // (AAAA often has no answer while A is the query that was interfered with).
        let rank = |fl: &Failure| match fl {
            Failure::DnsNxdomain | Failure::DnsRefused | Failure::DnsServfail => 0,
            Failure::DnsMisbehaving | Failure::DnsBogon => 1,
            Failure::Timeout => 2,
            Failure::DnsNoAnswer => 3,
            _ => 4,
        };
        f.failure = queries
            .iter()
            .filter_map(|q| q.failure.clone())
            .min_by_key(rank)
            .or(Some(Failure::DnsNoAnswer).filter(|_| !queries.is_empty()));
    }
    f
}

fn endpoint(ip: IpAddr, port: u16) -> String {
    SocketAddr::new(ip, port).to_string()
}

impl<'a> Facts<'a> {
    /// Arranges a measurement's observations for the URL it measured.
    pub fn new(input: &str, tk: &'a TestKeys) -> Facts<'a> {
        let url = url::Url::parse(input).ok();
        let host = url
            .as_ref()
            .and_then(|u| u.host_str())
            .unwrap_or("")
            .trim_matches(|c| c == '[' || c == ']')
            .to_ascii_lowercase();
        let https = url.as_ref().is_some_and(|u| u.scheme() == "https");
        let port = url
            .as_ref()
            .and_then(|u| u.port_or_known_default())
            .unwrap_or(if https { 443 } else { 80 });
        let control = tk.control.as_ref();
        let dns = dns_facts(&primary_queries(tk, &host));
        let control_addrs: Vec<IpAddr> = control
            .map(|c| c.dns.addrs.iter().filter_map(|a| a.parse().ok()).collect())
            .unwrap_or_default();

        let mut ips_seen: Vec<IpAddr> = dns.addrs.clone();
        for c in &tk.tcp_connect {
            if c.port == port {
                if let Ok(ip) = c.ip.parse::<IpAddr>() {
                    if !ips_seen.contains(&ip) && dns.addrs.is_empty() {
                        ips_seen.push(ip);
                    }
                }
            }
        }
        let addrs = ips_seen
            .into_iter()
            .map(|ip| {
                let ep = endpoint(ip, port);
                // A connect that failed on the probe's own account (a destination it refused
                // to dial, a local error) is no observation of the network: as if not tried.
                let probe_tcp = tk
                    .tcp_connect
                    .iter()
                    .filter(|c| {
                        !c.status
                            .failure
                            .as_ref()
                            .is_some_and(Failure::is_probe_local)
                    })
                    .find(|c| c.port == port && c.ip.parse::<IpAddr>().ok() == Some(ip))
                    .map(|c| {
                        if c.status.success {
                            None
                        } else {
                            c.status
                                .failure
                                .clone()
                                .or(Some(Failure::Other("unknown".into())))
                        }
                    });
                let named = |t: &&TlsHandshake| {
                    t.server_name.is_empty() || t.server_name.eq_ignore_ascii_case(&host)
                };
                // A handshake cut at once is retried on a new connection: the one that
                // completed, if any, is what this address gave.
                let here = || {
                    tk.tls_handshakes
                        .iter()
                        .filter(named)
                        .filter(|t| t.address == ep)
                };
                let probe_tls = here()
                    .find(|t| t.failure.is_none())
                    .or_else(|| here().next())
                    .or_else(|| unaddressed_handshake(tk, ip, port, &named));
                let served_https = https
                    && tk.requests.iter().any(|rt| {
                        rt.failure.is_none()
                            && rt.response.code > 0
                            && rt
                                .address
                                .as_deref()
                                .and_then(|a| a.parse::<SocketAddr>().ok())
                                == Some(SocketAddr::new(ip, port))
                            && url::Url::parse(&rt.request.url).is_ok_and(|u| {
                                u.scheme() == "https"
                                    && u.host_str().is_some_and(|h| {
                                        h.trim_matches(['[', ']']).eq_ignore_ascii_case(&host)
                                    })
                            })
                    });
                AddrFacts {
                    ip,
                    in_control_dns: control_addrs.contains(&ip),
                    bogon: is_bogon_for(ip, &control_addrs),
                    probe_tcp,
                    probe_tls,
                    served_https,
                    control_tcp: control
                        .and_then(|c| c.tcp_connect.get(&ep))
                        .filter(|c| c.failure != Some(Failure::DestinationRefused)),
                    control_tls: control.and_then(|c| c.tls_handshake.get(&ep)),
                    endpoint: ep,
                }
            })
            .collect();
        let mut chain: Vec<&HttpRoundTrip> = tk.requests.iter().collect();
        chain.reverse();
        Facts {
            url: input.to_string(),
            host,
            https,
            tk,
            control,
            dns,
            addrs,
            chain,
        }
    }

    /// The control's addresses for the host.
    pub fn control_addrs(&self) -> Vec<IpAddr> {
        self.control
            .map(|c| c.dns.addrs.iter().filter_map(|a| a.parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Whether the probe got a final page: the last round trip answered, with no redirect left
    /// unfollowed and no failure recorded for the HTTP step.
    pub fn fetched(&self) -> bool {
        self.last().is_some_and(|rt| {
            rt.failure.is_none() && rt.response.code > 0 && !(300..400).contains(&rt.response.code)
        }) && self.tk.http_experiment_failure.is_none()
    }

    /// The last round trip of the chain (the final response or the failure that ended it).
    pub fn last(&self) -> Option<&'a HttpRoundTrip> {
        self.chain.last().copied()
    }
}
