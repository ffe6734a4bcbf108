//! Writing captures as WARC 1.1 records.
//!
//! Written by hand rather than with the `warc` crate's writer (which this crate uses for
//! reading) because content addressing needs the same capture to give the same bytes: that
//! crate keeps a record's headers in a `HashMap` (a different order on every write), formats
//! `WARC-Date` to whole seconds (a request and its response in the same second lose their order)
//! and makes random record ids. Here the header order is fixed, dates keep milliseconds, and
//! record ids are derived from the capture's content. The format is small: a version line,
//! `Name: value` lines, a blank line, the block, two CRLFs.

use interfero_model::capture::{Capture, Exchange};
use sha2::{Digest, Sha256};
use std::io::Write;

/// The profile of a revisit record whose payload is identical to an earlier record's.
pub const REVISIT_PROFILE: &str =
    "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest";

/// `sha256:` + base32 of the SHA-256 of `bytes`, the WARC digest form (as `sha1:` digests are
/// written by crawlers; warcio checks any hashlib algorithm).
pub fn digest(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        data_encoding::BASE32.encode(&Sha256::digest(bytes))
    )
}

/// An earlier record holding the same payload (for a revisit record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Original {
    /// Its `WARC-Record-ID` (`<urn:uuid:...>`).
    pub record_id: String,
    /// Its `WARC-Target-URI`.
    pub uri: String,
    /// Its `WARC-Date`.
    pub date: String,
}

/// One record, before serialisation: headers in the order written, and the block.
struct Record {
    headers: Vec<(&'static str, String)>,
    block: Vec<u8>,
}

impl Record {
    fn write(&self, records: &mut Vec<Vec<u8>>) {
        let mut out = Vec::with_capacity(self.block.len() + 512);
        out.extend_from_slice(b"WARC/1.1\r\n");
        for (k, v) in &self.headers {
            let _ = write!(out, "{k}: {}\r\n", clean(v));
        }
        let _ = write!(out, "Content-Length: {}\r\n\r\n", self.block.len());
        out.extend_from_slice(&self.block);
        out.extend_from_slice(b"\r\n\r\n");
        records.push(out);
    }
}

/// A header value on one line: CR, LF and other controls become spaces.
fn clean(v: &str) -> String {
    v.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A record id derived from what identifies the record (`urn:uuid:` form, as tools expect).
fn record_id(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let d = h.finalize();
    let x = hex::encode(&d[..16]);
    format!(
        "<urn:uuid:{}-{}-{}-{}-{}>",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// The HTTP request message as sent (HTTP/1.1 form, whatever the wire protocol was).
fn request_block(e: &Exchange) -> Vec<u8> {
    let url = url_target(&e.url);
    let mut b = Vec::new();
    let method = if e.method.is_empty() {
        "GET"
    } else {
        &e.method
    };
    let _ = write!(b, "{method} {url} HTTP/1.1\r\n");
    for (k, v) in &e.request_headers {
        let _ = write!(b, "{}: {}\r\n", clean(k), clean(v));
    }
    b.extend_from_slice(b"\r\n");
    b
}

/// The request target (path and query) of a URL.
fn url_target(u: &str) -> String {
    match u.find("://").map(|i| i + 3) {
        Some(start) => match u[start..].find('/') {
            Some(slash) => u[start + slash..].split('#').next().unwrap_or("/").into(),
            None => "/".into(),
        },
        None => "/".into(),
    }
}

/// The HTTP response head. The body is stored without its transfer coding (chunks already
/// joined), so `Transfer-Encoding` is left out: replay tools would otherwise try to de-chunk it.
fn response_head(e: &Exchange) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(e.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut b = Vec::new();
    let _ = write!(b, "HTTP/1.1 {} {reason}\r\n", e.status);
    for (k, v) in &e.response_headers {
        if k.eq_ignore_ascii_case("transfer-encoding") {
            continue;
        }
        let _ = write!(b, "{}: {}\r\n", clean(k), clean(v));
    }
    b.extend_from_slice(b"\r\n");
    b
}

/// What [`write_capture`] wrote for one exchange's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The response record's id.
    pub record_id: String,
    /// Its target URI.
    pub uri: String,
    /// Its date.
    pub date: String,
    /// The payload digest (`sha256:BASE32`).
    pub payload_digest: String,
    /// Whether it was written as a revisit of an earlier identical payload.
    pub revisit: bool,
}

/// Appends the capture's records to `out` (one entry a record): for each exchange that got a
/// response (the page's chain, then the embedded images), a `request`
/// and a `response` record (or, when `earlier(payload digest, this record's id)` knows the
/// payload from another record, a `revisit` record without it); then one `metadata` record (the capture as JSON without bodies: vantage, times,
/// failures, truncation). Returns what was written for each response.
pub fn write_capture(
    c: &Capture,
    earlier: &dyn Fn(&str, &str) -> Option<Original>,
    out: &mut Vec<Vec<u8>>,
) -> Vec<Written> {
    let mut written = Vec::new();
    let identity = |kind: &str, i: usize| {
        record_id(&[
            kind.as_bytes(),
            c.vantage.as_str().as_bytes(),
            c.url.as_bytes(),
            c.started.as_bytes(),
            &(i as u64).to_be_bytes(),
        ])
    };
    // The page's chain, then its embedded images, each as its own request and response.
    let mut page_responses = 0;
    for (i, e) in c.exchanges.iter().chain(c.embeds.iter()).enumerate() {
        if i < c.exchanges.len() && e.status != 0 {
            page_responses += 1;
        }
        if e.status == 0 {
            continue; // no response head: the metadata record says why
        }
        let date = warc_date(&e.date, &c.started);
        let req_id = identity("request", i);
        let resp_id = identity("response", i);
        let req = request_block(e);
        Record {
            headers: vec![
                ("WARC-Type", "request".into()),
                ("WARC-Record-ID", req_id.clone()),
                ("WARC-Date", date.clone()),
                ("WARC-Target-URI", e.url.clone()),
                ("WARC-Concurrent-To", resp_id.clone()),
                ("Content-Type", "application/http;msgtype=request".into()),
                ("WARC-Block-Digest", digest(&req)),
            ],
            block: req,
        }
        .write(out);
        let payload_digest = digest(&e.body);
        let original = earlier(&payload_digest, &resp_id);
        let mut block = response_head(e);
        let mut headers = vec![
            (
                "WARC-Type",
                if original.is_some() {
                    "revisit"
                } else {
                    "response"
                }
                .into(),
            ),
            ("WARC-Record-ID", resp_id.clone()),
            ("WARC-Date", date.clone()),
            ("WARC-Target-URI", e.url.clone()),
            ("Content-Type", "application/http;msgtype=response".into()),
            ("WARC-Payload-Digest", payload_digest.clone()),
        ];
        if let Some(o) = &original {
            headers.push(("WARC-Profile", REVISIT_PROFILE.into()));
            headers.push(("WARC-Refers-To", o.record_id.clone()));
            headers.push(("WARC-Refers-To-Target-URI", o.uri.clone()));
            headers.push(("WARC-Refers-To-Date", o.date.clone()));
        } else {
            block.extend_from_slice(&e.body);
            if e.truncated {
                headers.push(("WARC-Truncated", "length".into()));
            }
        }
        headers.push(("WARC-Block-Digest", digest(&block)));
        Record { headers, block }.write(out);
        written.push(Written {
            record_id: resp_id,
            uri: e.url.clone(),
            date,
            payload_digest,
            revisit: original.is_some(),
        });
    }
    let meta = metadata_json(c);
    let mut headers = vec![
        ("WARC-Type", "metadata".into()),
        ("WARC-Record-ID", identity("metadata", c.exchanges.len())),
        ("WARC-Date", warc_date(&c.started, &c.started)),
        ("WARC-Target-URI", c.url.clone()),
    ];
    if let Some(w) = written.get(..page_responses).and_then(|w| w.last()) {
        headers.push(("WARC-Concurrent-To", w.record_id.clone()));
    }
    headers.push(("Content-Type", METADATA_TYPE.into()));
    headers.push(("WARC-Block-Digest", digest(&meta)));
    Record {
        headers,
        block: meta,
    }
    .write(out);
    written
}

/// The metadata record's content type.
pub const METADATA_TYPE: &str = "application/vnd.interfero.capture+json";

/// The capture as JSON without its bodies (they are in the response records).
fn metadata_json(c: &Capture) -> Vec<u8> {
    let mut lean = c.clone();
    for e in lean.exchanges.iter_mut().chain(lean.embeds.iter_mut()) {
        e.body = Vec::new();
    }
    serde_json::to_vec(&lean).unwrap_or_default()
}

/// A `warcinfo` record naming the software, for the start of an exported file.
pub fn write_warcinfo(filename: &str, software: &str, out: &mut Vec<Vec<u8>>) {
    let block = format!("software: {software}\r\nformat: WARC File Format 1.1\r\n").into_bytes();
    Record {
        headers: vec![
            ("WARC-Type", "warcinfo".into()),
            (
                "WARC-Record-ID",
                record_id(&[filename.as_bytes(), software.as_bytes()]),
            ),
            ("WARC-Date", "1970-01-01T00:00:00Z".into()),
            ("WARC-Filename", filename.into()),
            ("Content-Type", "application/warc-fields".into()),
            ("WARC-Block-Digest", digest(&block)),
        ],
        block,
    }
    .write(out);
}

/// A capture time as a WARC-Date (RFC 3339 UTC); `fallback` when it is empty.
fn warc_date(t: &str, fallback: &str) -> String {
    let t = if t.is_empty() { fallback } else { t };
    if t.is_empty() {
        "1970-01-01T00:00:00Z".into()
    } else {
        t.into()
    }
}

/// Gzips one record as its own gzip member (WARC tools seek record by record).
pub fn gzip_member(record_bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(record_bytes)?;
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_paths_with_queries() {
        assert_eq!(url_target("https://a.example/x/y?z=1#f"), "/x/y?z=1");
        assert_eq!(url_target("http://a.example"), "/");
    }

    #[test]
    fn digests_are_sha256_in_base32() {
        // SHA-256 of the empty string, base32.
        assert_eq!(
            digest(b""),
            "sha256:4OYMIQUY7QOBJGX36TEJS35ZEQT24QPEMSNZGTFESWMRW6CSXBKQ===="
        );
    }
}
