//! Evidence that is checked, not typed: each measurement, event or query a record names is
//! looked up in the store, and a record that claims interference is compared with what the
//! verdicts of its measurements say.
//!
//! Lookups go through [`EvidenceSource`]; [`StoreSource`] implements it over the store's query
//! interface (ids, uids, scans by time, country and network, event queries).

use crate::RegisterError;
use interfero_model::incident::{Evidence, EvidenceQuery, Incident, Kind};
use interfero_model::{Status, Technique};
use interfero_store::{
    Event, EventKind, EventQuery, MeasurementStore, Order, Query, StoreError, Stored,
};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// A stored measurement, as evidence shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The store's id.
    pub id: i64,
    /// The measurement uid, when it has one.
    pub uid: Option<String>,
    /// The target.
    pub input: String,
    /// `measurement_start_time`.
    pub time: String,
    /// Vantage point country.
    pub country: String,
    /// Vantage point network.
    pub network: String,
    /// The verdict's status, when judged.
    pub status: Option<Status>,
    /// The verdict's techniques.
    pub techniques: Vec<Technique>,
}

/// Where evidence is looked up.
pub trait EvidenceSource {
    /// One measurement by its store id.
    fn measurement_by_id(&self, id: i64) -> Result<Option<Found>, StoreError>;
    /// One measurement by its uid.
    fn measurement_by_uid(&self, uid: &str) -> Result<Option<Found>, StoreError>;
    /// The measurements a query selects, oldest first.
    fn query(&self, q: &EvidenceQuery) -> Result<Vec<Found>, StoreError>;
    /// Every event with its id, oldest first.
    fn events(&self) -> Result<Vec<(i64, Event)>, StoreError>;
}

/// The measurements of a domain: the input's host is the domain or under it.
pub fn host_of(input: &str) -> Option<String> {
    let url = url::Url::parse(input).ok()?;
    url.host_str()
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
}

fn in_domain(input: &str, domain: &str) -> bool {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    match host_of(input) {
        Some(h) => h == domain || h.ends_with(&format!(".{domain}")),
        // `service:linkedin` and other non-URL inputs match by name.
        None => input.eq_ignore_ascii_case(&domain),
    }
}

/// Whether a measurement time (`YYYY-MM-DD HH:MM:SS`) is within a query's window; a bare
/// `until` date includes its whole day.
pub fn in_window(time: &str, since: Option<&str>, until: Option<&str>) -> bool {
    let after = since.is_none_or(|s| time >= s);
    let before = until.is_none_or(|u| {
        if u.len() == 10 {
            time.get(..10).is_some_and(|d| d <= u)
        } else {
            time <= u
        }
    });
    after && before
}

/// Whether a measurement passes a query.
pub fn matches(f: &Found, q: &EvidenceQuery) -> bool {
    q.country
        .as_ref()
        .is_none_or(|c| c.eq_ignore_ascii_case(&f.country))
        && q.network
            .as_ref()
            .is_none_or(|n| n.eq_ignore_ascii_case(&f.network))
        && q.domain.as_ref().is_none_or(|d| in_domain(&f.input, d))
        && in_window(&f.time, q.since.as_deref(), q.until.as_deref())
}

fn found(s: &Stored) -> Found {
    let m = &s.measurement;
    Found {
        id: s.id,
        uid: Some(s.uid.clone()),
        input: m.input.clone(),
        time: m.measurement_start_time.clone(),
        country: m.probe_cc.clone(),
        network: m.probe_asn.clone(),
        status: m.verdict.as_ref().map(|v| v.status),
        techniques: m
            .verdict
            .as_ref()
            .map(|v| v.techniques.clone())
            .unwrap_or_default(),
    }
}

/// The store query that selects at least what an evidence query does: country, network and
/// time go to the store; the domain (which includes subdomains here) and the inclusive end
/// are applied after.
pub fn store_query(q: &EvidenceQuery) -> Query {
    Query {
        since: q.since.clone(),
        // The store's `until` is exclusive; a bound after every time of the same day.
        until: q
            .until
            .as_ref()
            .map(|u| format!("{} 23:59:60", u.get(..10).unwrap_or(u))),
        probe_cc: q.country.clone(),
        probe_asn: q.network.clone(),
        ..Default::default()
    }
}

/// [`EvidenceSource`] over the store's query interface (`get`, `get_by_uid`, `scan`,
/// `query_events`), so any backend that passes the store's conformance suite serves it.
pub struct StoreSource<'a> {
    store: &'a dyn MeasurementStore,
}

impl<'a> StoreSource<'a> {
    /// A source over `store`.
    pub fn new(store: &'a dyn MeasurementStore) -> Self {
        StoreSource { store }
    }
}

/// At most this many measurements are read for one query (a bounded answer for a page).
pub const MAX_QUERY: u64 = 100_000;

impl EvidenceSource for StoreSource<'_> {
    fn measurement_by_id(&self, id: i64) -> Result<Option<Found>, StoreError> {
        Ok(self.store.get(id)?.as_ref().map(found))
    }

    fn measurement_by_uid(&self, uid: &str) -> Result<Option<Found>, StoreError> {
        Ok(self.store.get_by_uid(uid)?.as_ref().map(found))
    }

    fn query(&self, q: &EvidenceQuery) -> Result<Vec<Found>, StoreError> {
        let mut out = Vec::new();
        let mut seen = 0u64;
        self.store
            .scan(&store_query(q), Order::Oldest, &mut |s: Stored| {
                seen += 1;
                let f = found(&s);
                if matches(&f, q) {
                    out.push(f);
                }
                if seen >= MAX_QUERY {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?;
        Ok(out)
    }

    fn events(&self) -> Result<Vec<(i64, Event)>, StoreError> {
        self.store.query_events(&EventQuery::default())
    }
}

/// One evidence entry, looked up.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The entry as the record has it.
    pub evidence: Evidence,
    /// One line saying what it names.
    pub label: String,
    /// The event it names, with its id.
    pub event: Option<(i64, Event)>,
    /// The measurements it holds (an event's: the episode's measurements of its target).
    pub measurements: Vec<Found>,
}

/// The measurements that belong to an event: the same target (every target for a shutdown)
/// from its start to its end, with the status the event is about.
pub fn event_measurements(all: &[Found], event: &Event) -> Vec<Found> {
    let wanted = match event.kind {
        EventKind::ShutdownStarted | EventKind::ShutdownEnded => Status::Offline,
        _ if event.technique == Some(Technique::Throughput) => Status::Throttled,
        _ => Status::Blocked,
    };
    // An event names its vantage point (unless it spans networks, as `coordinated` does).
    let cc = Some(event.probe_cc.as_str()).filter(|c| !c.is_empty() && *c != "ZZ");
    let asn = Some(event.probe_asn.as_str()).filter(|a| !a.is_empty() && *a != "AS0");
    all.iter()
        .filter(|f| f.status == Some(wanted))
        .filter(|f| cc.is_none_or(|c| f.country == c) && asn.is_none_or(|a| f.network == a))
        .filter(|f| wanted == Status::Offline || f.input == event.input)
        .filter(|f| {
            let (since, until) = event_window(event);
            in_window(&f.time, since, until)
        })
        .cloned()
        .collect()
}

/// An event's window as the measurements' times can be compared with it. The lab's watch
/// writes its events on the scenario clock (`d1 00:00`), not in UTC: such an event has no
/// usable window, and its measurements are those of its target with the status it is about.
pub fn event_window(event: &Event) -> (Option<&str>, Option<&str>) {
    let utc = |t: &str| crate::validate::valid_time(t);
    if utc(&event.started) {
        (
            Some(event.started.as_str()),
            event.ended.as_deref().filter(|e| utc(e)),
        )
    } else {
        (None, None)
    }
}

fn event_measurements_from(
    source: &dyn EvidenceSource,
    event: &Event,
) -> Result<Vec<Found>, StoreError> {
    // Every measurement of the period, of the target when there is one.
    let (since, until) = event_window(event);
    let mut q = EvidenceQuery {
        since: since.map(str::to_string),
        until: until.map(str::to_string),
        ..Default::default()
    };
    if !event.input.is_empty() {
        q.domain = host_of(&event.input).or_else(|| Some(event.input.clone()));
    }
    let candidates = source.query(&q);
    Ok(event_measurements(&candidates?, event))
}

/// Looks up one entry; `Ok(None)` for an entry that is not in the store (a measurement or event
/// id that does not exist, a query that selects nothing).
pub fn resolve_one(
    source: &dyn EvidenceSource,
    e: &Evidence,
) -> Result<Option<Resolved>, StoreError> {
    let done = |label: String, event, measurements| {
        Some(Resolved {
            evidence: e.clone(),
            label,
            event,
            measurements,
        })
    };
    Ok(match e {
        Evidence::Measurement { id, uid } => {
            let f = match (id, uid) {
                (Some(id), _) => source.measurement_by_id(*id)?,
                (None, Some(uid)) => source.measurement_by_uid(uid)?,
                (None, None) => None,
            };
            f.and_then(|f| done(describe_measurement(&f), None, vec![f]))
        }
        Evidence::Event { id } => {
            let event = source.events()?.into_iter().find(|(i, _)| i == id);
            match event {
                None => None,
                Some((id, ev)) => {
                    let ms = event_measurements_from(source, &ev)?;
                    let label = format!(
                        "event {id}: {} {} from {}{}",
                        ev.kind.as_str(),
                        if ev.input.is_empty() {
                            "(vantage point)"
                        } else {
                            &ev.input
                        },
                        ev.started,
                        ev.ended
                            .as_deref()
                            .map(|e| format!(" to {e}"))
                            .unwrap_or_default()
                    );
                    done(label, Some((id, ev)), ms)
                }
            }
        }
        Evidence::Query { query } => {
            let ms = source.query(query)?;
            if ms.is_empty() {
                None
            } else {
                done(
                    format!("query {}: {} measurements", describe_query(query), ms.len()),
                    None,
                    ms,
                )
            }
        }
        Evidence::Url { url, .. } => done(format!("page {url}"), None, Vec::new()),
        Evidence::Capture { id, url } => done(
            match url {
                Some(u) => format!("archived capture {id} of {u}"),
                None => format!("archived capture {id}"),
            },
            None,
            Vec::new(),
        ),
        Evidence::Document { title, .. } => done(format!("document {title}"), None, Vec::new()),
    })
}

/// Looks up every entry of a record; an entry that does not resolve is an error naming it.
pub fn resolve(source: &dyn EvidenceSource, i: &Incident) -> Result<Vec<Resolved>, RegisterError> {
    let mut out = Vec::new();
    for (n, e) in i.evidence.iter().enumerate() {
        match resolve_one(source, e)? {
            Some(r) => out.push(r),
            None => {
                return Err(RegisterError::Invalid {
                    id: i.id.clone(),
                    message: format!(
                        "evidence[{n}] ({}) does not resolve: the store holds no such {}; \
                         check the id, or import the measurements first",
                        compact(e),
                        match e {
                            Evidence::Event { .. } => "event",
                            Evidence::Query { .. } => "measurement (the query selects none)",
                            _ => "measurement",
                        }
                    ),
                })
            }
        }
    }
    Ok(out)
}

/// A measurement in one line.
pub fn describe_measurement(f: &Found) -> String {
    format!(
        "measurement {}: {} from {} {} at {}: {}{}",
        f.id,
        f.input,
        f.country,
        f.network,
        f.time,
        f.status.map(|s| s.as_str()).unwrap_or("not judged"),
        if f.techniques.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                f.techniques
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    )
}

/// A query in one line (`country=KZ domain=x.kz since=... until=...`).
pub fn describe_query(q: &EvidenceQuery) -> String {
    [
        ("country", &q.country),
        ("network", &q.network),
        ("domain", &q.domain),
        ("since", &q.since),
        ("until", &q.until),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
    .collect::<Vec<_>>()
    .join(" ")
}

/// An evidence entry in one line, as the CSV and the pages write it.
pub fn compact(e: &Evidence) -> String {
    match e {
        Evidence::Measurement { id: Some(id), .. } => format!("measurement {id}"),
        Evidence::Measurement { uid: Some(uid), .. } => format!("measurement {uid}"),
        Evidence::Measurement { .. } => "measurement ?".into(),
        Evidence::Event { id } => format!("event {id}"),
        Evidence::Query { query } => format!("query {}", describe_query(query)),
        Evidence::Url { url, .. } => format!("url {url}"),
        Evidence::Capture { id, .. } => format!("capture {id}"),
        Evidence::Document { title, .. } => format!("document {title}"),
    }
}

/// What the measurements say about what the record claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The kind claims no interference (an assault, a lawsuit): measurements do not apply.
    NotApplicable,
    /// It claims interference but links no measurement: proven by sources only.
    NoMeasurements,
    /// `supporting` of the `total` linked measurements show the claimed status.
    Supports {
        /// Measurements that show it.
        supporting: usize,
        /// All linked measurements.
        total: usize,
        /// The status they were expected to show.
        expected: Status,
    },
    /// None of the linked measurements shows the claimed status.
    Disagrees {
        /// The status expected.
        expected: Status,
        /// What they show instead, with counts (`not judged` for measurements without verdict).
        found: BTreeMap<String, usize>,
    },
}

impl Check {
    /// Whether the record page must warn.
    pub fn disagrees(&self) -> bool {
        matches!(self, Check::Disagrees { .. })
    }

    /// One sentence for pages and the report.
    pub fn sentence(&self) -> String {
        match self {
            Check::NotApplicable => "no network measurement applies to this kind".into(),
            Check::NoMeasurements => {
                "no measurement is linked: the record rests on its sources".into()
            }
            Check::Supports {
                supporting,
                total,
                expected,
            } => format!("{supporting} of {total} linked measurements say {expected}"),
            Check::Disagrees { expected, found } => format!(
                "the evidence disagrees with the claim: no linked measurement says {expected} ({})",
                found
                    .iter()
                    .map(|(s, n)| format!("{n} {s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The status a kind's measurements must show.
pub fn expected_status(kind: Kind) -> Option<Status> {
    match kind {
        Kind::WebsiteBlock | Kind::ServiceBlock => Some(Status::Blocked),
        Kind::Throttling => Some(Status::Throttled),
        Kind::Shutdown => Some(Status::Offline),
        _ => None,
    }
}

/// Compares the claim of a record with the verdicts of its resolved measurements.
pub fn check(kind: Kind, resolved: &[Resolved]) -> Check {
    let Some(expected) = expected_status(kind) else {
        return Check::NotApplicable;
    };
    let mut seen = BTreeMap::<i64, &Found>::new();
    for r in resolved {
        for f in &r.measurements {
            seen.insert(f.id, f);
        }
    }
    if seen.is_empty() {
        return Check::NoMeasurements;
    }
    let supporting = seen.values().filter(|f| f.status == Some(expected)).count();
    if supporting > 0 {
        return Check::Supports {
            supporting,
            total: seen.len(),
            expected,
        };
    }
    let mut found = BTreeMap::new();
    for f in seen.values() {
        let s = f.status.map(|s| s.as_str()).unwrap_or("not judged");
        *found.entry(s.to_string()).or_insert(0) += 1;
    }
    Check::Disagrees { expected, found }
}
