//! The censor's address and port rules as one nftables table in the censor's router
//! namespace. Rendering is pure (scenario + clock + addresses -> ruleset text), so it is unit
//! tested without privileges; applying replaces the whole table in one transaction.

use super::netns::CLIENT_IP;
use crate::clock::ScenarioTime;
use crate::kind::WorldKind;
use crate::scenario::{rule_in_force, Action, Rule, Scenario};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// The table's family and name inside the router namespace.
pub const TABLE: &str = "inet interfero";

/// Where a kernel rule's packets go: some addresses, or the whole service block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dest {
    /// These addresses.
    Addrs(BTreeSet<Ipv4Addr>),
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
}

/// The kernel-enforced rules in force at `t`. `addrs_of` gives the addresses of the sites a
/// rule's match names (an `address` site, or every site under a `domain`).
pub(crate) fn in_force(
    s: &Scenario,
    t: ScenarioTime,
    addrs_of: &dyn Fn(&Rule) -> BTreeSet<Ipv4Addr>,
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

fn daddr(dest: &Dest) -> Option<String> {
    match dest {
        Dest::All => Some(String::new()),
        Dest::Addrs(a) if a.is_empty() => None,
        Dest::Addrs(a) => {
            let list: Vec<String> = a.iter().map(Ipv4Addr::to_string).collect();
            Some(format!(" ip daddr {{ {} }}", list.join(", ")))
        }
    }
}

/// The whole table for `rules`: created if absent, emptied, refilled, atomically. Packets are
/// matched in the forward hook, from the client only: the control never crosses the router.
pub(crate) fn render(rules: &[KernelRule]) -> String {
    let mut body = String::new();
    for r in rules {
        let Some(to) = daddr(&r.dest) else { continue };
        let verdict = match r.action {
            Action::TcpDrop => "ip protocol tcp drop",
            // The SYN is dropped here; the injector answers it (see `inject`).
            Action::TcpReset => "ip protocol tcp drop",
            // A RST in answer to the SYN: exactly what a closed port sends.
            Action::TcpRefuse => "ip protocol tcp reject with tcp reset",
            Action::Shutdown => "drop",
            _ => continue,
        };
        let _ = writeln!(
            body,
            "\t\tip saddr {CLIENT_IP}{to} {verdict} comment \"{} {}\"",
            safe(&r.id),
            action_name(r.action)
        );
    }
    format!(
        "table {TABLE}\ndelete table {TABLE}\ntable {TABLE} {{\n\tchain forward {{\n\t\t\
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
    for r in rules {
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
            if taken.insert(*ip) && r.action == Action::TcpReset {
                out.insert(*ip);
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
        }
    }

    fn one(ip: [u8; 4]) -> Dest {
        Dest::Addrs([Ipv4Addr::from(ip)].into_iter().collect())
    }

    #[test]
    fn renders_each_action_in_order() {
        let text = render(&[
            rule("d", Action::TcpDrop, one([198, 19, 0, 10])),
            rule("r", Action::TcpRefuse, one([198, 19, 0, 11])),
            rule("x y", Action::TcpReset, one([198, 19, 0, 12])),
            rule("s", Action::Shutdown, Dest::All),
        ]);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert_eq!(lines[0], "table inet interfero");
        assert_eq!(lines[1], "delete table inet interfero");
        let i = lines
            .iter()
            .position(|l| l.starts_with("type filter"))
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
                        .map(Ipv4Addr::from)
                        .collect(),
                ),
            ),
        ];
        assert!(!render(&rules).contains("\"b "));
        let resets: Vec<Ipv4Addr> = reset_addrs(&rules).into_iter().collect();
        assert_eq!(resets, vec![Ipv4Addr::new(198, 19, 0, 13)]);
    }
}
