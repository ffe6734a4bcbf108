//! Evidence against denial: the same interference, with the same artefact (blockpage,
//! certificate, forged DNS answer) or the same device behaviour, starting at about the same
//! time on different networks, is one authority's measure rather than one ISP's fault. Pure:
//! the caller gathers measurements from many probes (a collector, several `--out` files).

use crate::facts::Facts;
use interfero_model::{Measurement, Status, Technique};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What links sightings on different networks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Signature {
    /// The technique (`http.blockpage`, `tls.mitm`, ...).
    pub technique: Technique,
    /// The artefact: `certificate SPKI sha256 ...`, `blockpage body sha256 ...`, `forged
    /// answer ...`; or `behaviour` when only the technique links them.
    pub artefact: String,
}

impl Signature {
    /// Whether an artefact (not only a behaviour) is shared.
    pub fn identical_artefact(&self) -> bool {
        self.artefact != "behaviour"
    }
}

fn short_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
        .chars()
        .take(16)
        .collect()
}

/// The signature of a measurement's interference, if its verdict says it was interfered with.
pub fn signature(m: &Measurement) -> Option<Signature> {
    let v = m.verdict.as_ref()?;
    if !matches!(
        v.status,
        Status::Blocked | Status::Intercepted | Status::Throttled
    ) {
        return None;
    }
    let f = Facts::new(&m.input, &m.test_keys);
    let techniques = &v.techniques;
    if techniques.contains(&Technique::TlsMitm) {
        // The certificate closest to the root that the interceptor presented.
        let spki = m
            .test_keys
            .tls_handshakes
            .iter()
            .filter_map(|t| t.x_chain.last())
            .map(|c| c.spki_sha256.clone())
            .find(|s| !s.is_empty())?;
        return Some(Signature {
            technique: Technique::TlsMitm,
            artefact: format!(
                "certificate SPKI sha256 {}",
                spki.chars().take(16).collect::<String>()
            ),
        });
    }
    if techniques.contains(&Technique::HttpBlockpage) {
        if let Some(rt) = f.chain.iter().rev().find(|rt| rt.response.code > 0) {
            return Some(Signature {
                technique: Technique::HttpBlockpage,
                artefact: format!(
                    "blockpage body sha256 {}",
                    short_hash(rt.response.body_text().as_bytes())
                ),
            });
        }
    }
    for t in [
        Technique::DnsHijack,
        Technique::DnsBogon,
        Technique::DnsInjection,
    ] {
        if techniques.contains(&t) {
            let control = f.control_addrs();
            let mut forged: Vec<String> = f
                .dns
                .addrs
                .iter()
                .filter(|a| !control.contains(a))
                .map(|a| a.to_string())
                .collect();
            forged.sort();
            forged.dedup();
            if !forged.is_empty() {
                return Some(Signature {
                    technique: t,
                    artefact: format!("forged answer {}", forged.join(", ")),
                });
            }
        }
    }
    Some(Signature {
        technique: *techniques.first()?,
        artefact: "behaviour".into(),
    })
}

/// Networks that showed the same signature, each from when it was first seen there.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// What links them.
    pub signature: Signature,
    /// (network, first seen) in order of first sighting.
    pub networks: Vec<(String, String)>,
    /// The targets concerned.
    pub inputs: Vec<String>,
    /// Seconds between the first and the last network's first sighting, when times parse.
    pub spread_secs: Option<i64>,
    /// The finding in words, for verdict evidence and events.
    pub evidence: String,
}

fn network(m: &Measurement) -> Option<String> {
    // AS0 is "not recorded": such a measurement cannot say which network it speaks for.
    (m.probe_asn != "AS0" && !m.probe_asn.is_empty())
        .then(|| format!("{} ({})", m.probe_asn, m.probe_cc))
}

fn seconds(t: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|d| d.and_utc().timestamp())
}

/// Signatures seen on at least two networks whose first sightings fall within `window_secs`
/// of each other (when their times parse; otherwise the finding says the timing is unknown).
pub fn correlate(ms: &[Measurement], window_secs: i64) -> Vec<Finding> {
    let mut c = Correlator::default();
    for m in ms {
        c.add(m);
    }
    c.findings(window_secs)
}

/// [`correlate`] one measurement at a time, for a store or files too large to hold: it keeps
/// only, per signature and network, the first sighting and the targets concerned.
#[derive(Debug, Default)]
pub struct Correlator {
    // signature -> network -> (first seen, inputs)
    seen: BTreeMap<Signature, BTreeMap<String, (String, Vec<String>)>>,
}

impl Correlator {
    /// Takes one measurement into account.
    pub fn add(&mut self, m: &Measurement) {
        let (Some(sig), Some(net)) = (signature(m), network(m)) else {
            return;
        };
        let e = self
            .seen
            .entry(sig)
            .or_default()
            .entry(net)
            .or_insert_with(|| (m.measurement_start_time.clone(), Vec::new()));
        if m.measurement_start_time < e.0 {
            e.0 = m.measurement_start_time.clone();
        }
        if !e.1.contains(&m.input) {
            e.1.push(m.input.clone());
        }
    }

    /// The findings over every measurement added.
    pub fn findings(self, window_secs: i64) -> Vec<Finding> {
        findings(self.seen, window_secs)
    }
}

type Seen = BTreeMap<Signature, BTreeMap<String, (String, Vec<String>)>>;

fn findings(seen: Seen, window_secs: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    for (sig, nets) in seen {
        if nets.len() < 2 {
            continue;
        }
        let mut networks: Vec<(String, String)> = nets
            .iter()
            .map(|(n, (t, _))| (n.clone(), t.clone()))
            .collect();
        networks.sort_by(|a, b| a.1.cmp(&b.1));
        let times: Option<Vec<i64>> = networks.iter().map(|(_, t)| seconds(t)).collect();
        let spread = times.map(|ts| {
            ts.iter().max().copied().unwrap_or(0) - ts.iter().min().copied().unwrap_or(0)
        });
        if spread.is_some_and(|s| s > window_secs) {
            continue;
        }
        let mut inputs: Vec<String> = nets.values().flat_map(|(_, i)| i.clone()).collect();
        inputs.sort();
        inputs.dedup();
        let what = if sig.identical_artefact() {
            format!("the same {} ({})", sig.technique, sig.artefact)
        } else {
            format!("the same behaviour ({})", sig.technique)
        };
        let when = match spread {
            Some(s) => format!("first seen within {} min of each other", s / 60),
            None => "(first-seen times not comparable)".into(),
        };
        let evidence = format!(
            "{what} on {} networks — {} — {when}, for {} target(s): a measure applied across \
             networks, not one operator's fault",
            networks.len(),
            networks
                .iter()
                .map(|(n, t)| format!("{n} from {t}"))
                .collect::<Vec<_>>()
                .join(", "),
            inputs.len()
        );
        out.push(Finding {
            signature: sig,
            networks,
            inputs,
            spread_secs: spread,
            evidence,
        });
    }
    out
}

/// Adds to `m`'s verdict the evidence of every finding it is part of (same signature, same
/// network); how many were added.
pub fn annotate(m: &mut Measurement, findings: &[Finding]) -> usize {
    let (Some(sig), Some(net)) = (signature(m), network(m)) else {
        return 0;
    };
    let Some(v) = m.verdict.as_mut() else {
        return 0;
    };
    let mut added = 0;
    for f in findings
        .iter()
        .filter(|f| f.signature == sig && f.networks.iter().any(|(n, _)| *n == net))
    {
        v.evidence.push(f.evidence.clone());
        added += 1;
    }
    added
}
