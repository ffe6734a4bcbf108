//! What a measurement keeps about the person who made it: their public address is scrubbed
//! from every recorded string ([`crate::scrub`]); the addresses on their side of the network
//! (a resolver or router in a private range: often their home router) are replaced by
//! placeholders; and the measurement says how complete the scrubbing was.

use crate::scrub::Forms;
use crate::Measurement;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Replaces a resolver address on the user's side of the network.
pub const LOCAL_RESOLVER: &str = "[local-resolver]";
/// Replaces a router address on the user's side at the start of a trace.
pub const NEAR_HOP: &str = "[near-hop]";

/// How the user's address was scrubbed from one measurement (`test_keys.x_address_scrub`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AddressScrub {
    /// The public address was known (the control reported the address it saw) and scrubbed.
    pub public_address: bool,
    /// Global addresses of this device's own interfaces scrubbed too (a device with a public
    /// address of its own, or IPv6).
    pub device_addresses: usize,
    /// Fields changed.
    pub replaced: usize,
    /// When the public address was not known: why, and what that means for this record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}

/// On the user's side of the network: private, CGNAT and link-local ranges (a home router, a
/// carrier's NAT). Loopback (a local stub resolver, a lab) and public addresses are not.
pub fn is_user_side(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private() || v4.is_link_local() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let s0 = v6.segments()[0];
            (s0 & 0xfe00) == 0xfc00
                || (s0 & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_user_side(IpAddr::V4(v4)))
        }
    }
}

fn host_of(addr: &str) -> Option<IpAddr> {
    addr.parse::<std::net::SocketAddr>()
        .map(|s| s.ip())
        .or_else(|_| addr.trim_matches(|c| c == '[' || c == ']').parse())
        .ok()
}

fn replace_in(s: &mut String, from: &str, to: &str) {
    if s.contains(from) {
        *s = s.replace(from, to);
    }
}

impl Measurement {
    /// Makes the measurement forget its user: every spelling of `public` (the address the
    /// control saw, if any) and of `device` (this device's global addresses) is scrubbed from
    /// the observations and the verdict; a resolver on the user's side of the network and the
    /// user-side routers that begin a trace are replaced by placeholders. Records in
    /// `test_keys.x_address_scrub` what was done, and says so when the public address was not
    /// known (`why_unknown`).
    pub fn forget_user(&mut self, public: Option<&str>, device: &[IpAddr], why_unknown: &str) {
        let mut forms = Forms::default();
        if let Some(p) = public {
            forms.extend(p);
        }
        let device: Vec<IpAddr> = device
            .iter()
            .copied()
            .filter(|ip| Some(ip.to_string().as_str()) != public)
            .collect();
        for ip in &device {
            forms.extend(&ip.to_string());
        }
        let mut replaced = 0;
        if !forms.is_empty() {
            let f = &forms;
            replaced += self.test_keys.scrub_forms(f);
            if let Some(v) = self.verdict.as_mut() {
                for e in v.evidence.iter_mut() {
                    if let Some(clean) = f.scrub_str(e) {
                        *e = clean;
                        replaced += 1;
                    }
                }
            }
        }
        replaced += self.forget_user_side();
        self.test_keys.x_address_scrub = Some(AddressScrub {
            public_address: public.is_some(),
            device_addresses: device.len(),
            replaced,
            incomplete: public.is_none().then(|| {
                format!(
                    "{why_unknown}: the public address was not known, so a page, header or \
                     redirect that echoes it may still hold it (addresses of this device \
                     were scrubbed)"
                )
            }),
        });
    }

    /// Replaces user-side resolver and near-hop addresses; how many fields changed.
    fn forget_user_side(&mut self) -> usize {
        let mut secrets: Vec<(String, &'static str)> = Vec::new();
        let tk = &mut self.test_keys;
        let mut n = 0;
        for q in tk.queries.iter_mut() {
            if host_of(&q.resolver_address).is_some_and(is_user_side) {
                secrets.push((q.resolver_address.clone(), LOCAL_RESOLVER));
                q.resolver_address = LOCAL_RESOLVER.into();
                n += 1;
            }
        }
        if let Some(r) = tk.client_resolver.as_mut() {
            if host_of(r).is_some_and(is_user_side) {
                secrets.push((r.clone(), LOCAL_RESOLVER));
                *r = LOCAL_RESOLVER.into();
                n += 1;
            }
        }
        if let Some(t) = tk.x_trace.as_mut() {
            if host_of(&t.request.address).is_some_and(is_user_side) {
                secrets.push((t.request.address.clone(), LOCAL_RESOLVER));
                t.request.address = LOCAL_RESOLVER.into();
                n += 1;
            }
            // The routers nearest the user, up to the first public one: their home router,
            // their carrier's NAT.
            for hops in [&mut t.hops, &mut t.control] {
                'path: for hop in hops.iter_mut() {
                    for e in hop.events.iter_mut() {
                        let Some(from) = e.from.as_mut() else {
                            continue;
                        };
                        if !host_of(from).is_some_and(is_user_side) {
                            break 'path;
                        }
                        secrets.push((from.clone(), NEAR_HOP));
                        *from = NEAR_HOP.into();
                        n += 1;
                    }
                }
            }
        }
        // The same addresses in words: the verdict's evidence and the censor's location.
        secrets.sort();
        secrets.dedup();
        // Longest first, so `192.168.1.1:53` goes before `192.168.1.1`.
        secrets.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        if let Some(v) = self.verdict.as_mut() {
            for (s, with) in &secrets {
                let bare = host_of(s).map(|ip| ip.to_string()).unwrap_or_default();
                for e in v.evidence.iter_mut() {
                    replace_in(e, s, with);
                    if !bare.is_empty() {
                        replace_in(e, &bare, with);
                    }
                }
                if let Some(c) = v.x_censor.as_mut() {
                    for f in [&mut c.reason].into_iter().chain(c.router.as_mut()) {
                        replace_in(f, s, with);
                        if !bare.is_empty() {
                            replace_in(f, &bare, with);
                        }
                    }
                }
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measurement::DnsQuery;
    use crate::trace::{HopEvent, Trace, TraceHop};
    use crate::{Status, Verdict};

    fn hop(ttl: u8, from: &str) -> TraceHop {
        TraceHop {
            ttl,
            events: vec![HopEvent {
                kind: "time_exceeded".into(),
                from: Some(from.into()),
                ..Default::default()
            }],
            failure: None,
        }
    }

    #[test]
    fn home_router_resolver_and_near_hops_are_forgotten_the_censor_is_not() {
        let mut m = Measurement::default();
        m.test_keys.client_resolver = Some("192.168.1.1:53".into());
        m.test_keys.queries = vec![DnsQuery {
            resolver_address: "192.168.1.1:53".into(),
            ..Default::default()
        }];
        m.test_keys.x_trace = Some(Trace {
            hops: vec![
                hop(1, "192.168.1.1"),
                hop(2, "100.64.0.1"),
                hop(3, "198.51.100.9"),
                hop(4, "10.9.9.9"),
            ],
            ..Default::default()
        });
        m.verdict = Some(Verdict::new(Status::Blocked, 0.9, "x").because(
            "resolver 192.168.1.1:53 answered NXDOMAIN; time-exceeded from hop 1 (192.168.1.1)",
        ));
        m.forget_user(Some("203.0.113.7"), &[], "");
        let json = serde_json::to_string(&m).unwrap();
        assert!(
            !json.contains("192.168.1.1") && !json.contains("100.64.0.1"),
            "{json}"
        );
        // Past the first public router the path is the network's, not the user's.
        assert!(
            json.contains("198.51.100.9") && json.contains("10.9.9.9"),
            "{json}"
        );
        let s = m.test_keys.x_address_scrub.unwrap();
        assert!(s.public_address && s.incomplete.is_none());
    }

    #[test]
    fn without_a_public_address_the_measurement_says_so() {
        let mut m = Measurement::default();
        m.test_keys.requests = vec![Default::default()];
        m.test_keys.requests[0].request.url = "http://x/?ip=2001:db8:1::5".into();
        let device: Vec<IpAddr> = vec!["2001:db8:1::5".parse().unwrap()];
        m.forget_user(None, &device, "no --control");
        assert!(!m.test_keys.requests[0].request.url.contains("2001"));
        let s = m.test_keys.x_address_scrub.unwrap();
        assert!(!s.public_address);
        assert!(s.incomplete.unwrap().starts_with("no --control"));
    }
}
