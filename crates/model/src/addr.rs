//! Address facts: which addresses no public site lives at. A fact, not a verdict: the probe
//! flags such addresses in the control's `ip_info`, the analysis judges them against the
//! control's own addresses.

use std::net::IpAddr;

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

    #[test]
    fn bogons() {
        for b in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "198.18.0.1",
        ] {
            assert!(is_bogon(b.parse().unwrap()), "{b}");
        }
        for g in ["185.12.1.1", "2a00:1450::1", "93.184.216.34"] {
            assert!(!is_bogon(g.parse().unwrap()), "{g}");
        }
    }
}
