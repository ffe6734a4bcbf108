//! The censor's actions, as named in scenario TOML.

use serde::{Deserialize, Serialize};

/// What the censor does when a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Answer NXDOMAIN.
    #[serde(rename = "dns.nxdomain")]
    DnsNxdomain,
    /// Answer SERVFAIL.
    #[serde(rename = "dns.servfail")]
    DnsServfail,
    /// Answer REFUSED.
    #[serde(rename = "dns.refused")]
    DnsRefused,
    /// Answer NOERROR with no record.
    #[serde(rename = "dns.no_answer")]
    DnsNoAnswer,
    /// Drop the query.
    #[serde(rename = "dns.timeout")]
    DnsTimeout,
    /// Answer the scenario's bogon address.
    #[serde(rename = "dns.bogon")]
    DnsBogon,
    /// Answer the lab blockpage server's address.
    #[serde(rename = "dns.hijack")]
    DnsHijack,
    /// Answer the blockpage server's address at once, then the true answer.
    #[serde(rename = "dns.injection")]
    DnsInjection,
    /// Drop SYNs (kernel world only).
    #[serde(rename = "tcp.drop")]
    TcpDrop,
    /// Reset the connection at SYN (kernel world only).
    #[serde(rename = "tcp.reset")]
    TcpReset,
    /// Refuse (kernel world only).
    #[serde(rename = "tcp.refuse")]
    TcpRefuse,
    /// Never answer the ClientHello.
    #[serde(rename = "tls.stall")]
    TlsStall,
    /// Reset after the ClientHello.
    #[serde(rename = "tls.reset")]
    TlsReset,
    /// Close cleanly after the ClientHello.
    #[serde(rename = "tls.eof")]
    TlsEof,
    /// Complete the handshake with a leaf from the MITM CA.
    #[serde(rename = "tls.intercept")]
    TlsIntercept,
    /// Answer 200 with a blockpage.
    #[serde(rename = "http.blockpage")]
    HttpBlockpage,
    /// Redirect to the lab blockpage server.
    #[serde(rename = "http.redirect")]
    HttpRedirect,
    /// Answer 200 with other content that matches no blockpage fingerprint.
    #[serde(rename = "http.replace")]
    HttpReplace,
    /// Reset after the request.
    #[serde(rename = "http.reset")]
    HttpReset,
    /// Never answer the request.
    #[serde(rename = "http.timeout")]
    HttpTimeout,
    /// Close cleanly after the request.
    #[serde(rename = "http.eof")]
    HttpEof,
    /// Pace responses to `rate_kbps`.
    #[serde(rename = "throttle")]
    Throttle,
    /// Drop every probe-side query and connection.
    #[serde(rename = "shutdown")]
    Shutdown,
    /// Drop the probe's DNS queries to every resolver but its own (the ISP's), as many
    /// national and corporate firewalls do.
    #[serde(rename = "dns.drop_foreign")]
    DnsDropForeign,
}

impl Action {
    /// Why the userspace world cannot do this, if it cannot.
    pub fn kernel_only(self) -> Option<&'static str> {
        match self {
            Action::TcpDrop | Action::TcpReset | Action::TcpRefuse => Some(
                "tcp.* needs SYN-level filtering per source address, impossible on shared \
                 loopback listeners: kernel world only",
            ),
            _ => None,
        }
    }
}
