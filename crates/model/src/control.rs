//! The control protocol: OONI's Web Connectivity test-helper JSON (`POST /`), so that an OONI
//! probe can use an Interfero control and Interfero can use OONI's. Interfero's additions are
//! `x_` fields, which OONI ignores.

use crate::failure::Failure;
use crate::measurement::Throughput;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the probe asks the control to measure.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ControlRequest {
    /// The URL to fetch.
    pub http_request: String,
    /// Headers to send with it.
    pub http_request_headers: BTreeMap<String, Vec<String>>,
    /// `IP:PORT` endpoints the probe resolved, to connect to as well.
    pub tcp_connect: Vec<String>,
    /// Whether to try QUIC (ignored: Interfero does not measure QUIC yet).
    pub x_quic_enabled: bool,
    /// Also time a bulk transfer of the URL, for throttling comparisons.
    pub x_throughput: bool,
    /// Also return the control's own capture of the page (for the archive), bounded by the
    /// control's capture cap.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub x_capture: bool,
    /// Also walk the name's delegation (the probe's resolver failed it), whatever the
    /// control's own resolver says.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub x_delegation: bool,
}

/// What the control saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ControlResponse {
    /// Connect results by `IP:PORT`.
    pub tcp_connect: BTreeMap<String, ControlTcp>,
    /// TLS results by `IP:PORT` (certificate validity included).
    pub tls_handshake: BTreeMap<String, ControlTls>,
    /// The final HTTP response after redirects.
    pub http_request: ControlHttp,
    /// The control's DNS resolution of the URL's host.
    pub dns: ControlDns,
    /// Facts about each address (ASN, flags).
    pub ip_info: BTreeMap<String, ControlIpInfo>,
    /// The control's own bulk transfer of the URL, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_throughput: Option<Throughput>,
    /// The address the control saw this request come from: the probe's public address, given
    /// back only so that the probe can remove it from pages that echo it. The probe drops it
    /// before keeping anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_client_address: Option<String>,
    /// The control's capture of the page, when asked (`x_capture`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_capture: Option<crate::capture::Capture>,
    /// The control's walk of the name's delegation, made when its own resolution failed or
    /// the probe asked (`x_delegation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_delegation: Option<crate::delegation::DelegationWalk>,
}

/// A control TCP connect.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ControlTcp {
    /// Whether it connected.
    pub status: bool,
    /// Why not.
    pub failure: Option<Failure>,
}

/// A control TLS handshake.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ControlTls {
    /// The SNI used.
    pub server_name: String,
    /// Whether the handshake succeeded with a valid certificate.
    pub status: bool,
    /// Why not (certificate failures included).
    pub failure: Option<Failure>,
    /// SHA-256 of the leaf certificate the control saw, hex.
    pub x_leaf_sha256: Option<String>,
}

/// The control's final HTTP response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ControlHttp {
    /// Body length in bytes (-1 when unknown).
    pub body_length: i64,
    /// Why the fetch failed.
    pub failure: Option<Failure>,
    /// The `<title>`.
    pub title: String,
    /// Response headers (first value of each).
    pub headers: BTreeMap<String, String>,
    /// Status code (-1 or 0 when none).
    pub status_code: i64,
    /// Whether the body was cut at the read cap.
    pub x_body_is_truncated: bool,
}

impl Default for ControlHttp {
    fn default() -> Self {
        ControlHttp {
            body_length: -1,
            failure: None,
            title: String::new(),
            headers: BTreeMap::new(),
            status_code: -1,
            x_body_is_truncated: false,
        }
    }
}

/// The control's DNS result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ControlDns {
    /// Why resolution failed.
    pub failure: Option<Failure>,
    /// Addresses found.
    pub addrs: Vec<String>,
}

/// Facts about one address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ControlIpInfo {
    /// Origin AS (0 when unknown).
    pub asn: u32,
    /// OONI's bit flags: 1 resolved by the probe, 2 by the control, 4 the probe's tcp_connect,
    /// 8 a bogon.
    pub flags: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ooni_control() {
        let j = r#"{"tcp_connect":{"1.2.3.4:443":{"status":true,"failure":null}},
            "tls_handshake":{"1.2.3.4:443":{"server_name":"a","status":false,"failure":"ssl_unknown_authority"}},
            "quic_handshake":{},"http_request":{"body_length":10,"failure":null,"title":"t",
            "headers":{"A":"b"},"status_code":200},"http3_request":null,
            "dns":{"failure":null,"addrs":["1.2.3.4"]},"ip_info":{"1.2.3.4":{"asn":1,"flags":11}}}"#;
        let c: ControlResponse = serde_json::from_str(j).unwrap();
        assert_eq!(c.http_request.status_code, 200);
        assert_eq!(
            c.tls_handshake["1.2.3.4:443"].failure,
            Some(Failure::SslUnknownAuthority)
        );
    }
}
