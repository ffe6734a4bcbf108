//! Errors of the store, worded for the person running Interfero.

use crate::{MeasurementId, RunId};
use std::path::PathBuf;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or set up.
    #[error("cannot open database at {}: {source}", path.display())]
    Open {
        /// The database path.
        path: PathBuf,
        /// The underlying error.
        source: rusqlite::Error,
    },
    /// The directory that should hold the database could not be created.
    #[error("cannot create directory {} for the database: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The database was written by a newer Interfero.
    #[error(
        "database at {} has schema version {found}, newer than this Interfero understands \
         ({known}); upgrade Interfero or use another --db",
        path.display()
    )]
    TooNew {
        /// The database path.
        path: PathBuf,
        /// The version found in the file.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// Upgrading the schema failed.
    #[error("cannot upgrade database schema to version {version}: {source}")]
    Migrate {
        /// The version being applied.
        version: i64,
        /// The underlying error.
        source: rusqlite::Error,
    },
    /// The store's background thread (WAL checkpoints) could not be started.
    #[error("cannot start the database's checkpoint thread: {source}")]
    Thread {
        /// The underlying error.
        source: std::io::Error,
    },
    /// A measurement was stored under a run that was never begun.
    #[error("run {0} does not exist in this database (begin a run first)")]
    UnknownRun(RunId),
    /// No measurement has this id.
    #[error("measurement {0} does not exist in this database")]
    UnknownMeasurement(MeasurementId),
    /// A measurement could not be turned into JSON.
    #[error("cannot encode the measurement of {input} as JSON: {source}")]
    Encode {
        /// The measurement's input.
        input: String,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// A stored row could not be read back.
    #[error("stored {what} {id} is damaged: {message}")]
    Corrupt {
        /// `measurement` or `event`.
        what: &'static str,
        /// Its id.
        id: MeasurementId,
        /// What is wrong.
        message: String,
    },
    /// Writing an export failed.
    #[error("cannot write the export: {0}")]
    Export(#[source] std::io::Error),
    /// Any other database failure.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A store address (`--store`) that cannot be used.
    #[error("{0}")]
    Address(String),
    /// The ClickHouse server refused or failed a request.
    #[cfg(feature = "clickhouse")]
    #[error("ClickHouse at {server}: {what}: {source}")]
    ClickHouse {
        /// The server's address (without credentials).
        server: String,
        /// What the store was doing.
        what: &'static str,
        /// The client's error.
        #[source]
        source: clickhouse::error::Error,
    },
    /// Writes to ClickHouse are failing and the buffer of measurements waiting is full.
    #[error(
        "ClickHouse at {server} is not accepting writes ({waiting} measurements wait): {last}"
    )]
    Backlog {
        /// The server's address.
        server: String,
        /// How many measurements wait in memory.
        waiting: usize,
        /// The last failure.
        last: String,
    },
}
