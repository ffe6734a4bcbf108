//! The conformance suite on SQLite: in memory, and in a file reopened between checks' writes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod conformance;

use interfero_store::{MeasurementStore, SqliteStore};

#[test]
fn sqlite_in_memory_passes_the_conformance_suite() {
    conformance::run_all(&mut || {
        Box::new(SqliteStore::open_in_memory().expect("open")) as Box<dyn MeasurementStore>
    });
}

#[test]
fn sqlite_file_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut n = 0;
    conformance::run_all(&mut || {
        n += 1;
        let path = dir.path().join(format!("store-{n}.db"));
        Box::new(SqliteStore::open(&path).expect("open")) as Box<dyn MeasurementStore>
    });
}
