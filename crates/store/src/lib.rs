//! Storage of measurements behind one interface, [`MeasurementStore`]; SQLite
//! ([`SqliteStore`]) is the embedded default, and ClickHouse (module `clickhouse`, feature
//! `clickhouse`) implements the same trait for an observatory that outgrows one file;
//! [`open`] picks one from a `--store` address. The store also keeps events (a block begins or ends, a shutdown starts) for
//! watching a target over time, and exports measurements as JSON Lines.

pub mod capture_query;
pub mod captures;
mod checkpoint;
#[cfg(feature = "clickhouse")]
pub mod clickhouse;
mod error;
pub mod incidents;
mod open;
pub mod outbox;
pub mod query;
mod schema;
mod sqlite;
mod sqlite_query;
pub mod synthetic;
mod uid;

pub use capture_query::{CaptureCursor, CapturePage, CapturePageRequest, CaptureQuery};
pub use captures::{CaptureEntry, CaptureIndex};
pub use error::StoreError;
pub use incidents::{
    Audience, AuditEntry, IncidentChange, IncidentFilter, IncidentStore, IncidentStoreError,
    OnExisting,
};
pub use open::{is_server_address, open, open_durable, open_durable_with_register, WithRegister};
pub use outbox::{Outbox, OutboxCounts, Pending};
pub use query::{
    Axis, Bucket, Counts, Cursor, EventQuery, Order, Page, PageRequest, Query, Stored, MAX_PAGE,
};
pub use sqlite::{Durability, SqliteStore};
pub use uid::uid_of;

use interfero_model::{Measurement, Status, Technique, Verdict};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::ops::ControlFlow;

/// The id of a run (one invocation of the probe over a list of targets).
pub type RunId = i64;

/// The id of a stored measurement.
pub type MeasurementId = i64;

/// The id of a stored event.
pub type EventId = i64;

/// What is known about a run when it begins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// UTC start, `YYYY-MM-DD HH:MM:SS` (the measurements' time format).
    pub started: String,
    /// The Interfero version that measured.
    pub software_version: String,
    /// The vantage point's country (`ZZ` when unknown or hidden).
    pub probe_cc: String,
    /// The vantage point's network (`AS0` when unknown or hidden).
    pub probe_asn: String,
    /// Free text from the user (why the run was made, the list used ...).
    pub note: String,
}

/// Which measurements to read; an unset field does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Exactly this input (URL).
    pub input: Option<String>,
    /// Only measurements whose verdict has this status.
    pub status: Option<Status>,
    /// Only measurements of this run.
    pub run: Option<RunId>,
    /// At most this many, oldest first.
    pub limit: Option<usize>,
}

/// The kind of a change seen over time for one target or vantage point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A target that was reachable became blocked.
    BlockStarted,
    /// A blocked target became reachable again.
    BlockEnded,
    /// The vantage point lost all connectivity.
    ShutdownStarted,
    /// Connectivity came back.
    ShutdownEnded,
    /// The same interference (artefact or behaviour) began on several networks at about the
    /// same time.
    Coordinated,
    /// An archived page went away (404/410, redirect home, soft 404, or gone only here).
    ContentRemoved,
    /// An archived page's content changed (text altered, image swapped, page replaced).
    ContentChanged,
    /// The registry stopped delegating a target's name (a suspended registration).
    DelegationRemoved,
    /// The registry delegates the name again.
    DelegationRestored,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 9] = [
        EventKind::BlockStarted,
        EventKind::BlockEnded,
        EventKind::ShutdownStarted,
        EventKind::ShutdownEnded,
        EventKind::Coordinated,
        EventKind::ContentRemoved,
        EventKind::ContentChanged,
        EventKind::DelegationRemoved,
        EventKind::DelegationRestored,
    ];

    /// The snake_case name stored and written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::BlockStarted => "block_started",
            EventKind::BlockEnded => "block_ended",
            EventKind::ShutdownStarted => "shutdown_started",
            EventKind::ShutdownEnded => "shutdown_ended",
            EventKind::Coordinated => "coordinated",
            EventKind::ContentRemoved => "content_removed",
            EventKind::ContentChanged => "content_changed",
            EventKind::DelegationRemoved => "delegation_removed",
            EventKind::DelegationRestored => "delegation_restored",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A change seen over time (for `watch`): a block begins or ends, a shutdown starts or ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The target concerned (a URL), or empty for the whole vantage point.
    pub input: String,
    /// What happened.
    pub kind: EventKind,
    /// The technique seen, when one was.
    pub technique: Option<Technique>,
    /// UTC time the change was first seen, `YYYY-MM-DD HH:MM:SS`.
    pub started: String,
    /// UTC time it ended, when it has.
    pub ended: Option<String>,
    /// Human-readable observations (measurement ids, verdict evidence ...).
    pub evidence: Vec<String>,
    /// The vantage point's country (`ZZ` or empty when unknown or hidden; for a
    /// `coordinated` event, empty: it spans networks, named in the evidence).
    #[serde(default)]
    pub probe_cc: String,
    /// The vantage point's network (`AS0` or empty when unknown or hidden).
    #[serde(default)]
    pub probe_asn: String,
}

/// A measurement with its stored text and its [`uid_of`] worked out ahead of the insert.
///
/// Encoding is most of the CPU an insert costs. A collector encodes each submission on the
/// request thread that received it, in parallel, so that its one writer thread (which every
/// durable acknowledgement waits for) only writes: see [`MeasurementStore::insert_encoded`].
#[derive(Debug, Clone)]
pub struct Encoded {
    measurement: Measurement,
    json: String,
    uid: String,
}

impl Encoded {
    /// Encodes `measurement` as a store keeps it.
    pub fn new(measurement: Measurement) -> Result<Encoded, StoreError> {
        let json = serde_json::to_string(&measurement).map_err(|source| StoreError::Encode {
            input: measurement.input.clone(),
            source,
        })?;
        let uid = uid_of(&measurement);
        Ok(Encoded {
            measurement,
            json,
            uid,
        })
    }

    /// The measurement.
    pub fn measurement(&self) -> &Measurement {
        &self.measurement
    }

    /// Its uid ([`uid_of`]).
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The measurement as stored: its JSON text.
    pub fn json(&self) -> &str {
        &self.json
    }
}

/// How many measurements [`MeasurementStore::scan`] reads at a time: its memory bound.
pub const SCAN_BATCH: usize = 1_000;

/// One storage interface for measurements, runs and events. Implementations are safe to share
/// between threads.
pub trait MeasurementStore: Send + Sync {
    /// Records the start of a run and returns its id.
    fn begin_run(&self, info: &RunInfo) -> Result<RunId, StoreError>;

    /// Stores one measurement of a run. A measurement whose observations are already stored
    /// (same [`uid_of`]) is not stored again: the existing id is returned.
    fn insert(&self, run: RunId, m: &Measurement) -> Result<MeasurementId, StoreError> {
        let ids = self.insert_many(run, std::slice::from_ref(m))?;
        ids.first().copied().ok_or(StoreError::UnknownRun(run))
    }

    /// Stores many measurements of a run at once, all or none (on ClickHouse: all or none per
    /// month, as an INSERT is atomic per partition; storing again is safe); returns their ids
    /// in order.
    fn insert_many(&self, run: RunId, ms: &[Measurement])
        -> Result<Vec<MeasurementId>, StoreError>;

    /// [`MeasurementStore::insert_many`] for measurements encoded ahead ([`Encoded`]): the
    /// same rows, ids and all-or-none, without encoding them again. A store that keeps
    /// another form than the JSON text may ignore the encoding.
    fn insert_encoded(
        &self,
        run: RunId,
        rows: &[Encoded],
    ) -> Result<Vec<MeasurementId>, StoreError> {
        let ms: Vec<Measurement> = rows.iter().map(|e| e.measurement.clone()).collect();
        self.insert_many(run, &ms)
    }

    /// How many measurements are stored.
    fn count(&self) -> Result<u64, StoreError>;

    /// The measurements that pass the filter, oldest first.
    fn measurements(&self, filter: &Filter) -> Result<Vec<Measurement>, StoreError>;

    /// Writes the measurements of one run (or all, with `None`) as JSON Lines, oldest first;
    /// returns how many were written.
    fn export_jsonl(&self, run: Option<RunId>, out: &mut dyn Write) -> Result<u64, StoreError>;

    /// Stores an event and returns its id.
    fn record_event(&self, event: &Event) -> Result<EventId, StoreError>;

    /// Every event, oldest first.
    fn events(&self) -> Result<Vec<Event>, StoreError>;

    /// Marks an episode event (`block_started`, `shutdown_started`) as ended at `ended`.
    fn end_event(&self, id: EventId, ended: &str) -> Result<(), StoreError>;

    /// The episode events not ended yet, with their ids, oldest first (to resume watching).
    fn open_events(&self) -> Result<Vec<(EventId, Event)>, StoreError>;

    /// The measurement with this id, if stored.
    fn get(&self, id: MeasurementId) -> Result<Option<Stored>, StoreError>;

    /// The measurement with this uid, if stored.
    fn get_by_uid(&self, uid: &str) -> Result<Option<Stored>, StoreError>;

    /// One page of the measurements that match `query`, in the requested order.
    fn page(&self, query: &Query, page: &PageRequest) -> Result<Page, StoreError>;

    /// How many measurements match `query`.
    fn count_matching(&self, query: &Query) -> Result<u64, StoreError>;

    /// The measurements that match `query`, counted by status in groups of `x` (and `y`),
    /// sorted by `x` then `y`. Groups with no measurement are absent.
    fn aggregate(&self, query: &Query, x: Axis, y: Option<Axis>)
        -> Result<Vec<Bucket>, StoreError>;

    /// The events that match `query`, with their ids, oldest first.
    fn query_events(&self, query: &EventQuery) -> Result<Vec<(EventId, Event)>, StoreError>;

    /// Replaces the verdict held for a measurement (re-judging after a rule change); the
    /// observations are never changed. Unknown ids are an error.
    fn set_verdict(&self, id: MeasurementId, verdict: Option<&Verdict>) -> Result<(), StoreError>;

    /// Calls `each` with every measurement that matches `query`, in `order`, reading
    /// [`SCAN_BATCH`] at a time (memory stays bounded whatever the table's size, and no lock is
    /// held while `each` runs, so it may write to the store). Stops early when `each` breaks;
    /// returns how many were passed.
    fn scan(
        &self,
        query: &Query,
        order: Order,
        each: &mut dyn FnMut(Stored) -> ControlFlow<()>,
    ) -> Result<u64, StoreError> {
        let mut request = PageRequest::first(SCAN_BATCH, order);
        let mut n = 0u64;
        loop {
            let page = self.page(query, &request)?;
            for item in page.items {
                n += 1;
                if each(item).is_break() {
                    return Ok(n);
                }
            }
            match page.next {
                Some(next) => request.after = Some(next),
                None => return Ok(n),
            }
        }
    }
}
