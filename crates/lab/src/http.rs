//! Minimal HTTP/1.1 for the lab: read one request (bounded, hostile input), write one response,
//! and the pages that origins, the censor and the blockpage server send.

use crate::util::random_u64;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Largest request head accepted.
const HEAD_MAX: usize = 16 * 1024;
/// How long a client may take to send its request head.
const HEAD_WAIT: Duration = Duration::from_secs(10);

/// The body of the censor's blockpage. It contains `<title>Web Page Blocked</title>`, the
/// `contains`-on-body pattern of OONI fingerprint `ooni.hu_1` (a generic filter product page),
/// so a fingerprint matcher can confirm it; the rest is Kazakh-flavoured lab copy.
pub const BLOCKPAGE_BODY: &str = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
<title>Web Page Blocked</title></head><body>\n<h1>Доступ к ресурсу ограничен / Ресурсқа қол жеткізу шектелген</h1>\n\
<p>Access to this resource has been restricted in accordance with the legislation of the \
Republic of Kazakhstan. (Interfero lab blockpage: fictional copy, for accuracy testing.)</p>\n\
</body></html>\n";

/// What `http.replace` serves: different content that matches no blockpage fingerprint.
pub const REPLACED_BODY: &str = "<!DOCTYPE html>\n<html><head><title>Portal</title></head>\
<body><p>Information portal. Nothing to see here.</p></body></html>\n";

/// One parsed request head.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    /// The path (origin-form), `/` when absent.
    pub path: String,
    /// The Host header without port, lowercased (empty when absent).
    pub host: String,
}

/// Reads one request head; `None` if the client sends garbage, too much, or nothing in time.
pub(crate) async fn read_request<S: AsyncRead + Unpin>(s: &mut S) -> Option<Request> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let read = tokio::time::timeout(HEAD_WAIT, async {
        loop {
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(chunk.get(..n)?);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                return Some(());
            }
            if buf.len() > HEAD_MAX {
                return None;
            }
        }
    })
    .await;
    read.ok().flatten()?;
    parse_head(&String::from_utf8_lossy(&buf))
}

fn parse_head(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let mut parts = lines.next()?.split_whitespace();
    let (_method, target) = (parts.next()?, parts.next()?);
    let mut req = Request {
        path: "/".into(),
        host: String::new(),
    };
    // Absolute-form (proxy style) carries the host in the target.
    if let Some(rest) = target.split_once("://").map(|(_, r)| r) {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        req.host = strip_port(authority);
        req.path = format!("/{path}");
    } else {
        req.path = target.to_string();
    }
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("host") && req.host.is_empty() {
                req.host = strip_port(v.trim());
            }
        }
    }
    Some(req)
}

fn strip_port(authority: &str) -> String {
    let host = match authority.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// A response head; `len: None` means "until the connection closes".
pub(crate) fn head(
    status: u16,
    reason: &str,
    len: Option<usize>,
    extra: &[(&str, &str)],
) -> Vec<u8> {
    // An extra Content-Type (an image) replaces the default one.
    let typed = extra
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    let ctype = if typed {
        ""
    } else {
        "Content-Type: text/html; charset=utf-8\r\n"
    };
    let mut h = format!(
        "HTTP/1.1 {status} {reason}\r\n{ctype}Connection: close\r\nServer: interfero-lab\r\n"
    );
    if let Some(n) = len {
        h.push_str(&format!("Content-Length: {n}\r\n"));
    }
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// A complete response with a body.
pub(crate) fn response(status: u16, reason: &str, body: &[u8], extra: &[(&str, &str)]) -> Vec<u8> {
    let mut r = head(status, reason, Some(body.len()), extra);
    r.extend_from_slice(body);
    r
}

/// A static page with a title.
pub(crate) fn page(title: &str, host: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body><h1>{title}</h1><p>Lab page of {host}. Independent reporting, fictional copy for \
         the Interfero lab.</p></body></html>\n"
    )
}

/// A page whose tokens change on every request and whose length varies ±30% around 4 KiB.
pub(crate) fn dynamic_page(title: &str) -> String {
    let target = 4096 * (70 + random_u64() % 61) / 100;
    let mut body = format!("<!DOCTYPE html>\n<html><head><title>{title}</title></head><body>\n");
    while body.len() < target as usize {
        body.push_str(&format!(
            "<p>token {:016x} ad {:08x}</p>\n",
            random_u64(),
            random_u64() as u32
        ));
    }
    body.push_str("</body></html>\n");
    body
}

/// A page the origin itself shows to sources it distrusts.
pub(crate) fn captcha_page() -> String {
    "<!DOCTYPE html>\n<html><head><title>Attention Required</title></head><body>\
     <p>Please complete the security check to access this site (lab captcha: geoblock by the \
     site itself).</p></body></html>\n"
        .to_string()
}

/// Filler for large bodies: valid HTML-ish text, cheap to produce.
pub(crate) fn filler(len: usize) -> Vec<u8> {
    let line = b"<p>lorem ipsum dolor sit amet, interfero lab bulk content for throughput.</p>\n";
    line.iter().copied().cycle().take(len).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads() {
        let r = parse_head("GET /a?b HTTP/1.1\r\nHOST: Kaz-News.test:8443\r\n\r\n").unwrap();
        assert_eq!(
            (r.path.as_str(), r.host.as_str()),
            ("/a?b", "kaz-news.test")
        );
        let r = parse_head("GET http://x.test:8080/p HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!((r.path.as_str(), r.host.as_str()), ("/p", "x.test"));
        assert!(parse_head("").is_none());
        assert!(parse_head("\u{0}\u{1}").is_none());
    }

    #[test]
    fn dynamic_varies() {
        let (a, b) = (dynamic_page("t"), dynamic_page("t"));
        assert_ne!(a, b);
        assert!(a.len() > 2500 && a.len() < 5600);
    }
}
