//! The two worlds a scenario can run in, and which part of each applies which censor rule.
//!
//! Userspace: the middlebox (the `World`'s listeners and resolvers) does everything it can;
//! `tcp.*` needs SYN-level filtering per source and is not emulated. Kernel: the same middlebox
//! runs in the servers namespace for what needs to read the traffic (DNS, SNI, Host, keyword,
//! SNI/Host throttles), while the router namespace's nftables and tc enforce what matches on
//! addresses and ports (`tcp.*`, `shutdown`, address throttles).

use crate::scenario::{Action, Rule};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which world a scenario runs in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorldKind {
    /// Loopback, no privileges.
    #[default]
    Userspace,
    /// Linux network namespaces, nftables and tc (root).
    Kernel,
}

impl WorldKind {
    /// `Err(reason)` when this world cannot emulate `rule`.
    pub fn emulates(self, rule: &Rule) -> Result<(), &'static str> {
        match (self, rule.action.kernel_only()) {
            (WorldKind::Userspace, Some(reason)) => Err(reason),
            (WorldKind::Userspace, None) if rule.at_hop => Err(
                "acts at its hop in a router on the path, which loopback does not have: kernel \
                 world only",
            ),
            _ => Ok(()),
        }
    }

    /// `Err(reason)` when this world cannot give the vantage point the IPv6 the scenario says.
    pub fn emulates_ipv6(self, v6: crate::scenario::VantageIpv6) -> Result<(), String> {
        match (self, v6) {
            (WorldKind::Userspace, crate::scenario::VantageIpv6::Absent) => Err(
                "ipv6 = \"absent\": loopback always has ::1, so a probe without any IPv6 route \
                 (network unreachable at once) needs the client namespace: kernel world only \
                 (userspace world)"
                    .into(),
            ),
            (WorldKind::Userspace, crate::scenario::VantageIpv6::Working) => Err(
                "ipv6 = \"working\": loopback has one IPv6 address (::1), so sites cannot each \
                 have their own: kernel world only (userspace world)"
                    .into(),
            ),
            _ => Ok(()),
        }
    }

    /// Whether the kernel (nftables/tc in the router namespace) enforces `rule` in this world.
    pub fn kernel_enforces(self, rule: &Rule) -> bool {
        self == WorldKind::Kernel
            && (rule.at_hop
                || match rule.action {
                    Action::TcpDrop | Action::TcpReset | Action::TcpRefuse | Action::Shutdown => {
                        true
                    }
                    // A rate limit on an address fits tc; SNI/Host throttles need to read the flow.
                    Action::Throttle => {
                        rule.matcher.address.is_some()
                            && rule.matcher.sni.is_none()
                            && rule.matcher.host.is_none()
                            && !rule.matcher.any
                    }
                    _ => false,
                })
    }

    /// Whether the userspace middlebox applies `rule` in this world.
    pub(crate) fn middlebox_applies(self, rule: &Rule) -> bool {
        self.emulates(rule).is_ok() && !self.kernel_enforces(rule)
    }
}

impl fmt::Display for WorldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WorldKind::Userspace => "userspace",
            WorldKind::Kernel => "kernel",
        })
    }
}

impl FromStr for WorldKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "userspace" => Ok(WorldKind::Userspace),
            "kernel" => Ok(WorldKind::Kernel),
            other => Err(format!(
                "unknown world {other:?}: expected userspace or kernel"
            )),
        }
    }
}
