//! Known state interception roots: a versioned list shipped with Interfero, matched against the
//! certificate chains a probe captured.

use interfero_model::measurement::CertInfo;
use serde::Deserialize;
use std::sync::OnceLock;

/// One root (or family of issuers) known to have been used for state TLS interception.
#[derive(Debug, Clone, Deserialize)]
pub struct StateRoot {
    /// Human name.
    pub name: String,
    /// ISO country code of the state.
    pub country: String,
    /// When it was seen in use.
    pub period: String,
    /// Substrings of a subject or issuer DN that identify it.
    pub subject_contains: Vec<String>,
    /// SHA-256 of the SubjectPublicKeyInfo (Chromium blocklist names), hex.
    pub spki_sha256: Vec<String>,
    /// SHA-1 of certificates of it or its intermediates, hex.
    pub cert_sha1: Vec<String>,
}

/// The list with its version.
#[derive(Debug, Clone, Deserialize)]
pub struct StateRoots {
    /// Date of the list.
    pub version: String,
    /// The roots.
    pub roots: Vec<StateRoot>,
}

impl StateRoots {
    /// The list shipped with this build.
    pub fn builtin() -> &'static StateRoots {
        static LIST: OnceLock<StateRoots> = OnceLock::new();
        LIST.get_or_init(|| {
            serde_json::from_str(include_str!("../data/state-roots.json")).unwrap_or(StateRoots {
                version: "unparsable".into(),
                roots: Vec::new(),
            })
        })
    }

    /// The known root a chain leads to, matched by subject or issuer name or by fingerprint.
    pub fn match_chain(&self, chain: &[CertInfo]) -> Option<(&StateRoot, String)> {
        for root in &self.roots {
            for cert in chain {
                for needle in &root.subject_contains {
                    for (what, dn) in [("issuer", &cert.issuer), ("subject", &cert.subject)] {
                        if dn.contains(needle.as_str()) {
                            return Some((root, format!("{what} \"{dn}\" names {}", root.name)));
                        }
                    }
                }
                let listed = |list: &[String], fp: &str| {
                    !fp.is_empty() && list.iter().any(|f| f.eq_ignore_ascii_case(fp))
                };
                if listed(&root.cert_sha1, &cert.sha1) {
                    return Some((root, format!("certificate SHA-1 {} is listed", cert.sha1)));
                }
                if listed(&root.spki_sha256, &cert.spki_sha256) {
                    let fp = &cert.spki_sha256;
                    return Some((root, format!("public key SHA-256 {fp} is listed")));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_parses_and_matches_issuer() {
        let l = StateRoots::builtin();
        assert!(l.roots.len() >= 2, "list shipped");
        let chain = vec![CertInfo {
            subject: "CN=news.example".into(),
            issuer: "C=KZ, O=ISCA, CN=Information Security Certification Authority".into(),
            ..Default::default()
        }];
        let (root, why) = l.match_chain(&chain).unwrap();
        assert_eq!(root.country, "KZ");
        assert!(why.contains("issuer"));
        let honest = vec![CertInfo {
            subject: "CN=news.example".into(),
            issuer: "CN=R11, O=Let's Encrypt".into(),
            ..Default::default()
        }];
        assert!(l.match_chain(&honest).is_none());
    }
}
