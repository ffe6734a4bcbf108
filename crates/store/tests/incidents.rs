//! The register's tables beside the measurements: created on first use, kept across openings,
//! versioned on their own, written all or none.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_model::incident::{Incident, RecordStatus, Visibility};
use interfero_store::{
    Audience, IncidentChange, IncidentFilter, IncidentStore, IncidentStoreError, MeasurementStore,
    OnExisting, SqliteStore,
};

const AT: IncidentChange<'static> = IncidentChange {
    by: "test",
    at: "2026-12-02 12:00:00",
    action: "import",
};

fn record(id: &str, start: &str) -> Incident {
    interfero_store::synthetic::incident(id, start)
}

#[test]
fn records_live_beside_the_measurements_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.count().unwrap(), 0);
        let saved = s
            .save_incidents(
                &[record("b", "2021-10"), record("a", "2021-02-01")],
                &AT,
                OnExisting::Refuse,
            )
            .unwrap();
        assert!(saved
            .iter()
            .all(|i| i.audit.revision == 1 && i.audit.created_by == "test"));
    }
    let s = SqliteStore::open(&path).unwrap();
    let all = s.incidents(&IncidentFilter::default()).unwrap();
    assert_eq!(
        all.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["a", "b"],
        "by start"
    );
    // A month-precise record overlaps any day of its month.
    let october = IncidentFilter {
        from: Some("2021-10-31".into()),
        to: Some("2021-11-30".into()),
        ..Default::default()
    };
    assert_eq!(s.incidents(&october).unwrap().len(), 1);
    assert_eq!(s.incident_history("a").unwrap().len(), 1);
}

#[test]
fn a_batch_with_one_bad_record_stores_none_of_it() {
    let s = SqliteStore::open_in_memory().unwrap();
    s.save_incidents(&[record("a", "2021")], &AT, OnExisting::Refuse)
        .unwrap();
    let mut changed = record("a", "2021");
    changed.title = "another title".into();
    let e = s
        .save_incidents(&[record("new", "2021"), changed], &AT, OnExisting::Refuse)
        .unwrap_err();
    assert!(
        matches!(e, IncidentStoreError::Exists { revision: 1, .. }),
        "{e}"
    );
    assert!(s.incident("new", Audience::Operator).unwrap().is_none());
    assert_eq!(
        s.incident("a", Audience::Operator).unwrap().unwrap().title,
        "title of a"
    );
}

#[test]
fn a_register_from_a_newer_interfero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    SqliteStore::open(&path)
        .unwrap()
        .save_incidents(&[record("a", "2021")], &AT, OnExisting::Refuse)
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE incident_meta SET value = 99 WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    drop(conn);
    let s = SqliteStore::open(&path).unwrap();
    let e = s
        .incidents(&IncidentFilter::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("version 99, newer than this Interfero"), "{e}");
    // The measurements are not affected.
    assert_eq!(s.count().unwrap(), 0);
}

#[test]
fn restricted_and_unpublished_records_are_not_public() {
    let s = SqliteStore::open_in_memory().unwrap();
    let mut restricted = record("r", "2021");
    restricted.visibility = Visibility::Restricted;
    let mut draft = record("d", "2021");
    draft.status = RecordStatus::Draft;
    s.save_incidents(
        &[record("p", "2021"), restricted, draft],
        &AT,
        OnExisting::Refuse,
    )
    .unwrap();
    let public: Vec<String> = s
        .incidents(&IncidentFilter::default())
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(public, ["p"]);
    assert!(s.incident("r", Audience::Public).unwrap().is_none());
    assert!(s.incident("r", Audience::Operator).unwrap().is_some());
}
