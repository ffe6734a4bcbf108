//! Removing the probe user's own address from what a measurement recorded: pages, headers,
//! redirect URLs and the names of redirect hops often echo it ("your IP is ...",
//! `?from=203.0.113.7`, `203-0-113-7.isp.example`), and Interfero records nothing that
//! identifies the person who runs it.
//!
//! Every string of the measurement is searched (a walk over its JSON form, so a field added
//! later is covered too), binary bodies after decoding, for every spelling of the address:
//! dotted, dashed, underscored, reversed (PTR names), percent-encoded, base64, and IPv6's
//! compressed, expanded and dashed forms, in any letter case.

use crate::measurement::TestKeys;
use serde_json::Value;
use std::net::IpAddr;

/// What replaces the address.
pub const PLACEHOLDER: &str = "[probe-address]";

/// One spelling of the address to look for.
#[derive(Debug, Clone)]
struct Needle {
    /// The spelling (lower case when `fold`).
    text: Vec<u8>,
    /// Compared without regard to ASCII case.
    fold: bool,
    /// Only where the bytes around are not part of a longer number or address.
    bounded: bool,
    /// An IPv6 spelling (hex digits and colons continue it), else an IPv4 one (digits do).
    v6: bool,
}

/// Every spelling of one or more addresses.
#[derive(Debug, Clone, Default)]
pub struct Forms {
    needles: Vec<Needle>,
    v6: bool,
}

impl Forms {
    /// The spellings of `address` (an IP address; anything else of 7 bytes or more is looked
    /// for as written). `None` for what is too short to search for without mangling text,
    /// and for loopback and unspecified addresses.
    pub fn new(address: &str) -> Option<Forms> {
        let address = address.trim().trim_matches(|c| c == '[' || c == ']');
        let mut texts: Vec<(String, bool)> = Vec::new();
        let v6 = match address.parse::<IpAddr>() {
            // The address of this machine to itself (a control beside the probe, a lab)
            // identifies no one; scrubbing it would erase the lab's own addresses.
            Ok(ip) if ip.is_loopback() || ip.is_unspecified() => return None,
            Ok(IpAddr::V4(v4)) => {
                let o = v4.octets();
                let [a, b, c, d] = o.map(|x| x.to_string());
                for sep in [".", "-", "_", "%2e"] {
                    texts.push(([&a, &b, &c, &d].map(|s| s.as_str()).join(sep), true));
                    texts.push(([&d, &c, &b, &a].map(|s| s.as_str()).join(sep), true));
                }
                false
            }
            Ok(IpAddr::V6(v6)) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return Forms::new(&v4.to_string()).map(|mut f| {
                        f.add(&v6.to_string(), true);
                        f
                    });
                }
                let short = v6.to_string();
                let seg = v6.segments();
                let full = seg.map(|s| format!("{s:04x}")).join(":");
                let plain = seg.map(|s| format!("{s:x}")).join(":");
                for s in [&short, &full, &plain] {
                    texts.push((s.clone(), true));
                    texts.push((s.replace(':', "-"), true));
                    texts.push((s.replace(':', "%3a"), true));
                }
                true
            }
            Err(_) if address.len() >= 7 => {
                texts.push((address.to_ascii_lowercase(), true));
                false
            }
            Err(_) => return None,
        };
        let mut f = Forms {
            needles: Vec::new(),
            v6,
        };
        let canonical = texts.first().map(|t| t.0.clone()).unwrap_or_default();
        for (t, bounded) in texts {
            f.add(&t, bounded);
        }
        // Base64 of the address as text (`?u=MjAzLjAuMTEzLjc`): case matters, no bounds.
        let b64 = crate::base64::encode(canonical.as_bytes());
        let b64 = b64.trim_end_matches('=');
        for s in [b64.to_string(), b64.replace('+', "-").replace('/', "_")] {
            f.needles.push(Needle {
                text: s.into_bytes(),
                fold: false,
                bounded: false,
                v6,
            });
        }
        f.needles.sort_by_key(|n| std::cmp::Reverse(n.text.len()));
        Some(f)
    }

    /// Adds the spellings of another address (ignored when too short to search for).
    pub fn extend(&mut self, address: &str) {
        if let Some(other) = Forms::new(address) {
            for n in other.needles {
                if !self.needles.iter().any(|m| m.text == n.text) {
                    self.needles.push(n);
                }
            }
        }
        self.needles
            .sort_by_key(|n| std::cmp::Reverse(n.text.len()));
    }

    /// Nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    fn add(&mut self, text: &str, bounded: bool) {
        let text = text.to_ascii_lowercase().into_bytes();
        if !self.needles.iter().any(|n| n.text == text) {
            self.needles.push(Needle {
                text,
                fold: true,
                bounded,
                v6: self.v6,
            });
        }
    }

    fn continues(v6: bool, b: u8) -> bool {
        if v6 {
            b.is_ascii_hexdigit() || b == b':'
        } else {
            b.is_ascii_digit()
        }
    }

    /// `bytes` with every spelling replaced by [`PLACEHOLDER`]; `None` when none occurs.
    /// Longer spellings go first, so an address inside a longer one's form is not cut.
    pub fn scrub_bytes(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut cur: Option<Vec<u8>> = None;
        for n in &self.needles {
            let hay = cur.as_deref().unwrap_or(bytes);
            if let Some(next) = self.replace(hay, n) {
                cur = Some(next);
            }
        }
        cur
    }

    /// `s` with every spelling replaced; `None` when none occurs.
    pub fn scrub_str(&self, s: &str) -> Option<String> {
        // Every needle and the placeholder are ASCII: replacing whole matches keeps UTF-8.
        self.scrub_bytes(s.as_bytes())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    fn replace(&self, hay: &[u8], n: &Needle) -> Option<Vec<u8>> {
        let len = n.text.len();
        if len == 0 || hay.len() < len {
            return None;
        }
        let matches_at = |i: usize| {
            let w = &hay[i..i + len];
            let same = if n.fold {
                w.eq_ignore_ascii_case(&n.text)
            } else {
                w == n.text.as_slice()
            };
            same && (!n.bounded
                || ((i == 0 || !Self::continues(n.v6, hay[i - 1]))
                    && hay.get(i + len).is_none_or(|&b| !Self::continues(n.v6, b))))
        };
        let mut out: Option<Vec<u8>> = None;
        let mut i = 0;
        let mut copied = 0;
        while i + len <= hay.len() {
            if matches_at(i) {
                let o = out.get_or_insert_with(|| Vec::with_capacity(hay.len()));
                o.extend_from_slice(&hay[copied..i]);
                o.extend_from_slice(PLACEHOLDER.as_bytes());
                i += len;
                copied = i;
            } else {
                i += 1;
            }
        }
        let mut o = out?;
        o.extend_from_slice(&hay[copied..]);
        Some(o)
    }

    /// Scrubs every string in a JSON value (binary bodies decoded first); how many changed.
    pub fn scrub_value(&self, v: &mut Value) -> usize {
        match v {
            Value::String(s) => match self.scrub_str(s) {
                Some(clean) => {
                    *s = clean;
                    1
                }
                None => 0,
            },
            Value::Array(a) => a.iter_mut().map(|x| self.scrub_value(x)).sum(),
            Value::Object(m) => {
                let encoded = m.get("format").and_then(Value::as_str) == Some("base64");
                if let (true, Some(Value::String(data))) = (encoded, m.get_mut("data")) {
                    let raw = crate::base64::decode(data);
                    if let Some(clean) = self.scrub_bytes(&raw) {
                        *data = crate::base64::encode(&clean);
                        return 1;
                    }
                    return 0;
                }
                m.values_mut().map(|x| self.scrub_value(x)).sum()
            }
            _ => 0,
        }
    }
}

impl TestKeys {
    /// Replaces every spelling of `address` (the probe's own public address) anywhere in the
    /// recorded observations with [`PLACEHOLDER`]; how many fields were changed.
    pub fn scrub_address(&mut self, address: &str) -> usize {
        match Forms::new(address) {
            Some(f) => self.scrub_forms(&f),
            None => 0,
        }
    }

    /// [`TestKeys::scrub_address`] for addresses already spelled out.
    pub fn scrub_forms(&mut self, f: &Forms) -> usize {
        let Ok(mut v) = serde_json::to_value(&*self) else {
            return 0;
        };
        let n = f.scrub_value(&mut v);
        if n > 0 {
            match serde_json::from_value::<TestKeys>(v) {
                Ok(clean) => *self = clean,
                // Cannot happen for a value this type wrote; if it did, keep no page at all
                // rather than one that names the user.
                Err(_) => self.requests.clear(),
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measurement::{BinaryData, HttpRoundTrip};

    #[test]
    fn text_binary_headers_and_titles_lose_the_address() {
        let ip = "203.0.113.77";
        let mut tk = TestKeys::default();
        let mut rt = HttpRoundTrip::default();
        rt.response.headers_list = vec![("X-Client-IP".into(), ip.into())];
        rt.response.x_title = Some(format!("Your IP: {ip}"));
        rt.response.body = Some(BinaryData::Text(format!("<p>{ip}</p><p>{ip}</p>")));
        let mut bin = rt.clone();
        bin.response.body = Some(BinaryData::Encoded {
            format: "base64".into(),
            data: crate::base64::encode(format!("\u{0}\u{1}{ip}\u{2}").as_bytes()),
        });
        tk.requests = vec![rt, bin];
        assert_eq!(tk.scrub_address(ip), 6);
        let json = serde_json::to_string(&tk).unwrap();
        assert!(!json.contains(ip), "{json}");
        assert!(tk.requests[0].response.body_text().contains(PLACEHOLDER));
        assert!(tk.requests[1].response.body_text().contains(PLACEHOLDER));
        // A second pass finds nothing; a too-short needle is refused.
        assert_eq!(tk.scrub_address(ip), 0);
        assert_eq!(tk.scrub_address("1.2"), 0);
    }

    #[test]
    fn every_spelling_goes_and_longer_numbers_stay() {
        let f = Forms::new("203.0.113.7").unwrap();
        let b64 = crate::base64::encode(b"203.0.113.7");
        let b64 = b64.trim_end_matches('=');
        for s in [
            "http://block.isp/?from=203.0.113.7&x=1".to_string(),
            "203-0-113-7.dyn.isp.example".into(),
            "7.113.0.203.in-addr.arpa".into(),
            "ip=203%2E0%2E113%2E7".into(),
            "host_203_0_113_7".into(),
            format!("?u={b64}"),
        ] {
            let clean = f.scrub_str(&s).unwrap_or_else(|| panic!("{s} kept"));
            assert!(clean.contains(PLACEHOLDER), "{clean}");
            assert!(!clean.contains("113"), "{clean}");
        }
        assert_eq!(f.scrub_str("203.0.113.70 and 1203.0.113.7"), None);
        let f = Forms::new("2001:db8::42").unwrap();
        for s in [
            "you are 2001:DB8::42",
            "2001:0db8:0000:0000:0000:0000:0000:0042",
            "2001-db8--42.ipv6-literal.example",
            "a=2001%3Adb8%3A%3A42",
        ] {
            assert!(f.scrub_str(s).is_some(), "{s} kept");
        }
        assert_eq!(f.scrub_str("2001:db8::421"), None);
    }

    #[test]
    fn redirect_urls_and_hop_names_are_scrubbed() {
        let mut tk = TestKeys::default();
        let mut rt = HttpRoundTrip::default();
        rt.request.url = "http://warning.isp/?from=198.51.100.23".into();
        tk.requests = vec![rt];
        tk.queries = vec![crate::measurement::DnsQuery {
            hostname: "198-51-100-23.pool.isp.example".into(),
            ..Default::default()
        }];
        assert!(tk.scrub_address("198.51.100.23") >= 2);
        let json = serde_json::to_string(&tk).unwrap();
        assert!(
            !json.contains("198.51.100.23") && !json.contains("198-51-100-23"),
            "{json}"
        );
    }
}
