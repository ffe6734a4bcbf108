//! The SQLite store: runs, measurements, events, filters and export.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test
use interfero_model::{Measurement, Status, Technique};
use interfero_store::{
    synthetic, Event, EventKind, Filter, MeasurementStore, RunInfo, SqliteStore, StoreError,
};
use std::sync::Arc;

fn run_info(note: &str) -> RunInfo {
    RunInfo {
        started: "2026-11-30 10:00:00".into(),
        software_version: "0.1.0".into(),
        probe_cc: "KZ".into(),
        probe_asn: "AS9198".into(),
        note: note.into(),
    }
}

#[test]
fn round_trip_keeps_every_field() {
    let store = SqliteStore::open_in_memory().unwrap();
    let run = store.begin_run(&run_info("t")).unwrap();
    let mut m = synthetic::measurement(1);
    // Fields this version does not name must survive storage too.
    m.extra
        .insert("report_id".into(), serde_json::json!("20261130T100000Z_x"));
    m.test_keys
        .extra
        .insert("x_future".into(), serde_json::json!({"a": [1, 2]}));
    let id = store.insert(run, &m).unwrap();
    assert!(id > 0);
    assert_eq!(store.count().unwrap(), 1);
    assert_eq!(store.measurements(&Filter::default()).unwrap(), vec![m]);
}

#[test]
fn filters_by_input_status_run_and_limit() {
    let store = SqliteStore::open_in_memory().unwrap();
    let r1 = store.begin_run(&run_info("one")).unwrap();
    let r2 = store.begin_run(&run_info("two")).unwrap();
    store.insert_many(r1, &synthetic::measurements(8)).unwrap();
    let no_verdict = Measurement {
        input: "https://site-1.example/".into(),
        ..Measurement::default()
    };
    store.insert(r2, &no_verdict).unwrap();

    let by_input = Filter {
        input: Some("https://site-1.example/".into()),
        ..Filter::default()
    };
    assert_eq!(store.measurements(&by_input).unwrap().len(), 2);

    let blocked = Filter {
        status: Some(Status::Blocked),
        ..Filter::default()
    };
    let got = store.measurements(&blocked).unwrap();
    assert_eq!(got.len(), 4);
    assert!(got
        .iter()
        .all(|m| m.verdict.as_ref().map(|v| v.status) == Some(Status::Blocked)));

    let run2 = Filter {
        run: Some(r2),
        ..Filter::default()
    };
    assert_eq!(store.measurements(&run2).unwrap(), vec![no_verdict]);

    let both = Filter {
        run: Some(r1),
        status: Some(Status::Accessible),
        limit: Some(1),
        ..Filter::default()
    };
    let got = store.measurements(&both).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].input, "https://site-0.example/");
}

#[test]
fn export_jsonl_per_run_and_all() {
    let store = SqliteStore::open_in_memory().unwrap();
    let r1 = store.begin_run(&run_info("one")).unwrap();
    let r2 = store.begin_run(&run_info("two")).unwrap();
    let ms = synthetic::measurements(5);
    store.insert_many(r1, &ms[..3]).unwrap();
    store.insert_many(r2, &ms[3..]).unwrap();

    let mut out = Vec::new();
    assert_eq!(store.export_jsonl(Some(r2), &mut out).unwrap(), 2);
    let text = String::from_utf8(out).unwrap();
    let back: Vec<Measurement> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back, ms[3..].to_vec());

    let mut all = Vec::new();
    assert_eq!(store.export_jsonl(None, &mut all).unwrap(), 5);
    assert_eq!(all.iter().filter(|&&b| b == b'\n').count(), 5);
}

#[test]
fn events_round_trip() {
    let store = SqliteStore::open_in_memory().unwrap();
    let events = vec![
        Event {
            input: "https://example.kz/".into(),
            kind: EventKind::BlockStarted,
            technique: Some(Technique::TlsTimeout),
            started: "2026-11-30 10:00:00".into(),
            ended: None,
            evidence: vec!["measurement 12".into(), "measurement 13".into()],
            probe_cc: "KZ".into(),
            probe_asn: "AS9198".into(),
        },
        Event {
            input: String::new(),
            kind: EventKind::ShutdownStarted,
            technique: None,
            started: "2026-11-30 11:00:00".into(),
            ended: Some("2026-11-30 12:00:00".into()),
            evidence: vec![],
            probe_cc: "KZ".into(),
            probe_asn: "AS9198".into(),
        },
    ];
    for e in &events {
        store.record_event(e).unwrap();
    }
    assert_eq!(store.events().unwrap(), events);
}

#[test]
fn reopen_keeps_data_and_creates_parent_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/interfero.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        let run = store.begin_run(&run_info("first")).unwrap();
        store.insert_many(run, &synthetic::measurements(3)).unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.count().unwrap(), 3);
    let run = store.begin_run(&run_info("second")).unwrap();
    assert_eq!(run, 2);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 7);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn newer_schema_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }));
    assert!(err.to_string().contains("upgrade Interfero"), "{err}");
}

#[test]
fn unopenable_path_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a database\n".repeat(100)).unwrap();
    // The parent "directory" is a regular file.
    let err = SqliteStore::open(&file.join("db.sqlite")).unwrap_err();
    assert!(err.to_string().contains("a-file"), "{err}");
    // A file that is not a database.
    let err = SqliteStore::open(&file).unwrap_err();
    assert!(
        err.to_string().starts_with("cannot open database at"),
        "{err}"
    );
}

#[test]
fn unknown_run_stores_nothing() {
    let store = SqliteStore::open_in_memory().unwrap();
    let err = store
        .insert_many(42, &synthetic::measurements(3))
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownRun(42)));
    assert_eq!(store.count().unwrap(), 0);
}

#[test]
fn shared_between_threads_and_handles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let store: Arc<dyn MeasurementStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let run = store.begin_run(&run_info("threads")).unwrap();
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..25 {
                    store
                        .insert(run, &synthetic::measurement(t * 100 + i))
                        .unwrap();
                }
            })
        })
        .collect();
    // A second handle on the same file writes concurrently (WAL + busy timeout).
    let other = SqliteStore::open(&path).unwrap();
    let others: Vec<_> = (1000..1050).map(synthetic::measurement).collect();
    other.insert_many(run, &others).unwrap();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(store.count().unwrap(), 150);
    assert_eq!(other.count().unwrap(), 150);
}

#[test]
fn a_full_run_in_one_transaction() {
    let store = SqliteStore::open_in_memory().unwrap();
    let run = store.begin_run(&run_info("kz+global")).unwrap();
    let ids = store
        .insert_many(run, &synthetic::measurements(2275))
        .unwrap();
    assert_eq!(ids.len(), 2275);
    assert_eq!(store.count().unwrap(), 2275);
}

/// The per-day counts (read for whole-day queries) stay equal to counting the rows (read for
/// any other) through inserts, re-judging and un-judging.
#[test]
fn day_counts_stay_exact_through_rejudging() {
    use interfero_store::{Axis, Query};
    let store = SqliteStore::open_in_memory().unwrap();
    let run = store.begin_run(&run_info("rollup")).unwrap();
    let ms: Vec<_> = (0..600).map(synthetic::varied).collect();
    let ids = store.insert_many(run, &ms).unwrap();
    let v = interfero_model::Verdict::new(interfero_model::Status::Offline, 0.9, "r")
        .with(interfero_model::Technique::Shutdown);
    for id in ids.iter().step_by(7) {
        store.set_verdict(*id, Some(&v)).unwrap();
    }
    for id in ids.iter().step_by(11) {
        store.set_verdict(*id, None).unwrap();
    }
    // `since` of 19 characters is not a whole day: the rows themselves are counted.
    let rows = Query {
        since: Some("2026-11-01 00:00:00".into()),
        ..Query::default()
    };
    let days = Query {
        since: Some("2026-11-01".into()),
        ..Query::default()
    };
    for (x, y) in [
        (Axis::Day, None),
        (Axis::Network, Some(Axis::Status)),
        (Axis::Domain, Some(Axis::Day)),
        (Axis::Month, Some(Axis::Category)),
    ] {
        assert_eq!(
            store.aggregate(&rows, x, y).unwrap(),
            store.aggregate(&days, x, y).unwrap(),
            "{x:?} {y:?}"
        );
    }
    let shut = Query {
        technique: Some(interfero_model::Technique::Shutdown),
        ..days.clone()
    };
    let shut_rows = Query {
        technique: Some(interfero_model::Technique::Shutdown),
        ..rows.clone()
    };
    assert_eq!(
        store.count_matching(&shut).unwrap(),
        store.count_matching(&shut_rows).unwrap()
    );
    assert!(store.count_matching(&shut).unwrap() > 50);
}

#[test]
fn a_removed_delegation_stays_open_until_restored() {
    let store = SqliteStore::open_in_memory().unwrap();
    let removed = Event {
        input: "https://suspended.kz/".into(),
        kind: EventKind::DelegationRemoved,
        technique: Some(Technique::DnsDelegationRemoved),
        started: "2026-11-30 10:00:00".into(),
        ended: None,
        evidence: vec!["kz. answers NXDOMAIN".into()],
        probe_cc: "KZ".into(),
        probe_asn: "AS9198".into(),
    };
    let id = store.record_event(&removed).unwrap();
    let open = store.open_events().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].1.kind, EventKind::DelegationRemoved);
    assert_eq!(
        EventKind::parse("delegation_restored"),
        Some(EventKind::DelegationRestored)
    );
    store.end_event(id, "2026-12-01 10:00:00").unwrap();
    assert!(store.open_events().unwrap().is_empty());
}
