//! The schema, versioned with `PRAGMA user_version`: migration N takes a database from
//! version N to N + 1. Append migrations; never edit one that has shipped.

use crate::StoreError;
use rusqlite::Connection;
use std::path::Path;

/// Each entry upgrades the schema by one version.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1: runs, measurements (searchable columns beside the full JSON), events.
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started TEXT NOT NULL,
        software_version TEXT NOT NULL,
        probe_cc TEXT NOT NULL,
        probe_asn TEXT NOT NULL,
        note TEXT NOT NULL
    );
    CREATE TABLE measurements (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        input TEXT NOT NULL,
        test_name TEXT NOT NULL,
        measurement_start_time TEXT NOT NULL,
        status TEXT,
        techniques TEXT NOT NULL,
        confidence REAL,
        probe_cc TEXT NOT NULL,
        probe_asn TEXT NOT NULL,
        json TEXT NOT NULL
    );
    CREATE INDEX measurements_input ON measurements(input);
    CREATE INDEX measurements_status ON measurements(status);
    CREATE INDEX measurements_run ON measurements(run_id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        input TEXT NOT NULL,
        kind TEXT NOT NULL,
        technique TEXT,
        started TEXT NOT NULL,
        ended TEXT,
        evidence TEXT NOT NULL
    );
    CREATE INDEX events_input ON events(input);",
];

/// The schema version this build writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`VERSION`], one migration per transaction.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known: VERSION,
        });
    }
    for (from, sql) in (found..).zip(MIGRATIONS.iter().skip(found.max(0) as usize)) {
        let version = from + 1;
        let fail = |source| StoreError::Migrate { version, source };
        let tx = conn.transaction().map_err(fail)?;
        tx.execute_batch(sql).map_err(fail)?;
        // PRAGMA takes no bound parameters; `version` is an integer we computed.
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
    }
    Ok(())
}
