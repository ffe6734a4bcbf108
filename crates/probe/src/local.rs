//! This device's own global addresses: a device with a public IPv4 address of its own, or
//! any IPv6 one, is seen by every site under one of them, so they are scrubbed from what it
//! records even when no control reports the public address.

use std::net::IpAddr;

/// A public address (not loopback, private, link-local, CGNAT, documentation or reserved).
fn is_global(ip: IpAddr) -> bool {
    !interfero_model::addr::is_bogon(ip)
}

/// The global addresses on this device's interfaces (empty when they cannot be listed).
pub fn global_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we only read and then free once; std and
    // the crates in use offer no listing of interface addresses.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut cur = head;
        while !cur.is_null() {
            let sa = (*cur).ifa_addr;
            if !sa.is_null() {
                let ip = match i32::from((*sa).sa_family) {
                    libc::AF_INET => {
                        let sin = &*(sa as *const libc::sockaddr_in);
                        Some(IpAddr::from(
                            u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                        ))
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(sa as *const libc::sockaddr_in6);
                        Some(IpAddr::from(sin6.sin6_addr.s6_addr))
                    }
                    _ => None,
                };
                if let Some(ip) = ip.filter(|ip| is_global(*ip) && !out.contains(ip)) {
                    out.push(ip);
                }
            }
            cur = (*cur).ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_without_loopback() {
        let all = super::global_addresses();
        assert!(all.iter().all(|ip| !ip.is_loopback()), "{all:?}");
    }
}
