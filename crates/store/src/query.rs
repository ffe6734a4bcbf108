//! The query vocabulary every backend answers: which measurements ([`Query`]), in which order
//! and page ([`PageRequest`], [`Page`]), counted how ([`Axis`], [`Bucket`]), and which events
//! ([`EventQuery`]). The collector, the explorer, the register, `analyze` and `correlate` speak
//! only this, so a backend that passes the conformance suite ([`crate::conformance`]) can
//! replace another without any of them noticing.

use crate::{EventKind, MeasurementId, RunId};
use interfero_model::{Measurement, Status, Technique};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which measurements: every set field must match; an unset field does not filter.
/// Times are UTC `YYYY-MM-DD HH:MM:SS` (the measurements' own format); a shorter prefix such as
/// `2026-12-02` works too, as the comparison is on the text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// Measured at or after this time.
    pub since: Option<String>,
    /// Measured before this time.
    pub until: Option<String>,
    /// The vantage point's country (`KZ`).
    pub probe_cc: Option<String>,
    /// The vantage point's network (`AS9198`).
    pub probe_asn: Option<String>,
    /// The target's host name, lowercase (`hola-news.kz`).
    pub domain: Option<String>,
    /// Exactly this input (URL).
    pub input: Option<String>,
    /// The test list's category code (`NEWS`).
    pub category: Option<String>,
    /// The verdict's status.
    pub status: Option<Status>,
    /// One of the verdict's techniques.
    pub technique: Option<Technique>,
    /// The run (one probe invocation, or one collector report) that made it.
    pub run: Option<RunId>,
}

/// Oldest or newest first; ties on time are broken by the store's id, so the order is total
/// and pages never overlap or skip.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Earliest measurement time first.
    #[default]
    Oldest,
    /// Latest measurement time first.
    Newest,
}

/// Where a page starts: the position (time and id) just after the last item of the previous
/// page. Opaque to users; [`Cursor::encode`] and [`Cursor::decode`] give its URL form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The last item's measurement time.
    pub time: String,
    /// The last item's id.
    pub id: MeasurementId,
}

impl Cursor {
    /// The cursor as one URL-safe token (`<id>.<time with ' ' as '_'>`).
    pub fn encode(&self) -> String {
        format!("{}.{}", self.id, self.time.replace(' ', "_"))
    }

    /// Reads [`Cursor::encode`]'s form; `None` for anything else.
    pub fn decode(s: &str) -> Option<Cursor> {
        let (id, time) = s.split_once('.')?;
        let time = time.replace('_', " ");
        let plausible = time.len() <= 32
            && time
                .bytes()
                .all(|b| b.is_ascii_digit() || b"-: ".contains(&b));
        plausible.then_some(())?;
        Some(Cursor {
            id: id.parse().ok()?,
            time,
        })
    }
}

/// One page of a query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// Start after this position (`None`: from the beginning).
    pub after: Option<Cursor>,
    /// At most this many items (a backend may cap it at [`MAX_PAGE`]).
    pub limit: usize,
    /// The order.
    pub order: Order,
}

/// The largest page a backend returns.
pub const MAX_PAGE: usize = 10_000;

impl PageRequest {
    /// The first `limit` items in `order`.
    pub fn first(limit: usize, order: Order) -> PageRequest {
        PageRequest {
            after: None,
            limit,
            order,
        }
    }
}

/// A measurement as stored: the store's ids beside the measurement itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    /// The store's id (stable; on SQLite increasing in insertion order, on ClickHouse derived
    /// from the uid, see `clickhouse::rows::id_of`).
    pub id: MeasurementId,
    /// The measurement's uid in OONI's shape (`<time>_<CC>_<test>_<hash>`): the same
    /// observations always get the same uid, so a re-submission is recognised.
    pub uid: String,
    /// The run it belongs to.
    pub run: RunId,
    /// The measurement, with the verdict the store holds for it.
    pub measurement: Measurement,
}

/// A page of results and where the next one starts (`None` when this was the last).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// The items, in the requested order.
    pub items: Vec<Stored>,
    /// Pass this as [`PageRequest::after`] for the next page.
    pub next: Option<Cursor>,
}

/// What a count is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Axis {
    /// UTC hour, `YYYY-MM-DD HH`.
    Hour,
    /// UTC day, `YYYY-MM-DD`.
    Day,
    /// UTC month, `YYYY-MM`.
    Month,
    /// The vantage point's country.
    Country,
    /// The vantage point's network (AS number).
    Network,
    /// The target's host name.
    Domain,
    /// The target's URL.
    Input,
    /// The test list's category.
    Category,
    /// The verdict's status.
    Status,
    /// The run.
    Run,
}

impl Axis {
    /// Every axis.
    pub const ALL: [Axis; 10] = [
        Axis::Hour,
        Axis::Day,
        Axis::Month,
        Axis::Country,
        Axis::Network,
        Axis::Domain,
        Axis::Input,
        Axis::Category,
        Axis::Status,
        Axis::Run,
    ];

    /// The snake_case name used in URLs (OONI's `axis_x=measurement_start_day` is mapped by
    /// the API layer).
    pub fn as_str(self) -> &'static str {
        match self {
            Axis::Hour => "hour",
            Axis::Day => "day",
            Axis::Month => "month",
            Axis::Country => "country",
            Axis::Network => "network",
            Axis::Domain => "domain",
            Axis::Input => "input",
            Axis::Category => "category",
            Axis::Status => "status",
            Axis::Run => "run",
        }
    }

    /// Parses [`Axis::as_str`]'s names.
    pub fn parse(s: &str) -> Option<Axis> {
        Axis::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The key of one measurement on this axis (what a backend groups by).
    pub fn key_of(self, s: &Stored) -> String {
        let m = &s.measurement;
        let time = &m.measurement_start_time;
        match self {
            Axis::Hour => prefix(time, 13),
            Axis::Day => prefix(time, 10),
            Axis::Month => prefix(time, 7),
            Axis::Country => m.probe_cc.clone(),
            Axis::Network => m.probe_asn.clone(),
            Axis::Domain => domain_of(&m.input),
            Axis::Input => m.input.clone(),
            Axis::Category => category_of(m),
            Axis::Status => status_name(m.verdict.as_ref().map(|v| v.status)).to_string(),
            Axis::Run => s.run.to_string(),
        }
    }
}

fn prefix(s: &str, n: usize) -> String {
    s.get(..n).unwrap_or(s).to_string()
}

/// The name a status is counted under; unjudged measurements count as `unjudged`.
pub fn status_name(s: Option<Status>) -> &'static str {
    s.map(Status::as_str).unwrap_or("unjudged")
}

/// The lowercase host of a URL input (`https://Hola-News.kz/a` → `hola-news.kz`), or the input
/// itself, lowercased, when it is not a URL with a host.
pub fn domain_of(input: &str) -> String {
    let rest = input.split_once("://").map(|(_, r)| r).unwrap_or(input);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or(v6)
    } else {
        host.split(':').next().unwrap_or(host)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The test list's category code of a measurement (its `category_code` annotation), or empty.
pub fn category_of(m: &Measurement) -> String {
    m.annotations
        .get("category_code")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string()
}

/// How many measurements of a group had each status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// All measurements of the group.
    pub total: u64,
    /// By status name ([`status_name`]); statuses with no measurement are absent.
    pub by_status: BTreeMap<String, u64>,
}

impl Counts {
    /// Counts one measurement of this status.
    pub fn add(&mut self, status: &str, n: u64) {
        self.total += n;
        *self.by_status.entry(status.to_string()).or_default() += n;
    }

    /// How many had `status` (0 when none).
    pub fn of(&self, status: Status) -> u64 {
        self.by_status.get(status.as_str()).copied().unwrap_or(0)
    }
}

/// One cell of an aggregation: the keys on the axes asked for (`y` empty with one axis).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// The key on the first axis.
    pub x: String,
    /// The key on the second axis, or empty.
    pub y: String,
    /// The counts of the cell.
    pub counts: Counts,
}

/// Which events: every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventQuery {
    /// Started at or after this time.
    pub since: Option<String>,
    /// Started before this time.
    pub until: Option<String>,
    /// The vantage point's country.
    pub probe_cc: Option<String>,
    /// The vantage point's network.
    pub probe_asn: Option<String>,
    /// The target's host name (events of the whole vantage point have none).
    pub domain: Option<String>,
    /// Exactly this target.
    pub input: Option<String>,
    /// This kind only.
    pub kind: Option<EventKind>,
    /// At most this many, oldest first (`None`: all).
    pub limit: Option<usize>,
}

/// A filter every SQL backend writes alike: `column op ?` bound to a text.
pub(crate) type TextCondition = (&'static str, &'static str, String);

fn text_condition(
    out: &mut Vec<TextCondition>,
    column: &'static str,
    op: &'static str,
    value: Option<String>,
) {
    if let Some(v) = value {
        out.push((column, op, v));
    }
}

impl Query {
    /// The text filters, as each backend compares them: the time range (as text, so a prefix
    /// such as `2026-11-10` works), country, network, domain (lower case), URL, category and
    /// Whether a per-day count table (SQLite's and ClickHouse's `daily_counts`) answers this
    /// query exactly with these axes: no filter it does not hold (URL, run), times that are
    /// whole days (a text of at most 10 characters compares with a measurement's time exactly
    /// as with its day: the two differ only after the 10th character), and axes it has.
    pub(crate) fn whole_days(&self, axes: &[Axis]) -> bool {
        let whole_day = |t: &Option<String>| t.as_ref().is_none_or(|t| t.len() <= 10);
        self.input.is_none()
            && self.run.is_none()
            && whole_day(&self.since)
            && whole_day(&self.until)
            && axes.iter().all(|a| {
                matches!(
                    a,
                    Axis::Day
                        | Axis::Month
                        | Axis::Country
                        | Axis::Network
                        | Axis::Domain
                        | Axis::Category
                        | Axis::Status
                )
            })
    }

    /// status. Techniques and the run are the backends' own (their columns differ).
    pub(crate) fn text_conditions(&self) -> Vec<TextCondition> {
        let mut out = Vec::new();
        let t = "measurement_start_time";
        text_condition(&mut out, t, ">=", self.since.clone());
        text_condition(&mut out, t, "<", self.until.clone());
        text_condition(&mut out, "probe_cc", "=", self.probe_cc.clone());
        text_condition(&mut out, "probe_asn", "=", self.probe_asn.clone());
        let domain = self.domain.as_ref().map(|d| d.to_ascii_lowercase());
        text_condition(&mut out, "domain", "=", domain);
        text_condition(&mut out, "input", "=", self.input.clone());
        text_condition(&mut out, "category", "=", self.category.clone());
        let status = self.status.map(|s| s.as_str().to_string());
        text_condition(&mut out, "status", "=", status);
        out
    }
}

impl EventQuery {
    /// The filters, as each backend compares them (times as text, the domain in lower case).
    pub(crate) fn text_conditions(&self) -> Vec<TextCondition> {
        let mut out = Vec::new();
        text_condition(&mut out, "started", ">=", self.since.clone());
        text_condition(&mut out, "started", "<", self.until.clone());
        text_condition(&mut out, "probe_cc", "=", self.probe_cc.clone());
        text_condition(&mut out, "probe_asn", "=", self.probe_asn.clone());
        let domain = self.domain.as_ref().map(|d| d.to_ascii_lowercase());
        text_condition(&mut out, "domain", "=", domain);
        text_condition(&mut out, "input", "=", self.input.clone());
        let kind = self.kind.map(|k| k.as_str().to_string());
        text_condition(&mut out, "kind", "=", kind);
        out
    }
}
