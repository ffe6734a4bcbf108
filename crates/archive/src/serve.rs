//! Captures made safe to serve. An archived page is hostile: its scripts must not run, and it
//! must not make the reader's browser contact the live site (which would tell the site, or a
//! censor watching it, who is looking). The explorer serves what [`inert`] returns, as is.
//!
//! HTML is wrapped in a page of our own whose only content is a heading and an `<iframe
//! sandbox srcdoc=...>`: the sandbox (no `allow-scripts`, no `allow-same-origin`) stops scripts,
//! forms and navigation; the response's `Content-Security-Policy` (`default-src 'none'`, also
//! `sandbox`) is inherited by the srcdoc document and stops every request it would make
//! (images, styles, fonts, frames from the live site); a `<meta>` CSP inside the srcdoc repeats
//! it in case the wrapper is ever served without its headers. Images of a raster type are served
//! as themselves under the same policy; anything else as an attachment of unknown type.

use interfero_model::capture::Capture;

/// The policy on every served capture: nothing loads, nothing runs.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox";

/// Bytes and headers that are safe to serve for a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inert {
    /// The response headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// What to serve for `capture` (its final page), made inert.
pub fn inert(capture: &Capture) -> Inert {
    let page = capture.page();
    let ctype = page
        .and_then(|e| e.header("content-type"))
        .unwrap_or("")
        .to_ascii_lowercase();
    let body = page.map(|e| e.body.as_slice()).unwrap_or_default();
    let mut headers = vec![
        ("Content-Security-Policy".to_string(), CSP.to_string()),
        ("X-Content-Type-Options".into(), "nosniff".into()),
        ("Referrer-Policy".into(), "no-referrer".into()),
        ("Cross-Origin-Resource-Policy".into(), "same-origin".into()),
    ];
    let raster = ["image/png", "image/jpeg", "image/gif", "image/webp"];
    if let Some(t) = raster.iter().find(|t| ctype.starts_with(**t)) {
        headers.push(("Content-Type".into(), (*t).into()));
        return Inert {
            headers,
            body: body.to_vec(),
        };
    }
    let looks_html = ctype.contains("html") || (ctype.is_empty() && sniff_html(body));
    if !looks_html {
        headers.push(("Content-Type".into(), "application/octet-stream".into()));
        headers.push((
            "Content-Disposition".into(),
            "attachment; filename=\"capture.bin\"".into(),
        ));
        return Inert {
            headers,
            body: body.to_vec(),
        };
    }
    headers.push(("Content-Type".into(), "text/html; charset=utf-8".into()));
    let inner = format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">{}",
        escape("default-src 'none'; style-src 'unsafe-inline'; img-src data:"),
        String::from_utf8_lossy(body)
    );
    let status = page.map(|e| e.status).unwrap_or(0);
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Archived: {url}</title>\
         </head><body><p>Archived copy of <code>{url}</code>, captured {when} from the {vantage} \
         (HTTP {status}{trunc}). Scripts do not run and nothing is loaded from the live site.</p>\
         <iframe sandbox=\"\" referrerpolicy=\"no-referrer\" style=\"width:100%;height:80vh\" \
         srcdoc=\"{doc}\"></iframe></body></html>",
        url = escape(&capture.url),
        when = escape(&capture.started),
        vantage = capture.vantage.as_str(),
        trunc = if capture.truncated() {
            ", truncated"
        } else {
            ""
        },
        doc = escape(&inner),
    );
    Inert {
        headers,
        body: html.into_bytes(),
    }
}

fn sniff_html(body: &[u8]) -> bool {
    let head = String::from_utf8_lossy(body.get(..512).unwrap_or(body)).to_ascii_lowercase();
    head.contains("<html") || head.contains("<!doctype html")
}

/// Escapes text for an HTML attribute or element.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use interfero_model::capture::Exchange;

    fn page(ctype: &str, body: &str) -> Capture {
        Capture {
            url: "https://news.example/a\"><script>x</script>".into(),
            exchanges: vec![Exchange {
                status: 200,
                response_headers: vec![("Content-Type".into(), ctype.into())],
                body: body.as_bytes().to_vec(),
                ..Exchange::default()
            }],
            ..Capture::default()
        }
    }

    #[test]
    fn html_is_framed_sandboxed_and_escaped() {
        let evil =
            "<html><script>alert(1)</script><img src=\"https://live.example/x.png\">\"</html>";
        let out = inert(&page("text/html", evil));
        let html = String::from_utf8(out.body).unwrap();
        assert!(html.contains("<iframe sandbox=\"\""));
        // The page's markup is only inside the escaped srcdoc: no live tag, no live URL quote.
        assert!(!html.contains("<script"));
        assert!(!html.contains("src=\"https://live"));
        assert!(html.contains("&lt;script&gt;alert(1)"));
        let csp = out
            .headers
            .iter()
            .find(|(k, _)| k == "Content-Security-Policy");
        assert!(csp.is_some_and(|(_, v)| v.contains("default-src 'none'") && v.contains("sandbox")));
    }

    #[test]
    fn svg_and_unknown_types_are_attachments() {
        let out = inert(&page("image/svg+xml", "<svg onload=alert(1)>"));
        assert!(out
            .headers
            .iter()
            .any(|(k, v)| k == "Content-Disposition" && v.starts_with("attachment")));
        let png = inert(&page("image/png", "\u{89}PNG"));
        assert!(png
            .headers
            .iter()
            .any(|(k, v)| k == "Content-Type" && v == "image/png"));
    }
}
