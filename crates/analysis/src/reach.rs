//! Reachability: whether the vantage point reached anything when a target failed. A failed site
//! on a connection that reaches nothing is the connection's story (`offline`), not the site's.

use interfero_model::{
    Failure, Reachability, ResolverCheck, RunEvidence, Status, Technique, TestKeys, Verdict,
};

/// What the failed target's own record says about the path, besides the check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Own {
    /// The control answered this target's request (`Some(true)`), failed (`Some(false)`), or
    /// none was asked.
    pub control: Option<bool>,
    /// The configured resolver answered its check, when one was made.
    pub resolver: Option<bool>,
}

impl Own {
    /// Reads the target's own evidence from its observations.
    pub fn of(tk: &TestKeys) -> Own {
        Own {
            control: if tk.control.is_some() {
                Some(true)
            } else {
                tk.control_failure.as_ref().map(|_| false)
            },
            resolver: tk.x_resolver_check.as_ref().map(|c| c.answered),
        }
    }
}

/// What a reachability check says about the vantage point.
#[derive(Debug, Clone, PartialEq)]
pub enum Connectivity {
    /// The evidence does not decide (no canary and too little else, or only the canaries
    /// silent): the target's own verdict stands; the lines say why.
    Unknown(Vec<String>),
    /// Something beyond the vantage point answered in the window: the lines say what.
    Online(Vec<String>),
    /// Cut off: the verdict to give a failed target, with its rule and evidence.
    Offline(Verdict),
}

/// Judges one reachability check with the target's own evidence. `offline` needs positive
/// evidence that nothing beyond the vantage point answered: an answer from the control, another
/// target or a canary abroad proves the path carried data; silent canaries alone never make a
/// shutdown (censors and firewalls block exactly those resolvers), they need another silent
/// source beside them (the control, the resolver, the run's other targets); without canaries,
/// the control and the resolver must both be silent, with no target answering.
pub fn assess(r: &Reachability, own: Own) -> Connectivity {
    let all = &r.canaries;
    let run = r.run.clone().unwrap_or_default();
    let answered = |domestic: bool| {
        all.iter()
            .filter(|c| c.domestic == domestic && c.answered)
            .count()
    };
    let abroad = all.iter().filter(|c| !c.domestic).count();
    let window = if r.run.is_some() {
        format!(" in the {:.1} s window", run.window_s)
    } else {
        String::new()
    };
    let mut online = Vec::new();
    if own.control == Some(true) {
        online.push(
            "the control answered this target's own request: the path to it carried data".into(),
        );
    }
    if run.control_answered > 0 {
        online.push(format!(
            "the control answered {} request(s) of other targets{window}",
            run.control_answered
        ));
    }
    if run.targets_answered > 0 {
        online.push(format!(
            "{} other target(s) of the run got data (a TLS handshake or an HTTP response){window}",
            run.targets_answered
        ));
    }
    if answered(false) > 0 || abroad == 0 && answered(true) > 0 {
        online.push(format!(
            "{} of {} canaries answered at {}",
            all.iter().filter(|c| c.answered).count(),
            all.len(),
            r.measured_at
        ));
    }
    if !online.is_empty() {
        return Connectivity::Online(online);
    }
    // Every source that stayed silent, each independent of the others.
    let mut silent: Vec<String> = Vec::new();
    let canaries_silent = abroad > 0;
    if canaries_silent {
        silent.push(format!("canaries: none of {abroad} abroad answered"));
    }
    let control_silent = own.control == Some(false) || run.control_failed > 0;
    if control_silent {
        silent.push(format!(
            "control: {} request(s) failed, none answered{window}",
            usize::from(own.control == Some(false)) + run.control_failed
        ));
    }
    let resolver_silent = own.resolver == Some(false);
    if resolver_silent {
        silent.push("resolver: the configured resolver answered nothing".into());
    }
    if run.targets_failed > 0 {
        silent.push(format!(
            "targets: {} other target(s) got no data{window}",
            run.targets_failed
        ));
    }
    let decided = if all.is_empty() {
        control_silent && resolver_silent
    } else {
        canaries_silent && silent.len() >= 2
    };
    if !decided {
        let mut why = Vec::new();
        if canaries_silent {
            why.push(format!(
                "no canary abroad answered, but nothing else of the run confirms a cut (the \
                 canaries themselves may be blocked): not judged offline ({})",
                silent.join("; ")
            ));
        }
        return Connectivity::Unknown(why);
    }
    let mut confidence = if silent.len() >= 3 { 0.9 } else { 0.8 };
    if !all.is_empty() && all.len() < 3 {
        // Few canaries leave more room for a coincidence (each down or blocked on its own).
        confidence = 0.7_f64.min(confidence);
    }
    let mut v = if answered(true) > 0 {
        Verdict::new(Status::Offline, confidence, "reachability.domestic_only")
            .with(Technique::Shutdown)
            .because(format!(
                "only domestic canaries answered ({} of {}); none of {abroad} abroad did",
                answered(true),
                all.len() - abroad
            ))
    } else if !all.is_empty()
        && all
            .iter()
            .all(|c| c.failure == Some(Failure::NetworkUnreachable))
    {
        // The device itself has no route: a local fault, not something done to the network.
        Verdict::new(Status::Offline, confidence, "reachability.no_route")
            .because("every canary failed with network_unreachable: this device has no route")
    } else {
        Verdict::new(Status::Offline, confidence, "reachability.nothing_answers")
            .with(Technique::Shutdown)
            .because(format!(
                "nothing beyond the vantage point answered: {} independent sources silent",
                silent.len()
            ))
    };
    v.evidence
        .push(format!("decided by: {}", silent.join("; ")));
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

/// Applies the target's reachability check (if one was made) to its verdict, with the
/// target's own evidence (its control answer, its resolver check).
pub fn apply(v: Verdict, r: Option<&Reachability>, own: Own) -> Verdict {
    let Some(r) = r else { return v };
    match assess(r, own) {
        Connectivity::Unknown(why) => {
            let mut v = v;
            if v.status != Status::Accessible {
                v.evidence.extend(why);
            }
            v
        }
        Connectivity::Online(why) => {
            let mut v = v;
            if v.status != Status::Accessible {
                v.evidence
                    .push(format!("the vantage point was online: {}", why.join("; ")));
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

/// The run evidence of a window, for callers that build one (kept here so that the rule and
/// the evidence it reads stay together).
pub fn run_evidence(
    window_s: f64,
    others: impl IntoIterator<Item = (Option<bool>, bool)>,
) -> RunEvidence {
    let mut e = RunEvidence {
        window_s,
        ..RunEvidence::default()
    };
    for (control, answered) in others {
        match control {
            Some(true) => e.control_answered += 1,
            Some(false) => e.control_failed += 1,
            None => {}
        }
        if answered {
            e.targets_answered += 1;
        } else {
            e.targets_failed += 1;
        }
    }
    e
}

/// Whether a target's observations show data from beyond the vantage point: a finished TLS
/// handshake or an HTTP response.
pub fn got_data(tk: &TestKeys) -> bool {
    tk.tls_handshakes.iter().any(|h| h.failure.is_none())
        || tk.requests.iter().any(|r| r.response.code != 0)
}

/// Whether a verdict rests on the target's DNS step failing (the name did not resolve).
fn rests_on_dns_failure(v: &Verdict) -> bool {
    v.rules
        .first()
        .is_some_and(|r| r == "dns.resolver_unreachable")
        || v.techniques.iter().any(|t| {
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
