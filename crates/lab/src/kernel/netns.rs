//! The kernel world's namespaces: client — r1 — … — rN — servers, joined by veth pairs, with
//! addresses in 198.18.0.0/15. Every namespace is named `ifr-<pid>-<n>-<role>`, so concurrent
//! worlds never collide and a later run can sweep what a killed one left. Dropping a
//! `Topology` deletes its namespaces (veths, nftables tables and tc qdiscs go with them); so
//! does an error halfway through building it.
//!
//! ```text
//!  client ns            r1 ns                    rN ns                servers ns
//!  to-srv 198.18.0.1 ── to-cli 198.18.0.2       …                       to-cli 198.18.N.2
//!                       to-srv 198.18.1.1 ──  …  to-srv 198.18.N.1 ──┘   lo: 198.19.0.0/24
//! ```
//! Link `i` (from node `i` to node `i+1`) is 198.18.i.0/24: `.1` on the client side, `.2` on
//! the servers side. The servers' service block 198.19.0.0/24 is local to the servers
//! namespace (a `local` route on lo), so the middlebox can bind any address in it. With
//! working IPv6 (`enable_ipv6`) link `i` is also 2001:2:0:(0x100+i)::/64 and the service
//! prefix 2001:2::/64 is local to the servers namespace the same way.

use super::cmd::ip;
use super::runtime::in_netns;
use crate::scenario::VantageIpv6;
use crate::LabError;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU32, Ordering};

/// Every namespace the lab creates starts with this.
pub const NS_PREFIX: &str = "ifr-";
/// Where `ip netns` keeps namespace names.
const NETNS_DIR: &str = "/var/run/netns";
/// The client's (probe's) address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The first three octets of the servers' service block (resolvers, blockpage, sites).
pub const SERVICE_BLOCK: [u8; 3] = [198, 19, 0];
/// The lab's IPv6 range (RFC 5180 benchmarking, the twin of 198.18.0.0/15).
pub(crate) const LAB_V6: &str = "2001:2::/48";
/// The client's IPv6 address when its IPv6 is broken (`Topology::break_ipv6`).
const BROKEN_CLIENT_IP6: &str = "2001:2:0:ffff::1/64";
/// The client's (probe's) IPv6 address when its IPv6 works (`Topology::enable_ipv6`): `::1`
/// of link 0's /64.
pub const CLIENT_IP6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, LINK6_BASE, 0, 0, 0, 1);
/// Link `i`'s IPv6 /64 is 2001:2:0:(0x100 + i)::/64: inside 2001:2::/48 and never the
/// service prefix 2001:2::/64 (`world::kernel_v6`), nor the broken client's 2001:2:0:ffff::/64.
const LINK6_BASE: u16 = 0x100;
/// The servers namespace's IPv6 service prefix, local there (the sites' IPv6 twins).
const SERVICE6: &str = "2001:2::/64";

/// The most routers a path may have (link numbers stay in one octet, with room to spare).
pub const MAX_HOPS: u8 = 16;

/// Each node's veth toward the servers (not `up`: `ip` would read it as a keyword).
pub const TOWARD_SERVERS: &str = "to-srv";
/// Each node's veth toward the client.
pub const TOWARD_CLIENT: &str = "to-cli";
/// Distinguishes the worlds of one process.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// The namespaces of one kernel world, deleted on drop.
#[derive(Debug)]
pub(crate) struct Topology {
    /// `ifr-<pid>-<n>`: the prefix of every namespace of this world.
    pub(crate) tag: String,
    /// The probe's namespace.
    pub(crate) client: String,
    /// The routers, hop 1 first.
    pub(crate) routers: Vec<String>,
    /// Where the middlebox and the control run.
    pub(crate) servers: String,
    /// Namespaces actually created, to delete.
    made: Vec<String>,
}

/// Address `.last` of link `link` (198.18.link.last).
pub(crate) fn link_ip(link: u8, last: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, link, last)
}

/// IPv6 address `::last` of link `link` (2001:2:0:(0x100 + link)::last).
pub(crate) fn link_ip6(link: u8, last: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 2, 0, LINK6_BASE + u16::from(link), 0, 0, 0, last)
}

/// Writes a sysctl file inside namespace `ns`.
fn sysctl_in(ns: &str, path: &str, value: &str) -> Result<(), LabError> {
    in_netns(ns, || std::fs::write(path, value))?.map_err(|e| LabError::Command {
        cmd: format!("write {path} in {ns}"),
        detail: e.to_string(),
    })
}

impl Topology {
    /// Builds client, `hops` routers and servers, linked in a line, addressed and routed.
    pub(crate) fn build(hops: u8) -> Result<Topology, LabError> {
        if hops == 0 || hops > MAX_HOPS {
            return Err(LabError::Invalid(format!(
                "hops must be 1..={MAX_HOPS}, not {hops}"
            )));
        }
        let tag = format!(
            "{NS_PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut t = Topology::named(tag, hops);
        // On any error below, `t` is dropped and deletes what was made so far.
        t.wire(hops)?;
        Ok(t)
    }

    fn named(tag: String, hops: u8) -> Topology {
        Topology {
            client: format!("{tag}-c"),
            routers: (1..=hops).map(|i| format!("{tag}-r{i}")).collect(),
            servers: format!("{tag}-s"),
            tag,
            made: Vec::new(),
        }
    }

    /// Every node, client first.
    fn nodes(&self) -> Vec<String> {
        let mut v = vec![self.client.clone()];
        v.extend(self.routers.iter().cloned());
        v.push(self.servers.clone());
        v
    }

    fn wire(&mut self, hops: u8) -> Result<(), LabError> {
        let nodes = self.nodes();
        for ns in &nodes {
            ip(&["netns", "add", ns])?;
            self.made.push(ns.clone());
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        for (link, pair) in (0u8..).zip(nodes.windows(2)) {
            let [left, right] = pair else { continue };
            // Both ends are made inside their namespaces: nothing ever appears in the host's.
            ip(&[
                "-n",
                left,
                "link",
                "add",
                TOWARD_SERVERS,
                "type",
                "veth",
                "peer",
                "name",
                TOWARD_CLIENT,
                "netns",
                right,
            ])?;
            let l = format!("{}/24", link_ip(link, 1));
            let r = format!("{}/24", link_ip(link, 2));
            ip(&["-n", left, "addr", "add", &l, "dev", TOWARD_SERVERS])?;
            ip(&["-n", right, "addr", "add", &r, "dev", TOWARD_CLIENT])?;
            ip(&["-n", left, "link", "set", TOWARD_SERVERS, "up"])?;
            ip(&["-n", right, "link", "set", TOWARD_CLIENT, "up"])?;
        }
        let block = format!(
            "{}.{}.{}.0/24",
            SERVICE_BLOCK[0], SERVICE_BLOCK[1], SERVICE_BLOCK[2]
        );
        // Client: the lab's two ranges via r1, and no default route, so that an address
        // outside the lab (a bogon answer) fails here instead of leaving the namespace.
        let r1 = link_ip(0, 2).to_string();
        ip(&[
            "-n",
            &self.client,
            "route",
            "add",
            "198.18.0.0/16",
            "via",
            &r1,
        ])?;
        ip(&["-n", &self.client, "route", "add", &block, "via", &r1])?;
        for (i, r) in (1u8..).zip(&self.routers) {
            let toward_client = link_ip(i - 1, 1).to_string();
            let toward_servers = link_ip(i, 2).to_string();
            for j in 0..i.saturating_sub(1) {
                let net = format!("{}/24", link_ip(j, 0));
                ip(&["-n", r, "route", "add", &net, "via", &toward_client])?;
            }
            for j in i + 1..=hops {
                let net = format!("{}/24", link_ip(j, 0));
                ip(&["-n", r, "route", "add", &net, "via", &toward_servers])?;
            }
            ip(&["-n", r, "route", "add", &block, "via", &toward_servers])?;
            in_netns(r, || std::fs::write("/proc/sys/net/ipv4/ip_forward", "1"))?.map_err(|e| {
                LabError::Command {
                    cmd: format!("enable forwarding in {r}"),
                    detail: e.to_string(),
                }
            })?;
        }
        let last_router = link_ip(hops, 1).to_string();
        ip(&[
            "-n",
            &self.servers,
            "route",
            "add",
            "198.18.0.0/16",
            "via",
            &last_router,
        ])?;
        ip(&[
            "-n",
            &self.servers,
            "route",
            "add",
            "local",
            &block,
            "dev",
            "lo",
            "table",
            "local",
        ])?;
        Ok(())
    }

    /// Gives the path the IPv6 the scenario says (`broken`, `working`; nothing otherwise).
    pub(crate) fn with_ipv6(self, v6: VantageIpv6, hops: u8) -> Result<Topology, LabError> {
        match v6 {
            VantageIpv6::Broken => self.break_ipv6()?,
            VantageIpv6::Working => {
                let [a, b, c] = SERVICE_BLOCK;
                let control = crate::world::kernel_v6(Ipv4Addr::new(a, b, c, 4));
                self.enable_ipv6(hops, control)?;
            }
            VantageIpv6::None | VantageIpv6::Absent => {}
        }
        Ok(self)
    }

    /// Gives the client broken IPv6 (scenario `ipv6 = "broken"`): an address and a route to
    /// the lab's IPv6 range (2001:2::/48, RFC 5180) on its link toward the first router, where
    /// nothing answers for it (the router has no address of the range and forwards no IPv6),
    /// so every IPv6 connect fails: host unreachable once neighbour discovery gives up, or the
    /// probe's timeout first. Without it (`absent`) the client has no IPv6 route at all:
    /// network unreachable at once.
    pub(crate) fn break_ipv6(&self) -> Result<(), LabError> {
        let c = self.client.as_str();
        ip(&[
            "-6",
            "-n",
            c,
            "addr",
            "add",
            BROKEN_CLIENT_IP6,
            "dev",
            TOWARD_SERVERS,
            "nodad",
        ])?;
        ip(&["-6", "-n", c, "route", "add", LAB_V6, "dev", TOWARD_SERVERS])?;
        Ok(())
    }

    /// Gives the path working IPv6 (scenario `ipv6 = "working"`): link `i` gets
    /// 2001:2:0:(0x100 + i)::/64 (`::1` client side, `::2` servers side, no DAD), the routers
    /// forward IPv6 with routes both ways, and the servers namespace makes the service prefix
    /// 2001:2::/64 local (a `local` route on lo and `ip_nonlocal_bind`, so the World binds any
    /// site's twin) and holds the control's IPv6 source, the twin of `.4`, on lo: the kernel
    /// picks it (longest match) for the control's IPv6 connects. The client's one IPv6 route is
    /// 2001:2::/48 via r1: no default route, as for IPv4.
    pub(crate) fn enable_ipv6(&self, hops: u8, control6: Ipv6Addr) -> Result<(), LabError> {
        let nodes = self.nodes();
        for (link, pair) in (0u8..).zip(nodes.windows(2)) {
            let [left, right] = pair else { continue };
            for (ns, dev, last) in [(left, TOWARD_SERVERS, 1), (right, TOWARD_CLIENT, 2)] {
                let a = format!("{}/64", link_ip6(link, last));
                ip(&["-6", "-n", ns, "addr", "add", &a, "dev", dev, "nodad"])?;
            }
        }
        let c = self.client.as_str();
        let r1 = link_ip6(0, 2).to_string();
        ip(&["-6", "-n", c, "route", "add", LAB_V6, "via", &r1])?;
        for (i, r) in (1u8..).zip(&self.routers) {
            let toward_client = link_ip6(i - 1, 1).to_string();
            let toward_servers = link_ip6(i, 2).to_string();
            // Everything of the lab's range lies toward the servers but the links behind.
            ip(&[
                "-6",
                "-n",
                r,
                "route",
                "add",
                LAB_V6,
                "via",
                &toward_servers,
            ])?;
            for j in 0..i.saturating_sub(1) {
                let net = format!("{}/64", link_ip6(j, 0));
                ip(&["-6", "-n", r, "route", "add", &net, "via", &toward_client])?;
            }
            sysctl_in(r, "/proc/sys/net/ipv6/conf/all/forwarding", "1")?;
            sysctl_in(r, "/proc/sys/net/ipv6/icmp/ratelimit", "0")?;
        }
        let sv = self.servers.as_str();
        let last_router = link_ip6(hops, 1).to_string();
        ip(&["-6", "-n", sv, "route", "add", LAB_V6, "via", &last_router])?;
        ip(&[
            "-6", "-n", sv, "route", "add", "local", SERVICE6, "dev", "lo", "table", "local",
        ])?;
        let ctl = format!("{control6}/128");
        ip(&["-6", "-n", sv, "addr", "add", &ctl, "dev", "lo", "nodad"])?;
        sysctl_in(sv, "/proc/sys/net/ipv6/ip_nonlocal_bind", "1")?;
        self.settle_ipv6(&nodes)
    }

    /// Waits until no address of `nodes` is tentative: the veths' link-local addresses run
    /// duplicate address detection (a second or two), and until it ends neighbour discovery
    /// stalls, so the first IPv6 connects of a run would lose their SYN to it.
    fn settle_ipv6(&self, nodes: &[String]) -> Result<(), LabError> {
        const TRIES: u32 = 100;
        for _ in 0..TRIES {
            let mut tentative = false;
            for ns in nodes {
                tentative |= !ip(&["-6", "-n", ns, "addr", "show", "tentative"])?
                    .trim()
                    .is_empty();
            }
            if !tentative {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Err(LabError::Command {
            cmd: "waiting for IPv6 duplicate address detection".into(),
            detail: format!("addresses still tentative after {} ms", TRIES * 50),
        })
    }

    /// Deletes every namespace made (their interfaces, tables and qdiscs go with them).
    pub(crate) fn remove(&mut self) {
        for ns in self.made.drain(..).rev() {
            if let Err(e) = ip(&["netns", "del", &ns]) {
                tracing::warn!("lab: {e}");
            }
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.remove();
    }
}

/// The namespaces of this process's worlds, or of any process with `all`.
pub fn lab_namespaces(all: bool) -> Vec<String> {
    let own = format!("{NS_PREFIX}{}-", std::process::id());
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(if all { NS_PREFIX } else { &own }))
        .collect()
}

/// Deletes `ifr-<pid>-…` namespaces whose owner process is gone (left by a killed run).
/// Returns the names removed.
pub fn sweep_stale() -> Vec<String> {
    let mut removed = Vec::new();
    for name in lab_namespaces(true) {
        let pid = name
            .strip_prefix(NS_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if ip(&["netns", "del", &name]).is_ok() {
            removed.push(name);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(tag: &str) -> Vec<String> {
        lab_namespaces(false)
            .into_iter()
            .filter(|n| n.starts_with(&format!("{tag}-")))
            .collect()
    }

    #[test]
    fn an_error_halfway_removes_what_was_made() {
        if let Err(e) = super::super::check() {
            super::super::report_skip("an_error_halfway_removes_what_was_made", &e);
            return;
        }
        let tag = format!("{NS_PREFIX}{}-half", std::process::id());
        let mut t = Topology::named(tag.clone(), 2);
        // `ip netns add` refuses a name with a slash: client and routers exist by then.
        t.servers = format!("{tag}-s/bad");
        let err = t.wire(2);
        assert!(err.is_err());
        assert_eq!(ours(&tag).len(), 3, "client and two routers were made");
        drop(t);
        assert!(ours(&tag).is_empty(), "left behind: {:?}", ours(&tag));
    }
}
