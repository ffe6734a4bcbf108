//! The conformance suite on ClickHouse: a private server started for this test (its own
//! directory and loopback ports), one fresh database per check. Skips with one line when
//! `clickhouse-server` is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test
#![cfg(feature = "clickhouse")]

mod clickhouse_common;
mod conformance;

use interfero_store::MeasurementStore;

#[test]
fn clickhouse_passes_the_conformance_suite() {
    let Some((_dir, server)) = clickhouse_common::local() else {
        return;
    };
    let mut n = 0;
    conformance::run_all(&mut || {
        n += 1;
        // Small batches and a short period: the suite's writes cross batch boundaries.
        let url = format!(
            "{}?batch_rows=50&batch_ms=20",
            server.url(&format!("conf_{n}"))
        );
        interfero_store::open(&url).expect("open ClickHouse") as Box<dyn MeasurementStore>
    });
}

/// A database written before `daily_counts` existed gets it filled from its measurements (the
/// latest verdicts, each measurement once) when a store first opens it.
#[test]
fn per_day_counts_are_filled_for_an_older_database() {
    use interfero_model::{Status, Verdict};
    use interfero_store::{synthetic, Axis, Query, RunInfo};
    let Some((_dir, server)) = clickhouse_common::local() else {
        return;
    };
    let url = server.url("older");
    {
        let store = interfero_store::open(&url).expect("open");
        let run = store
            .begin_run(&RunInfo {
                started: "2026-11-01 00:00:00".into(),
                software_version: "test".into(),
                probe_cc: "KZ".into(),
                probe_asn: "AS9198".into(),
                note: "older".into(),
            })
            .expect("run");
        let ms: Vec<_> = (0..200).map(synthetic::varied).collect();
        let ids = store.insert_many(run, &ms).expect("insert");
        store.insert_many(run, &ms[..50]).expect("re-submit");
        store
            .set_verdict(ids[0], Some(&Verdict::new(Status::Down, 0.5, "rejudged")))
            .expect("re-judge");
        store.count().expect("sent");
    }
    clickhouse_common::sql(server.http_port, "DROP TABLE older.daily_counts");
    let store = interfero_store::open(&url).expect("open again");
    assert_eq!(store.count().expect("count"), 200);
    let whole_days = Query {
        since: Some("2026-11-01".into()),
        ..Query::default()
    };
    let by_second = Query {
        since: Some("2026-11-01 00:00:00".into()),
        ..Query::default()
    };
    for (x, y) in [
        (Axis::Day, Some(Axis::Status)),
        (Axis::Domain, Some(Axis::Day)),
    ] {
        assert_eq!(
            store.aggregate(&whole_days, x, y).expect("from the counts"),
            store.aggregate(&by_second, x, y).expect("from the rows"),
            "{x:?}×{y:?}"
        );
    }
}
