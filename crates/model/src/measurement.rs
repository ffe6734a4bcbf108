//! One measurement in OONI's base data format, with Web Connectivity test keys and Interfero's
//! extra observations (`x_` fields, which OONI tools ignore) and verdict.
//!
//! Every field has a default so that OONI's own JSON (Web Connectivity 0.4 and 0.5) parses into
//! these types; unknown fields are kept in `extra` and written back unchanged.

use crate::control::ControlResponse;
use crate::failure::Failure;
use crate::verdict::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The software name written into our measurements.
pub const SOFTWARE_NAME: &str = "interfero";

/// A measurement of one target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Measurement {
    /// OONI's base data format version.
    pub data_format_version: String,
    /// The URL measured.
    pub input: String,
    /// `web_connectivity` for a site measurement.
    pub test_name: String,
    /// The version of the test's observation format.
    pub test_version: String,
    /// UTC start, `YYYY-MM-DD HH:MM:SS`.
    pub measurement_start_time: String,
    /// UTC start of the run this measurement belongs to.
    pub test_start_time: String,
    /// Seconds the measurement took.
    pub test_runtime: f64,
    /// The network (`AS0` when unknown or hidden).
    pub probe_asn: String,
    /// The country (`ZZ` when unknown or hidden).
    pub probe_cc: String,
    /// Always `127.0.0.1`: the probe never records its user's address.
    pub probe_ip: String,
    /// `interfero`, or the OONI software that made an imported measurement.
    pub software_name: String,
    /// The version of that software.
    pub software_version: String,
    /// Free-form labels (e.g. `lab_scenario`).
    pub annotations: Map<String, Value>,
    /// The observations.
    pub test_keys: TestKeys,
    /// Interfero's judgement, when analysed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Fields of OONI's format this type does not name, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Web Connectivity observations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TestKeys {
    /// The resolver the probe used (`IP:PORT`), or `system`.
    pub client_resolver: Option<String>,
    /// Every DNS query and its answers.
    pub queries: Vec<DnsQuery>,
    /// Every TCP connect.
    pub tcp_connect: Vec<TcpConnect>,
    /// Every TLS handshake.
    pub tls_handshakes: Vec<TlsHandshake>,
    /// Every HTTP round trip, the last of the redirect chain first (as OONI orders them).
    pub requests: Vec<HttpRoundTrip>,
    /// The control's view, when the control answered.
    pub control: Option<ControlResponse>,
    /// Why the control could not be used, when it could not.
    pub control_failure: Option<String>,
    /// The DNS step's overall failure (OONI's summary key).
    pub dns_experiment_failure: Option<Failure>,
    /// The HTTP step's overall failure (OONI's summary key).
    pub http_experiment_failure: Option<Failure>,
    /// OONI's summary: `false`, `"dns"`, `"tcp_ip"`, `"http-failure"`, `"http-diff"` or null.
    pub blocking: Value,
    /// OONI's summary: whether the site was reached.
    pub accessible: Option<bool>,
    /// Paired-transfer measurements for throttling detection.
    pub x_throughput: Vec<Throughput>,
    /// The reachability check made when this target failed, if one was made: whether the
    /// vantage point reached anything at all at that time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_reachability: Option<crate::reachability::Reachability>,
    /// How the user's address was scrubbed from this record (and whether it could be).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_address_scrub: Option<crate::privacy::AddressScrub>,
    /// The check of the configured resolver made when this target's DNS step failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_resolver_check: Option<crate::reachability::ResolverCheck>,
    /// The TTL-limited trace made when a traceable kind of interference was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_trace: Option<crate::trace::Trace>,
    /// The walk of the name's delegation made when the probe's resolver failed it
    /// (NXDOMAIN, no answer, SERVFAIL): what the zones' own servers say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_delegation: Option<crate::delegation::DelegationWalk>,
    /// The checks of an address family made when every connect of that family failed: does
    /// the vantage point reach that family at all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub x_family_checks: Vec<crate::family::FamilyCheck>,
    /// Timed transfers that the run's other targets made from this vantage point to the same
    /// address (`IP:PORT`) as this target's own timed transfer, under other names: kept when
    /// this target's innocuous-name leg gave nothing to compare its rate with, as the next
    /// best evidence on the same path (observations of this probe, copied by the session).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub x_same_address: Vec<Throughput>,
    /// Everything else OONI put into its test keys, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One DNS query and what came back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsQuery {
    /// The name asked for.
    pub hostname: String,
    /// `A`, `AAAA`, `ANY` (getaddrinfo) ...
    pub query_type: String,
    /// `udp`, `tcp`, `getaddrinfo`, `doh` ...
    pub engine: String,
    /// The resolver asked (`IP:PORT`).
    pub resolver_address: String,
    /// Why no usable answer came, if none did.
    pub failure: Option<Failure>,
    /// The answers of the first response.
    pub answers: Vec<DnsAnswer>,
    /// Seconds since the measurement start when the query was sent.
    pub t0: f64,
    /// Seconds since the measurement start when the first response arrived (or the step ended).
    pub t: f64,
    /// The response code of the first response (`NOERROR`, `NXDOMAIN` ...).
    pub x_rcode: Option<String>,
    /// Further responses to the same query (late or duplicate answers: evidence of injection).
    pub x_extra_responses: Vec<DnsResponse>,
    /// True when this is a copy of the identical query (same resolver, name and type) that
    /// another measurement of the same run made: its answers, rcode and later replies are that
    /// query's, and `t0`/`t` say when this measurement asked and got them.
    #[serde(skip_serializing_if = "is_false")]
    pub x_from_cache: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A response to a DNS query beyond the first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsResponse {
    /// Seconds since the measurement start.
    pub t: f64,
    /// The response code.
    pub rcode: String,
    /// Its answers.
    pub answers: Vec<DnsAnswer>,
}

/// One resource record of an answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsAnswer {
    /// `A`, `AAAA` or `CNAME`.
    pub answer_type: String,
    /// The address of an `A` record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<String>,
    /// The address of an `AAAA` record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<String>,
    /// The target of a `CNAME` record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The record's TTL.
    pub ttl: Option<u32>,
    /// The origin AS of the address, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
}

impl DnsAnswer {
    /// The address of an A or AAAA record.
    pub fn addr(&self) -> Option<&str> {
        self.ipv4.as_deref().or(self.ipv6.as_deref())
    }
}

/// One TCP connect.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TcpConnect {
    /// The address connected to.
    pub ip: String,
    /// The port.
    pub port: u16,
    /// The outcome.
    pub status: TcpStatus,
    /// Seconds since the measurement start when the connect began.
    pub t0: f64,
    /// Seconds since the measurement start when it ended.
    pub t: f64,
}

/// The outcome of a TCP connect.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TcpStatus {
    /// Whether it connected.
    pub success: bool,
    /// Why not.
    pub failure: Option<Failure>,
}

/// One TLS handshake.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsHandshake {
    /// `IP:PORT`.
    pub address: String,
    /// The SNI sent.
    pub server_name: String,
    /// Why the handshake, or the certificate, failed.
    pub failure: Option<Failure>,
    /// The ALPN protocol agreed.
    pub negotiated_protocol: Option<String>,
    /// `TLSv1.3` ...
    pub tls_version: Option<String>,
    /// The cipher suite agreed.
    pub cipher_suite: Option<String>,
    /// The peer's chain, leaf first, DER in base64 (OONI's `{format, data}` objects).
    pub peer_certificates: Option<Vec<BinaryData>>,
    /// Whether verification was switched off.
    pub no_tls_verify: bool,
    /// Seconds since the measurement start when the handshake began.
    pub t0: f64,
    /// Seconds since the measurement start when it ended.
    pub t: f64,
    /// Whether the failure came after the ClientHello was sent (stall, reset or EOF mid-handshake).
    pub x_after_client_hello: Option<bool>,
    /// Whether any byte of the server's reply arrived before the failure.
    pub x_server_bytes: Option<u64>,
    /// The certificate chain in readable form, leaf first.
    pub x_chain: Vec<CertInfo>,
    /// When the handshake was called stalled before the full TLS timeout because the control
    /// had already handshaked with the site: the seconds the probe waited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_adaptive_timeout: Option<f64>,
}

/// A certificate, summarised.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CertInfo {
    /// The subject distinguished name.
    pub subject: String,
    /// The issuer distinguished name.
    pub issuer: String,
    /// SHA-256 of the DER, hex.
    pub sha256: String,
    /// SHA-1 of the DER, hex (how older reports publish fingerprints).
    pub sha1: String,
    /// SHA-256 of the SubjectPublicKeyInfo, hex (how browser blocklists name keys).
    pub spki_sha256: String,
    /// Not valid before (RFC 3339).
    pub not_before: String,
    /// Not valid after (RFC 3339).
    pub not_after: String,
}

/// Bytes that may not be UTF-8: a plain string or OONI's `{"format": "base64", "data": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BinaryData {
    /// UTF-8 text.
    Text(String),
    /// Base64-encoded bytes.
    Encoded {
        /// Always `base64`.
        format: String,
        /// The encoded bytes.
        data: String,
    },
}

impl Default for BinaryData {
    fn default() -> Self {
        BinaryData::Text(String::new())
    }
}

/// One HTTP round trip.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpRoundTrip {
    /// `IP:PORT` the request went to.
    pub address: Option<String>,
    /// The ALPN protocol used (`h2`, `http/1.1`).
    pub alpn: Option<String>,
    /// Why the round trip failed.
    pub failure: Option<Failure>,
    /// What was sent.
    pub request: HttpRequest,
    /// What came back (when anything did).
    pub response: HttpResponse,
    /// Seconds since the measurement start when the request began.
    pub t0: f64,
    /// Seconds since the measurement start when the response ended.
    pub t: f64,
    /// When the wait for the response head was cut before the full HTTP timeout because the
    /// control had already fetched the page: the seconds the probe waited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_adaptive_timeout: Option<f64>,
}

/// An HTTP request as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpRequest {
    /// The URL.
    pub url: String,
    /// `GET`.
    pub method: String,
    /// Headers in order.
    pub headers_list: Vec<(String, String)>,
}

/// An HTTP response as received.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpResponse {
    /// The status code (0 when there was no response).
    pub code: u16,
    /// Headers in order.
    pub headers_list: Vec<(String, String)>,
    /// The body, up to the read cap.
    pub body: Option<BinaryData>,
    /// Whether the body was cut at the read cap.
    pub body_is_truncated: bool,
    /// The body's length as read.
    pub x_body_length: Option<u64>,
    /// Seconds since the measurement start when the body's last bytes came (none without
    /// body bytes): a body still arriving when the fetch timed out was crawling, not cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_last_byte_t: Option<f64>,
    /// The page's `<title>`.
    pub x_title: Option<String>,
}

impl HttpResponse {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers_list
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (base64 bodies decoded lossily).
    pub fn body_text(&self) -> String {
        match &self.body {
            None => String::new(),
            Some(BinaryData::Text(s)) => s.clone(),
            Some(BinaryData::Encoded { data, .. }) => {
                String::from_utf8_lossy(&crate::base64::decode(data)).into_owned()
            }
        }
    }
}

/// A paired transfer: the same path fetched under the target's name and under a name no filter
/// targets, to tell a policer from a slow link or server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Throughput {
    /// `IP:PORT`.
    pub address: String,
    /// The SNI/Host of this transfer.
    pub server_name: String,
    /// `target` (the measured name) or `paired` (the innocuous name on the same address).
    pub role: String,
    /// Bytes received.
    pub bytes: u64,
    /// Seconds the transfer took.
    pub seconds: f64,
    /// Bytes received at the end of each sampling interval.
    pub samples: Vec<u64>,
    /// The sampling interval in seconds.
    pub interval: f64,
    /// Why the transfer failed, if it did.
    pub failure: Option<Failure>,
}

impl Throughput {
    /// Mean rate in kbit/s.
    pub fn kbps(&self) -> f64 {
        if self.seconds <= 0.0 {
            0.0
        } else {
            self.bytes as f64 * 8.0 / 1000.0 / self.seconds
        }
    }
}
