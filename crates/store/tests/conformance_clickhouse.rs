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
