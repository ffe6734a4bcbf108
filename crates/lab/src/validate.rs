//! Scenario validation: refuse a scenario that says something the world cannot mean, with the
//! reason, instead of running a world whose ground truth is wrong.

use crate::scenario::{
    duplicates, url_host, Action, AddrFamily, Rule, Scenario, SiteDelegation, SiteKind, VantageIpv6,
};

/// Checks a parsed scenario; the error says what is wrong.
pub fn check(s: &Scenario) -> Result<(), String> {
    if s.loss_pct > 50 {
        return Err(format!("loss_pct {} is above 50", s.loss_pct));
    }
    if s.packet_loss_pct > 20 {
        return Err(format!(
            "packet_loss_pct {} is above 20: no TCP connection would work",
            s.packet_loss_pct
        ));
    }
    if s.jitter_ms > 1000 {
        return Err(format!("jitter_ms {} is above 1000", s.jitter_ms));
    }
    if let Some(d) = duplicates(s.sites.iter().map(|x| x.name.as_str())) {
        return Err(format!("site {d:?} is listed twice"));
    }
    if let Some(d) = duplicates(s.rules.iter().map(|x| x.id.as_str())) {
        return Err(format!("rule id {d:?} is used twice"));
    }
    if let Some(d) = duplicates(s.targets.iter().map(|x| x.name.as_str())) {
        return Err(format!("target name {d:?} is used twice"));
    }
    for svc in &s.services {
        if let Some(e) = svc
            .endpoints
            .iter()
            .find(|e| !s.targets.iter().any(|t| &&t.name == e))
        {
            return Err(format!("service {:?}: no target named {e:?}", svc.name));
        }
        if svc.endpoints.is_empty() {
            return Err(format!("service {:?} lists no endpoints", svc.name));
        }
    }
    // Every other answer of the lab is an address of its own; this one is the only address
    // from outside, so it must be one that no connection can follow off the machine.
    if !(s.bogon_address.is_multicast() || s.bogon_address.is_broadcast()) {
        return Err(format!(
            "bogon_address {} could route off this machine: use a multicast address such as {} \
             (or 255.255.255.255); a TCP connection to those cannot leave it",
            s.bogon_address,
            crate::scenario::DEFAULT_BOGON
        ));
    }
    for site in &s.sites {
        if !is_test_name(&site.name) {
            return Err(format!("site {:?}: lab names must end in .test", site.name));
        }
        if site.kind == SiteKind::Redirect && site.redirect_to.is_none() {
            return Err(format!(
                "site {:?}: kind redirect needs redirect_to",
                site.name
            ));
        }
        if site.delegation != SiteDelegation::Normal {
            let labels = site.name.trim_end_matches('.').split('.').count();
            let shared = s
                .sites
                .iter()
                .any(|o| o.name != site.name && crate::scenario::name_matches(&site.name, &o.name));
            if labels != 2 || shared {
                return Err(format!(
                    "site {:?}: a removed or lame delegation is the registry's, for a \
                     registered domain of its own (two labels, no other site below it)",
                    site.name
                ));
            }
        }
        if let Some(owner) = &site.shares {
            check_shared(s, &site.name, owner)?;
        }
    }
    let addresses = s.address_count();
    // .10 to .250 of each /24 are for sites; a large world spills into the next /24s.
    if addresses > crate::world::MAX_SITE_ADDRESSES {
        return Err(format!(
            "{addresses} site addresses do not fit in the lab's block (max {})",
            crate::world::MAX_SITE_ADDRESSES
        ));
    }
    for rule in &s.rules {
        check_rule(s, rule)?;
    }
    for t in &s.targets {
        let host =
            url_host(&t.url).ok_or_else(|| format!("target {:?}: bad url {:?}", t.name, t.url))?;
        if !(t.url.starts_with("http://") || t.url.starts_with("https://")) || !is_test_name(&host)
        {
            return Err(format!(
                "target {:?}: url must be http(s) on a .test name",
                t.name
            ));
        }
        if let Some(id) = &t.governed_by {
            if !s.rules.iter().any(|r| &r.id == id) {
                return Err(format!(
                    "target {:?}: governed_by unknown rule {id:?}",
                    t.name
                ));
            }
        }
    }
    Ok(())
}

/// A site served at another's address: the owner must be a site of its own address, and both
/// must be served by the one listener the same way.
fn check_shared(s: &Scenario, name: &str, owner: &str) -> Result<(), String> {
    let named = |n: &str| s.sites.iter().find(|x| x.name.eq_ignore_ascii_case(n));
    let (site, o) = (named(name), named(owner));
    let (Some(site), Some(o)) = (site, o) else {
        return Err(format!(
            "site {name:?}: shares {owner:?}, which is not a site"
        ));
    };
    if o.shares.is_some() || o.name.eq_ignore_ascii_case(&site.name) {
        return Err(format!(
            "site {name:?}: shares {owner:?}, which shares another's address itself (name the \
             site that owns the address)"
        ));
    }
    if site.cdn || o.cdn || site.kind == SiteKind::Down || o.kind == SiteKind::Down {
        return Err(format!(
            "site {name:?}: a site sharing an address, and its owner, can be neither cdn nor \
             down (one listener serves both)"
        ));
    }
    if (site.http, site.https, site.ipv6) != (o.http, o.https, o.ipv6) {
        return Err(format!(
            "site {name:?}: http, https and ipv6 must be as on {owner:?}, whose listener serves it"
        ));
    }
    if s.rules.iter().any(|r| {
        r.matcher
            .address
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(name))
    }) {
        return Err(format!(
            "site {name:?}: address rules name the site that owns the address ({owner:?})"
        ));
    }
    Ok(())
}

fn is_test_name(n: &str) -> bool {
    n.ends_with(".test")
        && n.len() > 5
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

fn check_rule(s: &Scenario, r: &Rule) -> Result<(), String> {
    for w in r.active.iter().chain(&r.except) {
        w.span().map_err(|e| format!("rule {:?}: {e}", r.id))?;
    }
    let m = &r.matcher;
    if let Some(a) = &m.address {
        if !s.sites.iter().any(|x| &x.name == a) {
            return Err(format!("rule {:?}: address {a:?} is not a site", r.id));
        }
    }
    use Action::*;
    // Which match keys make sense at the layer where the action happens.
    let ok = match r.action {
        DnsNxdomain | DnsServfail | DnsRefused | DnsNoAnswer | DnsTimeout | DnsBogon
        | DnsHijack | DnsInjection => m.domain.is_some() || m.any,
        TcpDrop | TcpReset | TcpRefuse => m.domain.is_some() || m.address.is_some() || m.any,
        TlsStall | TlsReset | TlsEof | TlsIntercept => {
            m.sni.is_some() || m.address.is_some() || m.any
        }
        HttpBlockpage | HttpRedirect | HttpReplace | HttpReset | HttpTimeout | HttpEof => {
            m.host.is_some() || m.keyword.is_some() || m.address.is_some() || m.any
        }
        Throttle => m.sni.is_some() || m.host.is_some() || m.address.is_some() || m.any,
        Shutdown | DnsDropForeign => m.any,
    };
    if !ok {
        return Err(format!(
            "rule {:?}: its match has no key that {:?} can use",
            r.id, r.action
        ));
    }
    // What a router on the path can do: inject (DNS by name, TLS resets by SNI) or drop TLS
    // to an address (it cannot read names out of packets it must drop before they pass).
    let at_hop_ok = match r.action {
        DnsInjection => m.domain.is_some(),
        TlsReset => m.sni.is_some(),
        TlsStall => m.address.is_some(),
        _ => false,
    };
    if r.at_hop && !at_hop_ok {
        return Err(format!(
            "rule {:?}: at_hop supports dns.injection by domain, tls.reset by sni and tls.stall \
             by address",
            r.id
        ));
    }
    if m.family.is_some()
        && (!matches!(r.action, TcpDrop | TcpReset | TcpRefuse) || m.any || r.at_hop)
    {
        return Err(format!(
            "rule {:?}: family limits tcp.* rules by address or domain (the kernel's \
             nftables), nothing else",
            r.id
        ));
    }
    if s.ipv6 == VantageIpv6::Working {
        // The injectors read and forge IPv4 packets only: over IPv6 the rule would be a drop
        // (tcp.reset) or nothing (tls.reset at the hop), not what the truth says.
        let v4_only = r.action == TcpReset && m.family == Some(AddrFamily::Ipv4);
        if (r.action == TcpReset && !v4_only) || (r.at_hop && r.action == TlsReset) {
            return Err(format!(
                "rule {:?}: the lab's packet injectors speak IPv4 only, so {:?} cannot act \
                 over IPv6 in an ipv6 = \"working\" scenario (limit tcp.reset to family = \
                 \"ipv4\")",
                r.id, r.action
            ));
        }
    }
    if r.action == Throttle && r.rate_kbps.is_none_or(|k| k == 0) {
        return Err(format!("rule {:?}: throttle needs rate_kbps > 0", r.id));
    }
    Ok(())
}
