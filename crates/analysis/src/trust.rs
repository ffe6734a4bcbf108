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

    /// This list and `extra` roots (a lab's fictional state root, an operator's own list).
    pub fn with_extra(&self, extra: Vec<StateRoot>) -> StateRoots {
        let mut roots = self.roots.clone();
        roots.extend(extra);
        StateRoots {
            version: self.version.clone(),
            roots,
        }
    }

    /// The known root a chain leads to: by key (a listed SPKI or certificate fingerprint)
    /// before by name (a listed substring of a subject or issuer). A name is anyone's to
    /// write into a certificate, so only a key match is proof.
    pub fn match_chain(&self, chain: &[CertInfo]) -> Option<RootMatch<'_>> {
        let listed = |list: &[String], fp: &str| {
            !fp.is_empty() && list.iter().any(|f| f.eq_ignore_ascii_case(fp))
        };
        for root in &self.roots {
            for cert in chain {
                if listed(&root.cert_sha1, &cert.sha1) {
                    let why = format!("certificate SHA-1 {} is listed", cert.sha1);
                    return Some(RootMatch {
                        root,
                        why,
                        by_key: true,
                    });
                }
                if listed(&root.spki_sha256, &cert.spki_sha256) {
                    let why = format!("public key SHA-256 {} is listed", cert.spki_sha256);
                    return Some(RootMatch {
                        root,
                        why,
                        by_key: true,
                    });
                }
            }
        }
        for root in &self.roots {
            for cert in chain {
                for needle in &root.subject_contains {
                    for (what, dn) in [("issuer", &cert.issuer), ("subject", &cert.subject)] {
                        if dn.contains(needle.as_str()) {
                            let why = format!("{what} \"{dn}\" names {}", root.name);
                            return Some(RootMatch {
                                root,
                                why,
                                by_key: false,
                            });
                        }
                    }
                }
            }
        }
        None
    }
}

/// A chain matched to a known state root.
#[derive(Debug, Clone)]
pub struct RootMatch<'a> {
    /// The root.
    pub root: &'a StateRoot,
    /// What matched, for the evidence.
    pub why: String,
    /// True when a listed key or certificate matched, false when only a name did.
    pub by_key: bool,
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
        let m = l.match_chain(&chain).unwrap();
        assert_eq!(m.root.country, "KZ");
        assert!(m.why.contains("issuer") && !m.by_key);
        let keyed = vec![CertInfo {
            subject: "CN=Anything".into(),
            sha1: "FABDA72FA1F620C160420A496194B61F82A01B4A".into(),
            ..Default::default()
        }];
        assert!(l.match_chain(&keyed).unwrap().by_key);
        let honest = vec![CertInfo {
            subject: "CN=news.example".into(),
            issuer: "CN=R11, O=Let's Encrypt".into(),
            ..Default::default()
        }];
        assert!(l.match_chain(&honest).is_none());
    }
}
