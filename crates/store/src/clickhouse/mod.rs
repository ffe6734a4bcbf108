//! The ClickHouse backend (feature `clickhouse`): the same [`crate::MeasurementStore`] as
//! SQLite, for an observatory that outgrows one file (a region, or OONI's data for a country).
//!
//! - Transport: the official `clickhouse` crate over HTTP (TLS with `https://`), with schema
//!   validation off (`with_validation(false)`, plain `RowBinary`): validation needs the
//!   `RowBinaryWithNamesAndTypes` format, which Debian 12's server (18.16) does not have.
//! - The interface is synchronous (SQLite's is, and its callers are), the client async: the
//!   store owns a small tokio runtime and waits on it; callers inside another runtime only
//!   block their own thread, as they do on SQLite's mutex.
//! - Writes are batched ([`writer`]): measurements wait in memory until `batch_rows` of them or
//!   `batch_bytes` are waiting, or `batch_ms` have passed, then go in one INSERT. Every read
//!   sends what waits first, so a caller always reads its own writes.
//! - Schema and deduplication: [`schema`]; reads that avoid `FINAL`: [`reads`]; per-day
//!   counts for the charts: [`daily`]; ids: [`rows::id_of`].
//! - Files: `store.rs` opens, `interface.rs` is the [`crate::MeasurementStore`] interface,
//!   `client.rs` runs the async client and sends batches, `reads.rs` deduplicates reads.

mod client;
mod daily;
mod incidents;
mod interface;
mod local;
mod reads;
mod rows;
mod schema;
mod sql;
mod store;
mod writer;

pub use local::{server_binary, LocalServer};
pub use store::ClickHouseStore;

use crate::StoreError;

/// How writes are batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// Send once this many measurements wait.
    pub rows: usize,
    /// Send once their JSON reaches this many bytes.
    pub bytes: usize,
    /// Send at the latest this long after the first one began waiting (milliseconds).
    pub ms: u64,
}

impl Default for Batch {
    fn default() -> Self {
        // 50,000 rows (about 45 MB of RowBinary before compression): fewer INSERTs, fewer
        // look-ups for re-submissions and fewer parts to merge than 20,000/16 MB, which sent
        // ~18,600 rows per INSERT (the byte bound came first), for ~150 MB of memory at most
        // (two batches wait before a writer is held back).
        Batch {
            rows: 50_000,
            bytes: 48 << 20,
            ms: 1_000,
        }
    }
}

/// Where and how to reach ClickHouse: parsed from a `--store` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `http://HOST:PORT` or `https://HOST:PORT` of the node the store talks to.
    pub url: String,
    /// The database (created when missing).
    pub database: String,
    /// User and password (from `INTERFERO_CLICKHOUSE_USER` / `_PASSWORD`).
    pub user: Option<String>,
    /// The password.
    pub password: Option<String>,
    /// A cluster defined in the servers' `<remote_servers>`: tables are sharded over it.
    pub cluster: Option<String>,
    /// The nodes (`http://HOST:PORT`) on which to create the shards' local tables and the
    /// `Distributed` tables; the entry node alone when empty.
    pub nodes: Vec<String>,
    /// How writes are batched.
    pub batch: Batch,
    /// Synchronous writes (`?sync=1`; what the collector asks for): every `insert_many` (and
    /// `set_verdict`) is sent as one INSERT before it returns, and returns the INSERT's error.
    /// ClickHouse answers an INSERT over HTTP once the rows are written into a part (through a
    /// `Distributed` table, with `insert_distributed_sync=1`, once every shard has), so a
    /// successful call means the server holds them. Without it, rows wait in memory for a
    /// batch (by `batch`): faster for a bulk import, lost if the process dies first.
    pub sync: bool,
}

fn bad(msg: String) -> StoreError {
    StoreError::Address(msg)
}

impl Config {
    /// Reads `clickhouse://HOST[:PORT]/DB`, `http://…` or `https://…` (TLS), with optional
    /// `?cluster=NAME&node=HOST:PORT&node=…&batch_rows=N&batch_bytes=N&batch_ms=N&sync=1`. The
    /// user and password come from `INTERFERO_CLICKHOUSE_USER` and
    /// `INTERFERO_CLICKHOUSE_PASSWORD`, never from the address (which shows in process lists
    /// and logs).
    pub fn parse(address: &str) -> Result<Config, StoreError> {
        let u = url::Url::parse(address)
            .map_err(|e| bad(format!("--store {address}: not an address ({e})")))?;
        let (scheme, default_port) = match u.scheme() {
            "clickhouse" | "http" => ("http", 8123),
            "https" | "clickhouses" => ("https", 8443),
            other => {
                return Err(bad(format!(
                    "--store {address}: unknown scheme {other:?} (use clickhouse://HOST:PORT/DB, \
                     https://HOST:PORT/DB or a SQLite file path)"
                )))
            }
        };
        if !u.username().is_empty() || u.password().is_some() {
            return Err(bad(
                "--store: put the ClickHouse user and password in \
                 INTERFERO_CLICKHOUSE_USER and INTERFERO_CLICKHOUSE_PASSWORD, not in the address"
                    .to_string(),
            ));
        }
        let host = u
            .host_str()
            .ok_or_else(|| bad(format!("--store {address}: no host")))?;
        let port = u.port().unwrap_or(default_port);
        let database = u.path().trim_matches('/');
        let database = if database.is_empty() {
            "interfero"
        } else {
            database
        };
        if !schema::is_identifier(database) {
            return Err(bad(format!(
                "--store {address}: database name {database:?} must be letters, digits and _"
            )));
        }
        let mut cfg = Config {
            url: format!("{scheme}://{host}:{port}"),
            database: database.to_string(),
            user: std::env::var("INTERFERO_CLICKHOUSE_USER").ok(),
            password: std::env::var("INTERFERO_CLICKHOUSE_PASSWORD").ok(),
            cluster: None,
            nodes: Vec::new(),
            batch: Batch::default(),
            sync: false,
        };
        for (k, v) in u.query_pairs() {
            let number = || {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad(format!("--store: {k}={v} must be a positive number")))
            };
            match k.as_ref() {
                "cluster" if schema::is_identifier(&v) => cfg.cluster = Some(v.to_string()),
                "node" => cfg.nodes.push(format!("{scheme}://{v}")),
                "batch_rows" => cfg.batch.rows = usize::try_from(number()?).unwrap_or(usize::MAX),
                "batch_bytes" => cfg.batch.bytes = usize::try_from(number()?).unwrap_or(usize::MAX),
                "batch_ms" => cfg.batch.ms = number()?,
                "sync" if v == "1" || v == "0" => cfg.sync = v == "1",
                _ => {
                    return Err(bad(format!(
                        "--store {address}: unknown or bad option {k}={v} (known: cluster, node, \
                         batch_rows, batch_bytes, batch_ms, sync)"
                    )))
                }
            }
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        let c = Config::parse("clickhouse://127.0.0.1:18123/obs").unwrap();
        assert_eq!(c.url, "http://127.0.0.1:18123");
        assert_eq!(c.database, "obs");
        let c = Config::parse("https://ch.example/").unwrap();
        assert_eq!(
            (c.url.as_str(), c.database.as_str()),
            ("https://ch.example:8443", "interfero")
        );
        let c = Config::parse(
            "clickhouse://127.0.0.1:1/db?cluster=two&node=127.0.0.1:1&node=127.0.0.1:2&batch_ms=5",
        )
        .unwrap();
        assert_eq!(c.cluster.as_deref(), Some("two"));
        assert_eq!(c.nodes, ["http://127.0.0.1:1", "http://127.0.0.1:2"]);
        assert_eq!(c.batch.ms, 5);
        assert!(!c.sync);
        assert!(
            Config::parse("clickhouse://127.0.0.1:1/db?sync=1")
                .unwrap()
                .sync
        );
        for bad in [
            "clickhouse://u:p@127.0.0.1/db",
            "clickhouse://127.0.0.1/db;drop",
            "ftp://127.0.0.1/db",
            "clickhouse://127.0.0.1/db?cluster=a-b",
            "clickhouse://127.0.0.1/db?batch_rows=0",
        ] {
            assert!(Config::parse(bad).is_err(), "{bad}");
        }
    }
}
