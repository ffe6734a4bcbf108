//! A running world: resolvers, blockpage server and site listeners on one /24 block, with the
//! censor applied to every peer but the control's. The userspace world takes a private loopback
//! block 127.X.Y.0/24; the kernel world puts the same listeners in its servers namespace on a
//! 198.19.X.0/24 block (see `kernel`).
//!
//! Layout of the block: `.2` censored resolver, `.3` honest resolver (both port 5353, UDP and
//! TCP), `.4` the control's source address, `.9` the blockpage server, `.10`… the sites (a CDN
//! site takes two: the probe-side and control-side answers), ports 8080 (http) and 8443 (https).
//! A world of more than 240 site addresses (the benchmark world) continues at `.10` of the
//! following /24s: one address per site, as in the small worlds.

use crate::authority::{self, Level};
use crate::clock::ScenarioTime;
use crate::conn::{self, Role};
use crate::dns::{self, Resolver};
use crate::kind::WorldKind;
use crate::pki::{Pki, BLOCKPAGE_NAME};
use crate::scenario::{
    CertKind, LabTarget, Scenario, Site, SiteDelegation, SiteDns, SiteKind, VantageIpv6,
};
use crate::tasks::Tasks;
use crate::util::random_in;
use crate::LabError;
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, UdpSocket};

/// Port of both resolvers.
pub const DNS_PORT: u16 = 5353;
/// Port of every plain-HTTP listener.
pub const HTTP_PORT: u16 = 8080;
/// Port of every HTTPS listener.
pub const HTTPS_PORT: u16 = 8443;
/// Where `http.redirect` sends the probe.
pub const BLOCKPAGE_URL: &str = "http://blockpage.lab.test:8080/";
const BLOCK_TRIES: usize = 20;
/// The world's canary: a site every scenario gets, that only rules matching everything touch.
pub const CANARY_NAME: &str = "canary.lab.test";

/// The canary site, added to every world so that a probe can tell a shutdown from a block.
fn canary_site() -> Site {
    Site {
        name: CANARY_NAME.into(),
        kind: SiteKind::Static,
        title: Some("Canary".into()),
        http: true,
        https: true,
        cert: CertKind::Valid,
        redirect_to: None,
        size: None,
        cdn: false,
        dns: SiteDns::Normal,
        uplink_kbps: None,
        close_notify: true,
        unknown_sni: Default::default(),
        pages: Vec::new(),
        delegation: Default::default(),
        ipv6: false,
        shares: None,
    }
}
const FIRST_SITE: u8 = 10;
/// Site addresses per /24 (.10 to .249).
const SITES_PER_BLOCK: usize = 240;
/// Most site addresses of one world: a large (benchmark) world spills from its /24 into the
/// next ones, up to 32 /24s.
pub(crate) const MAX_SITE_ADDRESSES: usize = SITES_PER_BLOCK * 32;

/// The `k`-th site address: .10… of the world's /24, then of the /24s that follow it.
fn site_ip(net: [u8; 3], k: usize) -> Ipv4Addr {
    let spill = u8::try_from(k / SITES_PER_BLOCK).unwrap_or(u8::MAX);
    let last = FIRST_SITE.saturating_add(u8::try_from(k % SITES_PER_BLOCK).unwrap_or(0));
    Ipv4Addr::new(net[0], net[1], net[2].wrapping_add(spill), last)
}

/// How many /24s after the first a scenario's sites spill into.
fn spill_blocks(s: &Scenario) -> u64 {
    let addresses = s.address_count();
    (addresses.saturating_sub(1) / SITES_PER_BLOCK) as u64
}

/// Where a world's listeners live and which world's division of labour it follows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Placement {
    /// The first three octets of the /24 to bind; `None`: a random free loopback block.
    pub block: Option<[u8; 3]>,
    /// Which rules the middlebox applies (the kernel world leaves some to nftables and tc).
    pub kind: WorldKind,
}

/// Called with the new scenario time whenever the clock moves (the kernel world re-renders
/// its nftables and tc rules).
pub(crate) type TimeHook = Box<dyn Fn(ScenarioTime) + Send + Sync>;

/// What one name answers at each resolver.
pub(crate) struct ZoneEntry {
    pub(crate) probe: Vec<Ipv4Addr>,
    pub(crate) control: Vec<Ipv4Addr>,
    /// The name's AAAA answer at both resolvers (scenario `ipv6`, site `ipv6 = true`).
    pub(crate) v6: Vec<Ipv6Addr>,
    pub(crate) garbage: bool,
    /// What the registry does with the name (the resolvers follow it).
    pub(crate) delegation: SiteDelegation,
}

/// State shared by every task of a world.
pub(crate) struct Shared {
    pub(crate) scenario: Scenario,
    pub(crate) pki: Pki,
    pub(crate) zone: HashMap<String, ZoneEntry>,
    /// Registered domain → what the lab's `test.` zone does with it (`authority`).
    pub(crate) registry: HashMap<String, SiteDelegation>,
    pub(crate) conn_count: Vec<AtomicU64>,
    /// Per site owning an address, the sites served there, itself among them (`members`).
    members: Vec<Vec<usize>>,
    /// The probe's DNS datagrams seen, for the scenario's loss pattern.
    pub(crate) datagrams: AtomicU64,
    /// Paced exchanges so far, for the scenario's jitter sequence.
    paced: AtomicU64,
    pub(crate) tasks: Tasks,
    pub(crate) kind: WorldKind,
    net: [u8; 3],
    clock: AtomicU64,
    site_addrs: Vec<(Ipv4Addr, Ipv4Addr)>,
}

impl Shared {
    fn ip(&self, last: u8) -> Ipv4Addr {
        block_ip(self.net, last)
    }
    /// An address of the world's block.
    pub(crate) fn block_ip(&self, last: u8) -> Ipv4Addr {
        block_ip(self.net, last)
    }
    /// The scenario clock.
    pub(crate) fn now(&self) -> ScenarioTime {
        ScenarioTime(self.clock.load(Ordering::Relaxed))
    }
    /// The control's source address: the only peer the censor leaves alone.
    pub(crate) fn control_ip(&self) -> IpAddr {
        IpAddr::V4(self.ip(4))
    }
    /// The site that a listener of site `owner` serves for `name` (the SNI, or the Host
    /// without its port): the member of that name, or the owner itself.
    pub(crate) fn served(&self, owner: usize, name: Option<&str>) -> usize {
        let name = name.map(|n| n.rsplit_once(':').map_or(n, |(h, _)| h));
        self.members
            .get(owner)
            .and_then(|m| {
                m.iter().copied().find(|&j| {
                    let site = self.scenario.sites.get(j);
                    site.zip(name)
                        .is_some_and(|(site, n)| site.name.eq_ignore_ascii_case(n))
                })
            })
            .unwrap_or(owner)
    }
    /// Whether `peer` is the control: its IPv4 source, or (kernel world) the IPv6 twin of it,
    /// which the servers namespace's source selection picks for the control's IPv6 connects.
    pub(crate) fn is_control(&self, peer: IpAddr) -> bool {
        peer == self.control_ip()
            || (self.kind == WorldKind::Kernel && peer == IpAddr::V6(kernel_v6(self.ip(4))))
    }
    /// The blockpage server.
    pub(crate) fn blockpage_ip(&self) -> Ipv4Addr {
        self.ip(9)
    }
    /// Whether the probe's next DNS datagram is lost (the scenario's `loss_pct`).
    pub(crate) fn lose_datagram(&self) -> bool {
        let Some(every) = 100u64.checked_div(u64::from(self.scenario.loss_pct)) else {
            return false;
        };
        self.datagrams
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(every.max(1))
    }
    /// The round-trip time the world adds (`rtt.rs`).
    pub(crate) fn rtt(&self) -> std::time::Duration {
        let base = std::time::Duration::from_millis(u64::from(self.scenario.rtt_ms));
        let jitter = u64::from(self.scenario.jitter_ms);
        if jitter == 0 {
            return base;
        }
        let n = self.paced.fetch_add(1, Ordering::Relaxed);
        base + std::time::Duration::from_micros(jitter_share(n) % (jitter * 1000 + 1))
    }
}

/// The `n`-th draw of the world's jitter sequence. Hand-written (splitmix64's finaliser), not
/// a random crate: the lab must repeat exactly from run to run, as its DNS loss does, and a
/// fixed integer mix of the exchange's number is all that takes.
fn jitter_share(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn block_ip(net: [u8; 3], last: u8) -> Ipv4Addr {
    Ipv4Addr::new(net[0], net[1], net[2], last)
}

/// Tells whether a shutdown is in force at the world's clock: what the lab's channel from the
/// probe to the control follows (a real shutdown cuts it too).
#[derive(Clone)]
pub struct ShutdownSwitch(Arc<Shared>);

impl ShutdownSwitch {
    /// Whether a shutdown rule is in force now.
    pub fn in_force(&self) -> bool {
        crate::censor::shutdown_in_force(&self.0.scenario, self.0.now())
    }
}

/// A running world. Dropping it aborts its tasks; `shutdown` also waits for them.
pub struct World {
    shared: Arc<Shared>,
    on_time: Mutex<Option<TimeHook>>,
}

enum Bind {
    Dns(Resolver),
    Authority(Level),
}

enum Listen {
    Dns(Resolver),
    Conn(Role),
}

/// Addresses of each site: (probe-side answer, control-side answer), equal unless CDN. A site
/// that `shares` another's address gets that site's addresses and takes none of its own.
fn plan(s: &Scenario, net: [u8; 3]) -> Vec<(Ipv4Addr, Ipv4Addr)> {
    let mut k = 0;
    let mut take = || {
        let ip = site_ip(net, k);
        k += 1;
        ip
    };
    let own: Vec<Option<(Ipv4Addr, Ipv4Addr)>> = s
        .sites
        .iter()
        .map(|site| {
            site.shares.is_none().then(|| {
                let a = take();
                (a, if site.cdn { take() } else { a })
            })
        })
        .collect();
    s.sites
        .iter()
        .zip(&own)
        .map(|(site, mine)| {
            mine.or_else(|| {
                let owner = s.address_owner(&site.name)?;
                own.get(owner).copied().flatten()
            })
            .unwrap_or((Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED))
        })
        .collect()
}

/// For each site that owns an address, the sites served there (empty for a site that
/// shares another's).
fn members(s: &Scenario) -> Vec<Vec<usize>> {
    let mut m = vec![Vec::new(); s.sites.len()];
    for (j, site) in s.sites.iter().enumerate() {
        if let Some(list) = s.address_owner(&site.name).and_then(|o| m.get_mut(o)) {
            list.push(j);
        }
    }
    m
}

type Bound = (Vec<(UdpSocket, Bind)>, Vec<(TcpListener, Listen)>);

async fn bind_all(
    s: &Scenario,
    net: [u8; 3],
    addrs: &[(Ipv4Addr, Ipv4Addr)],
) -> std::io::Result<Bound> {
    let ip = |last| block_ip(net, last);
    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    for (last, role) in [(2, Resolver::Censored), (3, Resolver::Honest)] {
        udp.push((
            UdpSocket::bind((ip(last), DNS_PORT)).await?,
            Bind::Dns(role),
        ));
        tcp.push((
            TcpListener::bind((ip(last), DNS_PORT)).await?,
            Listen::Dns(role),
        ));
    }
    for (last, level) in [
        (authority::ROOT_HOST, Level::Root),
        (authority::TLD_HOST, Level::Tld),
        (authority::PUBLISHER_HOST, Level::Publisher),
    ] {
        udp.push((
            UdpSocket::bind((ip(last), DNS_PORT)).await?,
            Bind::Authority(level),
        ));
    }
    for tls in [false, true] {
        let port = if tls { HTTPS_PORT } else { HTTP_PORT };
        tcp.push((
            TcpListener::bind((ip(9), port)).await?,
            Listen::Conn(Role::Blockpage { tls }),
        ));
    }
    for (idx, (site, (a, b))) in s.sites.iter().zip(addrs).enumerate() {
        if site.kind == SiteKind::Down || site.shares.is_some() {
            // Nothing listens (refused for everyone), or the owner's listener serves it.
            continue;
        }
        let mut ips = vec![*a];
        if b != a {
            ips.push(*b);
        }
        for ip in ips {
            bind_site(IpAddr::V4(ip), site, idx, &mut tcp).await?;
        }
    }
    Ok((udp, tcp))
}

/// The listeners of site `idx` on `ip`: HTTP and HTTPS, as the site has them.
async fn bind_site(
    ip: IpAddr,
    site: &Site,
    idx: usize,
    tcp: &mut Vec<(TcpListener, Listen)>,
) -> std::io::Result<()> {
    for (on, port, tls) in [
        (site.http, HTTP_PORT, false),
        (site.https, HTTPS_PORT, true),
    ] {
        if on {
            tcp.push((
                TcpListener::bind((ip, port)).await?,
                Listen::Conn(Role::Site { idx, tls }),
            ));
        }
    }
    Ok(())
}

fn zone(
    s: &Scenario,
    addrs: &[(Ipv4Addr, Ipv4Addr)],
    blockpage: Ipv4Addr,
    kind: WorldKind,
) -> HashMap<String, ZoneEntry> {
    let mut z = HashMap::new();
    z.insert(
        BLOCKPAGE_NAME.to_string(),
        ZoneEntry {
            probe: vec![blockpage],
            control: vec![blockpage],
            v6: Vec::new(),
            garbage: false,
            delegation: SiteDelegation::Normal,
        },
    );
    for (site, (a, b)) in s.sites.iter().zip(addrs) {
        let garbage = match site.dns {
            SiteDns::Absent => continue,
            SiteDns::Garbage => true,
            SiteDns::Normal => false,
        };
        z.insert(
            site.name.to_ascii_lowercase(),
            ZoneEntry {
                probe: vec![*a],
                control: vec![*b],
                v6: site_v6(s, site, *a, kind).into_iter().collect(),
                garbage,
                delegation: site.delegation,
            },
        );
    }
    z
}

/// A site's IPv6 address, when the scenario gives the vantage point IPv6 to try and the site
/// has one: where the probe's IPv6 connects fail as the scenario says. Userspace: `::1` (the
/// site listens on its 127/8 address only, so nothing answers there: refused); kernel: the
/// site's IPv4 address inside 2001:2::/48 (RFC 5180), which no namespace has (the client's
/// route to it ends on a link where nobody answers, or it has no route at all).
fn site_v6(s: &Scenario, site: &Site, v4: Ipv4Addr, kind: WorldKind) -> Option<Ipv6Addr> {
    if s.ipv6 == VantageIpv6::None || !site.ipv6 {
        return None;
    }
    Some(match kind {
        WorldKind::Userspace => Ipv6Addr::LOCALHOST,
        WorldKind::Kernel => kernel_v6(v4),
    })
}

/// The kernel world's IPv6 twin of a service address: the IPv4 address as the last two
/// hextets of 2001:2::/64 (RFC 5180), the servers namespace's service prefix.
pub(crate) fn kernel_v6(v4: Ipv4Addr) -> Ipv6Addr {
    let [a, b, c, d] = v4.octets();
    Ipv6Addr::new(
        0x2001,
        0x2,
        0,
        0,
        0,
        0,
        u16::from_be_bytes([a, b]),
        u16::from_be_bytes([c, d]),
    )
}

/// The IPv6 listeners of a kernel world whose vantage point has working IPv6: every
/// `ipv6 = true` site (the canary too) on its address's twin, on the site's ports.
async fn bind_v6(
    s: &Scenario,
    addrs: &[(Ipv4Addr, Ipv4Addr)],
    kind: WorldKind,
    tcp: &mut Vec<(TcpListener, Listen)>,
) -> std::io::Result<()> {
    if kind != WorldKind::Kernel || s.ipv6 != VantageIpv6::Working {
        return Ok(());
    }
    for (idx, (site, (a, _))) in s.sites.iter().zip(addrs).enumerate() {
        // A sharer is served by its owner's listener, on the same address.
        let listens = site.kind != SiteKind::Down && site.shares.is_none();
        let Some(ip) = site_v6(s, site, *a, kind).filter(|_| listens) else {
            continue;
        };
        bind_site(IpAddr::V6(ip), site, idx, tcp).await?;
    }
    Ok(())
}

impl World {
    /// Starts a userspace world for `scenario` on a fresh loopback block (another block on
    /// AddrInUse).
    pub async fn start(scenario: &Scenario) -> Result<World, LabError> {
        Self::start_with(scenario, Placement::default()).await
    }

    /// Starts a world for `scenario` as `placement` says: on a given /24 (every address of it
    /// must be local where this runs) or a random loopback block.
    pub async fn start_with(scenario: &Scenario, placement: Placement) -> Result<World, LabError> {
        let needed = scenario.address_count();
        // One more for the canary site every world gets. A given block is one /24 (the kernel
        // world's service block); a loopback world may spill into the following /24s.
        let room = if placement.block.is_some() {
            SITES_PER_BLOCK
        } else {
            MAX_SITE_ADDRESSES
        };
        if needed + 1 > room {
            return Err(LabError::Invalid(format!(
                "{needed} site addresses and the canary do not fit in {room}"
            )));
        }
        if placement.kind == WorldKind::Userspace && scenario.packet_loss_pct > 0 {
            return Err(LabError::Invalid(format!(
                "packet_loss_pct {}: loopback cannot lose packets; run it in the kernel world \
                 (the userspace world loses DNS datagrams only, with loss_pct)",
                scenario.packet_loss_pct
            )));
        }
        let pki = Pki::new()?;
        let mut with_canary = scenario.clone();
        let mut canary = canary_site();
        // A vantage point given IPv6 to try gets an IPv6 canary too (`World::canaries`).
        canary.ipv6 = scenario.ipv6 != VantageIpv6::None;
        with_canary.sites.push(canary);
        let scenario = &with_canary;
        let tries = if placement.block.is_some() {
            1
        } else {
            BLOCK_TRIES
        };
        for _ in 0..tries {
            // Large worlds (the benchmark) spill into the following /24s: leave room for them.
            let net = placement.block.unwrap_or_else(|| {
                [
                    127,
                    random_in(64, 250) as u8,
                    random_in(0, 255u64.saturating_sub(spill_blocks(scenario))) as u8,
                ]
            });
            let addrs = plan(scenario, net);
            let (udp, mut tcp) = match bind_all(scenario, net, &addrs).await {
                Ok(b) => b,
                Err(e) if e.kind() == ErrorKind::AddrInUse && placement.block.is_none() => continue,
                Err(e) => return Err(e.into()),
            };
            bind_v6(scenario, &addrs, placement.kind, &mut tcp).await?;
            let shared = Arc::new(Shared {
                zone: zone(scenario, &addrs, block_ip(net, 9), placement.kind),
                registry: authority::registry(scenario),
                conn_count: scenario.sites.iter().map(|_| AtomicU64::new(0)).collect(),
                members: members(scenario),
                datagrams: AtomicU64::new(0),
                paced: AtomicU64::new(0),
                scenario: scenario.clone(),
                pki,
                tasks: Tasks::new(),
                kind: placement.kind,
                net,
                clock: AtomicU64::new(0),
                site_addrs: addrs,
            });
            for (sock, what) in udp {
                match what {
                    Bind::Dns(role) => {
                        shared
                            .tasks
                            .spawn(dns::serve_udp(shared.clone(), sock, role))
                    }
                    Bind::Authority(level) => {
                        shared
                            .tasks
                            .spawn(authority::serve(shared.clone(), sock, level))
                    }
                }
            }
            for (listener, what) in tcp {
                match what {
                    Listen::Dns(role) => {
                        shared
                            .tasks
                            .spawn(dns::serve_tcp(shared.clone(), listener, role))
                    }
                    Listen::Conn(role) => {
                        shared
                            .tasks
                            .spawn(conn::serve(shared.clone(), listener, role))
                    }
                }
            }
            return Ok(World {
                shared,
                on_time: Mutex::new(None),
            });
        }
        Err(LabError::NoFreeBlock(BLOCK_TRIES))
    }

    /// The censored resolver, for the probe (`--resolver`).
    pub fn probe_resolver(&self) -> SocketAddr {
        SocketAddr::from((self.shared.ip(2), DNS_PORT))
    }

    /// The lab's root server (its root hints): the walk of a delegation starts here; every
    /// server it learns of listens on [`DNS_PORT`].
    pub fn root_hints(&self) -> Vec<SocketAddr> {
        vec![SocketAddr::from((
            self.shared.ip(authority::ROOT_HOST),
            DNS_PORT,
        ))]
    }

    /// The honest resolver, for the control.
    pub fn control_resolver(&self) -> SocketAddr {
        SocketAddr::from((self.shared.ip(3), DNS_PORT))
    }

    /// The source address the control must bind its sockets to, to be left alone by the censor.
    pub fn control_bind_ip(&self) -> IpAddr {
        self.shared.control_ip()
    }

    /// The lab CA (PEM) that probe and control trust (`--ca-file`). Not the MITM CA.
    pub fn ca_pem(&self) -> String {
        self.shared.pki.lab_ca_pem()
    }

    /// The MITM CA (PEM) used by `tls.intercept` rules; never to be trusted by the probe.
    pub fn mitm_ca_pem(&self) -> String {
        self.shared.pki.mitm_ca_pem()
    }

    /// The targets with their ground truth at the current scenario time, marked unsupported
    /// where this world cannot emulate what they need.
    pub fn targets(&self) -> Vec<LabTarget> {
        self.shared
            .scenario
            .targets_in(self.shared.now(), self.shared.kind)
    }

    /// The services with their ground truth at the current scenario time.
    pub fn services(&self) -> Vec<crate::LabService> {
        self.shared
            .scenario
            .services_in(self.shared.now(), self.shared.kind)
    }

    /// Whether a shutdown is in force, as the world's clock moves.
    pub fn shutdown_switch(&self) -> ShutdownSwitch {
        ShutdownSwitch(self.shared.clone())
    }

    /// Which world this is.
    pub fn kind(&self) -> WorldKind {
        self.shared.kind
    }

    /// Sets the scenario clock (rules with windows follow it at once, in the kernel too).
    pub fn set_time(&self, t: ScenarioTime) {
        self.shared.clock.store(t.0, Ordering::Relaxed);
        if let Ok(hook) = self.on_time.lock() {
            if let Some(f) = hook.as_ref() {
                f(t);
            }
        }
    }

    /// Installs what must follow the clock besides the middlebox (the kernel world's rules).
    pub(crate) fn set_time_hook(&self, hook: TimeHook) {
        if let Ok(mut h) = self.on_time.lock() {
            *h = Some(hook);
        }
    }

    /// The scenario clock.
    pub fn now(&self) -> ScenarioTime {
        self.shared.now()
    }

    /// The scenario this world runs.
    pub fn scenario(&self) -> &Scenario {
        &self.shared.scenario
    }

    /// The probe-side address of a site (what the censored resolver would answer, if honest).
    pub fn site_addr(&self, name: &str) -> Option<IpAddr> {
        self.site_addrs(name).map(|(a, _)| IpAddr::V4(a))
    }

    /// The IPv6 address a site's AAAA answers (both resolvers), when the scenario gives the
    /// vantage point IPv6 and the site has one.
    pub fn site_addr6(&self, name: &str) -> Option<IpAddr> {
        let sc = &self.shared.scenario;
        let site = sc
            .sites
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))?;
        let (a, _) = self.site_addrs(name)?;
        site_v6(sc, site, a, self.shared.kind).map(IpAddr::V6)
    }

    /// A site's (probe-side, control-side) addresses.
    fn site_addrs(&self, name: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
        let idx = self
            .shared
            .scenario
            .sites
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name))?;
        self.shared.site_addrs.get(idx).copied()
    }

    /// Endpoints that answer unless everything is cut off: the world's canary site over TLS,
    /// and its name at both resolvers (the honest one standing for a resolver abroad).
    pub fn canaries(&self) -> Vec<interfero_model::Canary> {
        use interfero_model::{Canary, CanaryKind};
        let mut out: Vec<Canary> = [self.probe_resolver(), self.control_resolver()]
            .into_iter()
            .map(|endpoint| Canary {
                kind: CanaryKind::Dns,
                endpoint,
                name: CANARY_NAME.into(),
                domestic: false,
            })
            .collect();
        if let Some(ip) = self.site_addr(CANARY_NAME) {
            out.push(Canary {
                kind: CanaryKind::Tls,
                endpoint: SocketAddr::new(ip, HTTPS_PORT),
                name: CANARY_NAME.into(),
                domestic: false,
            });
        }
        let v6 = self.shared.zone.get(CANARY_NAME).map(|e| e.v6.clone());
        for ip in v6.unwrap_or_default() {
            out.push(Canary {
                kind: CanaryKind::Tls,
                endpoint: SocketAddr::new(IpAddr::V6(ip), HTTPS_PORT),
                name: CANARY_NAME.into(),
                domestic: false,
            });
        }
        out
    }

    /// The control-side address of a site (differs from `site_addr` for CDN sites).
    pub fn site_control_addr(&self, name: &str) -> Option<IpAddr> {
        self.site_addrs(name).map(|(_, b)| IpAddr::V4(b))
    }

    /// The lab blockpage server's address (answered by dns.hijack and dns.injection).
    pub fn blockpage_addr(&self) -> IpAddr {
        IpAddr::V4(self.shared.blockpage_ip())
    }

    /// Stops every task and frees every port before returning.
    pub async fn shutdown(self) {
        self.shared.tasks.stop().await;
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.shared.tasks.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::jitter_share;

    #[test]
    fn jitter_repeats_and_spreads_over_its_range() {
        let span = 50_001; // 50 ms in microseconds, inclusive
        let draws: Vec<u64> = (0..2000).map(|n| jitter_share(n) % span).collect();
        let again: Vec<u64> = (0..2000).map(|n| jitter_share(n) % span).collect();
        assert_eq!(draws, again, "the lab repeats exactly");
        let (lo, hi) = (draws.iter().min().unwrap(), draws.iter().max().unwrap());
        assert!(*lo < 2_000 && *hi > 48_000, "spread {lo}..{hi}");
        let mean = draws.iter().sum::<u64>() / draws.len() as u64;
        assert!((22_000..28_000).contains(&mean), "mean {mean}");
    }
}
