//! The benchmark world: `N` targets (default 2,275, the Kazakh + global test lists) with a
//! realistic mix — about 15% blocked by the techniques the userspace world emulates, some slow
//! sites, some down — behind a round-trip time the lab adds itself (`rtt.rs`). It is an ordinary
//! [`Scenario`], so the ground truth of every target comes with it and `score` applies.
//!
//! Each site has its own loopback address (the world spills from its /24 into the next ones);
//! names are neutral (`siteNNNN.test`) and the kinds are spread through the list by a fixed
//! permutation, so the run order is the same on every machine and mixes kinds as a real list does.

use crate::scenario::Action;
use crate::scenario::{Match, Rule, Scenario, Site, SiteDns, SiteKind, TargetSpec};
use crate::world::{HTTPS_PORT, HTTP_PORT};
use interfero_model::{Status, Technique};

/// The size of the Kazakh (553) plus global (1,722) Citizen Lab lists.
pub const DEFAULT_TARGETS: usize = 2_275;
/// A realistic round trip for a probe reaching sites abroad.
pub const DEFAULT_RTT_MS: u32 = 50;
/// Server time of a `slow` site before each response, for everyone.
pub const SLOW_SERVER_TIME: std::time::Duration = crate::conn::SLOW_SERVER_TIME;
/// Body of a `large` benchmark site.
const LARGE_SIZE: usize = 256 * 1024;

/// What a benchmark target is: enough to derive its ground truth and its critical path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Static page over HTTPS.
    Https,
    /// Static page over plain HTTP.
    Http,
    /// A page whose tokens and length change per request.
    Dynamic,
    /// 200 ms of server time before each response, for everyone.
    Slow,
    /// Each resolver answers another address, both serving the site.
    Cdn,
    /// A 256 KiB page.
    Large,
    /// `http://` that redirects to an `https://` landing site.
    Redirect,
    /// Nothing listens: refused for everyone.
    DownRefused,
    /// The name exists at neither resolver.
    DownNxdomain,
    /// The censor never answers the ClientHello.
    TlsStall,
    /// The censor resets after the ClientHello.
    TlsReset,
    /// The censor closes after the ClientHello.
    TlsEof,
    /// The censor completes TLS with its own CA.
    TlsIntercept,
    /// The censored resolver says NXDOMAIN.
    DnsNxdomain,
    /// The censored resolver says SERVFAIL.
    DnsServfail,
    /// The censored resolver says REFUSED.
    DnsRefused,
    /// The censored resolver answers NOERROR with no record.
    DnsNoAnswer,
    /// The censored resolver drops the query.
    DnsTimeout,
    /// The censored resolver answers the blockpage server's address.
    DnsHijack,
    /// A forged answer arrives first, the true one after it.
    DnsInjection,
    /// `http://` answered by the censor's blockpage.
    HttpBlockpage,
    /// `http://` redirected to the censor's blockpage server.
    HttpRedirect,
    /// `http://` reset after the request.
    HttpReset,
    /// `http://` request never answered.
    HttpTimeout,
    /// Hostile: a 200 whose body never ends, for everyone.
    Endless,
    /// Hostile: a body dripped at one byte per second, for everyone.
    Drip,
}

/// The mix, in targets per thousand (sums to 1000): 80% honest, 5% down, 15% blocked, with the
/// Kazakh pattern (TLS stall after the ClientHello) the most common block. `dns.bogon` is left
/// out on purpose: its private answer would send the probe's connects off loopback.
pub const MIX: &[(Kind, u32)] = &[
    (Kind::Http, 60),
    (Kind::Dynamic, 40),
    (Kind::Slow, 30),
    (Kind::Cdn, 20),
    (Kind::Large, 10),
    (Kind::Redirect, 20),
    (Kind::DownRefused, 30),
    (Kind::DownNxdomain, 20),
    (Kind::TlsStall, 58),
    (Kind::TlsReset, 15),
    (Kind::TlsEof, 5),
    (Kind::TlsIntercept, 5),
    (Kind::DnsNxdomain, 15),
    (Kind::DnsServfail, 5),
    (Kind::DnsRefused, 3),
    (Kind::DnsNoAnswer, 2),
    (Kind::DnsTimeout, 5),
    (Kind::DnsHijack, 10),
    (Kind::DnsInjection, 5),
    (Kind::HttpBlockpage, 10),
    (Kind::HttpRedirect, 5),
    (Kind::HttpReset, 5),
    (Kind::HttpTimeout, 2),
    // Last: it absorbs the rounding of the other quotas.
    (Kind::Https, 620),
];

impl Kind {
    /// The expected verdict: status and techniques.
    pub fn truth(self) -> (Status, Vec<Technique>) {
        use Kind::*;
        let blocked = |t| (Status::Blocked, vec![t]);
        match self {
            // Both sides cap the endless body and see the same page.
            Https | Http | Dynamic | Slow | Cdn | Large | Redirect | Endless => {
                (Status::Accessible, Vec::new())
            }
            // Both sides time out on the drip: the site's fault.
            DownRefused | DownNxdomain | Drip => (Status::Down, Vec::new()),
            TlsStall => blocked(Technique::TlsTimeout),
            TlsReset => blocked(Technique::TlsReset),
            TlsEof => blocked(Technique::TlsEof),
            TlsIntercept => (Status::Intercepted, vec![Technique::TlsMitm]),
            DnsNxdomain => blocked(Technique::DnsNxdomain),
            DnsServfail => blocked(Technique::DnsServfail),
            DnsRefused => blocked(Technique::DnsRefused),
            DnsNoAnswer => blocked(Technique::DnsNoAnswer),
            DnsTimeout => blocked(Technique::DnsTimeout),
            DnsHijack => blocked(Technique::DnsHijack),
            DnsInjection => blocked(Technique::DnsInjection),
            HttpBlockpage | HttpRedirect => blocked(Technique::HttpBlockpage),
            HttpReset => blocked(Technique::HttpReset),
            HttpTimeout => blocked(Technique::HttpTimeout),
        }
    }

    /// Whether the target URL is plain HTTP.
    pub fn plain_http(self) -> bool {
        use Kind::*;
        matches!(
            self,
            Http | Redirect | HttpBlockpage | HttpRedirect | HttpReset | HttpTimeout
        )
    }

    /// The censor's action, for blocked kinds.
    fn action(self) -> Option<Action> {
        use Kind::*;
        Some(match self {
            TlsStall => Action::TlsStall,
            TlsReset => Action::TlsReset,
            TlsEof => Action::TlsEof,
            TlsIntercept => Action::TlsIntercept,
            DnsNxdomain => Action::DnsNxdomain,
            DnsServfail => Action::DnsServfail,
            DnsRefused => Action::DnsRefused,
            DnsNoAnswer => Action::DnsNoAnswer,
            DnsTimeout => Action::DnsTimeout,
            DnsHijack => Action::DnsHijack,
            DnsInjection => Action::DnsInjection,
            HttpBlockpage => Action::HttpBlockpage,
            HttpRedirect => Action::HttpRedirect,
            HttpReset => Action::HttpReset,
            HttpTimeout => Action::HttpTimeout,
            _ => return None,
        })
    }
}

/// The benchmark world: its scenario and the kind of every target (same order as targets).
#[derive(Debug, Clone)]
pub struct BenchWorld {
    /// The scenario to start a `World` from.
    pub scenario: Scenario,
    /// `(url, kind)` of every target.
    pub kinds: Vec<(String, Kind)>,
}

/// The kind of the `i`-th of `n` targets: the mix's quotas laid out in order, then spread by
/// a fixed permutation so that every stretch of the list has the mix.
pub fn kind_of(i: usize, n: usize) -> Kind {
    let slot = spread(i, n);
    // Position `slot` of the quotas laid end to end (largest-remainder rounding per kind).
    let mut start = 0usize;
    for (idx, (kind, per_mille)) in MIX.iter().enumerate() {
        let end = if idx + 1 == MIX.len() {
            n
        } else {
            start + (n * *per_mille as usize + 500) / 1000
        };
        if slot < end.min(n) {
            return *kind;
        }
        start = end;
    }
    Kind::Https
}

/// A permutation of `0..n`: multiplication by a constant coprime with `n`.
fn spread(i: usize, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let mut a = 7919usize; // a prime: coprime with n unless n is a multiple of it
    while gcd(a, n) != 1 {
        a += 2;
    }
    (i.wrapping_mul(a)) % n
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The hostile world: `n` HTTPS sites, half with an endless body, half dripping one byte a
/// second, for everyone. What it checks is that memory and time stay within per-target bounds.
pub fn hostile_world(n: usize, rtt_ms: u32) -> BenchWorld {
    let kinds = (0..n).map(|i| {
        if i % 2 == 0 {
            Kind::Endless
        } else {
            Kind::Drip
        }
    });
    build("bench-hostile", kinds.collect(), rtt_ms)
}

/// Generates the benchmark world of `n` targets behind `rtt_ms`.
pub fn world(n: usize, rtt_ms: u32) -> BenchWorld {
    build("bench", (0..n).map(|i| kind_of(i, n)).collect(), rtt_ms)
}

fn build(name: &str, list: Vec<Kind>, rtt_ms: u32) -> BenchWorld {
    let n = list.len();
    let mut s = Scenario {
        name: name.into(),
        description: format!("{n} targets, {rtt_ms} ms round trip, the benchmark mix"),
        bogon_address: crate::scenario::DEFAULT_BOGON,
        sites: Vec::new(),
        rules: Vec::new(),
        targets: Vec::new(),
        control: true,
        services: Vec::new(),
        rtt_ms,
        loss_pct: 0,
        jitter_ms: 0,
        packet_loss_pct: 0,
        ipv6: Default::default(),
    };
    let mut kinds = Vec::with_capacity(n);
    for (i, kind) in list.into_iter().enumerate() {
        let name = format!("site{i:04}.test");
        let mut site = Site {
            name: name.clone(),
            kind: SiteKind::Static,
            title: Some(format!("Site {i}")),
            http: true,
            https: true,
            cert: Default::default(),
            redirect_to: None,
            size: None,
            cdn: kind == Kind::Cdn,
            dns: SiteDns::Normal,
            uplink_kbps: None,
            close_notify: true,
            unknown_sni: Default::default(),
            pages: Vec::new(),
            delegation: Default::default(),
            ipv6: false,
            shares: None,
        };
        match kind {
            Kind::Dynamic => site.kind = SiteKind::Dynamic,
            Kind::Slow => site.kind = SiteKind::Slow,
            Kind::Endless => site.kind = SiteKind::Endless,
            Kind::Drip => site.kind = SiteKind::Drip,
            Kind::Large => {
                site.kind = SiteKind::Large;
                site.size = Some(LARGE_SIZE);
            }
            Kind::DownRefused => site.kind = SiteKind::Down,
            Kind::DownNxdomain => site.dns = SiteDns::Absent,
            Kind::Redirect => {
                let landing = format!("land{i:04}.test");
                site.kind = SiteKind::Redirect;
                site.redirect_to = Some(format!("https://{landing}:{HTTPS_PORT}/"));
                s.sites.push(Site {
                    name: landing,
                    redirect_to: None,
                    cdn: false,
                    kind: SiteKind::Static,
                    ..site.clone()
                });
            }
            _ => {}
        }
        s.sites.push(site);
        if let Some(action) = kind.action() {
            s.rules.push(rule(i, &name, kind, action));
        }
        let url = if kind.plain_http() {
            format!("http://{name}:{HTTP_PORT}/")
        } else {
            format!("https://{name}:{HTTPS_PORT}/")
        };
        let (status, techniques) = kind.truth();
        s.targets.push(TargetSpec {
            name: format!("t{i:04}"),
            url: url.clone(),
            status,
            techniques,
            accept: Vec::new(),
            governed_by: None,
            note: Some(format!("{kind:?}")),
            locate: None,
        });
        kinds.push((url, kind));
    }
    BenchWorld { scenario: s, kinds }
}

fn rule(i: usize, name: &str, kind: Kind, action: Action) -> Rule {
    let mut m = Match::default();
    let name = Some(name.to_string());
    match kind {
        Kind::TlsStall | Kind::TlsReset | Kind::TlsEof | Kind::TlsIntercept => m.sni = name,
        Kind::HttpBlockpage | Kind::HttpRedirect | Kind::HttpReset | Kind::HttpTimeout => {
            m.host = name
        }
        _ => m.domain = name,
    }
    Rule {
        id: format!("r{i:04}"),
        matcher: m,
        action,
        rate_kbps: None,
        active: Vec::new(),
        except: Vec::new(),
        at_hop: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn mix_sums_to_a_thousand() {
        assert_eq!(MIX.iter().map(|(_, w)| w).sum::<u32>(), 1000);
    }

    #[test]
    fn default_world_has_the_mix_and_validates() {
        let w = world(DEFAULT_TARGETS, DEFAULT_RTT_MS);
        assert_eq!(w.kinds.len(), DEFAULT_TARGETS);
        let mut count: HashMap<Kind, usize> = HashMap::new();
        for (_, k) in &w.kinds {
            *count.entry(*k).or_default() += 1;
        }
        for (k, per_mille) in MIX {
            let expect = DEFAULT_TARGETS * *per_mille as usize / 1000;
            let got = count.get(k).copied().unwrap_or(0);
            let slack = if *k == Kind::Https { 12 } else { 1 };
            assert!(got.abs_diff(expect) <= slack, "{k:?}: {got} vs {expect}");
        }
        let blocked = w
            .kinds
            .iter()
            .filter(|(_, k)| k.truth().0 != Status::Accessible && k.truth().0 != Status::Down)
            .count();
        assert!((300..=380).contains(&blocked), "{blocked} blocked");
        // The generated TOML round-trips through validation (a world can start from it).
        let text = toml::to_string(&w.scenario).unwrap();
        let back = Scenario::parse(&text).unwrap();
        assert_eq!(back.targets.len(), DEFAULT_TARGETS);
        assert_eq!(back.rtt_ms, DEFAULT_RTT_MS);
    }

    #[test]
    fn kinds_are_spread_through_the_list() {
        // Every stretch of 200 targets has blocked and honest ones.
        let n = DEFAULT_TARGETS;
        for chunk in (0..n).collect::<Vec<_>>().chunks(200) {
            let ks: Vec<Kind> = chunk.iter().map(|i| kind_of(*i, n)).collect();
            assert!(ks.contains(&Kind::TlsStall));
            assert!(ks.contains(&Kind::Https));
        }
        assert_eq!(kind_of(0, 1), Kind::Https);
    }
}
