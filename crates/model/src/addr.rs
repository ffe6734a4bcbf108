//! Address facts: which addresses no public site lives at. A fact, not a verdict: the probe
//! flags such addresses in the control's `ip_info`, the analysis judges them against the
//! control's own addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
                || (a == 192 && b == 88 && c == 99)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            // An IPv6 form that carries an IPv4 address (mapped, compatible, NAT64, 6to4) is
            // as private as the address it carries: `::ffff:127.0.0.1` is loopback.
            if let Some(v4) = embedded_v4(v6) {
                return is_bogon(IpAddr::V4(v4));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] & 0xffc0) == 0xfec0
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)
                || (seg[0] == 0x2001 && seg[1] < 0x0200)
                || (seg[0] == 0x0100 && seg[1..4] == [0, 0, 0])
                || (seg[0] == 0x3fff && seg[1] < 0x1000)
                || seg[0] < 0x2000
        }
    }
}

/// The IPv4 address an IPv6 address carries, for the forms that route to it: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4
/// (`2002:AABB:CCDD::/48`).
pub fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = v6.segments();
    let o = v6.octets();
    let last = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    if seg[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
        return Some(last);
    }
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(last);
    }
    if seg[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

/// Where a measurer may send packets: which destinations it connects to on a caller's behalf.
///
/// A fact about addresses, enforced by the probe's network code before any packet leaves: a
/// refused destination is recorded as [`crate::Failure::DestinationRefused`], never sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Scope {
    /// Anywhere: a probe measuring the user's own network, private hosts included.
    #[default]
    Any,
    /// Public addresses only (not [`is_bogon`]): a control exposed to the internet, so that a
    /// caller cannot make it reach loopback, private networks or cloud metadata.
    Public,
    /// Loopback, 198.18.0.0/15 and 2001:2::/48 only: the lab, which must never send a packet
    /// off the machine or out of the namespaces it made.
    Lab,
}

impl Scope {
    /// True when a connection to `ip` is allowed.
    pub fn permits(self, ip: IpAddr) -> bool {
        match self {
            Scope::Any => true,
            Scope::Public => !is_bogon(ip),
            Scope::Lab => is_lab(ip),
        }
    }

    /// True when the measurer's own infrastructure (its resolver, canaries) may be at `ip`:
    /// the operator chose those, so only the lab confines them.
    pub fn permits_infrastructure(self, ip: IpAddr) -> bool {
        match self {
            Scope::Lab => is_lab(ip),
            _ => true,
        }
    }
}

/// True for the lab's own ranges: loopback (127.0.0.0/8, ::1), 198.18.0.0/15 (also in their
/// IPv4-mapped IPv6 spelling) and its IPv6 twin 2001:2::/48 (RFC 5180, benchmarking), which
/// the kernel world uses inside its namespaces.
pub fn is_lab(ip: IpAddr) -> bool {
    let v4 = match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) if v6.is_loopback() => return true,
        IpAddr::V6(v6) if v6.segments()[..3] == [0x2001, 0x0002, 0] => return true,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4,
            None => return false,
        },
    };
    v4.is_loopback() || matches!(v4.octets(), [198, 18 | 19, ..])
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
            "169.254.169.254",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
            "2002:a00:1::1",
            "fec0::1",
            "ff02::1",
            "100::1",
            "2001::1",
            "::",
            "0.0.0.0",
            "233.252.0.35",
            "255.255.255.255",
        ] {
            assert!(is_bogon(b.parse().unwrap()), "{b}");
        }
        for g in [
            "185.12.1.1",
            "2a00:1450::1",
            "93.184.216.34",
            "::ffff:93.184.216.34",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
        ] {
            assert!(!is_bogon(g.parse().unwrap()), "{g}");
        }
    }

    #[test]
    fn scopes() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for private in [
            "127.0.0.1",
            "::1",
            "10.0.0.1",
            "::ffff:127.0.0.1",
            "169.254.169.254",
        ] {
            assert!(!Scope::Public.permits(ip(private)), "{private}");
            assert!(Scope::Any.permits(ip(private)), "{private}");
        }
        assert!(Scope::Public.permits(ip("93.184.216.34")));
        for lab in [
            "127.0.0.1",
            "127.80.1.2",
            "::1",
            "198.18.3.4",
            "198.19.0.1",
            "::ffff:127.0.0.1",
            "2001:2::1",
            "2001:2:0:ff::a",
            "2001:2:0:ffff:ffff:ffff:ffff:ffff",
        ] {
            assert!(Scope::Lab.permits(ip(lab)), "{lab}");
        }
        for away in [
            "10.10.34.35",
            "93.184.216.34",
            "169.254.169.254",
            "233.252.0.35",
            "2a00::1",
            // Beside the benchmarking /48: its neighbours and the documentation range (the
            // lab's scope is a list of what it accepts, so every other range is refused alike).
            "2001:2:1::1",
            "2001:3::1",
            "2001:1::1",
            "2001:db8::1",
        ] {
            assert!(!Scope::Lab.permits(ip(away)), "{away}");
            assert!(!Scope::Lab.permits_infrastructure(ip(away)), "{away}");
        }
        assert!(Scope::Public.permits_infrastructure(ip("127.0.0.53")));
    }
}
