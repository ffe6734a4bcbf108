//! TTL-limited traces: the triggering packet of a blocked target re-sent with IP TTL 1, 2, 3 …,
//! and what came back at each TTL. Observations only; where the censor sits is the analysis'
//! reading of them (`CensorLocation`, in the verdict).

use serde::{Deserialize, Serialize};

/// What to trace: the packet that met interference, and where it went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TraceRequest {
    /// `dns` (a UDP query), `tls` (a ClientHello after a real handshake) or `http` (a request
    /// after a real handshake).
    pub kind: String,
    /// `IP:PORT` the packet goes to (the resolver, or the site's address).
    pub address: String,
    /// The query name (dns), SNI (tls) or Host (http).
    pub server_name: String,
    /// The request path (http).
    pub path: String,
}

/// One event seen after sending the probe packet at one TTL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HopEvent {
    /// `time_exceeded` (ICMP from a router), `unreachable` (other ICMP), `icmp_error` (an
    /// ICMP error a connected TCP socket reports without its sender), `reset`, `eof`, `data`
    /// (bytes of an answer), `dns_answer`, `connected` (a SYN answered), `error`.
    pub kind: String,
    /// Milliseconds after the packet was sent.
    pub ms: u32,
    /// Who sent it: the router for ICMP, otherwise the peer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// For `dns_answer`: the rcode and addresses (`NOERROR 198.51.100.7`); for `data`: the
    /// first line (bounded); for ICMP: type and code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For `data`: how many bytes were read (bounded by the read cap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The IP TTL the packet arrived with, when the socket reports it (UDP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_ttl: Option<u8>,
}

/// Everything seen at one TTL; no events means silence until the hop's deadline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TraceHop {
    /// The IP TTL the probe packet was sent with.
    pub ttl: u8,
    /// What came back, in order of arrival.
    pub events: Vec<HopEvent>,
    /// Why this hop could not be probed (e.g. the handshake itself failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// A TTL-limited trace of one triggering packet, with a control sweep of a packet that
/// triggers nothing (a SYN to the same address, a query for an innocuous name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Trace {
    /// What was traced.
    pub request: TraceRequest,
    /// The triggering packet at TTL 1, 2, 3 …
    pub hops: Vec<TraceHop>,
    /// The innocuous packet at TTL 1, 2, 3 … (how far the path answers when nothing triggers).
    pub control: Vec<TraceHop>,
    /// Why no trace (or only part of one) could be made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Seconds the trace took.
    pub seconds: f64,
}

/// Where the analysis places the interfering device on the path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CensorLocation {
    /// The hop (TTL) at which interference begins; `None` when the trace does not decide.
    pub hop: Option<u8>,
    /// The router answering at that hop, when known.
    pub router: Option<String>,
    /// `on-path` (injects; the real answer may still arrive), `in-path` (drops), `unknown`.
    pub class: String,
    /// Why, in one line.
    pub reason: String,
}
