//! One rule per network step: DNS, TCP, TLS, HTTP. Each runs only once the control has reached
//! the site, so a failure here that the control did not meet is interference.

use crate::diff;
use crate::facts::{AddrFacts, Facts};
use crate::rules::{consistent, Context};
use interfero_model::measurement::HttpRoundTrip;
use interfero_model::{Failure, Family, Status, Technique, Verdict};

/// The probe failed on its own at `step`: nothing is said about the network.
fn probe_error(step: &str, fl: &Failure) -> Verdict {
    Verdict::new(Status::Inconclusive, 0.5, format!("{step}.probe_error")).because(format!(
        "the probe's {step} step failed on its own account: {fl}"
    ))
}

pub(crate) fn dns_technique(f: &Failure) -> Technique {
    match f {
        Failure::DnsNxdomain => Technique::DnsNxdomain,
        Failure::DnsServfail => Technique::DnsServfail,
        Failure::DnsRefused => Technique::DnsRefused,
        Failure::DnsNoAnswer => Technique::DnsNoAnswer,
        Failure::DnsMisbehaving => Technique::DnsMalformed,
        Failure::DnsBogon => Technique::DnsBogon,
        // A system resolver's "no data" (getaddrinfo's EAI_NODATA, as Android reports it).
        Failure::Other(s) if s.contains("no_data") => Technique::DnsNoAnswer,
        _ => Technique::DnsTimeout,
    }
}

/// The announced network (embedded table) shared by one of the probe's answers and one of the
/// control's, named for the evidence.
fn same_network(f: &Facts) -> Option<String> {
    let theirs: Vec<u32> = f
        .control_addrs()
        .into_iter()
        .filter_map(|ip| interfero_netdb::lookup(ip).map(|n| n.asn))
        .collect();
    f.addrs.iter().find_map(|a| {
        let n = interfero_netdb::lookup(a.ip)?;
        theirs
            .contains(&n.asn)
            .then(|| format!("{} {}", n.as_label(), n.name))
    })
}

/// A DNS failure that says the resolver was never reached (ICMP unreachable, no route),
/// rather than that it did not answer or answered something.
fn unreached(fl: &Failure) -> bool {
    matches!(
        fl,
        Failure::ConnectionRefused | Failure::HostUnreachable | Failure::NetworkUnreachable
    )
}

/// A plaintext site reached at an address the control did not give, with the control's page:
/// geo-DNS or a CDN, not a lie. Only an address the fetch itself used is vouched for so.
fn plaintext_same_page(f: &Facts) -> bool {
    let (Some(last), Some(c)) = (f.last(), f.control) else {
        return false;
    };
    let used = last
        .address
        .as_deref()
        .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
        .is_some_and(|a| f.addrs.iter().any(|x| x.ip == a.ip()));
    !f.https
        && used
        && last.failure.is_none()
        && last.response.code > 0
        && diff::compare(&last.response, &c.http_request).same_page()
}

/// DNS: a failure, a lie (bogon, hijack) or an injected answer where the control resolves.
pub fn dns(f: &Facts) -> Option<Verdict> {
    if let Some(fl) = f.dns.failure.as_ref().filter(|fl| fl.is_probe_local()) {
        return Some(probe_error("dns", fl));
    }
    if let Some(fl) = f.dns.failure.as_ref().filter(|fl| unreached(fl)) {
        // The resolver itself was not reached (ICMP unreachable, no route): not a query the
        // network left unanswered, so not `dns.timeout`.
        return Some(
            Verdict::new(Status::Inconclusive, 0.5, "dns.resolver_unreachable").because(format!(
                "the resolver could not be asked about {}: {fl} (not a DNS timeout nor an answer)",
                f.host
            )),
        );
    }
    if let Some(fl) = &f.dns.failure {
        let ctl = f.control_addrs();
        return Some(
            Verdict::new(Status::Blocked, 0.9, "dns.failure.control_resolves")
                .with(dns_technique(fl))
                .because(format!("resolver answered {fl} for {}", f.host))
                .because(format!("control resolved {} to {ctl:?}", f.host)),
        );
    }
    if f.addrs.is_empty() || f.addrs.iter().any(consistent) {
        return None;
    }
    let addrs: Vec<String> = f.addrs.iter().map(|a| a.ip.to_string()).collect();
    let ctl = f.control_addrs();
    let base = |rule: &str, conf: f64, t: Technique| {
        Verdict::new(Status::Blocked, conf, rule)
            .with(t)
            .because(format!("resolver gave {addrs:?}; control gave {ctl:?}"))
    };
    // Before any exemption: an unroutable answer the control does not give is a lie whatever
    // page came back (from a box on the local network, say).
    if f.addrs.iter().all(|a| a.bogon) {
        return Some(
            base("dns.bogon.not_in_control", 0.95, Technique::DnsBogon)
                .because("every address is private or reserved and the control does not give it"),
        );
    }
    if plaintext_same_page(f) {
        return None;
    }
    if let Some(inj) = &f.dns.injection {
        return Some(
            base("dns.injection.two_answers", 0.95, Technique::DnsInjection).because(inj.clone()),
        );
    }
    let tls_refutes = f.https
        && f.addrs.iter().any(|a| {
            a.probe_tls
                .is_some_and(|t| t.failure.as_ref().is_some_and(Failure::is_certificate))
        });
    let conf = if tls_refutes || !f.https { 0.9 } else { 0.75 };
    let mut v = base(
        "dns.hijack.not_in_control_no_valid_tls",
        conf,
        Technique::DnsHijack,
    );
    if tls_refutes {
        v.evidence
            .push("TLS on those addresses presents no certificate valid for the name".into());
    } else if let Some(net) = same_network(f) {
        // Weaker corroboration, never proof on its own: the answer may be the operator's own
        // (anycast, per-region addresses); nothing the fetch showed confirms it either way.
        v.confidence = v.confidence.min(0.6);
        v.evidence.push(format!(
            "the answer lies in the same announced network as the control's ({net}): weaker \
             evidence that it is the operator's own address (anycast, per-region), not proof"
        ));
    }
    if f.addrs.iter().any(|a| a.bogon) {
        v.add(Technique::DnsBogon);
    }
    Some(v)
}

fn considered<'f, 'a>(f: &'f Facts<'a>) -> Vec<&'f AddrFacts<'a>> {
    let good: Vec<&AddrFacts> = f.addrs.iter().filter(|a| consistent(a)).collect();
    if good.is_empty() {
        f.addrs.iter().collect()
    } else {
        good
    }
}

pub(crate) fn tcp_technique(f: &Failure) -> Technique {
    match f {
        Failure::Timeout => Technique::TcpTimeout,
        Failure::ConnectionReset => Technique::TcpReset,
        _ => Technique::TcpRefused,
    }
}

/// TCP: every address the site uses fails to connect while the control connects. Addresses
/// of a family the vantage point lacks (run-wide evidence, `family`) are left out: their
/// failures are the vantage point's, not the site's.
pub fn tcp(f: &Facts) -> Option<Verdict> {
    let lacking = crate::family::lacking(f);
    let lacks = |a: &AddrFacts| lacking.iter().any(|(fam, _)| *fam == Family::of(a.ip));
    let all_tried: Vec<&AddrFacts> = considered(f)
        .into_iter()
        .filter(|a| a.probe_tcp.is_some())
        .collect();
    let tried: Vec<&AddrFacts> = all_tried.iter().copied().filter(|a| !lacks(a)).collect();
    if tried.is_empty() && !all_tried.is_empty() {
        let mut v = Verdict::new(Status::Inconclusive, 0.5, "tcp.family_unavailable_here")
            .because("the site's addresses are all of a family the vantage point lacks");
        v.evidence.extend(lacking.into_iter().map(|(_, why)| why));
        return Some(v);
    }
    let failures: Vec<(&AddrFacts, &Failure)> = tried
        .iter()
        .filter_map(|a| {
            a.probe_tcp
                .as_ref()
                .and_then(|r| r.as_ref())
                .map(|fl| (*a, fl))
        })
        .collect();
    if tried.is_empty() || failures.len() < tried.len() {
        return None;
    }
    let mut v = Verdict::new(Status::Blocked, 0.9, "tcp.failure.control_connects");
    for (a, fl) in &failures {
        if a.control_tcp.is_some_and(|c| !c.status) {
            // The control could not connect there either: that address is the site's problem.
            continue;
        }
        v.add(tcp_technique(fl));
        v.evidence.push(format!(
            "connect to {} failed: {fl}; control connected",
            a.endpoint
        ));
    }
    if v.techniques.is_empty() {
        return Some(
            Verdict::new(Status::Down, 0.8, "tcp.failure.control_fails_too")
                .because("neither the probe nor the control could connect to the addresses tried"),
        );
    }
    Some(v)
}

pub(crate) fn tls_technique(f: &Failure) -> Technique {
    match f {
        Failure::Timeout => Technique::TlsTimeout,
        Failure::Eof => Technique::TlsEof,
        _ => Technique::TlsReset,
    }
}

/// TLS: the handshake fails, or shows a certificate the control does not see, on every address.
pub fn tls(f: &Facts) -> Option<Verdict> {
    if !f.https {
        return None;
    }
    let local = |a: &&AddrFacts| {
        a.probe_tls
            .is_some_and(|t| t.failure.as_ref().is_some_and(Failure::is_probe_local))
    };
    let done: Vec<&AddrFacts> = considered(f)
        .into_iter()
        .filter(|a| matches!(a.probe_tcp, Some(None)) && a.probe_tls.is_some())
        .filter(|a| !local(a))
        .collect();
    if done.is_empty() || done.iter().any(|a| a.probe_tls_valid()) {
        return None;
    }
    let control_valid_somewhere = f
        .control
        .is_some_and(|c| c.tls_handshake.values().any(|t| t.status));
    let mut v = Verdict::new(Status::Blocked, 0.9, "tls.failure.control_handshakes");
    let mut site_fault = Vec::new();
    for a in &done {
        let Some(t) = a.probe_tls else { continue };
        let Some(fl) = &t.failure else { continue };
        let control_ok =
            a.control_tls_valid() || (a.control_tls.is_none() && control_valid_somewhere);
        if !control_ok {
            let cf = a
                .control_tls
                .and_then(|c| c.failure.clone())
                .map(|x| x.to_string());
            site_fault.push(format!(
                "{}: probe {fl}, control {}",
                a.endpoint,
                cf.unwrap_or_else(|| "failed".into())
            ));
            continue;
        }
        if fl.is_certificate() {
            v.status = Status::Intercepted;
            v.rules = vec!["tls.certificate_untrusted.control_valid".into()];
            v.confidence = 0.95;
            v.add(Technique::TlsMitm);
            let leaf = t.x_chain.first();
            let top = t.x_chain.last();
            v.evidence.push(format!(
                "{} presented a certificate that fails validation ({fl}) while the control's validates{}{}",
                a.endpoint,
                leaf.map(|c| format!("; leaf {} issued by {} (sha256 {})", c.subject, c.issuer, c.sha256)).unwrap_or_default(),
                top.map(|c| format!("; chain ends at issuer {}", c.issuer)).unwrap_or_default(),
            ));
        } else {
            v.add(tls_technique(fl));
            v.evidence.push(format!(
                "TLS with SNI {} to {} failed after the ClientHello: {fl} ({} bytes from the server); control's handshake succeeded",
                t.server_name,
                a.endpoint,
                t.x_server_bytes.map(|b| b.to_string()).unwrap_or_else(|| "?".into())
            ));
        }
    }
    if v.techniques.is_empty() {
        let mut d = Verdict::new(Status::Down, 0.85, "tls.failure.control_fails_too");
        d.evidence = site_fault;
        return Some(d);
    }
    Some(v)
}

fn http_technique(f: &Failure) -> Technique {
    match f {
        Failure::Timeout => Technique::HttpTimeout,
        Failure::ConnectionReset => Technique::HttpReset,
        _ => Technique::HttpEof,
    }
}

fn hop_host(rt: &HttpRoundTrip) -> String {
    url::Url::parse(&rt.request.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default()
}

/// The step at which a later redirect hop failed, judged like the first hop's steps.
fn hop_technique(f: &Facts, rt: &HttpRoundTrip, fl: &Failure) -> Technique {
    let host = hop_host(rt);
    if host != f.host {
        let dns_failed = f.tk.queries.iter().any(|q| {
            q.hostname.trim_end_matches('.').eq_ignore_ascii_case(&host)
                && q.failure.is_some()
                && q.answers.is_empty()
        }) && !f.tk.queries.iter().any(|q| {
            q.hostname.trim_end_matches('.').eq_ignore_ascii_case(&host) && !q.answers.is_empty()
        });
        if dns_failed || fl.is_dns() {
            return dns_technique(fl);
        }
    }
    if let Some(addr) = &rt.address {
        let ip = addr
            .rsplit_once(':')
            .map(|(h, _)| h.trim_matches(|c| c == '[' || c == ']'))
            .unwrap_or("");
        if f.tk
            .tcp_connect
            .iter()
            .any(|c| c.ip == ip && !c.status.success && c.t0 >= rt.t0)
        {
            return tcp_technique(fl);
        }
        if f.tk
            .tls_handshakes
            .iter()
            .any(|t| &t.address == addr && t.failure.is_some() && t.t0 >= rt.t0)
        {
            return tls_technique(fl);
        }
    }
    http_technique(fl)
}

/// Where a chain that ends on a redirect stopped: the step at which the next hop failed, found
/// in the DNS, TCP and TLS observations for the redirect's host (OONI's own measurements record
/// no request for a hop that failed before HTTP).
fn unfollowed_redirect(f: &Facts, last: &HttpRoundTrip) -> Option<(Technique, String)> {
    if !(300..400).contains(&last.response.code) {
        return None;
    }
    let location = last.response.header("location")?;
    let next = url::Url::parse(&last.request.url)
        .ok()?
        .join(location)
        .ok()?;
    let host = next.host_str()?.to_ascii_lowercase();
    let of_host = |q: &&interfero_model::measurement::DnsQuery| {
        q.hostname.trim_end_matches('.').eq_ignore_ascii_case(&host) && q.engine != "doh"
    };
    let queries: Vec<_> = f.tk.queries.iter().filter(of_host).collect();
    let ips: Vec<String> = queries
        .iter()
        .flat_map(|q| {
            q.answers
                .iter()
                .filter_map(|a| a.addr().map(str::to_string))
        })
        .collect();
    if !queries.is_empty() && ips.is_empty() {
        let fl = queries
            .iter()
            .find_map(|q| q.failure.clone())
            .unwrap_or(Failure::DnsNoAnswer);
        return Some((
            dns_technique(&fl),
            format!("redirect to {next} failed at DNS: {fl}"),
        ));
    }
    let port = next.port_or_known_default().unwrap_or(443);
    let conns: Vec<_> =
        f.tk.tcp_connect
            .iter()
            .filter(|c| c.port == port && ips.contains(&c.ip))
            .collect();
    if !conns.is_empty() && conns.iter().all(|c| !c.status.success) {
        let fl = conns
            .iter()
            .find_map(|c| c.status.failure.clone())
            .unwrap_or(Failure::Timeout);
        return Some((
            tcp_technique(&fl),
            format!("redirect to {next} failed to connect: {fl}"),
        ));
    }
    let tls: Vec<_> =
        f.tk.tls_handshakes
            .iter()
            .filter(|t| t.server_name.eq_ignore_ascii_case(&host))
            .collect();
    if !tls.is_empty() && tls.iter().all(|t| t.failure.is_some()) {
        let fl = tls
            .iter()
            .find_map(|t| t.failure.clone())
            .unwrap_or(Failure::Timeout);
        return Some((
            tls_technique(&fl),
            format!("redirect to {next} failed at TLS: {fl}"),
        ));
    }
    None
}

/// HTTP: the exchange fails, or returns another page than the control's.
pub fn http(f: &Facts, ctx: &Context) -> Option<Verdict> {
    let control = f.control?;
    let Some(last) = f.last() else {
        return Some(match &f.tk.http_experiment_failure {
            Some(fl) if fl.is_probe_local() => probe_error("http", fl),
            Some(fl) => Verdict::new(Status::Blocked, 0.7, "http.failure.control_fetches")
                .with(http_technique(fl))
                .because(format!(
                    "the probe's HTTP step failed: {fl}; the control fetched the page"
                )),
            None => Verdict::new(Status::Inconclusive, 0.5, "http.no_request")
                .because("the probe made no HTTP request, so access cannot be judged"),
        });
    };
    if last.failure.is_none() {
        if let Some((t, why)) = unfollowed_redirect(f, last) {
            return Some(
                Verdict::new(
                    Status::Blocked,
                    0.85,
                    "http.redirect_hop_failed.control_fetches",
                )
                .with(t)
                .because(why)
                .because(format!(
                    "control fetched the final page ({})",
                    control.http_request.status_code
                )),
            );
        }
    }
    if let Some(fl) = last.failure.as_ref().filter(|fl| fl.is_probe_local()) {
        return Some(probe_error("http", fl));
    }
    if let Some(fl) = &last.failure {
        let t = hop_technique(f, last, fl);
        let hops = f.chain.len();
        let mut v = Verdict::new(Status::Blocked, 0.85, "http.failure.control_fetches")
            .with(t)
            .because(format!(
                "fetching {} (hop {hops}) failed: {fl}",
                last.request.url
            ))
            .because(format!(
                "control fetched the page: {} ({} bytes)",
                control.http_request.status_code, control.http_request.body_length
            ));
        v.evidence.extend(crate::throttle::legs_seen(f.tk));
        return Some(v);
    }
    let resp = &last.response;
    let cmp = diff::compare(resp, &control.http_request);
    if cmp.same_page() {
        return None;
    }
    let detail = format!(
        "probe got {} ({} bytes, title {:?}) from {}; control got {} ({} bytes, title {:?})",
        resp.code,
        resp.x_body_length.unwrap_or(0),
        resp.x_title.clone().unwrap_or_default(),
        last.request.url,
        control.http_request.status_code,
        control.http_request.body_length,
        control.http_request.title
    );
    let authenticated = last.request.url.starts_with("https://");
    if authenticated {
        // The page came over TLS valid for the name: whoever holds the site's key wrote it. A
        // known blockpage there is a host or CDN complying with a blocking order; anything else
        // is the site's own doing.
        let blockpage = ctx
            .fingerprints
            .match_http(resp)
            .into_iter()
            .find(|m| !m.is_false_positive() && m.scope != "vbw");
        if let Some(m) = blockpage {
            return Some(
                Verdict::new(Status::Blocked, 0.85, "http.blockpage.authenticated")
                    .with(Technique::HttpBlockpage)
                    .because(detail)
                    .because(format!("the page matches blockpage fingerprint {} though it came over TLS valid for the name: the site's host serves a blockpage here", m.name)),
            );
        }
        if resp.code >= 400 && !cmp.status_match {
            return Some(
                Verdict::new(Status::Down, 0.85, "http.server_side.authenticated")
                    .with(Technique::HttpServerSide)
                    .because(detail)
                    .because("the response came over TLS valid for the name, so the site itself refused this vantage point"),
            );
        }
        return None;
    }
    let matches = ctx.fingerprints.match_http(resp);
    if let Some(m) = matches.iter().find(|m| m.is_false_positive()) {
        return Some(
            Verdict::new(Status::Down, 0.6, "http.diff.known_false_positive")
                .with(Technique::HttpServerSide)
                .because(detail)
                .because(format!(
                    "the page matches {}, a known non-blockpage",
                    m.name
                )),
        );
    }
    if let Some(m) = matches.first() {
        return Some(
            Verdict::new(Status::Blocked, 0.85, "http.blockpage.vague_words_and_diff")
                .with(Technique::HttpBlockpage)
                .because(detail)
                .because(format!("the page matches {} ({} scope)", m.name, m.scope)),
        );
    }
    let why = format!(
        "status match {}, body proportion {:.2}, title match {}",
        cmp.status_match, cmp.body_proportion, cmp.title_match
    );
    if !corroborated(f) {
        // Hosting placeholders, per-visitor pages and load balancers differ from the control's
        // too: a difference alone is what was seen, not proof of interference.
        return Some(
            Verdict::new(Status::Inconclusive, 0.5, "http.diff.uncorroborated")
                .with(Technique::HttpDiff)
                .because(detail)
                .because(why)
                .because(
                    "nothing else corroborates interference (no fingerprint, no DNS, TCP or TLS \
                     inconsistency): not judged blocked",
                ),
        );
    }
    Some(
        Verdict::new(Status::Blocked, 0.7, "http.diff.plaintext")
            .with(Technique::HttpDiff)
            .because(detail)
            .because(why),
    )
}

/// Whether anything besides a plaintext page's difference points at interference: an injected
/// DNS answer, an address the control does not vouch for, a TCP or TLS failure on the way.
fn corroborated(f: &Facts) -> bool {
    f.dns.injection.is_some()
        || f.addrs.iter().any(|a| !consistent(a))
        || f.tk.tcp_connect.iter().any(|c| c.status.failure.is_some())
        || f.tk.tls_handshakes.iter().any(|t| t.failure.is_some())
}
