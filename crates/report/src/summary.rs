//! What the measurements of a country say over a period: statuses per month, the domains found
//! blocked per test-list category and network, shutdown hours from the watch's episodes, and
//! the coordinated findings.

use chrono::NaiveDateTime;
use interfero_model::target::parse_list;
use interfero_model::{Measurement, Status};
use interfero_store::{Event, EventKind};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A domain found interfered with, and where.
#[derive(Debug, Clone)]
pub struct Domain {
    /// The host.
    pub domain: String,
    /// Citizen Lab category code (`NEWS`), or `—`.
    pub category: String,
    /// The networks where it was found blocked, throttled or intercepted.
    pub networks: Vec<String>,
    /// The statuses found (`blocked`, `throttled` ...).
    pub statuses: Vec<String>,
    /// The techniques seen.
    pub techniques: Vec<String>,
    /// Day of the first measurement showing it.
    pub first: String,
    /// Day of the last measurement showing it.
    pub last: String,
    /// How many measurements show it.
    pub count: usize,
}

/// One row of the category × network table.
#[derive(Debug, Clone)]
pub struct CategoryRow {
    /// Category code.
    pub code: String,
    /// Domains per network, in [`Summary::networks`] order.
    pub per_network: Vec<usize>,
    /// Domains in all.
    pub total: usize,
}

/// A shutdown episode seen by a watch.
#[derive(Debug, Clone)]
pub struct Shutdown {
    /// Start.
    pub started: String,
    /// End, or a note that it was still open.
    pub ended: String,
    /// Hours within the period.
    pub hours: f64,
}

/// A coordinated finding.
#[derive(Debug, Clone)]
pub struct Coordinated {
    /// When first seen.
    pub started: String,
    /// The target.
    pub input: String,
    /// The technique.
    pub technique: String,
    /// What links the networks.
    pub evidence: String,
}

/// The measurement summary of a period.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Measurements from the country in the period.
    pub total: usize,
    /// Count per status, in the contract's order.
    pub per_status: Vec<(String, usize)>,
    /// Networks measured.
    pub networks: Vec<String>,
    /// Domains interfered with.
    pub domains: Vec<Domain>,
    /// Category × network.
    pub categories: Vec<CategoryRow>,
    /// Shutdown episodes.
    pub shutdowns: Vec<Shutdown>,
    /// Hours of shutdown in all.
    pub shutdown_hours: f64,
    /// Block episodes begun in the period (watch events).
    pub blocks_started: usize,
    /// Coordinated findings.
    pub coordinated: Vec<Coordinated>,
    /// Per month (`YYYY-MM`): interfered, accessible, other.
    pub per_month: BTreeMap<String, [u64; 3]>,
}

/// Host → Citizen Lab category, from the vendored test lists.
pub fn categories() -> HashMap<String, String> {
    let mut out = HashMap::new();
    for text in [
        include_str!("../../../data/test-lists/kz.csv"),
        include_str!("../../../data/test-lists/global.csv"),
    ] {
        for t in parse_list(text).0 {
            if let Some(c) = t.category_code.clone() {
                out.entry(bare(&t.host())).or_insert(c);
            }
        }
    }
    out
}

fn bare(host: &str) -> String {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h.strip_prefix("www.").map(str::to_string).unwrap_or(h)
}

fn interfered(s: Status) -> bool {
    matches!(s, Status::Blocked | Status::Throttled | Status::Intercepted)
}

fn time(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok()
}

/// Summarises the measurements (already restricted to the country and period) and the events.
/// `from`/`to` are the period's bounds as `YYYY-MM-DD HH:MM:SS`.
pub fn summarise(
    country: &str,
    ms: &[Measurement],
    events: &[Event],
    from: &str,
    to: &str,
    categories: &HashMap<String, String>,
) -> Summary {
    let mut s = Summary {
        total: ms.len(),
        ..Default::default()
    };
    let mut status = BTreeMap::<Status, usize>::new();
    let mut networks = BTreeSet::new();
    let mut domains = BTreeMap::<String, Domain>::new();
    let mut inputs = BTreeSet::new();
    for m in ms {
        networks.insert(m.probe_asn.clone());
        inputs.insert(m.input.clone());
        let st = m.verdict.as_ref().map(|v| v.status);
        if let Some(st) = st {
            *status.entry(st).or_insert(0) += 1;
        }
        let month = m.measurement_start_time.get(..7).unwrap_or("").to_string();
        let slot = match st {
            Some(st) if interfered(st) => 0,
            Some(Status::Accessible) => 1,
            _ => 2,
        };
        s.per_month.entry(month).or_insert([0; 3])[slot] += 1;
        let (Some(v), Some(host)) = (&m.verdict, url::Url::parse(&m.input).ok()) else {
            continue;
        };
        if !interfered(v.status) {
            continue;
        }
        let Some(host) = host.host_str().map(bare) else {
            continue;
        };
        // The measurement's own test-list category first, else the vendored lists'.
        let own = interfero_store::query::category_of(m);
        let d = domains.entry(host.clone()).or_insert_with(|| Domain {
            category: Some(own)
                .filter(|c| !c.is_empty())
                .or_else(|| categories.get(&host).cloned())
                .unwrap_or_else(|| "—".into()),
            domain: host,
            networks: Vec::new(),
            statuses: Vec::new(),
            techniques: Vec::new(),
            first: m.measurement_start_time.clone(),
            last: m.measurement_start_time.clone(),
            count: 0,
        });
        d.count += 1;
        let add = |list: &mut Vec<String>, v: &str| {
            if !list.iter().any(|x| x == v) {
                list.push(v.to_string());
                list.sort();
            }
        };
        add(&mut d.networks, &m.probe_asn);
        add(&mut d.statuses, v.status.as_str());
        for t in &v.techniques {
            add(&mut d.techniques, t.as_str());
        }
        if m.measurement_start_time < d.first {
            d.first = m.measurement_start_time.clone();
        }
        if m.measurement_start_time > d.last {
            d.last = m.measurement_start_time.clone();
        }
    }
    s.per_status = Status::ALL
        .iter()
        .filter_map(|st| status.get(st).map(|n| (st.as_str().to_string(), *n)))
        .collect();
    s.networks = networks.into_iter().collect();
    let mut cats = BTreeMap::<String, BTreeMap<String, BTreeSet<String>>>::new();
    for d in domains.values() {
        for n in &d.networks {
            cats.entry(d.category.clone())
                .or_default()
                .entry(n.clone())
                .or_default()
                .insert(d.domain.clone());
        }
    }
    s.categories = cats
        .into_iter()
        .map(|(code, per)| {
            let total = per.values().flatten().collect::<BTreeSet<_>>().len();
            CategoryRow {
                per_network: s
                    .networks
                    .iter()
                    .map(|n| per.get(n).map_or(0, BTreeSet::len))
                    .collect(),
                code,
                total,
            }
        })
        .collect();
    s.domains = domains.into_values().collect();
    for d in &mut s.domains {
        // Days are what a reader compares; the measurements themselves carry the times.
        d.first.truncate(10);
        d.last.truncate(10);
    }
    s.domains
        .sort_by(|a, b| b.count.cmp(&a.count).then(a.domain.cmp(&b.domain)));
    let last_measured = ms.iter().map(|m| m.measurement_start_time.as_str()).max();
    let offline: Vec<&str> = ms
        .iter()
        .filter(|m| {
            m.verdict
                .as_ref()
                .is_some_and(|v| v.status == Status::Offline)
        })
        .map(|m| m.measurement_start_time.as_str())
        .collect();
    for e in events {
        let starts_before_end = e.started.as_str() <= to;
        let ends_after_start = e.ended.as_deref().is_none_or(|x| x >= from);
        if !(starts_before_end && ends_after_start) {
            continue;
        }
        match e.kind {
            EventKind::ShutdownStarted => {
                let end = e
                    .ended
                    .as_deref()
                    .unwrap_or(last_measured.unwrap_or(to))
                    .min(to);
                let start = e.started.as_str().max(from);
                // An episode counts when its vantage point is in the country or, for events
                // that name none, when this country's measurements saw it offline.
                let named = !e.probe_cc.is_empty() && e.probe_cc != "ZZ";
                let ours = if named {
                    e.probe_cc.eq_ignore_ascii_case(country)
                } else {
                    offline
                        .iter()
                        .any(|t| *t >= e.started.as_str() && *t <= end)
                };
                if !ours {
                    continue;
                }
                let hours = match (time(start), time(end)) {
                    (Some(a), Some(b)) if b > a => (b - a).num_seconds() as f64 / 3600.0,
                    _ => 0.0,
                };
                s.shutdown_hours += hours;
                s.shutdowns.push(Shutdown {
                    started: e.started.clone(),
                    ended: e
                        .ended
                        .clone()
                        .unwrap_or_else(|| format!("still open at {end}")),
                    hours,
                });
            }
            EventKind::BlockStarted if inputs.contains(&e.input) && e.started.as_str() >= from => {
                s.blocks_started += 1;
            }
            EventKind::Coordinated if inputs.contains(&e.input) => {
                s.coordinated.push(Coordinated {
                    started: e.started.clone(),
                    input: e.input.clone(),
                    technique: e
                        .technique
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                    evidence: e.evidence.join(" "),
                });
            }
            _ => {}
        }
    }
    s
}
