//! The verdict rules. Each rule reads [`Facts`] and either decides or passes; the order is the
//! order of the network steps, because the first step that fails is what the user met.

use crate::facts::{AddrFacts, Facts};
use crate::fingerprint::Fingerprints;
use crate::throttle;
use crate::trust::StateRoots;
use interfero_model::measurement::{HttpRoundTrip, TestKeys, TlsHandshake};
use interfero_model::{Failure, Status, Technique, Verdict};

/// What the rules need besides the measurement.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Blockpage fingerprints.
    pub fingerprints: &'a Fingerprints,
    /// Known state interception roots.
    pub state_roots: &'a StateRoots,
}

impl Default for Context<'static> {
    fn default() -> Self {
        Context {
            fingerprints: Fingerprints::builtin(),
            state_roots: StateRoots::builtin(),
        }
    }
}

/// Judges one measurement of `input` (a URL) from its observations and control.
pub fn judge(input: &str, tk: &interfero_model::TestKeys, ctx: &Context) -> Verdict {
    let f = Facts::new(input, tk);
    let certain = certain_signals(&f, ctx);
    let judged = crate::family::apply(judge_with_control(&f, ctx), &f);
    let mut v = merge(certain, judged);
    name_state_roots(&mut v, &f, ctx);
    cite_own_state_roots(&mut v, &f, ctx);
    let mut v = crate::reach::apply(v, tk.x_reachability.as_ref(), crate::reach::Own::of(tk));
    v = crate::reach::apply_resolver(v, tk.x_resolver_check.as_ref());
    crate::locate::annotate(&mut v, tk.x_trace.as_ref());
    v
}

/// A certain signal (blockpage fingerprint, known state root, known forged DNS address) holds
/// whatever the control says; it joins an interference verdict and overrides any other.
fn merge(certain: Option<Verdict>, judged: Verdict) -> Verdict {
    let Some(mut c) = certain else { return judged };
    match judged.status {
        Status::Blocked | Status::Intercepted | Status::Throttled => {
            let mut v = judged;
            if c.techniques.contains(&Technique::HttpBlockpage) {
                // The fingerprint explains the difference; a diff beside it says nothing more.
                v.techniques.retain(|t| *t != Technique::HttpDiff);
            }
            for t in c.techniques {
                v.add(t);
            }
            // The certain rule decided; the step rule that agreed follows it.
            c.rules.append(&mut v.rules);
            v.rules = c.rules;
            v.evidence.append(&mut c.evidence);
            v.confidence = v.confidence.max(c.confidence);
            if c.status == Status::Intercepted {
                v.status = Status::Intercepted;
            }
            v
        }
        _ => {
            c.evidence.extend(judged.evidence);
            c
        }
    }
}

fn plaintext(rt: &HttpRoundTrip) -> bool {
    rt.request.url.starts_with("http://")
}

fn certain_signals(f: &Facts, ctx: &Context) -> Option<Verdict> {
    let mut v: Option<Verdict> = None;
    // A page received in the clear may have been written by the network; one received over TLS
    // valid for the name was written by the site, whatever it says.
    for rt in f
        .chain
        .iter()
        .filter(|rt| plaintext(rt) && rt.response.code > 0)
    {
        let matches = ctx.fingerprints.match_http(&rt.response);
        if matches.iter().any(|m| m.is_false_positive()) {
            continue;
        }
        if let Some(m) = matches.iter().find(|m| m.scope != "vbw") {
            let e = format!(
                "{} answered {} matching blockpage fingerprint {} ({} scope, {} on {})",
                rt.request.url, rt.response.code, m.name, m.scope, m.location, m.pattern
            );
            let d = v.get_or_insert_with(|| {
                Verdict::new(Status::Blocked, 0.97, "http.blockpage.fingerprint")
            });
            d.add(Technique::HttpBlockpage);
            d.evidence.push(e);
        }
    }
    let control_addrs = f.control_addrs();
    // A known blocking address that the control also gives is the site's real address (a
    // site on localhost is down, not blocked).
    for a in f.dns.addrs.iter().filter(|a| !control_addrs.contains(a)) {
        if let Some(m) = ctx
            .fingerprints
            .match_dns(&a.to_string())
            .into_iter()
            .next()
        {
            let d = v.get_or_insert_with(|| {
                Verdict::new(Status::Blocked, 0.97, "dns.answer.fingerprint")
            });
            d.add(if crate::addr::is_bogon_for(*a, &f.control_addrs()) {
                Technique::DnsBogon
            } else {
                Technique::DnsHijack
            });
            d.evidence.push(format!(
                "DNS answered {a}, a known blocking address ({})",
                m.name
            ));
        }
    }
    for (t, m) in state_roots(f, ctx).into_iter().filter(|(_, m)| m.by_key) {
        let d = v.get_or_insert_with(|| {
            Verdict::new(Status::Intercepted, 0.99, "tls.chain.known_state_root")
        });
        d.status = Status::Intercepted;
        d.add(Technique::TlsMitm);
        d.evidence.push(root_evidence(t, &m, ctx));
    }
    v
}

/// Handshakes whose chain leads to a known state root, each with whether the control was
/// handed the very same leaf: then the site itself chains to that root (some states also issue
/// certificates to their own sites), and nothing was intercepted.
fn state_root_chains<'a>(
    f: &Facts<'a>,
    ctx: &Context<'a>,
) -> Vec<(&'a TlsHandshake, crate::trust::RootMatch<'a>, bool)> {
    f.tk.tls_handshakes
        .iter()
        .filter_map(|t| Some((t, ctx.state_roots.match_chain(&t.x_chain)?)))
        .map(|(t, m)| {
            let control_leaf = f
                .control
                .and_then(|c| c.tls_handshake.get(&t.address))
                .and_then(|c| c.x_leaf_sha256.as_deref());
            let leaf = t.x_chain.first().map(|c| c.sha256.as_str());
            (t, m, leaf.is_some() && leaf == control_leaf)
        })
        .collect()
}

/// The state-root chains that the control was not handed: possible interception.
fn state_roots<'a>(
    f: &Facts<'a>,
    ctx: &Context<'a>,
) -> Vec<(&'a TlsHandshake, crate::trust::RootMatch<'a>)> {
    state_root_chains(f, ctx)
        .into_iter()
        .filter(|(_, _, own)| !own)
        .map(|(t, m, _)| (t, m))
        .collect()
}

/// Says so when the site's own certificate chains to a listed state root (the control was
/// handed the same leaf): a reader seeing that root should know why it is not interception.
fn cite_own_state_roots(v: &mut Verdict, f: &Facts, ctx: &Context) {
    for (t, m, _) in state_root_chains(f, ctx)
        .into_iter()
        .filter(|(_, _, own)| *own)
    {
        v.evidence.push(format!(
            "TLS to {} for {}: the site's own certificate chains to a listed state root ({}, \
             {}): the control was handed the same leaf, so it was not swapped on the path",
            t.address, t.server_name, m.root.country, m.why
        ));
    }
}

fn root_evidence(t: &TlsHandshake, m: &crate::trust::RootMatch, ctx: &Context) -> String {
    let how = if m.by_key { "by key" } else { "by name only" };
    format!(
        "TLS to {} for {}: {} (state interception root {how}, {} {}, list {})",
        t.address, t.server_name, m.why, m.root.country, m.root.period, ctx.state_roots.version
    )
}

/// A state root matched by name only proves nothing by itself (anyone can write a name into
/// a certificate): it names the root of an interception the rules found, never makes one.
fn name_state_roots(v: &mut Verdict, f: &Facts, ctx: &Context) {
    if v.status != Status::Intercepted || v.rules.iter().any(|r| r == "tls.chain.known_state_root")
    {
        return;
    }
    for (t, m) in state_roots(f, ctx).into_iter().filter(|(_, m)| !m.by_key) {
        if !v.rules.iter().any(|r| r == "tls.chain.state_root_name") {
            v.rules.push("tls.chain.state_root_name".into());
        }
        v.evidence.push(root_evidence(t, &m, ctx));
    }
}

fn control_reached_site(f: &Facts) -> bool {
    f.control
        .is_some_and(|c| c.http_request.failure.is_none() && c.http_request.status_code > 0)
}

fn summary(f: &Facts) -> String {
    match f.last() {
        Some(rt) if rt.failure.is_none() && rt.response.code > 0 => {
            format!("probe fetched {} ({})", rt.request.url, rt.response.code)
        }
        Some(rt) => format!(
            "probe failed at {}: {}",
            rt.request.url,
            rt.failure
                .as_ref()
                .map(Failure::as_str)
                .unwrap_or("no response")
        ),
        None => match &f.dns.failure {
            Some(fl) => format!("probe DNS failed: {fl}"),
            None => "probe made no HTTP request".to_string(),
        },
    }
}

fn judge_with_control(f: &Facts, ctx: &Context) -> Verdict {
    // Registry or resolver: what the zones' own servers say decides before the control's
    // resolver does (it may answer from a cache the registry has since emptied).
    if let Some(v) = crate::delegation::judge(f) {
        return v;
    }
    let mut v = judge_steps(f, ctx);
    crate::delegation::annotate(&mut v, f);
    v
}

fn judge_steps(f: &Facts, ctx: &Context) -> Verdict {
    // A control that refused to measure (its scope forbids the site's addresses) saw nothing:
    // the same as no control, never "the control fails too".
    let refused = f
        .control
        .is_some_and(|c| c.http_request.failure == Some(Failure::DestinationRefused));
    let control = f.control.filter(|_| !refused);
    let Some(control) = control else {
        let why = if refused {
            "the control refused to reach the site's addresses (private or reserved space)".into()
        } else {
            f.tk.control_failure
                .clone()
                .unwrap_or_else(|| "no control".into())
        };
        let mut v = Verdict::new(Status::Inconclusive, 0.5, "control.missing")
            .because(format!("control unavailable: {why}"))
            .because(summary(f));
        // The answers are still classified: what they are needs no control. An address no
        // host can have (multicast, broadcast, unspecified, reserved) is a lie on any network
        // (private ones are not: intranets use them) and explains whatever failed after it.
        let bogon = !f.addrs.is_empty() && f.addrs.iter().all(|a| no_host_has(a.ip));
        if bogon {
            v.add(Technique::DnsBogon);
            v.evidence.push(
                "every DNS answer is an address no host can have (multicast, broadcast, \
                 unspecified or reserved)"
                    .into(),
            );
        } else if let Some(t) = observed_failure(f) {
            // Name what was seen, without claiming that it is interference.
            v.add(t);
        }
        if let Some(inj) = &f.dns.injection {
            v.add(Technique::DnsInjection);
            v.evidence.push(inj.clone());
        }
        return v;
    };
    if !control_reached_site(f) {
        return judge_site_fault(f, control);
    }
    if let Some(v) = crate::steps::dns(f) {
        return v;
    }
    if let Some(v) = crate::steps::tcp(f) {
        return v;
    }
    if let Some(v) = crate::steps::tls(f) {
        return v;
    }
    // Before the HTTP rule: a fetch that timed out because the path was policed is throttled,
    // and the paired transfer is what tells it from a block.
    if let Some(v) = throttle::judge(f.tk) {
        return v;
    }
    if let Some(v) = crate::steps::http(f, ctx) {
        return v;
    }
    let mut v =
        Verdict::new(Status::Accessible, 0.9, "reached.same_as_control").because(summary(f));
    if let Some(inj) = &f.dns.injection {
        v.evidence
            .push(format!("an injected DNS answer lost the race: {inj}"));
    }
    v.evidence.extend(throttle::shared_unevenly(f.tk));
    v.evidence.extend(retried_through(f.tk));
    v
}

/// A handshake cut at once (reset, EOF) followed by one that completed to the same address:
/// the probe retried on a new connection and got through. Said beside the verdict, since a
/// reader who sees the cut should know why it is not a block (a filter cuts every attempt).
fn retried_through(tk: &TestKeys) -> Option<String> {
    let hs = &tk.tls_handshakes;
    let (i, cut) = hs
        .iter()
        .enumerate()
        .find(|(_, h)| matches!(h.failure, Some(Failure::ConnectionReset | Failure::Eof)))?;
    let completed = hs
        .iter()
        .skip(i + 1)
        .any(|h| h.failure.is_none() && h.address == cut.address);
    completed.then(|| {
        format!(
            "the first TLS handshake to {} was cut ({}) and a retry on a new connection \
             completed: a server or path dropping some connections, not a filter on the \
             name, which cuts every attempt",
            cut.address,
            cut.failure.as_ref().map_or("", Failure::as_str)
        )
    })
}

/// An address no host can have, on any network.
fn no_host_has(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            v4.is_multicast() || v4.is_broadcast() || v4.is_unspecified() || v4.octets()[0] >= 240
        }
        std::net::IpAddr::V6(v6) => v6.is_multicast() || v6.is_unspecified(),
    }
}

/// The technique the probe's first failing step would be, if the control had reached the site:
/// named beside an inconclusive verdict without claiming interference. Judged from the
/// probe's own steps: a DNS failure of the network's, every address tried failing to connect,
/// or every handshake on a connected address failing after the ClientHello (a certificate
/// failure names nothing: interception needs the control's valid certificate to be told from
/// a broken site).
fn observed_failure(f: &Facts) -> Option<Technique> {
    use crate::steps::{dns_technique, tcp_technique, tls_technique};
    if let Some(fl) = f.dns.failure.as_ref().filter(|fl| !fl.is_probe_local()) {
        return Some(dns_technique(fl));
    }
    let tried: Vec<_> = f.addrs.iter().filter(|a| a.probe_tcp.is_some()).collect();
    let refused: Vec<&Failure> = tried
        .iter()
        .filter_map(|a| a.probe_tcp.as_ref().and_then(|r| r.as_ref()))
        .collect();
    if !tried.is_empty() && refused.len() == tried.len() {
        return refused.first().map(|fl| tcp_technique(fl));
    }
    if !f.https {
        return None;
    }
    let handshakes: Vec<_> = f
        .addrs
        .iter()
        .filter(|a| matches!(a.probe_tcp, Some(None)))
        .filter_map(|a| a.probe_tls.map(|t| (a, t)))
        .filter(|(_, t)| !t.failure.as_ref().is_some_and(Failure::is_probe_local))
        .collect();
    if handshakes.is_empty() || handshakes.iter().any(|(a, _)| a.probe_tls_valid()) {
        return None;
    }
    let failed: Vec<&Failure> = handshakes
        .iter()
        .filter_map(|(_, t)| t.failure.as_ref())
        .collect();
    if failed.iter().any(|fl| fl.is_certificate()) {
        return None;
    }
    failed.first().map(|fl| tls_technique(fl))
}

/// The control could not fetch the site either.
fn judge_site_fault(f: &Facts, control: &interfero_model::ControlResponse) -> Verdict {
    let cf = control
        .dns
        .failure
        .clone()
        .or_else(|| control.http_request.failure.clone())
        .map(|x| x.to_string())
        .unwrap_or_else(|| "no response".into());
    let probe_ok = f.fetched();
    let control_no_name = matches!(
        control.dns.failure,
        Some(Failure::DnsNxdomain | Failure::DnsNoAnswer)
    );
    if control_no_name && !f.dns.addrs.is_empty() && !f.addrs.iter().any(|a| a.probe_tls_valid()) {
        // A name that does not exist has no addresses: the resolver that gave some lied.
        let addrs: Vec<String> = f.dns.addrs.iter().map(|a| a.to_string()).collect();
        let t = if f.addrs.iter().all(|a| a.bogon) {
            Technique::DnsBogon
        } else {
            Technique::DnsHijack
        };
        return Verdict::new(Status::Blocked, 0.8, "dns.answer_for_nonexistent_name")
            .with(t)
            .because(format!(
                "resolver gave {addrs:?} for a name the control finds does not exist ({cf})"
            ))
            .because(summary(f));
    }
    if !probe_ok {
        return Verdict::new(Status::Down, 0.85, "site.control_fails_too")
            .because(format!("control failed too: {cf}"))
            .because(summary(f));
    }
    let authenticated = f.last().is_some_and(|rt| !plaintext(rt));
    if authenticated {
        Verdict::new(Status::Accessible, 0.7, "reached.tls_valid.control_failed")
            .because(format!(
                "control failed ({cf}) but the probe reached the site over valid TLS"
            ))
            .because(summary(f))
    } else {
        Verdict::new(Status::Inconclusive, 0.5, "control.failed.probe_plaintext")
            .because(format!(
                "control failed ({cf}); a plaintext page cannot be checked"
            ))
            .because(summary(f))
    }
}

/// Whether an address is one the site really uses: the control resolved it, or TLS valid for
/// the name was completed on it (by the probe or by the control), whatever its network.
pub(crate) fn consistent(a: &AddrFacts) -> bool {
    a.in_control_dns || a.probe_tls_valid() || a.control_tls_valid()
}
