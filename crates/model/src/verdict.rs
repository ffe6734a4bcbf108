//! The judgement beside each measurement: status, techniques, confidence, rules and evidence.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a measurement says about access to its target (CONTRACT.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
// Deliberately exhaustive: the seven statuses are the contract (CONTRACT.md), and a new one
// must be met by every match that decides what a status means (OONI keys, severity, ...).
pub enum Status {
    /// Reached as the control reached it.
    Accessible,
    /// Interference stops access.
    Blocked,
    /// Reached, but far slower than the control under the same conditions.
    Throttled,
    /// TLS answered with an untrusted certificate while the control's is valid.
    Intercepted,
    /// The site, not the network, is at fault.
    Down,
    /// The vantage point has no connectivity at all.
    Offline,
    /// The evidence does not decide.
    Inconclusive,
}

impl Status {
    /// Every status, in display order.
    pub const ALL: [Status; 7] = [
        Status::Accessible,
        Status::Blocked,
        Status::Throttled,
        Status::Intercepted,
        Status::Down,
        Status::Offline,
        Status::Inconclusive,
    ];

    /// The lowercase name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Accessible => "accessible",
            Status::Blocked => "blocked",
            Status::Throttled => "throttled",
            Status::Intercepted => "intercepted",
            Status::Down => "down",
            Status::Offline => "offline",
            Status::Inconclusive => "inconclusive",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! techniques {
    ($( $(#[$doc:meta])* $var:ident => $name:literal ),* $(,)?) => {
        /// A technique of interference (or a site-side cause) seen in a measurement. The
        /// vocabulary grows as censors do: other crates match it with a wildcard arm.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Technique {
            $( $(#[$doc])* $var, )*
        }

        impl Technique {
            /// Every technique in the vocabulary.
            pub const ALL: &'static [Technique] = &[$(Technique::$var),*];

            /// The dotted name used in JSON (`dns.nxdomain`).
            pub fn as_str(self) -> &'static str {
                match self { $(Technique::$var => $name,)* }
            }

            /// Parses a dotted name.
            pub fn parse(s: &str) -> Option<Technique> {
                match s { $($name => Some(Technique::$var),)* _ => None }
            }
        }
    };
}

techniques! {
    /// The resolver says the name does not exist where the control resolves it.
    DnsNxdomain => "dns.nxdomain",
    /// The resolver answers SERVFAIL where the control resolves.
    DnsServfail => "dns.servfail",
    /// The resolver answers REFUSED where the control resolves.
    DnsRefused => "dns.refused",
    /// The resolver answers with no address where the control resolves.
    DnsNoAnswer => "dns.no_answer",
    /// The resolver does not answer where the control resolves.
    DnsTimeout => "dns.timeout",
    /// Private or reserved addresses the control does not give.
    DnsBogon => "dns.bogon",
    /// Public addresses the control does not give that do not serve the name over valid TLS.
    DnsHijack => "dns.hijack",
    /// Answers that come from the path (racing or duplicate answers).
    DnsInjection => "dns.injection",
    /// The resolver's answer cannot be parsed where the control resolves.
    DnsMalformed => "dns.malformed",
    /// The parent zone (the registry) no longer delegates the name: it fails for everyone.
    DnsDelegationRemoved => "dns.delegation_removed",
    /// The parent delegates the name, but its servers do not answer (lame delegation).
    DnsDelegationBroken => "dns.delegation_broken",
    /// Connecting times out where the control connects.
    TcpTimeout => "tcp.timeout",
    /// Connecting is reset where the control connects.
    TcpReset => "tcp.reset",
    /// Connecting is refused where the control connects.
    TcpRefused => "tcp.refused",
    /// The TLS handshake stalls after the ClientHello.
    TlsTimeout => "tls.timeout",
    /// The TLS handshake is reset after the ClientHello.
    TlsReset => "tls.reset",
    /// The TLS handshake is closed after the ClientHello.
    TlsEof => "tls.eof",
    /// A certificate from an untrusted issuer where the control's is valid.
    TlsMitm => "tls.mitm",
    /// The HTTP exchange times out where the control's succeeds.
    HttpTimeout => "http.timeout",
    /// The HTTP exchange is reset where the control's succeeds.
    HttpReset => "http.reset",
    /// The HTTP exchange is closed early where the control's succeeds.
    HttpEof => "http.eof",
    /// The response matches a blockpage fingerprint or redirects to one.
    HttpBlockpage => "http.blockpage",
    /// The response differs from the control beyond the site's own variation.
    HttpDiff => "http.diff",
    /// The site itself refuses this vantage point.
    HttpServerSide => "http.server_side",
    /// The transfer rate is far below the control's.
    Throughput => "throughput",
    /// No protocol reaches any canary.
    Shutdown => "shutdown",
}

impl fmt::Display for Technique {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Technique {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Technique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Technique::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown technique {s:?}")))
    }
}

/// Interfero's judgement of one measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// What access looks like.
    pub status: Status,
    /// What was seen, sorted and without repeats.
    pub techniques: Vec<Technique>,
    /// How sure the rule that decided is, from 0 to 1.
    pub confidence: f64,
    /// The names of the rules that decided, most decisive first.
    pub rules: Vec<String>,
    /// Human-readable observations the verdict rests on.
    pub evidence: Vec<String>,
    /// Where a TTL-limited trace places the interfering device, when one was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_censor: Option<crate::trace::CensorLocation>,
    /// Per address family, what happened, when the families' outcomes differ (one reached,
    /// the other failed): said per family rather than folded into the status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub x_families: Vec<crate::family::FamilyOutcome>,
}

impl Verdict {
    /// A verdict with one rule and no techniques.
    pub fn new(status: Status, confidence: f64, rule: impl Into<String>) -> Verdict {
        Verdict {
            status,
            techniques: Vec::new(),
            confidence,
            rules: vec![rule.into()],
            evidence: Vec::new(),
            x_censor: None,
            x_families: Vec::new(),
        }
    }

    /// Adds a technique, keeping the list sorted and unique.
    pub fn with(mut self, t: Technique) -> Verdict {
        self.add(t);
        self
    }

    /// Adds a technique in place, keeping the list sorted and unique.
    pub fn add(&mut self, t: Technique) {
        if let Err(i) = self.techniques.binary_search(&t) {
            self.techniques.insert(i, t);
        }
    }

    /// Adds a line of evidence.
    pub fn because(mut self, e: impl Into<String>) -> Verdict {
        self.evidence.push(e.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technique_names_round_trip() {
        for t in Technique::ALL {
            assert_eq!(Technique::parse(t.as_str()), Some(*t));
        }
        assert_eq!(Technique::ALL.len(), 26);
    }

    #[test]
    fn verdict_json_shape() {
        let v = Verdict::new(Status::Blocked, 0.9, "r")
            .with(Technique::TlsTimeout)
            .with(Technique::TlsTimeout);
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["status"], "blocked");
        assert_eq!(j["techniques"], serde_json::json!(["tls.timeout"]));
    }
}
