//! Scenarios: the TOML description of a censored world (sites, censor rules, expected verdicts).
//! The format is documented in `scenarios/README.md`.

pub use crate::action::Action;
use crate::clock::{ScenarioTime, Span, Window};
use crate::kind::WorldKind;
use crate::LabError;
use interfero_model::{Status, Technique};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::Path;

/// The built-in scenarios, embedded so that the binary is self-contained.
const BUILTIN: &[(&str, &str)] = &[
    ("suite", include_str!("../scenarios/suite.toml")),
    ("kz-demo", include_str!("../scenarios/kz-demo.toml")),
    ("kz-shutdown", include_str!("../scenarios/kz-shutdown.toml")),
    ("kz-watch", include_str!("../scenarios/kz-watch.toml")),
    ("kz-archive", include_str!("../scenarios/kz-archive.toml")),
    (
        "throttle-sweep",
        include_str!("../scenarios/throttle-sweep.toml"),
    ),
    ("services", include_str!("../scenarios/services.toml")),
    ("locate", include_str!("../scenarios/locate.toml")),
    (
        "failed-control",
        include_str!("../scenarios/failed-control.toml"),
    ),
    (
        "canaries-blocked",
        include_str!("../scenarios/canaries-blocked.toml"),
    ),
    (
        "dns-firewall",
        include_str!("../scenarios/dns-firewall.toml"),
    ),
    ("cdn-quirks", include_str!("../scenarios/cdn-quirks.toml")),
    ("lossy-slow", include_str!("../scenarios/lossy-slow.toml")),
    (
        "shared-address",
        include_str!("../scenarios/shared-address.toml"),
    ),
    ("registry", include_str!("../scenarios/registry.toml")),
    ("ipv6-broken", include_str!("../scenarios/ipv6-broken.toml")),
    ("ipv6-absent", include_str!("../scenarios/ipv6-absent.toml")),
    (
        "ipv6-working",
        include_str!("../scenarios/ipv6-working.toml"),
    ),
];

/// A parsed and validated scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name (`suite`).
    pub name: String,
    /// What the scenario shows.
    #[serde(default)]
    pub description: String,
    /// The reserved address that `dns.bogon` answers: multicast or broadcast, so that no
    /// connection to it can leave the machine even without the lab probe's guard.
    #[serde(default = "default_bogon")]
    pub bogon_address: Ipv4Addr,
    /// The sites of the world.
    #[serde(default)]
    pub sites: Vec<Site>,
    /// The censor's rules, first match wins within a layer.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// What to measure, with the ground truth.
    #[serde(default)]
    pub targets: Vec<TargetSpec>,
    /// Whether the probe gets a working control (`false`: it is pointed at a dead one).
    #[serde(default = "yes")]
    pub control: bool,
    /// Services (a messenger, a video site) made of several targets, judged as a whole.
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    /// Round-trip time the world adds to every exchange, in milliseconds (0: loopback speed).
    /// Loopback has no latency and netem is absent, so the lab paces its own answers
    /// (`rtt.rs`): DNS replies, a connection's first server bytes, each later response.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rtt_ms: u32,
    /// Share of the probe's DNS datagrams lost on the way (percent, at most 50): every
    /// `100 / loss_pct`-th one, starting with the first, so runs repeat exactly.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub loss_pct: u32,
    /// Jitter on top of `rtt_ms`, in milliseconds: each paced exchange waits the round trip
    /// plus a share of this drawn from a fixed sequence (so runs repeat exactly).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub jitter_ms: u32,
    /// Share of every packet lost in the censor's router, each way (percent, at most 20):
    /// TCP segments, handshakes and datagrams alike, drawn at random by the kernel. Only the
    /// kernel world can lose packets (loopback cannot); the userspace world refuses it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub packet_loss_pct: u32,
    /// The vantage point's IPv6: `none` (default: no name has an AAAA record), `broken`
    /// (sites with `ipv6 = true` answer AAAA, every IPv6 connect of the probe fails: refused
    /// on loopback, unanswered in the kernel world) or `absent` (no IPv6 route at the probe:
    /// network unreachable at once; kernel world only) or `working` (IPv6 routed end to end
    /// to listeners on the sites' IPv6 addresses; kernel world only).
    #[serde(default, skip_serializing_if = "VantageIpv6::is_none")]
    pub ipv6: VantageIpv6,
}

/// What IPv6 is like at the lab's vantage point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VantageIpv6 {
    /// No AAAA records anywhere (every scenario before IPv6 was exercised).
    #[default]
    None,
    /// AAAA records exist; every IPv6 connect of the probe fails (timeouts or unreachable).
    Broken,
    /// AAAA records exist; the probe has no IPv6 route (network unreachable at once).
    Absent,
    /// AAAA records exist and IPv6 works end to end: every link has an IPv6 address, the
    /// routers forward it and the sites listen on their IPv6 addresses (kernel world only).
    Working,
}

impl VantageIpv6 {
    fn is_none(&self) -> bool {
        *self == VantageIpv6::None
    }
}

/// A service: several targets that together make it work, with the service's ground truth.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Its name (`messenger`).
    pub name: String,
    /// The names of its targets.
    pub endpoints: Vec<String>,
    /// The service's expected status.
    pub status: Status,
    /// Expected techniques.
    #[serde(default)]
    pub techniques: Vec<Technique>,
    /// Why the truth is what it is.
    #[serde(default)]
    pub note: Option<String>,
}

/// A service of a running world: its ground truth (as a target named `service:NAME`) and the
/// URLs of its endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct LabService {
    /// The service's truth; `url` is `service:NAME`.
    pub truth: LabTarget,
    /// The endpoints' URLs.
    pub endpoints: Vec<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The default `dns.bogon` answer: a documentation multicast address (MCAST-TEST-NET, RFC
/// 6676). Censors answer private addresses (Iran's 10.10.34.35), but a lab must not hand its
/// probe anything a packet could follow off the machine; a TCP connection to a multicast
/// address is refused by the kernel itself, and the address is a bogon of another class than
/// the lab's loopback and 198.18.0.0/15, which is all the verdict looks at.
pub const DEFAULT_BOGON: Ipv4Addr = Ipv4Addr::new(233, 252, 0, 35);

fn default_bogon() -> Ipv4Addr {
    DEFAULT_BOGON
}

fn yes() -> bool {
    true
}

/// One site (origin server) of the world.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Its DNS name, under `.test`.
    pub name: String,
    /// What the origin does.
    #[serde(default)]
    pub kind: SiteKind,
    /// The `<title>` of its page.
    #[serde(default)]
    pub title: Option<String>,
    /// Listen for HTTP on port 8080.
    #[serde(default = "yes")]
    pub http: bool,
    /// Listen for HTTPS on port 8443.
    #[serde(default = "yes")]
    pub https: bool,
    /// Which certificate the origin presents.
    #[serde(default)]
    pub cert: CertKind,
    /// Where a `redirect` site sends the client.
    #[serde(default)]
    pub redirect_to: Option<String>,
    /// Body size in bytes of a `large` site.
    #[serde(default)]
    pub size: Option<usize>,
    /// CDN/geo DNS: the two resolvers answer different addresses, both serving the site.
    #[serde(default)]
    pub cdn: bool,
    /// How DNS treats the name at both resolvers.
    #[serde(default)]
    pub dns: SiteDns,
    /// The origin's own uplink in kbit/s: every client, the control included, gets at most
    /// this rate (a slow honest server).
    #[serde(default)]
    pub uplink_kbps: Option<u32>,
    /// Whether the origin ends its TLS responses with a close_notify (many real servers just
    /// close the connection).
    #[serde(default = "yes")]
    pub close_notify: bool,
    /// What the origin does with a TLS server name it does not serve (a CDN's edge).
    #[serde(default)]
    pub unknown_sni: UnknownSni,
    /// Pages whose content changes on a schedule (for `lab archive`), served at their paths.
    #[serde(default)]
    pub pages: Vec<crate::content::PageSpec>,
    /// Whether the lab's top-level zone delegates the name (the registry's side).
    #[serde(default)]
    pub delegation: SiteDelegation,
    /// The name has an AAAA record too (when the scenario's `ipv6` is not `none`).
    #[serde(default)]
    pub ipv6: bool,
    /// Served at the address of that site, as a shared host or a CDN edge serves several
    /// names: one listener, which picks the site by SNI over TLS and by Host over HTTP (an
    /// unknown name gets the owner's `unknown_sni` treatment). Address rules name the owner.
    #[serde(default)]
    pub shares: Option<String>,
}

/// How an origin answers a ClientHello for a name that is not its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownSni {
    /// Serves its page anyway (with its own certificate).
    #[default]
    Serve,
    /// Closes the connection without a server hello.
    Refuse,
    /// Completes the handshake and answers every request with a small 421 error page.
    ErrorPage,
}

/// What the lab's registry (its `test.` zone) does with a site's name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteDelegation {
    /// Delegated to the lab's publisher server, which answers it.
    #[default]
    Normal,
    /// The registry removed the delegation (a suspended registration): the top-level zone
    /// answers NXDOMAIN. The probe's resolver looked again and says NXDOMAIN; the control's
    /// resolver still answers the old address from its cache (the site itself still runs).
    Removed,
    /// Delegated to a server where nothing answers (a lame delegation): both resolvers
    /// answer SERVFAIL.
    Lame,
}

/// What an origin does (all of it for every client, except `captcha`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteKind {
    /// A fixed page with a title.
    #[default]
    Static,
    /// A page with random tokens whose length varies ±30% per request.
    Dynamic,
    /// A large body (`size`, default 2 MiB), for throughput.
    Large,
    /// A 302 to `redirect_to`.
    Redirect,
    /// 403 with a captcha page for probe sources, the page for the control.
    Captcha,
    /// Nothing listens: connection refused for everyone.
    Down,
    /// Every second connection is reset at once (deterministic per connection count).
    Flaky,
    /// A body that never ends.
    Endless,
    /// A body dripped at one byte per second.
    Drip,
    /// Honest but slow: 200 ms before each response.
    Slow,
    /// Answers the ClientHello with garbage bytes.
    TlsGarbage,
}

/// The certificate an origin presents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertKind {
    /// Issued by the lab CA for the name.
    #[default]
    Valid,
    /// Issued by the lab CA for the name, expired in 2020.
    Expired,
    /// Issued by the lab CA for another name.
    WrongName,
    /// Self-signed.
    SelfSigned,
    /// Issued for the name by the lab's fictional state root, the one its censor intercepts
    /// with: a state's own site (states issue certificates to their sites too). Everyone is
    /// handed the same leaf; neither the probe nor the control trusts that root.
    StateRoot,
}

/// How both resolvers treat the site's name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteDns {
    /// Answer its address.
    #[default]
    Normal,
    /// The name does not exist (NXDOMAIN everywhere).
    Absent,
    /// Both resolvers answer unparseable bytes.
    Garbage,
}

/// One censor rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique id, referred to by targets' `governed_by`.
    pub id: String,
    /// What the rule matches.
    #[serde(rename = "match")]
    pub matcher: Match,
    /// What the censor does.
    pub action: Action,
    /// Rate for `throttle`, in kbit/s.
    #[serde(default)]
    pub rate_kbps: Option<u32>,
    /// When the rule is in force (always when empty).
    #[serde(default)]
    pub active: Vec<Window>,
    /// When the rule is suspended even inside `active` (e.g. daily windows of access).
    #[serde(default)]
    pub except: Vec<Window>,
    /// The censor acts in its router, at its hop on the path (kernel world only): DNS
    /// injection and TLS resets by a packet injector, TLS stalls by nftables drops, so that a
    /// TTL-limited trace finds it there.
    #[serde(default)]
    pub at_hop: bool,
}

/// What a rule matches; names match themselves and their sub-domains.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// The DNS query name.
    #[serde(default)]
    pub domain: Option<String>,
    /// The TLS ClientHello's server name.
    #[serde(default)]
    pub sni: Option<String>,
    /// The HTTP Host header (inner Host for HTTPS).
    #[serde(default)]
    pub host: Option<String>,
    /// Every connection to the listeners of this site name.
    #[serde(default)]
    pub address: Option<String>,
    /// A keyword in the request path.
    #[serde(default)]
    pub keyword: Option<String>,
    /// Everything.
    #[serde(default)]
    pub any: bool,
    /// Only this address family of the matched sites (`tcp.*` rules, kernel world); both
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<AddrFamily>,
}

/// An address family a rule may be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddrFamily {
    /// IPv4 addresses only.
    Ipv4,
    /// IPv6 addresses only.
    Ipv6,
}

impl AddrFamily {
    /// Whether `ip` is of this family.
    pub fn holds(self, ip: std::net::IpAddr) -> bool {
        match self {
            AddrFamily::Ipv4 => ip.is_ipv4(),
            AddrFamily::Ipv6 => ip.is_ipv6(),
        }
    }
}

/// One target with its ground truth.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Short label.
    pub name: String,
    /// The URL to measure (with port).
    pub url: String,
    /// Expected status while the rules that concern it are in force.
    pub status: Status,
    /// Expected techniques.
    #[serde(default)]
    pub techniques: Vec<Technique>,
    /// Other statuses that also count as right (e.g. `inconclusive` for a flaky site).
    #[serde(default)]
    pub accept: Vec<Status>,
    /// When this rule is not in force, the target is expected `accessible` with no technique.
    #[serde(default)]
    pub governed_by: Option<String>,
    /// Why the truth is what it is.
    #[serde(default)]
    pub note: Option<String>,
    /// The censoring device's class a TTL-limited trace must find (`on-path` or `in-path`);
    /// its hop is the kernel world's `censor_hop`.
    #[serde(default)]
    pub locate: Option<String>,
}

/// What the world expects the verdict of a target to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expectation {
    /// The right status.
    pub status: Status,
    /// The right techniques, sorted.
    pub techniques: Vec<Technique>,
    /// Other statuses that also count as right.
    #[serde(default)]
    pub accept: Vec<Status>,
}

/// A target of a running world, with its ground truth at the world's current scenario time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabTarget {
    /// Short label.
    pub name: String,
    /// The URL to measure.
    pub url: String,
    /// The ground truth.
    pub expect: Expectation,
    /// `Err(reason)` when this world cannot emulate what the target needs.
    pub supported: Result<(), String>,
}

/// The host of an `http(s)://host[:port]/...` URL, lowercased.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Whether `name` is `pattern` or a sub-domain of it (case-insensitive, trailing dots ignored).
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let p = pattern.trim_end_matches('.').to_ascii_lowercase();
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    n == p || n.ends_with(&format!(".{p}"))
}

impl Scenario {
    /// Loads a built-in scenario by name.
    pub fn builtin(name: &str) -> Result<Scenario, LabError> {
        let text = BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t);
        let text = text.ok_or_else(|| {
            LabError::UnknownBuiltin(name.into(), Self::builtin_names().join(", "))
        })?;
        Self::parse(text)
    }

    /// The names of the built-in scenarios.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(name, _)| *name).collect()
    }

    /// Loads a scenario from a TOML file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Scenario, LabError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| LabError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses and validates scenario TOML.
    pub fn parse(text: &str) -> Result<Scenario, LabError> {
        let s: Scenario = toml::from_str(text)?;
        crate::validate::check(&s).map_err(LabError::Invalid)?;
        Ok(s)
    }

    /// The index of the site that owns `name`'s address: itself, or the site it `shares`.
    pub fn address_owner(&self, name: &str) -> Option<usize> {
        let site = self
            .sites
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))?;
        let owner = site.shares.as_deref().unwrap_or(&site.name);
        self.sites
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(owner))
    }

    /// How many addresses the sites take (CDN sites two, a site sharing another's none).
    pub fn address_count(&self) -> usize {
        self.sites
            .iter()
            .filter(|s| s.shares.is_none())
            .map(|s| 1 + usize::from(s.cdn))
            .sum()
    }

    /// The services with their ground truth at scenario time `t`.
    pub fn services_at(&self, t: ScenarioTime) -> Vec<LabService> {
        self.services_in(t, WorldKind::Userspace)
    }

    /// The services with their ground truth at scenario time `t` in world `kind`.
    pub fn services_in(&self, t: ScenarioTime, kind: WorldKind) -> Vec<LabService> {
        let targets = self.targets_in(t, kind);
        self.services
            .iter()
            .map(|svc| {
                let parts: Vec<&LabTarget> = targets
                    .iter()
                    .filter(|t| svc.endpoints.contains(&t.name))
                    .collect();
                let mut techniques = svc.techniques.clone();
                techniques.sort();
                techniques.dedup();
                LabService {
                    truth: LabTarget {
                        name: format!("service:{}", svc.name),
                        url: format!("service:{}", svc.name),
                        expect: Expectation {
                            status: svc.status,
                            techniques,
                            accept: Vec::new(),
                        },
                        supported: parts
                            .iter()
                            .find_map(|p| p.supported.clone().err())
                            .map_or(Ok(()), Err),
                    },
                    endpoints: parts.iter().map(|p| p.url.clone()).collect(),
                }
            })
            .collect()
    }

    /// The targets with their ground truth at scenario time `t`, in the userspace world.
    pub fn targets_at(&self, t: ScenarioTime) -> Vec<LabTarget> {
        self.targets_in(t, WorldKind::Userspace)
    }

    /// The targets with their ground truth at scenario time `t`, marked unsupported where world
    /// `kind` cannot emulate a rule that concerns them.
    pub fn targets_in(&self, t: ScenarioTime, kind: WorldKind) -> Vec<LabTarget> {
        self.targets
            .iter()
            .map(|spec| self.target_at(spec, t, kind))
            .collect()
    }

    fn target_at(&self, spec: &TargetSpec, t: ScenarioTime, kind: WorldKind) -> LabTarget {
        let in_force = spec.governed_by.as_ref().is_none_or(|id| {
            self.rules
                .iter()
                .any(|r| &r.id == id && rule_in_force(r, t))
        });
        // A shutdown in force takes every target offline, whatever else governs it.
        let shutdown = self.rules.iter().find(|r| {
            r.action == Action::Shutdown
                && rule_in_force(r, t)
                && spec.governed_by.as_ref() != Some(&r.id)
        });
        let mut expect = if shutdown.is_some() {
            Expectation {
                status: Status::Offline,
                techniques: vec![Technique::Shutdown],
                accept: Vec::new(),
            }
        } else if in_force {
            Expectation {
                status: spec.status,
                techniques: spec.techniques.clone(),
                accept: spec.accept.clone(),
            }
        } else {
            Expectation {
                status: Status::Accessible,
                techniques: Vec::new(),
                accept: Vec::new(),
            }
        };
        expect.techniques.sort();
        expect.techniques.dedup();
        let host = url_host(&spec.url).unwrap_or_default();
        // An address rule concerns every site served at that address.
        let owner = self
            .address_owner(&host)
            .and_then(|i| self.sites.get(i))
            .map(|s| s.name.as_str());
        let supported = match self.rules.iter().find_map(|r| {
            let reason = kind.emulates(r).err()?;
            let at_address = r
                .matcher
                .address
                .as_deref()
                .zip(owner)
                .is_some_and(|(a, o)| a.eq_ignore_ascii_case(o));
            (r.matcher.any || at_address || rule_names(&r.matcher).any(|p| name_matches(p, &host)))
                .then_some((r, reason))
        }) {
            Some((r, reason)) => Err(format!(
                "rule {:?} ({:?}): {reason} ({kind} world)",
                r.id, r.action
            )),
            None => Ok(()),
        };
        // The vantage point's IPv6 concerns every target: its reason comes first.
        let supported = kind.emulates_ipv6(self.ipv6).and(supported);
        LabTarget {
            name: spec.name.clone(),
            url: spec.url.clone(),
            expect,
            supported,
        }
    }
}

/// The names a matcher mentions (for deciding which targets a rule concerns).
pub(crate) fn rule_names(m: &Match) -> impl Iterator<Item = &str> {
    [&m.domain, &m.sni, &m.host, &m.address]
        .into_iter()
        .filter_map(|o| o.as_deref())
}

/// Whether a rule is in force at `t` (windows already validated; unparseable ones never match).
pub fn rule_in_force(r: &Rule, t: ScenarioTime) -> bool {
    let inside = |w: &Window| w.span().map(|s: Span| s.contains(t)).unwrap_or(false);
    (r.active.is_empty() || r.active.iter().any(inside)) && !r.except.iter().any(inside)
}

/// Names used for sets of unique ids in validation.
pub(crate) fn duplicates<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = HashSet::new();
    names.into_iter().find(|n| !seen.insert(*n))
}
