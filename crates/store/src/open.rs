//! Opening a store from one `--store` address: a ClickHouse server or a SQLite file.

use crate::{MeasurementStore, SqliteStore, StoreError};
use std::path::Path;

/// Whether `address` names a ClickHouse server (`clickhouse://`, `http://`, `https://`) rather
/// than a SQLite file.
pub fn is_server_address(address: &str) -> bool {
    ["clickhouse://", "clickhouses://", "http://", "https://"]
        .iter()
        .any(|p| address.starts_with(p))
}

/// Opens the store at `address`: `clickhouse://HOST:PORT/DB` (or `https://…` for TLS; user
/// and password from `INTERFERO_CLICKHOUSE_USER` / `INTERFERO_CLICKHOUSE_PASSWORD`), or else
/// the path of a SQLite file (created when missing).
pub fn open(address: &str) -> Result<Box<dyn MeasurementStore>, StoreError> {
    if !is_server_address(address) {
        return Ok(Box::new(SqliteStore::open(Path::new(address))?));
    }
    #[cfg(feature = "clickhouse")]
    {
        let config = crate::clickhouse::Config::parse(address)?;
        Ok(Box::new(crate::clickhouse::ClickHouseStore::open(&config)?))
    }
    #[cfg(not(feature = "clickhouse"))]
    Err(StoreError::Address(format!(
        "--store {address}: this Interfero was built without ClickHouse support \
         (build with `--features clickhouse`, or give a SQLite file path)"
    )))
}
