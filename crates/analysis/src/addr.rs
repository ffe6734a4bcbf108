//! Address classes that matter to DNS consistency.

use std::net::IpAddr;

/// The reserved class an address belongs to (`loopback`, `private`, `benchmark` ...), or `None`
/// for a public address.
pub fn reserved_class(ip: IpAddr) -> Option<&'static str> {
    if !is_bogon(ip) {
        return None;
    }
    let v4 = match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    };
    Some(match (ip, v4) {
        (_, Some(v)) if v.is_loopback() => "loopback",
        (_, Some(v)) if v.is_private() => "private",
        (_, Some(v)) if matches!(v.octets(), [198, 18 | 19, ..]) => "benchmark",
        (_, Some(v)) if matches!(v.octets(), [100, 64..=127, ..]) => "cgnat",
        (_, Some(v)) if v.is_link_local() => "link-local",
        (IpAddr::V6(v6), None) if v6.is_loopback() => "loopback",
        (IpAddr::V6(v6), None) if (v6.segments()[0] & 0xfe00) == 0xfc00 => "private",
        _ => "reserved",
    })
}

/// True for an answer that is a bogon *for this site*: a reserved address in a class that the
/// control's own addresses for the site do not share. A site that really lives in such a range
/// (an intranet, a lab on loopback or 198.18.0.0/15) is recognised by the control resolving it
/// there too, without exempting any range by name.
pub fn is_bogon_for(ip: IpAddr, control_addrs: &[IpAddr]) -> bool {
    match reserved_class(ip) {
        None => false,
        Some(class) => !control_addrs
            .iter()
            .any(|c| reserved_class(*c) == Some(class)),
    }
}

/// True for addresses no public site lives at: private, loopback, link-local, CGNAT, reserved,
/// documentation, multicast, unspecified (IPv4 and IPv6).
///
/// Loopback and 198.18.0.0/15 are bogons like the rest; a lab that lives there is recognised by
/// the control resolving the same addresses (see the DNS rules), not by exempting ranges here.
pub fn is_bogon(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_bogon(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> bool {
        is_bogon(s.parse().unwrap())
    }

    #[test]
    fn classes() {
        for s in [
            "10.0.0.1",
            "127.0.0.1",
            "192.168.1.1",
            "172.16.0.1",
            "100.64.0.1",
            "0.0.0.0",
        ] {
            assert!(b(s), "{s}");
        }
        for s in ["::1", "fd00::1", "fe80::1", "::ffff:10.0.0.1"] {
            assert!(b(s), "{s}");
        }
        for s in ["93.184.216.34", "185.12.1.2", "2a00:1450::1", "172.32.0.1"] {
            assert!(!b(s), "{s}");
        }
    }

    #[test]
    fn bogon_relative_to_the_control() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let lab = [ip("127.80.1.10")];
        assert!(
            !is_bogon_for(ip("127.80.1.99"), &lab),
            "same world as the site"
        );
        assert!(
            is_bogon_for(ip("10.10.34.35"), &lab),
            "private while the site is on loopback"
        );
        assert!(is_bogon_for(ip("127.0.0.1"), &[ip("93.184.216.34")]));
        assert!(!is_bogon_for(ip("93.184.216.34"), &[]));
    }
}
