//! Reading captures back from WARC (plain or record-gzipped), with the `warc` crate's parser;
//! every block and payload digest present is checked.

use crate::warc_write::{digest, METADATA_TYPE};
use crate::ArchiveError;
use interfero_model::capture::Capture;
use std::io::{BufReader, Read};
use warc::{RecordType, WarcHeader, WarcReader};

/// Most bytes a WARC file may expand to when read (a hostile `.gz` cannot fill memory).
pub const MAX_EXPANDED: u64 = 256 * 1024 * 1024;

/// A capture read from WARC, and the payloads it left out (revisit records).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadCapture {
    /// The capture; bodies of revisited exchanges are empty.
    pub capture: Capture,
    /// `(exchange index, payload digest)` of each exchange stored as a revisit; indexes past
    /// the page's chain are of its embedded images (`exchanges.len() + n`).
    pub revisits: Vec<(usize, String)>,
}

/// What one response-like record held.
enum Payload {
    Body(Vec<u8>),
    Revisit(String),
}

/// Reads every capture in `bytes` (the records of each capture, then its metadata record).
/// Records of other tools (no Interfero metadata) are skipped; a broken record or a wrong
/// digest is an error naming the record.
pub fn read_captures(bytes: &[u8]) -> Result<Vec<ReadCapture>, ArchiveError> {
    let expanded = expand(bytes)?;
    let reader = WarcReader::new(BufReader::new(expanded.as_slice()));
    let mut out = Vec::new();
    let mut pending: Vec<Payload> = Vec::new();
    for (n, rec) in reader.iter_records().enumerate() {
        let rec = rec.map_err(|e| ArchiveError::Malformed {
            record: n,
            why: e.to_string(),
        })?;
        let id = rec.warc_id().to_string();
        let bad = |why: String| ArchiveError::Malformed {
            record: n,
            why: format!("{id}: {why}"),
        };
        if let Some(want) = rec.header(WarcHeader::BlockDigest) {
            if want.starts_with("sha256:") && digest(rec.body()) != want {
                return Err(bad("block digest does not match".into()));
            }
        }
        let payload_digest = rec
            .header(WarcHeader::PayloadDigest)
            .map(|d| d.into_owned());
        match rec.warc_type() {
            RecordType::Response => {
                let body = split_http(rec.body()).to_vec();
                if let Some(want) = &payload_digest {
                    if want.starts_with("sha256:") && &digest(&body) != want {
                        return Err(bad("payload digest does not match".into()));
                    }
                }
                pending.push(Payload::Body(body));
            }
            RecordType::Revisit => {
                let d = payload_digest.ok_or_else(|| bad("revisit without digest".into()))?;
                pending.push(Payload::Revisit(d));
            }
            RecordType::Metadata
                if rec.header(WarcHeader::ContentType).as_deref() == Some(METADATA_TYPE) =>
            {
                let mut capture: Capture =
                    serde_json::from_slice(rec.body()).map_err(|e| bad(e.to_string()))?;
                let mut revisits = Vec::new();
                let mut payloads = std::mem::take(&mut pending).into_iter();
                let chain = capture.exchanges.iter_mut();
                for (i, e) in chain.chain(capture.embeds.iter_mut()).enumerate() {
                    if e.status == 0 {
                        continue;
                    }
                    match payloads.next() {
                        Some(Payload::Body(b)) => e.body = b,
                        Some(Payload::Revisit(d)) => revisits.push((i, d)),
                        None => return Err(bad("fewer responses than exchanges".into())),
                    }
                }
                out.push(ReadCapture { capture, revisits });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The payload of an `application/http` response block: what follows the head.
fn split_http(block: &[u8]) -> &[u8] {
    match block.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => block.get(i + 4..).unwrap_or_default(),
        None => &[],
    }
}

/// The file's bytes, gunzipped (every member) when it is gzip, bounded by [`MAX_EXPANDED`].
fn expand(bytes: &[u8]) -> Result<Vec<u8>, ArchiveError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_EXPANDED + 1)
        .read_to_end(&mut out)
        .map_err(|e| ArchiveError::Malformed {
            record: 0,
            why: format!("gzip: {e}"),
        })?;
    if out.len() as u64 > MAX_EXPANDED {
        return Err(ArchiveError::TooLarge {
            limit: MAX_EXPANDED,
        });
    }
    Ok(out)
}
