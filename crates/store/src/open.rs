//! Opening a store from one `--store` address: a ClickHouse server or a SQLite file.

use crate::{Durability, MeasurementStore, SqliteStore, StoreError};
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
    open_as(address, false)
}

/// Opens the store at `address` for a writer that acknowledges what it stored (the
/// collector): every `insert_many` returns only once its measurements are stored. SQLite:
/// [`Durability::PowerLoss`] (the WAL is fsynced at every commit). ClickHouse: each call is one
/// synchronous INSERT, sent before the call returns (no batching in memory, see
/// [`crate::clickhouse::Config::sync`]); a failed INSERT is that call's error.
pub fn open_durable(address: &str) -> Result<Box<dyn MeasurementStore>, StoreError> {
    open_as(address, true)
}

fn open_as(address: &str, durable: bool) -> Result<Box<dyn MeasurementStore>, StoreError> {
    if !is_server_address(address) {
        let durability = if durable {
            Durability::PowerLoss
        } else {
            Durability::Crash
        };
        return Ok(Box::new(SqliteStore::open_with(
            Path::new(address),
            durability,
        )?));
    }
    #[cfg(feature = "clickhouse")]
    {
        let mut config = crate::clickhouse::Config::parse(address)?;
        config.sync |= durable;
        Ok(Box::new(crate::clickhouse::ClickHouseStore::open(&config)?))
    }
    #[cfg(not(feature = "clickhouse"))]
    let _ = durable;
    #[cfg(not(feature = "clickhouse"))]
    Err(StoreError::Address(format!(
        "--store {address}: this Interfero was built without ClickHouse support \
         (build with `--features clickhouse`, or give a SQLite file path)"
    )))
}

/// The store a durable writer opens ([`open_durable`]) and the incident register kept beside
/// its measurements (the same database on both backends).
pub type WithRegister = (
    std::sync::Arc<dyn MeasurementStore>,
    std::sync::Arc<dyn crate::IncidentStore>,
);

/// Like [`open_durable`], with the incident register of the same database (what `serve` opens).
pub fn open_durable_with_register(address: &str) -> Result<WithRegister, StoreError> {
    use std::sync::Arc;
    if !is_server_address(address) {
        let s = Arc::new(SqliteStore::open_with(
            Path::new(address),
            Durability::PowerLoss,
        )?);
        return Ok((s.clone(), s));
    }
    #[cfg(feature = "clickhouse")]
    {
        let mut config = crate::clickhouse::Config::parse(address)?;
        config.sync = true;
        let s = Arc::new(crate::clickhouse::ClickHouseStore::open(&config)?);
        Ok((s.clone(), s))
    }
    #[cfg(not(feature = "clickhouse"))]
    Err(StoreError::Address(format!(
        "--store {address}: this Interfero was built without ClickHouse support \
         (build with `--features clickhouse`, or give a SQLite file path)"
    )))
}
