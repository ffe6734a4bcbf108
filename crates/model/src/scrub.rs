//! Removing the probe user's own address from what a measurement recorded: pages and headers
//! often echo it ("your IP is ..."), and Interfero records nothing that identifies the person
//! who runs it.

use crate::measurement::{BinaryData, HttpResponse, TestKeys};

/// What replaces the address.
pub const PLACEHOLDER: &str = "[probe-address]";

fn scrub_bytes(bytes: &[u8], needle: &[u8], with: &[u8]) -> Option<Vec<u8>> {
    if needle.is_empty() || bytes.windows(needle.len()).all(|w| w != needle) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i..i + needle.len()) == Some(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.extend_from_slice(bytes.get(i..i + 1).unwrap_or_default());
            i += 1;
        }
    }
    Some(out)
}

fn scrub_response(r: &mut HttpResponse, needle: &str) -> usize {
    let mut n = 0;
    for (_, v) in r.headers_list.iter_mut() {
        if v.contains(needle) {
            *v = v.replace(needle, PLACEHOLDER);
            n += 1;
        }
    }
    if let Some(t) = r.x_title.as_mut().filter(|t| t.contains(needle)) {
        *t = t.replace(needle, PLACEHOLDER);
        n += 1;
    }
    match r.body.as_mut() {
        Some(BinaryData::Text(s)) if s.contains(needle) => {
            *s = s.replace(needle, PLACEHOLDER);
            n += 1;
        }
        Some(BinaryData::Encoded { data, .. }) => {
            let raw = crate::base64::decode(data);
            if let Some(clean) = scrub_bytes(&raw, needle.as_bytes(), PLACEHOLDER.as_bytes()) {
                *data = crate::base64::encode(&clean);
                n += 1;
            }
        }
        _ => {}
    }
    n
}

impl TestKeys {
    /// Replaces every occurrence of `address` (the probe's own public address, as the control
    /// saw it) in recorded responses with [`PLACEHOLDER`]; how many fields were changed.
    pub fn scrub_address(&mut self, address: &str) -> usize {
        // Too short to be an address: replacing it would mangle unrelated text.
        if address.len() < 7 {
            return 0;
        }
        self.requests
            .iter_mut()
            .map(|rt| scrub_response(&mut rt.response, address))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measurement::HttpRoundTrip;

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
}
