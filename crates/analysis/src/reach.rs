//! Reachability: whether the vantage point reached anything when a target failed. A failed site
//! on a connection that reaches nothing is the connection's story (`offline`), not the site's.

use interfero_model::{Failure, Reachability, ResolverCheck, Status, Technique, Verdict};

/// What a reachability check says about the vantage point.
#[derive(Debug, Clone, PartialEq)]
pub enum Connectivity {
    /// No canary was tried: the check says nothing.
    Unknown,
    /// Some canary outside the country answered.
    Online,
    /// Cut off: the verdict to give a failed target, with its rule and evidence.
    Offline(Verdict),
}

/// Judges one reachability check.
pub fn assess(r: &Reachability) -> Connectivity {
    let all = &r.canaries;
    if all.is_empty() {
        return Connectivity::Unknown;
    }
    let answered = |domestic: bool| {
        all.iter()
            .filter(|c| c.domestic == domestic && c.answered)
            .count()
    };
    let abroad = all.iter().filter(|c| !c.domestic).count();
    if answered(false) > 0 || abroad == 0 && answered(true) > 0 {
        return Connectivity::Online;
    }
    // Few canaries leave more room for a coincidence (each down or blocked on its own).
    let confidence = if all.len() >= 3 { 0.9 } else { 0.7 };
    let mut v = if answered(true) > 0 {
        Verdict::new(Status::Offline, confidence, "reachability.domestic_only")
            .with(Technique::Shutdown)
            .because(format!(
                "only domestic canaries answered ({} of {}); none of {abroad} abroad did",
                answered(true),
                all.len() - abroad
            ))
    } else if all
        .iter()
        .all(|c| c.failure == Some(Failure::NetworkUnreachable))
    {
        // The device itself has no route: a local fault, not something done to the network.
        Verdict::new(Status::Offline, confidence, "reachability.no_route")
            .because("every canary failed with network_unreachable: this device has no route")
    } else {
        Verdict::new(Status::Offline, confidence, "reachability.nothing_answers")
            .with(Technique::Shutdown)
            .because(format!("none of {} canaries answered", all.len()))
    };
    let connected = all.iter().filter(|c| c.tcp_connected).count();
    if connected > 0 {
        v.evidence.push(format!(
            "{connected} TCP handshakes completed but no application data came back \
             (something on the path answers SYNs and passes nothing)"
        ));
    }
    for c in all.iter().filter(|c| !c.answered) {
        let why = c
            .failure
            .as_ref()
            .map(Failure::as_str)
            .unwrap_or("no answer");
        v.evidence.push(format!(
            "canary {} {} ({}{}): {why}",
            c.kind,
            c.endpoint,
            c.name,
            if c.domestic { ", domestic" } else { "" }
        ));
    }
    Connectivity::Offline(v)
}

/// Whether a verdict may be replaced by `offline`: only a failure that a cut-off connection
/// explains. A page that arrived (blockpage, interception, a slow transfer) proves the
/// connection carried data, so its verdict stands.
pub fn explained_by_outage(v: &Verdict) -> bool {
    matches!(
        v.status,
        Status::Blocked | Status::Down | Status::Inconclusive
    ) && !v.techniques.iter().any(|t| {
        matches!(
            t,
            Technique::HttpBlockpage | Technique::HttpDiff | Technique::TlsMitm
        )
    })
}

/// Applies the target's reachability check (if one was made) to its verdict.
pub fn apply(v: Verdict, r: Option<&Reachability>) -> Verdict {
    let Some(r) = r else { return v };
    match assess(r) {
        Connectivity::Unknown => v,
        Connectivity::Online => {
            let mut v = v;
            if v.status != Status::Accessible {
                let n = r.canaries.iter().filter(|c| c.answered).count();
                v.evidence.push(format!(
                    "{n} of {} canaries answered at {}: the vantage point was online",
                    r.canaries.len(),
                    r.measured_at
                ));
            }
            v
        }
        Connectivity::Offline(mut off) if explained_by_outage(&v) => {
            off.evidence.push(format!(
                "check at {}; what the target itself saw: {}",
                r.measured_at,
                v.evidence.first().map(String::as_str).unwrap_or("-")
            ));
            off
        }
        Connectivity::Offline(_) => v,
    }
}

/// Whether a verdict rests on the target's DNS step failing (the name did not resolve).
fn rests_on_dns_failure(v: &Verdict) -> bool {
    v.techniques.iter().any(|t| {
        matches!(
            t,
            Technique::DnsTimeout
                | Technique::DnsRefused
                | Technique::DnsServfail
                | Technique::DnsNoAnswer
                | Technique::DnsNxdomain
        )
    })
}

/// Applies the check of the configured resolver (if one was made): when the resolver answered
/// no question at all, the target's DNS failure is the resolver's, a local fault (a dead,
/// mistyped or stopped resolver), and nothing is judged blocked on DNS. An `offline` verdict
/// (nothing reachable at all) stands: it already says the fault is not the site's.
pub fn apply_resolver(v: Verdict, check: Option<&ResolverCheck>) -> Verdict {
    let Some(c) = check.filter(|c| !c.answered) else {
        return v;
    };
    if v.status == Status::Offline || !rests_on_dns_failure(&v) {
        return v;
    }
    let how = match (&c.rcode, &c.failure) {
        (Some(rcode), _) => format!("answered {rcode}"),
        (None, Some(f)) => format!("no answer: {}", f.as_str()),
        (None, None) => "no answer".into(),
    };
    let mut out =
        Verdict::new(Status::Inconclusive, 0.9, "dns.resolver_unresponsive").because(format!(
            "the configured resolver does not work: asked `{}` (which every resolver answers) at \
             {}, {how}; a local fault (a dead, mistyped or stopped resolver), not DNS blocking: \
             check --resolver",
            c.question, c.measured_at
        ));
    out.evidence.push(format!(
        "what the target itself saw: {}",
        v.evidence.first().map(String::as_str).unwrap_or("-")
    ));
    out
}
