//! Where the censor sits, read from a TTL-limited trace (`interfero_model::trace`).
//!
//! A trace sends the packet that met interference with IP TTL 1, 2, 3 …, and a control packet
//! that triggers nothing the same way. Two readings:
//! - **on-path** (injects): the first TTL at which the censor's reaction (a reset, a forged
//!   DNS answer, a page) comes back, provided the packet provably did not reach the far end
//!   there — a router said it expired at that TTL, or the control reaches the far end only at
//!   a higher TTL. The real answer arriving after the forged one says the same thing again.
//! - **in-path** (drops): no reaction at all, and silence from some TTL to the end of the
//!   sweep, while the control's packet is answered at that TTL (a router's time exceeded or
//!   the far end): the device swallows the trigger there.
//!
//! Anything else — silent routers, a reaction only at the far end, a reaction that comes and
//! goes, no control — is `unknown`: never a wrong hop. Pure; no rule names an address.

use interfero_model::measurement::TestKeys;
use interfero_model::trace::{CensorLocation, HopEvent, Trace, TraceHop, TraceRequest};
use interfero_model::{Status, Technique, Verdict};
use std::collections::BTreeSet;

/// `on-path`.
pub const ON_PATH: &str = "on-path";
/// `in-path`.
pub const IN_PATH: &str = "in-path";
/// `unknown`.
pub const UNKNOWN: &str = "unknown";

const DNS: &[Technique] = &[
    Technique::DnsInjection,
    Technique::DnsHijack,
    Technique::DnsBogon,
    Technique::DnsNxdomain,
    Technique::DnsServfail,
    Technique::DnsRefused,
    Technique::DnsNoAnswer,
    Technique::DnsTimeout,
];
const TLS: &[Technique] = &[
    Technique::TlsReset,
    Technique::TlsTimeout,
    Technique::TlsEof,
];
const HTTP: &[Technique] = &[
    Technique::HttpReset,
    Technique::HttpTimeout,
    Technique::HttpEof,
    Technique::HttpBlockpage,
];

/// Which packet to trace for a verdict, if its interference is of a kind a device on the
/// path causes after a trigger: a DNS query (UDP), a ClientHello, or a plaintext request.
pub fn plan(tk: &TestKeys, v: &Verdict) -> Option<TraceRequest> {
    if v.status != Status::Blocked {
        return None;
    }
    let has = |set: &[Technique]| v.techniques.iter().any(|t| set.contains(t));
    if has(DNS) {
        let q = tk
            .queries
            .iter()
            .find(|q| q.engine == "udp" && !q.resolver_address.is_empty())?;
        return Some(TraceRequest {
            kind: "dns".into(),
            address: q.resolver_address.clone(),
            server_name: q.hostname.trim_end_matches('.').to_string(),
            path: String::new(),
        });
    }
    if has(TLS) {
        let h = tk.tls_handshakes.iter().find(|h| {
            h.failure.as_ref().is_some_and(|f| !f.is_certificate()) && !h.address.is_empty()
        })?;
        return Some(TraceRequest {
            kind: "tls".into(),
            address: h.address.clone(),
            server_name: h.server_name.clone(),
            path: String::new(),
        });
    }
    if has(HTTP) {
        // Only a plaintext request shows its Host to the path; the last of the chain failed.
        let rt = tk.requests.iter().find(|rt| {
            rt.request.url.starts_with("http://")
                && rt.address.as_deref().is_some_and(|a| !a.is_empty())
        })?;
        let url = url::Url::parse(&rt.request.url).ok()?;
        let host = url.host_str()?.to_string();
        let mut path = url.path().to_string();
        if let Some(q) = url.query() {
            path = format!("{path}?{q}");
        }
        return Some(TraceRequest {
            kind: "http".into(),
            address: rt.address.clone()?,
            server_name: host,
            path,
        });
    }
    None
}

/// Whether a router said the packet stopped on the way: time exceeded, or the bare ICMP error
/// a connected TCP socket reports without the router's address.
fn expired(h: &TraceHop) -> bool {
    h.events
        .iter()
        .any(|e| e.kind == "time_exceeded" || e.kind == "icmp_error")
}

/// The first event that is an answer to the trigger rather than ICMP.
fn reaction(h: &TraceHop) -> Option<&HopEvent> {
    h.events.iter().find(|e| {
        matches!(
            e.kind.as_str(),
            "reset" | "eof" | "data" | "dns_answer" | "connected"
        )
    })
}

/// Whether the far end answered at this hop (an answer, and no router said it expired).
fn reached_end(h: &TraceHop) -> bool {
    !expired(h) && reaction(h).is_some()
}

/// The distinct routers that sent time exceeded at this hop.
fn routers(h: &TraceHop) -> BTreeSet<&str> {
    h.events
        .iter()
        .filter(|e| e.kind == "time_exceeded")
        .filter_map(|e| e.from.as_deref())
        .collect()
}

/// The router at `ttl`: from the trigger's hop, else the control's; `None` when none or
/// several answered (load balancing, or something odd: never guess).
fn router_at(t: &Trace, ttl: u8) -> (Option<String>, Option<String>) {
    fn at(hops: &[TraceHop], ttl: u8) -> BTreeSet<&str> {
        hops.iter()
            .find(|h| h.ttl == ttl)
            .map(routers)
            .unwrap_or_default()
    }
    let mut set = at(&t.hops, ttl);
    if set.is_empty() {
        set = at(&t.control, ttl);
    }
    match set.len() {
        0 => (None, None),
        1 => (set.into_iter().next().map(str::to_string), None),
        _ => (
            None,
            Some(format!(
                "several routers answered at hop {ttl}: {}",
                set.into_iter().collect::<Vec<_>>().join(", ")
            )),
        ),
    }
}

fn unknown(reason: impl Into<String>) -> CensorLocation {
    CensorLocation {
        hop: None,
        router: None,
        class: UNKNOWN.into(),
        reason: reason.into(),
    }
}

fn describe(e: &HopEvent) -> String {
    match (e.kind.as_str(), e.detail.as_deref()) {
        ("dns_answer", Some(d)) => format!("a DNS answer ({d})"),
        ("data", Some(d)) => format!("an answer ({d})"),
        ("reset", _) => "a reset".into(),
        ("eof", _) => "a close".into(),
        (k, _) => k.to_string(),
    }
}

/// Reads a trace: the hop where interference begins, the router there, and the device's kind.
pub fn locate(t: &Trace) -> CensorLocation {
    if t.hops.is_empty() {
        return unknown(match &t.failure {
            Some(f) => format!("no trace: {f}"),
            None => "no trace".into(),
        });
    }
    // Hops must be TTL 1, 2, 3 … in order, or the TTL of a hop means nothing.
    let in_order = |hops: &[TraceHop]| {
        hops.iter()
            .enumerate()
            .all(|(i, h)| usize::from(h.ttl) == i + 1)
    };
    if !in_order(&t.hops) || !in_order(&t.control) {
        return unknown("the trace's hops are not TTL 1, 2, 3 … in order");
    }
    let far_end = t.control.iter().find(|h| reached_end(h)).map(|h| h.ttl);
    match t.hops.iter().find(|h| reaction(h).is_some()) {
        Some(first) => injected(t, first, far_end),
        None => dropped(t, far_end),
    }
}

fn injected(t: &Trace, first: &TraceHop, far_end: Option<u8>) -> CensorLocation {
    let r = first.ttl;
    let Some(what) = reaction(first) else {
        return unknown("no reaction");
    };
    let below_end = far_end.is_some_and(|l| r < l);
    if !expired(first) && !below_end {
        let two = t
            .hops
            .iter()
            .any(|h| h.events.iter().filter(|e| e.kind == "dns_answer").count() > 1);
        return CensorLocation {
            class: if two { ON_PATH.into() } else { UNKNOWN.into() },
            reason: format!(
                "{} first comes back at TTL {r}, where the far end is reached: the device is not \
                 separable from the server{}",
                describe(what),
                if two {
                    " (two answers to one query: injected)"
                } else {
                    ""
                }
            ),
            ..unknown("")
        };
    }
    // The reaction must hold further on: one that comes and goes proves nothing.
    if let Some(h) = t
        .hops
        .iter()
        .filter(|h| h.ttl > r && h.failure.is_none())
        .find(|h| reaction(h).is_none())
    {
        return unknown(format!(
            "{} at TTL {r} but not at TTL {}: inconsistent",
            describe(what),
            h.ttl
        ));
    }
    let (router, odd) = router_at(t, r);
    let mut reason = format!("{} at TTL {r}", describe(what));
    if expired(first) {
        reason.push_str(", where the packet itself expired");
    }
    if let Some(l) = far_end {
        reason.push_str(&format!(" (the far end is at TTL {l})"));
    }
    let real_after = t.hops.iter().find(|h| {
        let answers: Vec<&HopEvent> = h.events.iter().filter(|e| e.kind == "dns_answer").collect();
        answers.len() > 1 && answers.windows(2).any(|w| w[0].detail != w[1].detail)
    });
    if let Some(h) = real_after {
        reason.push_str(&format!(
            "; at TTL {} a different answer still arrives after it",
            h.ttl
        ));
    }
    if let Some(o) = odd {
        reason.push_str(&format!("; {o}"));
    }
    CensorLocation {
        hop: Some(r),
        router,
        class: ON_PATH.into(),
        reason,
    }
}

fn dropped(t: &Trace, far_end: Option<u8>) -> CensorLocation {
    let Some(last) = t.hops.last() else {
        return unknown("no trace");
    };
    if !last.events.is_empty() || last.failure.is_some() {
        return unknown(match &last.failure {
            Some(f) => format!("the trace broke off at TTL {}: {f}", last.ttl),
            None => format!(
                "no reaction to the trigger up to TTL {} and no silence: nothing seen on the path",
                last.ttl
            ),
        });
    }
    let silent_from = t
        .hops
        .iter()
        .rev()
        .take_while(|h| h.events.is_empty() && h.failure.is_none())
        .last()
        .map_or(last.ttl, |h| h.ttl);
    let Some(ctl) = t.control.iter().find(|h| h.ttl == silent_from) else {
        return unknown(format!(
            "silence from TTL {silent_from} on, and no control at that TTL"
        ));
    };
    if ctl.events.is_empty() {
        return unknown(format!(
            "silence from TTL {silent_from} on, but the control is silent there too (silent routers)"
        ));
    }
    if reached_end(ctl) || far_end.is_some_and(|l| silent_from >= l) {
        return unknown(format!(
            "silence from TTL {silent_from}, where the far end answers the control: not separable \
             from the server"
        ));
    }
    let (router, odd) = router_at(t, silent_from);
    let before = match silent_from.checked_sub(1).filter(|p| *p > 0) {
        Some(p) => match router_at(t, p) {
            (Some(r), _) => format!(", time-exceeded from hop {p} ({r})"),
            _ => format!(", time-exceeded from hop {p}"),
        },
        None => String::new(),
    };
    let mut reason = format!(
        "silence from hop {silent_from} on{before}; the control's packet is answered at hop {silent_from}{}",
        far_end.map(|l| format!(" and reaches the far end at TTL {l}")).unwrap_or_default()
    );
    if let Some(o) = odd {
        reason.push_str(&format!("; {o}"));
    }
    CensorLocation {
        hop: Some(silent_from),
        router,
        class: IN_PATH.into(),
        reason,
    }
}

/// One line of evidence for a location.
pub fn evidence(loc: &CensorLocation) -> String {
    match loc.hop {
        Some(h) => format!(
            "censor at hop {h}{}, {}: {}",
            loc.router
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            loc.class,
            loc.reason
        ),
        None => format!("censor's hop unknown ({}): {}", loc.class, loc.reason),
    }
}

/// Adds the trace's reading to a verdict of interference (evidence and `x_censor`).
pub fn annotate(v: &mut Verdict, trace: Option<&Trace>) {
    let Some(t) = trace else { return };
    if !matches!(v.status, Status::Blocked) {
        return;
    }
    let loc = locate(t);
    v.evidence.push(evidence(&loc));
    v.x_censor = Some(loc);
}
