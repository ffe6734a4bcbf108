//! The conformance suite on ClickHouse: a private server started for this test (its own
//! directory and loopback ports), one fresh database per check. Skips with one line when
//! `clickhouse-server` is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test
#![cfg(feature = "clickhouse")]

mod conformance;

use interfero_store::clickhouse::{server_binary, LocalServer};
use interfero_store::MeasurementStore;

#[test]
fn clickhouse_passes_the_conformance_suite() {
    if server_binary().is_none() {
        eprintln!(
            "skipped: clickhouse-server is not installed (apt-get install clickhouse-server)"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let server = LocalServer::start(dir.path(), None).expect("start clickhouse-server");
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

/// One statement over plain HTTP (to make a database look like one from before a table).
fn sql(port: u16, query: &str) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let req = format!(
        "POST / HTTP/1.0\r\nContent-Length: {}\r\n\r\n{query}",
        query.len()
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(
        out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200"),
        "{out}"
    );
}

/// A database written before `daily_counts` existed gets it filled from its measurements (the
/// latest verdicts, each measurement once) when a store first opens it.
#[test]
fn per_day_counts_are_filled_for_an_older_database() {
    use interfero_model::{Status, Verdict};
    use interfero_store::{synthetic, Axis, Query, RunInfo};
    if server_binary().is_none() {
        eprintln!(
            "skipped: clickhouse-server is not installed (apt-get install clickhouse-server)"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let server = LocalServer::start(dir.path(), None).expect("start clickhouse-server");
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
    sql(server.http_port, "DROP TABLE older.daily_counts");
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
