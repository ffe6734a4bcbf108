//! OONI failure strings (ooni/spec df-007) as a typed value that round-trips any string.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A failure of one network step, named as OONI names it. OONI adds failure strings over time:
/// other crates match it with a wildcard arm.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Failure {
    /// `dns_nxdomain_error`: the name does not exist.
    DnsNxdomain,
    /// `dns_servfail_error`: the resolver answered SERVFAIL.
    DnsServfail,
    /// `dns_refused_error`: the resolver answered REFUSED.
    DnsRefused,
    /// `dns_no_answer`: NOERROR with no address of the asked type.
    DnsNoAnswer,
    /// `dns_server_misbehaving`: an answer that could not be parsed or made no sense.
    DnsMisbehaving,
    /// `dns_bogon_error`: the answer holds only bogon addresses (OONI's name).
    DnsBogon,
    /// `generic_timeout_error`: no answer within the step's deadline.
    Timeout,
    /// `connection_refused`: RST in answer to SYN.
    ConnectionRefused,
    /// `connection_reset`: RST on an established connection.
    ConnectionReset,
    /// `eof_error`: the peer closed the connection cleanly when more was expected.
    Eof,
    /// `host_unreachable`.
    HostUnreachable,
    /// `network_unreachable`.
    NetworkUnreachable,
    /// `ssl_unknown_authority`: the chain does not lead to a trusted root.
    SslUnknownAuthority,
    /// `ssl_invalid_hostname`: the certificate is not valid for the name.
    SslInvalidHostname,
    /// `ssl_invalid_certificate`: expired, not yet valid, or otherwise unusable.
    SslInvalidCertificate,
    /// `ssl_failed_handshake`: the TLS protocol failed (garbage, alert).
    SslFailedHandshake,
    /// `x_destination_refused`: the measurer itself refused to send anything to the address
    /// (a control asked to reach private space, a lab probe asked to leave the lab). Not an
    /// observation of the network: nothing may be judged from it.
    DestinationRefused,
    /// Any other failure string, kept verbatim.
    Other(String),
}

impl Failure {
    /// The OONI string for this failure.
    pub fn as_str(&self) -> &str {
        match self {
            Failure::DnsNxdomain => "dns_nxdomain_error",
            Failure::DnsServfail => "dns_servfail_error",
            Failure::DnsRefused => "dns_refused_error",
            Failure::DnsNoAnswer => "dns_no_answer",
            Failure::DnsMisbehaving => "dns_server_misbehaving",
            Failure::DnsBogon => "dns_bogon_error",
            Failure::Timeout => "generic_timeout_error",
            Failure::ConnectionRefused => "connection_refused",
            Failure::ConnectionReset => "connection_reset",
            Failure::Eof => "eof_error",
            Failure::HostUnreachable => "host_unreachable",
            Failure::NetworkUnreachable => "network_unreachable",
            Failure::SslUnknownAuthority => "ssl_unknown_authority",
            Failure::SslInvalidHostname => "ssl_invalid_hostname",
            Failure::SslInvalidCertificate => "ssl_invalid_certificate",
            Failure::SslFailedHandshake => "ssl_failed_handshake",
            Failure::DestinationRefused => "x_destination_refused",
            Failure::Other(s) => s,
        }
    }

    /// Parses an OONI failure string; unknown strings become [`Failure::Other`].
    pub fn parse(s: &str) -> Failure {
        match s {
            "dns_nxdomain_error" | "dns_name_error" => Failure::DnsNxdomain,
            "dns_servfail_error" | "dns_server_failure" => Failure::DnsServfail,
            "dns_refused_error" => Failure::DnsRefused,
            "dns_no_answer" => Failure::DnsNoAnswer,
            "dns_server_misbehaving" => Failure::DnsMisbehaving,
            "dns_bogon_error" => Failure::DnsBogon,
            "generic_timeout_error" => Failure::Timeout,
            "connection_refused" => Failure::ConnectionRefused,
            "connection_reset" => Failure::ConnectionReset,
            "eof_error" => Failure::Eof,
            "host_unreachable" => Failure::HostUnreachable,
            "network_unreachable" => Failure::NetworkUnreachable,
            "ssl_unknown_authority" => Failure::SslUnknownAuthority,
            "ssl_invalid_hostname" => Failure::SslInvalidHostname,
            "ssl_invalid_certificate" => Failure::SslInvalidCertificate,
            "ssl_failed_handshake" => Failure::SslFailedHandshake,
            "x_destination_refused" => Failure::DestinationRefused,
            other => Failure::Other(other.to_string()),
        }
    }

    /// True for the certificate failures (`ssl_unknown_authority`, `ssl_invalid_hostname`,
    /// `ssl_invalid_certificate`): the handshake reached the server's certificate.
    pub fn is_certificate(&self) -> bool {
        matches!(
            self,
            Failure::SslUnknownAuthority
                | Failure::SslInvalidHostname
                | Failure::SslInvalidCertificate
        )
    }

    /// True for failures of the measurer itself, not of the network: a destination it refused
    /// to dial, or an error it could not map to anything the network did (`unknown_failure:
    /// ...`, e.g. out of file descriptors, a bad name, a decoding bug). Nothing about
    /// interference may be concluded from them.
    pub fn is_probe_local(&self) -> bool {
        match self {
            Failure::DestinationRefused => true,
            Failure::Other(s) => s.starts_with("unknown_failure"),
            _ => false,
        }
    }

    /// True for the DNS failures reported by a resolver (not timeouts).
    pub fn is_dns(&self) -> bool {
        matches!(
            self,
            Failure::DnsNxdomain
                | Failure::DnsServfail
                | Failure::DnsRefused
                | Failure::DnsNoAnswer
                | Failure::DnsMisbehaving
                | Failure::DnsBogon
        )
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Failure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Failure {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Failure::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_known_and_unknown() {
        for s in [
            "dns_nxdomain_error",
            "connection_reset",
            "unknown_failure: x",
        ] {
            assert_eq!(Failure::parse(s).as_str(), s);
        }
        let j = serde_json::to_string(&Failure::Timeout).unwrap();
        assert_eq!(j, "\"generic_timeout_error\"");
        let back: Failure = serde_json::from_str(&j).unwrap();
        assert_eq!(back, Failure::Timeout);
    }
}
