//! `watch` against a lab world whose rules switch on and off: the events it stores are the
//! ones the censor's rules imply, each seen at the first round after the switch, and no
//! measurement is lost, not during the shutdown and not when the store fails for a while.

use interfero_lab::{Scenario, ScenarioTime};
use interfero_lab_run::lab::Lab;
use interfero_lab_run::labwatch::watch_lab;
use interfero_model::Measurement;
use interfero_model::Verdict;
use interfero_store::{
    Axis, Bucket, Event, EventId, EventKind, EventQuery, Filter, MeasurementId, MeasurementStore,
    Page, PageRequest, Query, RunId, RunInfo, SqliteStore, StoreError, Stored,
};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A store whose first `fail` inserts fail, as a full disk or a locked database would.
struct Flaky {
    inner: SqliteStore,
    fail: AtomicUsize,
}

impl MeasurementStore for Flaky {
    fn begin_run(&self, info: &RunInfo) -> Result<RunId, StoreError> {
        self.inner.begin_run(info)
    }
    fn insert(&self, run: RunId, m: &Measurement) -> Result<MeasurementId, StoreError> {
        if self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(StoreError::Corrupt {
                what: "test",
                id: 0,
                message: "disk full (simulated)".into(),
            });
        }
        self.inner.insert(run, m)
    }
    fn insert_many(
        &self,
        run: RunId,
        ms: &[Measurement],
    ) -> Result<Vec<MeasurementId>, StoreError> {
        self.inner.insert_many(run, ms)
    }
    fn count(&self) -> Result<u64, StoreError> {
        self.inner.count()
    }
    fn measurements(&self, f: &Filter) -> Result<Vec<Measurement>, StoreError> {
        self.inner.measurements(f)
    }
    fn export_jsonl(
        &self,
        run: Option<RunId>,
        out: &mut dyn std::io::Write,
    ) -> Result<u64, StoreError> {
        self.inner.export_jsonl(run, out)
    }
    fn record_event(&self, e: &Event) -> Result<EventId, StoreError> {
        self.inner.record_event(e)
    }
    fn events(&self) -> Result<Vec<Event>, StoreError> {
        self.inner.events()
    }
    fn end_event(&self, id: EventId, ended: &str) -> Result<(), StoreError> {
        self.inner.end_event(id, ended)
    }
    fn open_events(&self) -> Result<Vec<(EventId, Event)>, StoreError> {
        self.inner.open_events()
    }
    fn get(&self, id: MeasurementId) -> Result<Option<Stored>, StoreError> {
        self.inner.get(id)
    }
    fn get_by_uid(&self, uid: &str) -> Result<Option<Stored>, StoreError> {
        self.inner.get_by_uid(uid)
    }
    fn page(&self, q: &Query, p: &PageRequest) -> Result<Page, StoreError> {
        self.inner.page(q, p)
    }
    fn count_matching(&self, q: &Query) -> Result<u64, StoreError> {
        self.inner.count_matching(q)
    }
    fn aggregate(&self, q: &Query, x: Axis, y: Option<Axis>) -> Result<Vec<Bucket>, StoreError> {
        self.inner.aggregate(q, x, y)
    }
    fn query_events(&self, q: &EventQuery) -> Result<Vec<(EventId, Event)>, StoreError> {
        self.inner.query_events(q)
    }
    fn set_verdict(&self, id: MeasurementId, v: Option<&Verdict>) -> Result<(), StoreError> {
        self.inner.set_verdict(id, v)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kz_watch_events_match_the_rules_and_nothing_is_lost() {
    let s = Scenario::builtin("kz-watch").expect("built-in scenario");
    let lab = Lab::start(&s).await.expect("lab starts");
    let store = Flaky {
        inner: SqliteStore::open_in_memory().expect("store"),
        fail: AtomicUsize::new(4),
    };
    // Every 6 scenario hours from d0 00:00 to d6 12:00: the three-day block starts and ends,
    // the ten-day block starts, the shutdown starts, pauses at noon, resumes and ends.
    let score = watch_lab(&lab, &store, ScenarioTime(0), 6 * 3600, 27, |_| {}).await;
    lab.shutdown().await;
    assert!(score.perfect(), "{}", score.to_text());
    let kinds: Vec<&str> = score
        .expected
        .iter()
        .filter_map(|e| e.split_whitespace().nth(2))
        .collect();
    for k in [
        "block_started",
        "block_ended",
        "shutdown_started",
        "shutdown_ended",
    ] {
        assert!(
            kinds.contains(&k),
            "the scenario must exercise {k}: {kinds:?}"
        );
    }
    assert_eq!(
        kinds.iter().filter(|k| **k == "shutdown_started").count(),
        2,
        "the noon window splits the shutdown in two"
    );
    // The failed inserts were retried, not dropped.
    assert_eq!(store.count().unwrap() as usize, score.expected_measurements);
    let events = store.events().unwrap();
    let starts = events
        .iter()
        .filter(|e| e.kind == EventKind::BlockStarted)
        .count();
    assert_eq!(starts, 2);
    // The three-day block's episode is closed with its end time; the ten-day one stays open.
    let open = store.open_events().unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(open[0].1.input.contains("hola-news"));
    assert!(events.iter().any(|e| e.kind == EventKind::BlockStarted
        && e.input.contains("prolink")
        && e.ended.as_deref() == Some("d4 12:00")));
}
