//! The censor's address and port rules as one nftables table in the censor's router
//! namespace. Rendering is pure (scenario + clock + addresses -> ruleset text), so it is unit
//! tested without privileges; applying replaces the whole table in one transaction.

use super::netns::{CLIENT_IP, CLIENT_IP6};
use crate::clock::ScenarioTime;
use crate::kind::WorldKind;
use crate::scenario::{rule_in_force, Action, Rule, Scenario};
use crate::world::HTTPS_PORT;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

/// The table's family and name inside the router namespace.
pub const TABLE: &str = "inet interfero";

/// Where a kernel rule's packets go: some addresses, or the whole service block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dest {
    /// These addresses (either family).
    Addrs(BTreeSet<IpAddr>),
    /// Everything the client sends.
    All,
}

/// What the kernel does at `t`, in scenario order (first match wins, as in the middlebox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KernelRule {
    /// The scenario rule's id.
    pub(crate) id: String,
    /// Its action (`tcp.*`, `shutdown` or an address `throttle`).
    pub(crate) action: Action,
    /// What it matches.
    pub(crate) dest: Dest,
    /// For throttles.
    pub(crate) rate_kbps: Option<u32>,
    /// Acts at the router's hop (see `Rule::at_hop`).
    pub(crate) at_hop: bool,
}

/// The kernel-enforced rules in force at `t`. `addrs_of` gives the addresses of the sites a
/// rule's match names (an `address` site, or every site under a `domain`).
pub(crate) fn in_force(
    s: &Scenario,
    t: ScenarioTime,
    addrs_of: &dyn Fn(&Rule) -> BTreeSet<IpAddr>,
) -> Vec<KernelRule> {
    s.rules
        .iter()
        .filter(|r| WorldKind::Kernel.kernel_enforces(r) && rule_in_force(r, t))
        .map(|r| KernelRule {
            id: r.id.clone(),
            action: r.action,
            dest: if r.matcher.any {
                Dest::All
            } else {
                Dest::Addrs(addrs_of(r))
            },
            rate_kbps: r.rate_kbps,
            at_hop: r.at_hop,
        })
        .collect()
}

/// Keeps rule ids printable inside an nft comment.
fn safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The matches of packets from the client to `dest`, one per family it concerns: `ip saddr
/// <client> ip daddr { … }` and `ip6 saddr <client> ip6 daddr { … }` (an nftables rule holds
/// one family's addresses), with the family's name for "is TCP" (`ip protocol` is IPv4's
/// header field; `meta l4proto` finds TCP behind IPv6's extension headers). Everything
/// (`Dest::All`) is both families' client address.
fn flows(dest: &Dest) -> Vec<(String, &'static str)> {
    let from4 = format!("ip saddr {CLIENT_IP}");
    let from6 = format!("ip6 saddr {CLIENT_IP6}");
    let Dest::Addrs(a) = dest else {
        return vec![(from4, TCP4), (from6, TCP6)];
    };
    let list = |v6: bool| -> Vec<String> {
        a.iter()
            .filter(|ip| ip.is_ipv6() == v6)
            .map(IpAddr::to_string)
            .collect()
    };
    let mut out = Vec::new();
    for (from, key, v6, tcp) in [(from4, "ip", false, TCP4), (from6, "ip6", true, TCP6)] {
        let l = list(v6);
        if !l.is_empty() {
            out.push((format!("{from} {key} daddr {{ {} }}", l.join(", ")), tcp));
        }
    }
    out
}

/// "Is TCP" in IPv4 and in IPv6.
const TCP4: &str = "ip protocol tcp";
const TCP6: &str = "meta l4proto tcp";

/// The whole table for `rules`: created if absent, emptied, refilled, atomically. Packets are
/// matched in the forward hook, from the client only: the control never crosses the router.
/// `loss_pct` of every forwarded packet, either way, is dropped first (the path's own loss,
/// which TCP retransmits and DNS retries, as on a lossy mobile link).
pub(crate) fn render(rules: &[KernelRule], loss_pct: u32) -> String {
    let mut body = String::new();
    if loss_pct > 0 {
        let _ = writeln!(
            body,
            "\t\tnumgen random mod 1000 < {} drop comment \"path loss {loss_pct}%\"",
            loss_pct.min(100) * 10
        );
    }
    let mut pre = String::new();
    for r in rules
        .iter()
        .filter(|r| r.at_hop && r.action == Action::TlsStall)
    {
        // A TLS record (content type 0x16, the ClientHello's) to the address is dropped as it
        // arrives, before the router checks its TTL: at the censor's own hop the trigger meets
        // silence, not a time exceeded. The handshake itself passes.
        for (flow, _) in flows(&r.dest) {
            let _ = writeln!(
                pre,
                "\t\t{flow} tcp dport {HTTPS_PORT} @ih,0,8 0x16 drop comment \"{} tls.stall at hop\"",
                safe(&r.id)
            );
        }
    }
    for r in rules.iter().filter(|r| !r.at_hop) {
        let verdict = match r.action {
            Action::TcpDrop => "drop",
            // The SYN is dropped here; the injector answers it (see `inject`).
            Action::TcpReset => "drop",
            // A RST in answer to the SYN: exactly what a closed port sends.
            Action::TcpRefuse => "reject with tcp reset",
            Action::Shutdown => "drop",
            _ => continue,
        };
        for (flow, tcp) in flows(&r.dest) {
            let tcp = if r.action == Action::Shutdown {
                String::new()
            } else {
                format!("{tcp} ")
            };
            let _ = writeln!(
                body,
                "\t\t{flow} {tcp}{verdict} comment \"{} {}\"",
                safe(&r.id),
                action_name(r.action)
            );
        }
    }
    format!(
        "table {TABLE}\ndelete table {TABLE}\ntable {TABLE} {{\n\tchain prerouting {{\n\t\t\
         type filter hook prerouting priority raw; policy accept;\n{pre}\t}}\n\tchain forward {{\n\t\t\
         type filter hook forward priority filter; policy accept;\n{body}\t}}\n}}\n"
    )
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::TcpDrop => "tcp.drop",
        Action::TcpReset => "tcp.reset",
        Action::TcpRefuse => "tcp.refuse",
        Action::Shutdown => "shutdown",
        Action::Throttle => "throttle",
        _ => "other",
    }
}

/// The addresses whose SYNs the injector answers with a reset (the first matching rule wins:
/// an address already dropped or refused by an earlier rule is not reset).
pub(crate) fn reset_addrs(rules: &[KernelRule]) -> BTreeSet<Ipv4Addr> {
    let mut taken = BTreeSet::new();
    let mut out = BTreeSet::new();
    for r in rules.iter().filter(|r| !r.at_hop) {
        let Dest::Addrs(a) = &r.dest else {
            if r.action != Action::Throttle {
                break; // everything is taken by this rule
            }
            continue;
        };
        if r.action == Action::Throttle {
            continue;
        }
        for ip in a {
            // The injector forges IPv4 only (validation keeps tcp.reset off IPv6).
            let IpAddr::V4(v4) = ip else { continue };
            if taken.insert(*v4) && r.action == Action::TcpReset {
                out.insert(*v4);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, action: Action, dest: Dest) -> KernelRule {
        KernelRule {
            id: id.into(),
            action,
            dest,
            rate_kbps: None,
            at_hop: false,
        }
    }

    fn one(ip: [u8; 4]) -> Dest {
        Dest::Addrs([IpAddr::from(ip)].into_iter().collect())
    }

    #[test]
    fn path_loss_comes_first_and_applies_both_ways() {
        let text = render(&[rule("d", Action::TcpDrop, one([198, 19, 0, 10]))], 3);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let i = lines
            .iter()
            .position(|l| l.starts_with("type filter hook forward"))
            .unwrap();
        // Before any censor rule, and with no address: answers are lost as well as requests.
        assert_eq!(
            lines[i + 1],
            "numgen random mod 1000 < 30 drop comment \"path loss 3%\""
        );
        assert!(lines[i + 2].contains("tcp.drop"));
        assert!(!render(&[], 0).contains("numgen"));
    }

    #[test]
    fn renders_each_action_in_order() {
        let text = render(
            &[
                rule("d", Action::TcpDrop, one([198, 19, 0, 10])),
                rule("r", Action::TcpRefuse, one([198, 19, 0, 11])),
                rule("x y", Action::TcpReset, one([198, 19, 0, 12])),
                rule("s", Action::Shutdown, Dest::All),
            ],
            0,
        );
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert_eq!(lines[0], "table inet interfero");
        assert_eq!(lines[1], "delete table inet interfero");
        let i = lines
            .iter()
            .position(|l| l.starts_with("type filter hook forward"))
            .unwrap();
        assert_eq!(
            lines[i + 1],
            "ip saddr 198.18.0.1 ip daddr { 198.19.0.10 } ip protocol tcp drop comment \"d tcp.drop\""
        );
        assert!(lines[i + 2].ends_with("reject with tcp reset comment \"r tcp.refuse\""));
        assert!(lines[i + 3].contains("comment \"x_y tcp.reset\""));
        assert_eq!(
            lines[i + 4],
            "ip saddr 198.18.0.1 drop comment \"s shutdown\""
        );
    }

    #[test]
    fn a_stall_at_the_hop_drops_tls_records_before_the_ttl_check() {
        let mut r = rule("s", Action::TlsStall, one([198, 19, 0, 12]));
        r.at_hop = true;
        let text = render(&[r], 0);
        let pre = text.find("hook prerouting").unwrap();
        let fwd = text.find("hook forward").unwrap();
        let line = text.find("@ih,0,8 0x16 drop").unwrap();
        assert!(pre < line && line < fwd, "{text}");
        assert!(text.contains("ip daddr { 198.19.0.12 } tcp dport 8443"));
    }

    #[test]
    fn empty_matches_render_nothing_and_resets_respect_order() {
        let rules = [
            rule("a", Action::TcpDrop, one([198, 19, 0, 10])),
            rule("b", Action::TcpReset, Dest::Addrs(BTreeSet::new())),
            rule(
                "c",
                Action::TcpReset,
                Dest::Addrs(
                    [[198, 19, 0, 10], [198, 19, 0, 13]]
                        .into_iter()
                        .map(IpAddr::from)
                        .collect(),
                ),
            ),
        ];
        assert!(!render(&rules, 0).contains("\"b "));
        let resets: Vec<Ipv4Addr> = reset_addrs(&rules).into_iter().collect();
        assert_eq!(resets, vec![Ipv4Addr::new(198, 19, 0, 13)]);
    }

    #[test]
    fn each_family_gets_its_own_rule_and_a_shutdown_cuts_both() {
        let v6: IpAddr = "2001:2::c613:a".parse().unwrap();
        let both = Dest::Addrs([IpAddr::from([198, 19, 0, 10]), v6].into_iter().collect());
        let only6 = Dest::Addrs([v6].into_iter().collect());
        let text = render(
            &[
                rule("d", Action::TcpDrop, both),
                rule("six", Action::TcpRefuse, only6),
                rule("s", Action::Shutdown, Dest::All),
            ],
            0,
        );
        let body: Vec<&str> = text
            .lines()
            .map(str::trim)
            .skip_while(|l| !l.starts_with("type filter hook forward"))
            .skip(1)
            .take_while(|l| *l != "}")
            .collect();
        assert_eq!(
            body,
            [
                "ip saddr 198.18.0.1 ip daddr { 198.19.0.10 } ip protocol tcp drop comment \"d tcp.drop\"",
                "ip6 saddr 2001:2:0:100::1 ip6 daddr { 2001:2::c613:a } meta l4proto tcp drop comment \"d tcp.drop\"",
                "ip6 saddr 2001:2:0:100::1 ip6 daddr { 2001:2::c613:a } meta l4proto tcp reject with tcp reset comment \"six tcp.refuse\"",
                "ip saddr 198.18.0.1 drop comment \"s shutdown\"",
                "ip6 saddr 2001:2:0:100::1 drop comment \"s shutdown\"",
            ]
        );
        // The reset injector forges IPv4 only: an IPv6 address never reaches its set.
        let resets = reset_addrs(&[rule(
            "r",
            Action::TcpReset,
            Dest::Addrs([v6].into_iter().collect()),
        )]);
        assert!(resets.is_empty());
    }
}
