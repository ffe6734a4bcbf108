//! Address classes that matter to DNS consistency.

pub use interfero_model::addr::is_bogon;
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
