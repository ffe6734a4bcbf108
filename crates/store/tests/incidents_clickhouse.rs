//! The incident register on ClickHouse answers as on SQLite: records kept across openings and
//! ordered by start, batches refused whole, revisions checked, the public sees only published
//! public records, the history has every revision. Skips with one line when
//! `clickhouse-server` is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test
#![cfg(feature = "clickhouse")]

use interfero_model::incident::{Incident, RecordStatus, Visibility};
mod clickhouse_common;

use interfero_store::clickhouse::{ClickHouseStore, Config};
use interfero_store::{
    Audience, IncidentChange, IncidentFilter, IncidentStore, IncidentStoreError, OnExisting,
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
fn the_register_on_clickhouse_answers_as_on_sqlite() {
    let Some((_dir, server)) = clickhouse_common::local() else {
        return;
    };
    let config = Config::parse(&server.url("register")).unwrap();
    {
        let s = ClickHouseStore::open(&config).unwrap();
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
    let s = ClickHouseStore::open(&config).unwrap();
    let all = s.incidents(&IncidentFilter::default()).unwrap();
    assert_eq!(
        all.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["a", "b"],
        "by start, kept across openings"
    );
    let october = IncidentFilter {
        from: Some("2021-10-31".into()),
        to: Some("2021-11-30".into()),
        ..Default::default()
    };
    assert_eq!(s.incidents(&october).unwrap().len(), 1);

    // A batch with one refused record stores none of it.
    let mut changed = record("a", "2021-02-01");
    changed.title = "another title".into();
    let e = s
        .save_incidents(
            &[record("new", "2021"), changed.clone()],
            &AT,
            OnExisting::Refuse,
        )
        .unwrap_err();
    assert!(
        matches!(e, IncidentStoreError::Exists { revision: 1, .. }),
        "{e}"
    );
    assert!(s.incident("new", Audience::Operator).unwrap().is_none());

    // Re-importing the same content makes no revision; an edit from revision 1 makes 2; an
    // edit from a stale revision is a conflict.
    let same = s
        .save_incidents(&[record("a", "2021-02-01")], &AT, OnExisting::Refuse)
        .unwrap();
    assert_eq!(same[0].audit.revision, 1);
    changed.audit.revision = 1;
    let edited = s
        .save_incidents(&[changed.clone()], &AT, OnExisting::Refuse)
        .unwrap();
    assert_eq!(edited[0].audit.revision, 2);
    changed.title = "a third title".into();
    let e = s
        .save_incidents(&[changed], &AT, OnExisting::Refuse)
        .unwrap_err();
    assert!(
        matches!(
            e,
            IncidentStoreError::Conflict {
                expected: 1,
                found: 2,
                ..
            }
        ),
        "{e}"
    );
    let now = s.incident("a", Audience::Public).unwrap().unwrap();
    assert_eq!(
        (now.title.as_str(), now.audit.revision),
        ("another title", 2)
    );
    let history = s.incident_history("a").unwrap();
    assert_eq!(
        history.iter().map(|h| h.revision).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(history[1].record.title, "another title");

    // The public sees only published, public records.
    let mut restricted = record("r", "2022");
    restricted.visibility = Visibility::Restricted;
    let mut draft = record("d", "2022");
    draft.status = RecordStatus::Draft;
    s.save_incidents(&[restricted, draft], &AT, OnExisting::Refuse)
        .unwrap();
    let public: Vec<String> = s
        .incidents(&IncidentFilter::default())
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(public, ["a", "b"]);
    assert!(s.incident("r", Audience::Public).unwrap().is_none());
    assert!(s.incident("r", Audience::Operator).unwrap().is_some());
    let operator = IncidentFilter {
        audience: Audience::Operator,
        ..Default::default()
    };
    assert_eq!(s.incidents(&operator).unwrap().len(), 4);
}
