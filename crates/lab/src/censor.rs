//! The censor's decisions: which in-force rule applies to a DNS query, a ClientHello or an HTTP
//! request from the probe side. Pure functions of the scenario and the scenario clock, so that
//! the ground truth and the behaviour come from the same rules.

use crate::clock::ScenarioTime;
use crate::kind::WorldKind;
use crate::scenario::{name_matches, rule_in_force, Action, Match, Rule, Scenario};

/// The rules the middlebox of world `k` applies at `t`: in force, and neither unsupported in
/// that world nor left to its kernel.
fn live(s: &Scenario, k: WorldKind, t: ScenarioTime) -> impl Iterator<Item = &Rule> {
    s.rules
        .iter()
        .filter(move |r| k.middlebox_applies(r) && rule_in_force(r, t))
}

fn opt_matches(pattern: &Option<String>, name: Option<&str>) -> bool {
    match (pattern, name) {
        (Some(p), Some(n)) => name_matches(p, n),
        _ => false,
    }
}

/// Whether a shutdown rule is in force.
pub fn shutdown(s: &Scenario, k: WorldKind, t: ScenarioTime) -> bool {
    live(s, k, t).any(|r| r.action == Action::Shutdown)
}

/// Whether a shutdown rule is in force, whoever enforces it: the lab then also cuts the
/// probe's channel to the control, as a real shutdown cuts every path abroad.
pub fn shutdown_in_force(s: &Scenario, t: ScenarioTime) -> bool {
    s.rules
        .iter()
        .any(|r| r.action == Action::Shutdown && rule_in_force(r, t))
}

/// Whether the probe's queries to resolvers other than its own are dropped at `t`.
pub fn foreign_dns_dropped(s: &Scenario, k: WorldKind, t: ScenarioTime) -> bool {
    live(s, k, t).any(|r| r.action == Action::DnsDropForeign)
}

/// Whether a router's injector forges answers for `qname` at `t` (kernel world, `at_hop`).
pub fn injected_at_hop(s: &Scenario, k: WorldKind, t: ScenarioTime, qname: &str) -> bool {
    k == WorldKind::Kernel
        && s.rules.iter().any(|r| {
            r.at_hop
                && r.action == Action::DnsInjection
                && rule_in_force(r, t)
                && (r.matcher.any || opt_matches(&r.matcher.domain, Some(qname)))
        })
}

/// Whether a router's injector resets ClientHellos with `sni` at `t` (kernel world, `at_hop`).
pub fn reset_at_hop(s: &Scenario, k: WorldKind, t: ScenarioTime, sni: Option<&str>) -> bool {
    k == WorldKind::Kernel
        && s.rules.iter().any(|r| {
            r.at_hop
                && r.action == Action::TlsReset
                && rule_in_force(r, t)
                && opt_matches(&r.matcher.sni, sni)
        })
}

/// The DNS action of the censored resolver for `qname`.
pub fn dns(s: &Scenario, k: WorldKind, t: ScenarioTime, qname: &str) -> Option<Action> {
    live(s, k, t)
        .filter(|r| is_dns(r.action))
        .find(|r| r.matcher.any || opt_matches(&r.matcher.domain, Some(qname)))
        .map(|r| r.action)
}

/// The TLS action for a ClientHello with `sni` arriving at a listener of `site`.
pub fn tls(
    s: &Scenario,
    k: WorldKind,
    t: ScenarioTime,
    site: &str,
    sni: Option<&str>,
) -> Option<Action> {
    live(s, k, t)
        .filter(|r| {
            matches!(
                r.action,
                Action::TlsStall | Action::TlsReset | Action::TlsEof | Action::TlsIntercept
            )
        })
        .find(|r| {
            let m: &Match = &r.matcher;
            m.any || opt_matches(&m.sni, sni) || opt_matches(&m.address, Some(site))
        })
        .map(|r| r.action)
}

/// The HTTP action for a request for `host` and `path` arriving at a listener of `site`.
pub fn http(
    s: &Scenario,
    k: WorldKind,
    t: ScenarioTime,
    site: &str,
    host: &str,
    path: &str,
) -> Option<Action> {
    live(s, k, t)
        .filter(|r| {
            matches!(
                r.action,
                Action::HttpBlockpage
                    | Action::HttpRedirect
                    | Action::HttpReplace
                    | Action::HttpReset
                    | Action::HttpTimeout
                    | Action::HttpEof
            )
        })
        .find(|r| {
            let m = &r.matcher;
            m.any
                || opt_matches(&m.host, Some(host))
                || opt_matches(&m.address, Some(site))
                || m.keyword
                    .as_ref()
                    .is_some_and(|k| path.to_ascii_lowercase().contains(&k.to_ascii_lowercase()))
        })
        .map(|r| r.action)
}

/// The throttle rate (kbit/s) for a response, matched by SNI, Host or listener.
pub fn throttle(
    s: &Scenario,
    k: WorldKind,
    t: ScenarioTime,
    site: &str,
    sni: Option<&str>,
    host: &str,
) -> Option<u32> {
    live(s, k, t)
        .filter(|r| r.action == Action::Throttle)
        .find(|r| {
            let m = &r.matcher;
            m.any
                || opt_matches(&m.sni, sni)
                || opt_matches(&m.host, Some(host))
                || opt_matches(&m.address, Some(site))
        })
        .and_then(|r| r.rate_kbps)
}

fn is_dns(a: Action) -> bool {
    matches!(
        a,
        Action::DnsNxdomain
            | Action::DnsServfail
            | Action::DnsRefused
            | Action::DnsNoAnswer
            | Action::DnsTimeout
            | Action::DnsBogon
            | Action::DnsHijack
            | Action::DnsInjection
    )
}
