//! Address throttles as tc htb classes on the censor router's interface toward the client
//! (responses flow that way). netem is absent on these kernels; htb and u32 are present.

use super::nft::{Dest, KernelRule};
use crate::scenario::Action;
use std::fmt::Write as _;

pub(crate) use super::netns::TOWARD_CLIENT;

/// How long a throttled class's queue may hold, at its rate. Without a leaf qdisc an htb class
/// queues as many packets as the interface's txqueuelen (1,000: 47 s at 256 kbit/s), a buffer
/// no shaper on a real path has: every new connection's handshake would wait behind it. Real
/// shapers buffer up to about a second and drop beyond, as policers drop at once; a quarter of a
/// second made two flows through one class share it unfairly under loss, so one leg of a
/// congested path's pair looked throttled.
pub(crate) const QUEUE_MS: u64 = 1000;

/// The fewest bytes a throttled class may queue: a few full-size packets, so that a slow rate
/// still moves whole segments.
const QUEUE_MIN_BYTES: u64 = 4 * 1514;

/// The byte limit of a class throttled to `kbps`.
fn queue_bytes(kbps: u32) -> u64 {
    (u64::from(kbps) * 1000 / 8 * QUEUE_MS / 1000).max(QUEUE_MIN_BYTES)
}

/// A `tc -batch` script: an htb root whose default class is unlimited and one class per
/// throttled address, each with a short byte-limited queue ([`QUEUE_MS`]), or `None` when
/// nothing is throttled (the root qdisc is then removed).
pub(crate) fn render(rules: &[KernelRule]) -> Option<String> {
    let dev = TOWARD_CLIENT;
    let mut out = format!(
        "qdisc add dev {dev} root handle 1: htb default 1\n\
         class add dev {dev} parent 1: classid 1:1 htb rate 10gbit\n"
    );
    let mut class = 16u32;
    for r in rules.iter().filter(|r| r.action == Action::Throttle) {
        let (Dest::Addrs(addrs), Some(kbps)) = (&r.dest, r.rate_kbps) else {
            continue;
        };
        for ip in addrs {
            // u32 matches each family's source field: `ip src …/32` or `ip6 src …/128`.
            let (proto, key, len) = if ip.is_ipv6() {
                ("ipv6", "ip6", 128)
            } else {
                ("ip", "ip", 32)
            };
            let _ = writeln!(
                out,
                "class add dev {dev} parent 1: classid 1:{class:x} htb rate {kbps}kbit ceil {kbps}kbit\n\
                 qdisc add dev {dev} parent 1:{class:x} handle {class:x}: bfifo limit {}\n\
                 filter add dev {dev} parent 1: protocol {proto} prio 1 u32 match {key} src {ip}/{len} flowid 1:{class:x}",
                queue_bytes(kbps)
            );
            class += 1;
        }
    }
    (class > 16).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn one_class_per_throttled_address() {
        let v6: IpAddr = "2001:2::c613:14".parse().unwrap();
        let rule = KernelRule {
            id: "t".into(),
            action: Action::Throttle,
            dest: Dest::Addrs(
                [IpAddr::V4(Ipv4Addr::new(198, 19, 0, 20)), v6]
                    .into_iter()
                    .collect(),
            ),
            rate_kbps: Some(128),
            at_hop: false,
        };
        let text = render(&[rule]).unwrap();
        assert!(text.contains("classid 1:10 htb rate 128kbit ceil 128kbit"));
        // A short queue under each class, never the interface's 1,000 packets.
        assert!(text.contains("qdisc add dev"), "{text}");
        assert!(
            text.contains("parent 1:10 handle 10: bfifo limit 16000"),
            "{text}"
        );
        assert_eq!((queue_bytes(2048), queue_bytes(8)), (256_000, 6056));
        assert!(text.contains("protocol ip prio 1 u32 match ip src 198.19.0.20/32 flowid 1:10"));
        assert!(
            text.contains("protocol ipv6 prio 1 u32 match ip6 src 2001:2::c613:14/128 flowid 1:11")
        );
        assert!(render(&[]).is_none());
    }
}
