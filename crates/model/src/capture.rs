//! A capture: a page as one vantage point fetched it, kept whole (request, response headers,
//! body within a cap, times) so that it can be archived as WARC and compared with later
//! captures. The probe makes them, the archive writes them, analysis compares them.

use crate::failure::Failure;
use serde::{Deserialize, Serialize};

/// Where a capture was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vantage {
    /// The probe, where the user stands (behind the censor, if there is one).
    #[default]
    Probe,
    /// The control, on an unfiltered network.
    Control,
}

impl Vantage {
    /// The snake_case name stored and written in WARC metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Vantage::Probe => "probe",
            Vantage::Control => "control",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<Vantage> {
        [Vantage::Probe, Vantage::Control]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One HTTP request and what came back, as fetched (one hop of a redirect chain).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Exchange {
    /// The URL requested.
    pub url: String,
    /// The method (`GET`).
    pub method: String,
    /// The request headers, in the order sent.
    pub request_headers: Vec<(String, String)>,
    /// UTC time the request was sent, RFC 3339 with milliseconds (`2026-12-02T13:00:00.123Z`).
    pub date: String,
    /// The response status (0 when no response head came).
    pub status: u16,
    /// The response headers, in the order received.
    pub response_headers: Vec<(String, String)>,
    /// The body as received (content-coding kept, transfer-coding removed), at most the cap.
    #[serde(with = "bytes_base64")]
    pub body: Vec<u8>,
    /// The body was cut at the cap.
    pub truncated: bool,
    /// Why the exchange failed (after the head: the body may be partial).
    pub failure: Option<Failure>,
}

impl Exchange {
    /// The first response header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.response_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A page as one vantage point fetched it: every hop of its redirect chain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Capture {
    /// The URL asked for.
    pub url: String,
    /// Where it was fetched from.
    pub vantage: Vantage,
    /// UTC start, RFC 3339 with milliseconds.
    pub started: String,
    /// UTC end, RFC 3339 with milliseconds.
    pub finished: String,
    /// The exchanges, first hop first; the last is the page (or the last answer there was).
    pub exchanges: Vec<Exchange>,
    /// Why no final page came (DNS, TCP, TLS, HTTP failure, too many redirects, ...).
    pub failure: Option<Failure>,
    /// The page's embedded images, fetched from the same vantage point during the capture
    /// (each the last exchange of its own redirect chain), within the bounds of the capture
    /// step; a replaced image under the same URL shows in their digests.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub embeds: Vec<Exchange>,
    /// What the capture left out or cut, in words (`12 more images not fetched (limit 16)`,
    /// `image ... is text/html, not an image: body not kept`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Capture {
    /// The last exchange that got a response head: the page, or the last redirect.
    pub fn page(&self) -> Option<&Exchange> {
        self.exchanges.iter().rev().find(|e| e.status != 0)
    }

    /// Whether any exchange's body (of the page's chain) was cut at the cap.
    pub fn truncated(&self) -> bool {
        self.exchanges.iter().any(|e| e.truncated)
    }

    /// The embedded image kept for `url`, when one was.
    pub fn embed(&self, url: &str) -> Option<&Exchange> {
        self.embeds.iter().find(|e| e.url == url)
    }
}

/// Bytes as base64 in JSON (the control sends captures to the probe).
mod bytes_base64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::base64::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        Ok(crate::base64::decode(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_survives_json_with_binary_body() {
        let c = Capture {
            url: "https://news.example/a".into(),
            vantage: Vantage::Control,
            exchanges: vec![Exchange {
                status: 200,
                body: vec![0, 255, 10, 13, 128],
                ..Exchange::default()
            }],
            ..Capture::default()
        };
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"control\""));
        let back: Capture = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.page().map(|e| e.body.len()), Some(5));
    }
}
